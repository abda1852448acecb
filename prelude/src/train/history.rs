//! What a training run recorded, epoch by epoch; shows as loss and accuracy curves and a table.

use crate::charts::LineChart;
use crate::display::{html_escape, MimeBundle, Render};
use crate::evaluation::{diagnose_history, Diagnosis};
use anyhow::{bail, Result};
use polars::prelude::{Column, DataFrame, IntoColumn, NamedFrom, Series};
use serde::{Deserialize, Serialize};

/// One epoch's numbers. Accuracy is recorded for classifiers only; validation numbers when
/// there is validation data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean loss over the epoch's batches (with dropout on, as the model trained).
    pub train_loss: f64,
    pub train_accuracy: Option<f64>,
    pub validation_loss: Option<f64>,
    pub validation_accuracy: Option<f64>,
    /// The learning rate at the epoch's last batch.
    pub learning_rate: f64,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
}

/// The per-epoch record of a training run.
///
/// ```
/// use trainbook::prelude::*;
/// let mut history = History::default();
/// for (epoch, (train, val)) in [(1.0, 1.1), (0.5, 0.7), (0.3, 0.9)].into_iter().enumerate() {
///     history.epochs.push(EpochRecord {
///         epoch: epoch + 1, train_loss: train, train_accuracy: None,
///         validation_loss: Some(val), validation_accuracy: None,
///         learning_rate: 0.1, seconds: 0.01,
///     });
/// }
/// assert_eq!(history.best_epoch(), Some(2));
/// assert_eq!(history.to_frame().unwrap().height(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// Training loss per epoch.
    pub fn train_loss(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }

    /// Validation loss per epoch (empty without validation data).
    pub fn validation_loss(&self) -> Vec<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.validation_loss)
            .collect()
    }

    /// Validation accuracy per epoch (empty for regressors or without validation data).
    pub fn validation_accuracy(&self) -> Vec<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.validation_accuracy)
            .collect()
    }

    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The epoch (1-based) with the lowest validation loss, or the lowest training loss when
    /// there is no validation data.
    pub fn best_epoch(&self) -> Option<usize> {
        self.epochs
            .iter()
            .min_by(|a, b| {
                let key = |e: &EpochRecord| e.validation_loss.unwrap_or(e.train_loss);
                key(a).total_cmp(&key(b))
            })
            .map(|e| e.epoch)
    }

    /// Total training time in seconds.
    pub fn seconds(&self) -> f64 {
        self.epochs.iter().map(|e| e.seconds).sum()
    }

    /// The history as a table, one row per epoch.
    pub fn to_frame(&self) -> Result<DataFrame> {
        let optional = |name: &str, values: Vec<Option<f64>>| -> Option<Column> {
            values
                .iter()
                .any(Option::is_some)
                .then(|| Series::new(name.into(), values).into_column())
        };
        let mut columns = vec![
            Series::new(
                "epoch".into(),
                self.epochs
                    .iter()
                    .map(|e| e.epoch as u32)
                    .collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new("train_loss".into(), self.train_loss()).into_column(),
        ];
        columns.extend(optional(
            "train_accuracy",
            self.epochs.iter().map(|e| e.train_accuracy).collect(),
        ));
        columns.extend(optional(
            "validation_loss",
            self.epochs.iter().map(|e| e.validation_loss).collect(),
        ));
        columns.extend(optional(
            "validation_accuracy",
            self.epochs.iter().map(|e| e.validation_accuracy).collect(),
        ));
        columns.push(
            Series::new(
                "learning_rate".into(),
                self.epochs
                    .iter()
                    .map(|e| e.learning_rate)
                    .collect::<Vec<_>>(),
            )
            .into_column(),
        );
        columns.push(
            Series::new(
                "seconds".into(),
                self.epochs.iter().map(|e| e.seconds).collect::<Vec<_>>(),
            )
            .into_column(),
        );
        Ok(DataFrame::new_infer_height(columns)?)
    }

    /// Train and validation loss against the epoch.
    pub fn loss_chart(&self) -> LineChart {
        let mut chart = LineChart::new("Loss")
            .x_label("epoch")
            .y_label("loss")
            .size(480, 300)
            .series_xy("train", self.points(|e| Some(e.train_loss)));
        if self.epochs.iter().any(|e| e.validation_loss.is_some()) {
            chart = chart.series_xy("validation", self.points(|e| e.validation_loss));
        }
        chart
    }

    /// Train and validation accuracy against the epoch (classifiers only).
    pub fn accuracy_chart(&self) -> Option<LineChart> {
        if !self.epochs.iter().any(|e| e.train_accuracy.is_some()) {
            return None;
        }
        let mut chart = LineChart::new("Accuracy")
            .x_label("epoch")
            .y_label("accuracy")
            .size(480, 300)
            .series_xy("train", self.points(|e| e.train_accuracy));
        if self.epochs.iter().any(|e| e.validation_accuracy.is_some()) {
            chart = chart.series_xy("validation", self.points(|e| e.validation_accuracy));
        }
        Some(chart)
    }

    fn points(&self, value: impl Fn(&EpochRecord) -> Option<f64>) -> Vec<(f64, f64)> {
        self.epochs
            .iter()
            .filter_map(|e| value(e).map(|v| (e.epoch as f64, v)))
            .collect()
    }

    /// Over- or underfitting, read from the train and validation losses.
    pub fn diagnose(&self) -> Result<Diagnosis> {
        let validation = self.validation_loss();
        if validation.len() != self.epochs.len() {
            bail!("diagnosing over- or underfitting needs a validation loss for every epoch; train with validation data");
        }
        diagnose_history(&self.train_loss(), &validation)
    }

    /// The charts side by side, as HTML.
    pub(crate) fn charts_html(&self) -> String {
        let mut html = String::from("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">");
        if self.epochs.is_empty() {
            return html + "</div>";
        }
        for chart in std::iter::once(self.loss_chart()).chain(self.accuracy_chart()) {
            if let Ok(svg) = chart.to_svg() {
                html += &format!("<div>{svg}</div>");
            }
        }
        html + "</div>"
    }

    /// The last `rows` epochs as an HTML table.
    pub(crate) fn table_html(&self, rows: usize) -> String {
        let has = |f: EpochField| self.epochs.iter().any(|e| f(e).is_some());
        let columns: Vec<(&str, EpochField)> = vec![
            ("train loss", |e| Some(e.train_loss)),
            ("train acc", |e| e.train_accuracy),
            ("val loss", |e| e.validation_loss),
            ("val acc", |e| e.validation_accuracy),
            ("lr", |e| Some(e.learning_rate)),
            ("time (s)", |e| Some(e.seconds)),
        ];
        let columns: Vec<_> = columns.into_iter().filter(|(_, f)| has(*f)).collect();
        let mut html = String::from("<table><thead><tr><th>epoch</th>");
        for (name, _) in &columns {
            html += &format!("<th>{}</th>", html_escape(name));
        }
        html += "</tr></thead><tbody>";
        let skip = self.epochs.len().saturating_sub(rows);
        for e in &self.epochs[skip..] {
            html += &format!("<tr><td>{}</td>", e.epoch);
            for (name, f) in &columns {
                let text = match f(e) {
                    Some(v) if *name == "lr" => format!("{v:.3e}"),
                    Some(v) if *name == "time (s)" => format!("{v:.2}"),
                    Some(v) => format!("{v:.4}"),
                    None => String::new(),
                };
                html += &format!("<td style=\"text-align:right\">{text}</td>");
            }
            html += "</tr>";
        }
        html + "</tbody></table>"
    }

    /// One line per epoch, for text outputs.
    pub(crate) fn text(&self) -> String {
        self.epochs
            .iter()
            .map(epoch_line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads one number of an epoch record.
type EpochField = fn(&EpochRecord) -> Option<f64>;

/// "epoch 3: train loss 0.1234, val loss 0.2345, val acc 0.9500"
pub(crate) fn epoch_line(e: &EpochRecord) -> String {
    let mut line = format!("epoch {}: train loss {:.4}", e.epoch, e.train_loss);
    if let Some(a) = e.train_accuracy {
        line += &format!(", train acc {a:.4}");
    }
    if let Some(l) = e.validation_loss {
        line += &format!(", val loss {l:.4}");
    }
    if let Some(a) = e.validation_accuracy {
        line += &format!(", val acc {a:.4}");
    }
    line
}

impl Render for History {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.text()).with(
            "text/html",
            format!("{}{}", self.charts_html(), self.table_html(usize::MAX)),
        )
    }
}
