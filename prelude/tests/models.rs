//! Classical models against scikit-learn's answers in fixtures/models.json (made by
//! fixtures/make_model_fixtures.py).

mod common;

use common::{assert_close, fixture, floats};
use serde_json::Value;
use trainbook::prelude::*;

#[test]
fn kmeans_on_digits_matches_sklearn_quality() {
    let fx = fixture("models");
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
        inertias.push(kmeans.inertia().unwrap());
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
    let fx = fixture("models");
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
    let fx = fixture("models");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (name, data) in [
        ("iris", load_iris()),
        ("breast_cancer", load_breast_cancer()),
    ] {
        let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
        let ours: Vec<f64> = (0..3)
            .map(|seed| {
                mean(
                    &cross_val_score(
                        &DecisionTreeClassifier::new().seed(seed),
                        &x,
                        &y,
                        5,
                        "accuracy",
                    )
                    .unwrap(),
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
    let scores = cross_val_score(&RandomForestClassifier::new(100), &x, &y, 5, "accuracy").unwrap();
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
    let err = cross_val_score(&DecisionTreeClassifier::new(), &x, &y, 1, "accuracy")
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
        "accuracy",
    )
    .unwrap();
    assert!(
        matches!(stump.diagnose(0.9), Diagnosis::Underfitting { .. }),
        "{stump:?}"
    );
    // A fully grown tree memorises its training rows: overfitting.
    let tree = learning_curve(
        &DecisionTreeClassifier::new(),
        &x,
        &y,
        &[0.2, 0.6, 1.0],
        5,
        "accuracy",
    )
    .unwrap();
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
    let err = learning_curve(
        &DecisionTreeClassifier::new(),
        &x,
        &y,
        &[1.5],
        5,
        "accuracy",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("(0, 1]"), "{err}");
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

/// Standardised with population statistics over all rows (StandardScaler().fit_transform).
fn standardized(x: &Matrix) -> Matrix {
    let (n, d) = (x.rows(), x.cols());
    let mut data = x.as_slice().to_vec();
    for j in 0..d {
        let m = (0..n).map(|i| x.row(i)[j]).sum::<f64>() / n as f64;
        let s = ((0..n).map(|i| (x.row(i)[j] - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        for i in 0..n {
            data[i * d + j] = (x.row(i)[j] - m) / s;
        }
    }
    Matrix::new(n, d, data).unwrap()
}

#[test]
fn logistic_regression_matches_sklearn_converged_coefficients() {
    let fx = &fixture("models")["logistic"];
    let cancer = load_breast_cancer();
    let (x, y) = (
        Matrix::features(&cancer).unwrap(),
        cancer.y_classes().unwrap(),
    );
    let scaled = standardized(&x);
    let mut binary = LogisticRegression::new();
    binary.fit(&scaled, &y).unwrap();
    assert!(binary.converged(), "{} iterations", binary.iterations());
    let coef = binary.coefficients().unwrap();
    assert_close(
        coef.as_slice(),
        &rows(&fx["binary_scaled_coef"]).concat(),
        1e-5,
        "binary coef",
    );
    assert_close(
        binary.intercepts(),
        &floats(&fx["binary_scaled_intercept"]),
        1e-5,
        "binary intercept",
    );
    let proba = binary
        .predict_proba(&scaled.select_rows(&[0, 1, 2, 3, 4]).unwrap())
        .unwrap();
    assert_close(
        proba.as_slice(),
        &rows(&fx["binary_scaled_proba_first5"]).concat(),
        1e-6,
        "binary proba",
    );

    let iris = load_iris();
    let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    let mut multinomial = LogisticRegression::new().c(0.5);
    multinomial.fit(&x, &y).unwrap();
    assert!(multinomial.converged());
    assert_close(
        multinomial.coefficients().unwrap().as_slice(),
        &rows(&fx["iris_c0.5_coef"]).concat(),
        1e-5,
        "multinomial coef",
    );
    assert_close(
        multinomial.intercepts(),
        &floats(&fx["iris_c0.5_intercept"]),
        1e-5,
        "multinomial intercept",
    );
    let proba = multinomial
        .predict_proba(&x.select_rows(&[0, 1, 2, 3, 4]).unwrap())
        .unwrap();
    assert_close(
        proba.as_slice(),
        &rows(&fx["iris_c0.5_proba_first5"]).concat(),
        1e-6,
        "multinomial proba",
    );
}

#[test]
fn logistic_regression_cross_validates_like_sklearn_on_breast_cancer() {
    let fx = &fixture("models")["logistic"];
    let cancer = load_breast_cancer();
    let (x, y) = (
        Matrix::features(&cancer).unwrap(),
        cancer.y_classes().unwrap(),
    );
    // Raw features: badly scaled, Newton still converges to scikit-learn's converged answer.
    let raw = cross_val_score(&LogisticRegression::new(), &x, &y, 5, "accuracy").unwrap();
    assert_close(
        &raw,
        &floats(&fx["breast_cancer_raw_cv5"]),
        1e-9,
        "raw folds",
    );
    // The goal: 5-fold accuracy >= 0.95, standardised inside each fold.
    let scaled = cross_val_score(
        &Standardized::new(LogisticRegression::new()),
        &x,
        &y,
        5,
        "accuracy",
    )
    .unwrap();
    assert_close(
        &scaled,
        &floats(&fx["breast_cancer_scaled_cv5"]),
        1e-9,
        "scaled folds",
    );
    assert!(mean(&scaled) >= 0.95, "{scaled:?}");
    // Errors.
    let err = LogisticRegression::new()
        .c(0.0)
        .fit(&x, &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("C > 0"), "{err}");
    let err = LogisticRegression::new()
        .fit(&x, &vec![0; x.rows()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least two classes"), "{err}");
    let err = LogisticRegression::new()
        .predict(&x)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not fitted"), "{err}");
}

#[test]
fn linear_and_tree_regressors_match_sklearn_on_diabetes() {
    let fx = &fixture("models")["linear_regression"];
    let diabetes = load_diabetes();
    let (x, y) = (
        Matrix::features(&diabetes).unwrap(),
        diabetes.y_values().unwrap(),
    );
    let mut ols = LinearRegression::new();
    ols.fit(&x, &y).unwrap();
    assert_close(
        ols.coefficients(),
        &floats(&fx["ols_coef"]),
        1e-8,
        "ols coef",
    );
    assert!((ols.intercept() - fx["ols_intercept"].as_f64().unwrap()).abs() < 1e-8);
    let mut ridge = LinearRegression::ridge(1.0);
    ridge.fit(&x, &y).unwrap();
    assert_close(
        ridge.coefficients(),
        &floats(&fx["ridge1_coef"]),
        1e-8,
        "ridge coef",
    );
    let scores = cross_val_score(&LinearRegression::new(), &x, &y, 5, "r2").unwrap();
    assert_close(&scores, &floats(&fx["ols_cv5"]), 1e-9, "ols folds");

    // Trees break ties between equal splits at random, so compare means over seeds.
    let tree = |depth: Option<usize>, seed| {
        let model = DecisionTreeRegressor::new().seed(seed);
        let model = match depth {
            Some(d) => model.max_depth(d),
            None => model,
        };
        mean(&cross_val_score(&model, &x, &y, 5, "r2").unwrap())
    };
    let full: Vec<f64> = (0..20).map(|s| tree(None, s)).collect();
    let shallow: Vec<f64> = (0..5).map(|s| tree(Some(3), s)).collect();
    assert!(
        (mean(&shallow) - mean(&floats(&fx["tree_depth3_cv5"]))).abs() < 0.01,
        "{shallow:?}"
    );
    // Over 20 seeds each (a fully grown tree's score varies by 0.025 between seeds).
    let theirs = mean(&floats(&fx["tree_cv5"]));
    assert!(
        (mean(&full) - theirs).abs() < 0.03,
        "{} vs {theirs}",
        mean(&full)
    );
    let forest = mean(&cross_val_score(&RandomForestRegressor::new(100), &x, &y, 5, "r2").unwrap());
    assert!(
        forest >= mean(&floats(&fx["forest_cv5"])) - 0.01,
        "{forest}"
    );
    // A full tree reproduces its training targets.
    let mut full_tree = DecisionTreeRegressor::new();
    full_tree.fit(&x, &y).unwrap();
    assert!((full_tree.score(&x, &y).unwrap() - 1.0).abs() < 1e-12);
    let err = full_tree.fit(&x, &[f64::NAN; 442]).unwrap_err().to_string();
    assert!(err.contains("non-finite target"), "{err}");
    // A repeated column: least squares still has a best fit (scikit-learn's lstsq finds it).
    let twice = Matrix::from_rows(&[vec![1.0, 1.0], vec![2.0, 2.0], vec![3.0, 3.0]]).unwrap();
    let once = Matrix::from_rows(&[vec![1.0], vec![2.0], vec![3.0]]).unwrap();
    let targets = [1.0, 2.0, 3.5];
    let (mut a, mut b) = (LinearRegression::new(), LinearRegression::new());
    a.fit(&twice, &targets).unwrap();
    b.fit(&once, &targets).unwrap();
    assert!((a.score(&twice, &targets).unwrap() - b.score(&once, &targets).unwrap()).abs() < 1e-6);
}

#[test]
fn svc_matches_libsvm_decisions_and_accuracy() {
    let fx = &fixture("models")["svm"];
    let cancer = load_breast_cancer();
    let (x, y) = (
        Matrix::features(&cancer).unwrap(),
        cancer.y_classes().unwrap(),
    );
    let scaled = standardized(&x);
    let mut svm = Svc::rbf();
    svm.fit(&scaled, &y).unwrap();
    let theirs = floats(&fx["breast_cancer_scaled_decision"]);
    let ours = svm.decision_function(&scaled).unwrap();
    // libsvm stops at a KKT tolerance of 1e-3: decisions agree to about that.
    assert_close(ours.as_slice(), &theirs, 5e-3, "rbf decision");
    let n_support = fx["breast_cancer_scaled_n_support"].as_u64().unwrap() as i64;
    assert!((svm.support_vector_count() as i64 - n_support).abs() <= 2);

    let iris = load_iris();
    let (xi, yi) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    let mut linear = Svc::linear();
    linear.fit(&xi, &yi).unwrap();
    assert_close(
        linear.decision_function(&xi).unwrap().as_slice(),
        &rows(&fx["iris_linear_decision_ovo"]).concat(),
        5e-3,
        "linear ovo decision",
    );

    let digits = load_digits();
    let (xd, yd) = (
        Matrix::features(&digits).unwrap(),
        digits.y_classes().unwrap(),
    );
    for (name, model, x, y) in [
        (
            "breast_cancer_rbf_raw_cv5",
            Box::new(Svc::rbf()) as Box<dyn Classifier>,
            &x,
            &y,
        ),
        (
            "breast_cancer_rbf_scaled_cv5",
            Box::new(Standardized::new(Svc::rbf())),
            &x,
            &y,
        ),
        ("digits_rbf_cv5", Box::new(Svc::rbf()), &xd, &yd),
        ("iris_linear_cv5", Box::new(Svc::linear()), &xi, &yi),
    ] {
        let scores = cross_val_score(model.as_ref(), x, y, 5, "accuracy").unwrap();
        assert_close(&scores, &floats(&fx[name]), 0.011, name);
    }
    // Probabilities need probability(true), and say so.
    let err = svm.predict_proba(&scaled).unwrap_err().to_string();
    assert!(err.contains("probability(true)"), "{err}");
    let mut with_proba = Svc::rbf().probability(true);
    with_proba.fit(&scaled, &y).unwrap();
    let proba = with_proba.predict_proba(&scaled).unwrap();
    let agree = (0..y.len())
        .filter(|&i| (proba.row(i)[1] > 0.5) == (y[i] == 1))
        .count();
    assert!(agree as f64 / y.len() as f64 > 0.97, "{agree}");
    let err = Svc::rbf()
        .gamma(-1.0)
        .fit(&scaled, &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gamma > 0"), "{err}");
}

#[test]
fn agglomerative_clustering_matches_scipy_heights_and_sklearn_labels() {
    let fx = &fixture("models")["hierarchical"];
    let iris = load_iris();
    let x = Matrix::features(&iris).unwrap();
    for (name, linkage) in [
        ("ward", Linkage::Ward),
        ("complete", Linkage::Complete),
        ("average", Linkage::Average),
        ("single", Linkage::Single),
    ] {
        let mut model = AgglomerativeClustering::new(3).linkage(linkage);
        let labels = model.fit_predict(&x).unwrap();
        let heights: Vec<f64> = model.merges().iter().map(|m| m.distance).collect();
        assert_close(&heights, &floats(&fx["heights"][name]), 1e-9, name);
        let theirs: Vec<i64> = floats(&fx["labels"][name])
            .iter()
            .map(|&v| v as i64)
            .collect();
        assert_eq!(
            adjusted_rand_score(&theirs, &labels).unwrap(),
            1.0,
            "{name} labels"
        );
        let last = model.merges().last().unwrap();
        assert_eq!(last.size, 150);
    }
    let digits = load_digits();
    let xd = Matrix::features(&digits).unwrap();
    let labels = AgglomerativeClustering::new(10).fit_predict(&xd).unwrap();
    let theirs: Vec<i64> = floats(&fx["digits_ward_labels"])
        .iter()
        .map(|&v| v as i64)
        .collect();
    assert_eq!(adjusted_rand_score(&theirs, &labels).unwrap(), 1.0);
    let err = AgglomerativeClustering::new(0)
        .fit(&x)
        .unwrap_err()
        .to_string();
    assert!(err.contains("n_clusters must be 1 to 150"), "{err}");
}
