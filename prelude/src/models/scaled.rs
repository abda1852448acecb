//! A model behind a standard scaler fitted on its own training rows, so that cross-validation
//! never lets test rows leak into the scaling (scikit-learn's `make_pipeline(StandardScaler(),
//! model)`).

use super::{Classifier, Matrix, Regressor};
use anyhow::{bail, Result};

/// Standardises each feature (zero mean, unit population variance; constant features are only
/// centred) with statistics from the rows `fit` sees, then hands them to the model.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_wine();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
/// let raw = cross_val_score(&Svc::rbf(), &x, &y, 5, "accuracy").unwrap();
/// let scaled = cross_val_score(&Standardized::new(Svc::rbf()), &x, &y, 5, "accuracy").unwrap();
/// assert!(scaled.iter().sum::<f64>() > raw.iter().sum::<f64>());
/// ```
#[derive(Clone, Debug)]
pub struct Standardized<M> {
    model: M,
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl<M> Standardized<M> {
    /// `model` behind a scaler.
    pub fn new(model: M) -> Standardized<M> {
        Standardized {
            model,
            means: vec![],
            scales: vec![],
        }
    }

    /// The model inside (fitted on scaled features after `fit`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Standardized::new(LogisticRegression::new().c(0.5));
    /// assert_eq!(model.model().c, 0.5);
    /// ```
    pub fn model(&self) -> &M {
        &self.model
    }

    fn learn_scaling(&mut self, x: &Matrix) {
        let (n, d) = (x.rows() as f64, x.cols());
        let mut means = vec![0.0; d];
        for i in 0..x.rows() {
            for (m, v) in means.iter_mut().zip(x.row(i)) {
                *m += v;
            }
        }
        means.iter_mut().for_each(|m| *m /= n);
        let mut variances = vec![0.0; d];
        for i in 0..x.rows() {
            for ((s, v), m) in variances.iter_mut().zip(x.row(i)).zip(&means) {
                *s += (v - m) * (v - m);
            }
        }
        self.scales = variances
            .iter()
            .map(|s| {
                let std = (s / n).sqrt();
                if std > 0.0 {
                    std
                } else {
                    1.0
                }
            })
            .collect();
        self.means = means;
    }

    fn scale(&self, x: &Matrix) -> Result<Matrix> {
        if self.means.is_empty() && x.cols() > 0 {
            bail!("the model is not fitted yet; call fit(&x, &y) first");
        }
        if x.cols() != self.means.len() {
            bail!(
                "the scaler was fitted on {} features, this data has {}",
                self.means.len(),
                x.cols()
            );
        }
        let mut data = Vec::with_capacity(x.rows() * x.cols());
        for i in 0..x.rows() {
            data.extend(
                x.row(i)
                    .iter()
                    .zip(self.means.iter().zip(&self.scales))
                    .map(|(v, (m, s))| (v - m) / s),
            );
        }
        Matrix::new(x.rows(), x.cols(), data)
    }
}

impl<M: Classifier> Classifier for Standardized<M> {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        self.learn_scaling(x);
        let scaled = self.scale(x)?;
        self.model.fit(&scaled, y)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.model.predict(&self.scale(x)?)
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.model.predict_proba(&self.scale(x)?)
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(Standardized::new(self.model.unfitted()))
    }

    fn name(&self) -> String {
        format!("Standardized({})", self.model.name())
    }
}

impl<M: Regressor> Regressor for Standardized<M> {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        self.learn_scaling(x);
        let scaled = self.scale(x)?;
        self.model.fit(&scaled, y)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.model.predict(&self.scale(x)?)
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        Box::new(Standardized::new(self.model.unfitted()))
    }

    fn name(&self) -> String {
        format!("Standardized({})", self.model.name())
    }
}
