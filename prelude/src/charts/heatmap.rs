//! Heatmaps with cell labels: confusion matrices (counts or row-normalised), correlations.

use super::{chart_bundle, plot_error};
use crate::display::{MimeBundle, Render};
use crate::metrics::ConfusionMatrix;
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A grid of values coloured from white (low) to dark blue (high), each cell labelled with
/// its value when the cells are big enough to read (so 20+ classes stay legible as colour).
///
/// ```
/// use trainbook::prelude::*;
/// let chart = Heatmap::new("Correlation", vec![vec![1.0, 0.2], vec![0.2, 1.0]])
///     .labels(&["a", "b"], &["a", "b"]);
/// let svg = chart.to_svg().unwrap();
/// assert!(svg.contains("0.20") && svg.contains("Correlation"));
/// ```
#[derive(Clone, Debug)]
pub struct Heatmap {
    title: String,
    values: Vec<Vec<f64>>,
    row_labels: Vec<String>,
    col_labels: Vec<String>,
    x_label: String,
    y_label: String,
    decimals: usize,
    size: Option<(u32, u32)>,
}

impl Heatmap {
    fn pixels(&self) -> (u32, u32) {
        self.size.unwrap_or_else(|| {
            let rows = self.values.len() as u32;
            let cols = self.values.first().map_or(0, Vec::len) as u32;
            // Cells wide enough for the column names while there are few of them.
            let longest = self
                .col_labels
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(1) as u32;
            let cell = if rows.max(cols) > 20 {
                22
            } else {
                (longest * 7 + 12).clamp(48, 96)
            };
            let label_area = self
                .row_labels
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(1) as u32
                * 7;
            (
                (cols * cell + label_area + 80).clamp(320, 1400),
                (rows * 48.min(cell) + 110).clamp(240, 1400),
            )
        })
    }

    /// A heatmap of `values[row][column]`; rows are drawn top to bottom.
    pub fn new(title: &str, values: Vec<Vec<f64>>) -> Heatmap {
        let rows = values.len();
        let cols = values.first().map_or(0, Vec::len);
        Heatmap {
            title: title.to_string(),
            values,
            row_labels: (0..rows).map(|i| i.to_string()).collect(),
            col_labels: (0..cols).map(|j| j.to_string()).collect(),
            x_label: String::new(),
            y_label: String::new(),
            decimals: 2,
            size: None,
        }
    }

    /// Names for the rows and the columns.
    pub fn labels(mut self, rows: &[impl AsRef<str>], cols: &[impl AsRef<str>]) -> Heatmap {
        self.row_labels = rows.iter().map(|s| s.as_ref().to_string()).collect();
        self.col_labels = cols.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    pub fn x_label(mut self, label: &str) -> Heatmap {
        self.x_label = label.to_string();
        self
    }

    pub fn y_label(mut self, label: &str) -> Heatmap {
        self.y_label = label.to_string();
        self
    }

    /// Decimals in the cell labels (2 by default; 0 for counts).
    pub fn decimals(mut self, decimals: usize) -> Heatmap {
        self.decimals = decimals;
        self
    }

    /// Size in pixels (by default it grows with the number of cells).
    pub fn size(mut self, width: u32, height: u32) -> Heatmap {
        self.size = Some((width.max(120), height.max(120)));
        self
    }

    fn check(&self) -> Result<(usize, usize)> {
        let rows = self.values.len();
        let cols = self.values.first().map_or(0, Vec::len);
        if rows == 0 || cols == 0 {
            bail!("the heatmap {:?} has no cells", self.title);
        }
        if let Some(i) = self.values.iter().position(|r| r.len() != cols) {
            bail!(
                "heatmap row {i} has {} values but row 0 has {cols}",
                self.values[i].len()
            );
        }
        if self.row_labels.len() != rows || self.col_labels.len() != cols {
            bail!(
                "the heatmap has {rows} x {cols} cells but {} row and {} column labels",
                self.row_labels.len(),
                self.col_labels.len()
            );
        }
        Ok((rows, cols))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (rows, cols) = self.check()?;
        let finite = self
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let longest = self
            .row_labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1);
        let (width, height) = self.pixels();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(if self.x_label.is_empty() { 36 } else { 52 })
            .y_label_area_size(
                (longest as u32 * 7 + 24).min(200) + if self.y_label.is_empty() { 0 } else { 16 },
            )
            .build_cartesian_2d(
                (0..cols - 1).into_segmented(),
                (0..rows - 1).into_segmented(),
            )
            .map_err(plot_error)?;
        // Label every cell while the labels fit (about 14 px each), else every k-th.
        let label_step = |n: usize, pixels: u32| (n * 14 / pixels.max(1) as usize).max(1);
        let (x_step, y_step) = (label_step(cols, width), label_step(rows, height));
        let col_labels = &self.col_labels;
        let row_labels = &self.row_labels;
        let centre = |v: &SegmentValue<usize>, n: usize, step: usize| match v {
            SegmentValue::CenterOf(i) if *i < n && i % step == 0 => Some(*i),
            _ => None,
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(cols + 1)
            .y_labels(rows + 1)
            .x_label_formatter(&|v| {
                centre(v, cols, x_step)
                    .map(|i| col_labels[i].clone())
                    .unwrap_or_default()
            })
            .y_label_formatter(&|v| {
                centre(v, rows, y_step)
                    .map(|i| row_labels[rows - 1 - i].clone())
                    .unwrap_or_default()
            })
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(plot_error)?;
        let cell_px = (width as f64 / cols as f64).min(height as f64 / rows as f64);
        let annotate = cell_px >= 22.0;
        let font = (cell_px * 0.3).clamp(9.0, 14.0) as i32;
        for (i, row) in self.values.iter().enumerate() {
            let y = rows - 1 - i;
            for (j, &v) in row.iter().enumerate() {
                let t = if v.is_finite() {
                    ((v - lo) / span).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let corners = [
                    (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                ];
                chart
                    .draw_series(std::iter::once(Rectangle::new(corners, blues(t).filled())))
                    .map_err(plot_error)?;
                if annotate {
                    let text = if v.is_finite() {
                        format!("{v:.*}", self.decimals)
                    } else {
                        "–".into()
                    };
                    let colour = if t > 0.55 { WHITE } else { BLACK };
                    let style = ("sans-serif", font)
                        .into_font()
                        .color(&colour)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    let at = (SegmentValue::CenterOf(j), SegmentValue::CenterOf(y));
                    chart
                        .draw_series(std::iter::once(Text::new(text, at, style)))
                        .map_err(plot_error)?;
                }
            }
        }
        Ok(())
    }
}

/// White to dark blue, perceptually even enough for counts.
fn blues(t: f64) -> RGBColor {
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

super::chart_outputs!(Heatmap);

impl Render for Heatmap {
    fn mime_bundle(&self) -> MimeBundle {
        chart_bundle(
            self,
            format!(
                "Heatmap {:?}: {} x {}",
                self.title,
                self.row_labels.len(),
                self.col_labels.len()
            ),
        )
    }
}

impl ConfusionMatrix {
    /// The matrix as a heatmap: counts, or each row divided by its total (recall per class)
    /// when `row_normalised`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let matrix = confusion_matrix(&[0, 0, 1, 1], &[0, 1, 1, 1]).unwrap();
    /// let svg = matrix.heatmap(true).to_svg().unwrap();
    /// assert!(svg.contains("0.50") && svg.contains("predicted"));
    /// ```
    pub fn heatmap(&self, row_normalised: bool) -> Heatmap {
        let names: Vec<String> = match &self.names {
            Some(names) => self
                .labels
                .iter()
                .map(|&l| names.get(l).cloned().unwrap_or_else(|| l.to_string()))
                .collect(),
            None => self.labels.iter().map(|l| l.to_string()).collect(),
        };
        let values: Vec<Vec<f64>> = self
            .counts
            .iter()
            .map(|row| {
                let total: u64 = row.iter().sum();
                row.iter()
                    .map(|&c| {
                        if row_normalised {
                            if total == 0 {
                                0.0
                            } else {
                                c as f64 / total as f64
                            }
                        } else {
                            c as f64
                        }
                    })
                    .collect()
            })
            .collect();
        Heatmap::new(
            if row_normalised {
                "Confusion matrix (row-normalised)"
            } else {
                "Confusion matrix"
            },
            values,
        )
        .labels(&names, &names)
        .x_label("predicted")
        .y_label("true")
        .decimals(if row_normalised { 2 } else { 0 })
    }
}
