//! The stale-output check: does a committed notebook still show what its code does?
//!
//! A fresh run of a notebook is compared with the committed one, cell by cell. What must not
//! change is compared exactly: the number of cells and outputs, each output's type and MIME
//! types, all text, every integer, and the labels of every SVG chart. Numbers are compared by
//! the cell's rule:
//!
//! - **exact** (the default): every number as written. Metrics computed on fixed data land here.
//! - **trained** (tag `trained`): numbers that come out of a training run (losses, accuracies)
//!   may differ by a stated tolerance, because matrix products sum in an order that depends on
//!   the CPU (gemm picks its block sizes from the cache sizes), so a seeded run drifts in the
//!   last digits after enough steps. The tolerance is the cell's `metadata.trainbook.tolerance`,
//!   else the notebook's, e.g. `{"abs": 0.01}`; a tagged cell without one is a mistake and
//!   fails. Integers stay exact unless the tolerance allows `"integers"` (a count that follows
//!   from a trained model, e.g. misread test images).
//! - **timing** (tag `timing`): measured times and machine sizes; every number is masked and
//!   only the text around it must match.
//!
//! Chart labels that are only a number (axis ticks) are compared in exact cells only: in the
//! other two an axis range that moves a little picks other ticks, and another number of them.
//!
//! In the last two, runs of table padding (spaces, box rules) collapse to one character, since
//! a column's width follows the digits of its widest number.

use serde_json::Value;
use std::fmt;

/// How far apart two numbers of a trained cell may be: `|a - b| <= abs + rel * max(|a|, |b|)`.
/// `integers` is how far two integers may be apart (0: equal).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
    pub integers: u64,
}

impl Tolerance {
    /// Reads `{"abs": 0.01, "rel": 0.0, "integers": 0}` (every key optional, at least one given).
    pub fn from_json(value: &Value) -> Result<Tolerance, String> {
        let object = value.as_object().ok_or_else(|| {
            format!("a tolerance is an object like {{\"abs\": 0.01}}, not {value}")
        })?;
        let mut tolerance = Tolerance {
            abs: 0.0,
            rel: 0.0,
            integers: 0,
        };
        if object.is_empty() {
            return Err("an empty tolerance: give \"abs\", \"rel\" or \"integers\"".into());
        }
        for (key, v) in object {
            let bad = || format!("tolerance {key:?} must be a non-negative number, not {v}");
            match key.as_str() {
                "abs" => tolerance.abs = v.as_f64().filter(|x| *x >= 0.0).ok_or_else(bad)?,
                "rel" => tolerance.rel = v.as_f64().filter(|x| *x >= 0.0).ok_or_else(bad)?,
                "integers" => tolerance.integers = v.as_u64().ok_or_else(bad)?,
                other => {
                    let keys = "\"abs\", \"rel\", \"integers\"";
                    return Err(format!(
                        "unknown tolerance key {other:?}: the keys are {keys}"
                    ));
                }
            }
        }
        Ok(tolerance)
    }

    fn allows_floats(&self, a: f64, b: f64) -> bool {
        if a == b {
            return true;
        }
        // The printed numbers are decimal: allow the rounding of the printed digits themselves.
        let slack = 1e-12 * a.abs().max(b.abs()).max(1.0);
        (a - b).abs() <= self.abs + self.rel * a.abs().max(b.abs()) + slack
    }
}

/// The rule a cell's numbers are compared by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Exact,
    Trained(Tolerance),
    Timing,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Exact => write!(f, "exact"),
            Rule::Timing => write!(f, "timing (numbers masked)"),
            Rule::Trained(t) => write!(
                f,
                "trained (abs {}, rel {}, integers ±{})",
                t.abs, t.rel, t.integers
            ),
        }
    }
}

fn has_tag(cell: &Value, tag: &str) -> bool {
    cell["metadata"]["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t == tag))
}

/// The rule for one code cell of `notebook`, from its tags and the tolerances stated.
pub fn rule_for(notebook: &Value, cell: &Value) -> Result<Rule, String> {
    let timing = has_tag(cell, "timing");
    let trained = has_tag(cell, "trained");
    let own = &cell["metadata"]["trainbook"]["tolerance"];
    match (timing, trained) {
        (true, true) => Err("a cell is tagged both `timing` and `trained`: pick one".into()),
        (true, false) => Ok(Rule::Timing),
        (false, true) => {
            let stated = if own.is_null() {
                &notebook["metadata"]["trainbook"]["tolerance"]
            } else {
                own
            };
            if stated.is_null() {
                return Err("a cell tagged `trained` needs a tolerance: set \
                     metadata.trainbook.tolerance (e.g. {\"abs\": 0.01}) on the cell or the notebook"
                    .into());
            }
            Ok(Rule::Trained(Tolerance::from_json(stated)?))
        }
        (false, false) if !own.is_null() => Err(
            "a cell states a tolerance but is not tagged `trained`: tag it, or remove the tolerance"
                .into(),
        ),
        (false, false) => Ok(Rule::Exact),
    }
}

/// A piece of output text: a number as printed, or the text between numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Text(String),
    Number {
        written: String,
        value: f64,
        integer: bool,
    },
}

/// Splits text into numbers and the text between them. A number is digits with an optional
/// fraction and exponent; a leading `-` belongs to it when it does not follow a letter or digit
/// (so `-0.001` is one number). Digits after a letter are part of a word (`f64`, `conv3x3`);
/// letters after digits are a unit (`50.6x`, `12ms`: a number, then text).
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let starts_number = chars[i].is_ascii_digit()
            && !(i > 0 && (chars[i - 1].is_alphabetic() || chars[i - 1] == '_'));
        let signed = chars[i] == '-'
            && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
            && !(i > 0 && (word_char(chars[i - 1]) || chars[i - 1] == '.'));
        if !(starts_number || signed) {
            // Digits glued to a word (f64, conv3x3's 3x3, l2) are part of its text.
            if chars[i].is_ascii_digit() {
                let start = i;
                while i < chars.len() && (word_char(chars[i])) {
                    i += 1;
                }
                plain.extend(&chars[start..i]);
                continue;
            }
            plain.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        if signed {
            i += 1;
        }
        let mut integer = true;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
            integer = false;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i < chars.len() && matches!(chars[i], 'e' | 'E') {
            let mut j = i + 1;
            if j < chars.len() && matches!(chars[j], '+' | '-') {
                j += 1;
            }
            if j < chars.len() && chars[j].is_ascii_digit() {
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                // Only when the exponent ends the word: "1e-3" is a number, "2em" is not.
                if j == chars.len() || !word_char(chars[j]) {
                    integer = false;
                    i = j;
                }
            }
        }
        let written: String = chars[start..i].iter().collect();
        let value = written.parse::<f64>().unwrap_or(f64::NAN);
        if !plain.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut plain)));
        }
        tokens.push(Token::Number {
            written,
            value,
            integer,
        });
    }
    if !plain.is_empty() {
        tokens.push(Token::Text(plain));
    }
    tokens
}

/// Rewrites every number of `text` through `f` (used to perturb outputs in tests).
pub fn map_numbers(text: &str, mut f: impl FnMut(&str, f64, bool) -> String) -> String {
    tokenize(text)
        .into_iter()
        .map(|t| match t {
            Token::Text(s) => s,
            Token::Number {
                written,
                value,
                integer,
            } => f(&written, value, integer),
        })
        .collect()
}

/// Runs of table padding collapse to one character: a column's width follows its numbers.
fn collapse_padding(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ' ' | '─' | '═' | '-' | '╌') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    out
}

/// Compares one committed text with its fresh counterpart under `rule`; the error says where.
pub fn compare_text(committed: &str, fresh: &str, rule: Rule) -> Result<(), String> {
    if committed == fresh {
        return Ok(());
    }
    if rule == Rule::Exact {
        return Err(first_difference(committed, fresh));
    }
    let (a, b) = (tokenize(committed), tokenize(fresh));
    let text_of = |tokens: &[Token]| -> String {
        tokens
            .iter()
            .map(|t| match t {
                Token::Text(s) => collapse_padding(s),
                Token::Number { .. } => "#".to_string(),
            })
            .collect()
    };
    let (shape_a, shape_b) = (text_of(&a), text_of(&b));
    if shape_a != shape_b {
        return Err(format!(
            "the text around the numbers changed: {}",
            first_difference(&shape_a, &shape_b)
        ));
    }
    let numbers = |tokens: &[Token]| -> Vec<(String, f64, bool)> {
        tokens
            .iter()
            .filter_map(|t| match t {
                Token::Number {
                    written,
                    value,
                    integer,
                } => Some((written.clone(), *value, *integer)),
                Token::Text(_) => None,
            })
            .collect()
    };
    let Rule::Trained(tolerance) = rule else {
        return Ok(()); // timing: the numbers themselves are not compared
    };
    for ((wa, va, ia), (wb, vb, ib)) in numbers(&a).into_iter().zip(numbers(&b)) {
        let ok = if ia && ib {
            (va - vb).abs() <= tolerance.integers as f64
        } else {
            tolerance.allows_floats(va, vb)
        };
        if !ok {
            return Err(format!(
                "committed {wa}, now {wb}: apart by {:.3e}, more than the cell's tolerance ({rule})",
                (va - vb).abs()
            ));
        }
    }
    Ok(())
}

/// Where two texts first differ, with a little context.
fn first_difference(committed: &str, fresh: &str) -> String {
    let at = committed
        .char_indices()
        .zip(fresh.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(committed.len().min(fresh.len()));
    let at = (0..=at)
        .rev()
        .find(|i| committed.is_char_boundary(*i) && fresh.is_char_boundary(*i))
        .unwrap_or(0);
    let context = |s: &str| -> String {
        let start = (0..=at.saturating_sub(40))
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s[start..].chars().take(100).collect()
    };
    format!(
        "committed {:?}, now {:?}",
        context(committed),
        context(fresh)
    )
}

/// A notebook string field, stored as one string or as a list of lines.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(|s| s.as_str()).collect(),
        _ => String::new(),
    }
}

/// The labels of an SVG chart: the contents of its `<text>` elements, in order. Under the
/// trained and timing rules the labels that are only a number (axis ticks, bar values) are
/// left out: an axis whose range moves picks other ticks, and another number of them.
fn svg_labels(svg: &str, rule: Rule) -> String {
    let mut labels = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find("<text") {
        rest = &rest[open..];
        let Some(body) = rest.find('>') else { break };
        let Some(close) = rest.find("</text>") else {
            break;
        };
        let label = rest[body + 1..close.max(body + 1)].trim().to_string();
        rest = &rest[close + "</text>".len()..];
        let only_number = matches!(tokenize(&label).as_slice(), [Token::Number { .. }]);
        if rule != Rule::Exact && only_number {
            continue;
        }
        labels.push(label);
    }
    labels.join("\n")
}

/// One comparable piece of a cell's outputs: what it is, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub what: String,
    pub text: String,
}

/// A cell's outputs for comparing two runs: each result, display and error in order (its
/// output type, MIME types, plain text and chart labels), then all of stdout and all of
/// stderr, each joined. stdout and stderr reach the kernel through separate pipes, so how
/// their chunks interleave (and where a chunk splits) varies from run to run.
pub fn pieces(cell: &Value, rule: Rule) -> Vec<Piece> {
    let outputs = cell["outputs"].as_array().cloned().unwrap_or_default();
    let mut pieces = Vec::new();
    for (i, o) in outputs.iter().enumerate() {
        let kind = o["output_type"].as_str().unwrap_or("?");
        match kind {
            "stream" => {}
            "error" => pieces.push(Piece {
                what: format!("output {} (error)", i + 1),
                text: format!("{}: {}", text(&o["ename"]), text(&o["evalue"])),
            }),
            _ => {
                let mut mimes: Vec<&String> = o["data"]
                    .as_object()
                    .map(|d| d.keys().collect())
                    .unwrap_or_default();
                mimes.sort();
                pieces.push(Piece {
                    what: format!("output {} ({kind})", i + 1),
                    text: format!("{kind} {mimes:?}"),
                });
                pieces.push(Piece {
                    what: format!("output {} ({kind}, text/plain)", i + 1),
                    text: text(&o["data"]["text/plain"]),
                });
                if let Some(svg) = o["data"].get("image/svg+xml") {
                    pieces.push(Piece {
                        what: format!("output {} ({kind}, chart labels)", i + 1),
                        text: svg_labels(&text(svg), rule),
                    });
                }
            }
        }
    }
    for name in ["stdout", "stderr"] {
        pieces.push(Piece {
            what: name.to_string(),
            text: outputs
                .iter()
                .filter(|o| o["output_type"] == "stream" && o["name"] == name)
                .map(|o| text(&o["text"]))
                .collect(),
        });
    }
    pieces
}

/// The code cells of a notebook, in order.
pub fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .map(|cells| cells.iter().filter(|c| c["cell_type"] == "code").collect())
        .unwrap_or_default()
}

/// Checks that `committed` still shows what `fresh` (a new run of the same notebook) shows.
/// The rules come from the committed notebook. The error names the cell, the output and the
/// difference.
pub fn check_not_stale(committed: &Value, fresh: &Value) -> Result<(), String> {
    let (old, new) = (code_cells(committed), code_cells(fresh));
    if old.len() != new.len() {
        return Err(format!(
            "{} code cells committed, {} now",
            old.len(),
            new.len()
        ));
    }
    for (i, (c, f)) in old.iter().zip(&new).enumerate() {
        let cell = i + 1;
        let rule = rule_for(committed, c).map_err(|e| format!("code cell {cell}: {e}"))?;
        let (a, b) = (pieces(c, rule), pieces(f, rule));
        let what = |p: &[Piece]| p.iter().map(|p| p.what.clone()).collect::<Vec<_>>();
        if what(&a) != what(&b) {
            return Err(format!(
                "code cell {cell}: the outputs changed: committed {:?}, now {:?}",
                what(&a),
                what(&b)
            ));
        }
        for (pa, pb) in a.iter().zip(&b) {
            compare_text(&pa.text, &pb.text, rule)
                .map_err(|e| format!("code cell {cell}, {}: {e}", pa.what))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trained(abs: f64) -> Rule {
        Rule::Trained(Tolerance {
            abs,
            rel: 0.0,
            integers: 0,
        })
    }

    #[test]
    fn tokenize_keeps_words_with_digits_as_text() {
        let t = tokenize("f64 conv3x3 x86-64 1e-3 -0.25 acc 0.9250, 12 of 451 (50.6x) 12ms");
        let numbers: Vec<String> = t
            .iter()
            .filter_map(|t| match t {
                Token::Number { written, .. } => Some(written.clone()),
                Token::Text(_) => None,
            })
            .collect();
        assert_eq!(
            numbers,
            ["64", "1e-3", "-0.25", "0.9250", "12", "451", "50.6", "12"]
        );
        let rebuilt = map_numbers("a -1.5 b 2", |w, _, _| w.to_string());
        assert_eq!(rebuilt, "a -1.5 b 2");
    }

    #[test]
    fn equal_texts_pass_under_every_rule() {
        let s = "epoch 19: train acc 0.9250, val loss 0.0536";
        for rule in [Rule::Exact, Rule::Timing, trained(0.01)] {
            assert_eq!(compare_text(s, s, rule), Ok(()));
        }
    }

    #[test]
    fn numbers_within_tolerance_pass_and_outside_fail() {
        let committed = "epoch 19: train acc 0.9242, val loss 0.0535";
        let drifted = "epoch 19: train acc 0.9250, val loss 0.0536";
        assert_eq!(compare_text(committed, drifted, trained(0.01)), Ok(()));
        assert_eq!(
            compare_text(
                committed,
                "epoch 19: train acc 0.925, val loss 0.0536",
                trained(0.01)
            ),
            Ok(())
        );
        let err = compare_text(
            committed,
            "epoch 19: train acc 0.9042, val loss 0.0535",
            trained(0.01),
        )
        .unwrap_err();
        assert!(err.contains("committed 0.9242, now 0.9042"), "{err}");
        // Exact cells take no drift at all, even in the last digit.
        assert!(compare_text(committed, drifted, Rule::Exact).is_err());
        // A relative tolerance scales with the number.
        let rel = Rule::Trained(Tolerance {
            abs: 0.0,
            rel: 0.01,
            integers: 0,
        });
        assert_eq!(compare_text("loss 1000.0", "loss 1009.0", rel), Ok(()));
        assert!(compare_text("loss 1000.0", "loss 1011.0", rel).is_err());
    }

    #[test]
    fn integers_are_exact_unless_allowed() {
        assert!(compare_text("best epoch 23", "best epoch 24", trained(0.5)).is_err());
        let counts = Rule::Trained(Tolerance {
            abs: 0.01,
            rel: 0.0,
            integers: 2,
        });
        assert_eq!(
            compare_text("11 of 451 misread", "13 of 451 misread", counts),
            Ok(())
        );
        assert!(compare_text("11 of 451 misread", "14 of 451 misread", counts).is_err());
        assert!(compare_text("11 of 451 misread", "11 of 452 misread", Rule::Exact).is_err());
    }

    #[test]
    fn changed_text_fails_under_every_rule() {
        for rule in [Rule::Exact, Rule::Timing, trained(1.0)] {
            assert!(
                compare_text("val acc 0.93", "val loss 0.93", rule).is_err(),
                "{rule}"
            );
            assert!(
                compare_text("acc 0.93", "acc 0.93 0.94", rule).is_err(),
                "{rule}"
            );
            assert!(compare_text("acc 0.93", "acc NaN", rule).is_err(), "{rule}");
        }
    }

    #[test]
    fn table_padding_follows_the_numbers() {
        let committed = "│ MLP   ┆ 0.9   │\n╞═══════╪═══════╡";
        let fresh = "│ MLP   ┆ 0.91   │\n╞═══════╪════════╡";
        assert_eq!(compare_text(committed, fresh, trained(0.02)), Ok(()));
        assert_eq!(compare_text(committed, fresh, Rule::Timing), Ok(()));
        assert!(compare_text(committed, fresh, Rule::Exact).is_err());
    }

    fn notebook(tags: &[&str], tolerance: Option<Value>, outputs: Value) -> Value {
        let mut metadata = json!({ "tags": tags });
        if let Some(t) = tolerance {
            metadata["trainbook"] = json!({ "tolerance": t });
        }
        json!({
            "metadata": {},
            "cells": [
                { "cell_type": "markdown", "source": "# x", "metadata": {} },
                { "cell_type": "code", "metadata": metadata, "outputs": outputs }
            ]
        })
    }

    fn stdout(s: &str) -> Value {
        json!([{ "output_type": "stream", "name": "stdout", "text": s }])
    }

    #[test]
    fn notebooks_equal_within_and_outside_tolerance() {
        let tol = Some(json!({ "abs": 0.01 }));
        let committed = notebook(&["trained"], tol.clone(), stdout("acc 0.863\n"));
        assert_eq!(check_not_stale(&committed, &committed), Ok(()));
        let within = notebook(&["trained"], tol.clone(), stdout("acc 0.867\n"));
        assert_eq!(check_not_stale(&committed, &within), Ok(()));
        let outside = notebook(&["trained"], tol, stdout("acc 0.883\n"));
        let err = check_not_stale(&committed, &outside).unwrap_err();
        assert!(
            err.starts_with("code cell 1, stdout: committed 0.863, now 0.883"),
            "{err}"
        );
        // Untagged, the same drift is stale.
        let exact = notebook(&[], None, stdout("acc 0.863\n"));
        assert!(check_not_stale(&exact, &notebook(&[], None, stdout("acc 0.867\n"))).is_err());
    }

    #[test]
    fn changed_structure_fails() {
        let tol = Some(json!({ "abs": 1.0 }));
        let result = |mimes: Value| json!([{ "output_type": "execute_result", "data": mimes, "metadata": {} }]);
        let committed = notebook(
            &["trained"],
            tol.clone(),
            result(json!({ "text/plain": "0.5" })),
        );
        // Another MIME type, another output type, an extra output, a missing cell.
        let html = notebook(
            &["trained"],
            tol.clone(),
            result(json!({ "text/plain": "0.5", "text/html": "<b>0.5</b>" })),
        );
        assert!(check_not_stale(&committed, &html)
            .unwrap_err()
            .contains("output 1"));
        let display = notebook(
            &["trained"],
            tol.clone(),
            json!([{ "output_type": "display_data", "data": { "text/plain": "0.5" }, "metadata": {} }]),
        );
        assert!(check_not_stale(&committed, &display)
            .unwrap_err()
            .contains("outputs changed"));
        let mut extra = committed.clone();
        extra["cells"][1]["outputs"].as_array_mut().unwrap().push(
            json!({ "output_type": "error", "ename": "Error", "evalue": "x", "traceback": [] }),
        );
        assert!(check_not_stale(&committed, &extra)
            .unwrap_err()
            .contains("outputs changed"));
        let mut fewer = committed.clone();
        fewer["cells"].as_array_mut().unwrap().pop();
        assert!(check_not_stale(&committed, &fewer)
            .unwrap_err()
            .contains("code cells"));
    }

    #[test]
    fn chart_labels_are_compared_and_ticks_only_when_exact() {
        let svg = |ticks: &str, title: &str| {
            json!([{ "output_type": "display_data", "metadata": {}, "data": {
                "text/plain": "chart",
                "image/svg+xml": format!("<svg><text x=\"1\">{title}</text><text>{ticks}</text></svg>")
            }}])
        };
        let tol = Some(json!({ "abs": 0.01 }));
        let committed = notebook(&["trained"], tol.clone(), svg("0.25", "val loss"));
        assert_eq!(
            check_not_stale(
                &committed,
                &notebook(&["trained"], tol.clone(), svg("0.2", "val loss"))
            ),
            Ok(())
        );
        assert!(check_not_stale(
            &committed,
            &notebook(&["trained"], tol, svg("0.25", "train loss"))
        )
        .is_err());
        let exact = notebook(&[], None, svg("0.25", "val loss"));
        assert!(check_not_stale(&exact, &notebook(&[], None, svg("0.2", "val loss"))).is_err());
    }

    #[test]
    fn misstated_rules_are_errors() {
        let untagged = notebook(&[], Some(json!({ "abs": 0.01 })), stdout("1"));
        assert!(check_not_stale(&untagged, &untagged)
            .unwrap_err()
            .contains("not tagged"));
        let missing = notebook(&["trained"], None, stdout("1"));
        assert!(check_not_stale(&missing, &missing)
            .unwrap_err()
            .contains("needs a tolerance"));
        let typo = notebook(&["trained"], Some(json!({ "absolute": 0.01 })), stdout("1"));
        assert!(check_not_stale(&typo, &typo)
            .unwrap_err()
            .contains("unknown tolerance key"));
        let both = notebook(
            &["trained", "timing"],
            Some(json!({ "abs": 0.01 })),
            stdout("1"),
        );
        assert!(check_not_stale(&both, &both)
            .unwrap_err()
            .contains("pick one"));
        // A notebook-wide tolerance serves every tagged cell.
        let mut wide = notebook(&["trained"], None, stdout("acc 0.863"));
        wide["metadata"]["trainbook"] = json!({ "tolerance": { "abs": 0.01 } });
        let mut drifted = wide.clone();
        drifted["cells"][1]["outputs"] = stdout("acc 0.867");
        assert_eq!(check_not_stale(&wide, &drifted), Ok(()));
    }
}
