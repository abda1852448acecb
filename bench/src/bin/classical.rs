//! Classical models, the Trainbook side: timings (best of N) and accuracy on the same data
//! scikit-learn gets in `bench/classical.py`, which runs this binary and prints both.
//!
//! Usage: classical <moons.csv> [--runs N]   (prints one JSON line)

use anyhow::{Context, Result};
use std::time::Instant;
use trainbook::prelude::*;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f()?;
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(out);
    }
    Ok((best, last.context("runs >= 1")?))
}

fn truth(dataset: &Dataset) -> Result<Vec<i64>> {
    Ok(dataset.y_classes()?.iter().map(|&c| c as i64).collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let moons_path = args
        .get(1)
        .context("usage: classical <moons.csv> [--runs N]")?;
    let runs = match args.iter().position(|a| a == "--runs") {
        Some(i) => args[i + 1].parse()?,
        None => 10,
    };
    let digits = load_digits();
    let x = Matrix::features(&digits)?;
    let y = truth(&digits)?;
    let y_classes = digits.y_classes()?;
    let (kmeans_s, labels) = best_of(runs, || KMeans::new(10).n_init(10).seed(0).fit_predict(&x))?;
    let kmeans_ari = adjusted_rand_score(&y, &labels)?;
    let kmeans_ari_seeds: Vec<f64> = (0..10)
        .map(|seed| {
            adjusted_rand_score(&y, &KMeans::new(10).n_init(10).seed(seed).fit_predict(&x)?)
        })
        .collect::<Result<_>>()?;

    let (forest_s, forest_scores) = best_of(runs.min(3), || {
        cross_val_score(
            &RandomForestClassifier::new(100),
            &x,
            &y_classes,
            5,
            "accuracy",
        )
    })?;
    let forest_acc = forest_scores.iter().sum::<f64>() / 5.0;

    let moons = read_csv(moons_path)?;
    let mx = Matrix::from_frame(&moons, &["x0", "x1"])?;
    let my: Vec<i64> = moons.column("target")?.i64()?.into_no_null_iter().collect();
    let (dbscan_s, dlabels) = best_of(runs, || Dbscan::new(0.2, 5).fit_predict(&mx))?;
    let dbscan_ari = adjusted_rand_score(&my, &dlabels)?;
    let cancer = load_breast_cancer();
    let (xc, yc) = (Matrix::features(&cancer)?, cancer.y_classes()?);
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (logistic_s, logistic_acc) = best_of(runs, || {
        Ok(mean(cross_val_score(
            &Standardized::new(LogisticRegression::new()),
            &xc,
            &yc,
            5,
            "accuracy",
        )?))
    })?;
    let (logistic_raw_s, logistic_raw_acc) = best_of(runs.min(3), || {
        Ok(mean(cross_val_score(
            &LogisticRegression::new(),
            &xc,
            &yc,
            5,
            "accuracy",
        )?))
    })?;
    let (svc_cancer_s, svc_cancer_acc) = best_of(runs, || {
        Ok(mean(cross_val_score(
            &Standardized::new(Svc::rbf()),
            &xc,
            &yc,
            5,
            "accuracy",
        )?))
    })?;
    let (svc_digits_s, svc_digits_acc) = best_of(runs.min(3), || {
        Ok(mean(cross_val_score(
            &Svc::rbf(),
            &x,
            &y_classes,
            5,
            "accuracy",
        )?))
    })?;
    let (ward_s, ward_labels) = best_of(runs.min(3), || {
        AgglomerativeClustering::new(10).fit_predict(&x)
    })?;
    let ward_ari = adjusted_rand_score(&y, &ward_labels)?;
    let diabetes = load_diabetes();
    let (xd, yd) = (Matrix::features(&diabetes)?, diabetes.y_values()?);
    let (forest_reg_s, forest_reg_r2) = best_of(runs.min(3), || {
        Ok(mean(cross_val_score(
            &RandomForestRegressor::new(100),
            &xd,
            &yd,
            5,
            "r2",
        )?))
    })?;
    println!(
        "{}",
        serde_json::json!({
            "logistic_s": logistic_s, "logistic_accuracy": logistic_acc,
            "logistic_raw_s": logistic_raw_s, "logistic_raw_accuracy": logistic_raw_acc,
            "svc_cancer_s": svc_cancer_s, "svc_cancer_accuracy": svc_cancer_acc,
            "svc_digits_s": svc_digits_s, "svc_digits_accuracy": svc_digits_acc,
            "ward_s": ward_s, "ward_ari": ward_ari,
            "forest_regressor_s": forest_reg_s, "forest_regressor_r2": forest_reg_r2,
            "kmeans_s": kmeans_s, "kmeans_ari": kmeans_ari,
            "kmeans_ari_mean_10_seeds": kmeans_ari_seeds.iter().sum::<f64>() / 10.0,
            "dbscan_s": dbscan_s, "dbscan_ari": dbscan_ari,
            "forest_s": forest_s, "forest_accuracy": forest_acc,
        })
    );
    Ok(())
}
