//! The dendrogram of a hierarchical clustering: each merge drawn as a bracket at its distance.

use super::{chart_bundle, plot_error, short_number, PALETTE};
use crate::display::{MimeBundle, Render};
use crate::models::{AgglomerativeClustering, Merge};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A merge tree drawn top-down as scipy's `dendrogram`: leaves along the bottom, each merge a
/// bracket at the height of its distance. Large trees are truncated to their last merges
/// (leaves then show how many samples they hold); branches below the cut into `clusters` are
/// coloured by cluster.
///
/// ```
/// use trainbook::prelude::*;
/// let merges = [
///     Merge { left: 0, right: 1, distance: 1.0, size: 2 },
///     Merge { left: 2, right: 3, distance: 3.0, size: 3 },
/// ];
/// let chart = Dendrogram::new("Three points", &merges).unwrap().clusters(2);
/// let svg = chart.to_svg().unwrap();
/// // Each merge is one bracket, drawn 2 px wide (grid lines are 1 px).
/// assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Dendrogram {
    title: String,
    merges: Vec<Merge>,
    leaves: usize,
    clusters: usize,
    size: (u32, u32),
}

/// A merge's four corner points (left foot, left top, right top, right foot) and its colour
/// (`None` above the cut).
type Bracket = ([(f64, f64); 4], Option<usize>);

/// Leaf counts above this are drawn without labels (they would overlap).
const MAX_LABELLED_LEAVES: usize = 60;

impl Dendrogram {
    fn pixels(&self) -> (u32, u32) {
        self.size
    }

    /// A dendrogram of scipy-style merges (as from
    /// [`AgglomerativeClustering::merges`](crate::models::AgglomerativeClustering::merges)):
    /// all leaves shown, one colour.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let err = Dendrogram::new("one sample", &[]).unwrap_err().to_string();
    /// assert!(err.contains("at least one merge"));
    /// ```
    pub fn new(title: &str, merges: &[Merge]) -> Result<Dendrogram> {
        if merges.is_empty() {
            bail!("a dendrogram needs at least one merge (two samples); {title:?} has none");
        }
        let n = merges.len() + 1;
        for (i, m) in merges.iter().enumerate() {
            if m.left >= n + i || m.right >= n + i || m.left == m.right {
                bail!(
                    "merge {i} joins clusters {} and {}, but only ids below {} exist then \
                     (samples 0..{n}, then one id per earlier merge)",
                    m.left,
                    m.right,
                    n + i
                );
            }
            if !m.distance.is_finite() {
                bail!(
                    "merge {i} has distance {}; distances must be finite",
                    m.distance
                );
            }
        }
        Ok(Dendrogram {
            title: title.to_string(),
            merges: merges.to_vec(),
            leaves: n,
            clusters: 1,
            size: (640, 380),
        })
    }

    /// Shows only the last merges, so that at most `leaves` clusters form the bottom row.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::features(&load_iris()).unwrap();
    /// let mut model = AgglomerativeClustering::new(3);
    /// model.fit(&x).unwrap();
    /// let svg = model.dendrogram(12).unwrap().to_svg().unwrap();
    /// assert_eq!(svg.matches("stroke-width=\"2\"").count(), 11); // 12 leaves, 11 merges
    /// ```
    pub fn leaves(mut self, leaves: usize) -> Dendrogram {
        self.leaves = leaves.clamp(2, self.merges.len() + 1);
        self
    }

    /// Colours the branches of each of the `clusters` subtrees below the cut; merges above
    /// it are grey.
    pub fn clusters(mut self, clusters: usize) -> Dendrogram {
        self.clusters = clusters.clamp(1, self.merges.len() + 1);
        self
    }

    /// Size in pixels (default 640 x 380).
    pub fn size(mut self, width: u32, height: u32) -> Dendrogram {
        self.size = (width.max(120), height.max(100));
        self
    }

    /// The brackets to draw (four points each, with a colour index; `None` above the cut) and
    /// the leaf labels left to right.
    fn layout(&self) -> (Vec<Bracket>, Vec<String>) {
        let n = self.merges.len() + 1;
        let first_visible = 2 * n - self.leaves; // ids from here on are drawn as merges
        let first_above_cut = 2 * n - self.clusters; // merges from here on are grey
        let mut brackets = vec![];
        let mut labels = vec![];
        let mut colours = 0;
        // Iterative post-order walk from the root: (id, colour, children placed?).
        enum Step {
            Visit(usize, Option<usize>),
            Join(usize, Option<usize>),
        }
        let mut stack = vec![Step::Visit(2 * n - 2, None)];
        let mut placed: Vec<(f64, f64)> = vec![]; // (x, height) of finished subtrees
        while let Some(step) = stack.pop() {
            match step {
                Step::Visit(id, colour) => {
                    let colour = if colour.is_none() && id < first_above_cut {
                        colours += 1;
                        Some(colours - 1)
                    } else {
                        colour
                    };
                    if id < first_visible {
                        placed.push((labels.len() as f64, 0.0));
                        labels.push(if id < n {
                            id.to_string()
                        } else {
                            format!("({})", self.merges[id - n].size)
                        });
                    } else {
                        let merge = self.merges[id - n];
                        stack.push(Step::Join(id, colour));
                        stack.push(Step::Visit(merge.right, colour));
                        stack.push(Step::Visit(merge.left, colour));
                    }
                }
                Step::Join(id, colour) => {
                    let right = placed.pop().expect("right subtree placed");
                    let left = placed.pop().expect("left subtree placed");
                    let height = self.merges[id - n].distance;
                    brackets.push(([left, (left.0, height), (right.0, height), right], colour));
                    placed.push(((left.0 + right.0) / 2.0, height));
                }
            }
        }
        (brackets, labels)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (brackets, labels) = self.layout();
        let top = self
            .merges
            .last()
            .map_or(1.0, |m| m.distance)
            .max(f64::MIN_POSITIVE);
        let labelled = labels.len() <= MAX_LABELLED_LEAVES;
        // Leaf labels sit in a band below zero, inside the plot.
        let band = if labelled { top * 0.09 } else { 0.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(if labelled { 0 } else { 20 })
            .y_label_area_size(56)
            .build_cartesian_2d(-0.6..labels.len() as f64 - 0.4, -band..top * 1.05)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("distance")
            .y_label_formatter(&|v| {
                if *v < 0.0 {
                    String::new()
                } else {
                    short_number(*v)
                }
            })
            .label_style(("sans-serif", 12))
            .bold_line_style(RGBColor(230, 230, 230))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        for (points, colour) in &brackets {
            let style = match colour {
                Some(c) => PALETTE[c % PALETTE.len()].stroke_width(2),
                None => RGBColor(120, 120, 120).stroke_width(2),
            };
            chart
                .draw_series(std::iter::once(PathElement::new(points.to_vec(), style)))
                .map_err(plot_error)?;
        }
        if labelled {
            let rotate = labels.len() > 24;
            let mut style = TextStyle::from(("sans-serif", 11).into_font())
                .color(&RGBColor(40, 40, 40))
                .pos(Pos::new(HPos::Center, VPos::Top));
            if rotate {
                style = style
                    .transform(FontTransform::Rotate90)
                    .pos(Pos::new(HPos::Left, VPos::Center));
            }
            chart
                .draw_series(labels.iter().enumerate().map(|(i, label)| {
                    Text::new(label.clone(), (i as f64, -band * 0.15), style.clone())
                }))
                .map_err(plot_error)?;
        }
        Ok(())
    }
}

super::chart_outputs!(Dendrogram);

impl Render for Dendrogram {
    fn mime_bundle(&self) -> MimeBundle {
        let n = self.merges.len() + 1;
        let top: Vec<String> = self
            .merges
            .iter()
            .rev()
            .take(3)
            .map(|m| short_number(m.distance))
            .collect();
        chart_bundle(
            self,
            format!(
                "Dendrogram {:?}: {n} samples, {} leaves shown, last merges at {}",
                self.title,
                self.leaves,
                top.join(", ")
            ),
        )
    }
}

// The chart of a fitted clustering lives with the chart, so that models never import charts.
impl AgglomerativeClustering {
    /// The merge tree as a chart: the last `leaves` clusters as leaves (scipy's `lastp`
    /// truncation, leaf labels are sample counts), coloured by the current cut.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::features(&load_iris()).unwrap();
    /// let mut model = AgglomerativeClustering::new(3);
    /// model.fit(&x).unwrap();
    /// let svg = model.dendrogram(20).unwrap().to_svg().unwrap();
    /// assert!(svg.contains("Dendrogram") && svg.contains("<polyline"));
    /// ```
    pub fn dendrogram(&self, leaves: usize) -> Result<Dendrogram> {
        if self.merges().is_empty() {
            bail!("the clustering is not fitted yet (or has one sample); call fit(&x) first");
        }
        Ok(Dendrogram::new(
            &format!("Dendrogram ({:?} linkage)", self.linkage),
            self.merges(),
        )?
        .leaves(leaves)
        .clusters(self.n_clusters))
    }
}
