//! The metrics against scikit-learn's answers (fixtures/metrics.json, made by
//! fixtures/make_metric_fixtures.py), to 1e-9.

mod common;

use common::fixture;
use serde_json::Value;
use trainbook::metrics::*;

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        v => v.as_f64().unwrap(),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn labels(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(nums).collect()
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    let same = (actual.is_nan() && expected.is_nan())
        || actual == expected
        || (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0);
    assert!(same, "{what}: got {actual}, scikit-learn says {expected}");
}

#[track_caller]
fn close_all(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: lengths differ: {actual:?} vs {expected:?}"
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        close(*a, *e, &format!("{what}[{i}]"));
    }
}

fn zero_division(name: &str) -> ZeroDivision {
    match name {
        "zero" => ZeroDivision::Zero,
        "one" => ZeroDivision::One,
        "nan" => ZeroDivision::Nan,
        other => panic!("unknown zero_division {other}"),
    }
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let fixtures = fixture("metrics");
    for case in fixtures["classification"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (y, p) = (labels(&case["y_true"]), labels(&case["y_pred"]));
        close(
            accuracy_score(&y, &p).unwrap(),
            num(&case["accuracy"]),
            name,
        );
        close(
            balanced_accuracy_score(&y, &p).unwrap(),
            num(&case["balanced_accuracy"]),
            &format!("{name} balanced accuracy"),
        );
        let cm = confusion_matrix(&y, &p).unwrap();
        let counts: Vec<Vec<f64>> = cm
            .counts
            .iter()
            .map(|r| r.iter().map(|&c| c as f64).collect())
            .collect();
        assert_eq!(
            counts,
            matrix(&case["confusion"]),
            "{name} confusion matrix"
        );
        for (how, key) in [
            (ConfusionNormalize::True, "confusion_true"),
            (ConfusionNormalize::Pred, "confusion_pred"),
            (ConfusionNormalize::All, "confusion_all"),
        ] {
            let expected = matrix(&case[key]);
            for (row, want) in cm.normalized(how).iter().zip(&expected) {
                close_all(row, want, &format!("{name} {key}"));
            }
        }
        for per_class in case["per_class"].as_array().unwrap() {
            let zd = zero_division(per_class["zero_division"].as_str().unwrap());
            let beta = per_class["beta"].as_f64().unwrap();
            let what = format!("{name} per class zd={zd:?} beta={beta}");
            let s = precision_recall_fscore_support(&y, &p, beta, zd).unwrap();
            close_all(
                &s.precision,
                &nums(&per_class["precision"]),
                &format!("{what} precision"),
            );
            close_all(
                &s.recall,
                &nums(&per_class["recall"]),
                &format!("{what} recall"),
            );
            close_all(
                &s.fscore,
                &nums(&per_class["fscore"]),
                &format!("{what} fscore"),
            );
            let support: Vec<u64> = s.support.clone();
            let expected: Vec<u64> = labels(&per_class["support"])
                .iter()
                .map(|&v| v as u64)
                .collect();
            assert_eq!(support, expected, "{what} support");
        }
        for score in case["scores"].as_array().unwrap() {
            let zd = zero_division(score["zero_division"].as_str().unwrap());
            let beta = score["beta"].as_f64().unwrap();
            let average = match score["average"].as_str().unwrap() {
                "micro" => Average::Micro,
                "macro" => Average::Macro,
                "weighted" => Average::Weighted,
                "binary" => Average::Binary { pos_label: 1 },
                other => panic!("unknown average {other}"),
            };
            let what = format!("{name} {average:?} zd={zd:?} beta={beta}");
            close(
                precision_score(&y, &p, average, zd).unwrap(),
                num(&score["precision"]),
                &format!("{what} precision"),
            );
            close(
                recall_score(&y, &p, average, zd).unwrap(),
                num(&score["recall"]),
                &format!("{what} recall"),
            );
            close(
                f1_score(&y, &p, average, zd).unwrap(),
                num(&score["f1"]),
                &format!("{what} f1"),
            );
            close(
                fbeta_score(&y, &p, beta, average, zd).unwrap(),
                num(&score["fbeta"]),
                &format!("{what} fbeta"),
            );
        }
    }
}

#[test]
fn curves_match_scikit_learn() {
    let fixtures = fixture("metrics");
    for case in fixtures["curves"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (y, s) = (labels(&case["y_true"]), nums(&case["scores"]));
        let roc = roc_curve(&y, &s).unwrap();
        close_all(&roc.fpr, &nums(&case["fpr"]), &format!("{name} fpr"));
        close_all(&roc.tpr, &nums(&case["tpr"]), &format!("{name} tpr"));
        close_all(
            &roc.thresholds,
            &nums(&case["roc_thresholds"]),
            &format!("{name} roc thresholds"),
        );
        close(
            roc_auc_score(&y, &s).unwrap(),
            num(&case["roc_auc"]),
            &format!("{name} auc"),
        );
        let pr = precision_recall_curve(&y, &s).unwrap();
        close_all(
            &pr.precision,
            &nums(&case["precision"]),
            &format!("{name} precision"),
        );
        close_all(
            &pr.recall,
            &nums(&case["recall"]),
            &format!("{name} recall"),
        );
        close_all(
            &pr.thresholds,
            &nums(&case["pr_thresholds"]),
            &format!("{name} pr thresholds"),
        );
        close(
            average_precision_score(&y, &s).unwrap(),
            num(&case["average_precision"]),
            &format!("{name} average precision"),
        );
    }
    for case in fixtures["ovr"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let y = labels(&case["y_true"]);
        let proba = matrix(&case["proba"]);
        close(
            roc_auc_ovr(&y, &proba, Average::Macro).unwrap(),
            num(&case["macro"]),
            name,
        );
        close(
            roc_auc_ovr(&y, &proba, Average::Weighted).unwrap(),
            num(&case["weighted"]),
            name,
        );
        close(
            log_loss(&y, &proba).unwrap(),
            num(&case["log_loss"]),
            &format!("{name} log loss"),
        );
    }
    let extreme = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.5, 0.5]];
    close(
        log_loss(&[1, 1, 0], &extreme).unwrap(),
        num(&fixtures["log_loss_extreme"]),
        "log loss with 0/1 probabilities",
    );
}

#[test]
fn regression_metrics_match_scikit_learn() {
    for case in fixture("metrics")["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (y, p) = (nums(&case["y_true"]), nums(&case["y_pred"]));
        close(
            mean_squared_error(&y, &p).unwrap(),
            num(&case["mse"]),
            &format!("{name} mse"),
        );
        close(
            root_mean_squared_error(&y, &p).unwrap(),
            num(&case["rmse"]),
            &format!("{name} rmse"),
        );
        close(
            mean_absolute_error(&y, &p).unwrap(),
            num(&case["mae"]),
            &format!("{name} mae"),
        );
        close(
            mean_absolute_percentage_error(&y, &p).unwrap(),
            num(&case["mape"]),
            &format!("{name} mape"),
        );
        close(
            r2_score(&y, &p).unwrap(),
            num(&case["r2"]),
            &format!("{name} r2"),
        );
    }
}

#[test]
fn clustering_metrics_match_scikit_learn() {
    let fixtures = fixture("metrics");
    for case in fixtures["clustering"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        close(
            adjusted_rand_score(&ints(&case["a"]), &ints(&case["b"])).unwrap(),
            num(&case["ari"]),
            name,
        );
    }
    for case in fixtures["silhouette"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let score = silhouette_score(&matrix(&case["x"]), &ints(&case["labels"])).unwrap();
        close(score, num(&case["score"]), name);
    }
}

#[track_caller]
fn error_of<T: std::fmt::Debug>(result: anyhow::Result<T>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn bad_input_gets_a_clear_error() {
    assert!(error_of(accuracy_score(&[0, 1], &[0]))
        .contains("y_true has 2 values but the predictions have 1"));
    assert!(error_of(accuracy_score(&[], &[])).contains("no samples"));
    assert!(error_of(f1_score(
        &[0, 1, 2],
        &[0, 1, 1],
        Average::Binary { pos_label: 1 },
        ZeroDivision::Zero
    ))
    .contains("multiclass"));
    assert!(error_of(precision_score(
        &[0, 2],
        &[2, 0],
        Average::Binary { pos_label: 1 },
        ZeroDivision::Zero
    ))
    .contains("pos_label 1 is not one of the labels [0, 2]"));
    assert!(error_of(fbeta_score(
        &[0],
        &[0],
        -1.0,
        Average::Micro,
        ZeroDivision::Zero
    ))
    .contains("beta must be 0 or more"));
    assert!(error_of(roc_curve(&[0, 2], &[0.1, 0.2]))
        .contains("must hold 0 (negative) and 1 (positive)"));
    assert!(error_of(roc_auc_score(&[1, 1], &[0.1, 0.2])).contains("only positive samples"));
    assert!(error_of(roc_curve(&[0, 1], &[0.1, f64::NAN])).contains("score 1 is NaN"));
    assert!(error_of(precision_recall_curve(&[0, 0], &[0.1, 0.2])).contains("no positive"));
    assert!(error_of(auc(&[0.0, 1.0, 0.5], &[0.0, 1.0, 1.0]))
        .contains("neither increasing nor decreasing"));
    assert!(error_of(roc_auc_ovr(
        &[0, 1],
        &[vec![0.7, 0.7], vec![0.5, 0.5]],
        Average::Macro
    ))
    .contains("apply softmax"));
    assert!(error_of(roc_auc_ovr(
        &[0, 1],
        &[vec![2.0, -1.0], vec![0.5, 0.5]],
        Average::Macro
    ))
    .contains("outside [0, 1]"));
    assert!(error_of(roc_auc_ovr(
        &[0, 0],
        &[vec![0.5, 0.5], vec![0.5, 0.5]],
        Average::Macro
    ))
    .contains("class 1 never occurs"));
    assert!(error_of(roc_auc_ovr(
        &[0, 1],
        &[vec![0.5, 0.5], vec![0.5, 0.5]],
        Average::Micro
    ))
    .contains("Macro or Weighted"));
    assert!(
        error_of(log_loss(&[0, 3], &[vec![0.5, 0.5], vec![0.5, 0.5]]))
            .contains("only 2 probability columns")
    );
    assert!(error_of(log_loss(&[0, 1], &[vec![0.7, 0.7], vec![0.5, 0.5]])).contains("sums to 1.4"));
    assert!(
        error_of(log_loss(&[0, 1], &[vec![1.5, -0.5], vec![0.5, 0.5]])).contains("outside [0, 1]")
    );
    assert!(error_of(silhouette_score(&[vec![0.0], vec![1.0]], &[0, 0]))
        .contains("between 2 and n_samples - 1"));
    assert!(error_of(mean_squared_error(&[1.0], &[1.0, 2.0])).contains("y_true has 1 values"));
}

#[test]
fn report_and_confusion_matrix_display() {
    let names: Vec<String> = ["cat", "dog", "<bird>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (y, p) = ([0, 1, 2, 2, 1], [0, 1, 1, 2, 1]);
    let report = classification_report(&y, &p, Some(&names), ZeroDivision::Zero).unwrap();
    let text = report.to_string();
    assert!(
        text.contains("precision") && text.contains("weighted avg") && text.contains("cat"),
        "{text}"
    );
    let html = trainbook::display::Render::mime_bundle(&report).data["text/html"].to_string();
    assert!(
        html.contains("&lt;bird&gt;") && html.contains("<td>0.800</td>"),
        "{html}"
    );
    let cm = confusion_matrix(&y, &p).unwrap().class_names(&names);
    let html = trainbook::display::Render::mime_bundle(&cm).data["text/html"].to_string();
    assert!(
        html.contains("<th>dog</th><td>0</td><td>2</td><td>0</td>"),
        "{html}"
    );
}

#[test]
fn ranking_scores_count_hits_in_the_first_k_and_skip_users_without_liked_items() {
    let recommended = vec![vec![1, 2, 3, 4], vec![9, 8, 7, 6], vec![5]];
    let relevant = vec![vec![4, 1], vec![6], vec![]];
    // k = 3: user 0 finds item 1 (4 is fourth), user 1 finds nothing (6 is fourth).
    let at3 = ranking_scores(&recommended, &relevant, 3).unwrap();
    assert_eq!((at3.users, at3.hit_rate), (2, 0.5));
    assert!((at3.precision - (1.0 / 3.0) / 2.0).abs() < 1e-12);
    assert!((at3.recall - 0.5 / 2.0).abs() < 1e-12);
    let at4 = ranking_scores(&recommended, &relevant, 4).unwrap();
    assert_eq!((at4.precision, at4.recall, at4.hit_rate), (0.375, 1.0, 1.0));
    let error = ranking_scores(&recommended, &relevant[..2], 3).unwrap_err();
    assert!(
        error.to_string().contains("3 recommendation lists but 2"),
        "{error}"
    );
    let error = ranking_scores(&recommended, &[vec![], vec![], vec![]], 3).unwrap_err();
    assert!(
        error.to_string().contains("no user has a relevant item"),
        "{error}"
    );
}
