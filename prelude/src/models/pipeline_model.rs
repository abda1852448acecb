//! A data [`Pipeline`] that ends in a model (scikit-learn's `make_pipeline(scaler, model)`):
//! the transformers are fitted on the rows the model is fitted on, so cross-validation,
//! learning curves and searches never let a fold's test rows reach a scaler's mean or an
//! imputer's fill value. It is a classifier when its model is one, a regressor when its model
//! is one, so everything that takes a model takes it.

use super::{Classifier, Matrix, Regressor};
use crate::data::{ImputeStrategy, Imputer, Pipeline, StandardScaler, TrainFrame, Transformer};
use anyhow::{bail, Context, Result};

/// Transformers, then a model. Built by [`Pipeline::then_model`]; [`Standardized`] and
/// [`Imputed`] are the two common ones.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
/// let model = Pipeline::new().then(StandardScaler::all()).then_model(Svc::rbf());
/// let scores = cross_val_score(&model, &x, &y, 5, "accuracy").unwrap();
/// assert!(scores.iter().sum::<f64>() / 5.0 > 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct PipelineModel<M> {
    steps: Pipeline,
    model: M,
    /// Fitted: the names the input columns had, and the columns handed to the model.
    inputs: Vec<String>,
    features: Vec<String>,
}

impl Pipeline {
    /// This pipeline followed by `model`: fitting the result fits each transformer on the
    /// training rows, then the model on their output.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let diabetes = load_diabetes();
    /// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
    /// let mut model = Pipeline::new().then(StandardScaler::all()).then_model(LinearRegression::ridge(1.0));
    /// model.fit(&x, &y).unwrap();
    /// assert!(model.score(&x, &y).unwrap() > 0.5);
    /// ```
    pub fn then_model<M>(self, model: M) -> PipelineModel<M> {
        PipelineModel {
            steps: self,
            model,
            inputs: vec![],
            features: vec![],
        }
    }
}

impl<M> PipelineModel<M> {
    /// The model at the end (fitted on the transformed rows after `fit`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Standardized::new(LogisticRegression::new().c(0.5));
    /// assert_eq!(model.model().c, 0.5);
    /// ```
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The transformers before the model (fitted after `fit`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let mut model = Standardized::new(LogisticRegression::new());
    /// model.fit(&x, &y).unwrap();
    /// let PipelineStep::StandardScaler(scaler) = &model.steps().steps()[0] else { unreachable!() };
    /// assert!((scaler.mean().unwrap()[0] - 5.8433).abs() < 1e-4);
    /// ```
    pub fn steps(&self) -> &Pipeline {
        &self.steps
    }

    /// Fits the transformers on `x` (its columns named as [`Matrix::column_names`] says) and
    /// returns what the model is fitted on.
    fn fit_steps(&mut self, x: &Matrix) -> Result<Matrix> {
        self.inputs = x.column_names();
        let train = TrainFrame::assume_training(x.to_frame()?);
        let transformed = self
            .steps
            .fit_transform(&train)
            .context("fitting the pipeline's transformers")?;
        self.features = transformed
            .get_column_names()
            .iter()
            .map(|name| name.to_string())
            .collect();
        Matrix::from_frame(&transformed, &self.features)
            .context("handing the pipeline's output to the model")
    }

    /// `x` through the fitted transformers. Columns are matched by position, under the names
    /// they had in `fit`, so a matrix built without names works too.
    fn transform(&self, x: &Matrix) -> Result<Matrix> {
        if self.inputs.is_empty() {
            bail!("the pipeline is not fitted yet; call fit(&x, &y) first");
        }
        if x.cols() != self.inputs.len() {
            bail!(
                "the pipeline was fitted on {} columns, this data has {}",
                self.inputs.len(),
                x.cols()
            );
        }
        let frame = x.clone().named(&self.inputs)?.to_frame()?;
        let transformed = self.steps.transform(&frame)?;
        Matrix::from_frame(&transformed, &self.features)
    }

    fn describe(&self, model: String) -> String {
        let steps: Vec<&str> = self
            .steps
            .steps()
            .iter()
            .map(|step| step.transformer().name())
            .collect();
        if steps.is_empty() {
            model
        } else {
            format!("{} → {model}", steps.join(" → "))
        }
    }
}

impl<M: Classifier + 'static> Classifier for PipelineModel<M> {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        let transformed = self.fit_steps(x)?;
        self.model.fit(&transformed, y)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.model.predict(&self.transform(x)?)
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        self.model.predict_proba(&self.transform(x)?)
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(self.steps.clone().then_model(self.model.unfitted()))
    }

    fn name(&self) -> String {
        self.describe(self.model.name())
    }
}

impl<M: Regressor + 'static> Regressor for PipelineModel<M> {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        let transformed = self.fit_steps(x)?;
        self.model.fit(&transformed, y)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.model.predict(&self.transform(x)?)
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        Box::new(self.steps.clone().then_model(self.model.unfitted()))
    }

    fn name(&self) -> String {
        self.describe(self.model.name())
    }
}

/// A model behind a standard scaler fitted on its own training rows (scikit-learn's
/// `make_pipeline(StandardScaler(), model)`): a short name for
/// `Pipeline::new().then(StandardScaler::all()).then_model(model)`.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_wine();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
/// let raw = cross_val_score(&Svc::rbf(), &x, &y, 5, "accuracy").unwrap();
/// let scaled = cross_val_score(&Standardized::new(Svc::rbf()), &x, &y, 5, "accuracy").unwrap();
/// assert!(scaled.iter().sum::<f64>() > raw.iter().sum::<f64>());
/// ```
pub struct Standardized;

impl Standardized {
    /// `model` behind a standard scaler of every column.
    // A name for a pipeline rather than a type of its own, so that everything that takes a
    // pipeline takes it; `new` keeps the spelling notebooks use.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<M>(model: M) -> PipelineModel<M> {
        Pipeline::new()
            .then(StandardScaler::all())
            .then_model(model)
    }
}

/// A model behind an imputer and a standard scaler, both fitted on its own training rows
/// (scikit-learn's `make_pipeline(SimpleImputer(strategy), StandardScaler(), model)`), for
/// features with missing values (NaN), which models refuse.
///
/// ```
/// use trainbook::prelude::*;
/// let x = Matrix::from_rows(&[vec![1.0, f64::NAN], vec![2.0, 1.0], vec![8.0, 9.0], vec![9.0, 8.0]]).unwrap();
/// let y = [0, 0, 1, 1];
/// assert!(LogisticRegression::new().fit(&x, &y).is_err());
/// let mut model = Imputed::new(ImputeStrategy::Median, LogisticRegression::new());
/// model.fit(&x, &y).unwrap();
/// assert_eq!(model.predict(&x).unwrap(), y);
/// ```
pub struct Imputed;

impl Imputed {
    /// `model` behind an imputer (`strategy`) and a standard scaler of every column.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<M>(strategy: ImputeStrategy, model: M) -> PipelineModel<M> {
        Pipeline::new()
            .then(Imputer::all(strategy))
            .then(StandardScaler::all())
            .then_model(model)
    }
}
