//! Built-in objectives: tune a classical model by cross-validation, or a network through the
//! training loop, with every fold or epoch reported to the trial so the pruner can stop it.

use super::space::Params;
use super::study::{Direction, Study, Trial};
use crate::data::{DataLoader, StratifiedKFold};
use crate::evaluation::IntoScoring;
use crate::models::{Classifier, Matrix};
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
    /// Tunes a classifier by stratified k-fold cross-validation (scikit-learn's
    /// `cross_val_score` folds) scored by `scoring` (a name such as `"accuracy"`, `"f1_macro"`
    /// or `"neg_log_loss"`, or a [`Scoring`](crate::evaluation::Scoring); greater is better):
    /// `make` builds an unfitted model from a trial's parameters, each trial's value is its
    /// mean score over the folds, and the running mean after each
    /// fold is reported, so a pruner can stop a poor trial after a fold or two. Runs
    /// [`Study::jobs`] trials at once. The study must maximise.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let space = Space::new().int("max_depth", 1, 4);
    /// let mut study = Study::maximize(space).sampler(Sampler::Grid { points: 2 }).jobs(2);
    /// study
    ///     .optimize_classifier(
    ///         &|params| Ok(Box::new(DecisionTreeClassifier::new().max_depth(params.int("max_depth")? as usize))),
    ///         &x,
    ///         &y,
    ///         5,
    ///         "accuracy",
    ///     )
    ///     .unwrap();
    /// let best = study.best().unwrap();
    /// assert!(best.params.int("max_depth").unwrap() >= 2);
    /// assert!(best.value.unwrap() > 0.9);
    /// ```
    pub fn optimize_classifier(
        &mut self,
        make: &(dyn Fn(&Params) -> Result<Box<dyn Classifier>> + Sync),
        x: &Matrix,
        y: &[usize],
        folds: usize,
        scoring: impl IntoScoring,
    ) -> Result<()> {
        let scoring = scoring.into_scoring()?;
        scoring.check_for(true).context("optimize_classifier")?;
        if self.direction == Direction::Minimize {
            bail!(
                "optimize_classifier maximises the cross-validated {} (scikit-learn's scorers \
                 are all greater-is-better), but this study minimises; create it with \
                 Study::maximize(space)",
                scoring.name()
            );
        }
        if x.rows() != y.len() {
            bail!(
                "x has {} rows but y has {} labels; they must pair up",
                x.rows(),
                y.len()
            );
        }
        let labels: Vec<String> = y.iter().map(|c| c.to_string()).collect();
        // Each fold's rows are copied once, not once per trial.
        let folds: Vec<(Matrix, Vec<usize>, Matrix, Vec<usize>)> = StratifiedKFold::new(folds)
            .split_rows(&labels)?
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
                model
                    .fit(x_train, y_train)
                    .with_context(|| format!("fitting fold {i}"))?;
                total += scoring.score_classifier(model.as_ref(), x_test, y_test)?;
                trial.report(i + 1, total / (i + 1) as f64)?;
            }
            Ok(total / folds.len() as f64)
        })
    }
}
