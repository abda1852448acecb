//! The Gaussian-process model behind the Bayesian search: a Matérn-5/2 kernel with one length
//! scale per parameter (ARD), fitted by maximising the marginal likelihood, and expected
//! improvement maximised over random and local candidates. Points live in the unit cube.

use crate::models::solve::{backward, cholesky, forward};
use crate::random::Rng;

/// Kernel hyperparameters, in log space.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hyper {
    pub log_lengths: Vec<f64>,
    pub log_signal: f64,
    pub log_noise: f64,
}

impl Hyper {
    pub fn initial(dims: usize) -> Hyper {
        Hyper {
            log_lengths: vec![(0.3f64).ln(); dims],
            log_signal: 0.0,
            log_noise: (1e-4f64).ln(),
        }
    }
}

pub(crate) struct Gp {
    x: Vec<Vec<f64>>,
    hyper: Hyper,
    /// Lower Cholesky factor of K + noise·I, row-major n×n.
    chol: Vec<f64>,
    /// (K + noise·I)⁻¹ y.
    alpha: Vec<f64>,
    /// Targets were standardised with these.
    mean: f64,
    scale: f64,
}

fn matern52(a: &[f64], b: &[f64], hyper_lengths: &[f64], signal: f64) -> f64 {
    let r2: f64 = a
        .iter()
        .zip(b)
        .zip(hyper_lengths)
        .map(|((x, y), l)| {
            let d = (x - y) / l;
            d * d
        })
        .sum();
    let r = (5.0 * r2).sqrt();
    signal * (1.0 + r + 5.0 / 3.0 * r2) * (-r).exp()
}

/// The factorisation and the negative log marginal likelihood, or None when singular.
fn factor(x: &[Vec<f64>], y: &[f64], hyper: &Hyper) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let n = x.len();
    let lengths: Vec<f64> = hyper.log_lengths.iter().map(|l| l.exp()).collect();
    let signal = hyper.log_signal.exp();
    let noise = hyper.log_noise.exp() + 1e-8;
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v = matern52(&x[i], &x[j], &lengths, signal);
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
        k[i * n + i] += noise;
    }
    if !cholesky(&mut k, n) {
        return None;
    }
    let alpha = backward(&k, n, &forward(&k, n, y));
    let fit: f64 = y.iter().zip(&alpha).map(|(a, b)| a * b).sum::<f64>() / 2.0;
    let log_det: f64 = (0..n).map(|i| k[i * n + i].ln()).sum();
    Some((k, alpha, fit + log_det))
}

impl Gp {
    /// Fits the model to points `x` (unit cube) and values `y`, starting the hyperparameter
    /// search from `start`; returns the model and the hyperparameters found.
    pub fn fit(x: &[Vec<f64>], y: &[f64], start: &Hyper, rng: &mut Rng) -> Option<Gp> {
        let n = y.len();
        let mean = y.iter().sum::<f64>() / n as f64;
        let spread = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let scale = if spread > 1e-12 { spread } else { 1.0 };
        let z: Vec<f64> = y.iter().map(|v| (v - mean) / scale).collect();
        // A penalised likelihood: weak priors keep length scales and noise in sensible ranges.
        let objective = |h: &Hyper| -> Option<f64> {
            let (_, _, nll) = factor(x, &z, h)?;
            let prior: f64 = h
                .log_lengths
                .iter()
                .map(|l| (l - (0.3f64).ln()).powi(2) / (2.0 * 1.5f64.powi(2)))
                .sum::<f64>()
                + h.log_signal.powi(2) / 2.0
                + (h.log_noise - (1e-4f64).ln()).powi(2) / (2.0 * 3.0f64.powi(2));
            Some(nll + prior)
        };
        let mut best = start.clone();
        let mut best_value = objective(&best).unwrap_or(f64::INFINITY);
        // Coordinate search in log space, two rounds of multiplicative steps.
        for round in 0..2 {
            let steps: &[f64] = if round == 0 {
                &[1.0, -1.0, 0.4, -0.4]
            } else {
                &[0.4, -0.4, 0.15, -0.15]
            };
            let coordinates = best.log_lengths.len() + 2;
            for c in 0..coordinates {
                for &step in steps {
                    let mut candidate = best.clone();
                    match c {
                        c if c < candidate.log_lengths.len() => {
                            candidate.log_lengths[c] =
                                (candidate.log_lengths[c] + step).clamp(-5.0, 2.5)
                        }
                        c if c == candidate.log_lengths.len() => {
                            candidate.log_signal = (candidate.log_signal + step).clamp(-3.0, 3.0)
                        }
                        _ => {
                            candidate.log_noise =
                                (candidate.log_noise + 2.0 * step).clamp(-16.0, 0.0)
                        }
                    }
                    if let Some(value) = objective(&candidate) {
                        if value < best_value {
                            best_value = value;
                            best = candidate;
                        }
                    }
                }
            }
        }
        // One random restart guards against a poor start.
        let mut random = Hyper::initial(start.log_lengths.len());
        for l in &mut random.log_lengths {
            *l = rng.uniform_range(-3.0, 1.0);
        }
        if let Some(value) = objective(&random) {
            if value < best_value {
                best = random;
            }
        }
        let (chol, alpha, _) = factor(x, &z, &best)?;
        Some(Gp {
            x: x.to_vec(),
            hyper: best,
            chol,
            alpha,
            mean,
            scale,
        })
    }

    pub fn hyper(&self) -> &Hyper {
        &self.hyper
    }

    /// Posterior mean and standard deviation at `point`, in the original units.
    pub fn predict(&self, point: &[f64]) -> (f64, f64) {
        let n = self.x.len();
        let lengths: Vec<f64> = self.hyper.log_lengths.iter().map(|l| l.exp()).collect();
        let signal = self.hyper.log_signal.exp();
        let k: Vec<f64> = self
            .x
            .iter()
            .map(|xi| matern52(xi, point, &lengths, signal))
            .collect();
        let mean: f64 = k.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let v = forward(&self.chol, n, &k);
        let variance = (signal - v.iter().map(|x| x * x).sum::<f64>()).max(1e-12);
        (self.mean + self.scale * mean, self.scale * variance.sqrt())
    }

    /// Expected improvement below `best` (minimisation).
    pub fn expected_improvement(&self, point: &[f64], best: f64) -> f64 {
        let (mean, std) = self.predict(point);
        let xi = 0.01 * self.scale;
        let gain = best - mean - xi;
        let z = gain / std;
        gain * normal_cdf(z) + std * normal_pdf(z)
    }

    /// The candidate with the highest expected improvement: random points, then local moves
    /// around the best of them and around the best points seen.
    pub fn propose(&self, best: f64, incumbents: &[Vec<f64>], rng: &mut Rng) -> Vec<f64> {
        let d = self.x.first().map_or(0, Vec::len);
        let mut scored: Vec<(f64, Vec<f64>)> = (0..1000)
            .map(|_| {
                let p: Vec<f64> = (0..d).map(|_| rng.uniform()).collect();
                (self.expected_improvement(&p, best), p)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(5);
        for incumbent in incumbents {
            scored.push((
                self.expected_improvement(incumbent, best),
                incumbent.clone(),
            ));
        }
        let mut champion = scored[0].clone();
        for (value, start) in scored {
            let (mut current_value, mut current) = (value, start);
            let mut radius = 0.1;
            for _ in 0..40 {
                let candidate: Vec<f64> = current
                    .iter()
                    .map(|c| (c + radius * rng.normal()).clamp(0.0, 1.0))
                    .collect();
                let ei = self.expected_improvement(&candidate, best);
                if ei > current_value {
                    current_value = ei;
                    current = candidate;
                } else {
                    radius = (radius * 0.85).max(1e-3);
                }
            }
            if current_value > champion.0 {
                champion = (current_value, current);
            }
        }
        champion.1
    }
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ(z) through erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_posterior_interpolates_and_the_cdf_is_right() {
        let x: Vec<Vec<f64>> = (0..8).map(|i| vec![i as f64 / 7.0]).collect();
        let y: Vec<f64> = x.iter().map(|p| (6.0 * p[0]).sin()).collect();
        let gp = Gp::fit(&x, &y, &Hyper::initial(1), &mut Rng::new(0)).unwrap();
        for (p, v) in x.iter().zip(&y) {
            let (mean, std) = gp.predict(p);
            assert!(
                (mean - v).abs() < 0.05 && std < 0.1,
                "{mean} vs {v}, std {std}"
            );
        }
        let (_, far) = gp.predict(&[0.5 / 7.0]);
        assert!(far > 0.0);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-6);
    }
}
