//! The shipped datasets hold scikit-learn's rows and columns (datasets.json was written by the
//! same export script as the CSV files).

use trainbook::prelude::*;

#[test]
fn datasets_match_scikit_learns_shapes_names_and_classes() {
    let meta: serde_json::Value =
        serde_json::from_str(include_str!("../data/datasets.json")).unwrap();
    for dataset in [
        load_iris(),
        load_wine(),
        load_breast_cancer(),
        load_digits(),
        load_diabetes(),
    ] {
        let expected = &meta["datasets"][dataset.name];
        assert_eq!(
            dataset.frame.height() as u64,
            expected["rows"].as_u64().unwrap()
        );
        let features: Vec<String> = expected["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        assert_eq!(dataset.feature_names, features, "{}", dataset.name);
        assert_eq!(dataset.x().unwrap().len(), dataset.frame.height());
        if dataset.task == TargetKind::Classification {
            let names = expected["target_names"].as_array().unwrap();
            assert_eq!(dataset.target_names.len(), names.len(), "{}", dataset.name);
            let y = dataset.y_classes().unwrap();
            assert!(y.iter().all(|&c| c < names.len()));
        } else {
            let error = dataset.y_classes().unwrap_err().to_string();
            assert!(error.contains("regression dataset"), "{error}");
        }
    }
    // Values are exact: scikit-learn's first iris row and the diabetes target.
    assert_eq!(load_iris().x().unwrap()[0], vec![5.1, 3.5, 1.4, 0.2]);
    assert_eq!(load_diabetes().y_values().unwrap()[0], 151.0);
    assert_eq!(
        load_breast_cancer()
            .y_classes()
            .unwrap()
            .iter()
            .filter(|&&c| c == 1)
            .count(),
        357
    );
}

#[test]
fn a_dataset_and_a_frame_render_as_html() {
    let iris = load_iris();
    let bundle = iris.mime_bundle();
    let html = bundle.data["text/html"].as_str().unwrap();
    assert!(
        html.contains("150 samples, 4 features, 3 classes"),
        "{html}"
    );
    assert!(
        html.contains("sepal length (cm)<br><small>f64</small>"),
        "{html}"
    );
    let html = frame_to_html(&iris.frame);
    assert!(
        html.contains("<tr><th>…</th>") && html.contains("<tr><th>149</th>"),
        "{html}"
    );
}
