//! Every notebook runs headless through `trainbook run`, and its outputs hold what it claims.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use trainbook_tests::{repo_root, trainbook_bin};

/// Runs a notebook into a temporary file and returns (fresh, committed) notebooks.
fn run_notebook(name: &str) -> (Value, Value) {
    let input = repo_root().join("notebooks").join(name);
    let out = std::env::temp_dir().join(format!("trainbook-{}-{name}", std::process::id()));
    let status = Command::new(trainbook_bin())
        .arg("run")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run trainbook");
    assert!(status.success(), "trainbook run {name} failed");
    let fresh = read(&out);
    let _ = std::fs::remove_file(&out);
    (fresh, read(&input))
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(|s| s.as_str()).collect(),
        _ => String::new(),
    }
}

fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .collect()
}

/// The plain-text form of each output of a cell: results, streams, displays, errors.
fn outputs_text(cell: &Value) -> Vec<String> {
    cell["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o["output_type"].as_str().unwrap() {
            "stream" => format!("{}: {}", o["name"].as_str().unwrap(), text(&o["text"])),
            "error" => format!("error: {}", o["ename"]),
            kind => format!("{kind}: {}", text(&o["data"]["text/plain"])),
        })
        .collect()
}

/// The committed notebook must show what the code really does now.
fn assert_not_stale(name: &str, fresh: &Value, committed: &Value) {
    let fresh_cells = code_cells(fresh);
    let committed_cells = code_cells(committed);
    assert_eq!(fresh_cells.len(), committed_cells.len());
    for (i, (f, c)) in fresh_cells.iter().zip(&committed_cells).enumerate() {
        assert_eq!(
            outputs_text(f),
            outputs_text(c),
            "{name}: committed outputs of code cell {} are stale; rerun `trainbook run notebooks/{name}`",
            i + 1
        );
    }
}

#[test]
fn tour() {
    let (nb, committed) = run_notebook("00_tour.ipynb");
    let cells = code_cells(&nb);
    for cell in &cells {
        assert!(
            !outputs_text(cell).iter().any(|o| o.starts_with("error")),
            "a cell failed: {:?}",
            outputs_text(cell)
        );
    }
    assert_eq!(outputs_text(cells[1]), vec!["execute_result: 5.5"]);
    assert_eq!(
        outputs_text(cells[2]),
        vec!["stdout: epoch 1: loss 1.000\nepoch 2: loss 0.500\nepoch 3: loss 0.333\n"]
    );
    // The progress display ends on its final frame, between the two Markdown displays.
    let progress = &cells[3]["outputs"][1]["data"]["text/html"];
    assert!(text(progress).contains("value='100'"), "{progress}");
    assert_eq!(cells[3]["outputs"].as_array().unwrap().len(), 3);
    // Data, metrics and charts from the prelude.
    let iris = text(&cells[4]["outputs"][0]["data"]["text/html"]);
    assert!(
        iris.contains("150 samples, 4 features, 3 classes"),
        "{iris}"
    );
    let report = text(&cells[5]["outputs"][0]["data"]["text/plain"]);
    assert!(
        report.contains("virginica") && report.contains("weighted avg"),
        "{report}"
    );
    let accuracy_line = report
        .lines()
        .find(|l| l.trim_start().starts_with("accuracy"))
        .unwrap();
    assert!(
        accuracy_line.contains("0.95") && accuracy_line.contains("150"),
        "{report}"
    );
    let confusion = text(&cells[6]["outputs"][0]["data"]["text/html"]);
    assert!(
        confusion.contains("<th>setosa</th><td>50</td><td>0</td><td>0</td>"),
        "{confusion}"
    );
    // The live chart keeps one output: its final frame, 30 epochs of both series.
    let chart_outputs = cells[7]["outputs"].as_array().unwrap();
    assert_eq!(chart_outputs.len(), 1, "{chart_outputs:?}");
    let svg = text(&chart_outputs[0]["data"]["image/svg+xml"]);
    assert!(
        svg.starts_with("<svg") && svg.contains("\nvalidation\n</text>"),
        "{svg}"
    );
    assert!(
        svg.contains("\n30\n</text>") || svg.contains("\n30.0\n</text>"),
        "last epoch on the axis"
    );
    assert_eq!(outputs_text(cells[8]), vec!["execute_result: 10"]);
    assert_eq!(outputs_text(cells[9]), vec!["execute_result: 1000000"]);
    let vars = text(&cells[10]["outputs"][0]["data"]["text/plain"]);
    assert!(
        vars.contains("mean: f64") && vars.contains("iris: Dataset"),
        "{vars}"
    );
    assert_not_stale("00_tour.ipynb", &nb, &committed);
}
