//! Line charts with several series and a legend: training curves, learning curves, ROC.

use super::{chart_bundle, plot_error, PALETTE};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Clone, Debug)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// A line chart of one or more named series.
///
/// ```
/// use trainbook::prelude::*;
/// let chart = LineChart::new("Loss")
///     .x_label("epoch")
///     .y_label("loss")
///     .series("train", &[0.9, 0.5, 0.3])
///     .series("validation", &[1.0, 0.7, 0.6]);
/// let svg = chart.to_svg().unwrap();
/// assert!(svg.contains("validation") && svg.contains("epoch"));
/// display(&chart);
/// ```
#[derive(Clone, Debug)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    size: (u32, u32),
}

impl LineChart {
    fn pixels(&self) -> (u32, u32) {
        self.size
    }

    pub fn new(title: &str) -> LineChart {
        LineChart {
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            size: (640, 360),
        }
    }

    pub fn x_label(mut self, label: &str) -> LineChart {
        self.x_label = label.to_string();
        self
    }

    pub fn y_label(mut self, label: &str) -> LineChart {
        self.y_label = label.to_string();
        self
    }

    /// Size in pixels (default 640 x 360).
    pub fn size(mut self, width: u32, height: u32) -> LineChart {
        self.size = (width.max(100), height.max(80));
        self
    }

    /// Adds a series of y values at x = 1, 2, 3, … (epochs).
    pub fn series(self, name: &str, values: &[f64]) -> LineChart {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64, v))
            .collect();
        self.series_xy(name, points)
    }

    /// Adds a series of (x, y) points.
    pub fn series_xy(mut self, name: &str, points: Vec<(f64, f64)>) -> LineChart {
        self.series.push(Series {
            name: name.to_string(),
            points,
        });
        self
    }

    fn finite_points(&self) -> impl Iterator<Item = &(f64, f64)> {
        self.series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    fn ranges(&self) -> Result<(std::ops::Range<f64>, std::ops::Range<f64>)> {
        let mut points = self.finite_points().peekable();
        if points.peek().is_none() {
            bail!(
                "the line chart {:?} has no finite points to draw",
                self.title
            );
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let pad = |lo: f64, hi: f64| {
            let span = hi - lo;
            if span == 0.0 {
                let d = lo.abs().max(1.0) * 0.05;
                (lo - d)..(hi + d)
            } else {
                (lo - span * 0.05)..(hi + span * 0.05)
            }
        };
        let x = if x0 == x1 { pad(x0, x1) } else { x0..x1 };
        Ok((x, pad(y0, y1)))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (x_range, y_range) = self.ranges()?;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range, y_range)
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
        for (i, series) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_error)?
                .label(series.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        if self.series.len() > 1 || self.series.iter().any(|s| !s.name.is_empty()) {
            super::draw_legend(&mut chart)?;
        }
        Ok(())
    }
}

super::chart_outputs!(LineChart);

impl Render for LineChart {
    fn mime_bundle(&self) -> MimeBundle {
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        chart_bundle(
            self,
            format!("LineChart {:?}: {}", self.title, names.join(", ")),
        )
    }
}

impl crate::metrics::RocCurve {
    /// The curve as a line chart, with the chance diagonal; `name` labels it in the legend
    /// (e.g. "forest, AUC 0.97").
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    /// let svg = roc.chart("model").to_svg().unwrap();
    /// assert!(svg.contains("false positive rate") && svg.contains("chance"));
    /// ```
    pub fn chart(&self, name: &str) -> LineChart {
        let points = self
            .fpr
            .iter()
            .copied()
            .zip(self.tpr.iter().copied())
            .collect();
        LineChart::new("ROC curve")
            .x_label("false positive rate")
            .y_label("true positive rate")
            .size(480, 420)
            .series_xy(name, points)
            .series_xy("chance", vec![(0.0, 0.0), (1.0, 1.0)])
    }
}

impl crate::metrics::PrecisionRecallCurve {
    /// The curve as a line chart (recall on x, precision on y).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let pr = precision_recall_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    /// assert!(pr.chart("model").to_svg().unwrap().contains("precision"));
    /// ```
    pub fn chart(&self, name: &str) -> LineChart {
        let points = self
            .recall
            .iter()
            .copied()
            .zip(self.precision.iter().copied())
            .collect();
        LineChart::new("Precision-recall curve")
            .x_label("recall")
            .y_label("precision")
            .size(480, 420)
            .series_xy(name, points)
    }
}
