//! Data preparation against scikit-learn / imbalanced-learn / pandas answers in
//! fixtures/data_prep.json (made by fixtures/make_data_prep_fixtures.py), and every error case
//! with its message.

use serde_json::Value;
use std::sync::OnceLock;
use trainbook::prelude::*;

fn fixtures() -> &'static Value {
    static FX: OnceLock<Value> = OnceLock::new();
    FX.get_or_init(|| serde_json::from_str(include_str!("fixtures/data_prep.json")).unwrap())
}

fn matrix(v: &Value) -> Vec<Vec<Option<f64>>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(Value::as_f64).collect())
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

const COLS: [&str; 4] = ["a", "b", "c", "d"];

/// A frame with columns a..d from a row-major matrix with missing values.
fn frame_of(rows: &[Vec<Option<f64>>]) -> DataFrame {
    let columns: Vec<Column> = (0..4)
        .map(|j| {
            let values: Vec<Option<f64>> = rows.iter().map(|r| r[j]).collect();
            Column::new(COLS[j].into(), values)
        })
        .collect();
    DataFrame::new_infer_height(columns).unwrap()
}

fn train_x() -> TrainFrame {
    TrainFrame::assume_training(frame_of(&matrix(&fixtures()["X"])))
}

fn test_x() -> DataFrame {
    frame_of(&matrix(&fixtures()["X_test"]))
}

fn values(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    frame
        .column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

fn assert_frame_matches(frame: &DataFrame, expected: &Value, names: &[&str], tol: f64) {
    let expected = matrix(expected);
    for (j, name) in names.iter().enumerate() {
        let got = values(frame, name);
        for (i, row) in expected.iter().enumerate() {
            match (got[i], row[j]) {
                (Some(g), Some(e)) => assert!((g - e).abs() <= tol, "{name} row {i}: {g} vs {e}"),
                (g, e) => assert_eq!(g.is_some(), e.is_some(), "{name} row {i}: {g:?} vs {e:?}"),
            }
        }
    }
}

fn assert_close(got: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() <= tol, "{got:?} vs {expected:?}");
    }
}

#[test]
fn standard_scaler_matches_sklearn() {
    let fx = &fixtures()["standard"];
    let mut scaler = StandardScaler::new(&COLS);
    scaler.fit(&train_x()).unwrap();
    assert_close(scaler.mean().unwrap(), &floats(&fx["mean"]), 1e-12);
    assert_close(scaler.scale().unwrap(), &floats(&fx["scale"]), 1e-12);
    assert_eq!(
        scaler.scale().unwrap()[2],
        1.0,
        "a constant column keeps scale 1"
    );
    let scaled = scaler.transform(&test_x()).unwrap();
    assert_frame_matches(&scaled, &fx["test"], &COLS, 1e-12);
    let back = scaler.inverse_transform(&scaled).unwrap();
    assert_frame_matches(&back, &fixtures()["X_test"], &COLS, 1e-12);
}

#[test]
fn min_max_scaler_matches_sklearn() {
    let mut scaler = MinMaxScaler::new(&COLS);
    let train = scaler.fit_transform(&train_x()).unwrap();
    assert_frame_matches(&train, &fixtures()["minmax"]["train"], &COLS, 1e-12);
    assert_frame_matches(
        &scaler.transform(&test_x()).unwrap(),
        &fixtures()["minmax"]["test"],
        &COLS,
        1e-12,
    );
    let mut ranged = MinMaxScaler::new(&COLS).feature_range(-1.0, 2.0).unwrap();
    ranged.fit(&train_x()).unwrap();
    assert_frame_matches(
        &ranged.transform(&test_x()).unwrap(),
        &fixtures()["minmax_range"]["test"],
        &COLS,
        1e-12,
    );
    let err = MinMaxScaler::new(&COLS)
        .feature_range(1.0, 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("low < high"), "{err}");
}

#[test]
fn robust_scaler_matches_sklearn() {
    let fx = &fixtures()["robust"];
    let mut scaler = RobustScaler::new(&COLS);
    scaler.fit(&train_x()).unwrap();
    assert_close(scaler.center().unwrap(), &floats(&fx["center"]), 1e-12);
    assert_close(scaler.scale().unwrap(), &floats(&fx["scale"]), 1e-12);
    assert_frame_matches(
        &scaler.transform(&test_x()).unwrap(),
        &fx["test"],
        &COLS,
        1e-12,
    );
    let mut wide = RobustScaler::new(&COLS);
    wide.quantile_range = (0.1, 0.9);
    wide.fit(&train_x()).unwrap();
    assert_close(
        wide.center().unwrap(),
        &floats(&fixtures()["robust_10_90"]["center"]),
        1e-12,
    );
    assert_close(
        wide.scale().unwrap(),
        &floats(&fixtures()["robust_10_90"]["scale"]),
        1e-12,
    );
}

#[test]
fn imputer_matches_sklearn() {
    let fx = &fixtures()["impute"];
    for (name, strategy) in [
        ("mean", ImputeStrategy::Mean),
        ("median", ImputeStrategy::Median),
        ("most_frequent", ImputeStrategy::MostFrequent),
    ] {
        let mut imputer = Imputer::new(&COLS, strategy);
        imputer.fit(&train_x()).unwrap();
        let fills: Vec<f64> = imputer
            .fill_values()
            .unwrap()
            .iter()
            .map(|f| match f {
                FillValue::Number(x) => *x,
                FillValue::Text(_) => panic!("numeric fill expected"),
            })
            .collect();
        assert_close(&fills, &floats(&fx[name]["statistics"]), 1e-12);
        assert_frame_matches(
            &imputer.transform(&test_x()).unwrap(),
            &fx[name]["test"],
            &COLS,
            1e-12,
        );
    }
    // Constant fill with indicators: scikit-learn appends indicators for the columns that had
    // missing values in training (here a, b, d), after the features.
    let mut imputer = Imputer::new(&COLS, ImputeStrategy::Constant(-1.0)).add_indicator();
    let out = imputer
        .fit(&train_x())
        .and_then(|_| imputer.transform(&test_x()))
        .unwrap();
    let indicator_features: Vec<usize> = fx["constant_indicator"]["indicator_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut names: Vec<String> = COLS.iter().map(|s| s.to_string()).collect();
    names.extend(
        indicator_features
            .iter()
            .map(|&j| format!("{}_missing", COLS[j])),
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        imputer.indicator_columns().unwrap().len(),
        indicator_features.len()
    );
    assert_frame_matches(&out, &fx["constant_indicator"]["test"], &names, 0.0);
    // Text: most frequent.
    let text: Vec<Option<String>> = fixtures()["text_missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().map(String::from))
        .collect();
    let frame = TrainFrame::assume_training(
        DataFrame::new_infer_height(vec![Column::new("color".into(), text)]).unwrap(),
    );
    let mut imputer = Imputer::new(&["color"], ImputeStrategy::MostFrequent);
    let filled = imputer.fit_transform(&frame).unwrap();
    assert_eq!(filled.column("color").unwrap().null_count(), 0);
    assert_eq!(
        imputer.fill_values().unwrap(),
        [FillValue::Text(
            fx["text_most_frequent"].as_str().unwrap().into()
        )]
    );
}

#[test]
fn imputer_errors_name_the_problem() {
    let frame = TrainFrame::assume_training(df!("name" => [Some("x"), None]).unwrap());
    let err = Imputer::new(&["name"], ImputeStrategy::Mean)
        .fit(&frame)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"name\"") && err.contains("MostFrequent or ConstantText"),
        "{err}"
    );
    let err = Imputer::new(&["nope"], ImputeStrategy::Mean)
        .fit(&frame)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no column named \"nope\"") && err.contains("\"name\""),
        "{err}"
    );
    let err = Imputer::new(&["name"], ImputeStrategy::MostFrequent)
        .transform(&frame)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not fitted"), "{err}");
    let empty = TrainFrame::assume_training(df!("x" => [None::<f64>, None]).unwrap());
    let err = Imputer::new(&["x"], ImputeStrategy::Median)
        .fit(&empty)
        .unwrap_err()
        .to_string();
    assert!(err.contains("all missing"), "{err}");
}

#[test]
fn encoders_match_sklearn() {
    let fx = &fixtures()["onehot"];
    let train = TrainFrame::assume_training(
        DataFrame::new_infer_height(vec![
            Column::new("color".into(), strings(&fixtures()["colors"])),
            Column::new("size".into(), strings(&fixtures()["sizes"])),
        ])
        .unwrap(),
    );
    let mut onehot = OneHotEncoder::new(&["color"]);
    onehot.fit(&train).unwrap();
    assert_eq!(onehot.categories().unwrap()[0], strings(&fx["categories"]));
    let test = DataFrame::new_infer_height(vec![Column::new(
        "color".into(),
        strings(&fx["test_colors"]),
    )])
    .unwrap();
    let encoded = onehot.transform(&test).unwrap();
    let names = strings(&fx["names"]);
    assert_eq!(
        encoded
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        names
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_frame_matches(&encoded, &fx["test"], &names, 0.0);
    let back = onehot.inverse_transform(&encoded).unwrap();
    assert_eq!(
        back.column("color").unwrap().str().unwrap().get(0),
        Some("blue")
    );

    // Unknown categories: error names the value; Ignore gives zeros; Other a bucket.
    let purple = df!("color" => ["purple"]).unwrap();
    let err = onehot.transform(&purple).unwrap_err().to_string();
    assert!(
        err.contains("\"purple\"")
            && err.contains("row 0")
            && err.contains("HandleUnknown::Ignore"),
        "{err}"
    );
    let mut ignore = OneHotEncoder::new(&["color"]).handle_unknown(HandleUnknown::Ignore);
    ignore.fit(&train).unwrap();
    let zeros = ignore.transform(&purple).unwrap();
    let row: Vec<f64> = zeros
        .columns()
        .iter()
        .map(|c| c.f64().unwrap().get(0).unwrap())
        .collect();
    assert_eq!(row, floats(&fx["unknown_ignored"]));
    let mut other = OneHotEncoder::new(&["color"]).handle_unknown(HandleUnknown::Other);
    other.fit(&train).unwrap();
    assert_eq!(
        values(&other.transform(&purple).unwrap(), "color_(other)"),
        [Some(1.0)]
    );

    let mut ordinal = OrdinalEncoder::new(&["color", "size"]);
    let codes = ordinal.fit_transform(&train).unwrap();
    let categories: Vec<Vec<String>> = fixtures()["ordinal"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(ordinal.categories().unwrap(), categories);
    assert_frame_matches(
        &codes,
        &fixtures()["ordinal"]["train"],
        &["color", "size"],
        0.0,
    );
    let back = ordinal.inverse_transform(&codes).unwrap();
    assert_eq!(
        back.column("size")
            .unwrap()
            .str()
            .unwrap()
            .get(3)
            .map(String::from),
        Some(strings(&fixtures()["sizes"])[3].clone())
    );
    // Integer categories sort by value (2, 7, 10, 33), not as text.
    let ints: Vec<i64> = fixtures()["ordinal_ints"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let mut int_encoder = OrdinalEncoder::new(&["n"]);
    int_encoder
        .fit(&TrainFrame::assume_training(df!("n" => ints).unwrap()))
        .unwrap();
    let expected: Vec<String> = fixtures()["ordinal_ints"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(int_encoder.categories().unwrap()[0], expected);
    // Missing values must be filled first.
    let gap = TrainFrame::assume_training(df!("color" => [Some("red"), None]).unwrap());
    let err = OneHotEncoder::new(&["color"])
        .fit(&gap)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing values") && err.contains("row 1"),
        "{err}"
    );
}

#[test]
fn fitted_transformers_round_trip_through_json_and_display() {
    let mut pipeline = Pipeline::new()
        .then(Imputer::new(&COLS, ImputeStrategy::Median))
        .then(StandardScaler::new(&COLS));
    pipeline.fit(&train_x()).unwrap();
    let json = pipeline.to_json().unwrap();
    let restored = Pipeline::from_json(&json).unwrap();
    let (a, b) = (
        pipeline.transform(&test_x()).unwrap(),
        restored.transform(&test_x()).unwrap(),
    );
    assert!(
        a.equals_missing(&b),
        "bit-identical after a JSON round trip"
    );
    assert!(
        json.contains("\"mean\": [") && json.contains("\"Median\""),
        "{json}"
    );
    let html = pipeline.mime_bundle().data["text/html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        html.contains("StandardScaler (fitted)") && html.contains("<td>a</td>"),
        "{html}"
    );
    let err = StandardScaler::from_json("{}").unwrap_err().to_string();
    assert!(err.contains("not a saved StandardScaler"), "{err}");
}

#[test]
fn split_sizes_match_sklearn() {
    for case in fixtures()["split_sizes"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let sizes = TrainTestSplit::new(case["test_size"].as_f64().unwrap())
            .sizes(n)
            .unwrap();
        assert_eq!(
            sizes,
            (
                case["train"].as_u64().unwrap() as usize,
                case["test"].as_u64().unwrap() as usize
            ),
            "{case}"
        );
    }
}

fn class_counts(labels: &[usize], rows: &[usize], k: usize) -> Vec<u64> {
    let mut counts = vec![0u64; k];
    for &r in rows {
        counts[labels[r]] += 1;
    }
    counts
}

#[test]
fn stratified_split_keeps_sklearn_class_counts() {
    for case in fixtures()["stratified"].as_array().unwrap() {
        let data = match case["dataset"].as_str().unwrap() {
            "iris" => load_iris(),
            "wine" => load_wine(),
            "breast_cancer" => load_breast_cancer(),
            _ => load_digits(),
        };
        let y = data.y_classes().unwrap();
        let k = data.target_names.len();
        for seed in 0..5 {
            let split = stratified_split(
                &data.frame,
                "target",
                case["test_size"].as_f64().unwrap(),
                seed,
            )
            .unwrap();
            let got = (
                class_counts(&y, &split.train_rows, k),
                class_counts(&y, &split.test_rows, k),
            );
            // scikit-learn breaks ties in the allocation at random: our counts must be one of
            // the outcomes it produced over 30 seeds.
            let allowed: Vec<(Vec<u64>, Vec<u64>)> = case["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["train"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_u64().unwrap())
                            .collect(),
                        o["test"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_u64().unwrap())
                            .collect(),
                    )
                })
                .collect();
            assert!(allowed.contains(&got), "{case}: got {got:?}");
            let mut all: Vec<usize> = split
                .train_rows
                .iter()
                .chain(&split.test_rows)
                .copied()
                .collect();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..y.len()).collect::<Vec<_>>(),
                "every row exactly once"
            );
        }
    }
}

#[test]
fn splits_are_reproducible_and_typed() {
    let iris = load_iris();
    let a = train_test_split(&iris.frame, 0.2, 7).unwrap();
    let b = train_test_split(&iris.frame, 0.2, 7).unwrap();
    let c = train_test_split(&iris.frame, 0.2, 8).unwrap();
    assert_eq!(a.test_rows, b.test_rows);
    assert_ne!(a.test_rows, c.test_rows);
    let ordered = TrainTestSplit::new(0.2)
        .no_shuffle()
        .split(&iris.frame)
        .unwrap();
    assert_eq!(ordered.test_rows, (120..150).collect::<Vec<_>>());
    // The training side is a TrainFrame and the test side a TestFrame: this compiles, and
    // `scaler.fit(&split.test)` would not.
    let mut scaler = StandardScaler::new(&iris.feature_names);
    scaler.fit(&a.train).unwrap();
    let test = scaler.transform_test(&a.test).unwrap();
    assert_eq!(test.height(), 30);
}

#[test]
fn split_errors_say_what_to_do() {
    let iris = load_iris();
    let err = train_test_split(&iris.frame, 1.5, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("strictly between 0 and 1"), "{err}");
    let tiny = df!("x" => [1.0, 2.0, 3.0], "y" => [0, 0, 1]).unwrap();
    let err = stratified_split(&tiny, "y", 0.5, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("class \"1\" has only 1 row"), "{err}");
    let few = df!("x" => [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y" => [0, 0, 1, 1, 2, 2]).unwrap();
    let err = stratified_split(&few, "y", 0.2, 0).unwrap_err().to_string();
    assert!(err.contains("at least one row per class"), "{err}");
    let err = StratifiedKFold::new(5)
        .split(&tiny, "y")
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 folds") || err.contains("3 rows"), "{err}");
    let err = StratifiedKFold::new(3)
        .split(&few, "y")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("class \"0\" has 2 rows, fewer than the 3 folds"),
        "{err}"
    );
    let err = KFold::new(1).split(&few).unwrap_err().to_string();
    assert!(err.contains("at least 2 folds"), "{err}");
    let err = stratified_split(&iris.frame, "species", 0.2, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no column named \"species\"") && err.contains("\"target\""),
        "{err}"
    );
}

fn index_lists(v: &Value) -> Vec<Vec<usize>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

#[test]
fn folds_match_sklearn() {
    let fx = &fixtures()["kfold"];
    let folds = KFold::new(5).split_rows(23).unwrap();
    assert_eq!(
        folds.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
        index_lists(&fx["test"])
    );
    for (train, test) in &folds {
        assert_eq!(train.len() + test.len(), 23);
    }
    let fx = &fixtures()["stratified_kfold"];
    let folds = StratifiedKFold::new(3)
        .split_rows(&strings(&fx["labels"]))
        .unwrap();
    assert_eq!(
        folds.iter().map(|f| f.1.clone()).collect::<Vec<_>>(),
        index_lists(&fx["test"])
    );
    let iris = load_iris();
    let folds = StratifiedKFold::new(5)
        .split(&iris.frame, "target")
        .unwrap();
    assert_eq!(
        folds
            .iter()
            .map(|f| f.test_rows.clone())
            .collect::<Vec<_>>(),
        index_lists(&fx["iris_test"])
    );
    // Shuffled: which rows differ from scikit-learn's, but each fold's class counts are the same.
    let digits = load_digits();
    let y = digits.y_classes().unwrap();
    let folds = StratifiedKFold::new(5)
        .shuffle(0)
        .split(&digits.frame, "target")
        .unwrap();
    let counts: Vec<Vec<u64>> = folds
        .iter()
        .map(|f| class_counts(&y, &f.test_rows, 10))
        .collect();
    let expected: Vec<Vec<u64>> = fx["digits_fold_class_counts_shuffled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(counts, expected);
}

#[test]
fn pipeline_refits_inside_each_fold() {
    let iris = load_iris();
    let features = iris.feature_names.clone();
    let pipeline = Pipeline::new().then(StandardScaler::new(&features));
    let folds = KFold::new(5).shuffle(3).split(&iris.frame).unwrap();
    let prepared = pipeline.fit_folds(&folds).unwrap();
    for (fold, prep) in folds.iter().zip(&prepared) {
        // Each fold's scaler saw only that fold's training rows.
        let PipelineStep::StandardScaler(scaler) = &prep.pipeline.steps()[0] else {
            panic!()
        };
        let train_mean = fold
            .train
            .column(&features[0])
            .unwrap()
            .as_materialized_series()
            .mean()
            .unwrap();
        assert!((scaler.mean().unwrap()[0] - train_mean).abs() < 1e-12);
        // So the training side is exactly centred and the test side is not.
        let scaled_train = prep
            .train
            .column(&features[0])
            .unwrap()
            .as_materialized_series()
            .mean()
            .unwrap();
        let scaled_test = prep
            .test
            .column(&features[0])
            .unwrap()
            .as_materialized_series()
            .mean()
            .unwrap();
        assert!(scaled_train.abs() < 1e-12 && scaled_test.abs() > 1e-6);
    }
    let means: Vec<f64> = prepared
        .iter()
        .map(|p| match &p.pipeline.steps()[0] {
            PipelineStep::StandardScaler(s) => s.mean().unwrap()[0],
            _ => unreachable!(),
        })
        .collect();
    assert!(
        means.windows(2).any(|w| w[0] != w[1]),
        "folds fitted separately: {means:?}"
    );
    // An error inside a fold says which fold and which step.
    let broken = Pipeline::new().then(StandardScaler::new(&["nope"]));
    let err = format!("{:#}", broken.fit_fold(&folds[2]).unwrap_err());
    assert!(
        err.contains("fold 2")
            && err.contains("step 0 (StandardScaler)")
            && err.contains("\"nope\""),
        "{err}"
    );
}

fn resample_frame() -> TrainFrame {
    let fx = &fixtures()["resample"];
    let x = matrix(&fx["X"]);
    let y: Vec<i64> = fx["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let mut columns: Vec<Column> = (0..3)
        .map(|j| {
            Column::new(
                format!("f{j}").into(),
                x.iter().map(|r| r[j].unwrap()).collect::<Vec<f64>>(),
            )
        })
        .collect();
    columns.push(Column::new("y".into(), y));
    TrainFrame::assume_training(DataFrame::new_infer_height(columns).unwrap())
}

fn counts_of(frame: &DataFrame) -> Vec<u64> {
    class_balance(frame, "y")
        .unwrap()
        .column("count")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

#[test]
fn resampling_balances_like_imblearn() {
    let fx = &fixtures()["resample"];
    let train = resample_frame();
    let as_u64 = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counts_of(&random_oversample(&train, "y", 0).unwrap()),
        as_u64(&fx["over_counts"])
    );
    assert_eq!(
        counts_of(&random_undersample(&train, "y", 0).unwrap()),
        as_u64(&fx["under_counts"])
    );
    let balanced = smote(&train, "y", 5, 0).unwrap();
    assert_eq!(counts_of(&balanced), as_u64(&fx["smote_counts"]));
    // Original rows first, unchanged.
    let n = train.height();
    assert!(balanced
        .slice(0, n)
        .equals(&train.clone().into_frame().lazy_cast_f64()));
    // Every synthetic row lies on the segment between two rows of its own class, one of them
    // among the other's 5 nearest neighbours.
    let points = |f: &DataFrame| -> Vec<(Vec<f64>, i64)> {
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| {
                values(f, &format!("f{j}"))
                    .into_iter()
                    .map(Option::unwrap)
                    .collect()
            })
            .collect();
        let y: Vec<i64> = f
            .column("y")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        (0..f.height())
            .map(|i| ((0..3).map(|j| cols[j][i]).collect(), y[i]))
            .collect()
    };
    let original = points(&train);
    let all = points(&balanced);
    for (p, label) in &all[n..] {
        let same: Vec<&Vec<f64>> = original
            .iter()
            .filter(|(_, l)| l == label)
            .map(|(q, _)| q)
            .collect();
        let on_segment = same.iter().any(|a| {
            let mut near: Vec<(f64, &Vec<f64>)> = same
                .iter()
                .filter(|b| *b != a)
                .map(|b| {
                    (
                        a.iter()
                            .zip(b.iter())
                            .map(|(x, y)| (x - y) * (x - y))
                            .sum::<f64>(),
                        *b,
                    )
                })
                .collect();
            near.sort_by(|x, y| x.0.total_cmp(&y.0));
            near.iter().take(5).any(|(_, b)| {
                let t = (0..3)
                    .map(|j| (p[j] - a[j]) / (b[j] - a[j]))
                    .collect::<Vec<_>>();
                t.iter().all(|&t| (-1e-9..=1.0 + 1e-9).contains(&t))
                    && t.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-9)
            })
        });
        assert!(
            on_segment,
            "synthetic point {p:?} of class {label} is not between neighbours"
        );
    }
    // Seeds: same seed, same rows; another seed, other rows.
    assert!(smote(&train, "y", 5, 0).unwrap().equals(&balanced));
    assert!(!smote(&train, "y", 5, 1).unwrap().equals(&balanced));
}

trait CastF64 {
    fn lazy_cast_f64(self) -> DataFrame;
}
impl CastF64 for DataFrame {
    fn lazy_cast_f64(mut self) -> DataFrame {
        for j in 0..3 {
            let name = format!("f{j}");
            let c = self
                .column(&name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap();
            self.with_column(c).unwrap();
        }
        self
    }
}

#[test]
fn resampling_errors() {
    let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0], "y" => [0, 0, 1]).unwrap());
    let err = smote(&train, "y", 5, 0).unwrap_err().to_string();
    assert!(
        err.contains("class \"1\" has 1 rows") && err.contains("lower k_neighbors"),
        "{err}"
    );
    let text =
        TrainFrame::assume_training(df!("x" => ["a", "b", "c", "d"], "y" => [0, 0, 1, 1]).unwrap());
    let err = smote(&text, "y", 1, 0).unwrap_err().to_string();
    assert!(
        err.contains("column \"x\" is str") && err.contains("encode it"),
        "{err}"
    );
    let one_class = TrainFrame::assume_training(df!("x" => [1.0, 2.0], "y" => [0, 0]).unwrap());
    assert!(random_oversample(&one_class, "y", 0)
        .unwrap_err()
        .to_string()
        .contains("at least 2"));
}

#[test]
fn class_weights_match_sklearn() {
    let fx = &fixtures()["class_weight"];
    let labels: Vec<usize> = fx["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_close(
        &class_weights(&labels, &ClassWeight::Balanced).unwrap(),
        &floats(&fx["balanced"]),
        1e-12,
    );
    assert_eq!(
        class_weights(&labels, &ClassWeight::Explicit(vec![(1, 5.0)])).unwrap(),
        [1.0, 5.0, 1.0]
    );
    let err = class_weights(&[0, 2], &ClassWeight::Balanced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("class 1 has no samples"), "{err}");
}

#[test]
fn cleaning() {
    let frame = df!(
        "x" => [Some(1.0), None, Some(3.0), Some(3.0), Some(f64::NAN)],
        "name" => [Some("a"), Some("b"), None, None, Some("e")]
    )
    .unwrap();
    assert_eq!(drop_nulls(&frame).unwrap().height(), 1);
    assert_eq!(drop_nulls_in(&frame, &["x"]).unwrap().height(), 3);
    let back = fill_nulls(&frame, &["x"], Fill::Backward, false).unwrap();
    assert_eq!(
        values(&back, "x"),
        [Some(1.0), Some(3.0), Some(3.0), Some(3.0), None]
    );
    let text = fill_nulls(&frame, &["name"], Fill::Text("?".into()), true).unwrap();
    assert_eq!(
        text.column("name").unwrap().str().unwrap().get(2),
        Some("?")
    );
    assert_eq!(
        values(&text, "name_missing"),
        [Some(0.0), Some(0.0), Some(1.0), Some(1.0), Some(0.0)]
    );
    let err = fill_nulls(&frame, &["name"], Fill::Value(0.0), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds text") && err.contains("Fill::Text"),
        "{err}"
    );
    let dupes = df!("a" => [1, 2, 1, 1], "b" => ["x", "y", "x", "z"]).unwrap();
    assert_eq!(duplicate_count(&dupes).unwrap(), 1);
    let unique = drop_duplicates(&dupes).unwrap();
    assert_eq!(
        unique
            .column("b")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["x", "y", "z"]
    );
    // Outliers: z-score and IQR, removal on training rows, clipping fitted on training rows.
    let mut v: Vec<f64> = (0..50).map(|i| (i % 10) as f64).collect();
    v.push(1000.0);
    let train = TrainFrame::assume_training(df!("v" => v).unwrap());
    assert_eq!(
        outlier_mask(&train, &["v"], OutlierRule::ZScore(3.0))
            .unwrap()
            .iter()
            .filter(|m| **m)
            .count(),
        1
    );
    assert_eq!(
        remove_outliers(&train, &["v"], OutlierRule::Iqr(1.5))
            .unwrap()
            .height(),
        50
    );
    let mut clipper = OutlierClipper::new(&["v"], OutlierRule::Iqr(1.5));
    clipper.fit(&train).unwrap();
    let clipped = clipper
        .transform(&df!("v" => [-100.0, 5.0, 100.0]).unwrap())
        .unwrap();
    assert_eq!(values(&clipped, "v"), [Some(-5.5), Some(5.0), Some(14.5)]);
    let err = outlier_mask(&train, &["v"], OutlierRule::ZScore(0.0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("threshold > 0"), "{err}");
    let typed = cast_columns(&df!("n" => ["1", "2"]).unwrap(), &[("n", DataType::Int64)]).unwrap();
    assert_eq!(typed.column("n").unwrap().dtype(), &DataType::Int64);
}

#[test]
fn describe_matches_pandas() {
    let summary = describe(&load_iris().features().unwrap()).unwrap();
    let fx = fixtures()["describe_iris"].as_object().unwrap();
    for (column, expected) in fx {
        // pandas: count, mean, std, min, 25%, 50%, 75%, max; ours has "missing" second.
        let got: Vec<f64> = values(&summary, column)
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let ours = [
            got[0], got[2], got[3], got[4], got[5], got[6], got[7], got[8],
        ];
        assert_close(&ours, &floats(expected), 1e-12);
    }
    let report =
        null_counts(&df!("x" => [Some(1.0), None, Some(f64::NAN), Some(2.0)]).unwrap()).unwrap();
    assert_eq!(
        report.column("missing").unwrap().u64().unwrap().get(0),
        Some(2)
    );
    let balance = class_balance(&load_iris().frame, "target").unwrap();
    assert_eq!(
        balance.column("share").unwrap().f64().unwrap().get(1),
        Some(1.0 / 3.0)
    );
}

#[test]
fn reading_files_and_their_errors() {
    let dir = std::env::temp_dir().join(format!("trainbook-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("absent.csv");
    let err = read_csv(&missing).unwrap_err().to_string();
    assert!(
        err.contains("absent.csv") && err.contains("no such file"),
        "{err}"
    );
    let ragged = dir.join("ragged.csv");
    std::fs::write(&ragged, "a,b,c\n1,2,3\n4,5,6,7\n").unwrap();
    let err = read_csv(&ragged).unwrap_err().to_string();
    assert!(
        err.contains("ragged.csv")
            && err.contains("data row 1 (line 3) has 4 fields")
            && err.contains("\"7\" (column 4)"),
        "{err}"
    );
    let short = dir.join("short.csv");
    std::fs::write(&short, "a,b,c\n1,2,3\n4,5\n").unwrap();
    let err = read_csv(&short).unwrap_err().to_string();
    assert!(
        err.contains("has 2 fields") && err.contains("column \"c\""),
        "{err}"
    );
    let quoted = dir.join("quoted.csv");
    std::fs::write(&quoted, "name,note\nx,\"a, b\"\ny,\"line\nbreak\"\n").unwrap();
    assert_eq!(read_csv(&quoted).unwrap().shape(), (2, 2));
    let semicolons = dir.join("semi.csv");
    std::fs::write(&semicolons, "a;b\n1;2\n").unwrap();
    let err = read_csv(&semicolons).unwrap_err().to_string();
    assert!(err.contains("delimiter(b';')"), "{err}");
    let tabs = dir.join("tabs.tsv");
    std::fs::write(&tabs, "a\tb\n1\t2\n").unwrap();
    assert_eq!(Csv::new(&tabs).delimiter(b'\t').read().unwrap().width(), 2);
    let headless = dir.join("headless.csv");
    std::fs::write(&headless, "1,2\n3,4\n").unwrap();
    assert_eq!(Csv::new(&headless).no_header().read().unwrap().height(), 2);
    let lines = dir.join("rows.ndjson");
    std::fs::write(&lines, "{\"x\": 1}\n{\"x\": 2}\n").unwrap();
    assert_eq!(read_json(&lines).unwrap().height(), 2);
    let bad_json = dir.join("bad.json");
    std::fs::write(&bad_json, "[{\"x\": 1},").unwrap();
    let err = format!("{:#}", read_json(&bad_json).unwrap_err());
    assert!(err.contains("bad.json") && err.contains("NDJSON"), "{err}");
    let not_parquet = dir.join("fake.parquet");
    std::fs::write(&not_parquet, "hello").unwrap();
    let err = read_parquet(&not_parquet).unwrap_err().to_string();
    assert!(
        err.contains("fake.parquet is not a readable Parquet file"),
        "{err}"
    );
    let frame = load_wine().frame;
    let pq = dir.join("wine.parquet");
    write_parquet(&frame, &pq).unwrap();
    assert!(read_parquet(&pq).unwrap().equals(&frame));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tensors_and_data_loader() {
    let iris = load_iris();
    let x = frame_to_tensor(&iris.frame, &iris.feature_names, DType::F32, &Device::Cpu).unwrap();
    assert_eq!(x.dims(), [150, 4]);
    assert_eq!(
        x.get(0).unwrap().to_vec1::<f32>().unwrap(),
        [5.1, 3.5, 1.4, 0.2]
    );
    let loader =
        DataLoader::from_frame(&iris.frame, &iris.feature_names, "target", 32, &Device::Cpu)
            .unwrap()
            .shuffle(1);
    let sizes: Vec<usize> = loader.epoch(0).map(|b| b.unwrap().0.dims()[0]).collect();
    assert_eq!(sizes, [32, 32, 32, 32, 22]);
    assert_eq!(loader.clone().drop_last(true).epoch(0).count(), 4);
    // Each epoch visits every row once; epochs differ; the same epoch repeats exactly.
    let labels_of = |e| -> Vec<u32> {
        loader
            .epoch(e)
            .flat_map(|b| b.unwrap().1.to_vec1::<u32>().unwrap())
            .collect()
    };
    let (e0, e1) = (labels_of(0), labels_of(1));
    assert_eq!(e0, labels_of(0));
    assert_ne!(e0, e1);
    let mut sorted = e0.clone();
    sorted.sort();
    assert_eq!(sorted.iter().filter(|&&c| c == 2).count(), 50);
    // Errors.
    let err = frame_to_tensor(
        &df!("x" => [Some(1.0), None]).unwrap(),
        &["x"],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("missing values") && err.contains("row 1"),
        "{err}"
    );
    let err = labels_to_tensor(&df!("y" => [0.0, 1.5]).unwrap(), "y", &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("whole numbers") && err.contains("row 1"),
        "{err}"
    );
    let y = Tensor::zeros(3, DType::U32, &Device::Cpu).unwrap();
    let err = DataLoader::new(x, y, 8).unwrap_err().to_string();
    assert!(err.contains("first dimension"), "{err}");
}

#[test]
fn generated_datasets() {
    let blobs = make_blobs(300, 3, 2, 0.5, 1).unwrap();
    assert_eq!(
        class_balance(&blobs.frame, "target")
            .unwrap()
            .column("count")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect::<Vec<_>>(),
        [100, 100, 100]
    );
    assert!(make_blobs(300, 3, 2, 0.5, 1)
        .unwrap()
        .frame
        .equals(&blobs.frame));
    let moons = make_moons(100, 0.0, 0).unwrap();
    let x: Vec<f64> = values(&moons.frame, "x0")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(x.iter().all(|v| (-1.0..=2.0).contains(v)));
    let imbalanced = MakeClassification {
        n_samples: 1000,
        weights: Some(vec![0.9, 0.1]),
        flip_y: 0.0,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let counts: Vec<u64> = class_balance(&imbalanced.frame, "target")
        .unwrap()
        .column("count")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(counts, [900, 100]);
    let reviews = make_reviews(400, 0).unwrap();
    let texts: Vec<String> = reviews
        .frame
        .column("text")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    assert!(texts.iter().any(|t| t.contains("not")));
    let ratings = make_ratings(50, 40, 10, 0).unwrap();
    let r: Vec<f64> = values(&ratings.frame, "target")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(r
        .iter()
        .all(|v| (1.0..=5.0).contains(v) && v.fract() == 0.0));
    assert!(r.contains(&1.0) && r.contains(&5.0));
    let err = make_blobs(2, 3, 2, 1.0, 0).unwrap_err().to_string();
    assert!(err.contains("n_samples >= centers"), "{err}");
}
