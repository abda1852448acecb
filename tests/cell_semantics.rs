//! The cell-semantics corpus (`tests/cells/corpus.txt`): sequences of cells, each with the
//! outcome it must have, run through the built kernel over ZeroMQ in one session. Sequences
//! marked `[rust]` are plain Rust: the same cells are also compiled and run as one program with
//! rustc, and every expectation is checked against that program too, so the corpus states
//! Rust's answer, not ours.
//!
//! Format:
//!
//! ```text
//! ## name of the sequence [rust]
//! >>>
//! let a = 0.5;
//! a
//! => result: 0.5
//! ```
//!
//! Expectations (`\n` in the text is a newline): `result: T` (the result's text/plain is T),
//! `result~: T` (contains T), `noresult`, `stdout: T`, `stdout~: T`, `stderr~: T`,
//! `html~: T`, `error: Ename: fragment` (the cell fails with that ename, and the fragment is
//! in its evalue or traceback). A cell without `error` must succeed.
//!
//! All sequences share one kernel, so the names each sequence defines at the top level of its
//! cells (variables, types, functions) must be its own; the test checks that first.

use ra_ap_syntax::{ast, AstNode, Edition, SourceFile};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use trainbook_tests::{of_type, repo_root, result_text, stream_text, Kernel};

#[derive(Debug, Clone)]
enum Expect {
    Result(String),
    ResultContains(String),
    NoResult,
    Stdout(String),
    StdoutContains(String),
    StderrContains(String),
    HtmlContains(String),
    Error { ename: String, fragment: String },
}

#[derive(Debug, Default)]
struct Cell {
    code: String,
    expect: Vec<Expect>,
}

#[derive(Debug)]
struct Case {
    name: String,
    line: usize,
    rust: bool,
    cells: Vec<Cell>,
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
}

fn parse_corpus(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(title) = line.strip_prefix("## ") {
            let rust = title.trim_end().ends_with("[rust]");
            let name = title
                .trim_end()
                .trim_end_matches("[rust]")
                .trim()
                .to_owned();
            cases.push(Case {
                name,
                line: i + 1,
                rust,
                cells: Vec::new(),
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue; // the file's header
        };
        if line.trim_end() == ">>>" {
            case.cells.push(Cell::default());
            continue;
        }
        let Some(cell) = case.cells.last_mut() else {
            assert!(
                line.trim().is_empty(),
                "corpus line {}: text before the first >>>",
                i + 1
            );
            continue;
        };
        if let Some(expect) = line.strip_prefix("=> ") {
            let (kind, value) = expect.split_once(':').unwrap_or((expect, ""));
            let value = unescape(value.strip_prefix(' ').unwrap_or(value));
            cell.expect.push(match kind.trim() {
                "result" => Expect::Result(value),
                "result~" => Expect::ResultContains(value),
                "noresult" => Expect::NoResult,
                "stdout" => Expect::Stdout(value),
                "stdout~" => Expect::StdoutContains(value),
                "stderr~" => Expect::StderrContains(value),
                "html~" => Expect::HtmlContains(value),
                "error" => {
                    let (ename, fragment) = value.split_once(": ").unwrap_or((&value, ""));
                    Expect::Error {
                        ename: ename.trim().to_owned(),
                        fragment: fragment.to_owned(),
                    }
                }
                other => panic!("corpus line {}: unknown expectation {other:?}", i + 1),
            });
        } else if cell.expect.is_empty() {
            if !cell.code.is_empty() {
                cell.code.push('\n');
            }
            cell.code.push_str(line);
        } else {
            assert!(
                line.trim().is_empty(),
                "corpus line {}: code after an expectation (start a cell with >>>)",
                i + 1
            );
        }
    }
    for case in &mut cases {
        for cell in &mut case.cells {
            cell.code = cell.code.trim_end().to_owned();
        }
    }
    cases
}

/// The statements of a cell as rust-analyzer parses them (the kernel wraps cells the same way).
fn statements(code: &str) -> Option<ast::StmtList> {
    let parse = SourceFile::parse(&format!("fn f(){{{code}\n}}"), Edition::Edition2024);
    parse
        .tree()
        .syntax()
        .children()
        .find_map(ast::Fn::cast)?
        .body()?
        .stmt_list()
}

/// Names a cell defines at its top level: `let` bindings and items.
fn top_level_names(code: &str) -> Vec<String> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with(':'))
        .collect::<Vec<_>>()
        .join("\n");
    let Some(list) = statements(&code) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for statement in list.statements() {
        match statement {
            ast::Stmt::LetStmt(l) => {
                if let Some(pat) = l.pat() {
                    names.extend(
                        pat.syntax()
                            .descendants()
                            .filter_map(ast::IdentPat::cast)
                            .filter_map(|i| ast::HasName::name(&i))
                            .map(|n| n.text().to_string()),
                    );
                }
            }
            ast::Stmt::Item(item) => {
                if let Some(name) = item
                    .syntax()
                    .children()
                    .find_map(ast::Name::cast)
                    .map(|n| n.text().to_string())
                {
                    names.push(name);
                }
            }
            ast::Stmt::ExprStmt(_) => {}
        }
    }
    names
}

/// What one cell did (in the kernel, or in the rustc program).
#[derive(Default)]
struct Seen {
    status: String,
    ename: String,
    error_text: String,
    result: Option<String>,
    html: String,
    stdout: String,
    stderr: String,
}

fn check(expect: &Expect, seen: &Seen) -> Result<(), String> {
    let fail = |what: String| Err(what);
    match expect {
        Expect::Result(t) if seen.result.as_deref() != Some(t.as_str()) => {
            fail(format!("result {:?}, expected {t:?}", seen.result))
        }
        Expect::ResultContains(t) if !seen.result.as_deref().unwrap_or("").contains(t) => {
            fail(format!("result {:?} does not contain {t:?}", seen.result))
        }
        Expect::NoResult if seen.result.is_some() => {
            fail(format!("result {:?}, expected none", seen.result))
        }
        Expect::Stdout(t) if seen.stdout != *t => {
            fail(format!("stdout {:?}, expected {t:?}", seen.stdout))
        }
        Expect::StdoutContains(t) if !seen.stdout.contains(t) => {
            fail(format!("stdout {:?} does not contain {t:?}", seen.stdout))
        }
        Expect::StderrContains(t) if !seen.stderr.contains(t) => {
            fail(format!("stderr {:?} does not contain {t:?}", seen.stderr))
        }
        Expect::HtmlContains(t) if !seen.html.contains(t) => {
            fail(format!("html does not contain {t:?}: {:?}", seen.html))
        }
        Expect::Error { ename, fragment } => {
            if seen.status != "error" || seen.ename != *ename || !seen.error_text.contains(fragment)
            {
                fail(format!(
                    "expected error {ename} with {fragment:?}; got status {}, {}: {}",
                    seen.status, seen.ename, seen.error_text
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn seen_from(reply: &Value, iopub: &[Value]) -> Seen {
    let content = &reply["content"];
    let error_text = format!(
        "{}\n{}",
        content["evalue"].as_str().unwrap_or(""),
        content["traceback"]
            .as_array()
            .map(|t| t
                .iter()
                .filter_map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n"))
            .unwrap_or_default()
    );
    let html = of_type(iopub, "execute_result")
        .iter()
        .chain(of_type(iopub, "display_data").iter())
        .filter_map(|m| m["content"]["data"]["text/html"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    Seen {
        status: content["status"].as_str().unwrap_or("?").to_owned(),
        ename: content["ename"].as_str().unwrap_or("").to_owned(),
        error_text,
        result: result_text(iopub),
        html,
        stdout: stream_text(iopub, "stdout"),
        stderr: stream_text(iopub, "stderr"),
    }
}

/// A `[rust]` sequence as one program: the cells in order in one function returning a
/// `Result` (as a cell does), each cell's last expression printed with `{:?}`. Cells after the
/// first one expected to fail are left out: a program stops where that cell stops it.
fn as_program(case: &Case) -> (String, usize) {
    let failing = case
        .cells
        .iter()
        .position(|c| c.expect.iter().any(|e| matches!(e, Expect::Error { .. })))
        .map_or(case.cells.len(), |i| i + 1);
    let mut body = String::new();
    for (i, cell) in case.cells[..failing].iter().enumerate() {
        body.push_str(&format!("println!(\"\\u{{1}}{i}\");\n"));
        let code = &cell.code;
        match statements(code).and_then(|s| s.tail_expr()) {
            Some(tail) => {
                let offset = "fn f(){".len();
                let start = usize::from(tail.syntax().text_range().start()) - offset;
                let end = usize::from(tail.syntax().text_range().end()) - offset;
                body.push_str(&code[..start]);
                body.push_str(&format!(
                    "{{ let shown = &({}); println!(\"\\u{{2}}{{:?}}\", shown); }}",
                    &code[start..end]
                ));
                body.push_str(&code[end..]);
            }
            None => body.push_str(code),
        }
        body.push('\n');
    }
    let program = format!(
        "#![allow(warnings)]\nfn main() {{\n    let outcome = (|| -> Result<(), Box<dyn std::error::Error>> {{\n{body}\nOk(())\n    }})();\n    if let Err(e) = outcome {{ println!(\"\\u{{3}}{{e}}\"); }}\n}}\n"
    );
    (program, failing)
}

/// Compiles and runs a `[rust]` sequence; checks what rustc and the program say against the
/// corpus. Returns the problems found.
fn check_with_rustc(case: &Case, dir: &Path) -> Vec<String> {
    let (program, upto) = as_program(case);
    let source = dir.join(format!("case{}.rs", case.line));
    let binary = dir.join(format!("case{}", case.line));
    std::fs::write(&source, &program).unwrap();
    let compiled = Command::new("rustc")
        .args(["--edition", "2021", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("run rustc");
    let rustc_errors = String::from_utf8_lossy(&compiled.stderr).to_string();
    let last = &case.cells[upto - 1];
    let compile_error = last.expect.iter().find_map(|e| match e {
        Expect::Error { ename, fragment } if ename == "CompileError" => Some(fragment),
        _ => None,
    });
    let mut problems = Vec::new();
    if let Some(fragment) = compile_error {
        if compiled.status.success() {
            problems.push(format!(
                "rustc compiled what the corpus calls a compile error:\n{program}"
            ));
        } else if !rustc_errors.contains(fragment.as_str()) {
            problems.push(format!(
                "rustc's errors do not contain {fragment:?}:\n{rustc_errors}"
            ));
        }
        return problems;
    }
    if !compiled.status.success() {
        return vec![format!("rustc failed:\n{rustc_errors}\n{program}")];
    }
    let run = Command::new(&binary).output().expect("run the program");
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    // Split the program's output per cell.
    let mut per_cell: Vec<Seen> = Vec::new();
    let mut failure: Option<String> = None;
    for line in stdout.split_inclusive('\n') {
        if line.starts_with('\u{1}') {
            per_cell.push(Seen {
                status: "ok".into(),
                ..Default::default()
            });
        } else if let Some(shown) = line.strip_prefix('\u{2}') {
            // The kernel shows nothing for `()`, as Jupyter shows nothing for None.
            let shown = shown.trim_end_matches('\n');
            if let (Some(cell), false) = (per_cell.last_mut(), shown == "()") {
                cell.result = Some(shown.to_owned());
            }
        } else if let Some(error) = line.strip_prefix('\u{3}') {
            failure = Some(error.trim_end().to_owned());
        } else if let Some(cell) = per_cell.last_mut() {
            cell.stdout.push_str(line);
        }
    }
    for (i, cell) in case.cells[..upto].iter().enumerate() {
        let Some(seen) = per_cell.get_mut(i) else {
            problems.push(format!("the program did not reach cell {}", i + 1));
            break;
        };
        if i + 1 == upto {
            if let Some(message) = &failure {
                seen.status = "error".into();
                seen.error_text = message.clone();
            } else if run.status.code() == Some(101) {
                seen.status = "error".into();
                seen.ename = "Panic".into();
                seen.error_text = stderr.clone();
            }
        }
        for expect in &cell.expect {
            let expect = match expect {
                // rustc has no ename for `?` errors: the message is what is compared.
                Expect::Error { ename, fragment } if ename != "Panic" => Expect::Error {
                    ename: seen.ename.clone(),
                    fragment: fragment.clone(),
                },
                // Trainbook's own notes are not the program's.
                Expect::StderrContains(_) | Expect::HtmlContains(_) => continue,
                other => other.clone(),
            };
            if let Err(why) = check(&expect, seen) {
                problems.push(format!("rustc program, cell {}: {why}", i + 1));
            }
        }
    }
    problems
}

fn corpus() -> Vec<Case> {
    let path = repo_root().join("tests/cells/corpus.txt");
    parse_corpus(&std::fs::read_to_string(&path).unwrap())
}

#[test]
fn corpus_is_large_and_each_sequence_names_its_own_things() {
    let cases = corpus();
    assert!(cases.len() >= 200, "only {} sequences", cases.len());
    assert!(cases.iter().all(|c| !c.cells.is_empty()));
    let mut owner: HashMap<String, (usize, String)> = HashMap::new();
    let mut clashes = Vec::new();
    for case in &cases {
        for cell in &case.cells {
            for name in top_level_names(&cell.code) {
                match owner.get(&name) {
                    Some((line, other)) if *line != case.line => clashes.push(format!(
                        "`{name}`: line {} ({}) and line {line} ({other})",
                        case.line, case.name
                    )),
                    _ => {
                        owner.insert(name, (case.line, case.name.clone()));
                    }
                }
            }
        }
    }
    assert!(
        clashes.is_empty(),
        "sequences share one kernel, so each must name its own things:\n{}",
        clashes.join("\n")
    );
}

#[test]
fn plain_rust_sequences_mean_what_rustc_says() {
    let dir = std::env::temp_dir().join(format!("trainbook-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = corpus();
    let rust: Vec<&Case> = cases.iter().filter(|c| c.rust).collect();
    assert!(rust.len() >= 100, "only {} [rust] sequences", rust.len());
    let mut problems = Vec::new();
    for case in rust {
        for problem in check_with_rustc(case, &dir) {
            problems.push(format!("line {} ({}): {problem}", case.line, case.name));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Runs one sequence's cells in order; returns what went otherwise than the corpus says.
async fn run_case(client: &mut trainbook_tests::Client, case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, cell) in case.cells.iter().enumerate() {
        let (reply, iopub) = client
            .execute_within(&cell.code, Duration::from_secs(300))
            .await
            .unwrap_or_else(|e| panic!("line {} ({}): {e:#}", case.line, case.name));
        let seen = seen_from(&reply, &iopub);
        let expects_error = cell
            .expect
            .iter()
            .any(|e| matches!(e, Expect::Error { .. }));
        if !expects_error && seen.status != "ok" {
            problems.push(format!(
                "cell {}: failed: {}: {}",
                i + 1,
                seen.ename,
                seen.error_text
            ));
            continue;
        }
        for expect in &cell.expect {
            if let Err(why) = check(expect, &seen) {
                problems.push(format!("cell {}: {why}", i + 1));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sequence_behaves_in_the_kernel_as_the_corpus_says() {
    let cases = corpus();
    let kernel = Kernel::start().unwrap();
    let mut client = kernel.connect().await.unwrap();
    let mut problems = Vec::new();
    for case in &cases {
        for problem in run_case(&mut client, case).await {
            problems.push(format!("line {} ({}), {problem}", case.line, case.name));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The `[rust]` sequences on evcxr 0.22 alone (the kernel with no prelude, so no rewrite):
/// what evcxr itself accepts, to compare with this kernel. Outside CI (`cargo test --release
/// -p trainbook-tests --test cell_semantics -- --ignored`); it prints one line per sequence
/// that evcxr gets wrong, and the counts. A sequence evcxr gets right must pass here too (the
/// other test checks that every sequence does).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn evcxr_alone_on_the_plain_rust_sequences() {
    let cases = corpus();
    let mut command = Command::new(trainbook_tests::trainbook_bin());
    command
        .args(["kernel", "--connection-file"])
        .env_remove("JPY_PARENT_PID")
        .env("TRAINBOOK_PRELUDE_DIR", "");
    let kernel = Kernel::start_command(command).unwrap();
    let mut client = kernel.connect().await.unwrap();
    let (mut right, mut wrong) = (0, 0);
    for case in cases.iter().filter(|c| c.rust) {
        let problems = run_case(&mut client, case).await;
        if problems.is_empty() {
            right += 1;
        } else {
            wrong += 1;
            let first_lines: Vec<&str> = problems.iter().filter_map(|p| p.lines().next()).collect();
            println!(
                "evcxr alone, line {} ({}): {}",
                case.line,
                case.name,
                first_lines.join("; ")
            );
        }
    }
    println!("evcxr 0.22 alone: {right} sequences as the corpus says, {wrong} not");
}

#[test]
fn the_corpus_parser_reads_what_it_is_given() {
    let cases = parse_corpus(
        "header\n## one [rust]\n>>>\nlet a = 1;\na\n=> result: 1\n>>>\nb\n=> error: CompileError: E0425\n## two\n>>>\nprintln!(\"x\")\n=> stdout: x\\n\n",
    );
    assert_eq!(cases.len(), 2);
    assert!(cases[0].rust && !cases[1].rust);
    assert_eq!(cases[0].cells[0].code, "let a = 1;\na");
    assert!(
        matches!(&cases[0].cells[1].expect[0], Expect::Error { ename, fragment } if ename == "CompileError" && fragment == "E0425")
    );
    assert!(matches!(&cases[1].cells[0].expect[0], Expect::Stdout(s) if s == "x\n"));
    assert_eq!(
        top_level_names("let (x, mut y) = (1, 2);\nstruct S;\nfn go() { let inner = 1; }"),
        ["x", "y", "S", "go"]
    );
    let (program, upto) = as_program(&cases[0]);
    assert_eq!(upto, 2);
    assert!(program.contains("let shown = &(a);"), "{program}");
}
