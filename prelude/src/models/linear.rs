//! Linear models solved exactly, as scikit-learn's: logistic regression with an L2 penalty
//! (Newton's method for two classes, L-BFGS for the multinomial case) and least squares with an
//! optional ridge penalty.

use super::solve::{dot, lbfgs, solve_with_jitter};
use super::{argmax, check_xy, check_xy_values, Classifier, Matrix, Regressor};
use anyhow::{bail, Result};

/// Logistic regression with scikit-learn's objective: `C * sum(log loss) + ||w||² / 2`, the
/// intercept unpenalised; one coefficient row for two classes, a softmax over all classes above.
///
/// Unlike scikit-learn's default (`max_iter=100`, which stops early on unscaled data), the
/// solver runs to convergence, so coefficients equal scikit-learn's converged ones; see
/// [`LogisticRegression::converged`].
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_breast_cancer();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
/// let model = Standardized::new(LogisticRegression::new());
/// let scores = cross_val_score(&model, &x, &y, 5, "accuracy").unwrap();
/// assert!(scores.iter().sum::<f64>() / 5.0 > 0.97);
/// ```
#[derive(Clone, Debug)]
pub struct LogisticRegression {
    /// Inverse penalty strength (scikit-learn's `C`); `f64::INFINITY` for no penalty.
    pub c: f64,
    /// Convergence: the largest gradient component of the mean objective.
    pub tol: f64,
    pub max_iter: usize,
    /// classes x features (one row for two classes).
    coef: Vec<f64>,
    intercept: Vec<f64>,
    n_classes: usize,
    n_features: usize,
    iterations: usize,
    converged: bool,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression::new()
    }
}

impl LogisticRegression {
    /// `C = 1`, solved to a gradient below 1e-8 (at most 1000 iterations).
    pub fn new() -> LogisticRegression {
        LogisticRegression {
            c: 1.0,
            tol: 1e-8,
            max_iter: 1000,
            coef: vec![],
            intercept: vec![],
            n_classes: 0,
            n_features: 0,
            iterations: 0,
            converged: false,
        }
    }

    /// Inverse penalty strength: smaller is a stronger penalty.
    ///
    /// ```
    /// let model = trainbook::prelude::LogisticRegression::new().c(0.1);
    /// assert_eq!(model.c, 0.1);
    /// ```
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// The coefficients after `fit`: one row for two classes (positive favours class 1), one
    /// row per class above.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![3.0]]).unwrap();
    /// let mut model = LogisticRegression::new();
    /// model.fit(&x, &[0, 0, 1, 1]).unwrap();
    /// assert!(model.coefficients().unwrap().row(0)[0] > 0.0);
    /// assert!(model.converged());
    /// ```
    pub fn coefficients(&self) -> Result<Matrix> {
        self.check_fitted(None)?;
        let rows = if self.n_classes == 2 {
            1
        } else {
            self.n_classes
        };
        Matrix::new(rows, self.n_features, self.coef.clone())
    }

    /// The intercepts after `fit` (one for two classes, one per class above).
    pub fn intercepts(&self) -> &[f64] {
        &self.intercept
    }

    /// Whether the last `fit` reached the tolerance within `max_iter` iterations.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Solver iterations the last `fit` took.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The raw scores: x·wᵀ + b (one column for two classes, one per class above).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![3.0]]).unwrap();
    /// let mut model = LogisticRegression::new();
    /// model.fit(&x, &[0, 0, 1, 1]).unwrap();
    /// assert!(model.decision_function(&x).unwrap().row(3)[0] > 0.0);
    /// ```
    pub fn decision_function(&self, x: &Matrix) -> Result<Matrix> {
        self.check_fitted(Some(x))?;
        let k = self.intercept.len();
        let mut out = Vec::with_capacity(x.rows() * k);
        for i in 0..x.rows() {
            for c in 0..k {
                let w = &self.coef[c * self.n_features..(c + 1) * self.n_features];
                out.push(dot(x.row(i), w) + self.intercept[c]);
            }
        }
        Matrix::new(x.rows(), k, out)
    }

    fn penalty(&self) -> f64 {
        if self.c.is_infinite() {
            0.0
        } else {
            1.0 / self.c
        }
    }

    fn check_fitted(&self, x: Option<&Matrix>) -> Result<()> {
        if self.intercept.is_empty() {
            bail!("the logistic regression is not fitted yet; call fit(&x, &y) first");
        }
        if let Some(x) = x {
            if x.cols() != self.n_features {
                bail!(
                    "the model was fitted on {} features, this data has {}",
                    self.n_features,
                    x.cols()
                );
            }
        }
        Ok(())
    }

    /// Two classes: Newton's method on (w, b), each step solved by Cholesky, with a
    /// backtracking line search. Quadratic convergence even on badly scaled features.
    fn fit_binary(&mut self, x: &Matrix, y: &[usize]) {
        let (n, d) = (x.rows(), x.cols());
        let p = d + 1;
        let lambda = self.penalty();
        let mut theta = vec![0.0; p];
        let objective = |theta: &[f64]| -> f64 {
            let mut loss = 0.0;
            for (i, &label) in y.iter().enumerate() {
                let z = dot(x.row(i), &theta[..d]) + theta[d];
                loss += softplus(z) - if label == 1 { z } else { 0.0 };
            }
            (loss + 0.5 * lambda * dot(&theta[..d], &theta[..d])) / n as f64
        };
        let mut value = objective(&theta);
        self.converged = false;
        self.iterations = self.max_iter;
        for iteration in 0..self.max_iter {
            let mut grad = vec![0.0; p];
            let mut hessian = vec![0.0; p * p];
            for (i, &label) in y.iter().enumerate() {
                let row = x.row(i);
                let z = dot(row, &theta[..d]) + theta[d];
                let prob = sigmoid(z);
                let residual = prob - if label == 1 { 1.0 } else { 0.0 };
                let weight = prob * (1.0 - prob);
                for a in 0..p {
                    let xa = if a < d { row[a] } else { 1.0 };
                    grad[a] += residual * xa;
                    let wa = weight * xa;
                    for b in 0..=a {
                        let xb = if b < d { row[b] } else { 1.0 };
                        hessian[a * p + b] += wa * xb;
                    }
                }
            }
            for a in 0..p {
                for b in 0..a {
                    hessian[b * p + a] = hessian[a * p + b];
                }
            }
            for a in 0..d {
                grad[a] += lambda * theta[a];
                hessian[a * p + a] += lambda;
            }
            grad.iter_mut().for_each(|g| *g /= n as f64);
            hessian.iter_mut().for_each(|h| *h /= n as f64);
            if grad.iter().all(|g| g.abs() < self.tol) {
                self.converged = true;
                self.iterations = iteration;
                break;
            }
            let Some(step) = solve_with_jitter(&hessian, p, &grad) else {
                self.iterations = iteration;
                break;
            };
            let slope = -dot(&grad, &step);
            let mut t = 1.0;
            let mut moved = false;
            for _ in 0..60 {
                let candidate: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
                let candidate_value = objective(&candidate);
                if candidate_value <= value + 1e-4 * t * slope {
                    theta = candidate;
                    value = candidate_value;
                    moved = true;
                    break;
                }
                t *= 0.5;
            }
            if !moved {
                // At the optimum to floating-point precision.
                self.converged = grad.iter().all(|g| g.abs() < self.tol.sqrt());
                self.iterations = iteration + 1;
                break;
            }
        }
        self.coef = theta[..d].to_vec();
        self.intercept = vec![theta[d]];
    }

    /// Three or more classes: the multinomial (softmax) loss over k·(d+1) parameters, by L-BFGS.
    fn fit_multinomial(&mut self, x: &Matrix, y: &[usize], k: usize) {
        let (n, d) = (x.rows(), x.cols());
        let lambda = self.penalty();
        let mut objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
            let (w, b) = theta.split_at(k * d);
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut loss = 0.0;
            let mut z = vec![0.0; k];
            for i in 0..n {
                let row = x.row(i);
                for c in 0..k {
                    z[c] = dot(row, &w[c * d..(c + 1) * d]) + b[c];
                }
                let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
                loss += max + sum.ln() - z[y[i]];
                for c in 0..k {
                    let residual = (z[c] - max).exp() / sum - if c == y[i] { 1.0 } else { 0.0 };
                    let g = &mut grad[c * d..(c + 1) * d];
                    for (gj, xj) in g.iter_mut().zip(row) {
                        *gj += residual * xj;
                    }
                    grad[k * d + c] += residual;
                }
            }
            for (g, wj) in grad[..k * d].iter_mut().zip(w) {
                *g += lambda * wj;
            }
            grad.iter_mut().for_each(|g| *g /= n as f64);
            (loss + 0.5 * lambda * dot(w, w)) / n as f64
        };
        let minimum = lbfgs(
            vec![0.0; k * (d + 1)],
            &mut objective,
            self.tol,
            self.max_iter,
        );
        self.converged = minimum.converged;
        self.iterations = minimum.iterations;
        self.coef = minimum.x[..k * d].to_vec();
        self.intercept = minimum.x[k * d..].to_vec();
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z) without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

impl Classifier for LogisticRegression {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let k = check_xy(x, y, "LogisticRegression")?;
        if k < 2 {
            bail!("LogisticRegression needs at least two classes in y, found only class 0");
        }
        if self.c.is_nan() || self.c <= 0.0 {
            bail!(
                "LogisticRegression needs C > 0 (got {}); a smaller C is a stronger penalty",
                self.c
            );
        }
        self.n_features = x.cols();
        self.n_classes = k;
        if k == 2 {
            self.fit_binary(x, y);
        } else {
            self.fit_multinomial(x, y, k);
        }
        Ok(())
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let scores = self.decision_function(x)?;
        let k = self.n_classes;
        let mut out = Vec::with_capacity(x.rows() * k);
        for i in 0..x.rows() {
            let z = scores.row(i);
            if k == 2 {
                let p = sigmoid(z[0]);
                out.extend([1.0 - p, p]);
            } else {
                let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
                out.extend(z.iter().map(|v| (v - max).exp() / sum));
            }
        }
        Matrix::new(x.rows(), k, out)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let scores = self.decision_function(x)?;
        Ok((0..x.rows())
            .map(|i| {
                let z = scores.row(i);
                if self.n_classes == 2 {
                    usize::from(z[0] > 0.0)
                } else {
                    argmax(z)
                }
            })
            .collect())
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(LogisticRegression {
            c: self.c,
            tol: self.tol,
            max_iter: self.max_iter,
            ..LogisticRegression::new()
        })
    }

    fn name(&self) -> String {
        format!("LogisticRegression(C={})", self.c)
    }
}

/// Least squares with an intercept, optionally with a ridge penalty `alpha * ||w||²` (the
/// intercept unpenalised): scikit-learn's `LinearRegression` and `Ridge`.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let mut model = LinearRegression::new();
/// model.fit(&x, &y).unwrap();
/// assert!((model.score(&x, &y).unwrap() - 0.5177).abs() < 1e-3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LinearRegression {
    /// Ridge penalty; 0 for ordinary least squares.
    pub alpha: f64,
    coef: Vec<f64>,
    intercept: f64,
    fitted: bool,
}

impl LinearRegression {
    /// Ordinary least squares.
    pub fn new() -> LinearRegression {
        LinearRegression::default()
    }

    /// Ridge regression with this penalty.
    ///
    /// ```
    /// let model = trainbook::prelude::LinearRegression::ridge(1.0);
    /// assert_eq!(model.alpha, 1.0);
    /// ```
    pub fn ridge(alpha: f64) -> LinearRegression {
        LinearRegression {
            alpha,
            ..LinearRegression::default()
        }
    }

    /// The coefficients after `fit`, one per feature.
    pub fn coefficients(&self) -> &[f64] {
        &self.coef
    }

    pub fn intercept(&self) -> f64 {
        self.intercept
    }
}

impl Regressor for LinearRegression {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        check_xy_values(x, y, "LinearRegression")?;
        if self.alpha.is_nan() || self.alpha < 0.0 {
            bail!("LinearRegression needs alpha >= 0, got {}", self.alpha);
        }
        let (n, d) = (x.rows(), x.cols());
        // Centre x and y so the intercept drops out of the normal equations.
        let mut x_mean = vec![0.0; d];
        for i in 0..n {
            for (m, v) in x_mean.iter_mut().zip(x.row(i)) {
                *m += v / n as f64;
            }
        }
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let mut gram = vec![0.0; d * d];
        let mut rhs = vec![0.0; d];
        let mut centred = vec![0.0; d];
        for (i, target) in y.iter().enumerate() {
            for (c, (v, m)) in centred.iter_mut().zip(x.row(i).iter().zip(&x_mean)) {
                *c = v - m;
            }
            let yc = target - y_mean;
            for a in 0..d {
                rhs[a] += centred[a] * yc;
                for b in 0..=a {
                    gram[a * d + b] += centred[a] * centred[b];
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                gram[b * d + a] = gram[a * d + b];
            }
            gram[a * d + a] += self.alpha;
        }
        let Some(coef) = solve_with_jitter(&gram, d, &rhs) else {
            bail!(
                "the features are linearly dependent (a column repeats or is constant); \
                 drop it or use LinearRegression::ridge(1e-3)"
            );
        };
        self.intercept = y_mean - dot(&coef, &x_mean);
        self.coef = coef;
        self.fitted = true;
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        if !self.fitted {
            bail!("the linear regression is not fitted yet; call fit(&x, &y) first");
        }
        if x.cols() != self.coef.len() {
            bail!(
                "the model was fitted on {} features, this data has {}",
                self.coef.len(),
                x.cols()
            );
        }
        Ok((0..x.rows())
            .map(|i| dot(x.row(i), &self.coef) + self.intercept)
            .collect())
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        Box::new(LinearRegression::ridge(self.alpha))
    }

    fn name(&self) -> String {
        if self.alpha == 0.0 {
            "LinearRegression()".to_string()
        } else {
            format!("Ridge(alpha={})", self.alpha)
        }
    }
}
