//! Class imbalance: random over- and undersampling, SMOTE, and class weights for the loss.
//! Resamplers take a [`TrainFrame`]: resampling test rows would grade the model on made-up
//! or missing data.

use super::columns::{column, f64_values, take_rows};
use super::split::TrainFrame;
use crate::random::Rng;
use anyhow::{bail, Result};
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Rows of each class of `target`, classes in sorted order.
fn class_rows(frame: &DataFrame, target: &str) -> Result<BTreeMap<String, Vec<usize>>> {
    let col = column(frame, target)?.cast(&DataType::String)?;
    let mut classes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (row, label) in col.str()?.iter().enumerate() {
        let Some(label) = label else {
            bail!("target column {target:?} has no label in row {row}; drop or fill it first");
        };
        classes.entry(label.to_string()).or_default().push(row);
    }
    if classes.len() < 2 {
        bail!(
            "target column {target:?} has {} class(es); resampling needs at least 2",
            classes.len()
        );
    }
    Ok(classes)
}

/// Every class topped up to the majority class's count by drawing its rows again at random
/// (imbalanced-learn's `RandomOverSampler`). The new rows follow the original ones.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0], "y" => [0, 0, 1]).unwrap());
/// let balanced = random_oversample(&train, "y", 0).unwrap();
/// assert_eq!(balanced.height(), 4);
/// ```
pub fn random_oversample(train: &TrainFrame, target: &str, seed: u64) -> Result<TrainFrame> {
    let classes = class_rows(train, target)?;
    let majority = classes.values().map(Vec::len).max().unwrap_or(0);
    let mut rng = Rng::new(seed);
    let mut rows: Vec<usize> = (0..train.height()).collect();
    for members in classes.values() {
        for _ in members.len()..majority {
            rows.push(members[rng.below(members.len())]);
        }
    }
    Ok(TrainFrame::derived(take_rows(train, &rows)?))
}

/// Every class cut down to the minority class's count by keeping a random subset of its
/// rows (imbalanced-learn's `RandomUnderSampler`). Kept rows stay in their original order.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0], "y" => [0, 0, 1]).unwrap());
/// assert_eq!(random_undersample(&train, "y", 0).unwrap().height(), 2);
/// ```
pub fn random_undersample(train: &TrainFrame, target: &str, seed: u64) -> Result<TrainFrame> {
    let classes = class_rows(train, target)?;
    let minority = classes.values().map(Vec::len).min().unwrap_or(0);
    let mut rng = Rng::new(seed);
    let mut rows = vec![];
    for members in classes.values() {
        let mut members = members.clone();
        rng.shuffle(&mut members);
        rows.extend_from_slice(&members[..minority]);
    }
    rows.sort_unstable();
    Ok(TrainFrame::derived(take_rows(train, &rows)?))
}

/// SMOTE: each minority class gets synthetic rows, each on the segment between one of its
/// rows and one of that row's `k_neighbors` nearest same-class rows (Euclidean distance over
/// all columns but `target`, which must be numeric), until every class has the majority's
/// count. New rows follow the original ones; feature columns become Float64.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!(
///     "x" => [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0, 12.0],
///     "y" => [0, 0, 0, 0, 0, 0, 1, 1, 1]).unwrap());
/// let balanced = smote(&train, "y", 2, 7).unwrap();
/// assert_eq!(class_balance(&balanced, "y").unwrap().column("count").unwrap().u64().unwrap().get(1), Some(6));
/// ```
pub fn smote(
    train: &TrainFrame,
    target: &str,
    k_neighbors: usize,
    seed: u64,
) -> Result<TrainFrame> {
    if k_neighbors == 0 {
        bail!("SMOTE needs k_neighbors >= 1 (5 is usual)");
    }
    let classes = class_rows(train, target)?;
    let features: Vec<String> = train
        .get_column_names()
        .iter()
        .filter(|n| n.as_str() != target)
        .map(|n| n.to_string())
        .collect();
    let x: Vec<Vec<f64>> = features
        .iter()
        .map(|name| {
            f64_values(train, name)
                .map_err(|e| anyhow::anyhow!("SMOTE interpolates every column but the target: {e}"))
        })
        .collect::<Result<_>>()?;
    let point = |row: usize| -> Vec<f64> { x.iter().map(|c| c[row]).collect() };
    let majority = classes.values().map(Vec::len).max().unwrap_or(0);
    let rng = Rng::new(seed);
    let mut base_rows = vec![];
    let mut synthetic: Vec<Vec<f64>> = vec![vec![]; features.len()];
    for (class_index, (label, members)) in classes.iter().enumerate() {
        let needed = majority - members.len();
        if needed == 0 {
            continue;
        }
        if members.len() <= k_neighbors {
            bail!(
                "SMOTE: class {label:?} has {} rows, but k_neighbors = {k_neighbors} needs at least \
                 {} rows per class; lower k_neighbors or use random_oversample",
                members.len(),
                k_neighbors + 1
            );
        }
        let points: Vec<Vec<f64>> = members.iter().map(|&r| point(r)).collect();
        let neighbours: Vec<Vec<usize>> = (0..points.len())
            .into_par_iter()
            .map(|i| nearest(&points, i, k_neighbors))
            .collect();
        let mut rng = rng.fork(class_index as u64);
        for _ in 0..needed {
            let pick = rng.below(points.len() * k_neighbors);
            let (i, j) = (
                pick / k_neighbors,
                neighbours[pick / k_neighbors][pick % k_neighbors],
            );
            let step = rng.uniform();
            base_rows.push(members[i]);
            for (f, column) in synthetic.iter_mut().enumerate() {
                column.push(points[i][f] + step * (points[j][f] - points[i][f]));
            }
        }
    }
    let mut original = train.clone().into_frame();
    for name in &features {
        let cast = original.column(name)?.cast(&DataType::Float64)?;
        original.with_column(cast)?;
    }
    let mut extra = take_rows(&original, &base_rows)?;
    for (name, values) in features.iter().zip(synthetic) {
        extra.with_column(Column::new(name.as_str().into(), values))?;
    }
    Ok(TrainFrame::derived(original.vstack(&extra)?))
}

/// The indices of the k nearest other points to point i (ties by index).
fn nearest(points: &[Vec<f64>], i: usize, k: usize) -> Vec<usize> {
    let mut distances: Vec<(f64, usize)> = points
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(j, p)| {
            (
                p.iter()
                    .zip(&points[i])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum(),
                j,
            )
        })
        .collect();
    let k = k.min(distances.len());
    distances.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut nearest = distances[..k].to_vec();
    nearest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    nearest.into_iter().map(|(_, j)| j).collect()
}

/// How to weight classes in the loss.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeight {
    /// n_samples / (n_classes · count of the class), as scikit-learn's "balanced".
    Balanced,
    /// Given weights by class index; classes not listed weigh 1.
    Explicit(Vec<(usize, f64)>),
}

/// One weight per class index 0..=max label, for a weighted loss.
///
/// ```
/// use trainbook::prelude::*;
/// let weights = class_weights(&[0, 0, 0, 1], &ClassWeight::Balanced).unwrap();
/// assert_eq!(weights, [4.0 / 6.0, 2.0]);
/// ```
pub fn class_weights(labels: &[usize], how: &ClassWeight) -> Result<Vec<f64>> {
    let Some(&max) = labels.iter().max() else {
        bail!("class_weights: no labels given");
    };
    let mut counts = vec![0usize; max + 1];
    for &y in labels {
        counts[y] += 1;
    }
    match how {
        ClassWeight::Balanced => {
            if let Some(c) = counts.iter().position(|&n| n == 0) {
                bail!(
                    "class_weights: class {c} has no samples, but the labels go up to {max}; \
                     balanced weights need every class 0..={max} present (relabel the classes \
                     0..k or give explicit weights)"
                );
            }
            let k = counts.len() as f64;
            Ok(counts
                .iter()
                .map(|&n| labels.len() as f64 / (k * n as f64))
                .collect())
        }
        ClassWeight::Explicit(given) => {
            let mut weights = vec![1.0; max + 1];
            for &(class, weight) in given {
                if !(weight.is_finite() && weight >= 0.0) {
                    bail!("class_weights: class {class} has weight {weight}; weights must be finite and >= 0");
                }
                if class > max {
                    weights.resize(class + 1, 1.0);
                }
                weights[class] = weight;
            }
            Ok(weights)
        }
    }
}
