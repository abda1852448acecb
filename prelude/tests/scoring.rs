//! Scoring by name is scikit-learn's scoring: `cross_val_score(.., scoring=name)` on the same
//! folds gives the same numbers for every name the prelude accepts (fixtures from
//! fixtures/make_scoring_fixtures.py), and a scorer that cannot judge a model says why.

mod common;

use common::{assert_close, fixture, floats};
use serde_json::Value;
use std::collections::BTreeSet;
use trainbook::prelude::*;

/// Scorers that read probabilities agree to the solver's precision; those that read classes
/// agree exactly, since the predicted classes are the same.
fn tolerance(scorer: &str) -> f64 {
    if ["roc_auc", "average_precision", "neg_log_loss"]
        .iter()
        .any(|p| scorer.starts_with(p))
    {
        1e-6
    } else {
        1e-12
    }
}

#[test]
fn every_named_classifier_scorer_equals_scikit_learns_on_the_same_folds() {
    let fx = fixture("scoring");
    let model = Standardized::new(LogisticRegression::new());
    for (key, dataset) in [
        ("breast_cancer_scaled_logistic", load_breast_cancer()),
        ("wine_scaled_logistic", load_wine()),
        ("iris_scaled_logistic", load_iris()),
    ] {
        let (x, y) = (
            Matrix::features(&dataset).unwrap(),
            dataset.y_classes().unwrap(),
        );
        for (scorer, expected) in fx[key].as_object().unwrap() {
            let ours = cross_val_score(&model, &x, &y, 5, scorer.as_str())
                .unwrap_or_else(|e| panic!("{key} {scorer}: {e:#}"));
            assert_close(
                &ours,
                &floats(expected),
                tolerance(scorer),
                &format!("{key} {scorer}"),
            );
        }
    }
}

#[test]
fn every_named_regressor_scorer_equals_scikit_learns_on_the_same_folds() {
    let fx = fixture("scoring");
    let diabetes = load_diabetes();
    let (x, y) = (
        Matrix::features(&diabetes).unwrap(),
        diabetes.y_values().unwrap(),
    );
    for (scorer, expected) in fx["diabetes_ols"].as_object().unwrap() {
        let ours = cross_val_score(&LinearRegression::new(), &x, &y, 5, scorer.as_str()).unwrap();
        assert_close(&ours, &floats(expected), 1e-9, scorer);
        let result = cross_validate(
            &LinearRegression::new(),
            &x,
            &y,
            &KFold::new(5).split_rows(x.rows()).unwrap(),
            scorer.as_str(),
        )
        .unwrap();
        assert_eq!(result.metric, *scorer);
        assert_close(&result.test_scores, &floats(expected), 1e-9, scorer);
    }
}

/// A name cannot be added to `Scoring::NAMES` without a scikit-learn fixture for it.
#[test]
fn every_accepted_name_has_a_scikit_learn_fixture() {
    let fx = fixture("scoring");
    let covered: BTreeSet<&str> = fx
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_object)
        .flat_map(|scorers| scorers.keys().map(String::as_str))
        .collect();
    for name in Scoring::NAMES {
        assert!(covered.contains(name), "{name} has no fixture");
        assert_eq!(Scoring::named(name).unwrap().name(), name);
    }
}

#[test]
fn a_scorer_that_cannot_judge_the_model_says_why_before_fitting() {
    let iris = load_iris();
    let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    let err = |r: anyhow::Result<Vec<f64>>| format!("{:#}", r.unwrap_err());

    let unknown = err(cross_val_score(
        &LogisticRegression::new(),
        &x,
        &y,
        5,
        "f1-macro",
    ));
    assert!(
        unknown.contains("\"f1-macro\"") && unknown.contains("f1_macro"),
        "{unknown}"
    );

    let regressor_scorer = err(cross_val_score(&LogisticRegression::new(), &x, &y, 5, "r2"));
    assert!(
        regressor_scorer.contains("scores regressors"),
        "{regressor_scorer}"
    );

    let data = load_diabetes();
    let (xd, yd) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
    let classifier_scorer = format!(
        "{:#}",
        cross_val_score(&LinearRegression::new(), &xd, &yd, 5, "accuracy").unwrap_err()
    );
    assert!(
        classifier_scorer.contains("scores classifiers"),
        "{classifier_scorer}"
    );

    // Binary scorers on three classes: scikit-learn refuses too; the message names the fix.
    let binary = err(cross_val_score(
        &LogisticRegression::new(),
        &x,
        &y,
        5,
        "roc_auc",
    ));
    assert!(binary.contains("roc_auc_ovr"), "{binary}");
    let binary_f1 = err(cross_val_score(&LogisticRegression::new(), &x, &y, 5, "f1"));
    assert!(
        binary_f1.contains("f1") && binary_f1.contains("fold 0"),
        "{binary_f1}"
    );

    let curve = learning_curve(&LogisticRegression::new(), &x, &y, &[1.0], 5, "r2");
    assert!(format!("{:#}", curve.unwrap_err()).contains("scores regressors"));
}

#[test]
fn a_scorer_from_a_function_scores_as_the_named_one() {
    let cancer = load_breast_cancer();
    let (x, y) = (
        Matrix::features(&cancer).unwrap(),
        cancer.y_classes().unwrap(),
    );
    let model = Standardized::new(LogisticRegression::new());
    let by_hand = Scoring::labels("my_accuracy", |t: &[usize], p: &[usize]| {
        Ok(t.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / t.len() as f64)
    });
    let folds = StratifiedKFold::new(5).split_rows(&y).unwrap();
    let mine = cross_validate(&model, &x, &y, &folds, &by_hand).unwrap();
    let named = cross_validate(&model, &x, &y, &folds, "accuracy").unwrap();
    assert_eq!(mine.metric, "my_accuracy");
    assert_close(&mine.test_scores, &named.test_scores, 1e-15, "test");
    assert_close(&mine.train_scores, &named.train_scores, 1e-15, "train");

    let loss = Scoring::probabilities("log_loss", |t: &[usize], p: &Matrix| {
        log_loss(t, &p.to_rows())
    })
    .lower_is_better();
    assert_eq!(loss.name(), "neg_log_loss");
    let mine = cross_val_score(&model, &x, &y, 5, &loss).unwrap();
    let named = cross_val_score(&model, &x, &y, 5, "neg_log_loss").unwrap();
    assert_close(&mine, &named, 1e-15, "neg_log_loss");
    // The shown result names its scorer.
    let shown = cross_validate(&model, &x, &y, &folds, "f1")
        .unwrap()
        .mime_bundle();
    assert!(shown.data["text/html"].as_str().unwrap().contains("<p>f1 "));
}

#[test]
fn a_study_tunes_by_any_scoring_and_each_trial_is_the_cross_validated_mean() {
    let wine = load_wine();
    let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
    let make = |p: &Params| -> anyhow::Result<Box<dyn Classifier>> {
        Ok(Box::new(Standardized::new(
            LogisticRegression::new().c(p.float("c")?),
        )))
    };
    let mut study = Study::maximize(Space::new().log_uniform("c", 1e-3, 1.0))
        .sampler(Sampler::Grid { points: 3 });
    study.optimize_cv(&x, &y, 5, "neg_log_loss", &make).unwrap();
    for record in &study.records {
        let model = make(&record.params).unwrap();
        let scores = cross_val_score(model.as_ref(), &x, &y, 5, "neg_log_loss").unwrap();
        let mean = scores.iter().sum::<f64>() / 5.0;
        assert!((record.value.unwrap() - mean).abs() < 1e-12);
    }
    // Less regularisation fits wine's well-separated classes with more confidence.
    assert!(study.best().unwrap().params.float("c").unwrap() > 0.5);
    let regressor_scoring = study.optimize_cv(&x, &y, 5, "r2", &make);
    assert!(format!("{:#}", regressor_scoring.unwrap_err()).contains("regressors"));
}
