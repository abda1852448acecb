//! Bar charts (one value per named category) and histograms (counts of values in equal-width
//! bins, several distributions overlaid).

use super::{chart_bundle, plot_error, PALETTE};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Bars for named categories, each labelled with its value.
///
/// ```
/// use trainbook::prelude::*;
/// let chart = BarChart::new("Accuracy by model")
///     .y_label("accuracy")
///     .bars(&["tree", "forest", "MLP"], &[0.84, 0.941, 0.976])
///     .unwrap();
/// let svg = chart.to_svg().unwrap();
/// assert!(svg.contains("forest") && svg.contains("0.976"));
/// ```
#[derive(Clone, Debug)]
pub struct BarChart {
    title: String,
    y_label: String,
    labels: Vec<String>,
    values: Vec<f64>,
    value_format: fn(f64) -> String,
    size: (u32, u32),
}

impl BarChart {
    fn pixels(&self) -> (u32, u32) {
        self.size
    }

    pub fn new(title: &str) -> BarChart {
        BarChart {
            title: title.to_string(),
            y_label: String::new(),
            labels: Vec::new(),
            values: Vec::new(),
            value_format: super::short_number,
            size: (560, 360),
        }
    }

    pub fn y_label(mut self, label: &str) -> BarChart {
        self.y_label = label.to_string();
        self
    }

    /// Size in pixels (default 560 x 360).
    pub fn size(mut self, width: u32, height: u32) -> BarChart {
        self.size = (width.max(100), height.max(80));
        self
    }

    /// How each bar's value is written above it (default: three significant digits, 1e-4 style
    /// for very small or large values).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let chart = BarChart::new("Cost").bars(&["GPU"], &[1.5]).unwrap().value_format(|v| format!("${v:.2}"));
    /// assert!(chart.to_svg().unwrap().contains("$1.50"));
    /// ```
    pub fn value_format(mut self, format: fn(f64) -> String) -> BarChart {
        self.value_format = format;
        self
    }

    /// Adds bars, one per label.
    pub fn bars(mut self, labels: &[&str], values: &[f64]) -> Result<BarChart> {
        if labels.len() != values.len() {
            bail!(
                "bar chart {:?}: {} labels but {} values; give one value per label",
                self.title,
                labels.len(),
                values.len()
            );
        }
        self.labels.extend(labels.iter().map(|l| l.to_string()));
        self.values.extend_from_slice(values);
        Ok(self)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        if self.values.is_empty() {
            bail!(
                "the bar chart {:?} has no bars; add some with .bars",
                self.title
            );
        }
        if let Some(i) = self.values.iter().position(|v| !v.is_finite()) {
            bail!(
                "bar {:?} of {:?} has the value {}; bars need finite values",
                self.labels[i],
                self.title,
                self.values[i]
            );
        }
        let n = self.values.len();
        let lo = self.values.iter().cloned().fold(0.0, f64::min);
        let hi = self.values.iter().cloned().fold(0.0, f64::max);
        let pad = if hi > lo { (hi - lo) * 0.12 } else { 1.0 };
        let y_range = (if lo < 0.0 { lo - pad } else { 0.0 })..(hi + pad);
        let labels = &self.labels;
        let tick_zero = (y_range.end - y_range.start) * 1e-9;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), y_range)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => labels[*i].clone(),
                _ => String::new(),
            })
            .y_desc(&self.y_label)
            // Rounding can put the zero tick at -1e-17, which would print as "-0.0".
            .y_label_formatter(&|v| super::short_number(if v.abs() < tick_zero { 0.0 } else { *v }))
            .label_style(("sans-serif", 12))
            .bold_line_style(RGBColor(225, 225, 225))
            // Not max_light_lines(0): on a segmented axis plotters then never returns.
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        let colour = PALETTE[0];
        chart
            .draw_series(self.values.iter().enumerate().map(|(i, &v)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v),
                    ],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 8, 8);
                bar
            }))
            .map_err(plot_error)?;
        let text = TextStyle::from(("sans-serif", 12).into_font())
            .color(&RGBColor(40, 40, 40))
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ));
        chart
            .draw_series(self.values.iter().enumerate().map(|(i, &v)| {
                Text::new(
                    (self.value_format)(v),
                    (SegmentValue::CenterOf(i), v.max(0.0)),
                    text.clone(),
                )
            }))
            .map_err(plot_error)?;
        Ok(())
    }
}

super::chart_outputs!(BarChart);

impl Render for BarChart {
    fn mime_bundle(&self) -> MimeBundle {
        let bars: Vec<String> = self
            .labels
            .iter()
            .zip(&self.values)
            .map(|(l, v)| format!("{l} {}", (self.value_format)(*v)))
            .collect();
        chart_bundle(
            self,
            format!("BarChart {:?}: {}", self.title, bars.join(", ")),
        )
    }
}

/// Histograms of one or more sets of values over shared equal-width bins (numpy's
/// `histogram(values, bins)`: from the smallest to the largest value, the last bin closed),
/// overlaid and translucent so distributions can be compared.
///
/// ```
/// use trainbook::prelude::*;
/// let chart = Histogram::new("Scores", 4).series("all", &[0.0, 1.0, 1.5, 2.0, 4.0]).unwrap();
/// assert_eq!(chart.counts(0).unwrap(), vec![1, 2, 1, 1]); // edges 0, 1, 2, 3, 4
/// assert!(chart.to_svg().unwrap().contains("<rect"));
/// ```
#[derive(Clone, Debug)]
pub struct Histogram {
    title: String,
    x_label: String,
    bins: usize,
    series: Vec<(String, Vec<f64>)>,
    size: (u32, u32),
}

impl Histogram {
    fn pixels(&self) -> (u32, u32) {
        self.size
    }

    /// A histogram with `bins` equal-width bins.
    pub fn new(title: &str, bins: usize) -> Histogram {
        Histogram {
            title: title.to_string(),
            x_label: String::new(),
            bins: bins.max(1),
            series: Vec::new(),
            size: (560, 360),
        }
    }

    pub fn x_label(mut self, label: &str) -> Histogram {
        self.x_label = label.to_string();
        self
    }

    /// Size in pixels (default 560 x 360).
    pub fn size(mut self, width: u32, height: u32) -> Histogram {
        self.size = (width.max(100), height.max(80));
        self
    }

    /// Adds a named set of values; NaN and infinite values are an error.
    pub fn series(mut self, name: &str, values: &[f64]) -> Result<Histogram> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            bail!(
                "histogram series {name:?}: value {i} is {}; drop missing values first \
                 (e.g. drop_nulls)",
                values[i]
            );
        }
        self.series.push((name.to_string(), values.to_vec()));
        Ok(self)
    }

    /// The bin edges (bins + 1 of them) over every series' values.
    pub fn edges(&self) -> Result<Vec<f64>> {
        let all = self.series.iter().flat_map(|s| s.1.iter().copied());
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if lo > hi {
            bail!("the histogram {:?} has no values; add a series", self.title);
        }
        // numpy widens an empty range by 0.5 on each side.
        let (lo, hi) = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        Ok((0..=self.bins)
            .map(|i| lo + (hi - lo) * i as f64 / self.bins as f64)
            .collect())
    }

    /// How many values of series `index` fall in each bin.
    pub fn counts(&self, index: usize) -> Result<Vec<usize>> {
        let Some((_, values)) = self.series.get(index) else {
            bail!(
                "the histogram has {} series; there is no series {index}",
                self.series.len()
            );
        };
        Ok(bin_counts(values, &self.edges()?))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let edges = self.edges()?;
        let counts: Vec<Vec<usize>> = self
            .series
            .iter()
            .map(|(_, values)| bin_counts(values, &edges))
            .collect();
        let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(edges[0]..edges[self.bins], 0.0..top * 1.08)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(&self.x_label)
            .y_desc("count")
            .label_style(("sans-serif", 12))
            .bold_line_style(RGBColor(225, 225, 225))
            .max_light_lines(0)
            .draw()
            .map_err(plot_error)?;
        let alpha = if self.series.len() > 1 { 0.55 } else { 0.9 };
        for (s, ((name, _), counts)) in self.series.iter().zip(&counts).enumerate() {
            let colour = PALETTE[s % PALETTE.len()];
            chart
                .draw_series(counts.iter().enumerate().map(|(b, &c)| {
                    Rectangle::new(
                        [(edges[b], 0.0), (edges[b + 1], c as f64)],
                        colour.mix(alpha).filled(),
                    )
                }))
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        if self.series.len() > 1 {
            super::draw_legend(&mut chart)?;
        }
        Ok(())
    }
}

super::chart_outputs!(Histogram);

impl Render for Histogram {
    fn mime_bundle(&self) -> MimeBundle {
        let names: Vec<&str> = self.series.iter().map(|s| s.0.as_str()).collect();
        chart_bundle(
            self,
            format!(
                "Histogram {:?} ({} bins): {}",
                self.title,
                self.bins,
                names.join(", ")
            ),
        )
    }
}

/// How many `values` fall in each bin between consecutive `edges` (the last bin closed).
fn bin_counts(values: &[f64], edges: &[f64]) -> Vec<usize> {
    let bins = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[bins]);
    let mut counts = vec![0; bins];
    for &v in values {
        let mut bin = ((((v - lo) / (hi - lo)) * bins as f64) as usize).min(bins - 1);
        // Rounding can put a value on the wrong side of an edge: check against it.
        while bin > 0 && v < edges[bin] {
            bin -= 1;
        }
        while bin + 1 < bins && v >= edges[bin + 1] {
            bin += 1;
        }
        counts[bin] += 1;
    }
    counts
}
