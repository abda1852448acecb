//! How fast a model trains and answers: training time and throughput from a fit, inference
//! latency percentiles at a batch size, and the device they were measured on.

use crate::data::DataLoader;
use crate::display::{html_escape, MimeBundle, Render};
use crate::nn::Network;
use crate::train::FitReport;
use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use std::time::Instant;

/// Timings of repeated predictions. Percentiles interpolate linearly between the two nearest
/// calls (numpy's default `percentile`).
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Where it ran, e.g. "CPU (2 threads)".
    pub device: String,
    pub batch_size: usize,
    /// Seconds per call, in the order measured (warm-up calls excluded).
    pub seconds: Vec<f64>,
}

/// Names a device the way a cost report needs: kind and size.
///
/// ```
/// use trainbook::prelude::*;
/// assert!(device_name(&Device::Cpu).starts_with("CPU ("));
/// ```
pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => format!("CPU ({} threads)", candle_core::utils::get_num_threads()),
        Device::Cuda(_) => "CUDA GPU".to_string(),
        Device::Metal(_) => "Metal GPU".to_string(),
    }
}

impl Latency {
    /// Times `model` predicting on the first `batch_size` rows of `input`, `runs` times after 3
    /// untimed warm-up calls (allocations, caches). On a GPU each call waits for the device
    /// to finish, so the time is the real latency, not the launch time.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Mlp::new(MlpConfig::classifier(64, &[32], 10).seed(0)).unwrap();
    /// let x = Tensor::zeros((100, 64), DType::F32, &Device::Cpu).unwrap();
    /// let latency = Latency::measure(&model, &x, 16, 20).unwrap();
    /// assert_eq!(latency.seconds.len(), 20);
    /// assert!(latency.p50() <= latency.p95() && latency.throughput() > 0.0);
    /// ```
    pub fn measure(
        model: &dyn Network,
        input: &Tensor,
        batch_size: usize,
        runs: usize,
    ) -> Result<Latency> {
        let rows = input.dim(0)?;
        if batch_size == 0 || batch_size > rows {
            bail!(
                "batch size {batch_size} needs between 1 and {rows} rows of input (the input \
                 has {rows}); pass a larger input or a smaller batch"
            );
        }
        if runs == 0 {
            bail!("runs must be at least 1");
        }
        let batch = input.narrow(0, 0, batch_size)?;
        let device = input.device().clone();
        let call = || -> Result<f64> {
            let start = Instant::now();
            let outputs = model.outputs(&batch)?;
            device.synchronize()?;
            drop(outputs);
            Ok(start.elapsed().as_secs_f64())
        };
        for _ in 0..3 {
            call()?;
        }
        let seconds = (0..runs).map(|_| call()).collect::<Result<Vec<_>>>()?;
        Ok(Latency {
            device: device_name(&device),
            batch_size,
            seconds,
        })
    }

    /// The `q`-th percentile (0..=100) of the call times, in seconds.
    ///
    /// ```
    /// let latency = trainbook::prelude::Latency { device: "CPU".into(), batch_size: 1, seconds: vec![4.0, 1.0, 3.0, 2.0] };
    /// assert_eq!(latency.percentile(50.0), 2.5); // numpy.percentile([1, 2, 3, 4], 50)
    /// assert!((latency.percentile(95.0) - 3.85).abs() < 1e-12);
    /// ```
    pub fn percentile(&self, q: f64) -> f64 {
        let mut sorted = self.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        let position = (q.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
        let (below, fraction) = (position.floor() as usize, position.fract());
        let above = (below + 1).min(sorted.len() - 1);
        sorted[below] + (sorted[above] - sorted[below]) * fraction
    }

    /// Median seconds per call.
    pub fn p50(&self) -> f64 {
        self.percentile(50.0)
    }

    /// 95th-percentile seconds per call: what one call in twenty exceeds.
    pub fn p95(&self) -> f64 {
        self.percentile(95.0)
    }

    /// Mean seconds per call.
    pub fn mean(&self) -> f64 {
        self.seconds.iter().sum::<f64>() / self.seconds.len() as f64
    }

    /// Samples per second at the median call time.
    pub fn throughput(&self) -> f64 {
        self.batch_size as f64 / self.p50()
    }
}

impl Render for Latency {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = [
            ("device", self.device.clone()),
            ("batch size", self.batch_size.to_string()),
            ("calls timed", self.seconds.len().to_string()),
            ("p50 latency", format!("{:.3} ms", self.p50() * 1e3)),
            ("p95 latency", format!("{:.3} ms", self.p95() * 1e3)),
            ("mean latency", format!("{:.3} ms", self.mean() * 1e3)),
            ("throughput", format!("{:.0} samples/s", self.throughput())),
        ];
        facts_table(&rows)
    }
}

/// How long a training run took, from its history.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingTime {
    pub device: String,
    pub epochs: usize,
    /// Wall time of all epochs, validation included.
    pub seconds: f64,
    /// Training samples per second (one epoch = every sample of the training loader once).
    pub samples_per_second: f64,
}

impl TrainingTime {
    /// Reads a finished fit: epochs run, their total time, and samples per second over the
    /// training loader.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let moons = make_moons(200, 0.2, 0).unwrap();
    /// let train = DataLoader::from_frame(&moons.frame, &moons.feature_names, "target", 32, &Device::Cpu).unwrap();
    /// let model = Mlp::new(MlpConfig::classifier(2, &[8], 2).seed(0)).unwrap();
    /// let fit = Trainer::new().epochs(2).progress(Progress::Quiet).fit(&model, &train, None).unwrap();
    /// let time = TrainingTime::of(&fit, &train, &Device::Cpu);
    /// assert_eq!(time.epochs, 2);
    /// assert!(time.seconds > 0.0 && time.samples_per_second > 0.0);
    /// ```
    pub fn of(fit: &FitReport, train: &DataLoader, device: &Device) -> TrainingTime {
        let epochs = fit.history.epochs.len();
        let seconds = fit.history.seconds();
        TrainingTime {
            device: device_name(device),
            epochs,
            seconds,
            samples_per_second: (train.len() * epochs) as f64 / seconds.max(f64::MIN_POSITIVE),
        }
    }

    /// Seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        self.seconds / self.epochs.max(1) as f64
    }
}

/// A two-column table of (name, value) rows as text and HTML.
fn facts_table(rows: &[(&str, String)]) -> MimeBundle {
    let text = rows
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let html = format!(
        "<table>{}</table>",
        rows.iter()
            .map(|(k, v)| format!(
                "<tr><th style=\"text-align:left\">{}</th><td>{}</td></tr>",
                html_escape(k),
                html_escape(v)
            ))
            .collect::<String>()
    );
    MimeBundle::text(text).with("text/html", html)
}

impl Render for TrainingTime {
    fn mime_bundle(&self) -> MimeBundle {
        facts_table(&[
            ("device", self.device.clone()),
            ("epochs", self.epochs.to_string()),
            ("training time", format!("{:.2} s", self.seconds)),
            ("per epoch", format!("{:.3} s", self.seconds_per_epoch())),
            (
                "throughput",
                format!("{:.0} samples/s", self.samples_per_second),
            ),
        ])
    }
}
