//! Every notebook runs headless through `trainbook run`, and its outputs hold what it claims.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use trainbook_tests::stale::{check_not_stale, code_cells, text};
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

/// No cell of a fresh run produced an error.
fn assert_no_errors(cells: &[&Value]) {
    for cell in cells {
        assert!(
            !outputs_text(cell).iter().any(|o| o.starts_with("error")),
            "a cell failed: {:?}",
            outputs_text(cell)
        );
    }
}

/// The committed notebook must show what the code really does now, to the tolerance its cells
/// state (`trainbook_tests::stale`).
fn assert_not_stale(name: &str, fresh: &Value, committed: &Value) {
    if let Err(stale) = check_not_stale(committed, fresh) {
        panic!(
            "{name}: committed outputs are stale: {stale}; rerun `trainbook run notebooks/{name}`"
        );
    }
}

#[test]
fn tour() {
    let (nb, committed) = run_notebook("00_tour.ipynb");
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
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
    // A real training run: data, model summary, fit with its live display, evaluation.
    assert_eq!(outputs_text(cells[7]), vec!["execute_result: (1347, 450)"]);
    let summary = text(&cells[8]["outputs"][0]["data"]["text/html"]);
    assert!(
        summary.contains("MLP classifier") && summary.contains("total parameters: 17226"),
        "{summary}"
    );
    // fit keeps one output: the final frame of its live display, with the curves and table.
    let fit_outputs = cells[9]["outputs"].as_array().unwrap();
    assert_eq!(fit_outputs.len(), 1, "{fit_outputs:?}");
    let frame = text(&fit_outputs[0]["data"]["text/html"]);
    assert!(
        frame.contains("<svg") && frame.contains("val acc") && frame.contains("<progress"),
        "{frame}"
    );
    let outcome = text(&fit_outputs[0]["data"]["text/plain"]);
    assert!(
        outcome.starts_with("Training ") && outcome.contains("best epoch"),
        "{outcome}"
    );
    let evaluation = outputs_text(cells[10]);
    let accuracy: f64 = evaluation[0]
        .trim_start_matches("stdout: test accuracy ")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{evaluation:?}"));
    assert!(accuracy >= 0.96, "tour MLP test accuracy {accuracy}");
    let heatmap = text(&cells[10]["outputs"][1]["data"]["image/svg+xml"]);
    assert!(
        heatmap.starts_with("<svg") && heatmap.contains("predicted"),
        "{heatmap}"
    );
    // The best checkpoint, loaded into a fresh model, predicts the same.
    assert_eq!(outputs_text(cells[11]), vec!["execute_result: true"]);
    assert_eq!(outputs_text(cells[12]), vec!["execute_result: 10"]);
    assert_eq!(outputs_text(cells[13]), vec!["execute_result: 1000000"]);
    let vars = text(&cells[14]["outputs"][0]["data"]["text/plain"]);
    assert!(
        vars.contains("mean: f64") && vars.contains("model: Mlp"),
        "{vars}"
    );
    assert_not_stale("00_tour.ipynb", &nb, &committed);
}

#[test]
fn data_preparation() {
    let name = "01_data_preparation.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    let html = |i: usize, k: usize| text(&cells[i]["outputs"][k]["data"]["text/html"]);
    assert!(all(0).contains("wrote 184 rows"), "{}", all(0));
    assert!(html(1, 0).contains("184 rows × 15 columns"));
    // The file errors name the file, the row and line, and the fix.
    assert!(
        all(2).contains("wine_broken.csv: data row 1 (line 3) has 4 fields"),
        "{}",
        all(2)
    );
    assert!(
        all(2).contains("Csv::new(path).delimiter(b';')"),
        "{}",
        all(2)
    );
    // Inspection: the damage done in the first cell is found.
    let nulls = html(3, 0);
    assert!(
        nulls.contains("<td>magnesium</td><td>f64</td><td>8</td>"),
        "{nulls}"
    );
    assert!(
        nulls.contains("<td>proline</td><td>f64</td><td>13</td>"),
        "{nulls}"
    );
    assert!(
        html(4, 0).contains("<td>171.0</td>"),
        "proline count in describe"
    );
    assert!(all(5).contains("duplicate rows: 6"));
    assert_eq!(outputs_text(cells[6]), vec!["execute_result: (178, 15)"]);
    assert!(all(7).contains("train 133 rows, test 45 rows"));
    // The fitted pipeline shows its parameters.
    assert!(all(8).contains("18 features after preparation"));
    assert!(all(8).contains("magnesium\t97.000000\ttrue"), "{}", all(8));
    assert!(all(9).contains("train -0.000, test 0.103"), "{}", all(9));
    assert_eq!(outputs_text(cells[10]), vec!["execute_result: true"]);
    // Every fold fitted its own scaler.
    let folds = all(11);
    let means: Vec<&str> = folds
        .lines()
        .filter_map(|l| l.split("alcohol mean ").nth(1))
        .collect();
    assert_eq!(means.len(), 5, "{folds}");
    assert!(means.windows(2).all(|w| w[0] != w[1]), "{folds}");
    assert!(all(13).contains("random oversampling: 570 rows"));
    assert!(
        html(13, 1).contains("<td>285</td><td>0.5</td>"),
        "SMOTE balances the classes"
    );
    // scikit-learn's compute_class_weight("balanced") for 170 and 285 samples.
    assert_eq!(
        outputs_text(cells[14]),
        vec!["execute_result: [1.338235294117647, 0.7982456140350878]"]
    );
    assert!(all(15).contains("x [32, 18], y [32]"), "{}", all(15));
    assert!(html(16, 0).contains("5 rows × 2 columns"));
    assert_not_stale(name, &nb, &committed);
}

/// The numbers after a prefix in an output line, e.g. "recall 0.455 without them, 0.909 …".
fn numbers_after(text: &str, prefix: &str) -> Vec<f64> {
    let rest = &text[text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} not in {text:?}"))
        + prefix.len()..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| s.contains('.'))
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn common_problems() {
    let name = "06_common_problems.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert_eq!(all(0), "execute_result: (150, 1647)");
    // Overfitting: the loss chart, then the diagnosis names the epoch where it began.
    let chart = text(&cells[1]["outputs"][0]["data"]["image/svg+xml"]);
    assert!(chart.starts_with("<svg"), "{chart}");
    assert!(all(1).contains("Overfitting from epoch"), "{}", all(1));
    assert!(
        all(2).contains("stopped early") && all(2).contains("restored"),
        "{}",
        all(2)
    );
    // Both remedies end with a lower validation loss than the model left alone.
    let table = all(3);
    let loss = |model: &str| -> f64 {
        let line = table.lines().find(|l| l.contains(model)).unwrap();
        line.split('┆').nth(1).unwrap().trim().parse().unwrap()
    };
    let plain = loss("no remedy");
    assert!(
        loss("L2 + dropout") < plain && loss("early stopping") < plain,
        "{table}"
    );
    // Underfitting, then fixed by capacity.
    assert!(all(4).contains("Underfitting"), "{}", all(4));
    let accuracies = numbers_after(&all(5), "logistic regression");
    assert!(
        accuracies[0] < 0.92 && accuracies[1] >= 0.98,
        "{accuracies:?}"
    );
    assert!(all(5).contains("Fine"), "{}", all(5));
    // Class imbalance: the rare class's recall, without and with class weights.
    let recalls = numbers_after(&all(7), "rare-class recall");
    assert!(recalls[0] < 0.6 && recalls[1] >= 0.85, "{recalls:?}");
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn hyperparameter_tuning() {
    let name = "04_hyperparameter_tuning.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert_eq!(all(0), "execute_result: (1347, 450)");
    // Each study ends on one live-display frame: its summary and the history chart.
    for cell in &cells[2..=4] {
        let outputs = cell["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 1, "{outputs:?}");
        assert!(text(&outputs[0]["data"]["text/html"]).contains("<svg"));
    }
    assert!(all(2).contains("27 trials: 27 complete"), "{}", all(2));
    assert!(all(3).contains("27 trials: 27 complete"), "{}", all(3));
    let pruned = numbers_after(&all(4).replace(" pruned", ".0 pruned"), "complete, ");
    assert!(
        pruned[0] >= 1.0,
        "the Bayesian study pruned nothing: {}",
        all(4)
    );
    // The comparison chart, and the Bayesian search's best beats the grid's.
    assert!(text(&cells[5]["outputs"][0]["data"]["image/svg+xml"]).starts_with("<svg"));
    let table = all(5);
    let best = |search: &str| -> f64 {
        let line = table
            .lines()
            .find(|l| l.contains(&format!("│ {search} ")))
            .unwrap();
        line.split('┆').nth(1).unwrap().trim().parse().unwrap()
    };
    assert!(best("Bayesian") < best("grid"), "{table}");
    assert!(
        all(6).contains("pruned") && all(6).contains("(27, 6)"),
        "{}",
        all(6)
    );
    // What the Bayesian search learned: a panel per parameter, then parallel coordinates.
    for i in [7, 8] {
        let svg = text(&cells[i]["outputs"][0]["data"]["image/svg+xml"]);
        assert!(svg.starts_with("<svg"), "cell {i}");
        for label in ["lr", "hidden", "dropout", "validation loss"] {
            assert!(
                svg.contains(&format!("\n{label}\n")),
                "cell {i}: no {label}"
            );
        }
    }
    // The forest tuned by parallel cross-validation: scikit-learn's RandomForest(100) gets
    // 0.937 on digits, 5-fold.
    assert!(all(9).contains("12 trials: 12 complete"), "{}", all(9));
    let best_accuracy = numbers_after(&all(9), "best ")[0];
    assert!(best_accuracy >= 0.93, "{}", all(9));
    assert!(
        all(10).contains("(12, 5)") && all(10).contains("i64"),
        "{}",
        all(10)
    );
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn augmentation() {
    let name = "02_augmentation.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert!(
        all(0).contains("120 images of 32x32, classes [\"circle\", \"square\", \"triangle\"]"),
        "{}",
        all(0)
    );
    // Grids: one <img> per image in the HTML, and a PNG of the tiles for code hosts.
    let grid = |i: usize| {
        let data = &cells[i]["outputs"].as_array().unwrap().last().unwrap()["data"];
        let png = text(&data["image/png"]);
        assert!(png.starts_with("iVBORw0KGgo"), "cell {i}: no PNG");
        text(&data["text/html"]).matches("<img").count()
    };
    assert_eq!(grid(0), 9);
    assert_eq!(grid(1), 17);
    assert_eq!(grid(2), 12);
    assert!(
        all(2).contains("1: crop ") && all(2).contains("→ 32x32"),
        "{}",
        all(2)
    );
    assert!(
        all(3).contains("same sample and epoch, same image: true")
            && all(3).contains("replayed from the record, same image: true"),
        "{}",
        all(3)
    );
    // Augmentation helps on unseen shapes.
    let accuracy = numbers_after(&all(4), "without augmentation");
    assert!(
        accuracy[0] + 0.03 < accuracy[1] && accuracy[1] >= 0.83,
        "{accuracy:?}"
    );
    assert!(text(&cells[4]["outputs"][1]["data"]["image/svg+xml"]).starts_with("<svg"));
    assert!(
        all(5).contains("Fail: <folder>/circle/broken.png is not a readable image")
            && all(5).contains("Skip: 9 images kept, skipped [\"broken.png\"]"),
        "{}",
        all(5)
    );
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn image_classification() {
    let name = "07_image_classification.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert!(
        all(0).contains("1346 training and 451 test images of 8x8 pixels"),
        "{}",
        all(0)
    );
    let html = |i: usize| {
        let outputs = cells[i]["outputs"].as_array().unwrap();
        text(&outputs.last().unwrap()["data"]["text/html"])
    };
    assert_eq!(html(0).matches("<img").count(), 20);
    assert_eq!(html(1).matches("<img").count(), 10);
    assert!(
        all(2).contains("CNN classifier") && all(2).contains("total parameters: 38282"),
        "{}",
        all(2)
    );
    // Training ends on its final live frame with the curves.
    let training = &cells[3]["outputs"].as_array().unwrap();
    assert_eq!(training.len(), 1, "{training:?}");
    assert!(text(&training[0]["data"]["text/html"]).contains("<svg"));
    // The CNN reaches the accuracy PyTorch's reaches on digits (0.975, bench/RESULTS.md).
    let accuracy = numbers_after(&all(4), "test accuracy");
    assert!(accuracy[0] >= 0.975, "{accuracy:?}");
    assert!(text(&cells[4]["outputs"][1]["data"]["image/svg+xml"]).starts_with("<svg"));
    // Every misread digit is shown, captioned.
    let misread: usize = all(5).split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(all(5).contains(" of 451 test digits misread"), "{}", all(5));
    assert_eq!(html(5).matches("<img").count(), misread);
    assert!(html(5).contains("read as"));
    assert_eq!(all(6), "execute_result: true");
    assert_not_stale(name, &nb, &committed);
}

/// The cells of a polars table row that contains `key`, split on its column separators.
fn table_row(table: &str, key: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("no row {key:?} in {table}"))
        .trim_matches(|c| c == '│' || c == ' ')
        .split('┆')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn text_classification() {
    let name = "08_text_classification.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert!(all(0).contains("(8, 2)"), "{}", all(0));
    assert!(all(2).contains("vocabulary: 60 ids"), "{}", all(2));
    // The live training display ends as one final frame.
    let outputs = cells[5]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(text(&outputs[0]["data"]["text/html"]).contains("<svg"));
    // The LSTM reads negation that word presence cannot: well above the bag of words.
    let accuracies = numbers_after(&all(6), "LSTM test accuracy");
    let (lstm, bag) = (accuracies[0], accuracies[1]);
    assert!(lstm >= 0.93 && lstm > bag + 0.1, "{}", all(6));
    assert!(all(6).contains("weighted avg"), "{}", all(6));
    let probes = all(7);
    for (plain, negated) in [
        ("the kettle is great", "the kettle is not great"),
        ("this lamp is flimsy", "this lamp is not flimsy"),
        ("my new camera: useless", "my new camera: not useless"),
    ] {
        let lstm = |review: &str| -> f64 {
            table_row(&probes, &format!("{review} "))[2]
                .parse()
                .unwrap()
        };
        assert!(
            (lstm(plain) - 0.5) * (lstm(negated) - 0.5) < 0.0,
            "the LSTM did not flip {plain:?} / {negated:?}: {probes}"
        );
    }
    assert!(all(8).contains("test reviews misread"), "{}", all(8));
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn recommendation_system() {
    let name = "09_recommendation_system.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert!(text(&cells[0]["outputs"][1]["data"]["image/svg+xml"]).starts_with("<svg"));
    let baseline = numbers_after(&all(1), "RMSE ")[0];
    assert!((baseline - 1.094).abs() < 0.01, "{}", all(1));
    // Both embedding models beat the mean rating by a wide margin.
    let mf = numbers_after(&all(4), "matrix factorisation ")[0];
    let towers = numbers_after(&all(4), "two towers ")[0];
    assert!(
        mf < 0.8 * baseline && towers < 0.85 * baseline,
        "{}",
        all(4)
    );
    // Their top-10 lists find more liked items than the most-liked items do.
    let table = all(5);
    let precision = |row: &str| -> f64 { table_row(&table, row)[1].parse().unwrap() };
    assert!(
        precision("matrix factorisation") > precision("most liked items"),
        "{table}"
    );
    assert!(
        precision("two towers") > precision("most liked items"),
        "{table}"
    );
    assert!(all(6).contains("liked in held-out data") && all(6).contains("(10, 3)"));
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn gpu_speed_and_cost() {
    let name = "10_gpu_speed_and_cost.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert!(
        all(0).contains("\"CPU (") || all(0).contains("CUDA"),
        "{}",
        all(0)
    );
    assert!(numbers_after(&all(1), "epochs: ")[0] >= 0.95, "{}", all(1));
    for row in ["epochs: 10", "training time: ", "per epoch: ", "samples/s"] {
        assert!(all(2).contains(row), "{}", all(2));
    }
    for row in [
        "batch size: 1",
        "calls timed: 200",
        "p50 latency: ",
        "p95 latency: ",
    ] {
        assert!(all(3).contains(row), "{}", all(3));
    }
    assert!(all(4).contains("(4, 4)"), "{}", all(4));
    assert!(text(&cells[5]["outputs"][0]["data"]["image/svg+xml"]).starts_with("<svg"));
    assert!(all(6).contains("parameters: 9610 vs 301066"), "{}", all(6));
    // The guide's prices: 40 h x $0.45 + 600 GB-months x $0.026 + 50 GB x $0.12.
    assert!(all(7).ends_with("total: $39.60"), "{}", all(7));
    let chart = text(&cells[8]["outputs"][0]["data"]["image/svg+xml"]);
    assert!(chart.contains("$18.00") && chart.contains("$15.60") && chart.contains("$6.00"));
    assert!(all(9).contains("no price for GPU \"A100\""), "{}", all(9));
    assert_eq!(table_row(&all(9), "A100 GPU")[4], "22.0");
    assert!(all(10).contains("50 trainings of"), "{}", all(10));
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn evaluation() {
    let name = "05_evaluation.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    assert_eq!(
        all(0),
        "execute_result: ([\"malignant\", \"benign\"], 426, 143)"
    );
    let scores = numbers_after(&all(1), "accuracy");
    assert!(scores[0] >= 0.95, "{}", all(1));
    assert!(
        numbers_after(&all(1), "malignant recall")[0] >= 0.9,
        "{}",
        all(1)
    );
    assert!(all(1).contains("malignant      0.96"), "{}", all(1));
    assert!(text(&cells[2]["outputs"][0]["data"]["image/svg+xml"]).starts_with("<svg"));
    // A constant "benign" model: 90 of 143 right, and 0/0 precision as chosen.
    assert!(all(3).contains("always 'benign': 0.6294"), "{}", all(3));
    for line in ["with Zero: 0\n", "with One: 1\n", "with Nan: NaN"] {
        assert!(all(3).contains(line), "{}", all(3));
    }
    assert!(numbers_after(&all(4), "ROC AUC ")[0] >= 0.98, "{}", all(4));
    assert!(text(&cells[5]["outputs"][0]["data"]["image/svg+xml"]).starts_with("<svg"));
    // 5-fold means: the forest beats a full tree, which beats a stump.
    let means = |model: &str| numbers_after(&all(7), model)[0];
    let (stump, tree, forest) = (
        means("max_depth=1)"),
        means("max_depth=None)"),
        means("n_estimators=100)"),
    );
    assert!(
        forest >= 0.95 && forest > tree && tree > stump,
        "{}",
        all(7)
    );
    // Four scorings on the same folds, one of them a function of the user's.
    let scored = all(8);
    let score = |model: &str, scorer: &str| -> f64 {
        let line = scored
            .lines()
            .find(|l| l.contains(model))
            .unwrap_or_else(|| panic!("no {model} in {scored}"));
        let value = numbers_after(line, scorer)[0];
        if scorer.starts_with("neg_") {
            assert!(line.contains(&format!("{scorer} -")), "{line}");
            -value
        } else {
            value
        }
    };
    let forest = "n_estimators=100)";
    for scorer in ["balanced_accuracy", "roc_auc", "neg_log_loss"] {
        for other in ["max_depth=1)", "max_depth=None)"] {
            assert!(
                score(forest, scorer) > score(other, scorer),
                "{scorer}: {scored}"
            );
        }
    }
    // The fully grown tree is certain of its wrong answers: its log loss is the worst.
    assert!(score("max_depth=None)", "neg_log_loss") < -1.0, "{scored}");
    assert!(score(forest, "malignant_recall") >= 0.9, "{scored}");
    assert!(all(9).contains("Overfitting"), "{}", all(9));
    assert!(all(10).contains("Underfitting"), "{}", all(10));
    assert!(all(11).contains("[45, 113, 227, 341, 455]"), "{}", all(11));
    assert_not_stale(name, &nb, &committed);
}

#[test]
fn model_selection() {
    let name = "03_model_selection.ipynb";
    let (nb, committed) = run_notebook(name);
    let cells = code_cells(&nb);
    assert_no_errors(&cells);
    let all = |i: usize| outputs_text(cells[i]).join("\n");
    let svg = |i: usize, output: usize| text(&cells[i]["outputs"][output]["data"]["image/svg+xml"]);
    let cell = |i: usize, row: &str, column: usize| -> f64 {
        table_row(&all(i), row)[column].parse().unwrap()
    };
    assert!(all(0).contains("(569, 30, 5)"), "{}", all(0));
    // Tabular classification: the same folds as scikit-learn, the same accuracies.
    assert_eq!(cell(1, "logistic regression", 1), 0.9807, "{}", all(1));
    assert_eq!(cell(1, "SVM, RBF kernel", 1), 0.9736, "{}", all(1));
    assert_eq!(cell(1, "SVM, linear kernel", 1), 0.9719, "{}", all(1));
    let (tree, forest) = (cell(1, "decision tree", 1), cell(1, "random forest", 1));
    assert!(forest >= 0.95 && forest > tree + 0.02, "{}", all(1));
    assert!(
        cell(1, "decision tree", 3) > tree + 0.05,
        "the tree's train accuracy shows its variance"
    );
    assert!(cell(1, "MLP", 1) >= 0.96, "{}", all(1));
    assert!(svg(2, 0).starts_with("<svg") && svg(2, 0).contains("worst texture"));
    // Images: the SVM on pixels is as good as a small CNN.
    assert!(
        numbers_after(&all(3), "test accuracy")[0] >= 0.98,
        "{}",
        all(3)
    );
    assert!(
        numbers_after(&all(4), "test accuracy")[0] >= 0.97,
        "{}",
        all(4)
    );
    // Every image family on the same stratified folds, by macro F1: the CNN and the MLP enter
    // cross-validation like the SVM and the forest.
    for (model, least) in [
        ("SVM, RBF kernel", 0.95),
        ("random forest", 0.92),
        ("MLP", 0.92),
        ("CNN", 0.93),
    ] {
        assert!(cell(5, model, 1) >= least, "{model}: {}", all(5));
    }
    // Sequences: the flat models barely beat the majority; the LSTM is far ahead.
    let majority = numbers_after(&all(6), "majority class:")[0];
    let flat_forest = numbers_after(&all(6), "random forest on the 24 columns:")[0];
    let lstm = numbers_after(&all(7), "in order:")[0];
    assert_eq!(majority, 0.61, "{}", all(6));
    assert!(
        flat_forest < 0.75 && lstm >= 0.85 && lstm > flat_forest + 0.1,
        "{} {}",
        all(6),
        all(7)
    );
    // The same on five stratified folds, by balanced accuracy (the majority guess scores 0.5).
    let balanced = |model: &str| numbers_after(&all(8), model)[0];
    assert!(balanced("logistic regression") < 0.7, "{}", all(8));
    assert!(balanced("random forest, 100 trees") < 0.75, "{}", all(8));
    assert!(
        balanced("LSTM, 32 hidden, 20 epochs") >= 0.85
            && balanced("LSTM, 32 hidden, 20 epochs") > balanced("random forest, 100 trees") + 0.15,
        "{}",
        all(8)
    );
    // Regression: linear wins, the full tree overfits below zero.
    assert_eq!(cell(9, "linear regression", 1), 0.4823, "{}", all(9));
    assert!(cell(9, "tree, fully grown", 1) < 0.0, "{}", all(9));
    assert_eq!(cell(9, "tree, fully grown", 3), 1.0, "{}", all(9));
    let forest_r2 = cell(9, "random forest", 1);
    assert!((0.38..0.47).contains(&forest_r2), "{}", all(9));
    // Clustering: only the shape-agnostic methods find the moons.
    assert_eq!(cell(10, "single linkage", 1), 1.0, "{}", all(10));
    assert_eq!(cell(10, "DBSCAN", 1), 1.0, "{}", all(10));
    assert!(cell(10, "k-means", 1) < 0.5, "{}", all(10));
    assert!(svg(11, 0).starts_with("<svg") && svg(11, 1).starts_with("<svg"));
    assert!(
        numbers_after(&all(12), "species: ARI")[0] > 0.7,
        "{}",
        all(12)
    );
    let dendrogram = cells[12]["outputs"].as_array().unwrap().last().unwrap();
    assert!(text(&dendrogram["data"]["image/svg+xml"]).contains("Dendrogram (Ward linkage)"));
    assert_not_stale(name, &nb, &committed);
}

/// The committed notebooks, read from the repository (no kernel involved).
fn committed_notebooks() -> Vec<(String, Value)> {
    let mut notebooks: Vec<(String, Value)> = std::fs::read_dir(repo_root().join("notebooks"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read(&p),
            )
        })
        .collect();
    notebooks.sort_by(|a, b| a.0.cmp(&b.0));
    notebooks
}

/// Rewrites every decimal number in the plain text and streams of one code cell.
fn perturb_cell(cell: &mut Value, mut change: impl FnMut(f64, usize) -> f64) {
    let mut rewrite = |s: &str| {
        trainbook_tests::stale::map_numbers(s, |written, value, integer| {
            let decimals = written.split_once('.').map_or(0, |(_, d)| d.len());
            if integer || written.contains(['e', 'E']) {
                written.to_owned()
            } else {
                format!("{:.*}", decimals, change(value, decimals))
            }
        })
    };
    for output in cell["outputs"].as_array_mut().unwrap() {
        let field = if output["output_type"] == "stream" {
            &mut output["text"]
        } else {
            &mut output["data"]["text/plain"]
        };
        let changed = match &*field {
            Value::String(s) => Value::String(rewrite(s)),
            Value::Array(lines) => Value::Array(
                lines
                    .iter()
                    .map(|l| Value::String(rewrite(l.as_str().unwrap_or(""))))
                    .collect(),
            ),
            _ => continue,
        };
        *field = changed;
    }
}

/// What another CPU does to a notebook (training numbers drift in their last digits, see
/// README "Reproducibility") passes the stale check; a larger drift, or any change to a number
/// of an exact cell, fails it. Checked on every committed notebook, without running them.
#[test]
fn stale_check_tolerates_cpu_drift_and_nothing_more() {
    use trainbook_tests::stale::{rule_for, Rule};
    let mut trained_cells = 0;
    for (name, committed) in committed_notebooks() {
        let code: Vec<usize> = committed["cells"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, c)| c["cell_type"] == "code")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(check_not_stale(&committed, &committed), Ok(()), "{name}");
        for &i in &code {
            let rule = rule_for(&committed, &committed["cells"][i])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let Rule::Trained(tolerance) = rule else {
                continue;
            };
            trained_cells += 1;
            // Within: every decimal number moves by up to 40% of the tolerance, up or down.
            let mut within = committed.clone();
            let mut sign = 1.0;
            perturb_cell(&mut within["cells"][i], |v, _| {
                sign = -sign;
                v + sign * 0.4 * tolerance.abs
            });
            assert_eq!(
                check_not_stale(&committed, &within),
                Ok(()),
                "{name}: cell {i} drifted within its tolerance"
            );
            // Beyond: the numbers move by three times the tolerance.
            let mut beyond = committed.clone();
            perturb_cell(&mut beyond["cells"][i], |v, _| v + 3.0 * tolerance.abs);
            if beyond != committed {
                assert!(
                    check_not_stale(&committed, &beyond).is_err(),
                    "{name}: cell {i} drifted beyond its tolerance and passed"
                );
            }
        }
        // An exact cell's number changed in its last digit fails.
        for &i in &code {
            if rule_for(&committed, &committed["cells"][i]) != Ok(Rule::Exact) {
                continue;
            }
            let mut nudged = committed.clone();
            perturb_cell(&mut nudged["cells"][i], |v, decimals| {
                v + 10f64.powi(-(decimals as i32))
            });
            if nudged != committed {
                let stale = check_not_stale(&committed, &nudged);
                assert!(
                    stale.is_err(),
                    "{name}: cell {i}: a changed exact number passed"
                );
                break;
            }
        }
    }
    assert!(
        trained_cells >= 5,
        "only {trained_cells} cells are tagged `trained`"
    );
}

/// Real drift between two CPUs (`tests/fixtures/cross_cpu.json`, made by the script beside
/// it from the notebooks run on both): each cell's outputs from one machine pass the stale
/// check against the other's, both ways, under the tags and tolerance the notebook states now.
#[test]
fn outputs_from_another_cpu_pass_the_stale_check_both_ways() {
    let fixture = read(&repo_root().join("tests/fixtures/cross_cpu.json"));
    let cells = fixture["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for cell in cells {
        let name = cell["notebook"].as_str().unwrap();
        let index = cell["code_cell"].as_u64().unwrap() as usize;
        let notebook = read(&repo_root().join("notebooks").join(name));
        let code = code_cells(&notebook)[index - 1].clone();
        let one_cell = |outputs: &Value| {
            let mut c = code.clone();
            c["outputs"] = outputs.clone();
            serde_json::json!({"metadata": notebook["metadata"], "cells": [c]})
        };
        let (here, there) = (one_cell(&cell["committed"]), one_cell(&cell["other_cpu"]));
        assert_ne!(
            here, there,
            "{name} cell {index}: the fixture shows no drift"
        );
        for (a, b) in [(&here, &there), (&there, &here)] {
            if let Err(stale) = check_not_stale(a, b) {
                panic!("{name} code cell {index}: another CPU's outputs are called stale: {stale}");
            }
        }
    }
}

/// `trainbook run` stops at a cell whose `?` returned an error: it names the cell and the
/// error, exits non-zero, writes the notebook with the error as that cell's output, and leaves
/// the cells after it unrun.
#[test]
fn trainbook_run_stops_at_a_cell_that_fails_with_a_question_mark() {
    let dir = std::env::temp_dir().join(format!("trainbook-qm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cell = |source: &str| {
        serde_json::json!({"cell_type": "code", "metadata": {}, "source": source,
                           "outputs": [], "execution_count": null})
    };
    let notebook = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            cell("let first = 1;"),
            cell("let size: usize = \"ten\".parse()?;"),
            cell("println!(\"third cell ran\");"),
        ]
    });
    let input = dir.join("failing.ipynb");
    let output = dir.join("out.ipynb");
    std::fs::write(&input, notebook.to_string()).unwrap();
    let run = Command::new(trainbook_bin())
        .arg("run")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .expect("run trainbook");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "exit 0: {stderr}");
    assert!(
        stderr.contains("cell 2 failed: ParseIntError: invalid digit found in string"),
        "{stderr}"
    );
    let written = read(&output);
    let cells = code_cells(&written);
    assert_eq!(
        outputs_text(cells[1]),
        vec!["error: \"ParseIntError\""],
        "{:?}",
        cells[1]
    );
    assert_eq!(cells[2]["outputs"], serde_json::json!([]));
    assert!(cells[2]["execution_count"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}
