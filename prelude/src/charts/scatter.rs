//! Scatter plots, one colour per group (class or cluster), with a legend.

use super::{chart_bundle, plot_error, PALETTE};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A scatter plot of named groups of points.
///
/// ```
/// use trainbook::prelude::*;
/// let moons = make_moons(200, 0.1, 0).unwrap();
/// let x = Matrix::features(&moons).unwrap();
/// let xs: Vec<f64> = (0..x.rows()).map(|i| x.row(i)[0]).collect();
/// let ys: Vec<f64> = (0..x.rows()).map(|i| x.row(i)[1]).collect();
/// let chart = ScatterChart::new("Moons").classes(&xs, &ys, &moons.y_classes().unwrap(), &moons.target_names).unwrap();
/// assert!(chart.to_svg().unwrap().contains("<circle"));
/// ```
#[derive(Clone, Debug)]
pub struct ScatterChart {
    title: String,
    x_label: String,
    y_label: String,
    groups: Vec<(String, Vec<(f64, f64)>)>,
    size: (u32, u32),
}

impl ScatterChart {
    fn pixels(&self) -> (u32, u32) {
        self.size
    }

    pub fn new(title: &str) -> ScatterChart {
        ScatterChart {
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            groups: vec![],
            size: (560, 420),
        }
    }

    pub fn x_label(mut self, label: &str) -> ScatterChart {
        self.x_label = label.to_string();
        self
    }

    pub fn y_label(mut self, label: &str) -> ScatterChart {
        self.y_label = label.to_string();
        self
    }

    /// Size in pixels (default 560 x 420).
    pub fn size(mut self, width: u32, height: u32) -> ScatterChart {
        self.size = (width.max(100), height.max(80));
        self
    }

    /// Adds one group of points.
    ///
    /// ```
    /// let chart = trainbook::prelude::ScatterChart::new("p").points("a", &[1.0, 2.0], &[3.0, 4.0]).unwrap();
    /// assert_eq!(chart.to_svg().unwrap().matches("<circle").count(), 3); // 2 points + legend
    /// ```
    pub fn points(mut self, name: &str, xs: &[f64], ys: &[f64]) -> Result<ScatterChart> {
        if xs.len() != ys.len() {
            bail!(
                "scatter group {name:?}: {} x values but {} y values",
                xs.len(),
                ys.len()
            );
        }
        self.groups.push((
            name.to_string(),
            xs.iter().copied().zip(ys.iter().copied()).collect(),
        ));
        Ok(self)
    }

    /// One group per class label, named by `names[label]` (or the number).
    pub fn classes(
        mut self,
        xs: &[f64],
        ys: &[f64],
        labels: &[usize],
        names: &[String],
    ) -> Result<ScatterChart> {
        if xs.len() != ys.len() || xs.len() != labels.len() {
            bail!(
                "scatter: {} x values, {} y values and {} labels; they must pair up",
                xs.len(),
                ys.len(),
                labels.len()
            );
        }
        let k = labels.iter().max().map_or(0, |m| m + 1);
        let mut groups: Vec<Vec<(f64, f64)>> = vec![vec![]; k];
        for ((&x, &y), &l) in xs.iter().zip(ys).zip(labels) {
            groups[l].push((x, y));
        }
        for (l, points) in groups.into_iter().enumerate() {
            if !points.is_empty() {
                self.groups.push((
                    names.get(l).cloned().unwrap_or_else(|| l.to_string()),
                    points,
                ));
            }
        }
        Ok(self)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let finite = self
            .groups
            .iter()
            .flat_map(|g| g.1.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        let mut any = false;
        for &(x, y) in finite {
            any = true;
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if !any {
            bail!(
                "the scatter chart {:?} has no finite points to draw",
                self.title
            );
        }
        let pad = |lo: f64, hi: f64| {
            let d = if hi > lo {
                (hi - lo) * 0.05
            } else {
                lo.abs().max(1.0) * 0.05
            };
            (lo - d)..(hi + d)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(pad(x0, x1), pad(y0, y1))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 12))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        for (i, (name, points)) in self.groups.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let points = points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(points.map(|p| Circle::new(p, 3, colour.mix(0.75).filled())))
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        }
        super::draw_legend(&mut chart)?;
        Ok(())
    }
}

super::chart_outputs!(ScatterChart);

impl Render for ScatterChart {
    fn mime_bundle(&self) -> MimeBundle {
        let names: Vec<&str> = self.groups.iter().map(|g| g.0.as_str()).collect();
        chart_bundle(
            self,
            format!("ScatterChart {:?}: {}", self.title, names.join(", ")),
        )
    }
}
