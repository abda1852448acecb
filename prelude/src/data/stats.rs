//! Statistics of values and columns shared by inspection, cleaning and the transformers,
//! computed as numpy and scikit-learn compute them.

use super::columns::{f64_options, float_column};
use anyhow::{bail, Context, Result};
use polars::prelude::*;

/// Mean and population variance of the present (non-null, non-NaN) values, two passes.
pub(crate) fn mean_and_variance(
    train: &DataFrame,
    name: &str,
    who: &str,
) -> Result<(f64, f64, usize)> {
    let col =
        float_column(train, name).with_context(|| format!("{who} cannot fit column {name:?}"))?;
    let values = col.f64()?;
    if !values.is_nan().any() {
        // No NaN: polars' null-skipping kernels, much faster than iterating options.
        let n = values.len() - values.null_count();
        if n == 0 {
            bail!("{who}: column {name:?} has no values in the training rows (all missing)");
        }
        let m = values.mean().unwrap_or(f64::NAN);
        let var = values.var(0).unwrap_or(0.0);
        return Ok((m, var, n));
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for x in values.iter().flatten().filter(|x| !x.is_nan()) {
        sum += x;
        n += 1;
    }
    if n == 0 {
        bail!("{who}: column {name:?} has no values in the training rows (all missing)");
    }
    let m = sum / n as f64;
    let var = values
        .iter()
        .flatten()
        .filter(|x| !x.is_nan())
        .map(|x| (x - m) * (x - m))
        .sum::<f64>()
        / n as f64;
    Ok((m, var, n))
}

/// The non-missing values of a numeric column, or an error naming it.
pub(crate) fn present_values(train: &DataFrame, name: &str, who: &str) -> Result<Vec<f64>> {
    let values: Vec<f64> = f64_options(train, name)
        .with_context(|| format!("{who} cannot fit column {name:?}"))?
        .into_iter()
        .flatten()
        .collect();
    if values.is_empty() {
        bail!("{who}: column {name:?} has no values in the training rows (all missing)");
    }
    Ok(values)
}

/// scikit-learn's `_handle_zeros_in_scale`: a zero scale becomes 1 (constant columns stay 0).
pub(crate) fn nonzero_scale(scale: f64) -> f64 {
    if scale < 10.0 * f64::EPSILON {
        1.0
    } else {
        scale
    }
}

/// The q-th quantile (0..=1) of sorted values, with numpy's linear interpolation.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let index = q * (sorted.len() - 1) as f64;
    let lo = index.floor() as usize;
    let hi = index.ceil() as usize;
    let (a, b, t) = (sorted[lo], sorted[hi], index - lo as f64);
    // numpy's _lerp: interpolate from the nearer end, so t = 1 gives b exactly.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

pub(crate) fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}
