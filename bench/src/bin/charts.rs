//! Chart render time, the Trainbook side of `bench/charts.py` (matplotlib in the same
//! script): a two-series 100-point line chart and a 10x10 annotated heatmap, to SVG.
//!
//! Usage: charts [--runs N]   (prints one JSON line; times in ms, best of N)

use anyhow::Result;
use std::time::Instant;
use trainbook::prelude::*;

fn best_ms(runs: usize, mut f: impl FnMut() -> Result<String>) -> Result<(f64, usize)> {
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        bytes = f()?.len();
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok((best, bytes))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runs = match args.iter().position(|a| a == "--runs") {
        Some(i) => args[i + 1].parse()?,
        None => 50,
    };
    let train: Vec<f64> = (0..100).map(|i| 1.0 / (1.0 + 0.1 * i as f64)).collect();
    let validation: Vec<f64> = (0..100)
        .map(|i| 1.0 / (1.0 + 0.08 * i as f64) + 0.001 * i as f64)
        .collect();
    let (line_ms, line_bytes) = best_ms(runs, || {
        LineChart::new("Loss")
            .x_label("epoch")
            .y_label("loss")
            .series("train", &train)
            .series("validation", &validation)
            .to_svg()
    })?;
    let values: Vec<Vec<f64>> = (0..10)
        .map(|i| {
            (0..10)
                .map(|j| ((i * 7 + j * 3) % 11) as f64 / 10.0)
                .collect()
        })
        .collect();
    let labels: Vec<String> = (0..10).map(|i| format!("class {i}")).collect();
    let (heatmap_ms, heatmap_bytes) = best_ms(runs, || {
        Heatmap::new("Confusion matrix", values.clone())
            .labels(&labels, &labels)
            .to_svg()
    })?;
    println!(
        "{}",
        serde_json::json!({"line_ms": line_ms, "line_bytes": line_bytes, "heatmap_ms": heatmap_ms, "heatmap_bytes": heatmap_bytes})
    );
    Ok(())
}
