//! The learning-rate range test (Leslie Smith; fastai's `lr_find`): train for a few hundred
//! batches while the rate grows exponentially, watch the loss, and pick the rate where it
//! falls fastest. The model's weights are put back afterwards.

use super::loss::Loss;
use super::optim::{Optimizer, OptimizerState};
use crate::charts::LineChart;
use crate::data::DataLoader;
use crate::display::{MimeBundle, Render};
use crate::nn::Network;
use anyhow::{bail, Result};
use candle_core::DType;

/// The losses seen at each learning rate, and the suggested rate.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFinder {
    pub learning_rates: Vec<f64>,
    /// Exponentially smoothed (0.98, bias-corrected) training loss at each rate.
    pub losses: Vec<f64>,
    /// Where the smoothed loss falls fastest against log(rate).
    pub suggestion: f64,
}

/// Runs the range test from `start` to `end` over at most `steps` batches with `optimizer`'s
/// method (its rate is replaced), stopping early when the loss passes 4× its minimum; the
/// model's weights are restored at the end.
///
/// ```
/// use trainbook::prelude::*;
/// let data = make_moons(512, 0.1, 0).unwrap();
/// let loader = DataLoader::from_frame(&data.frame, &data.feature_names, "target", 16, &Device::Cpu).unwrap().shuffle(0);
/// let model = Mlp::new(MlpConfig::classifier(2, &[32], 2).device(&Device::Cpu)).unwrap();
/// let before = model.parameters().get("output.bias").unwrap().to_vec1::<f32>().unwrap();
/// let finder = lr_finder(&model, &loader, &Optimizer::sgd(1.0), 1e-5, 10.0, 100).unwrap();
/// assert!(finder.suggestion > 1e-4 && finder.suggestion < 10.0);
/// assert_eq!(model.parameters().get("output.bias").unwrap().to_vec1::<f32>().unwrap(), before);
/// ```
pub fn lr_finder(
    model: &dyn Network,
    train: &DataLoader,
    optimizer: &Optimizer,
    start: f64,
    end: f64,
    steps: usize,
) -> Result<LrFinder> {
    if !(start > 0.0 && end > start && steps >= 10) {
        bail!(
            "lr_finder needs 0 < start < end and at least 10 steps (got {start}, {end}, {steps})"
        );
    }
    let loss_fn = Loss::for_head(model.head());
    let saved = model.parameters().snapshot()?;
    let mut state = OptimizerState::new(optimizer.clone());
    let params = model.parameters().trainable();
    let (mut learning_rates, mut losses) = (Vec::new(), Vec::new());
    let (mut average, mut best) = (0.0, f64::INFINITY);
    let mut step = 0;
    'outer: for epoch in 0.. {
        for batch in train.epoch(epoch) {
            if step == steps || crate::runtime::interrupted() {
                break 'outer;
            }
            let (x, y) = batch?;
            let lr = start * (end / start).powf(step as f64 / (steps - 1) as f64);
            let loss = loss_fn.compute(&model.forward_t(&x, true)?, &y)?;
            let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            average = 0.98 * average + 0.02 * value;
            let smoothed = average / (1.0 - 0.98f64.powi(step as i32 + 1));
            if !smoothed.is_finite() || (step > 10 && smoothed > 4.0 * best) {
                break 'outer;
            }
            best = best.min(smoothed);
            learning_rates.push(lr);
            losses.push(smoothed);
            state.step(&params, &loss.backward()?, lr)?;
            step += 1;
        }
    }
    model.parameters().load(&saved, false)?;
    if learning_rates.len() < 3 {
        bail!("the loss diverged within 3 batches; lower `start`");
    }
    // Steepest descent of the smoothed loss against log10(rate), skipping the first batches.
    let slope = |i: usize| {
        (losses[i + 1] - losses[i - 1])
            / (learning_rates[i + 1].log10() - learning_rates[i - 1].log10())
    };
    let skip = (learning_rates.len() / 10).max(1);
    let steepest = (skip..learning_rates.len() - 1)
        .min_by(|&a, &b| slope(a).total_cmp(&slope(b)))
        .unwrap_or(skip);
    Ok(LrFinder {
        suggestion: learning_rates[steepest],
        learning_rates,
        losses,
    })
}

impl LrFinder {
    /// Smoothed loss against log10(learning rate), with the suggestion marked.
    pub fn chart(&self) -> LineChart {
        let points = self
            .learning_rates
            .iter()
            .zip(&self.losses)
            .map(|(lr, loss)| (lr.log10(), *loss))
            .collect();
        let (low, high) = self
            .losses
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &l| {
                (a.min(l), b.max(l))
            });
        let x = self.suggestion.log10();
        LineChart::new("Learning-rate range test")
            .x_label("log10(learning rate)")
            .y_label("smoothed loss")
            .series_xy("loss", points)
            .series_xy(
                &format!("suggested {:.1e}", self.suggestion),
                vec![(x, low), (x, high)],
            )
    }
}

impl Render for LrFinder {
    fn mime_bundle(&self) -> MimeBundle {
        let mut bundle = self.chart().mime_bundle();
        let text = format!(
            "suggested learning rate {:.2e} ({} batches tried)",
            self.suggestion,
            self.learning_rates.len()
        );
        bundle = bundle.with("text/plain", text);
        bundle
    }
}
