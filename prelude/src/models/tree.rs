//! CART decision trees (Gini impurity for classes, squared error for values) and random
//! forests of them.

use super::matrix::Matrix;
use super::{argmax, check_xy, check_xy_values, Classifier, Regressor};
use crate::random::Rng;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// How many features a split considers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFeatures {
    All,
    /// The square root of the feature count (random forests' default for classification).
    Sqrt,
    Count(usize),
}

impl MaxFeatures {
    fn resolve(self, d: usize) -> usize {
        match self {
            MaxFeatures::All => d,
            MaxFeatures::Sqrt => ((d as f64).sqrt() as usize).max(1),
            MaxFeatures::Count(n) => n.clamp(1, d.max(1)),
        }
    }
}

#[derive(Clone, Debug)]
enum Node {
    Leaf {
        proba: Vec<f64>,
    },
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// A grown tree and the settings that grew it; the classifier and the regressor wrap it.
#[derive(Clone, Debug)]
struct Tree {
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    seed: u64,
    /// Values per leaf: the class count, or 1 for a regression tree.
    n_classes: usize,
    n_features: usize,
    nodes: Vec<Node>,
}

impl Tree {
    /// A fully grown tree over all features (scikit-learn's defaults).
    fn new() -> Tree {
        Tree {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            seed: 0,
            n_classes: 0,
            n_features: 0,
            nodes: vec![],
        }
    }

    fn unfitted(&self) -> Tree {
        Tree {
            nodes: vec![],
            ..self.clone()
        }
    }

    /// Grows the tree on the given rows (with repeats, for bootstrap samples).
    fn grow(&mut self, x: &Matrix, target: Target, rows: Vec<u32>) {
        self.n_classes = match target {
            Target::Classes(_, c) => c,
            Target::Values(_) => 1,
        };
        self.n_features = x.cols();
        self.nodes.clear();
        let mut rng = Rng::new(self.seed);
        let k = self.max_features.resolve(x.cols());
        self.build(x, target, rows, 0, k, &mut rng);
    }

    fn build(
        &mut self,
        x: &Matrix,
        target: Target,
        rows: Vec<u32>,
        depth: usize,
        k: usize,
        rng: &mut Rng,
    ) -> usize {
        let n = rows.len();
        let node = NodeStats::of(target, &rows);
        if node.is_pure()
            || n < self.min_samples_split
            || n < 2 * self.min_samples_leaf
            || self.max_depth.is_some_and(|m| depth >= m)
        {
            self.nodes.push(node.leaf(n));
            return self.nodes.len() - 1;
        }
        // Features in random order; like scikit-learn, keep drawing past `k` until one gives a
        // valid split (constant features do not count).
        let mut features: Vec<usize> = (0..x.cols()).collect();
        rng.shuffle(&mut features);
        let mut best: Option<(f64, usize, f64)> = None; // (impurity, feature, threshold)
        let mut scratch = SplitScratch::default();
        let mut tried = 0;
        for &f in &features {
            if tried >= k && best.is_some() {
                break;
            }
            let found = match (target, &node) {
                (Target::Classes(y, _), NodeStats::Classes(counts)) => {
                    let pairs = &mut scratch.classes;
                    pairs.clear();
                    pairs.extend(rows.iter().map(|&r| (x.row(r as usize)[f], y[r as usize])));
                    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                    if pairs[0].0 == pairs[n - 1].0 {
                        continue; // constant here
                    }
                    best_gini_split(pairs, counts, self.min_samples_leaf)
                }
                (Target::Values(y), NodeStats::Values { sum, .. }) => {
                    let pairs = &mut scratch.values;
                    pairs.clear();
                    pairs.extend(rows.iter().map(|&r| (x.row(r as usize)[f], y[r as usize])));
                    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                    if pairs[0].0 == pairs[n - 1].0 {
                        continue;
                    }
                    best_squared_error_split(pairs, *sum, self.min_samples_leaf)
                }
                _ => unreachable!("node statistics follow the target"),
            };
            tried += 1;
            if let Some((impurity, threshold)) = found {
                if best.is_none_or(|b| impurity < b.0) {
                    best = Some((impurity, f, threshold));
                }
            }
        }
        let Some((impurity, feature, threshold)) = best else {
            self.nodes.push(node.leaf(n));
            return self.nodes.len() - 1;
        };
        if impurity >= node.impurity(n) {
            self.nodes.push(node.leaf(n));
            return self.nodes.len() - 1;
        }
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows
            .iter()
            .partition(|&&r| x.row(r as usize)[feature] <= threshold);
        drop(rows);
        let index = self.nodes.len();
        self.nodes.push(Node::Leaf { proba: vec![] }); // placeholder, replaced below
        let left = self.build(x, target, left_rows, depth + 1, k, rng);
        let right = self.build(x, target, right_rows, depth + 1, k, rng);
        self.nodes[index] = Node::Split {
            feature,
            threshold,
            left,
            right,
        };
        index
    }

    fn leaf_proba(&self, row: &[f64]) -> &[f64] {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { proba } => return proba,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    };
                }
            }
        }
    }

    fn check_fitted(&self, x: &Matrix) -> Result<()> {
        if self.nodes.is_empty() {
            bail!("the tree is not fitted yet; call fit(&x, &y) first");
        }
        if x.cols() != self.n_features {
            bail!(
                "the tree was fitted on {} features, this data has {}",
                self.n_features,
                x.cols()
            );
        }
        Ok(())
    }
}

/// What a tree learns: class indices (with the class count) or real values.
#[derive(Clone, Copy)]
enum Target<'a> {
    Classes(&'a [usize], usize),
    Values(&'a [f64]),
}

/// A node's label statistics.
enum NodeStats {
    Classes(Vec<usize>),
    Values { sum: f64, min: f64, max: f64 },
}

impl NodeStats {
    fn of(target: Target, rows: &[u32]) -> NodeStats {
        match target {
            Target::Classes(y, c) => {
                let mut counts = vec![0usize; c];
                for &r in rows {
                    counts[y[r as usize]] += 1;
                }
                NodeStats::Classes(counts)
            }
            Target::Values(y) => {
                let mut sum = 0.0;
                let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
                for &r in rows {
                    let v = y[r as usize];
                    sum += v;
                    min = min.min(v);
                    max = max.max(v);
                }
                NodeStats::Values { sum, min, max }
            }
        }
    }

    fn is_pure(&self) -> bool {
        match self {
            NodeStats::Classes(counts) => counts.iter().filter(|&&v| v > 0).count() <= 1,
            NodeStats::Values { min, max, .. } => min == max,
        }
    }

    /// The node's impurity on the scale the split search compares.
    fn impurity(&self, n: usize) -> f64 {
        match self {
            NodeStats::Classes(counts) => gini_sum(counts, n),
            NodeStats::Values { sum, .. } => -(sum * sum) / n as f64,
        }
    }

    /// Class frequencies, or the mean value.
    fn leaf(&self, n: usize) -> Node {
        let proba = match self {
            NodeStats::Classes(counts) => counts.iter().map(|&v| v as f64 / n as f64).collect(),
            NodeStats::Values { sum, .. } => vec![sum / n as f64],
        };
        Node::Leaf { proba }
    }
}

/// Reused sort buffers, one per target kind.
#[derive(Default)]
struct SplitScratch {
    classes: Vec<(f64, usize)>,
    values: Vec<(f64, f64)>,
}

/// Threshold halfway between neighbouring values (or the lower one when no midpoint is
/// representable), as scikit-learn.
fn midpoint(low: f64, high: f64) -> f64 {
    let threshold = low / 2.0 + high / 2.0;
    if threshold == high {
        low
    } else {
        threshold
    }
}

/// The best split of sorted (value, class) pairs by weighted Gini impurity.
fn best_gini_split(
    pairs: &[(f64, usize)],
    counts: &[usize],
    min_leaf: usize,
) -> Option<(f64, f64)> {
    let n = pairs.len();
    let mut left = vec![0usize; counts.len()];
    let mut right = vec![0usize; counts.len()];
    let mut best: Option<(f64, f64)> = None;
    for i in 0..n - 1 {
        left[pairs[i].1] += 1;
        if pairs[i].0 == pairs[i + 1].0 {
            continue;
        }
        let (nl, nr) = (i + 1, n - i - 1);
        if nl < min_leaf || nr < min_leaf {
            continue;
        }
        for ((r, t), l) in right.iter_mut().zip(counts).zip(&left) {
            *r = t - l;
        }
        let impurity = gini_sum(&left, nl) + gini_sum(&right, nr);
        if best.is_none_or(|b| impurity < b.0) {
            best = Some((impurity, midpoint(pairs[i].0, pairs[i + 1].0)));
        }
    }
    best
}

/// The best split of sorted (value, target) pairs by squared error. Minimising the children's
/// summed squared error is maximising sum_l²/n_l + sum_r²/n_r (scikit-learn's proxy), which
/// is stable where differences of large sums of squares are not.
fn best_squared_error_split(
    pairs: &[(f64, f64)],
    total: f64,
    min_leaf: usize,
) -> Option<(f64, f64)> {
    let n = pairs.len();
    let mut left_sum = 0.0;
    let mut best: Option<(f64, f64)> = None;
    for i in 0..n - 1 {
        left_sum += pairs[i].1;
        if pairs[i].0 == pairs[i + 1].0 {
            continue;
        }
        let (nl, nr) = (i + 1, n - i - 1);
        if nl < min_leaf || nr < min_leaf {
            continue;
        }
        let right_sum = total - left_sum;
        let impurity = -(left_sum * left_sum / nl as f64 + right_sum * right_sum / nr as f64);
        if best.is_none_or(|b| impurity < b.0) {
            best = Some((impurity, midpoint(pairs[i].0, pairs[i + 1].0)));
        }
    }
    best
}

/// n times the Gini impurity of a node with these class counts.
fn gini_sum(counts: &[usize], n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let sum_sq: f64 = counts.iter().map(|&c| (c * c) as f64).sum();
    n as f64 - sum_sq / n as f64
}

/// The builder methods both kinds of tree share.
macro_rules! tree_settings {
    ($model:ident, $targets:literal) => {
        impl Default for $model {
            fn default() -> Self {
                $model::new()
            }
        }

        impl $model {
            /// A fully grown tree over all features (scikit-learn's defaults).
            pub fn new() -> $model {
                $model { tree: Tree::new() }
            }

            /// Stop splitting at this depth.
            #[doc = concat!("```\nlet tree = trainbook::prelude::", stringify!($model), "::new().max_depth(3);\n```")]
            pub fn max_depth(mut self, depth: usize) -> Self {
                self.tree.max_depth = Some(depth);
                self
            }

            /// Each leaf keeps at least this many samples (smooths a regression tree).
            #[doc = concat!("```\nlet tree = trainbook::prelude::", stringify!($model), "::new().min_samples_leaf(5);\n```")]
            pub fn min_samples_leaf(mut self, samples: usize) -> Self {
                self.tree.min_samples_leaf = samples.max(1);
                self
            }

            /// How many features each split considers (drawn at random).
            #[doc = concat!("```\nuse trainbook::prelude::*;\nlet tree = ", stringify!($model), "::new().max_features(MaxFeatures::Sqrt);\n```")]
            pub fn max_features(mut self, max_features: MaxFeatures) -> Self {
                self.tree.max_features = max_features;
                self
            }

            /// The seed that orders the features at each split (ties between equally good
            /// splits go to the first tried).
            #[doc = concat!("```\nlet tree = trainbook::prelude::", stringify!($model), "::new().seed(7);\n```")]
            pub fn seed(mut self, seed: u64) -> Self {
                self.tree.seed = seed;
                self
            }

            /// The number of nodes (leaves included) after `fit`.
            #[doc = concat!("```\nuse trainbook::prelude::*;\nlet x = Matrix::from_rows(&[vec![0.0], vec![1.0]]).unwrap();\nlet mut tree = ", stringify!($model), "::new();\ntree.fit(&x, &", $targets, ").unwrap();\nassert_eq!(tree.node_count(), 3);\n```")]
            pub fn node_count(&self) -> usize {
                self.tree.nodes.len()
            }
        }
    };
}

/// A classification tree grown greedily on Gini impurity, as scikit-learn's
/// `DecisionTreeClassifier` (thresholds halfway between neighbouring values).
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let x = Matrix::features(&iris).unwrap();
/// let y = iris.y_classes().unwrap();
/// let mut tree = DecisionTreeClassifier::new().max_depth(3);
/// tree.fit(&x, &y).unwrap();
/// assert!(tree.score(&x, &y).unwrap() > 0.97);
/// ```
#[derive(Clone, Debug)]
pub struct DecisionTreeClassifier {
    tree: Tree,
}

tree_settings!(DecisionTreeClassifier, "[0, 1]");

impl Classifier for DecisionTreeClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let classes = check_xy(x, y, "DecisionTreeClassifier")?;
        self.tree.grow(
            x,
            Target::Classes(y, classes),
            (0..y.len() as u32).collect(),
        );
        Ok(())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.tree.check_fitted(x)?;
        let mut data = Vec::with_capacity(x.rows() * self.tree.n_classes);
        for i in 0..x.rows() {
            data.extend_from_slice(self.tree.leaf_proba(x.row(i)));
        }
        Matrix::new(x.rows(), self.tree.n_classes, data)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.tree.check_fitted(x)?;
        Ok((0..x.rows())
            .map(|i| argmax(self.tree.leaf_proba(x.row(i))))
            .collect())
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(DecisionTreeClassifier {
            tree: self.tree.unfitted(),
        })
    }

    fn name(&self) -> String {
        // scikit-learn's spelling: max_depth=None for a fully grown tree.
        match self.tree.max_depth {
            Some(depth) => format!("DecisionTreeClassifier(max_depth={depth})"),
            None => "DecisionTreeClassifier(max_depth=None)".to_string(),
        }
    }
}

/// A regression tree grown greedily on squared error, as scikit-learn's
/// `DecisionTreeRegressor`; a leaf predicts its samples' mean.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let mut tree = DecisionTreeRegressor::new().max_depth(3);
/// tree.fit(&x, &y).unwrap();
/// assert!(tree.score(&x, &y).unwrap() > 0.5);
/// ```
#[derive(Clone, Debug)]
pub struct DecisionTreeRegressor {
    tree: Tree,
}

tree_settings!(DecisionTreeRegressor, "[0.0, 1.0]");

impl Regressor for DecisionTreeRegressor {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        check_xy_values(x, y, "DecisionTreeRegressor")?;
        self.tree
            .grow(x, Target::Values(y), (0..y.len() as u32).collect());
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.tree.check_fitted(x)?;
        Ok((0..x.rows())
            .map(|i| self.tree.leaf_proba(x.row(i))[0])
            .collect())
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        Box::new(DecisionTreeRegressor {
            tree: self.tree.unfitted(),
        })
    }

    fn name(&self) -> String {
        match self.tree.max_depth {
            Some(depth) => format!("DecisionTreeRegressor(max_depth={depth})"),
            None => "DecisionTreeRegressor(max_depth=None)".to_string(),
        }
    }
}

/// Grows `n_estimators` trees in parallel, each on a bootstrap sample (when asked) with its own
/// seed drawn from `seed`.
fn grow_forest(
    n_estimators: usize,
    template: &Tree,
    bootstrap: bool,
    seed: u64,
    x: &Matrix,
    target: Target,
) -> Vec<Tree> {
    let base = Rng::new(seed);
    let n = x.rows();
    (0..n_estimators)
        .into_par_iter()
        .map(|t| {
            let mut rng = base.fork(t as u64);
            let rows: Vec<u32> = if bootstrap {
                (0..n).map(|_| rng.below(n) as u32).collect()
            } else {
                (0..n as u32).collect()
            };
            let mut tree = Tree {
                seed: rng.next_u64(),
                ..template.unfitted()
            };
            tree.grow(x, target, rows);
            tree
        })
        .collect()
}

/// The trees' average leaf values for every row (class probabilities or the mean prediction).
fn forest_average(trees: &[Tree], x: &Matrix) -> Result<Matrix> {
    let Some(first) = trees.first() else {
        bail!("the forest is not fitted yet; call fit(&x, &y) first");
    };
    first.check_fitted(x)?;
    let c = first.n_classes;
    let data: Vec<f64> = (0..x.rows())
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut sum = vec![0.0; c];
            for tree in trees {
                for (s, p) in sum.iter_mut().zip(tree.leaf_proba(x.row(i))) {
                    *s += p;
                }
            }
            sum.into_iter().map(|s| s / trees.len() as f64)
        })
        .collect();
    Matrix::new(x.rows(), c, data)
}

/// The forests' shared settings and builder methods.
macro_rules! forest {
    ($model:ident, $max_features:expr) => {
        impl $model {
            #[doc = concat!("`n_estimators` fully grown trees, ", stringify!($max_features), " features per split, bootstrap samples, seed 0.\n\n```\nlet forest = trainbook::prelude::", stringify!($model), "::new(100);\nassert_eq!(forest.n_estimators, 100);\n```")]
            pub fn new(n_estimators: usize) -> $model {
                $model {
                    n_estimators,
                    bootstrap: true,
                    seed: 0,
                    template: Tree {
                        max_features: $max_features,
                        ..Tree::new()
                    },
                    trees: vec![],
                }
            }

            /// The seed behind every tree's bootstrap sample and feature draws.
            #[doc = concat!("```\nlet forest = trainbook::prelude::", stringify!($model), "::new(10).seed(3);\n```")]
            pub fn seed(mut self, seed: u64) -> Self {
                self.seed = seed;
                self
            }

            /// Each tree stops splitting at this depth.
            #[doc = concat!("```\nlet forest = trainbook::prelude::", stringify!($model), "::new(10).max_depth(8);\n```")]
            pub fn max_depth(mut self, depth: usize) -> Self {
                self.template.max_depth = Some(depth);
                self
            }

            /// Each leaf keeps at least this many samples.
            #[doc = concat!("```\nlet forest = trainbook::prelude::", stringify!($model), "::new(10).min_samples_leaf(3);\n```")]
            pub fn min_samples_leaf(mut self, samples: usize) -> Self {
                self.template.min_samples_leaf = samples.max(1);
                self
            }

            /// How many features each split considers.
            #[doc = concat!("```\nuse trainbook::prelude::*;\nlet forest = ", stringify!($model), "::new(10).max_features(MaxFeatures::All);\n```")]
            pub fn max_features(mut self, max_features: MaxFeatures) -> Self {
                self.template.max_features = max_features;
                self
            }

            /// Trees on the full training set instead of bootstrap samples.
            #[doc = concat!("```\nlet forest = trainbook::prelude::", stringify!($model), "::new(10).no_bootstrap();\nassert!(!forest.bootstrap);\n```")]
            pub fn no_bootstrap(mut self) -> Self {
                self.bootstrap = false;
                self
            }
        }
    };
}

/// A random forest: `n_estimators` trees, each on a bootstrap sample with a random subset of
/// features per split, grown in parallel; probabilities are the trees' average.
///
/// ```
/// use trainbook::prelude::*;
/// let wine = load_wine();
/// let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
/// let scores = cross_val_score(&RandomForestClassifier::new(50), &x, &y, 5, "accuracy").unwrap();
/// assert!(scores.iter().sum::<f64>() / 5.0 > 0.93);
/// ```
#[derive(Clone, Debug)]
pub struct RandomForestClassifier {
    pub n_estimators: usize,
    pub bootstrap: bool,
    pub seed: u64,
    template: Tree,
    trees: Vec<Tree>,
}

forest!(RandomForestClassifier, MaxFeatures::Sqrt);

impl Classifier for RandomForestClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let classes = check_xy(x, y, "RandomForestClassifier")?;
        if self.n_estimators == 0 {
            bail!("RandomForestClassifier needs n_estimators >= 1");
        }
        self.trees = grow_forest(
            self.n_estimators,
            &self.template,
            self.bootstrap,
            self.seed,
            x,
            Target::Classes(y, classes),
        );
        Ok(())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        forest_average(&self.trees, x)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let proba = self.predict_proba(x)?;
        Ok((0..proba.rows()).map(|i| argmax(proba.row(i))).collect())
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        let mut fresh = self.clone();
        fresh.trees.clear();
        Box::new(fresh)
    }

    fn name(&self) -> String {
        format!("RandomForestClassifier(n_estimators={})", self.n_estimators)
    }
}

/// A random forest of regression trees (all features per split, scikit-learn's default);
/// predictions are the trees' mean.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let scores = cross_val_score(&RandomForestRegressor::new(50), &x, &y, 5, "r2").unwrap();
/// assert!(scores.iter().sum::<f64>() / 5.0 > 0.35);
/// ```
#[derive(Clone, Debug)]
pub struct RandomForestRegressor {
    pub n_estimators: usize,
    pub bootstrap: bool,
    pub seed: u64,
    template: Tree,
    trees: Vec<Tree>,
}

forest!(RandomForestRegressor, MaxFeatures::All);

impl Regressor for RandomForestRegressor {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        check_xy_values(x, y, "RandomForestRegressor")?;
        if self.n_estimators == 0 {
            bail!("RandomForestRegressor needs n_estimators >= 1");
        }
        self.trees = grow_forest(
            self.n_estimators,
            &self.template,
            self.bootstrap,
            self.seed,
            x,
            Target::Values(y),
        );
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        Ok(forest_average(&self.trees, x)?.as_slice().to_vec())
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        let mut fresh = self.clone();
        fresh.trees.clear();
        Box::new(fresh)
    }

    fn name(&self) -> String {
        format!("RandomForestRegressor(n_estimators={})", self.n_estimators)
    }
}
