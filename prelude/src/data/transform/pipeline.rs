//! Transformers applied in order, refitted inside every cross-validation fold.

use super::Transformer;
use super::{
    Imputer, MinMaxScaler, OneHotEncoder, OrdinalEncoder, OutlierClipper, RobustScaler,
    StandardScaler,
};
use crate::data::split::TrainFrame;
use crate::data::split::{Fold, TestFrame};
use crate::display::{MimeBundle, Render};
use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares [`PipelineStep`] from one list of transformer types: the enum (serializable, so a
/// fitted pipeline saves as JSON), `From` for each type, and the dispatch to each step.
macro_rules! pipeline_steps {
    ($($t:ident),*) => {
        /// A step of a [`Pipeline`]: one of the prelude's transformers. Any of them converts
        /// into a step, so `Pipeline::then` takes the transformer itself.
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub enum PipelineStep {
            $($t($t),)*
        }
        $(impl From<$t> for PipelineStep {
            fn from(t: $t) -> PipelineStep {
                PipelineStep::$t(t)
            }
        })*
        impl PipelineStep {
            /// The transformer of this step.
            ///
            /// ```
            /// use trainbook::prelude::*;
            /// let step = PipelineStep::from(StandardScaler::all());
            /// assert_eq!(step.transformer().name(), "StandardScaler");
            /// ```
            pub fn transformer(&self) -> &dyn Transformer {
                match self { $(PipelineStep::$t(t) => t,)* }
            }
            fn inner_mut(&mut self) -> &mut dyn Transformer {
                match self { $(PipelineStep::$t(t) => t,)* }
            }
            fn bundle(&self) -> MimeBundle {
                match self { $(PipelineStep::$t(t) => t.mime_bundle(),)* }
            }
        }
    };
}
pipeline_steps!(
    StandardScaler,
    MinMaxScaler,
    RobustScaler,
    Imputer,
    OneHotEncoder,
    OrdinalEncoder,
    OutlierClipper
);

/// Transformers applied in order; fitting fits each on the output of the ones before.
/// [`Pipeline::fit_folds`] refits a fresh copy inside every cross-validation fold, so no
/// fold's test rows ever reach the statistics it is scaled with.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let features = iris.feature_names.clone();
/// let pipeline = Pipeline::new().then(StandardScaler::new(&features));
/// let folds = StratifiedKFold::new(5).split(&iris.frame, "target").unwrap();
/// let prepared = pipeline.fit_folds(&folds).unwrap();
/// assert_eq!(prepared.len(), 5);
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Pipeline {
    steps: Vec<PipelineStep>,
}

/// A fold after its own pipeline was fitted on its training rows.
#[derive(Clone, Debug)]
pub struct PreparedFold {
    pub index: usize,
    pub pipeline: Pipeline,
    pub train: TrainFrame,
    pub test: TestFrame,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

impl Pipeline {
    /// An empty pipeline (transforms nothing until steps are added).
    ///
    /// ```
    /// assert!(trainbook::prelude::Pipeline::new().steps().is_empty());
    /// ```
    pub fn new() -> Pipeline {
        Pipeline { steps: vec![] }
    }

    /// The steps in order (fitted once the pipeline is).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("x" => [1.0, 3.0]).unwrap());
    /// let mut pipeline = Pipeline::new().then(StandardScaler::new(&["x"]));
    /// pipeline.fit(&train).unwrap();
    /// let PipelineStep::StandardScaler(scaler) = &pipeline.steps()[0] else { unreachable!() };
    /// assert_eq!(scaler.mean().unwrap(), [2.0]);
    /// ```
    pub fn steps(&self) -> &[PipelineStep] {
        &self.steps
    }

    /// Adds a step at the end.
    pub fn then(mut self, step: impl Into<PipelineStep>) -> Pipeline {
        self.steps.push(step.into());
        self
    }

    /// A copy fitted on one fold's training rows, and both sides transformed by it.
    pub fn fit_fold(&self, fold: &Fold) -> Result<PreparedFold> {
        let mut pipeline = self.clone();
        let train = pipeline
            .fit_transform(&fold.train)
            .with_context(|| format!("fold {}", fold.index))?;
        let test = pipeline.transform_test(&fold.test)?;
        Ok(PreparedFold {
            index: fold.index,
            pipeline,
            train,
            test,
            train_rows: fold.train_rows.clone(),
            test_rows: fold.test_rows.clone(),
        })
    }

    /// [`fit_fold`](Pipeline::fit_fold) for every fold.
    pub fn fit_folds(&self, folds: &[Fold]) -> Result<Vec<PreparedFold>> {
        folds.iter().map(|fold| self.fit_fold(fold)).collect()
    }
}

impl Transformer for Pipeline {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        self.fit_transform(train).map(|_| ())
    }
    fn fit_transform(&mut self, train: &TrainFrame) -> Result<TrainFrame> {
        let mut current = train.clone();
        for (i, step) in self.steps.iter_mut().enumerate() {
            current = step
                .inner_mut()
                .fit_transform(&current)
                .with_context(|| format!("pipeline step {i} ({})", step.transformer().name()))?;
        }
        Ok(current)
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        let mut current = frame.clone();
        for (i, step) in self.steps.iter().enumerate() {
            current = step
                .transformer()
                .transform(&current)
                .with_context(|| format!("pipeline step {i} ({})", step.transformer().name()))?;
        }
        Ok(current)
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        let mut current = frame.clone();
        for step in self.steps.iter().rev() {
            current = step.transformer().inverse_transform(&current)?;
        }
        Ok(current)
    }
    fn name(&self) -> &'static str {
        "Pipeline"
    }
}

impl Render for Pipeline {
    fn mime_bundle(&self) -> MimeBundle {
        let parts: Vec<MimeBundle> = self.steps.iter().map(PipelineStep::bundle).collect();
        let text = parts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "step {i}: {}",
                    b.data
                        .get("text/plain")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let html = parts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "<div><b>step {i}</b>{}</div>",
                    b.data
                        .get("text/html")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                )
            })
            .collect::<String>();
        MimeBundle::text(text).with("text/html", html)
    }
}
