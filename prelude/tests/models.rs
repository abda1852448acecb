//! Classical models against scikit-learn's answers in fixtures/models.json (made by
//! fixtures/make_model_fixtures.py).

use serde_json::Value;
use trainbook::prelude::*;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/models.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn kmeans_on_digits_matches_sklearn_quality() {
    let fx = fixtures();
    let digits = load_digits();
    let x = Matrix::features(&digits).unwrap();
    let y: Vec<i64> = digits
        .y_classes()
        .unwrap()
        .iter()
        .map(|&c| c as i64)
        .collect();
    let (mut aris, mut inertias) = (vec![], vec![]);
    for seed in 0..5 {
        let mut kmeans = KMeans::new(10).seed(seed);
        let labels = kmeans.fit_predict(&x).unwrap();
        aris.push(adjusted_rand_score(&y, &labels).unwrap());
        inertias.push(kmeans.inertia);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let sk_ari = mean(&floats(&fx["kmeans_digits"]["ari"]));
    let sk_best_inertia = floats(&fx["kmeans_digits"]["inertia"])
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!(
        mean(&aris) >= sk_ari - 0.01,
        "ARI {aris:?} vs scikit-learn's mean {sk_ari}"
    );
    // Inertia within 0.5% of scikit-learn's best over 10 seeds (k-means finds local optima).
    let ours = inertias.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        ours <= sk_best_inertia * 1.005,
        "inertia {ours} vs {sk_best_inertia}"
    );
    // Same seed, same clustering.
    let again = KMeans::new(10).seed(0).fit_predict(&x).unwrap();
    assert_eq!(
        adjusted_rand_score(&again, &KMeans::new(10).seed(0).fit_predict(&x).unwrap()).unwrap(),
        1.0
    );
}

#[test]
fn dbscan_labels_match_sklearn() {
    let fx = fixtures();
    let points: Vec<Vec<f64>> = fx["dbscan"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let x = Matrix::from_rows(&points).unwrap();
    for (key, expected) in fx["dbscan"]["labels"].as_object().unwrap() {
        let (eps, min_samples) = key.split_once('_').unwrap();
        let expected: Vec<i64> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let labels = Dbscan::new(eps.parse().unwrap(), min_samples.parse().unwrap())
            .fit_predict(&x)
            .unwrap();
        // Same noise points, same partition of the rest (cluster numbers may differ only for
        // border points reachable from two clusters; there are none here).
        let noise = |l: &[i64]| l.iter().map(|&v| v == -1).collect::<Vec<_>>();
        assert_eq!(noise(&labels), noise(&expected), "{key}: noise points");
        assert_eq!(
            adjusted_rand_score(&expected, &labels).unwrap(),
            1.0,
            "{key}"
        );
        assert_eq!(
            labels, expected,
            "{key}: cluster numbering in order of first core sample"
        );
    }
}

#[test]
fn model_errors_say_what_to_do() {
    let x = Matrix::from_rows(&[vec![0.0, 1.0], vec![2.0, f64::NAN]]).unwrap();
    let err = KMeans::new(1).fit(&x).unwrap_err().to_string();
    assert!(
        err.contains("non-finite") && err.contains("fill or drop"),
        "{err}"
    );
    let small = Matrix::from_rows(&[vec![0.0], vec![1.0]]).unwrap();
    let err = KMeans::new(3).fit(&small).unwrap_err().to_string();
    assert!(err.contains("n_clusters = 3 for 2 samples"), "{err}");
    let err = KMeans::new(2).predict(&small).unwrap_err().to_string();
    assert!(err.contains("not fitted"), "{err}");
    let mut fitted = KMeans::new(2);
    fitted.fit(&small).unwrap();
    let wide = Matrix::from_rows(&[vec![0.0, 1.0]]).unwrap();
    assert!(fitted
        .predict(&wide)
        .unwrap_err()
        .to_string()
        .contains("fitted on 1 features"));
    let err = Dbscan::new(0.0, 5).fit(&small).unwrap_err().to_string();
    assert!(err.contains("eps > 0"), "{err}");
    let err = Matrix::from_rows(&[vec![1.0], vec![1.0, 2.0]])
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 1 has 2 values but row 0 has 1"), "{err}");
}

#[test]
fn trees_and_forests_reach_sklearn_accuracy() {
    let fx = fixtures();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (name, data) in [
        ("iris", load_iris()),
        ("breast_cancer", load_breast_cancer()),
    ] {
        let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
        let ours: Vec<f64> = (0..3)
            .map(|seed| {
                mean(
                    &cross_val_score(&DecisionTreeClassifier::new().seed(seed), &x, &y, 5).unwrap(),
                )
            })
            .collect();
        let theirs = mean(&floats(&fx["tree_cv5"][name]));
        assert!(
            mean(&ours) >= theirs - 0.015,
            "{name}: tree {ours:?} vs scikit-learn {theirs}"
        );
    }
    let digits = load_digits();
    let (x, y) = (
        Matrix::features(&digits).unwrap(),
        digits.y_classes().unwrap(),
    );
    let scores = cross_val_score(&RandomForestClassifier::new(100), &x, &y, 5).unwrap();
    let theirs = mean(&floats(&fx["forest_digits_cv5"]));
    assert!(
        mean(&scores) >= theirs - 0.01,
        "forest {scores:?} vs scikit-learn {theirs}"
    );
    // Fitted on everything, a full tree reproduces its training labels.
    let mut tree = DecisionTreeClassifier::new();
    tree.fit(&x, &y).unwrap();
    assert_eq!(tree.score(&x, &y).unwrap(), 1.0);
    let proba = tree.predict_proba(&x).unwrap();
    assert_eq!((proba.rows(), proba.cols()), (1797, 10));
    // Errors.
    let err = tree.fit(&x, &y[..10]).unwrap_err().to_string();
    assert!(err.contains("1797 rows but y has 10 labels"), "{err}");
    let err = RandomForestClassifier::new(10)
        .predict(&x)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not fitted"), "{err}");
    let err = cross_val_score(&DecisionTreeClassifier::new(), &x, &y, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 2 folds"), "{err}");
}

#[test]
fn learning_curves_and_diagnosis_tell_over_from_underfitting() {
    let digits = load_digits();
    let (x, y) = (
        Matrix::features(&digits).unwrap(),
        digits.y_classes().unwrap(),
    );
    // A stump cannot fit ten classes: underfitting, whatever the data size.
    let stump = learning_curve(
        &DecisionTreeClassifier::new().max_depth(1),
        &x,
        &y,
        &[0.5, 1.0],
        5,
    )
    .unwrap();
    assert!(
        matches!(stump.diagnose(0.9), Diagnosis::Underfitting { .. }),
        "{stump:?}"
    );
    // A fully grown tree memorises its training rows: overfitting.
    let tree = learning_curve(&DecisionTreeClassifier::new(), &x, &y, &[0.2, 0.6, 1.0], 5).unwrap();
    assert_eq!(tree.train_scores, [1.0, 1.0, 1.0]);
    assert!(
        tree.validation_scores[0] < tree.validation_scores[2],
        "more data helps: {tree:?}"
    );
    let diagnosis = tree.diagnose(0.9);
    assert!(
        matches!(
            diagnosis,
            Diagnosis::Overfitting {
                from_epoch: None,
                ..
            }
        ),
        "{diagnosis:?}"
    );
    assert!(diagnosis.explain().contains("dropout"));
    let svg = tree.chart().to_svg().unwrap();
    assert!(svg.contains("validation") && svg.contains("training samples"));
    // Histories: still improving is fine; a flat loss is underfitting; errors say why.
    assert_eq!(
        diagnose_history(&[1.0, 0.5, 0.3], &[1.1, 0.6, 0.4]).unwrap(),
        Diagnosis::Fine
    );
    assert!(matches!(
        diagnose_history(&[1.0, 0.95, 0.93], &[1.0, 0.96, 0.95]).unwrap(),
        Diagnosis::Underfitting { .. }
    ));
    let err = diagnose_history(&[1.0], &[1.0, 2.0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("got 1 and 2"), "{err}");
    let err = learning_curve(&DecisionTreeClassifier::new(), &x, &y, &[1.5], 5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("(0, 1]"), "{err}");
}
