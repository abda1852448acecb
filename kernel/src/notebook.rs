//! `trainbook run`: executes a notebook headless through the same runner the kernel uses and
//! writes the outputs back in nbformat 4.

use crate::runner::{Output, OutputSink, Runner, RunnerOptions};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Collects one cell's outputs as nbformat output objects.
#[derive(Default)]
struct CellOutputs {
    outputs: Vec<Value>,
    /// `clear_output(wait=true)` clears when the next output arrives.
    clear_pending: bool,
    /// display_id → index in `outputs`, so updates replace the right output.
    display_ids: Vec<(String, usize)>,
}

#[derive(Default)]
struct NotebookSink {
    cell: Mutex<CellOutputs>,
}

impl OutputSink for NotebookSink {
    fn emit(&self, output: Output) {
        let mut cell = self.cell.lock().unwrap();
        if !matches!(output, Output::UpdateDisplay { .. } | Output::Clear { .. })
            && cell.clear_pending
        {
            cell.outputs.clear();
            cell.display_ids.clear();
            cell.clear_pending = false;
        }
        match output {
            Output::Stream { name, text } => {
                if let Some(last) = cell.outputs.last_mut() {
                    if last["output_type"] == "stream" && last["name"] == name {
                        let joined = format!("{}{}", last["text"].as_str().unwrap_or(""), text);
                        last["text"] = Value::String(joined);
                        return;
                    }
                }
                cell.outputs
                    .push(json!({"output_type": "stream", "name": name, "text": text}));
            }
            Output::Display {
                data,
                metadata,
                display_id,
            } => {
                let index = cell.outputs.len();
                cell.outputs.push(
                    json!({"output_type": "display_data", "data": data, "metadata": metadata}),
                );
                if let Some(id) = display_id {
                    cell.display_ids.push((id, index));
                }
            }
            Output::UpdateDisplay {
                data,
                metadata,
                display_id,
            } => {
                let indices: Vec<usize> = cell
                    .display_ids
                    .iter()
                    .filter(|(id, _)| *id == display_id)
                    .map(|(_, i)| *i)
                    .collect();
                for i in indices {
                    cell.outputs[i]["data"] = data.clone();
                    cell.outputs[i]["metadata"] = metadata.clone();
                }
            }
            Output::Clear { wait } => {
                if wait {
                    cell.clear_pending = true;
                } else {
                    cell.outputs.clear();
                    cell.display_ids.clear();
                }
            }
        }
    }
}

/// Normalises nbformat's "string or list of strings" fields.
pub fn source_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.as_str()).collect(),
        _ => String::new(),
    }
}

/// Splits text the way Jupyter stores multi-line strings: a list of lines with their newlines.
pub fn multiline(text: &str) -> Value {
    Value::Array(
        text.split_inclusive('\n')
            .map(|l| Value::String(l.to_owned()))
            .collect(),
    )
}

fn store_multiline(output: &mut Value) {
    if let Some(text) = output
        .get("text")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
    {
        output["text"] = multiline(&text);
    }
    if let Some(data) = output.get_mut("data").and_then(|d| d.as_object_mut()) {
        for (mime, value) in data.iter_mut() {
            let is_text = mime.starts_with("text/") || mime == "image/svg+xml";
            if let (true, Some(s)) = (is_text, value.as_str()) {
                *value = multiline(s);
            }
        }
    }
}

pub fn run(input: &Path, output: &Path) -> Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read notebook {}", input.display()))?;
    let mut notebook: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON notebook", input.display()))?;
    if notebook["nbformat"].as_u64() != Some(4) {
        bail!(
            "{} is not an nbformat 4 notebook (nbformat = {})",
            input.display(),
            notebook["nbformat"]
        );
    }
    // Checked before any cell runs: the outputs are written into this object at the end.
    match notebook.get("metadata") {
        None => notebook["metadata"] = json!({}),
        Some(Value::Object(_)) => {}
        Some(other) => bail!(
            "{}: the notebook's metadata is {}, not an object (nbformat 4 requires an object); \
             fix it in a text editor, e.g. replace it with {{}}",
            input.display(),
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Null => "null",
                _ => "a number or boolean",
            }
        ),
    }
    let started = Instant::now();
    let progress = |line: &str| eprintln!("{line}");
    let mut runner = Runner::start(RunnerOptions::default(), &progress)?;
    eprintln!(
        "evaluator ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let sink = Arc::new(NotebookSink::default());
    let cells = notebook["cells"]
        .as_array_mut()
        .context("notebook has no cells array")?;
    let total = cells.iter().filter(|c| c["cell_type"] == "code").count();
    let mut count = 0u64;
    let mut failure: Option<String> = None;
    for cell in cells.iter_mut() {
        if cell["cell_type"] != "code" {
            continue;
        }
        if failure.is_some() {
            // Like nbconvert: cells after the failing one are left without outputs.
            cell["outputs"] = json!([]);
            cell["execution_count"] = Value::Null;
            continue;
        }
        count += 1;
        let code = source_text(&cell["source"]);
        *sink.cell.lock().unwrap() = CellOutputs::default();
        let cell_started = Instant::now();
        let outcome = runner.execute(&code, sink.clone(), &|prompt, _| {
            eprintln!("input({prompt:?}) requested: headless runs answer with an empty string");
            String::new()
        });
        let mut outputs = std::mem::take(&mut sink.cell.lock().unwrap().outputs);
        if let Some(result) = outcome.result {
            outputs.push(
                json!({"output_type": "execute_result", "execution_count": count,
                                "data": result, "metadata": {}}),
            );
        }
        if let Some(error) = &outcome.error {
            outputs.push(json!({"output_type": "error", "ename": error.ename,
                                "evalue": error.evalue, "traceback": error.traceback}));
            failure = Some(format!(
                "cell {count} failed: {}: {}\n{}",
                error.ename,
                error.evalue,
                error.traceback.join("\n")
            ));
        }
        for output in outputs.iter_mut() {
            store_multiline(output);
        }
        cell["outputs"] = Value::Array(outputs);
        cell["execution_count"] = json!(count);
        eprintln!(
            "[{count}/{total}] {} in {:.2} s",
            if outcome.error.is_some() {
                "failed"
            } else {
                "ok"
            },
            cell_started.elapsed().as_secs_f64()
        );
    }
    let kernelspec =
        json!({"name": "trainbook", "display_name": "Rust (Trainbook)", "language": "rust"});
    notebook["metadata"]["kernelspec"] = kernelspec;
    notebook["metadata"]["language_info"] = json!({
        "name": "rust", "mimetype": "text/rust", "file_extension": ".rs",
        "pygments_lexer": "rust", "codemirror_mode": "rust"
    });
    // Jupyter writes notebooks with one-space indentation; match it to keep diffs small.
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buf, formatter);
    serde::Serialize::serialize(&notebook, &mut serializer)?;
    let mut text = String::from_utf8(buf)?;
    text.push('\n');
    trainbook_wire::files::replace(output, |temporary| std::fs::write(temporary, text))
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "ran {count} cells of {} in {:.1} s; wrote {}",
        input.display(),
        started.elapsed().as_secs_f64(),
        output.display()
    );
    match failure {
        Some(message) => bail!("{message}"),
        None => Ok(()),
    }
}
