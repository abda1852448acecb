//! Pipelines that end in a model, against scikit-learn's `make_pipeline(SimpleImputer(),
//! StandardScaler(), model)` on data with missing values: the imputer and the scaler are
//! refitted inside every fold, so the fold scores equal scikit-learn's.

mod common;

use common::{assert_close, fixture, floats};
use serde_json::Value;
use trainbook::prelude::*;

/// The dataset's features with the fixture's missing values (row-major flat indices) as NaN.
fn with_missing(dataset: &Dataset, missing: &Value) -> Matrix {
    let x = Matrix::features(dataset).unwrap();
    let mut values = x.as_slice().to_vec();
    for index in missing.as_array().unwrap() {
        values[index.as_u64().unwrap() as usize] = f64::NAN;
    }
    Matrix::new(x.rows(), x.cols(), values)
        .unwrap()
        .named(&x.column_names())
        .unwrap()
}

#[test]
fn imputed_classifier_pipelines_score_as_scikit_learns() {
    let fx = &fixture("pipeline")["breast_cancer"];
    let data = load_breast_cancer();
    let x = with_missing(&data, &fx["missing"]);
    let y = data.y_classes().unwrap();
    assert!(
        LogisticRegression::new().fit(&x, &y).is_err(),
        "NaN reaches the model"
    );
    for (name, strategy) in [
        ("mean", ImputeStrategy::Mean),
        ("median", ImputeStrategy::Median),
    ] {
        let model = Imputed::new(strategy, LogisticRegression::new());
        for (scorer, expected) in fx[name].as_object().unwrap() {
            let ours = cross_val_score(&model, &x, &y, 5, scorer.as_str()).unwrap();
            // Classes agree exactly; probabilities to the solver's precision.
            let tol = if scorer == "accuracy" { 1e-12 } else { 1e-6 };
            assert_close(&ours, &floats(expected), tol, &format!("{name} {scorer}"));
        }
    }
}

#[test]
fn a_pipeline_built_by_hand_ends_in_a_regressor() {
    let fx = &fixture("pipeline")["diabetes"];
    let data = load_diabetes();
    let x = with_missing(&data, &fx["missing"]);
    let y = data.y_values().unwrap();
    let model = Pipeline::new()
        .then(Imputer::all(ImputeStrategy::Mean))
        .then(StandardScaler::all())
        .then_model(LinearRegression::ridge(1.0));
    for (scorer, expected) in fx["mean"].as_object().unwrap() {
        let ours = cross_val_score(&model, &x, &y, 5, scorer.as_str()).unwrap();
        assert_close(&ours, &floats(expected), 1e-9, scorer);
    }
    assert_eq!(
        Regressor::name(&model),
        "Imputer → StandardScaler → Ridge(alpha=1)"
    );
}

/// The transformers see only the training rows: fitted on half the data, the pipeline's
/// scaler holds that half's mean, and a matrix without names is matched by position.
#[test]
fn the_steps_are_fitted_on_the_training_rows_only() {
    let iris = load_iris();
    let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    let rows: Vec<usize> = (0..150).step_by(2).collect();
    let (x_half, y_half) = (
        x.select_rows(&rows).unwrap(),
        rows.iter().map(|&r| y[r]).collect::<Vec<_>>(),
    );
    let mut model = Standardized::new(Svc::rbf());
    assert!(model
        .predict(&x)
        .unwrap_err()
        .to_string()
        .contains("not fitted"));
    model.fit(&x_half, &y_half).unwrap();
    let PipelineStep::StandardScaler(scaler) = &model.steps().steps()[0] else {
        unreachable!()
    };
    let half_mean = x_half.to_rows().iter().map(|r| r[0]).sum::<f64>() / 75.0;
    assert!((scaler.mean().unwrap()[0] - half_mean).abs() < 1e-12);
    let unnamed = Matrix::new(x.rows(), x.cols(), x.as_slice().to_vec()).unwrap();
    assert_eq!(model.predict(&unnamed).unwrap(), model.predict(&x).unwrap());
    let narrow = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
    assert!(model
        .predict(&narrow)
        .unwrap_err()
        .to_string()
        .contains("4 columns"));
}
