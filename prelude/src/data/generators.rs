//! Synthetic datasets with known structure, reproducible by seed: scikit-learn's classic
//! generators (same algorithms, our seeded RNG, so the same shapes but not the same numbers),
//! a labelled text set and a user–item ratings set.

use super::datasets::{Dataset, TargetKind};
use crate::random::Rng;
use anyhow::{bail, Result};
use polars::prelude::*;

fn frame_from(features: Vec<Vec<f64>>, target: Column) -> Result<DataFrame> {
    let mut columns: Vec<Column> = features
        .into_iter()
        .enumerate()
        .map(|(j, values)| Column::new(format!("x{j}").into(), values))
        .collect();
    columns.push(target);
    Ok(DataFrame::new_infer_height(columns)?)
}

fn dataset(
    name: &'static str,
    frame: DataFrame,
    classes: usize,
    description: &'static str,
) -> Dataset {
    let feature_names = frame
        .get_column_names()
        .iter()
        .filter(|n| n.as_str() != "target")
        .map(|n| n.to_string())
        .collect();
    Dataset {
        name,
        frame,
        feature_names,
        target_names: (0..classes).map(|c| c.to_string()).collect(),
        task: if classes > 0 {
            TargetKind::Classification
        } else {
            TargetKind::Regression
        },
        description,
    }
}

/// Shuffles the rows of column-major features and labels together.
fn shuffle_rows<T: Clone>(features: &mut [Vec<f64>], labels: &mut Vec<T>, rng: &mut Rng) {
    let order = rng.permutation(labels.len());
    for column in features.iter_mut() {
        *column = order.iter().map(|&i| column[i]).collect();
    }
    *labels = order.iter().map(|&i| labels[i].clone()).collect();
}

/// Isotropic Gaussian blobs: `centers` clusters in `n_features` dimensions, centres uniform in
/// [-10, 10], standard deviation `cluster_std`; `target` is the cluster.
///
/// ```
/// let blobs = trainbook::prelude::make_blobs(300, 3, 2, 1.0, 0).unwrap();
/// assert_eq!(blobs.frame.shape(), (300, 3));
/// ```
pub fn make_blobs(
    n_samples: usize,
    centers: usize,
    n_features: usize,
    cluster_std: f64,
    seed: u64,
) -> Result<Dataset> {
    if centers == 0 || n_features == 0 || n_samples < centers {
        bail!("make_blobs: need centers >= 1, n_features >= 1 and n_samples >= centers (got {n_samples} samples, {centers} centers, {n_features} features)");
    }
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f64>> = (0..centers)
        .map(|_| {
            (0..n_features)
                .map(|_| rng.uniform_range(-10.0, 10.0))
                .collect()
        })
        .collect();
    let mut features = vec![Vec::with_capacity(n_samples); n_features];
    let mut labels = Vec::with_capacity(n_samples);
    for (c, centre) in centres.iter().enumerate() {
        let count = n_samples / centers + usize::from(c < n_samples % centers);
        for _ in 0..count {
            for (j, column) in features.iter_mut().enumerate() {
                column.push(centre[j] + cluster_std * rng.normal());
            }
            labels.push(c as i64);
        }
    }
    shuffle_rows(&mut features, &mut labels, &mut rng);
    let frame = frame_from(features, Column::new("target".into(), labels))?;
    Ok(dataset(
        "blobs",
        frame,
        centers,
        "Gaussian blobs (generated): each class is one isotropic cluster.",
    ))
}

/// Two interleaving half circles in 2-D with Gaussian `noise`; `target` is the moon.
///
/// ```
/// let moons = trainbook::prelude::make_moons(200, 0.1, 0).unwrap();
/// assert_eq!(moons.frame.shape(), (200, 3));
/// ```
pub fn make_moons(n_samples: usize, noise: f64, seed: u64) -> Result<Dataset> {
    if n_samples < 2 {
        bail!("make_moons: need at least 2 samples, got {n_samples}");
    }
    let mut rng = Rng::new(seed);
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let angle = |i: usize, n: usize| {
        if n > 1 {
            std::f64::consts::PI * i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    let mut features = vec![Vec::with_capacity(n_samples), Vec::with_capacity(n_samples)];
    let mut labels = Vec::with_capacity(n_samples);
    for i in 0..n_out {
        features[0].push(angle(i, n_out).cos());
        features[1].push(angle(i, n_out).sin());
        labels.push(0i64);
    }
    for i in 0..n_in {
        features[0].push(1.0 - angle(i, n_in).cos());
        features[1].push(1.0 - angle(i, n_in).sin() - 0.5);
        labels.push(1i64);
    }
    for column in features.iter_mut() {
        for v in column.iter_mut() {
            *v += noise * rng.normal();
        }
    }
    shuffle_rows(&mut features, &mut labels, &mut rng);
    let frame = frame_from(features, Column::new("target".into(), labels))?;
    Ok(dataset(
        "moons",
        frame,
        2,
        "Two interleaving half circles (generated), a classic non-linear problem.",
    ))
}

/// Options of [`make_classification`], with scikit-learn's defaults.
///
/// ```
/// use trainbook::prelude::*;
/// let data = MakeClassification { n_samples: 500, weights: Some(vec![0.9, 0.1]), ..Default::default() }
///     .generate().unwrap();
/// let balance = class_balance(&data.frame, "target").unwrap();
/// assert!(balance.column("count").unwrap().u64().unwrap().get(0).unwrap() > 400);
/// ```
#[derive(Clone, Debug)]
pub struct MakeClassification {
    pub n_samples: usize,
    pub n_features: usize,
    pub n_informative: usize,
    pub n_redundant: usize,
    pub n_classes: usize,
    pub n_clusters_per_class: usize,
    /// Half the side of the hypercube whose vertices hold the cluster centres.
    pub class_sep: f64,
    /// The share of labels replaced at random (label noise).
    pub flip_y: f64,
    /// Class proportions (for imbalanced data); equal when `None`.
    pub weights: Option<Vec<f64>>,
    pub seed: u64,
}

impl Default for MakeClassification {
    fn default() -> Self {
        MakeClassification {
            n_samples: 100,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_classes: 2,
            n_clusters_per_class: 2,
            class_sep: 1.0,
            flip_y: 0.01,
            weights: None,
            seed: 0,
        }
    }
}

impl MakeClassification {
    /// Generates the data (scikit-learn's algorithm: Gaussian clusters at hypercube vertices,
    /// each with a random covariance, redundant features as random linear combinations of the
    /// informative ones, the rest noise).
    pub fn generate(&self) -> Result<Dataset> {
        let p = self;
        if p.n_informative == 0 || p.n_informative + p.n_redundant > p.n_features {
            bail!("make_classification: need 1 <= n_informative and n_informative + n_redundant <= n_features (got {}, {}, {})", p.n_informative, p.n_redundant, p.n_features);
        }
        let clusters = p.n_classes * p.n_clusters_per_class;
        if p.n_classes < 2
            || p.n_clusters_per_class == 0
            || clusters > (1usize << p.n_informative.min(30))
        {
            bail!("make_classification: n_classes ({}) × n_clusters_per_class ({}) must be at most 2^n_informative = {}", p.n_classes, p.n_clusters_per_class, 1usize << p.n_informative.min(30));
        }
        let weights = match &p.weights {
            Some(w) if w.len() != p.n_classes || w.iter().any(|&x| x.is_nan() || x < 0.0) => {
                bail!("make_classification: weights must give {} non-negative class proportions, got {w:?}", p.n_classes)
            }
            Some(w) => w.clone(),
            None => vec![1.0 / p.n_classes as f64; p.n_classes],
        };
        let total: f64 = weights.iter().sum();
        let mut rng = Rng::new(p.seed);
        // Samples per cluster: the class's share split evenly over its clusters.
        let mut per_cluster: Vec<usize> = (0..clusters)
            .map(|k| {
                let w = weights[k % p.n_classes] / total / p.n_clusters_per_class as f64;
                (p.n_samples as f64 * w) as usize
            })
            .collect();
        let mut i = 0;
        while per_cluster.iter().sum::<usize>() < p.n_samples {
            per_cluster[i % clusters] += 1;
            i += 1;
        }
        // Distinct hypercube vertices for the cluster centres.
        let mut vertices: Vec<usize> = (0..(1usize << p.n_informative.min(20))).collect();
        rng.shuffle(&mut vertices);
        let d = p.n_informative;
        let mut features = vec![Vec::with_capacity(p.n_samples); p.n_features];
        let mut labels: Vec<i64> = Vec::with_capacity(p.n_samples);
        for (k, &count) in per_cluster.iter().enumerate() {
            let centre: Vec<f64> = (0..d)
                .map(|j| {
                    if vertices[k] >> j & 1 == 1 {
                        p.class_sep
                    } else {
                        -p.class_sep
                    }
                })
                .collect();
            let a: Vec<Vec<f64>> = (0..d)
                .map(|_| (0..d).map(|_| 2.0 * rng.uniform() - 1.0).collect())
                .collect();
            for _ in 0..count {
                let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                for j in 0..d {
                    let v: f64 = (0..d).map(|i| z[i] * a[i][j]).sum();
                    features[j].push(v + centre[j]);
                }
                labels.push((k % p.n_classes) as i64);
            }
        }
        let b: Vec<Vec<f64>> = (0..d)
            .map(|_| {
                (0..p.n_redundant)
                    .map(|_| 2.0 * rng.uniform() - 1.0)
                    .collect()
            })
            .collect();
        for r in 0..p.n_redundant {
            features[d + r] = (0..p.n_samples)
                .map(|row| (0..d).map(|i| features[i][row] * b[i][r]).sum())
                .collect();
        }
        for column in features.iter_mut().skip(d + p.n_redundant) {
            *column = (0..p.n_samples).map(|_| rng.normal()).collect();
        }
        for label in labels.iter_mut() {
            if rng.uniform() < p.flip_y {
                *label = rng.below(p.n_classes) as i64;
            }
        }
        shuffle_rows(&mut features, &mut labels, &mut rng);
        let frame = frame_from(features, Column::new("target".into(), labels))?;
        let mut data = dataset(
            "classification",
            frame,
            p.n_classes,
            "make_classification (generated): Gaussian clusters at hypercube vertices; features x0.. are informative, then redundant, then noise.",
        );
        data.target_names = (0..p.n_classes).map(|c| c.to_string()).collect();
        Ok(data)
    }
}

/// [`MakeClassification`] with the common knobs; the rest at scikit-learn's defaults.
///
/// ```
/// let data = trainbook::prelude::make_classification(200, 5, 3, 2, 0).unwrap();
/// assert_eq!(data.frame.shape(), (200, 6));
/// ```
pub fn make_classification(
    n_samples: usize,
    n_features: usize,
    n_informative: usize,
    n_classes: usize,
    seed: u64,
) -> Result<Dataset> {
    MakeClassification {
        n_samples,
        n_features,
        n_informative,
        n_redundant: 0,
        n_classes,
        n_clusters_per_class: 1,
        seed,
        ..Default::default()
    }
    .generate()
}

/// A linear regression problem: standard normal features, the first `n_informative` with
/// coefficients uniform in [0, 100), plus Gaussian `noise`.
///
/// ```
/// let data = trainbook::prelude::make_regression(100, 5, 3, 0.5, 0).unwrap();
/// assert_eq!(data.frame.shape(), (100, 6));
/// ```
pub fn make_regression(
    n_samples: usize,
    n_features: usize,
    n_informative: usize,
    noise: f64,
    seed: u64,
) -> Result<Dataset> {
    if n_features == 0 || n_informative > n_features {
        bail!("make_regression: need n_features >= 1 and n_informative <= n_features (got {n_features}, {n_informative})");
    }
    let mut rng = Rng::new(seed);
    let features: Vec<Vec<f64>> = (0..n_features)
        .map(|_| (0..n_samples).map(|_| rng.normal()).collect())
        .collect();
    let coef: Vec<f64> = (0..n_informative).map(|_| 100.0 * rng.uniform()).collect();
    let target: Vec<f64> = (0..n_samples)
        .map(|row| {
            (0..n_informative)
                .map(|j| features[j][row] * coef[j])
                .sum::<f64>()
                + noise * rng.normal()
        })
        .collect();
    let frame = frame_from(features, Column::new("target".into(), target))?;
    Ok(dataset("regression", frame, 0, "make_regression (generated): a linear target of the first n_informative features plus Gaussian noise."))
}

const POSITIVE: &[&str] = &[
    "great",
    "excellent",
    "wonderful",
    "reliable",
    "fantastic",
    "comfortable",
    "sturdy",
    "delightful",
    "superb",
    "useful",
];
const NEGATIVE: &[&str] = &[
    "terrible",
    "awful",
    "flimsy",
    "disappointing",
    "broken",
    "useless",
    "noisy",
    "cheap",
    "horrible",
    "faulty",
];
const THINGS: &[&str] = &[
    "phone", "chair", "kettle", "laptop", "backpack", "lamp", "headset", "blender", "jacket",
    "camera", "printer", "watch",
];
const OPENERS: &[&str] = &["this", "the", "my new", "our", "the second"];
const FILLERS: &[&str] = &[
    "",
    " overall",
    " to be honest",
    " after a month",
    " for the price",
    " in daily use",
];
const INTENSIFIERS: &[&str] = &["", "really ", "very ", "quite ", "absolutely "];

/// Short product reviews labelled positive (1) or negative (0), generated: one sentiment word
/// from a fixed list, optionally negated ("is not great" is negative), in varied templates,
/// with 3% of labels flipped as annotation noise. Columns `text` and `target`; `n` rows.
///
/// ```
/// let reviews = trainbook::prelude::make_reviews(500, 0).unwrap();
/// assert_eq!(reviews.frame.get_column_names(), ["text", "target"]);
/// ```
pub fn make_reviews(n: usize, seed: u64) -> Result<Dataset> {
    if n == 0 {
        bail!("make_reviews: n must be at least 1");
    }
    let mut rng = Rng::new(seed);
    let pick = |list: &[&'static str], rng: &mut Rng| list[rng.below(list.len())];
    let (mut texts, mut labels) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let positive_word = rng.below(2) == 1;
        let negated = rng.uniform() < 0.25;
        let word = pick(if positive_word { POSITIVE } else { NEGATIVE }, &mut rng);
        let thing = pick(THINGS, &mut rng);
        let opener = pick(OPENERS, &mut rng);
        let filler = pick(FILLERS, &mut rng);
        let intensifier = pick(INTENSIFIERS, &mut rng);
        let verb = if negated { "is not" } else { "is" };
        let text = match rng.below(3) {
            0 => format!("{opener} {thing} {verb} {intensifier}{word}{filler}"),
            1 => format!(
                "{}{filler}, {opener} {thing} {verb} {word}",
                if negated { "honestly" } else { "well" }
            ),
            _ => format!(
                "{opener} {thing}: {}{intensifier}{word}{filler}",
                if negated { "not " } else { "" }
            ),
        };
        let mut label = i64::from(positive_word != negated);
        if rng.uniform() < 0.03 {
            label = 1 - label;
        }
        texts.push(text);
        labels.push(label);
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("text".into(), texts),
        Column::new("target".into(), labels),
    ])?;
    let mut data = dataset(
        "reviews",
        frame,
        2,
        "Product reviews (generated): the label is the sentiment word's polarity, reversed by a negation; 3% label noise.",
    );
    data.target_names = vec!["negative".into(), "positive".into()];
    Ok(data)
}

/// A user–item ratings set, generated with known structure: 4 latent taste factors per user
/// and item, user and item biases, Gaussian noise, rounded to 1..5 stars; each user rates
/// `per_user` random distinct items. Columns `user`, `item`, `target` (the rating).
///
/// ```
/// let ratings = trainbook::prelude::make_ratings(100, 50, 20, 0).unwrap();
/// assert_eq!(ratings.frame.shape(), (2000, 3));
/// ```
pub fn make_ratings(n_users: usize, n_items: usize, per_user: usize, seed: u64) -> Result<Dataset> {
    if per_user == 0 || per_user > n_items {
        bail!("make_ratings: per_user must be between 1 and n_items ({n_items}), got {per_user}");
    }
    const FACTORS: usize = 4;
    let mut rng = Rng::new(seed);
    let vectors = |n: usize, rng: &mut Rng| -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| (0..FACTORS).map(|_| rng.normal() * 0.7).collect())
            .collect()
    };
    let users = vectors(n_users, &mut rng);
    let items = vectors(n_items, &mut rng);
    let user_bias: Vec<f64> = (0..n_users).map(|_| 0.3 * rng.normal()).collect();
    let item_bias: Vec<f64> = (0..n_items).map(|_| 0.5 * rng.normal()).collect();
    let (mut user_ids, mut item_ids, mut ratings) = (vec![], vec![], vec![]);
    for u in 0..n_users {
        let mut chosen = rng.permutation(n_items);
        chosen.truncate(per_user);
        chosen.sort_unstable();
        for i in chosen {
            let affinity: f64 = (0..FACTORS).map(|f| users[u][f] * items[i][f]).sum();
            let r = 3.2 + affinity + user_bias[u] + item_bias[i] + 0.3 * rng.normal();
            user_ids.push(u as i64);
            item_ids.push(i as i64);
            ratings.push(r.round().clamp(1.0, 5.0));
        }
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("user".into(), user_ids),
        Column::new("item".into(), item_ids),
        Column::new("target".into(), ratings),
    ])?;
    Ok(dataset(
        "ratings",
        frame,
        0,
        "User-item ratings (generated): 4 latent factors, biases and noise, 1-5 stars.",
    ))
}
