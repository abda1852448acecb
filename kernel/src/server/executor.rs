//! The thread that owns the evcxr runner. Everything that touches it goes through a job queue,
//! and a panic inside a job is caught and reported instead of taking the kernel down.

use crate::runner::{CellError, CellOutcome, InterruptHandle, OutputSink, Runner, RunnerOptions};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub type InputFn = Box<dyn Fn(&str, bool) -> String + Send>;

pub enum Job {
    Execute {
        code: String,
        sink: Arc<dyn OutputSink>,
        input: InputFn,
        done: oneshot::Sender<CellOutcome>,
    },
    Complete {
        code: String,
        cursor: usize,
        done: oneshot::Sender<(Vec<String>, usize, usize)>,
    },
    Inspect {
        code: String,
        cursor: usize,
        done: oneshot::Sender<Option<(String, String)>>,
    },
    Variables {
        done: oneshot::Sender<Vec<(String, String)>>,
    },
    /// Moves the runner process to the notebook's folder (an adopted standby started elsewhere).
    SetWorkingDir { dir: std::path::PathBuf },
}

/// What the executor thread does around starting the runner.
#[derive(Default)]
pub struct StartHooks {
    /// Load everything a first `let` needs before taking jobs (a standby's warm-up).
    pub warm_up: bool,
    /// Called once the runner is ready (or failed to start).
    pub on_ready: Option<Box<dyn FnOnce() + Send>>,
}

#[derive(Clone)]
pub struct Executor {
    jobs: std::sync::mpsc::Sender<Job>,
    interrupt: Arc<Mutex<Option<InterruptHandle>>>,
}

impl Executor {
    /// Starts the runner on its own thread. Start-up progress and errors go to `log` and are
    /// shown to the first cells that run.
    pub fn start(options: RunnerOptions, hooks: StartHooks) -> Executor {
        let (jobs, receiver) = std::sync::mpsc::channel::<Job>();
        let interrupt = Arc::new(Mutex::new(None));
        let interrupt_slot = interrupt.clone();
        std::thread::Builder::new()
            .name("trainbook-executor".into())
            .spawn(move || {
                let progress = |line: &str| crate::log::info(line);
                let started = std::time::Instant::now();
                let mut runner = match Runner::start(options, &progress) {
                    Ok(mut runner) => {
                        if hooks.warm_up {
                            if let Err(e) = runner.warm_up() {
                                crate::log::warn(format!(
                                    "warm-up failed (cells still run): {e:#}"
                                ));
                            }
                        }
                        crate::log::info(format!(
                            "evaluator ready in {:.2} s",
                            started.elapsed().as_secs_f64()
                        ));
                        *interrupt_slot.lock().unwrap() = Some(runner.interrupt_handle());
                        Ok(runner)
                    }
                    Err(e) => {
                        crate::log::warn(format!("evaluator failed to start: {e:#}"));
                        Err(format!("{e:#}"))
                    }
                };
                if let Some(on_ready) = hooks.on_ready {
                    on_ready();
                }
                for job in receiver {
                    run_job(&mut runner, job);
                }
            })
            .expect("spawn executor thread");
        Executor { jobs, interrupt }
    }

    pub fn submit(&self, job: Job) {
        let _ = self.jobs.send(job);
    }

    /// Moves the runner process's working directory to `dir`, after the jobs already queued.
    pub fn set_working_dir(&self, dir: std::path::PathBuf) {
        self.submit(Job::SetWorkingDir { dir });
    }

    /// Kills the runner and the processes its cells started (shutdown, restart, launcher gone).
    pub fn kill_runner_tree(&self) {
        if let Some(handle) = self.interrupt.lock().unwrap().as_ref() {
            handle.kill_tree();
        }
    }

    pub fn interrupt(&self) {
        if let Some(handle) = self.interrupt.lock().unwrap().as_ref() {
            handle.interrupt();
        }
    }
}

fn run_job(runner: &mut Result<Runner, String>, job: Job) {
    let runner = match runner {
        Ok(runner) => runner,
        Err(start_error) => {
            if let Job::Execute { done, .. } = job {
                let _ = done.send(CellOutcome {
                    error: Some(CellError {
                        ename: "KernelStartError".into(),
                        evalue: start_error.clone(),
                        traceback: start_error.lines().map(str::to_owned).collect(),
                    }),
                    ..Default::default()
                });
            }
            return;
        }
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
        Job::Execute {
            code,
            sink,
            input,
            done,
        } => {
            let outcome = runner.execute(&code, sink, &*input);
            let _ = done.send(outcome);
        }
        Job::Complete { code, cursor, done } => {
            let _ = done.send(runner.complete(&code, cursor));
        }
        Job::Inspect { code, cursor, done } => {
            let _ = done.send(runner.inspect(&code, cursor));
        }
        Job::Variables { done } => {
            let _ = done.send(runner.variables());
        }
        Job::SetWorkingDir { dir } => {
            if let Err(e) = runner.set_working_dir(&dir) {
                crate::log::warn(format!(
                    "could not move the runner to {}: {e:#}",
                    dir.display()
                ));
            }
        }
    }));
    if let Err(panic) = caught {
        // The dropped reply channel tells the waiting request; log what happened.
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        crate::log::warn(format!(
            "internal error while handling a request: {message}"
        ));
    }
}
