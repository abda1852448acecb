//! Helpers the prelude's test files share: scikit-learn fixtures and float comparison.
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;

/// `tests/fixtures/<name>.json`, written by the script beside it.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers (nested arrays flattened, row after row).
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .flat_map(|x| match x {
            Value::Array(_) => floats(x),
            _ => vec![x.as_f64().unwrap_or_else(|| panic!("not a number: {x}"))],
        })
        .collect()
}

/// Each of ours within `tol` of theirs, relative to theirs' size (`tol * (1 + |theirs|)`).
pub fn assert_close(ours: &[f64], theirs: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{i}]: ours {a}, scikit-learn {b}"
        );
    }
}
