//! CART decision trees (Gini impurity) and random forests of them.

use super::matrix::Matrix;
use super::Classifier;
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
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub max_features: MaxFeatures,
    pub seed: u64,
    n_classes: usize,
    n_features: usize,
    nodes: Vec<Node>,
}

impl Default for DecisionTreeClassifier {
    fn default() -> Self {
        DecisionTreeClassifier::new()
    }
}

impl DecisionTreeClassifier {
    /// A fully grown tree over all features (scikit-learn's defaults).
    pub fn new() -> DecisionTreeClassifier {
        DecisionTreeClassifier {
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

    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = Some(depth);
        self
    }

    pub fn max_features(mut self, max_features: MaxFeatures) -> Self {
        self.max_features = max_features;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of nodes (leaves included) after `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![1.0]]).unwrap();
    /// let mut tree = DecisionTreeClassifier::new();
    /// tree.fit(&x, &[0, 1]).unwrap();
    /// assert_eq!(tree.node_count(), 3);
    /// ```
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Grows the tree on the given rows (with repeats, for bootstrap samples).
    fn grow(&mut self, x: &Matrix, y: &[usize], rows: Vec<u32>, n_classes: usize) {
        self.n_classes = n_classes;
        self.n_features = x.cols();
        self.nodes.clear();
        let mut rng = Rng::new(self.seed);
        let k = self.max_features.resolve(x.cols());
        self.build(x, y, rows, 0, k, &mut rng);
    }

    fn build(
        &mut self,
        x: &Matrix,
        y: &[usize],
        rows: Vec<u32>,
        depth: usize,
        k: usize,
        rng: &mut Rng,
    ) -> usize {
        let c = self.n_classes;
        let mut counts = vec![0usize; c];
        for &r in &rows {
            counts[y[r as usize]] += 1;
        }
        let n = rows.len();
        let leaf = |counts: &[usize]| Node::Leaf {
            proba: counts.iter().map(|&v| v as f64 / n as f64).collect(),
        };
        let pure = counts.iter().filter(|&&v| v > 0).count() <= 1;
        if pure
            || n < self.min_samples_split
            || n < 2 * self.min_samples_leaf
            || self.max_depth.is_some_and(|m| depth >= m)
        {
            self.nodes.push(leaf(&counts));
            return self.nodes.len() - 1;
        }
        // Features in random order; like scikit-learn, keep drawing past `k` until one gives a
        // valid split (constant features do not count).
        let mut features: Vec<usize> = (0..x.cols()).collect();
        rng.shuffle(&mut features);
        let parent_gini = gini_sum(&counts, n);
        let mut best: Option<(f64, usize, f64)> = None; // (impurity, feature, threshold)
        let mut pairs: Vec<(f64, usize)> = Vec::with_capacity(n);
        let mut tried = 0;
        for &f in &features {
            if tried >= k && best.is_some() {
                break;
            }
            pairs.clear();
            pairs.extend(rows.iter().map(|&r| (x.row(r as usize)[f], y[r as usize])));
            pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            if pairs[0].0 == pairs[n - 1].0 {
                continue; // constant here
            }
            tried += 1;
            let mut left = vec![0usize; c];
            for i in 0..n - 1 {
                left[pairs[i].1] += 1;
                if pairs[i].0 == pairs[i + 1].0 {
                    continue;
                }
                let (nl, nr) = (i + 1, n - i - 1);
                if nl < self.min_samples_leaf || nr < self.min_samples_leaf {
                    continue;
                }
                let right: Vec<usize> = counts.iter().zip(&left).map(|(t, l)| t - l).collect();
                let impurity = gini_sum(&left, nl) + gini_sum(&right, nr);
                if best.is_none_or(|b| impurity < b.0) {
                    let mut threshold = pairs[i].0 / 2.0 + pairs[i + 1].0 / 2.0;
                    if threshold == pairs[i + 1].0 {
                        threshold = pairs[i].0; // no representable midpoint
                    }
                    best = Some((impurity, f, threshold));
                }
            }
        }
        let Some((impurity, feature, threshold)) = best else {
            self.nodes.push(leaf(&counts));
            return self.nodes.len() - 1;
        };
        if impurity >= parent_gini {
            self.nodes.push(leaf(&counts));
            return self.nodes.len() - 1;
        }
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows
            .iter()
            .partition(|&&r| x.row(r as usize)[feature] <= threshold);
        drop(rows);
        let index = self.nodes.len();
        self.nodes.push(Node::Leaf { proba: vec![] }); // placeholder, replaced below
        let left = self.build(x, y, left_rows, depth + 1, k, rng);
        let right = self.build(x, y, right_rows, depth + 1, k, rng);
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

/// n times the Gini impurity of a node with these class counts.
fn gini_sum(counts: &[usize], n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let sum_sq: f64 = counts.iter().map(|&c| (c * c) as f64).sum();
    n as f64 - sum_sq / n as f64
}

/// Checks x and y pair up, returns the number of classes.
fn check_xy(x: &Matrix, y: &[usize], who: &str) -> Result<usize> {
    if x.rows() != y.len() {
        bail!(
            "{who}: x has {} rows but y has {} labels; pass one label per row",
            x.rows(),
            y.len()
        );
    }
    if y.is_empty() {
        bail!("{who}: no training samples");
    }
    if let Some(v) = x.as_slice().iter().find(|v| !v.is_finite()) {
        bail!("{who} got a non-finite value ({v}); fill or drop missing values first");
    }
    Ok(y.iter().max().map_or(0, |m| m + 1))
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

impl Classifier for DecisionTreeClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let classes = check_xy(x, y, "DecisionTreeClassifier")?;
        self.grow(x, y, (0..y.len() as u32).collect(), classes);
        Ok(())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.check_fitted(x)?;
        let mut data = Vec::with_capacity(x.rows() * self.n_classes);
        for i in 0..x.rows() {
            data.extend_from_slice(self.leaf_proba(x.row(i)));
        }
        Matrix::new(x.rows(), self.n_classes, data)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.check_fitted(x)?;
        Ok((0..x.rows())
            .map(|i| argmax(self.leaf_proba(x.row(i))))
            .collect())
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        let mut fresh = self.clone();
        fresh.nodes.clear();
        Box::new(fresh)
    }

    fn name(&self) -> String {
        // scikit-learn's spelling: max_depth=None for a fully grown tree.
        match self.max_depth {
            Some(depth) => format!("DecisionTreeClassifier(max_depth={depth})"),
            None => "DecisionTreeClassifier(max_depth=None)".to_string(),
        }
    }
}

/// A random forest: `n_estimators` trees, each on a bootstrap sample with a random subset of
/// features per split, grown in parallel; probabilities are the trees' average.
///
/// ```
/// use trainbook::prelude::*;
/// let wine = load_wine();
/// let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
/// let scores = cross_val_score(&RandomForestClassifier::new(50), &x, &y, 5).unwrap();
/// assert!(scores.iter().sum::<f64>() / 5.0 > 0.93);
/// ```
#[derive(Clone, Debug)]
pub struct RandomForestClassifier {
    pub n_estimators: usize,
    pub max_depth: Option<usize>,
    pub max_features: MaxFeatures,
    pub bootstrap: bool,
    pub seed: u64,
    trees: Vec<DecisionTreeClassifier>,
    n_classes: usize,
}

impl RandomForestClassifier {
    /// `n_estimators` fully grown trees, sqrt(features) per split, bootstrap, seed 0.
    pub fn new(n_estimators: usize) -> RandomForestClassifier {
        RandomForestClassifier {
            n_estimators,
            max_depth: None,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            seed: 0,
            trees: vec![],
            n_classes: 0,
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = Some(depth);
        self
    }
}

impl Classifier for RandomForestClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let classes = check_xy(x, y, "RandomForestClassifier")?;
        if self.n_estimators == 0 {
            bail!("RandomForestClassifier needs n_estimators >= 1");
        }
        let base = Rng::new(self.seed);
        let n = y.len();
        self.trees = (0..self.n_estimators)
            .into_par_iter()
            .map(|t| {
                let mut rng = base.fork(t as u64);
                let rows: Vec<u32> = if self.bootstrap {
                    (0..n).map(|_| rng.below(n) as u32).collect()
                } else {
                    (0..n as u32).collect()
                };
                let mut tree = DecisionTreeClassifier {
                    max_depth: self.max_depth,
                    max_features: self.max_features,
                    seed: rng.next_u64(),
                    ..DecisionTreeClassifier::new()
                };
                tree.grow(x, y, rows, classes);
                tree
            })
            .collect();
        self.n_classes = classes;
        Ok(())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let Some(first) = self.trees.first() else {
            bail!("the forest is not fitted yet; call fit(&x, &y) first");
        };
        first.check_fitted(x)?;
        let c = self.n_classes;
        let data: Vec<f64> = (0..x.rows())
            .into_par_iter()
            .flat_map_iter(|i| {
                let mut sum = vec![0.0; c];
                for tree in &self.trees {
                    for (s, p) in sum.iter_mut().zip(tree.leaf_proba(x.row(i))) {
                        *s += p;
                    }
                }
                sum.into_iter().map(|s| s / self.trees.len() as f64)
            })
            .collect();
        Matrix::new(x.rows(), c, data)
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
