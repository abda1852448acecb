//! A study's charts beyond its history: each parameter against the objective, and parallel
//! coordinates. Both place a parameter's values the way the search sees them (log scale for
//! log-uniform, one slot per integer or option), labelled with the real values.

use super::space::{Kind, Param, Space};
use super::study::{Direction, Study, TrialState};
use crate::charts::{chart_bundle, plot_error, short_number as short};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One completed trial as the charts see it.
#[derive(Clone, Debug)]
struct Point {
    number: usize,
    /// Unit coordinate per parameter, `None` where a conditional parameter was absent.
    unit: Vec<Option<f64>>,
    value: f64,
}

fn completed(study: &Study) -> Vec<Point> {
    study
        .records
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let unit = study.space.to_unit(&t.params);
            Some(Point {
                number: t.number,
                unit: study
                    .space
                    .params()
                    .iter()
                    .zip(unit)
                    .map(|(p, u)| t.params.has(&p.name).then_some(u))
                    .collect(),
                value: t.value?,
            })
        })
        .collect()
}

/// Where to label a parameter's axis: (unit coordinate, label).
fn ticks(param: &Param) -> Vec<(f64, String)> {
    let spread = |count: usize, at: &dyn Fn(usize) -> (f64, String)| -> Vec<(f64, String)> {
        // At most 6 labels: every k-th slot.
        let step = count.div_ceil(6).max(1);
        (0..count).step_by(step).map(at).collect()
    };
    match &param.kind {
        Kind::Uniform { low, high } => (0..5)
            .map(|i| {
                let u = i as f64 / 4.0;
                (u, short(low + u * (high - low)))
            })
            .collect(),
        Kind::LogUniform { low, high } => {
            let (a, b) = (low.log10(), high.log10());
            let decades: Vec<i32> = (a.ceil() as i32..=b.floor() as i32).collect();
            if decades.len() >= 2 {
                spread(decades.len(), &|i| {
                    let d = decades[i] as f64;
                    ((d - a) / (b - a), short(10f64.powf(d)))
                })
            } else {
                (0..5)
                    .map(|i| {
                        let u = i as f64 / 4.0;
                        (u, short(10f64.powf(a + u * (b - a))))
                    })
                    .collect()
            }
        }
        Kind::Int { low, high, step } => {
            let count = ((high - low) / step + 1) as usize;
            spread(count, &|i| {
                (
                    (i as f64 + 0.5) / count as f64,
                    (low + i as i64 * step).to_string(),
                )
            })
        }
        Kind::Choice(options) => spread(options.len(), &|i| {
            ((i as f64 + 0.5) / options.len() as f64, options[i].clone())
        }),
    }
}

/// Draws `text` at a pixel position of `area`.
fn label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    at: (i32, i32),
    pos: Pos,
    size: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from(("sans-serif", size).into_font())
        .color(&RGBColor(60, 60, 60))
        .pos(pos);
    area.draw(&Text::new(text.to_string(), at, style))
        .map_err(plot_error)
}

/// Padded value range of the objective.
fn value_range(points: &[Point]) -> (f64, f64) {
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.value), b.max(p.value))
        });
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        lo.abs().max(1.0) * 0.06
    };
    (lo - pad, hi + pad)
}

/// Each parameter against the objective (Optuna's slice plot): one panel per parameter, one
/// dot per completed trial, coloured by trial number (dark = early, yellow = late) so you can
/// see where the search settled; the best trial is ringed in red.
///
/// ```
/// use trainbook::prelude::*;
/// let space = Space::new().log_uniform("lr", 1e-4, 1e-1).choice("optimizer", &["adam", "sgd"]);
/// let mut study = Study::minimize(space).sampler(Sampler::Random).trials(12).seed(0);
/// study.optimize(&mut |t| Ok(t.params.float("lr")?.ln().abs())).unwrap();
/// let svg = study.param_chart().to_svg().unwrap();
/// assert!(svg.contains("lr") && svg.contains("optimizer") && svg.contains("sgd"));
/// ```
#[derive(Clone, Debug)]
pub struct ParamChart {
    title: String,
    space: Space,
    points: Vec<Point>,
    best: Option<usize>,
    objective: String,
}

/// Parallel coordinates: one vertical axis for the objective and one per parameter, one line
/// per completed trial through its values, coloured by its objective (dark = better); the best
/// trial is drawn last, in red. A conditional parameter a trial did not have is skipped by its
/// line.
///
/// ```
/// use trainbook::prelude::*;
/// let space = Space::new().uniform("x", -2.0, 2.0).int("k", 0, 3);
/// let mut study = Study::minimize(space).sampler(Sampler::Random).trials(10).seed(0);
/// study.optimize(&mut |t| Ok(t.params.float("x")?.powi(2) + t.params.int("k")? as f64)).unwrap();
/// let svg = study.parallel_coordinates().to_svg().unwrap();
/// assert!(svg.contains("objective"));
/// // 10 trial lines, 3 axes and their tick marks.
/// assert!(svg.matches("<polyline").count() > 13);
/// ```
#[derive(Clone, Debug)]
pub struct ParallelCoordinates {
    title: String,
    space: Space,
    points: Vec<Point>,
    best: Option<usize>,
    direction: Direction,
    objective: String,
}

impl Study {
    /// Each parameter against the objective; see [`ParamChart`].
    pub fn param_chart(&self) -> ParamChart {
        ParamChart {
            title: "Parameters against the objective".into(),
            space: self.space.clone(),
            points: completed(self),
            best: self.best().map(|b| b.number),
            objective: "objective".into(),
        }
    }

    /// All parameters and the objective at once; see [`ParallelCoordinates`].
    pub fn parallel_coordinates(&self) -> ParallelCoordinates {
        ParallelCoordinates {
            title: "Parallel coordinates".into(),
            space: self.space.clone(),
            points: completed(self),
            best: self.best().map(|b| b.number),
            direction: self.direction,
            objective: "objective".into(),
        }
    }
}

/// The builder methods and display both study charts share.
macro_rules! study_chart_methods {
    ($chart:ty) => {
        impl $chart {
            /// Replaces the title.
            pub fn title(mut self, title: &str) -> Self {
                self.title = title.to_string();
                self
            }

            /// Names the objective on its axis (default "objective").
            pub fn objective(mut self, name: &str) -> Self {
                self.objective = name.to_string();
                self
            }

            fn check(&self) -> Result<()> {
                if self.points.is_empty() {
                    bail!(
                        "{:?}: the study has no completed trial to draw yet",
                        self.title
                    );
                }
                Ok(())
            }
        }

        impl Render for $chart {
            fn mime_bundle(&self) -> MimeBundle {
                let names: Vec<&str> = self
                    .space
                    .params()
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                chart_bundle(
                    self,
                    format!(
                        "{} ({} trials; {})",
                        self.title,
                        self.points.len(),
                        names.join(", ")
                    ),
                )
            }
        }
    };
}

study_chart_methods!(ParamChart);
study_chart_methods!(ParallelCoordinates);
crate::charts::chart_outputs!(ParamChart);
crate::charts::chart_outputs!(ParallelCoordinates);

const PANEL: (u32, u32) = (300, 250);

impl ParamChart {
    fn columns(&self) -> usize {
        self.space.params().len().clamp(1, 3)
    }

    fn pixels(&self) -> (u32, u32) {
        let n = self.space.params().len().max(1);
        let cols = self.columns();
        let rows = n.div_ceil(cols);
        (PANEL.0 * cols as u32, PANEL.1 * rows as u32 + 36)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        self.check()?;
        let area = area
            .titled(&self.title, ("sans-serif", 18))
            .map_err(plot_error)?;
        let params = self.space.params();
        let cols = self.columns();
        let panels = area.split_evenly((params.len().div_ceil(cols), cols));
        let (y0, y1) = value_range(&self.points);
        let last = self
            .points
            .iter()
            .map(|p| p.number)
            .max()
            .unwrap_or(0)
            .max(1);
        for (d, (param, panel)) in params.iter().zip(&panels).enumerate() {
            let slots = match &param.kind {
                Kind::Int { low, high, step } => ((high - low) / step + 1) as f64,
                Kind::Choice(options) => options.len() as f64,
                _ => 0.0,
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(&param.name, ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(26)
                .y_label_area_size(if d % cols == 0 { 58 } else { 44 })
                .build_cartesian_2d(-0.03f64..1.03f64, y0..y1)
                .map_err(plot_error)?;
            let mut mesh = chart.configure_mesh();
            mesh.disable_x_mesh()
                .x_labels(0)
                .label_style(("sans-serif", 11))
                .bold_line_style(RGBColor(225, 225, 225))
                .max_light_lines(0);
            if d % cols == 0 {
                mesh.y_desc(&self.objective);
            }
            mesh.draw().map_err(plot_error)?;
            // Integers and options share a slot per value: spread the dots a little inside it
            // so repeated values stay visible.
            let jitter = |number: usize| {
                if slots == 0.0 {
                    0.0
                } else {
                    let h = (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                    ((h as f64 / (1u64 << 24) as f64) - 0.5) * 0.5 / slots
                }
            };
            let dots = self.points.iter().filter_map(|p| {
                p.unit[d].map(|u| {
                    let colour =
                        ViridisRGB::get_color_normalized(p.number as f64, 0.0, last as f64);
                    Circle::new(
                        (u + jitter(p.number), p.value),
                        3,
                        colour.mix(0.85).filled(),
                    )
                })
            });
            chart.draw_series(dots).map_err(plot_error)?;
            if let Some(best) = self.points.iter().find(|p| Some(p.number) == self.best) {
                if let Some(u) = best.unit[d] {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (u + jitter(best.number), best.value),
                            6,
                            RGBColor(213, 40, 40).stroke_width(2),
                        )))
                        .map_err(plot_error)?;
                }
            }
            let base = panel.get_base_pixel();
            for (u, text) in ticks(param) {
                let (x, y) = chart.backend_coord(&(u, y0));
                label(
                    panel,
                    &text,
                    (x - base.0, y - base.1 + 5),
                    Pos::new(HPos::Center, VPos::Top),
                    11,
                )?;
            }
        }
        Ok(())
    }
}

impl ParallelCoordinates {
    fn pixels(&self) -> (u32, u32) {
        (
            (120 * (self.space.params().len() as u32 + 1) + 80).max(560),
            420,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        self.check()?;
        let (width, height) = self.pixels();
        let (left, right, top, bottom) = (70i32, 50i32, 56i32, 56i32);
        let params = self.space.params();
        let axes = params.len() + 1;
        let axis_x =
            |i: usize| left + ((width as i32 - left - right) * i as i32) / (axes as i32 - 1);
        let plot_height = height as i32 - top - bottom;
        let y_of = |u: f64| top + ((1.0 - u.clamp(0.0, 1.0)) * plot_height as f64).round() as i32;
        label(
            area,
            &self.title,
            (width as i32 / 2, 10),
            Pos::new(HPos::Center, VPos::Top),
            18,
        )?;
        let (lo, hi) = value_range(&self.points);
        let value_unit = |v: f64| (v - lo) / (hi - lo);
        // Better trials are darker and drawn later, so they lie on top.
        let goodness = |v: f64| match self.direction {
            Direction::Minimize => (hi - v) / (hi - lo),
            Direction::Maximize => (v - lo) / (hi - lo),
        };
        let mut order: Vec<&Point> = self.points.iter().collect();
        order.sort_by(|a, b| goodness(a.value).total_cmp(&goodness(b.value)));
        let line = |p: &Point| {
            let mut line = vec![(axis_x(0), y_of(value_unit(p.value)))];
            line.extend(
                p.unit
                    .iter()
                    .enumerate()
                    .filter_map(|(d, u)| u.map(|u| (axis_x(d + 1), y_of(u)))),
            );
            line
        };
        for p in order.iter().filter(|p| Some(p.number) != self.best) {
            let colour = ViridisRGB::get_color_normalized(1.0 - goodness(p.value), 0.0, 1.0);
            area.draw(&PathElement::new(line(p), colour.mix(0.7).stroke_width(1)))
                .map_err(plot_error)?;
        }
        if let Some(best) = order.iter().find(|p| Some(p.number) == self.best) {
            area.draw(&PathElement::new(
                line(best),
                RGBColor(213, 40, 40).stroke_width(3),
            ))
            .map_err(plot_error)?;
        }
        let axis_style = RGBColor(90, 90, 90).stroke_width(1);
        let objective_ticks: Vec<(f64, String)> = (0..5)
            .map(|i| {
                let u = i as f64 / 4.0;
                (u, short(lo + u * (hi - lo)))
            })
            .collect();
        for i in 0..axes {
            let x = axis_x(i);
            area.draw(&PathElement::new(
                vec![(x, y_of(0.0)), (x, y_of(1.0))],
                axis_style,
            ))
            .map_err(plot_error)?;
            let (name, tick_labels) = if i == 0 {
                (self.objective.as_str(), objective_ticks.clone())
            } else {
                (params[i - 1].name.as_str(), ticks(&params[i - 1]))
            };
            label(
                area,
                name,
                (x, y_of(0.0) + 14),
                Pos::new(HPos::Center, VPos::Top),
                13,
            )?;
            for (u, text) in tick_labels {
                area.draw(&PathElement::new(
                    vec![(x - 4, y_of(u)), (x, y_of(u))],
                    axis_style,
                ))
                .map_err(plot_error)?;
                label(
                    area,
                    &text,
                    (x - 6, y_of(u)),
                    Pos::new(HPos::Right, VPos::Center),
                    11,
                )?;
            }
        }
        label(
            area,
            "line colour: objective (dark = better); red: best trial",
            (width as i32 / 2, height as i32 - 6),
            Pos::new(HPos::Center, VPos::Bottom),
            11,
        )?;
        Ok(())
    }
}
