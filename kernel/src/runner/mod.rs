//! The evcxr bridge: one runner per kernel, executing cells and reporting what they show.

mod cache;
pub mod cell_build;
mod forward;
pub mod host;
mod progress;
pub mod rewrite;
mod workspace;

pub use cache::{cache_root, prelude_dir, prelude_features, PreludeCache};
pub(crate) use cache::{private_dir, process_alive};
pub(crate) use cell_build::comparable_env;
pub use forward::{Output, OutputSink};

use anyhow::Result;
use evcxr::{CommandContext, EvalCallbacks};
use forward::Forwarder;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a cell may keep running after an interrupt before its process is restarted.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(3);

/// The error shown for a failed cell, in Jupyter's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

/// What a finished cell produced besides its streamed outputs.
#[derive(Debug, Clone, Default)]
pub struct CellOutcome {
    /// The last expression's MIME bundle, if it had one.
    pub result: Option<Value>,
    pub error: Option<CellError>,
    /// The cell was interrupted but stopped by itself (it polled `interrupted()`).
    pub interrupted: bool,
    /// evcxr's per-phase timings, when `:timing` is on.
    pub timing: Vec<(String, Duration)>,
}

#[derive(Default)]
struct RunState {
    /// A cell is being compiled or run.
    running: bool,
    generation: u64,
    interrupt_requested: bool,
    killed_by_interrupt: bool,
}

/// Lets another thread interrupt the running cell.
#[derive(Clone)]
pub struct InterruptHandle {
    process: Arc<Mutex<std::process::Child>>,
    state: Arc<Mutex<RunState>>,
    running_since: forward::RunningSince,
    grace: Duration,
}

impl InterruptHandle {
    /// Raises the runner's interrupt flag (SIGINT). If the cell's code keeps running for the
    /// grace period (compile time does not count), kills the runner, which evcxr restarts.
    pub fn interrupt(&self) {
        let generation = {
            let mut state = self.state.lock().unwrap();
            if !state.running {
                return;
            }
            state.interrupt_requested = true;
            state.generation
        };
        self.signal(libc::SIGINT);
        let handle = self.clone();
        let asked = std::time::Instant::now();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            let mut state = handle.state.lock().unwrap();
            if !state.running || state.generation != generation {
                return;
            }
            let ran_for = handle
                .running_since
                .lock()
                .unwrap()
                .map(|t| t.elapsed().min(asked.elapsed()));
            if ran_for.is_some_and(|t| t >= handle.grace) {
                state.killed_by_interrupt = true;
                drop(state);
                handle.kill_tree();
                return;
            }
        });
    }

    pub fn runner_pid(&self) -> u32 {
        self.process.lock().unwrap().id()
    }

    /// Kills the runner and every process in its process group (the runner makes itself a
    /// group leader at start, so what a cell spawns goes with it).
    pub fn kill_tree(&self) {
        let pid = self.runner_pid() as libc::pid_t;
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }

    fn signal(&self, signal: libc::c_int) {
        unsafe { libc::kill(self.runner_pid() as libc::pid_t, signal) };
    }
}

pub struct RunnerOptions {
    /// The prelude crate to load into every cell; `None` runs plain evcxr.
    pub prelude: Option<PathBuf>,
    pub interrupt_grace: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            prelude: prelude_dir(),
            interrupt_grace: INTERRUPT_GRACE,
        }
    }
}

/// This kernel's secret for the marker lines its runner writes (see `trainbook_wire`).
fn marker_token() -> &'static trainbook_wire::Token {
    static TOKEN: std::sync::OnceLock<trainbook_wire::Token> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        trainbook_wire::Token::new(&uuid::Uuid::new_v4().simple().to_string())
            .expect("a simple uuid is 32 hex digits")
    })
}

pub struct Runner {
    context: CommandContext,
    forwarder: Forwarder,
    state: Arc<Mutex<RunState>>,
    interrupt: InterruptHandle,
    prelude: Option<PathBuf>,
    work_dir: PathBuf,
    /// evcxr's crate inside `work_dir` (see `workspace`).
    crate_dir: PathBuf,
    print_timing: bool,
}

impl Runner {
    /// Starts evcxr in a private work directory seeded from the precompiled prelude, then loads
    /// the prelude. `progress` receives human-readable status lines while anything compiles.
    pub fn start(options: RunnerOptions, progress: &dyn Fn(&str)) -> Result<Runner> {
        let work_dir = match &options.prelude {
            Some(prelude) => {
                let cache = PreludeCache::for_prelude(prelude)?;
                cache.ensure_built(progress)?;
                cache.new_work_dir()?
            }
            None => cache::new_private_dir(&cache::kernels_root()?)?,
        };
        Self::start_in(work_dir, options)
    }

    fn start_in(work_dir: PathBuf, options: RunnerOptions) -> Result<Runner> {
        // evcxr reads its crate directory from the environment.
        let crate_dir = workspace::prepare(&work_dir, options.prelude.as_deref())?;
        std::env::set_var("EVCXR_TMPDIR", &crate_dir);
        // The runner process evcxr starts (and restarts) inherits the marker token.
        std::env::set_var(trainbook_wire::TOKEN_VARIABLE, marker_token().as_str());
        add_std_to_library_path();
        match cell_build::route_cell_builds() {
            Ok(toolchain) => crate::log::info(format!(
                "cells whose inputs did not change skip cargo ({})",
                toolchain.display()
            )),
            Err(why) => crate::log::info(format!("every cell builds through cargo: {why:#}")),
        }
        let started = std::time::Instant::now();
        let (eval_context, outputs) = evcxr::EvalContext::new()
            .map_err(|e| anyhow::anyhow!("could not start the Rust evaluator: {e}"))?;
        log_phase("evcxr started", started);
        let context = CommandContext::with_eval_context(eval_context);
        let running_since = forward::RunningSince::default();
        let forwarder = Forwarder::start(
            outputs.stdout,
            outputs.stderr,
            running_since.clone(),
            marker_token().clone(),
        );
        let state = Arc::new(Mutex::new(RunState::default()));
        let interrupt = InterruptHandle {
            process: context.process_handle(),
            state: state.clone(),
            running_since,
            grace: options.interrupt_grace,
        };
        let mut runner = Runner {
            context,
            forwarder,
            state,
            interrupt,
            prelude: options.prelude,
            work_dir,
            crate_dir,
            print_timing: false,
        };
        runner.load_prelude()?;
        Ok(runner)
    }

    /// Builds the prelude into a fresh cache entry (what `install.sh` runs once).
    pub(crate) fn start_for_precompile(work_dir: PathBuf, prelude: PathBuf) -> Result<Runner> {
        Self::start_in(
            work_dir,
            RunnerOptions {
                prelude: Some(prelude),
                interrupt_grace: INTERRUPT_GRACE,
            },
        )
    }

    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    fn load_prelude(&mut self) -> Result<()> {
        let Some(prelude) = self.prelude.clone() else {
            return Ok(());
        };
        let dependency = cache::prelude_dependency(&prelude, &cache::prelude_features(&prelude)?);
        let code = format!(":dep trainbook = {dependency}\nuse trainbook::prelude::*;");
        let started = std::time::Instant::now();
        self.context
            .execute(&code)
            .map_err(|e| anyhow::anyhow!("could not load the Trainbook prelude: {e}"))?;
        log_phase("prelude loaded", started);
        let started = std::time::Instant::now();
        self.attach()?;
        log_phase("prelude attached", started);
        Ok(())
    }

    /// Connects the prelude to this runner process (panic hook, stdout flush). Needed again
    /// after every runner restart.
    fn attach(&mut self) -> Result<()> {
        if self.prelude.is_none() {
            return Ok(());
        }
        self.context
            // The `?` makes evcxr switch its cells to returning Result now, once: otherwise the
            // first user cell ending in `expr?` is compiled three times and shown as Debug text.
            .execute("trainbook::runtime::attach();\nOk::<(), String>(())?;")
            .map_err(|e| anyhow::anyhow!("could not attach the prelude to the runner: {e}"))?;
        self.forwarder.flush();
        Ok(())
    }

    /// Makes evcxr's rust-analyzer do now what a kernel's first `let` would otherwise wait for
    /// (about 12 s on two cores: trait impls of polars and candle), then drops the variable.
    pub fn warm_up(&mut self) -> Result<()> {
        if self.prelude.is_none() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // A String, so that `drop` moves it and evcxr forgets the variable.
        let code = "let trainbook_warm_up = {\n\
            let frame = df!(\"x\" => [1.0, 2.0]).unwrap();\n\
            let tensor = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();\n\
            format!(\"{} {}\", frame.height(), tensor.dims().len())\n};";
        for step in [code, "drop(trainbook_warm_up);"] {
            self.context
                .execute(step)
                .map_err(|e| anyhow::anyhow!("warm-up step {step:?} failed: {e}"))?;
        }
        log_phase("warmed up", started);
        Ok(())
    }

    /// Sets the runner process's working directory (relative paths in cells resolve there).
    pub fn set_working_dir(&mut self, dir: &Path) -> Result<()> {
        let code = format!(
            "std::env::set_current_dir({:?}).ok();",
            dir.display().to_string()
        );
        self.context
            .execute(&code)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    pub fn variables(&self) -> Vec<(String, String)> {
        self.context
            .variables_and_types()
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
            .collect()
    }

    /// Runs one cell. Outputs go to `sink` while it runs; `input` answers `input()` calls.
    pub fn execute(
        &mut self,
        code: &str,
        sink: Arc<dyn OutputSink>,
        input: &dyn Fn(&str, bool) -> String,
    ) -> CellOutcome {
        if let Some(outcome) = self.kernel_command(code, &sink) {
            return outcome;
        }
        self.forwarder.set_sink(sink.clone());
        let variables_before: Vec<String> = self.variables().into_iter().map(|(n, _)| n).collect();
        {
            let mut state = self.state.lock().unwrap();
            state.running = true;
            state.generation += 1;
            state.interrupt_requested = false;
            state.killed_by_interrupt = false;
        }
        *self.interrupt.running_since.lock().unwrap() = None;
        // Clear the runner's flag from any earlier interrupt; it is idle until this cell is
        // compiled, so the signal lands long before the cell's code runs.
        self.interrupt.signal(libc::SIGUSR2);
        let mut callbacks = EvalCallbacks {
            input_reader: &|request| input(&decode_prompt(&request.prompt), request.is_password),
        };
        let progress = progress::loads_crates(code)
            .then(|| progress::BuildProgress::start(&self.crate_dir, sink.clone()));
        let build_log_before = cell_build::build_log_len(&self.crate_dir);
        // With the prelude loaded, cells are rewritten so that they behave like Rust (see
        // `rewrite`); plain evcxr gets the cell as typed. Values evcxr cannot keep between
        // cells (closures, borrows of other values, types it cannot name) stay inside the
        // cell: it runs with them in a block, and they are dropped at its end. Closures bound
        // by `let` are seen in the code; the others when evcxr says so, and the cell runs again.
        let mut not_kept: Vec<(String, NotKept)> = Vec::new();
        let mut rewritten = if self.prelude.is_some() {
            let closures = rewrite::closure_bindings(code);
            match rewrite::rewrite_keeping_local(code, &closures) {
                // With no closures this is the plain rewrite.
                Some(rewritten) => {
                    not_kept.extend(closures.into_iter().map(|n| (n, NotKept::Closure)));
                    rewritten
                }
                // Items follow a closure: evcxr refuses the closure and says why.
                None => rewrite::rewrite(code),
            }
        } else {
            rewrite::Rewritten::unchanged(code)
        };
        let result = loop {
            let result = self
                .context
                .execute_with_callbacks(&rewritten.code, &mut callbacks);
            let Err(error) = &result else { break result };
            let Some((name, what)) = unkeepable_variable(error) else {
                break result;
            };
            if self.prelude.is_none() || not_kept.iter().any(|(n, _)| *n == name) {
                break result;
            }
            not_kept.push((name, what));
            let names: Vec<String> = not_kept.iter().map(|(n, _)| n.clone()).collect();
            match rewrite::rewrite_keeping_local(code, &names) {
                Some(again) => rewritten = again,
                None => break result,
            }
        };
        drop(progress);
        let (interrupt_requested, killed) = {
            let mut state = self.state.lock().unwrap();
            state.running = false;
            (state.interrupt_requested, state.killed_by_interrupt)
        };
        // evcxr records "Execution" once the cell's code has run.
        let ran =
            matches!(&result, Ok(outputs) if outputs.phases.iter().any(|p| p.name == "Execution"));
        if ran {
            self.forwarder.flush_after_run();
        } else {
            self.forwarder.flush();
        }
        let panics = self.forwarder.take_panics();
        let cell_errors = self.forwarder.take_errors();
        if result.is_ok() {
            for (name, what) in &not_kept {
                sink.emit(Output::Stream {
                    name: "stderr",
                    text: what.note(name),
                });
            }
        }

        let mut outcome = CellOutcome {
            interrupted: interrupt_requested,
            ..Default::default()
        };
        match result {
            Ok(outputs) => {
                // A cell ending in a loop or block evaluates to (); like IPython's None, it is
                // not worth showing.
                let unit_only = outputs.content_by_mime_type.len() == 1
                    && outputs
                        .content_by_mime_type
                        .get("text/plain")
                        .map(String::as_str)
                        == Some("()");
                if !outputs.content_by_mime_type.is_empty() && !unit_only {
                    let bundle: Map<String, Value> = outputs
                        .content_by_mime_type
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect();
                    outcome.result = Some(Value::Object(bundle));
                }
                if self.print_timing {
                    outcome.timing = outputs
                        .phases
                        .iter()
                        .map(|p| (p.name.clone(), p.duration))
                        .collect();
                    // Part of evcxr's compile phase: how the cell's crate was built.
                    let builds = cell_build::builds_since(&self.crate_dir, build_log_before);
                    let at = outcome
                        .timing
                        .iter()
                        .rposition(|(phase, _)| phase.to_lowercase().contains("compile"))
                        .map_or(outcome.timing.len(), |i| i + 1);
                    outcome.timing.splice(at..at, builds);
                }
                if let Some(panic) = panics.into_iter().next() {
                    let location = self.cell_location(&panic.location, code, &rewritten);
                    outcome.error = Some(panic_error(&panic, location, &self.variables()));
                } else if let Some(error) = cell_errors.into_iter().next() {
                    // A `?` returned an error, or the last expression was an `Err`.
                    outcome.result = None;
                    outcome.error = Some(error);
                }
            }
            Err(evcxr::Error::SubprocessTerminated(message)) => {
                let lost = variables_before.join(", ");
                let lost = if lost.is_empty() {
                    "none".to_owned()
                } else {
                    lost
                };
                outcome.error = Some(if killed {
                    CellError {
                        ename: "KeyboardInterrupt".into(),
                        evalue: format!(
                            "the cell did not stop within {:?} of the interrupt, so its runner \
                             process was restarted. Variables lost: {lost}.",
                            self.interrupt.grace
                        ),
                        traceback: vec![
                            "KeyboardInterrupt: the cell ignored the interrupt flag.".into(),
                            "Long loops can poll `interrupted()` to stop cleanly and keep state."
                                .into(),
                            format!("Variables lost: {lost}"),
                        ],
                    }
                } else {
                    let status = message.lines().last().unwrap_or("").to_owned();
                    CellError {
                        ename: "RunnerCrashed".into(),
                        evalue: format!(
                            "the process running your code ended ({status}); it was restarted. \
                             Variables lost: {lost}."
                        ),
                        traceback: message
                            .lines()
                            .map(str::to_owned)
                            .chain([format!("The runner was restarted. Variables lost: {lost}.")])
                            .collect(),
                    }
                });
                if let Err(e) = self.attach() {
                    sink.emit(Output::Stream {
                        name: "stderr",
                        text: format!("{e}\n"),
                    });
                }
            }
            Err(evcxr::Error::CompilationErrors(errors)) => {
                outcome.error = Some(compile_error(&errors, code, &rewritten));
            }
            Err(other) => {
                let text = other.to_string();
                outcome.error = Some(CellError {
                    ename: "Error".into(),
                    evalue: text.clone(),
                    traceback: text.lines().map(str::to_owned).collect(),
                });
            }
        }
        outcome
    }

    /// Kernel-level magics that evcxr does not know.
    fn kernel_command(&mut self, code: &str, sink: &Arc<dyn OutputSink>) -> Option<CellOutcome> {
        let trimmed = code.trim();
        if trimmed == ":timing" {
            self.print_timing = !self.print_timing;
            sink.emit(Output::Stream {
                name: "stdout",
                text: format!("Timing {}\n", if self.print_timing { "on" } else { "off" }),
            });
            return Some(CellOutcome::default());
        }
        if trimmed == ":opt" || trimmed.starts_with(":opt ") {
            // The build workspace's root profile governs (see `workspace`): evcxr's `:opt` would
            // be ignored by cargo, and changing it would recompile every prelude dependency.
            let message = "Trainbook builds cells and the prelude at opt-level 2 and does not \
                           change it per notebook (a change would recompile the prelude's ~300 \
                           crates). Heavy work belongs in prelude functions, which are optimised."
                .to_string();
            return Some(CellOutcome {
                error: Some(CellError {
                    ename: "UnsupportedCommand".into(),
                    evalue: message.clone(),
                    traceback: vec![message],
                }),
                ..Default::default()
            });
        }
        if trimmed == ":vars" {
            let mut html = String::from("<table><tr><th>Variable</th><th>Type</th></tr>");
            let mut text = String::new();
            let mut vars = self.variables();
            vars.sort();
            for (name, ty) in vars {
                html.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    html_escape(&name),
                    html_escape(&ty)
                ));
                text.push_str(&format!("{name}: {ty}\n"));
            }
            html.push_str("</table>");
            return Some(CellOutcome {
                result: Some(serde_json::json!({"text/plain": text, "text/html": html})),
                ..Default::default()
            });
        }
        None
    }

    /// Completions at a cursor given in characters, as Jupyter counts.
    pub fn complete(&mut self, code: &str, cursor_chars: usize) -> (Vec<String>, usize, usize) {
        let byte_pos = char_to_byte(code, cursor_chars);
        match self.context.completions(code, byte_pos) {
            Ok(c) => {
                let mut matches: Vec<String> = c.completions.into_iter().map(|c| c.code).collect();
                matches.dedup();
                (
                    matches,
                    byte_to_char(code, c.start_offset),
                    byte_to_char(code, c.end_offset),
                )
            }
            Err(_) => (Vec::new(), cursor_chars, cursor_chars),
        }
    }

    /// Documentation for the name at the cursor: (plain text, markdown).
    pub fn inspect(&mut self, code: &str, cursor_chars: usize) -> Option<(String, String)> {
        let byte_pos = char_to_byte(code, cursor_chars);
        // Hover wants the expression up to the end of the word under the cursor.
        let end = code[byte_pos..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(code.len(), |i| byte_pos + i);
        let start = code[..end]
            .rfind(|c: char| c.is_whitespace() || c == ';' || c == '{' || c == '}')
            .map_or(0, |i| i + 1);
        let expr = &code[start..end];
        if expr.trim().is_empty() {
            return None;
        }
        match self.context.hover_at(expr, expr.len()) {
            Ok((text, markdown)) if text != "No documentation found" => Some((text, markdown)),
            _ => None,
        }
    }
}

/// A value of a cell that evcxr cannot keep for later cells.
#[derive(Debug, Clone, PartialEq)]
enum NotKept {
    Closure,
    /// Holds a reference into another value (`frame.column("a")?`).
    Borrow,
    /// A type evcxr cannot write down.
    Unnamed(String),
}

impl NotKept {
    /// The one-line note shown when the value is dropped at the end of its cell.
    fn note(&self, name: &str) -> String {
        let (what, keep_it) = match self {
            NotKept::Closure => (
                "a closure".to_owned(),
                format!("box it: `let {name}: Box<dyn Fn(f64) -> f64> = Box::new(..);`"),
            ),
            NotKept::Borrow => (
                "a borrow of another value".to_owned(),
                "keep an owned copy instead (`.clone()`, `.to_vec()`, `.to_owned()`)".to_owned(),
            ),
            NotKept::Unnamed(ty) => (
                format!("of type `{ty}`"),
                "give it a type that can be named (a struct, a `Box<dyn ..>`)".to_owned(),
            ),
        };
        format!(
            "note: `{name}` ({what}) was dropped at the end of this cell: such values cannot be \
             kept between cells. To keep it, {keep_it}\n"
        )
    }
}

/// The variable named by evcxr's "cannot be persisted" errors, and what it is.
fn unkeepable_variable(error: &evcxr::Error) -> Option<(String, NotKept)> {
    match error {
        evcxr::Error::CompilationErrors(errors) => errors
            .iter()
            .find_map(|e| unkeepable_variable_in(&e.message())),
        other => unkeepable_variable_in(&other.to_string()),
    }
}

fn unkeepable_variable_in(message: &str) -> Option<(String, NotKept)> {
    let rest = message.trim_start().strip_prefix("The variable `")?;
    let (name, rest) = rest.split_once('`')?;
    if rest.starts_with(" is a closure, which cannot be persisted") {
        return Some((name.to_owned(), NotKept::Closure));
    }
    if rest.starts_with(" contains a reference with a non-static lifetime") {
        return Some((name.to_owned(), NotKept::Borrow));
    }
    let (ty, _) = rest
        .strip_prefix(" has type `")?
        .split_once("` which cannot be persisted")?;
    Some((name.to_owned(), NotKept::Unnamed(ty.to_owned())))
}

/// The prelude sends prompts as JSON strings (see `trainbook::runtime::input`).
fn decode_prompt(prompt: &str) -> String {
    serde_json::from_str::<String>(prompt).unwrap_or_else(|_| prompt.to_owned())
}

/// Cells link the standard library dynamically. The RUNPATH rustc writes is relative to
/// `target/.../deps`, but evcxr loads the copy one level up, so the runner process could only
/// find libstd by luck of directory depth; put the toolchain's library directory on its path.
fn add_std_to_library_path() {
    let Ok(out) = std::process::Command::new("rustc")
        .args(["--print", "target-libdir"])
        .output()
    else {
        return;
    };
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if libdir.is_empty() {
        return;
    }
    let mut paths = vec![PathBuf::from(&libdir)];
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        // LD_LIBRARY_PATH outranks the cells' RUNPATH, so a directory holding another build of
        // the prelude dylib (cargo test and cargo run put the workspace's target/…/deps here)
        // would make the runner load the wrong libtrainbook.so.
        paths.extend(
            std::env::split_paths(&existing)
                .filter(|p| p != Path::new(&libdir) && !p.join("libtrainbook.so").exists()),
        );
    }
    if let Ok(joined) = std::env::join_paths(paths) {
        std::env::set_var("LD_LIBRARY_PATH", joined);
    }
}

fn panic_error(panic: &PanicReport, location: String, kept: &[(String, String)]) -> CellError {
    let kept: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
    CellError {
        ename: "Panic".into(),
        evalue: panic.message.clone(),
        traceback: vec![
            format!("panicked at {location}:"),
            panic.message.clone(),
            format!(
                "Variables from earlier cells are kept: {}",
                if kept.is_empty() {
                    "(none)".to_owned()
                } else {
                    kept.join(", ")
                }
            ),
        ],
    }
}

use forward::PanicReport;

impl Runner {
    /// A panic location in the cell's generated crate (`src/lib.rs:L:C`) as a place in the
    /// user's cell (`cell:line:column`). evcxr copies each statement of the cell into its
    /// `lib.rs` starting on a line of its own, so the generated line is found in the cell as
    /// it was given to evcxr, then mapped back through the rewrite. Other locations (the
    /// prelude, a library) are kept as they are.
    fn cell_location(&self, location: &str, cell: &str, rewritten: &rewrite::Rewritten) -> String {
        // `ctx/src/lib.rs` from the build workspace's root, `src/lib.rs` without one.
        let Some(rest) = ["ctx/src/lib.rs:", "src/lib.rs:"]
            .iter()
            .find_map(|prefix| location.strip_prefix(prefix))
        else {
            return location.to_owned();
        };
        let mut parts = rest.split(':').map(|p| p.parse::<usize>().ok());
        let (Some(Some(line)), Some(Some(column))) = (parts.next(), parts.next()) else {
            return "this cell".to_owned();
        };
        let generated = std::fs::read_to_string(self.crate_dir.join("src/lib.rs"))
            .ok()
            .and_then(|lib| lib.lines().nth(line - 1).map(|l| l.trim_end().to_owned()));
        let Some(generated) = generated.filter(|g| !g.trim().is_empty()) else {
            return "this cell".to_owned();
        };
        let given: Vec<&str> = rewritten.code.lines().collect();
        let found = given
            .iter()
            .position(|l| l.trim_end() == generated)
            .map(|i| (i, 0))
            .or_else(|| {
                given.iter().enumerate().find_map(|(i, l)| {
                    l.find(generated.as_str())
                        .map(|at| (i, l[..at].chars().count()))
                })
            });
        match found {
            Some((index, offset)) if index < cell.lines().count().max(1) => {
                let column = rewritten.original_column(index + 1, column + offset);
                format!("cell:{}:{column}", index + 1)
            }
            _ => "this cell".to_owned(),
        }
    }
}

/// A compile error as rustc shows it, on the user's own lines and columns: the primary message
/// with its code, where it is, the lines it points at with their labels, then help and notes.
fn compile_error(
    errors: &[evcxr::CompilationError],
    cell: &str,
    rewritten: &rewrite::Rewritten,
) -> CellError {
    let lines: Vec<&str> = cell.lines().collect();
    let mut traceback = Vec::new();
    let mut first_location = None;
    let mut first_message: Option<String> = None;
    // When evcxr cannot work out a variable's type it reports rustc's check of the cell, which
    // may hold only warnings; show the errors when there are any.
    let only_errors: Vec<&evcxr::CompilationError> =
        errors.iter().filter(|e| e.level() == "error").collect();
    let errors: Vec<&evcxr::CompilationError> = if only_errors.is_empty() {
        traceback.push(
            "The types of this cell's variables could not be worked out, and rustc found no \
             error; give the new variables explicit types (`let x: Tensor = ..`). rustc said:"
                .to_owned(),
        );
        errors.iter().collect()
    } else {
        only_errors
    };
    for (i, error) in errors.iter().enumerate() {
        if i > 0 {
            traceback.push(String::new());
        }
        // `x?` on an Option became `cell_try(x)?`, which wants a Result: say what rustc
        // says of `?` on an Option in a function returning a Result, and how to convert.
        let option_question_mark = error.code() == Some("E0308")
            && error.spanned_messages().iter().any(|m| {
                m.label.contains("expected `Result<") && m.label.contains("found `Option<")
            })
            && rewritten.code.contains(rewrite::TRY_OPEN);
        let (code, message) = if option_question_mark {
            (
                "[E0277]".to_owned(),
                "the `?` operator can only be used on `Result`s, not `Option`s, in a function \
                 that returns `Result` (a cell is one)"
                    .to_owned(),
            )
        } else {
            (
                error.code().map(|c| format!("[{c}]")).unwrap_or_default(),
                error.message(),
            )
        };
        traceback.push(format!("{}{code}: {message}", error.level()));
        first_message.get_or_insert(message);
        let mut spanned: Vec<(&_, (usize, usize, usize, usize))> = error
            .spanned_messages()
            .iter()
            .filter_map(|m| {
                let span = m.span.as_ref()?;
                let start = rewritten.original_column(span.start_line, span.start_column);
                let end = rewritten.original_column(span.end_line, span.end_column);
                Some((m, (span.start_line, start, span.end_line, end)))
            })
            .collect();
        // The primary span first, as rustc prints it.
        spanned.sort_by_key(|(m, _)| !m.is_primary);
        if let Some((_, (line, column, _, _))) = spanned.first() {
            traceback.push(format!(" --> cell:{line}:{column}"));
            first_location.get_or_insert((*line, *column));
        }
        let width = spanned
            .iter()
            .map(|(_, (line, ..))| line.to_string().len())
            .max()
            .unwrap_or(1);
        let gutter = " ".repeat(width);
        if !spanned.is_empty() {
            traceback.push(format!("{gutter} |"));
        }
        for (message, (line, column, end_line, end_column)) in &spanned {
            let Some(text) = lines.get(line - 1) else {
                continue;
            };
            traceback.push(format!("{line:>width$} | {text}"));
            let length = if end_line == line {
                end_column.saturating_sub(*column).max(1)
            } else {
                text.chars().count().saturating_sub(column - 1).max(1)
            };
            let mark = if message.is_primary { "^" } else { "-" };
            traceback.push(
                format!(
                    "{gutter} | {}{} {}",
                    " ".repeat(column - 1),
                    mark.repeat(length),
                    message.label
                )
                .trim_end()
                .to_owned(),
            );
        }
        for help in error.help() {
            let mut help_lines = help.lines();
            if let Some(first) = help_lines.next() {
                traceback.push(format!("help: {first}"));
            }
            traceback.extend(help_lines.map(|l| format!("      {l}")));
        }
        if let Some(hint) = error.evcxr_extra_hint() {
            traceback.push(format!("note: {hint}"));
        }
        if option_question_mark {
            traceback.push(
                "help: turn the Option into a Result first: `.ok_or(\"what was missing\")?`, \
                 or with anyhow `.context(\"what was missing\")?`"
                    .to_owned(),
            );
        }
    }
    let evalue = match (first_message, first_location) {
        (Some(message), Some((line, column))) => format!("{message} (cell:{line}:{column})"),
        (Some(message), None) => message,
        (None, _) => "compilation failed".into(),
    };
    CellError {
        ename: "CompileError".into(),
        evalue,
        traceback,
    }
}

fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

fn byte_to_char(s: &str, byte: usize) -> usize {
    s[..byte.min(s.len())].chars().count()
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Drop for Runner {
    fn drop(&mut self) {
        // The work directory belongs to this runner alone; the prelude cache is untouched.
        if self
            .work_dir
            .starts_with(cache::kernels_root().unwrap_or_default())
        {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// Start-up phases go to the kernel's log (stderr), for diagnosing slow starts.
fn log_phase(what: &str, started: std::time::Instant) {
    crate::log::info(format!(
        "{what} in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evcxr_refusals_name_the_value_and_the_note_says_how_to_keep_it() {
        let closure = "The variable `f` is a closure, which cannot be persisted.\nYou can ...";
        assert_eq!(
            unkeepable_variable_in(closure),
            Some(("f".into(), NotKept::Closure))
        );
        let borrow = "The variable `c` contains a reference with a non-static lifetime so\n\
                      can't be persisted.";
        assert_eq!(
            unkeepable_variable_in(borrow),
            Some(("c".into(), NotKept::Borrow))
        );
        let unnamed = "The variable `it` has type `Map<Iter<'_, i32>, F>` which cannot be \
                       persisted.\nYou might be able to fix this by creating a `Box<dyn ..>`.";
        assert_eq!(
            unkeepable_variable_in(unnamed),
            Some((
                "it".into(),
                NotKept::Unnamed("Map<Iter<'_, i32>, F>".into())
            ))
        );
        assert_eq!(unkeepable_variable_in("mismatched types"), None);
        let note = NotKept::Borrow.note("c");
        assert!(note.starts_with("note: `c` (a borrow of another value) was dropped"));
        assert!(note.ends_with(".to_owned()`)\n"), "{note}");
    }
}
