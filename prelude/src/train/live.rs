//! The training loop's notebook output: one display that redraws in place (progress bar with
//! ETA, the curves, the last epochs) a few times a second, and ends as one static frame.

use super::history::{epoch_line, History};
use crate::display::{display_handle, DisplayHandle, MimeBundle};
use std::time::{Duration, Instant};

/// How `fit` reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A live display in a notebook, nothing elsewhere.
    Auto,
    /// The live display (in a notebook; HTML on stdout elsewhere).
    Live,
    /// One printed line per epoch.
    Lines,
    Quiet,
}

pub(crate) struct LiveView {
    mode: Progress,
    handle: Option<DisplayHandle>,
    started: Instant,
    last_drawn: Option<Instant>,
    interval: Duration,
}

/// Where the loop is, for the progress line.
pub(crate) struct Position {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    /// Steps done in this call to fit and steps it will do in all.
    pub done: usize,
    pub total: usize,
    pub running_loss: f64,
}

impl LiveView {
    pub fn new(mode: Progress) -> LiveView {
        let mode = match mode {
            Progress::Auto if crate::runtime::in_kernel() => Progress::Live,
            Progress::Auto => Progress::Quiet,
            other => other,
        };
        LiveView {
            mode,
            handle: None,
            started: Instant::now(),
            last_drawn: None,
            interval: Duration::from_millis(250),
        }
    }

    /// Redraws if enough time has passed (or `force`).
    pub fn update(&mut self, position: &Position, history: &History, force: bool) {
        if self.mode != Progress::Live {
            return;
        }
        if !force && self.last_drawn.is_some_and(|t| t.elapsed() < self.interval) {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let frame = self.frame(position, history, None);
        self.show(&frame);
    }

    fn show(&mut self, frame: &MimeBundle) {
        match &self.handle {
            Some(handle) => handle.update(frame),
            None => self.handle = Some(display_handle(frame)),
        }
    }

    /// After an epoch: a printed line in `Lines` mode.
    pub fn epoch_done(&mut self, history: &History) {
        if self.mode == Progress::Lines {
            if let Some(last) = history.last() {
                println!("{}", epoch_line(last));
            }
        }
    }

    /// The final, static frame with how the run ended.
    pub fn finish(&mut self, position: &Position, history: &History, outcome: &str) {
        match self.mode {
            Progress::Live => {
                let frame = self.frame(position, history, Some(outcome));
                self.show(&frame);
            }
            Progress::Lines => println!("{outcome}"),
            _ => {}
        }
    }

    /// The HTML frame, with a plain-text form that holds no timings (so a notebook's saved
    /// output only changes when the numbers do).
    fn frame(&self, p: &Position, history: &History, outcome: Option<&str>) -> MimeBundle {
        let elapsed = self.started.elapsed().as_secs_f64();
        let status = match outcome {
            Some(outcome) => format!(
                "{} · {} in {:.1} s",
                crate::display::html_escape(outcome),
                plural(history.epochs.len(), "epoch"),
                elapsed
            ),
            None => {
                let eta = if p.done > 0 {
                    elapsed / p.done as f64 * (p.total - p.done) as f64
                } else {
                    f64::NAN
                };
                format!(
                    "epoch {}/{} · batch {}/{} · loss {:.4} · {:.1} s elapsed · ETA {}",
                    p.epoch,
                    p.epochs,
                    p.batch,
                    p.batches,
                    p.running_loss,
                    elapsed,
                    if eta.is_finite() {
                        format!("{eta:.1} s")
                    } else {
                        "…".into()
                    }
                )
            }
        };
        let html = format!(
            "<div class=\"trainbook-fit\"><div><progress value=\"{}\" max=\"{}\" \
             style=\"width:320px\"></progress> {status}</div>{}{}</div>",
            p.done,
            p.total.max(1),
            history.charts_html(),
            history.table_html(8)
        );
        let text = match outcome {
            Some(outcome) => format!("{outcome}\n{}", history.text()),
            None => format!("training: epoch {}/{}", p.epoch, p.epochs),
        };
        MimeBundle::text(text).with("text/html", html)
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
