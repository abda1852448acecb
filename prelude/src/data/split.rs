//! Train/test splits and cross-validation folds that keep the two sides apart by type.
//!
//! Leakage happens when statistics of the test rows reach the model through preprocessing: a
//! scaler fitted on all rows, SMOTE run before the split. Here the two sides of a split are
//! different types: transformers `fit` and resamplers run only on a [`TrainFrame`], and both
//! sides can be transformed. A frame becomes training data only by a split or by saying so
//! ([`TrainFrame::assume_training`]), and [`Pipeline::fit_fold`](super::Pipeline::fit_fold)
//! refits every step inside each cross-validation fold.

use super::columns::{string_options, take_rows};
use crate::display::{MimeBundle, Render};
use crate::random::Rng;
use anyhow::{bail, Result};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::ops::Deref;

/// Rows that may be used to fit transformers, resamplers and models.
///
/// Derefs to the `DataFrame`, so every read-only DataFrame method works on it.
#[derive(Clone, Debug)]
pub struct TrainFrame(DataFrame);

/// Rows held out for evaluation: they can be transformed and scored, never fitted on.
#[derive(Clone, Debug)]
pub struct TestFrame(DataFrame);

impl TrainFrame {
    /// Declares a whole frame to be training data: for the final model fitted on every row,
    /// or data already split elsewhere. The name is deliberate; nothing else makes a
    /// `TrainFrame` from a plain frame.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0]).unwrap());
    /// assert_eq!(train.height(), 2);
    /// ```
    pub fn assume_training(frame: DataFrame) -> TrainFrame {
        TrainFrame(frame)
    }

    /// The rows as a plain DataFrame.
    pub fn into_frame(self) -> DataFrame {
        self.0
    }

    /// The same split side with new contents, e.g. after a transform of these rows.
    pub(crate) fn derived(frame: DataFrame) -> TrainFrame {
        TrainFrame(frame)
    }
}

impl TestFrame {
    /// The rows as a plain DataFrame.
    pub fn into_frame(self) -> DataFrame {
        self.0
    }

    pub(crate) fn derived(frame: DataFrame) -> TestFrame {
        TestFrame(frame)
    }
}

impl Deref for TrainFrame {
    type Target = DataFrame;
    fn deref(&self) -> &DataFrame {
        &self.0
    }
}

impl Deref for TestFrame {
    type Target = DataFrame;
    fn deref(&self) -> &DataFrame {
        &self.0
    }
}

impl Render for TrainFrame {
    fn mime_bundle(&self) -> MimeBundle {
        self.0.mime_bundle()
    }
}

impl Render for TestFrame {
    fn mime_bundle(&self) -> MimeBundle {
        self.0.mime_bundle()
    }
}

/// The two sides of a train/test split, with the original row numbers of each.
#[derive(Clone, Debug)]
pub struct TrainTestFrames {
    pub train: TrainFrame,
    pub test: TestFrame,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

impl Render for TrainTestFrames {
    fn mime_bundle(&self) -> MimeBundle {
        let text = format!(
            "Split: {} training rows, {} test rows",
            self.train.height(),
            self.test.height()
        );
        MimeBundle::text(text.clone()).with("text/html", format!("<p>{text}</p>"))
    }
}

/// Options of a train/test split; [`train_test_split`] and [`stratified_split`] are the
/// short forms.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let split = TrainTestSplit::new(0.25).stratify("target").shuffle(1).split(&iris.frame).unwrap();
/// assert_eq!((split.train.height(), split.test.height()), (112, 38));
/// ```
#[derive(Clone, Debug)]
pub struct TrainTestSplit {
    test_size: f64,
    shuffle: bool,
    seed: u64,
    stratify: Option<String>,
}

impl TrainTestSplit {
    /// Holds out `test_size` (a fraction in (0, 1)) of the rows; shuffled, seed 0.
    pub fn new(test_size: f64) -> TrainTestSplit {
        TrainTestSplit {
            test_size,
            shuffle: true,
            seed: 0,
            stratify: None,
        }
    }

    /// Shuffles the rows with `seed` before cutting (the default, with seed 0); the same seed
    /// gives the same split. Spelled as on [`KFold`], [`StratifiedKFold`] and `DataLoader`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let a = TrainTestSplit::new(0.5).shuffle(1).split_rows(10, None).unwrap();
    /// assert_eq!(a, TrainTestSplit::new(0.5).shuffle(1).split_rows(10, None).unwrap());
    /// assert_ne!(a, TrainTestSplit::new(0.5).shuffle(2).split_rows(10, None).unwrap());
    /// ```
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// Keeps the row order: the first rows train, the last test (for time series).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let (train, test) = TrainTestSplit::new(0.2).no_shuffle().split_rows(5, None).unwrap();
    /// assert_eq!((train, test), (vec![0, 1, 2, 3], vec![4]));
    /// ```
    pub fn no_shuffle(mut self) -> Self {
        self.shuffle = false;
        self
    }

    /// Keeps each class's share of `column` the same on both sides.
    pub fn stratify(mut self, column: &str) -> Self {
        self.stratify = Some(column.to_string());
        self
    }

    /// The numbers of training and test rows for `n` rows, as scikit-learn counts them.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(TrainTestSplit::new(0.2).sizes(101).unwrap(), (80, 21));
    /// ```
    pub fn sizes(&self, n: usize) -> Result<(usize, usize)> {
        if !(self.test_size > 0.0 && self.test_size < 1.0) {
            bail!(
                "test_size must be a fraction of the rows strictly between 0 and 1 \
                 (e.g. 0.2), got {}",
                self.test_size
            );
        }
        let n_test = (self.test_size * n as f64).ceil() as usize;
        let n_train = n.saturating_sub(n_test);
        if n_train == 0 || n_test == 0 {
            bail!(
                "with {n} rows and test_size {}, the training side would have {n_train} rows \
                 and the test side {n_test}; use more rows or another test_size",
                self.test_size
            );
        }
        Ok((n_train, n_test))
    }

    /// The row numbers of each side, without building the frames.
    pub fn split_rows(
        &self,
        n: usize,
        labels: Option<&[String]>,
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let (n_train, n_test) = self.sizes(n)?;
        let mut rng = Rng::new(self.seed);
        match labels {
            None if !self.shuffle => Ok(((0..n_train).collect(), (n_train..n).collect())),
            None => {
                let order = rng.permutation(n);
                Ok((order[n_test..].to_vec(), order[..n_test].to_vec()))
            }
            Some(_) if !self.shuffle => {
                bail!("a stratified split shuffles the rows; remove no_shuffle() or stratify()")
            }
            Some(labels) => stratified_rows(labels, n_train, n_test, &mut rng),
        }
    }

    /// Splits the frame.
    pub fn split(&self, frame: &DataFrame) -> Result<TrainTestFrames> {
        let labels = match &self.stratify {
            Some(column) => Some(label_strings(frame, column)?),
            None => None,
        };
        let (train_rows, test_rows) = self.split_rows(frame.height(), labels.as_deref())?;
        Ok(TrainTestFrames {
            train: TrainFrame(take_rows(frame, &train_rows)?),
            test: TestFrame(take_rows(frame, &test_rows)?),
            train_rows,
            test_rows,
        })
    }
}

/// A shuffled train/test split holding out `test_size` of the rows.
///
/// ```
/// use trainbook::prelude::*;
/// let split = train_test_split(&load_iris().frame, 0.2, 42).unwrap();
/// assert_eq!((split.train.height(), split.test.height()), (120, 30));
/// ```
pub fn train_test_split(frame: &DataFrame, test_size: f64, seed: u64) -> Result<TrainTestFrames> {
    TrainTestSplit::new(test_size).shuffle(seed).split(frame)
}

/// A shuffled split that keeps each class's share of `target` on both sides.
///
/// ```
/// use trainbook::prelude::*;
/// let split = stratified_split(&load_breast_cancer().frame, "target", 0.2, 42).unwrap();
/// assert_eq!(split.test.height(), 114);
/// ```
pub fn stratified_split(
    frame: &DataFrame,
    target: &str,
    test_size: f64,
    seed: u64,
) -> Result<TrainTestFrames> {
    TrainTestSplit::new(test_size)
        .shuffle(seed)
        .stratify(target)
        .split(frame)
}

fn label_strings(frame: &DataFrame, column: &str) -> Result<Vec<String>> {
    string_options(frame, column)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| match v {
            Some(v) => Ok(v),
            None => bail!(
                "cannot stratify by {column:?}: row {row} has no label; drop or fill the \
                 missing labels first"
            ),
        })
        .collect()
}

/// Classes in sorted order with the rows of each (ascending), as numpy's `unique` gives them.
fn rows_by_class(labels: &[String]) -> BTreeMap<&str, Vec<usize>> {
    let mut classes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, label) in labels.iter().enumerate() {
        classes.entry(label).or_default().push(row);
    }
    classes
}

fn stratified_rows(
    labels: &[String],
    n_train: usize,
    n_test: usize,
    rng: &mut Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let classes = rows_by_class(labels);
    if let Some((class, rows)) = classes.iter().find(|(_, rows)| rows.len() < 2) {
        bail!(
            "cannot stratify: class {class:?} has only {} row, and each class needs at least 2 \
             (one per side); drop that class or split without stratify",
            rows.len()
        );
    }
    let k = classes.len();
    if n_test < k || n_train < k {
        bail!(
            "cannot stratify {k} classes into {n_train} training and {n_test} test rows: each \
             side needs at least one row per class; raise test_size or merge rare classes"
        );
    }
    let counts: Vec<usize> = classes.values().map(Vec::len).collect();
    let train_counts = approximate_mode(&counts, n_train, rng);
    let remaining: Vec<usize> = counts
        .iter()
        .zip(&train_counts)
        .map(|(c, t)| c - t)
        .collect();
    let test_counts = approximate_mode(&remaining, n_test, rng);
    let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
    for (i, rows) in classes.values().enumerate() {
        let mut rows = rows.clone();
        rng.shuffle(&mut rows);
        train.extend_from_slice(&rows[..train_counts[i]]);
        test.extend_from_slice(&rows[train_counts[i]..train_counts[i] + test_counts[i]]);
    }
    rng.shuffle(&mut train);
    rng.shuffle(&mut test);
    Ok((train, test))
}

/// How many of `n_draws` rows each class gets: scikit-learn's `_approximate_mode` (floor of
/// the exact share, then one more for the largest remainders; ties broken at random).
pub(crate) fn approximate_mode(counts: &[usize], n_draws: usize, rng: &mut Rng) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    let continuous: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    let remainder: Vec<f64> = continuous
        .iter()
        .zip(&floored)
        .map(|(c, &f)| c - f as f64)
        .collect();
    let mut values = remainder.clone();
    values.sort_by(|a, b| b.total_cmp(a));
    values.dedup();
    for value in values {
        if need == 0 {
            break;
        }
        let mut tied: Vec<usize> = (0..counts.len())
            .filter(|&i| remainder[i] == value)
            .collect();
        rng.shuffle(&mut tied);
        for &i in tied.iter().take(need) {
            floored[i] += 1;
        }
        need -= tied.len().min(need);
    }
    floored
}

/// One cross-validation fold: train on `train`, evaluate on `test`.
#[derive(Clone, Debug)]
pub struct Fold {
    /// 0-based fold number.
    pub index: usize,
    pub train: TrainFrame,
    pub test: TestFrame,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

fn check_splits(n_splits: usize, n: usize) -> Result<()> {
    if n_splits < 2 {
        bail!("cross-validation needs at least 2 folds, got n_splits = {n_splits}");
    }
    if n_splits > n {
        bail!("cannot make {n_splits} folds from {n} rows; use at most {n} folds");
    }
    Ok(())
}

fn folds_from_rows(frame: &DataFrame, rows: Vec<(Vec<usize>, Vec<usize>)>) -> Result<Vec<Fold>> {
    rows.into_iter()
        .enumerate()
        .map(|(index, (train_rows, test_rows))| {
            Ok(Fold {
                index,
                train: TrainFrame(take_rows(frame, &train_rows)?),
                test: TestFrame(take_rows(frame, &test_rows)?),
                train_rows,
                test_rows,
            })
        })
        .collect()
}

/// Test-fold assignment → (train rows, test rows) per fold, both ascending as scikit-learn's.
fn rows_from_assignment(fold_of: &[usize], n_splits: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    (0..n_splits)
        .map(|k| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&i| fold_of[i] == k);
            (train, test)
        })
        .collect()
}

/// K consecutive folds (shuffled first if asked), sized as scikit-learn's `KFold`.
///
/// ```
/// use trainbook::prelude::*;
/// let folds = KFold::new(5).split(&load_iris().frame).unwrap();
/// assert_eq!(folds.len(), 5);
/// assert_eq!(folds[0].test_rows, (0..30).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
pub struct KFold {
    pub n_splits: usize,
    pub shuffle: bool,
    pub seed: u64,
}

impl KFold {
    /// `n_splits` folds in row order, no shuffle.
    pub fn new(n_splits: usize) -> KFold {
        KFold {
            n_splits,
            shuffle: false,
            seed: 0,
        }
    }

    /// Shuffles the rows with `seed` before cutting folds (the default keeps row order, as
    /// scikit-learn's).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folds = KFold::new(2).shuffle(0).split_rows(6).unwrap();
    /// assert_ne!(folds[0].1, vec![0, 1, 2]);
    /// ```
    pub fn shuffle(mut self, seed: u64) -> KFold {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// (train rows, test rows) of each fold for `n` rows.
    ///
    /// ```
    /// let folds = trainbook::prelude::KFold::new(3).split_rows(7).unwrap();
    /// assert_eq!(folds[2].1, vec![5, 6]);
    /// ```
    pub fn split_rows(&self, n: usize) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
        check_splits(self.n_splits, n)?;
        let order: Vec<usize> = if self.shuffle {
            Rng::new(self.seed).permutation(n)
        } else {
            (0..n).collect()
        };
        let mut fold_of = vec![0; n];
        let mut start = 0;
        for k in 0..self.n_splits {
            let size = n / self.n_splits + usize::from(k < n % self.n_splits);
            for &row in &order[start..start + size] {
                fold_of[row] = k;
            }
            start += size;
        }
        Ok(rows_from_assignment(&fold_of, self.n_splits))
    }

    /// The folds of a frame.
    pub fn split(&self, frame: &DataFrame) -> Result<Vec<Fold>> {
        folds_from_rows(frame, self.split_rows(frame.height())?)
    }
}

/// Folds that keep each class's share, assigned as scikit-learn's `StratifiedKFold`.
///
/// ```
/// use trainbook::prelude::*;
/// let folds = StratifiedKFold::new(5).split(&load_iris().frame, "target").unwrap();
/// let counts = class_balance(&folds[0].test, "target").unwrap();
/// assert_eq!(counts.height(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct StratifiedKFold {
    pub n_splits: usize,
    pub shuffle: bool,
    pub seed: u64,
}

impl StratifiedKFold {
    /// `n_splits` stratified folds, not shuffled.
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::StratifiedKFold::new(5).n_splits, 5);
    /// ```
    pub fn new(n_splits: usize) -> StratifiedKFold {
        StratifiedKFold {
            n_splits,
            shuffle: false,
            seed: 0,
        }
    }

    /// Shuffles each class's fold assignment with `seed` (the default keeps row order).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let labels: Vec<String> = ["a", "b"].repeat(5).iter().map(|s| s.to_string()).collect();
    /// let folds = StratifiedKFold::new(5).shuffle(3).split_rows(&labels).unwrap();
    /// assert_eq!(folds.len(), 5);
    /// ```
    pub fn shuffle(mut self, seed: u64) -> StratifiedKFold {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// (train rows, test rows) of each fold for these labels: class indices, names, anything
    /// that prints (equal labels print the same).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folds = StratifiedKFold::new(2).split_rows(&["a", "a", "b", "b"]).unwrap();
    /// assert_eq!(folds[0].1, vec![0, 2]);
    /// let y = load_iris().y_classes().unwrap();
    /// assert_eq!(StratifiedKFold::new(5).split_rows(&y).unwrap()[0].1.len(), 30);
    /// ```
    pub fn split_rows(&self, labels: &[impl ToString]) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
        let labels: Vec<String> = labels.iter().map(ToString::to_string).collect();
        let n = labels.len();
        check_splits(self.n_splits, n)?;
        // Classes numbered by first appearance, as scikit-learn encodes them.
        let mut first_seen: Vec<&str> = Vec::new();
        let mut encoded = Vec::with_capacity(n);
        for label in &labels {
            let code = match first_seen.iter().position(|c| *c == label.as_str()) {
                Some(code) => code,
                None => {
                    first_seen.push(label);
                    first_seen.len() - 1
                }
            };
            encoded.push(code);
        }
        let k = first_seen.len();
        let mut counts = vec![0usize; k];
        for &c in &encoded {
            counts[c] += 1;
        }
        if let Some(c) = (0..k).find(|&c| counts[c] < self.n_splits) {
            bail!(
                "class {:?} has {} rows, fewer than the {} folds, so some folds would have none \
                 of it; use at most {} folds, or merge or drop that class",
                first_seen[c],
                counts[c],
                self.n_splits,
                counts[c]
            );
        }
        // allocation[f][c]: how many rows of class c go to fold f (round robin over the
        // label-sorted rows).
        let mut sorted = encoded.clone();
        sorted.sort_unstable();
        let mut allocation = vec![vec![0usize; k]; self.n_splits];
        for (i, &c) in sorted.iter().enumerate() {
            allocation[i % self.n_splits][c] += 1;
        }
        let rng = Rng::new(self.seed);
        let mut fold_of = vec![0usize; n];
        for c in 0..k {
            let mut folds_for_class: Vec<usize> = allocation
                .iter()
                .enumerate()
                .flat_map(|(f, per_class)| std::iter::repeat_n(f, per_class[c]))
                .collect();
            if self.shuffle {
                rng.fork(c as u64).shuffle(&mut folds_for_class);
            }
            let rows = (0..n).filter(|&i| encoded[i] == c);
            for (row, fold) in rows.zip(folds_for_class) {
                fold_of[row] = fold;
            }
        }
        Ok(rows_from_assignment(&fold_of, self.n_splits))
    }

    /// The folds of a frame, stratified by the `target` column.
    pub fn split(&self, frame: &DataFrame, target: &str) -> Result<Vec<Fold>> {
        let labels = label_strings(frame, target)?;
        folds_from_rows(frame, self.split_rows(&labels)?)
    }
}
