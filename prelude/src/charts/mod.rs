//! Charts drawn with plotters, shown inline as SVG (PNG on request) and savable to files.
//!
//! Text is measured and (for PNG) drawn with DejaVu Sans embedded in the prelude, so charts
//! look the same on machines without fonts. Charts have an opaque white background, which
//! keeps them readable in JupyterLab's dark theme too.

/// The output methods every chart shares (SVG, PNG, a PNG display, saving to a file) and its
/// [`Chart`] impl, for a type with `fn pixels(&self) -> (u32, u32)` and a `draw` method generic
/// over the plotters backend.
macro_rules! chart_outputs {
    ($chart:ty) => {
        impl $chart {
            /// The chart as an SVG document.
            pub fn to_svg(&self) -> anyhow::Result<String> {
                $crate::charts::to_svg(self)
            }

            /// The chart as PNG bytes.
            pub fn to_png(&self) -> anyhow::Result<Vec<u8>> {
                $crate::charts::to_png(self)
            }

            /// A PNG display of the chart (SVG is the default).
            pub fn png(&self) -> anyhow::Result<$crate::display::Png> {
                $crate::charts::png_display(self)
            }

            /// Writes the chart to a `.svg` or `.png` file.
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> anyhow::Result<()> {
                $crate::charts::save(self, path.as_ref())
            }
        }

        impl $crate::charts::Chart for $chart {
            fn size(&self) -> (u32, u32) {
                self.pixels()
            }
            fn draw_svg(
                &self,
                area: &plotters::prelude::DrawingArea<
                    plotters::prelude::SVGBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> anyhow::Result<()> {
                self.draw(area)
            }
            fn draw_bitmap(
                &self,
                area: &plotters::prelude::DrawingArea<
                    plotters::prelude::BitMapBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> anyhow::Result<()> {
                self.draw(area)
            }
        }
    };
}
pub(crate) use chart_outputs;

mod bar;
mod dendrogram;
mod heatmap;
mod line;
mod scatter;

pub use bar::{BarChart, Histogram};
pub use dendrogram::Dendrogram;
pub use heatmap::Heatmap;
pub use line::LineChart;
pub use scatter::ScatterChart;

use crate::display::{MimeBundle, Png, Render};
use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_fonts() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic] {
            plotters::style::register_font("sans-serif", style, FONT)
                .map_err(|_| ())
                .expect("the embedded DejaVu Sans font is valid");
        }
    });
}

/// Series colours: colour-blind-safe (Okabe–Ito), dark enough on white.
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// A value as a short label, three significant digits at most: 0.25, 12, 5.95, 12345,
/// 1e-4, 4.5e-3.
pub(crate) fn short_number(v: f64) -> String {
    let trim = |text: String| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    };
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() >= 1e4 {
        return format!("{v:.0}");
    }
    if v.abs() < 1e-2 {
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim(mantissa.to_string()));
    }
    let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    trim(format!("{v:.decimals$}"))
}

/// What every chart can do: draw itself on a plotters drawing area of any backend.
pub trait Chart {
    /// Size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws onto an SVG drawing area.
    fn draw_svg(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>;
    /// Draws onto a bitmap drawing area.
    fn draw_bitmap(&self, area: &DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>;
}

pub(crate) fn plot_error<E: std::error::Error + Send + Sync>(
    error: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing the chart failed: {error}")
}

/// The chart as an SVG document.
///
/// ```
/// use trainbook::prelude::*;
/// let svg = trainbook::charts::to_svg(&LineChart::new("x").series("a", &[1.0, 2.0])).unwrap();
/// assert!(svg.starts_with("<svg"));
/// ```
pub fn to_svg(chart: &dyn Chart) -> Result<String> {
    register_fonts();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        area.fill(&WHITE).map_err(plot_error)?;
        chart.draw_svg(&area)?;
        area.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The chart as PNG bytes.
///
/// ```
/// use trainbook::prelude::*;
/// let png = trainbook::charts::to_png(&LineChart::new("x").series("a", &[1.0, 2.0])).unwrap();
/// assert!(png.starts_with(b"\x89PNG"));
/// ```
pub fn to_png(chart: &dyn Chart) -> Result<Vec<u8>> {
    register_fonts();
    let (width, height) = chart.size();
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(plot_error)?;
        chart.draw_bitmap(&area)?;
        area.present().map_err(plot_error)?;
    }
    let image = image::RgbImage::from_raw(width, height, pixels)
        .context("the bitmap has the chart's size")?;
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut png),
            image::ImageOutputFormat::Png,
        )
        .context("encoding the chart as PNG failed")?;
    Ok(png)
}

/// Writes the chart to `path`: `.svg` or `.png`, by the extension.
///
/// ```
/// use trainbook::prelude::*;
/// let path = std::env::temp_dir().join("trainbook-doc-chart.svg");
/// trainbook::charts::save(&LineChart::new("x").series("a", &[1.0]), &path).unwrap();
/// assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
/// ```
pub fn save(chart: &dyn Chart, path: &Path) -> Result<()> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => to_svg(chart)?.into_bytes(),
        Some("png") => to_png(chart)?,
        _ => bail!(
            "cannot save a chart as {}: use a file name ending in .svg or .png",
            path.display()
        ),
    };
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The legend every chart with named series draws: upper right, on a translucent white box.
pub(crate) fn draw_legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 12))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)
}

/// The bundle every chart shows: SVG, with a text fallback.
pub(crate) fn chart_bundle(chart: &dyn Chart, description: String) -> MimeBundle {
    match to_svg(chart) {
        Ok(svg) => MimeBundle::text(description).with("image/svg+xml", svg),
        Err(error) => MimeBundle::text(format!("{description} (not drawn: {error})")),
    }
}

/// A chart shown as PNG instead of SVG.
pub(crate) fn png_display(chart: &dyn Chart) -> Result<Png> {
    Ok(Png::new(to_png(chart)?))
}

impl Render for dyn Chart {
    fn mime_bundle(&self) -> MimeBundle {
        chart_bundle(self, "chart".to_string())
    }
}
