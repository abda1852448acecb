//! Progress while a `:dep` cell compiles crates. evcxr holds cargo's output until the build
//! ends, so the progress comes from the build directory: cargo writes one fingerprint folder
//! per finished unit.

use super::forward::{Output, OutputSink};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Nothing is shown for builds shorter than this, so ordinary cells never flash a message.
const QUIET_FOR: Duration = Duration::from_secs(2);

pub struct BuildProgress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn fingerprint_dirs(work_dir: &Path) -> Vec<PathBuf> {
    let Ok(targets) = std::fs::read_dir(work_dir.join("target")) else {
        return Vec::new();
    };
    targets
        .flatten()
        .map(|t| t.path().join("debug/.fingerprint"))
        .chain([work_dir.join("target/debug/.fingerprint")])
        .filter(|p| p.is_dir())
        .collect()
}

fn units_built(work_dir: &Path) -> usize {
    fingerprint_dirs(work_dir)
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .map(|entries| entries.count())
        .sum()
}

impl BuildProgress {
    /// Starts watching `work_dir` and reporting to `sink` in one display that updates in place.
    pub fn start(work_dir: &Path, sink: Arc<dyn OutputSink>) -> BuildProgress {
        let stop = Arc::new(AtomicBool::new(false));
        let work_dir = work_dir.to_path_buf();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let before = units_built(&work_dir);
            let display_id = format!("trainbook-build-{}", uuid::Uuid::new_v4());
            let mut shown = false;
            let message = |built: usize, done: bool| {
                let seconds = started.elapsed().as_secs();
                let text = if done {
                    format!("Compiled {built} crates in {seconds} s.")
                } else {
                    format!(
                        "Compiling dependencies for :dep: {built} crates built so far ({seconds} s)… \
                         This happens once; later cells reuse the build."
                    )
                };
                json!({ "text/plain": text })
            };
            while !stopping.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                if started.elapsed() < QUIET_FOR {
                    continue;
                }
                let built = units_built(&work_dir).saturating_sub(before);
                if built == 0 {
                    continue;
                }
                let data = message(built, false);
                if shown {
                    sink.emit(Output::UpdateDisplay {
                        data,
                        metadata: json!({}),
                        display_id: display_id.clone(),
                    });
                } else {
                    sink.emit(Output::Display {
                        data,
                        metadata: json!({}),
                        display_id: Some(display_id.clone()),
                    });
                    shown = true;
                }
                // One update a second is plenty for a build of minutes.
                for _ in 0..3 {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
            if shown {
                let built = units_built(&work_dir).saturating_sub(before);
                sink.emit(Output::UpdateDisplay {
                    data: message(built, true),
                    metadata: json!({}),
                    display_id,
                });
            }
        });
        BuildProgress {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BuildProgress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a cell loads crates (and so may compile for minutes).
pub fn loads_crates(code: &str) -> bool {
    code.lines()
        .any(|line| line.trim_start().starts_with(":dep"))
}
