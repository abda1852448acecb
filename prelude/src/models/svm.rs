//! Support vector classification as libsvm (scikit-learn's `SVC`): the dual problem solved by
//! SMO with second-order working-set selection, one binary machine per pair of classes
//! (one-vs-one voting), and optional Platt-scaled probabilities from internal cross-validation.

use super::{argmax, check_xy, Classifier, Matrix};
use crate::random::Rng;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// The RBF kernel's width: `exp(-gamma * |x - x'|²)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gamma {
    /// `1 / (features * variance of all x values)`, scikit-learn's default.
    Scale,
    /// `1 / features`.
    Auto,
    Value(f64),
}

/// How two samples are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SvmKernel {
    /// `x · x'`: a maximum-margin hyperplane.
    Linear,
    /// `exp(-gamma |x - x'|²)`: smooth, local decision boundaries.
    Rbf(Gamma),
}

/// Training sets up to this size get their whole kernel matrix computed once (f32, as
/// libsvm's cache: 4000² entries are 64 MB); above it, rows are computed when needed.
const FULL_KERNEL_ROWS: usize = 4000;

/// A support vector classifier with scikit-learn's `SVC` defaults (C = 1, RBF kernel with
/// `gamma = "scale"`, tolerance 1e-3). Scale the features first ([`super::Standardized`]):
/// an RBF kernel on raw features is dominated by the widest one.
///
/// ```
/// use trainbook::prelude::*;
/// let data = make_moons(200, 0.1, 0).unwrap();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
/// let mut svm = Svc::rbf();
/// svm.fit(&x, &y).unwrap();
/// assert!(svm.score(&x, &y).unwrap() > 0.97);
/// assert!(svm.support_vector_count() < 100);
/// ```
#[derive(Clone, Debug)]
pub struct Svc {
    /// Penalty on margin violations: larger fits the training data more tightly.
    pub c: f64,
    pub kernel: SvmKernel,
    /// Stop when the largest KKT violation is below this (libsvm's `eps`).
    pub tol: f64,
    /// Fit Platt sigmoids by 5-fold internal cross-validation so `predict_proba` works (five
    /// more fits per pair of classes, as libsvm).
    pub probability: bool,
    /// Shuffles the internal cross-validation folds.
    pub seed: u64,
    fitted: Option<Fitted>,
}

#[derive(Clone, Debug)]
struct Fitted {
    gamma: f64,
    n_classes: usize,
    support: Matrix,
    /// One per pair (a, b), a < b, in order (0,1), (0,2), ..., (1,2), ...
    machines: Vec<Machine>,
}

/// A pair's machine before support vectors are renumbered: (global row, alpha·y), rho, and the
/// Platt sigmoid when asked for.
type TrainedPair = (Vec<(usize, f64)>, f64, Option<(f64, f64)>);

/// One binary machine: decision(x) = sum coef · K(sv, x) - rho; positive means class a.
#[derive(Clone, Debug)]
struct Machine {
    classes: (usize, usize),
    /// (row in `support`, alpha·y)
    coefs: Vec<(usize, f64)>,
    rho: f64,
    /// Platt sigmoid P(a | a or b) = 1 / (1 + exp(A·decision + B)).
    sigmoid: Option<(f64, f64)>,
}

impl Svc {
    /// RBF kernel, `gamma = "scale"`, C = 1.
    pub fn rbf() -> Svc {
        Svc::new(SvmKernel::Rbf(Gamma::Scale))
    }

    /// Linear kernel, C = 1 (the exact hinge-loss SVM, as `SVC(kernel="linear")`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let data = load_iris();
    /// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
    /// let scores = cross_val_score(&Svc::linear(), &x, &y, 5, "accuracy").unwrap();
    /// assert!(scores.iter().sum::<f64>() / 5.0 > 0.97);
    /// ```
    pub fn linear() -> Svc {
        Svc::new(SvmKernel::Linear)
    }

    /// Any kernel, C = 1.
    pub fn new(kernel: SvmKernel) -> Svc {
        Svc {
            c: 1.0,
            kernel,
            tol: 1e-3,
            probability: false,
            seed: 0,
            fitted: None,
        }
    }

    /// The margin penalty.
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::Svc::rbf().c(10.0).c, 10.0);
    /// ```
    pub fn c(mut self, c: f64) -> Svc {
        self.c = c;
        self
    }

    /// The RBF width (switches the kernel to RBF).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Svc::rbf().gamma(0.01).kernel, SvmKernel::Rbf(Gamma::Value(0.01)));
    /// ```
    pub fn gamma(mut self, gamma: f64) -> Svc {
        self.kernel = SvmKernel::Rbf(Gamma::Value(gamma));
        self
    }

    /// Also learn probabilities (Platt scaling by internal 5-fold cross-validation).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let data = load_iris();
    /// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
    /// let mut svm = Svc::rbf().probability(true);
    /// svm.fit(&x, &y).unwrap();
    /// let p = svm.predict_proba(&x).unwrap();
    /// assert!((p.row(0).iter().sum::<f64>() - 1.0).abs() < 1e-9 && p.row(0)[0] > 0.9);
    /// ```
    pub fn probability(mut self, on: bool) -> Svc {
        self.probability = on;
        self
    }

    pub fn seed(mut self, seed: u64) -> Svc {
        self.seed = seed;
        self
    }

    /// How many training samples the fitted machines keep.
    pub fn support_vector_count(&self) -> usize {
        self.fitted.as_ref().map_or(0, |f| f.support.rows())
    }

    /// The gamma the fitted RBF kernel used (`None` for a linear kernel or before `fit`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![2.0, 2.0]]).unwrap();
    /// let mut svm = Svc::rbf();
    /// svm.fit(&x, &[0, 1]).unwrap();
    /// assert_eq!(svm.fitted_gamma(), Some(0.5)); // 1 / (2 features * variance 1)
    /// ```
    pub fn fitted_gamma(&self) -> Option<f64> {
        match (self.kernel, &self.fitted) {
            (SvmKernel::Rbf(_), Some(f)) => Some(f.gamma),
            _ => None,
        }
    }

    /// Decision values: for two classes one column, positive for class 1 (scikit-learn's
    /// sign); above, one column per pair (a, b) in order (0,1), (0,2), ..., positive for a.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![3.0], vec![4.0]]).unwrap();
    /// let mut svm = Svc::linear();
    /// svm.fit(&x, &[0, 0, 1, 1]).unwrap();
    /// let d = svm.decision_function(&x).unwrap();
    /// assert!(d.row(0)[0] < 0.0 && d.row(3)[0] > 0.0);
    /// ```
    pub fn decision_function(&self, x: &Matrix) -> Result<Matrix> {
        let fitted = self.check_fitted(x)?;
        let values = self.pair_decisions(fitted, x);
        let pairs = fitted.machines.len();
        if fitted.n_classes == 2 {
            return Matrix::new(x.rows(), 1, values.iter().map(|v| -v).collect());
        }
        Matrix::new(x.rows(), pairs, values)
    }

    fn check_fitted(&self, x: &Matrix) -> Result<&Fitted> {
        let Some(fitted) = &self.fitted else {
            bail!("the SVM is not fitted yet; call fit(&x, &y) first");
        };
        if x.cols() != fitted.support.cols() {
            bail!(
                "the SVM was fitted on {} features, this data has {}",
                fitted.support.cols(),
                x.cols()
            );
        }
        Ok(fitted)
    }

    /// Row-major (samples x pairs) decision values, libsvm's sign (positive for class a).
    fn pair_decisions(&self, fitted: &Fitted, x: &Matrix) -> Vec<f64> {
        let kernel = KernelFn {
            kernel: self.kernel,
            gamma: fitted.gamma,
        };
        let pairs = fitted.machines.len();
        (0..x.rows())
            .into_par_iter()
            .flat_map_iter(|i| {
                let row = x.row(i);
                let k: Vec<f64> = (0..fitted.support.rows())
                    .map(|s| kernel.eval(row, fitted.support.row(s)))
                    .collect();
                let mut out = Vec::with_capacity(pairs);
                for m in &fitted.machines {
                    out.push(m.coefs.iter().map(|&(s, c)| c * k[s]).sum::<f64>() - m.rho);
                }
                out
            })
            .collect()
    }
}

#[derive(Clone, Copy)]
struct KernelFn {
    kernel: SvmKernel,
    gamma: f64,
}

impl KernelFn {
    fn eval(&self, a: &[f64], b: &[f64]) -> f64 {
        match self.kernel {
            SvmKernel::Linear => super::solve::dot(a, b),
            SvmKernel::Rbf(_) => (-self.gamma * super::matrix::squared_distance(a, b)).exp(),
        }
    }
}

/// Kernel values between training rows: from a precomputed matrix, or computed on demand.
struct KernelSource<'a> {
    x: &'a Matrix,
    kernel: KernelFn,
    full: Option<Vec<f32>>,
}

impl<'a> KernelSource<'a> {
    fn new(x: &'a Matrix, kernel: KernelFn) -> KernelSource<'a> {
        let n = x.rows();
        let full = (n <= FULL_KERNEL_ROWS).then(|| {
            // The upper triangle in parallel, then mirrored: half the kernel evaluations.
            let upper: Vec<Vec<f32>> = (0..n)
                .into_par_iter()
                .map(|i| {
                    (i..n)
                        .map(|j| kernel.eval(x.row(i), x.row(j)) as f32)
                        .collect()
                })
                .collect();
            let mut full = vec![0.0f32; n * n];
            for (i, row) in upper.iter().enumerate() {
                for (offset, &v) in row.iter().enumerate() {
                    full[i * n + i + offset] = v;
                    full[(i + offset) * n + i] = v;
                }
            }
            full
        });
        KernelSource { x, kernel, full }
    }

    /// K(row g, row m) for every m in `members`.
    fn row(&self, g: usize, members: &[usize], out: &mut [f64]) {
        match &self.full {
            Some(full) => {
                let n = self.x.rows();
                for (o, &m) in out.iter_mut().zip(members) {
                    *o = full[g * n + m] as f64;
                }
            }
            None => {
                for (o, &m) in out.iter_mut().zip(members) {
                    *o = self.kernel.eval(self.x.row(g), self.x.row(m));
                }
            }
        }
    }

    fn diagonal(&self, g: usize) -> f64 {
        match &self.full {
            Some(full) => full[g * self.x.rows() + g] as f64,
            None => self.kernel.eval(self.x.row(g), self.x.row(g)),
        }
    }
}

/// Solves one binary dual problem over `members` (global rows) with labels ±1 (libsvm's
/// `Solver` without shrinking). Returns alpha (per member) and rho.
fn solve_binary(
    source: &KernelSource,
    members: &[usize],
    y: &[f64],
    c: f64,
    tol: f64,
) -> (Vec<f64>, f64) {
    const TAU: f64 = 1e-12;
    let n = members.len();
    let diagonal: Vec<f64> = members.iter().map(|&g| source.diagonal(g)).collect();
    let mut alpha = vec![0.0; n];
    let mut gradient = vec![-1.0; n];
    let (mut row_i, mut row_j) = (vec![0.0; n], vec![0.0; n]);
    let max_iter = (100 * n).max(10_000_000);
    for _ in 0..max_iter {
        // i: the most violating index among those that can move up.
        let (mut g_max, mut i) = (f64::NEG_INFINITY, usize::MAX);
        for t in 0..n {
            let up = if y[t] > 0.0 {
                alpha[t] < c
            } else {
                alpha[t] > 0.0
            };
            if up && -y[t] * gradient[t] >= g_max {
                g_max = -y[t] * gradient[t];
                i = t;
            }
        }
        if i == usize::MAX {
            break;
        }
        source.row(members[i], members, &mut row_i);
        // j: the best second-order gain among those that can move down.
        let (mut g_max2, mut j, mut best_gain) = (f64::NEG_INFINITY, usize::MAX, f64::INFINITY);
        for t in 0..n {
            let down = if y[t] > 0.0 {
                alpha[t] > 0.0
            } else {
                alpha[t] < c
            };
            if !down {
                continue;
            }
            let yg = y[t] * gradient[t];
            g_max2 = g_max2.max(yg);
            let grad_diff = g_max + yg;
            if grad_diff > 0.0 {
                let quad = (diagonal[i] + diagonal[t] - 2.0 * row_i[t]).max(TAU);
                let gain = -(grad_diff * grad_diff) / quad;
                if gain <= best_gain {
                    best_gain = gain;
                    j = t;
                }
            }
        }
        if g_max + g_max2 < tol || j == usize::MAX {
            break;
        }
        source.row(members[j], members, &mut row_j);
        let (old_i, old_j) = (alpha[i], alpha[j]);
        // Q_ij = y_i y_j K_ij.
        let q_ij = y[i] * y[j] * row_i[j];
        if y[i] != y[j] {
            let quad = (diagonal[i] + diagonal[j] + 2.0 * q_ij).max(TAU);
            let delta = (-gradient[i] - gradient[j]) / quad;
            let diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if diff > 0.0 {
                if alpha[j] < 0.0 {
                    alpha[j] = 0.0;
                    alpha[i] = diff;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = -diff;
            }
            if diff > 0.0 {
                if alpha[i] > c {
                    alpha[i] = c;
                    alpha[j] = c - diff;
                }
            } else if alpha[j] > c {
                alpha[j] = c;
                alpha[i] = c + diff;
            }
        } else {
            let quad = (diagonal[i] + diagonal[j] - 2.0 * q_ij).max(TAU);
            let delta = (gradient[i] - gradient[j]) / quad;
            let sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if sum > c {
                if alpha[i] > c {
                    alpha[i] = c;
                    alpha[j] = sum - c;
                }
            } else if alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = sum;
            }
            if sum > c {
                if alpha[j] > c {
                    alpha[j] = c;
                    alpha[i] = sum - c;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = sum;
            }
        }
        let (delta_i, delta_j) = (alpha[i] - old_i, alpha[j] - old_j);
        for t in 0..n {
            gradient[t] += y[t] * (y[i] * row_i[t] * delta_i + y[j] * row_j[t] * delta_j);
        }
    }
    // rho: the mean of y·G over free vectors, else the middle of the feasible interval.
    let (mut upper, mut lower, mut free, mut free_sum) =
        (f64::INFINITY, f64::NEG_INFINITY, 0usize, 0.0);
    for t in 0..n {
        let yg = y[t] * gradient[t];
        if alpha[t] >= c {
            if y[t] < 0.0 {
                upper = upper.min(yg);
            } else {
                lower = lower.max(yg);
            }
        } else if alpha[t] <= 0.0 {
            if y[t] > 0.0 {
                upper = upper.min(yg);
            } else {
                lower = lower.max(yg);
            }
        } else {
            free += 1;
            free_sum += yg;
        }
    }
    let rho = if free > 0 {
        free_sum / free as f64
    } else {
        (upper + lower) / 2.0
    };
    (alpha, rho)
}

/// A binary machine over `members` as (member position, alpha·y) plus rho; one class only
/// gives no vectors and a constant decision.
fn train_pair(
    source: &KernelSource,
    members: &[usize],
    positive: &[bool],
    c: f64,
    tol: f64,
) -> (Vec<(usize, f64)>, f64) {
    let positives = positive.iter().filter(|&&p| p).count();
    if positives == 0 || positives == members.len() {
        return (vec![], if positives == 0 { 1.0 } else { -1.0 });
    }
    let y: Vec<f64> = positive
        .iter()
        .map(|&p| if p { 1.0 } else { -1.0 })
        .collect();
    let (alpha, rho) = solve_binary(source, members, &y, c, tol);
    let coefs = alpha
        .iter()
        .zip(&y)
        .enumerate()
        .filter(|(_, (a, _))| **a > 0.0)
        .map(|(t, (a, yt))| (t, a * yt))
        .collect();
    (coefs, rho)
}

/// Platt's sigmoid fitted to decision values (libsvm's `sigmoid_train`, Lin, Lin and Weng's
/// Newton method with target smoothing). Returns (A, B) of P(+) = 1 / (1 + exp(A f + B)).
fn sigmoid_train(decisions: &[f64], positive: &[bool]) -> (f64, f64) {
    let prior1 = positive.iter().filter(|&&p| p).count() as f64;
    let prior0 = positive.len() as f64 - prior1;
    let (hi, lo) = ((prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0));
    let targets: Vec<f64> = positive.iter().map(|&p| if p { hi } else { lo }).collect();
    let objective = |a: f64, b: f64| -> f64 {
        decisions
            .iter()
            .zip(&targets)
            .map(|(f, t)| {
                let z = f * a + b;
                if z >= 0.0 {
                    t * z + (-z).exp().ln_1p()
                } else {
                    (t - 1.0) * z + z.exp().ln_1p()
                }
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((prior0 + 1.0) / (prior1 + 1.0)).ln());
    let mut value = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (1e-12, 1e-12, 0.0, 0.0, 0.0);
        for (f, t) in decisions.iter().zip(&targets) {
            let z = f * a + b;
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += f * f * d2;
            h22 += d2;
            h21 += f * d2;
            g1 += f * (t - p);
            g2 += t - p;
        }
        if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let (da, db) = (-(h22 * g1 - h21 * g2) / det, -(-h21 * g1 + h11 * g2) / det);
        let slope = g1 * da + g2 * db;
        let mut step = 1.0;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let candidate = objective(na, nb);
            if candidate < value + 1e-4 * step * slope {
                (a, b, value) = (na, nb, candidate);
                break;
            }
            step /= 2.0;
        }
        if step < 1e-10 {
            break;
        }
    }
    (a, b)
}

fn sigmoid_predict(decision: f64, (a, b): (f64, f64)) -> f64 {
    let z = decision * a + b;
    if z >= 0.0 {
        (-z).exp() / (1.0 + (-z).exp())
    } else {
        1.0 / (1.0 + z.exp())
    }
}

/// Class probabilities from pairwise ones, r[i][j] = P(i | i or j) (Wu, Lin and Weng's second
/// method, as libsvm's `multiclass_probability`).
fn couple_pairwise(k: usize, r: &[Vec<f64>]) -> Vec<f64> {
    let mut q = vec![vec![0.0; k]; k];
    for t in 0..k {
        for j in 0..k {
            if j != t {
                q[t][t] += r[j][t] * r[j][t];
                q[t][j] = -r[j][t] * r[t][j];
            }
        }
    }
    let mut p = vec![1.0 / k as f64; k];
    let mut qp = vec![0.0; k];
    let eps = 0.005 / k as f64;
    for _ in 0..100.max(k) {
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t][j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        let max_error = qp.iter().fold(0.0f64, |m, v| m.max((v - pqp).abs()));
        if max_error < eps {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[t][t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t][t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t][j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

impl Classifier for Svc {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let k = check_xy(x, y, "Svc")?;
        if k < 2 {
            bail!("Svc needs at least two classes in y, found only class 0");
        }
        if self.c.is_nan() || self.c <= 0.0 {
            bail!(
                "Svc needs C > 0 (got {}); a larger C fits the training data more tightly",
                self.c
            );
        }
        let gamma = match self.kernel {
            SvmKernel::Linear => 0.0,
            SvmKernel::Rbf(Gamma::Value(g)) if g > 0.0 => g,
            SvmKernel::Rbf(Gamma::Value(g)) => bail!("Svc needs gamma > 0, got {g}"),
            SvmKernel::Rbf(Gamma::Auto) => 1.0 / x.cols().max(1) as f64,
            SvmKernel::Rbf(Gamma::Scale) => {
                let values = x.as_slice();
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
                    / values.len() as f64;
                if variance > 0.0 {
                    1.0 / (x.cols() as f64 * variance)
                } else {
                    1.0
                }
            }
        };
        let kernel = KernelFn {
            kernel: self.kernel,
            gamma,
        };
        let source = KernelSource::new(x, kernel);
        let pairs: Vec<(usize, usize)> = (0..k)
            .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
            .collect();
        let (c, tol, probability, seed) = (self.c, self.tol, self.probability, self.seed);
        let trained: Vec<TrainedPair> = pairs
            .par_iter()
            .enumerate()
            .map(|(p, &(a, b))| {
                let members: Vec<usize> =
                    (0..y.len()).filter(|&r| y[r] == a || y[r] == b).collect();
                let positive: Vec<bool> = members.iter().map(|&r| y[r] == a).collect();
                let (coefs, rho) = train_pair(&source, &members, &positive, c, tol);
                let global: Vec<(usize, f64)> =
                    coefs.into_iter().map(|(t, v)| (members[t], v)).collect();
                let sigmoid = probability.then(|| {
                    platt_by_cross_validation(&source, &members, &positive, c, tol, seed ^ p as u64)
                });
                (global, rho, sigmoid)
            })
            .collect();
        // Keep each support vector once, in row order.
        let mut used: Vec<usize> = trained
            .iter()
            .flat_map(|(coefs, _, _)| coefs.iter().map(|&(g, _)| g))
            .collect();
        used.sort_unstable();
        used.dedup();
        let support = x.select_rows(&used)?;
        let machines = pairs
            .iter()
            .zip(trained)
            .map(|(&classes, (coefs, rho, sigmoid))| Machine {
                classes,
                coefs: coefs
                    .into_iter()
                    .map(|(g, v)| (used.binary_search(&g).expect("support vector kept"), v))
                    .collect(),
                rho,
                sigmoid,
            })
            .collect();
        self.fitted = Some(Fitted {
            gamma,
            n_classes: k,
            support,
            machines,
        });
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let fitted = self.check_fitted(x)?;
        let decisions = self.pair_decisions(fitted, x);
        let pairs = fitted.machines.len();
        Ok((0..x.rows())
            .map(|i| {
                let mut votes = vec![0.0; fitted.n_classes];
                for (m, d) in fitted.machines.iter().zip(&decisions[i * pairs..]) {
                    votes[if *d > 0.0 { m.classes.0 } else { m.classes.1 }] += 1.0;
                }
                argmax(&votes)
            })
            .collect())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let fitted = self.check_fitted(x)?;
        if fitted.machines.iter().any(|m| m.sigmoid.is_none()) {
            bail!(
                "this SVM was fitted without probability estimates; fit Svc::rbf().probability(true) \
                 (or use decision_function for ROC curves)"
            );
        }
        let decisions = self.pair_decisions(fitted, x);
        let (k, pairs) = (fitted.n_classes, fitted.machines.len());
        let mut out = Vec::with_capacity(x.rows() * k);
        for i in 0..x.rows() {
            let mut r = vec![vec![0.0; k]; k];
            for (m, d) in fitted.machines.iter().zip(&decisions[i * pairs..]) {
                let sigmoid = m.sigmoid.expect("checked above");
                let p = sigmoid_predict(*d, sigmoid).clamp(1e-7, 1.0 - 1e-7);
                r[m.classes.0][m.classes.1] = p;
                r[m.classes.1][m.classes.0] = 1.0 - p;
            }
            if k == 2 {
                out.extend([r[0][1], r[1][0]]);
            } else {
                out.extend(couple_pairwise(k, &r));
            }
        }
        Matrix::new(x.rows(), k, out)
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(Svc {
            fitted: None,
            ..self.clone()
        })
    }

    fn name(&self) -> String {
        match self.kernel {
            SvmKernel::Linear => format!("SVC(kernel='linear', C={})", self.c),
            SvmKernel::Rbf(Gamma::Value(g)) => format!("SVC(C={}, gamma={g})", self.c),
            SvmKernel::Rbf(Gamma::Auto) => format!("SVC(C={}, gamma='auto')", self.c),
            SvmKernel::Rbf(Gamma::Scale) => format!("SVC(C={})", self.c),
        }
    }
}

/// libsvm's `svm_binary_svc_probability`: decision values from 5-fold cross-validation on the
/// pair's rows (shuffled by `seed`), then Platt's sigmoid on them.
fn platt_by_cross_validation(
    source: &KernelSource,
    members: &[usize],
    positive: &[bool],
    c: f64,
    tol: f64,
    seed: u64,
) -> (f64, f64) {
    const FOLDS: usize = 5;
    let n = members.len();
    let order = Rng::new(seed).permutation(n);
    let mut decisions = vec![0.0; n];
    let mut row = vec![];
    for fold in 0..FOLDS {
        let (start, end) = (fold * n / FOLDS, (fold + 1) * n / FOLDS);
        let train: Vec<usize> = order[..start]
            .iter()
            .chain(&order[end..])
            .copied()
            .collect();
        let train_members: Vec<usize> = train.iter().map(|&t| members[t]).collect();
        let train_positive: Vec<bool> = train.iter().map(|&t| positive[t]).collect();
        let (coefs, rho) = train_pair(source, &train_members, &train_positive, c, tol);
        let support: Vec<usize> = coefs.iter().map(|&(t, _)| train_members[t]).collect();
        row.resize(support.len(), 0.0);
        for &t in &order[start..end] {
            source.row(members[t], &support, &mut row);
            decisions[t] = coefs.iter().zip(&row).map(|((_, v), k)| v * k).sum::<f64>() - rho;
        }
    }
    sigmoid_train(&decisions, positive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_two_classes_returns_the_pairwise_probability() {
        let r = vec![vec![0.0, 0.8], vec![0.2, 0.0]];
        let p = couple_pairwise(2, &r);
        assert!((p[0] - 0.8).abs() < 1e-3, "{p:?}");
    }

    #[test]
    fn platt_sigmoid_orders_decisions() {
        let decisions = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, -0.2, 0.3];
        let positive = [false, false, false, true, true, true, true, false];
        let sigmoid = sigmoid_train(&decisions, &positive);
        assert!(sigmoid_predict(2.0, sigmoid) > 0.8 && sigmoid_predict(-2.0, sigmoid) < 0.2);
    }
}
