//! Regression metrics.

use super::check_pair;
use anyhow::Result;

fn residuals<'a>(
    what: &str,
    y_true: &'a [f64],
    y_pred: &'a [f64],
) -> Result<impl Iterator<Item = (f64, f64)> + 'a> {
    check_pair(what, y_true.len(), y_pred.len())?;
    Ok(y_true.iter().copied().zip(y_pred.iter().copied()))
}

/// Mean of squared errors.
///
/// ```
/// use trainbook::metrics::mean_squared_error;
/// assert_eq!(mean_squared_error(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap(), 0.375);
/// ```
pub fn mean_squared_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    let sum: f64 = residuals("mean_squared_error", y_true, y_pred)?
        .map(|(t, p)| (t - p) * (t - p))
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Square root of the mean squared error, in the target's units.
///
/// ```
/// use trainbook::metrics::root_mean_squared_error;
/// assert_eq!(root_mean_squared_error(&[1.0, 2.0], &[1.0, 4.0]).unwrap(), 2.0f64.sqrt());
/// ```
pub fn root_mean_squared_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    Ok(mean_squared_error(y_true, y_pred)?.sqrt())
}

/// Mean of absolute errors.
///
/// ```
/// use trainbook::metrics::mean_absolute_error;
/// assert_eq!(mean_absolute_error(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap(), 0.5);
/// ```
pub fn mean_absolute_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    let sum: f64 = residuals("mean_absolute_error", y_true, y_pred)?
        .map(|(t, p)| (t - p).abs())
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Mean absolute error relative to the true value (a fraction, not a percent); a true value of
/// 0 is divided by machine epsilon, as scikit-learn does.
///
/// ```
/// use trainbook::metrics::mean_absolute_percentage_error;
/// assert_eq!(mean_absolute_percentage_error(&[2.0, 4.0], &[1.0, 5.0]).unwrap(), 0.375);
/// ```
pub fn mean_absolute_percentage_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    let sum: f64 = residuals("mean_absolute_percentage_error", y_true, y_pred)?
        .map(|(t, p)| (t - p).abs() / t.abs().max(f64::EPSILON))
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Coefficient of determination. A constant `y_true` gives 1 for a perfect fit and 0 otherwise
/// (scikit-learn's `force_finite=True`).
///
/// ```
/// use trainbook::metrics::r2_score;
/// let r2 = r2_score(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap();
/// assert!((r2 - 0.9486081370449679).abs() < 1e-15);
/// ```
pub fn r2_score(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    let residual: f64 = residuals("r2_score", y_true, y_pred)?
        .map(|(t, p)| (t - p) * (t - p))
        .sum();
    let mean = y_true.iter().sum::<f64>() / y_true.len() as f64;
    let total: f64 = y_true.iter().map(|t| (t - mean) * (t - mean)).sum();
    Ok(if total == 0.0 {
        if residual == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - residual / total
    })
}
