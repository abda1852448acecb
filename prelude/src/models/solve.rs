//! Small dense solvers: Cholesky (the Gaussian process, Newton steps, least squares) and
//! L-BFGS for objectives with too many parameters for a Hessian.

/// In-place Cholesky of a row-major n x n matrix: `a` becomes the lower factor L (upper
/// triangle zeroed). Returns false when `a` is not positive definite.
pub(crate) fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    true
}

/// Solves L z = b (forward substitution).
pub(crate) fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
    z
}

/// Solves Lᵀ z = b (back substitution).
pub(crate) fn backward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
    z
}

/// Solves `a x = b` for a symmetric positive definite `a` (n x n, row-major; overwritten with
/// its factor). None when `a` is not positive definite.
pub(crate) fn cholesky_solve(a: &mut [f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    cholesky(a, n).then(|| backward(a, n, &forward(a, n, b)))
}

/// [`cholesky_solve`], adding a growing multiple of the mean diagonal when `a` is only
/// semi-definite (collinear features, no penalty) so that a step still exists.
pub(crate) fn solve_with_jitter(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let scale = (0..n).map(|i| a[i * n + i].abs()).sum::<f64>() / n.max(1) as f64;
    for jitter in [0.0, 1e-12, 1e-10, 1e-8, 1e-6] {
        let mut factor = a.to_vec();
        for i in 0..n {
            factor[i * n + i] += jitter * scale.max(1e-300);
        }
        if let Some(x) = cholesky_solve(&mut factor, n, b) {
            return Some(x);
        }
    }
    None
}

/// Where a minimisation ended.
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Minimises a smooth convex function with L-BFGS (10 pairs) and a backtracking Armijo line
/// search; `f(x, grad)` returns the value and writes the gradient. Converged when the largest
/// gradient component is below `tol`.
pub(crate) fn lbfgs(
    mut x: Vec<f64>,
    f: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    tol: f64,
    max_iter: usize,
) -> Minimum {
    const PAIRS: usize = 10;
    let n = x.len();
    let mut grad = vec![0.0; n];
    let mut value = f(&x, &mut grad);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let (mut candidate, mut candidate_grad) = (vec![0.0; n], vec![0.0; n]);
    for iteration in 0..max_iter {
        if max_abs(&grad) < tol {
            return Minimum {
                x,
                iterations: iteration,
                converged: true,
            };
        }
        // Two-loop recursion: direction = -H grad.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            axpy(-a, y, &mut q);
            alphas.push(a);
        }
        let gamma = history
            .back()
            .map_or(1.0 / max_abs(&grad).max(1.0), |(s, y, _)| {
                dot(s, y) / dot(y, y)
            });
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in history.iter().zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            axpy(a - b, s, &mut q);
        }
        let direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&grad, &direction);
        let direction = if slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            history.clear();
            slope = -dot(&grad, &grad);
            grad.iter().map(|v| -v).collect()
        } else {
            direction
        };
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for i in 0..n {
                candidate[i] = x[i] + step * direction[i];
            }
            let candidate_value = f(&candidate, &mut candidate_grad);
            if candidate_value <= value + 1e-4 * step * slope {
                let s: Vec<f64> = candidate.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = candidate_grad
                    .iter()
                    .zip(&grad)
                    .map(|(a, b)| a - b)
                    .collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
                    if history.len() == PAIRS {
                        history.pop_front();
                    }
                    history.push_back((s, y, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut candidate);
                std::mem::swap(&mut grad, &mut candidate_grad);
                value = candidate_value;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            // No decrease is representable any more: as close as floating point gets.
            let converged = max_abs(&grad) < tol.sqrt();
            return Minimum {
                x,
                iterations: iteration + 1,
                converged,
            };
        }
    }
    let converged = max_abs(&grad) < tol;
    Minimum {
        x,
        iterations: max_iter,
        converged,
    }
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_rejects_indefinite() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let b = cholesky_solve(&mut a, 2, &[2.0, 1.0]).unwrap();
        assert!((b[0] - 0.5).abs() < 1e-12 && b[1].abs() < 1e-12);
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        assert!(cholesky_solve(&mut a, 2, &[1.0, 1.0]).is_none());
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum() {
        let mut rosenbrock = |x: &[f64], g: &mut [f64]| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let min = lbfgs(vec![-1.2, 1.0], &mut rosenbrock, 1e-9, 500);
        assert!(min.converged, "{} iterations", min.iterations);
        assert!((min.x[0] - 1.0).abs() < 1e-6 && (min.x[1] - 1.0).abs() < 1e-6);
    }
}
