//! Built-in objectives: tune any classifier or regressor by cross-validation, or a network through the
//! training loop, with every fold or epoch reported to the trial so the pruner can stop it.

use super::space::Params;
use super::study::{Direction, Study, Trial};
use crate::data::DataLoader;
use crate::evaluation::{scorer_for, IntoScoring, TargetValue};
use crate::models::Matrix;
use crate::nn::Network;
use crate::train::Trainer;
use anyhow::{bail, Context, Result};

impl Trial<'_> {
    /// Trains `model` with `trainer`, reporting each epoch's validation loss to this trial (so
    /// a pruner can stop it; propagate the error with `?`), and returns the lowest validation
    /// loss of the run: the value a study should minimise when tuning a network.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let device = Device::Cpu;
    /// let moons = make_moons(200, 0.2, 0).unwrap();
    /// let x = frame_to_tensor(&moons.frame, &moons.feature_names, DType::F32, &device).unwrap();
    /// let y = labels_to_tensor(&moons.frame, "target", &device).unwrap();
    /// let (train, validation) = (DataLoader::new(x.clone(), y.clone(), 32).unwrap(), DataLoader::new(x, y, 200).unwrap());
    /// let space = Space::new().log_uniform("lr", 1e-3, 1e-1);
    /// let mut study = Study::minimize(space).sampler(Sampler::Random).trials(3).seed(0);
    /// study
    ///     .optimize(&mut |trial| {
    ///         let model = Mlp::new(MlpConfig::classifier(2, &[16], 2).seed(0))?;
    ///         let trainer = Trainer::new().epochs(3).optimizer(Optimizer::adam(trial.params.float("lr")?)).progress(Progress::Quiet);
    ///         trial.train_network(&trainer, &model, &train, &validation)
    ///     })
    ///     .unwrap();
    /// assert_eq!(study.records[0].reports.len(), 3); // one report per epoch
    /// assert!(study.best().unwrap().value.unwrap() < 0.7);
    /// ```
    pub fn train_network(
        &self,
        trainer: &Trainer,
        model: &dyn Network,
        train: &DataLoader,
        validation: &DataLoader,
    ) -> Result<f64> {
        let mut lowest = f64::INFINITY;
        trainer.fit_with(model, train, Some(validation), &mut |epoch| {
            let loss = epoch
                .validation_loss
                .context("the trainer reported no validation loss")?;
            lowest = lowest.min(loss);
            self.report(epoch.epoch, loss)
        })?;
        Ok(lowest)
    }
}

impl Study {
    /// Tunes any classifier or regressor by cross-validation (scikit-learn's
    /// `cross_val_score` folds: stratified for class labels, in row order for values), scored
    /// by `scoring` (a name such as `"accuracy"`, `"f1_macro"`, `"neg_log_loss"` or `"r2"`,
    /// or a [`Scoring`](crate::evaluation::Scoring); greater is better): `make` builds an
    /// unfitted model from a trial's parameters, each trial's value is its mean score over the
    /// folds, and the running mean after each fold is reported, so a pruner can stop a poor
    /// trial after a fold or two. Runs [`Study::jobs`] trials at once. The study must
    /// maximise. `make` comes last so that the targets `y` decide what it must return
    /// (`Box<dyn Classifier>` for class labels, `Box<dyn Regressor>` for values).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let space = Space::new().int("max_depth", 1, 4);
    /// let mut study = Study::maximize(space).sampler(Sampler::Grid { points: 2 }).jobs(2);
    /// study
    ///     .optimize_cv(&x, &y, 5, "accuracy", &|params| {
    ///         Ok(Box::new(DecisionTreeClassifier::new().max_depth(params.int("max_depth")? as usize)))
    ///     })
    ///     .unwrap();
    /// let best = study.best().unwrap();
    /// assert!(best.params.int("max_depth").unwrap() >= 2);
    /// assert!(best.value.unwrap() > 0.9);
    ///
    /// // A regressor, by the same call.
    /// let diabetes = load_diabetes();
    /// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
    /// let mut study = Study::maximize(Space::new().log_uniform("alpha", 1e-3, 1e2)).trials(6);
    /// study
    ///     .optimize_cv(&x, &y, 5, "neg_mean_squared_error", &|params| {
    ///         Ok(Box::new(LinearRegression::ridge(params.float("alpha")?)))
    ///     })
    ///     .unwrap();
    /// assert!(study.best().unwrap().value.unwrap() < 0.0);
    /// ```
    pub fn optimize_cv<Y: TargetValue>(
        &mut self,
        x: &Matrix,
        y: &[Y],
        folds: usize,
        scoring: impl IntoScoring,
        make: &(dyn Fn(&Params) -> Result<Box<Y::Model>> + Sync),
    ) -> Result<()> {
        let scoring = scorer_for::<Y>(scoring).context("optimize_cv")?;
        if self.direction == Direction::Minimize {
            bail!(
                "optimize_cv maximises the cross-validated {} (scikit-learn's scorers are all \
                 greater-is-better), but this study minimises; create it with \
                 Study::maximize(space)",
                scoring.name()
            );
        }
        if x.rows() != y.len() {
            bail!(
                "x has {} rows but y has {} targets; they must pair up",
                x.rows(),
                y.len()
            );
        }
        // Each fold's rows are copied once, not once per trial.
        let folds: Vec<(Matrix, Vec<Y>, Matrix, Vec<Y>)> = Y::default_folds(y, folds)?
            .into_iter()
            .map(|(train, test)| {
                Ok((
                    x.select_rows(&train)?,
                    train.iter().map(|&r| y[r]).collect(),
                    x.select_rows(&test)?,
                    test.iter().map(|&r| y[r]).collect(),
                ))
            })
            .collect::<Result<_>>()?;
        self.optimize_parallel(&|trial| {
            let mut total = 0.0;
            for (i, (x_train, y_train, x_test, y_test)) in folds.iter().enumerate() {
                let mut model = make(&trial.params)?;
                Y::fit(&mut model, x_train, y_train)
                    .with_context(|| format!("fitting fold {i}"))?;
                total += Y::score(&scoring, &model, x_test, y_test)?;
                trial.report(i + 1, total / (i + 1) as f64)?;
            }
            Ok(total / folds.len() as f64)
        })
    }
}
