//! Cell builds that skip cargo when nothing but the cell changed.
//!
//! evcxr compiles every cell with `cargo build`. With the prelude's ~330 crates in the graph,
//! cargo spends about 0.5 s (2-core machine) re-reading the lock file, the manifests and every
//! unit's fingerprint before it runs rustc on the cell for 0.2-0.3 s, and between two cells
//! that work almost never finds anything to do: only the cell's `src/lib.rs` changed.
//!
//! evcxr runs the cargo that `rustup which cargo` (or `PATH`) names, so the kernel points
//! `RUSTUP_TOOLCHAIN` and `PATH` at a toolchain folder of its own ([`route_cell_builds`]): the
//! real toolchain's tools linked in, and `cargo` being this binary. As `cargo` it
//! ([`cargo_main`]):
//! - hands anything other than evcxr's cell build to the real cargo;
//! - for a cell build, runs the real cargo whenever an input besides the cell may have changed:
//!   the manifests, the lock file, cargo's configuration, the environment, the files of path
//!   dependencies (the prelude, a `:dep` on a local crate) or the toolchain. That build records
//!   the exact rustc command cargo ran for the cell (through `RUSTC_WORKSPACE_WRAPPER`, which
//!   applies to the cell's crate only) and a snapshot of those inputs;
//! - otherwise runs the recorded rustc command itself and reports to evcxr what cargo would
//!   have reported (compiler messages, the cell's library).
//!
//! `TRAINBOOK_CELL_BUILD=cargo` turns the shortcut off. Each build appends a line (`rustc` or
//! `cargo: why`, and its time) to `target/trainbook-cell-build/builds.log` in evcxr's crate.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// The name evcxr gives the crate it builds each cell in.
const CELL_CRATE: &str = "ctx";
/// The name under which this binary acts as cargo (see `toolchain_dir`).
pub const CARGO_NAME: &str = "cargo";
/// The name under which this binary records cargo's rustc command for the cell crate.
pub const RECORDER_NAME: &str = "trainbook-rustc-recorder";
/// Where the recorder writes the cell crate's rustc command.
const RECORD_ENV: &str = "TRAINBOOK_CELL_BUILD_RECORD";
/// `cargo` turns the shortcut off.
const MODE_ENV: &str = "TRAINBOOK_CELL_BUILD";
/// In the toolchain folder: a link to the cargo evcxr would have run.
const REAL_CARGO: &str = "real-cargo";
/// In the toolchain folder: `RUSTUP_TOOLCHAIN` as the kernel found it (absent: unset).
const ORIGINAL_TOOLCHAIN: &str = "rustup-toolchain";
/// Tools linked from the real toolchain, besides rustc (rustup proxies for these look into
/// our folder while `RUSTUP_TOOLCHAIN` points there).
const LINKED_TOOLS: &[&str] = &[
    "rustc",
    "rustdoc",
    "rustfmt",
    "cargo-fmt",
    "cargo-clippy",
    "clippy-driver",
    "rust-analyzer",
    "rust-gdb",
    "rust-gdbgui",
    "rust-lldb",
    "cargo-miri",
    "miri",
];
/// A path dependency with more files than this is not snapshotted: its cells go through cargo.
const MAX_WATCHED_FILES: usize = 20_000;

/// What the build of one cell needs besides its source, as found by the last cargo build.
#[derive(Serialize, Deserialize)]
struct Recording {
    crate_dir: PathBuf,
    /// The environment cargo ran in (`comparable_env`).
    cargo_env: BTreeMap<String, String>,
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    /// Variables cargo set or changed for rustc, and those it removed.
    env_set: BTreeMap<String, String>,
    env_removed: Vec<String>,
    /// cargo's `compiler-artifact` message for the cell crate.
    artifact: serde_json::Value,
    inputs: Vec<Stamp>,
}

/// A file's identity as cargo would judge it: present or not, size, modification time.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Stamp {
    path: PathBuf,
    state: Option<(u64, i64, i64)>,
}

impl Stamp {
    fn of(path: &Path) -> Stamp {
        let state = fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.mtime(), m.mtime_nsec()));
        Stamp {
            path: path.to_owned(),
            state,
        }
    }

    fn unchanged(&self) -> bool {
        Stamp::of(&self.path) == *self
    }

    /// Whether the file was modified after `moment`.
    fn changed_since(&self, moment: std::time::SystemTime) -> bool {
        let Some((_, seconds, nanos)) = self.state else {
            return false;
        };
        let Ok(since_epoch) = moment.duration_since(std::time::UNIX_EPOCH) else {
            return false;
        };
        (seconds, nanos)
            > (
                since_epoch.as_secs() as i64,
                since_epoch.subsec_nanos() as i64,
            )
    }
}

/// rustc as cargo ran it for the cell crate, written by the recorder.
#[derive(Serialize, Deserialize)]
struct RustcCall {
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
}

/// The variables two processes must agree on to count as the same environment: Jupyter's
/// per-kernel ones, the shell's bookkeeping and the standby pool's settings are left out.
pub(crate) fn comparable_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(k, _)| {
            !k.starts_with("JPY_")
                && !k.starts_with("TRAINBOOK_STANDBY")
                && !matches!(k.as_str(), "PWD" | "OLDPWD" | "_" | "SHLVL")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The kernel's side: the toolchain folder.

/// Points evcxr's cargo at this binary (see the module docs). Call before evcxr starts; it
/// looks cargo up once, when its context is created. Returns the toolchain folder, or why the
/// cells keep going through cargo.
pub fn route_cell_builds() -> Result<PathBuf> {
    static ROUTED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    ROUTED
        .get_or_init(|| route().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn route() -> Result<PathBuf> {
    if crate::config::Config::get().cell_build.as_deref() == Some("cargo") {
        bail!("{MODE_ENV}=cargo");
    }
    let original_toolchain = std::env::var_os("RUSTUP_TOOLCHAIN");
    let real_cargo = find_tool("cargo").context("cannot find cargo")?;
    let real_rustc = find_tool("rustc").context("cannot find rustc")?;
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let dir = toolchain_dir(&real_cargo, &real_rustc, &exe, original_toolchain.as_ref())?;
    let bin = dir.join("bin");
    let mut path = vec![bin.clone()];
    if let Some(existing) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&existing).filter(|p| *p != bin));
    }
    std::env::set_var("PATH", std::env::join_paths(path)?);
    std::env::set_var("RUSTUP_TOOLCHAIN", &dir);
    // The same lookup evcxr makes; if it does not land here (an old rustup that takes no
    // folder as a toolchain), undo, and cells go through cargo.
    let found = find_tool("cargo").ok();
    if found.as_deref() != Some(bin.join(CARGO_NAME).as_path()) {
        std::env::set_var("PATH", strip_from_path(std::env::var_os("PATH"), &bin));
        match &original_toolchain {
            Some(value) => std::env::set_var("RUSTUP_TOOLCHAIN", value),
            None => std::env::remove_var("RUSTUP_TOOLCHAIN"),
        }
        bail!(
            "cargo is looked up as {} here, not in {}",
            found.map_or("nothing".into(), |p| p.display().to_string()),
            bin.display()
        );
    }
    Ok(dir)
}

/// `rustup which TOOL`, else the first TOOL on PATH: how evcxr finds cargo and rustc.
fn find_tool(tool: &str) -> Result<PathBuf> {
    if let Ok(out) = Command::new("rustup")
        .args(["which", tool])
        .stderr(Stdio::null())
        .output()
    {
        if out.status.success() {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !path.is_empty() {
                return Ok(PathBuf::from(path));
            }
        }
    }
    on_path(tool).with_context(|| format!("no {tool} on PATH"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn strip_from_path(path: Option<OsString>, dir: &Path) -> OsString {
    let kept: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).filter(|d| d != dir).collect())
        .unwrap_or_default();
    std::env::join_paths(kept).unwrap_or_default()
}

/// `<cache>/toolchains/<key>/`: `bin/` holds links to the real tools, `cargo` and the recorder
/// as links to this binary; beside it the real cargo and the original `RUSTUP_TOOLCHAIN`.
/// Shared by this user's kernels with the same binary and toolchain, so that cargo sees the
/// same rustc path in every kernel and in the prelude template (no spurious rebuilds).
fn toolchain_dir(
    real_cargo: &Path,
    real_rustc: &Path,
    exe: &Path,
    original_toolchain: Option<&OsString>,
) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [real_cargo, real_rustc, exe] {
        hasher.update(part.as_os_str().as_encoded_bytes());
        hasher.update([0]);
    }
    if let Some(value) = original_toolchain {
        hasher.update(value.as_encoded_bytes());
    }
    let key = hex::encode(&hasher.finalize()[..8]);
    let root = super::cache::cache_root()?.join("toolchains");
    super::cache::private_dir(&root)?;
    let dir = root.join(key);
    let complete = |dir: &Path| {
        fs::read_link(dir.join("bin").join(CARGO_NAME))
            .ok()
            .as_deref()
            == Some(exe)
            && fs::read_link(dir.join(REAL_CARGO)).ok().as_deref() == Some(real_cargo)
    };
    if complete(&dir) {
        return Ok(dir);
    }
    // Built aside and renamed into place, so a kernel never sees half a folder.
    let staging = super::cache::new_private_dir(&root)?;
    let bin = staging.join("bin");
    fs::create_dir(&bin)?;
    let real_bin = real_rustc.parent().context("rustc has no folder")?;
    for tool in LINKED_TOOLS {
        let real = real_bin.join(tool);
        if real.exists() {
            std::os::unix::fs::symlink(&real, bin.join(tool))?;
        }
    }
    std::os::unix::fs::symlink(exe, bin.join(CARGO_NAME))?;
    std::os::unix::fs::symlink(exe, bin.join(RECORDER_NAME))?;
    std::os::unix::fs::symlink(real_cargo, staging.join(REAL_CARGO))?;
    if let Some(value) = original_toolchain {
        fs::write(staging.join(ORIGINAL_TOOLCHAIN), value.as_encoded_bytes())?;
    }
    if fs::rename(&staging, &dir).is_err() {
        // Another kernel got there first, or a stale folder is in the way.
        if !complete(&dir) {
            let _ = fs::remove_dir_all(&dir);
            if fs::rename(&staging, &dir).is_ok() {
                return Ok(dir);
            }
        }
        let _ = fs::remove_dir_all(&staging);
        if !complete(&dir) {
            bail!("cannot set up {}", dir.display());
        }
    }
    Ok(dir)
}

// ---------------------------------------------------------------------------------------------
// This binary as `cargo`.

/// Entry point when this binary runs as `cargo` from the toolchain folder. Never returns.
pub fn cargo_main() -> ! {
    let code = match run_as_cargo() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trainbook (as cargo): {error:#}");
            101
        }
    };
    std::process::exit(code)
}

fn run_as_cargo() -> Result<i32> {
    let toolchain = own_toolchain_dir()?;
    let real_cargo = fs::read_link(toolchain.join(REAL_CARGO))
        .with_context(|| format!("no real cargo recorded in {}", toolchain.display()))?;
    let env = outside_env(&toolchain);
    // Passed on as they came (a cell may run cargo with any arguments); evcxr's are UTF-8.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let crate_dir = std::env::current_dir()?;
    let is_cell_build = is_cell_build(&args) && crate_dir.join("Cargo.toml").is_file();
    if !is_cell_build || crate::config::Config::get().cell_build.as_deref() == Some("cargo") {
        return run_real_cargo(&real_cargo, &args, &env);
    }
    let started = Instant::now();
    let state_dir = state_dir(&crate_dir);
    fs::create_dir_all(&state_dir)?;
    let recording_file = state_dir.join("recording.json");
    let why_cargo = match load_recording(&recording_file) {
        Some(recording) => match stale_input(&recording, &crate_dir, &env) {
            None => {
                let code = replay(&recording, &env)?;
                log_build(&state_dir, "rustc", started);
                return Ok(code);
            }
            Some(why) => why,
        },
        None => "no recorded build".to_owned(),
    };
    let _ = fs::remove_file(&recording_file);
    let recorder = toolchain.join("bin").join(RECORDER_NAME);
    let (code, skipped) =
        cargo_build_recording(&real_cargo, &recorder, &args, &env, &crate_dir, &state_dir)?;
    let note = match skipped {
        Some(reason) => format!("cargo: {why_cargo}; next cell through cargo too: {reason}"),
        None => format!("cargo: {why_cargo}"),
    };
    log_build(&state_dir, &note, started);
    Ok(code)
}

/// evcxr's cell build: `cargo [--offline] build --target T --message-format=json`.
fn is_cell_build(args: &[OsString]) -> bool {
    let Some(args) = args
        .iter()
        .map(|a| a.to_str())
        .collect::<Option<Vec<&str>>>()
    else {
        return false;
    };
    let args: Vec<&str> = args.into_iter().filter(|a| *a != "--offline").collect();
    matches!(
        args.as_slice(),
        ["build", "--target", _, "--message-format=json"]
    )
}

/// The toolchain folder this process was started from (argv[0] is its `bin/cargo`).
fn own_toolchain_dir() -> Result<PathBuf> {
    let argv0 = PathBuf::from(std::env::args_os().next().unwrap_or_default());
    let invoked = if argv0.components().count() > 1 {
        argv0
    } else {
        on_path(&argv0.to_string_lossy()).context("cannot find where cargo was started from")?
    };
    let bin = invoked.parent().context("cargo has no folder")?;
    let dir = bin.parent().context("cargo's folder has no parent")?;
    Ok(std::path::absolute(dir)?)
}

/// This process's environment with the kernel's routing taken out again, as the real cargo
/// and rustc must see it. Kept as the OS gives it: a variable need not be UTF-8.
fn outside_env(toolchain: &Path) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    env.remove(OsStr::new(RECORD_ENV));
    match fs::read(toolchain.join(ORIGINAL_TOOLCHAIN)) {
        Ok(value) => {
            env.insert("RUSTUP_TOOLCHAIN".into(), OsString::from_vec(value));
        }
        Err(_) => {
            env.remove(OsStr::new("RUSTUP_TOOLCHAIN"));
        }
    }
    if let Some(path) = env.get(OsStr::new("PATH")) {
        let stripped = strip_from_path(Some(path.clone()), &toolchain.join("bin"));
        env.insert("PATH".into(), stripped);
    }
    env
}

/// `env` as text, for comparing and recording (a recording is only made when it is all text:
/// see `record`).
fn env_text(env: &BTreeMap<OsString, OsString>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

fn run_real_cargo(
    real_cargo: &Path,
    args: &[OsString],
    env: &BTreeMap<OsString, OsString>,
) -> Result<i32> {
    let status = Command::new(real_cargo)
        .args(args)
        .env_clear()
        .envs(env)
        .status()
        .with_context(|| format!("cannot run {}", real_cargo.display()))?;
    Ok(status.code().unwrap_or(101))
}

fn load_recording(file: &Path) -> Option<Recording> {
    serde_json::from_slice(&fs::read(file).ok()?).ok()
}

/// Why the recorded build cannot stand for this one, if it cannot.
fn stale_input(
    recording: &Recording,
    crate_dir: &Path,
    env: &BTreeMap<OsString, OsString>,
) -> Option<String> {
    if recording.crate_dir != crate_dir {
        return Some("recorded in another folder".into());
    }
    if comparable_env(&env_text(env)) != recording.cargo_env {
        return Some("the environment changed".into());
    }
    recording
        .inputs
        .iter()
        .find(|stamp| !stamp.unchanged())
        .map(|stamp| format!("{} changed", stamp.path.display()))
}

/// Runs the recorded rustc command on the current cell and reports as cargo would.
fn replay(recording: &Recording, env: &BTreeMap<OsString, OsString>) -> Result<i32> {
    let mut command = Command::new(&recording.program);
    command
        .args(&recording.args)
        .current_dir(&recording.cwd)
        .env_clear()
        .envs(env)
        .envs(&recording.env_set)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    for key in &recording.env_removed {
        command.env_remove(key);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", recording.program.display()))?;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    for line in stderr.lines() {
        let line = line?;
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(message)
                if message
                    .get("$message_type")
                    .is_some_and(|t| t == "artifact") => {}
            Ok(message)
                if message
                    .get("$message_type")
                    .is_some_and(|t| t == "diagnostic") =>
            {
                writeln!(stdout, "{}", compiler_message(&recording.artifact, message))?;
            }
            _ => eprintln!("{line}"),
        }
    }
    let status = child.wait()?;
    if !status.success() {
        writeln!(
            stdout,
            "{}",
            serde_json::json!({"reason": "build-finished", "success": false})
        )?;
        eprintln!("error: could not compile `{CELL_CRATE}`");
        return Ok(101);
    }
    let mut artifact = recording.artifact.clone();
    uplift(&artifact, &recording.args)?;
    artifact["fresh"] = serde_json::Value::Bool(false);
    writeln!(stdout, "{artifact}")?;
    writeln!(
        stdout,
        "{}",
        serde_json::json!({"reason": "build-finished", "success": true})
    )?;
    Ok(0)
}

/// A rustc diagnostic wrapped the way cargo reports it.
fn compiler_message(
    artifact: &serde_json::Value,
    diagnostic: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "reason": "compiler-message",
        "package_id": artifact["package_id"],
        "manifest_path": artifact["manifest_path"],
        "target": artifact["target"],
        "message": diagnostic,
    })
}

/// Cargo hard-links the library rustc wrote in `--out-dir` to where it reports it
/// (`target/<triple>/debug/`); evcxr then moves that file away.
fn uplift(artifact: &serde_json::Value, args: &[String]) -> Result<()> {
    let out_dir = args
        .iter()
        .position(|a| a == "--out-dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .context("the recorded rustc command has no --out-dir")?;
    let filenames = artifact["filenames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for reported in filenames.iter().filter_map(|f| f.as_str()).map(Path::new) {
        let Some(name) = reported.file_name() else {
            continue;
        };
        let built = out_dir.join(name);
        if built == reported {
            continue;
        }
        let _ = fs::remove_file(reported);
        if fs::hard_link(&built, reported).is_err() {
            fs::copy(&built, reported).with_context(|| {
                format!("cannot copy {} to {}", built.display(), reported.display())
            })?;
        }
    }
    Ok(())
}

/// Runs the real cargo with the recorder in place; when the cell crate was compiled and
/// reported, saves the recording. Returns cargo's exit code, and why no recording was saved.
fn cargo_build_recording(
    real_cargo: &Path,
    recorder: &Path,
    args: &[OsString],
    env: &BTreeMap<OsString, OsString>,
    crate_dir: &Path,
    state_dir: &Path,
) -> Result<(i32, Option<String>)> {
    let call_file = state_dir.join("rustc-call.json");
    let _ = fs::remove_file(&call_file);
    let can_record = !env.contains_key(OsStr::new("RUSTC_WRAPPER"))
        && !env.contains_key(OsStr::new("RUSTC_WORKSPACE_WRAPPER"));
    let mut command = Command::new(real_cargo);
    command
        .args(args)
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped());
    if can_record {
        command
            .env("RUSTC_WORKSPACE_WRAPPER", recorder)
            .env(RECORD_ENV, &call_file);
    }
    // An input changed after this moment may or may not be what cargo compiled.
    let build_started = std::time::SystemTime::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", real_cargo.display()))?;
    let mut artifact = None;
    let mut path_packages = Vec::new();
    {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
            let line = line?;
            writeln!(stdout, "{line}")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            if message["target"]["name"] == CELL_CRATE {
                artifact = Some(message.clone());
            } else if message["package_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("path+"))
            {
                if let Some(manifest) = message["manifest_path"].as_str() {
                    path_packages.push(PathBuf::from(manifest));
                }
            }
        }
        stdout.flush()?;
    }
    let code = child.wait()?.code().unwrap_or(101);
    if !can_record {
        return Ok((code, Some("a rustc wrapper is set".into())));
    }
    let Some(artifact) = artifact else {
        return Ok((code, Some("cargo reported no library for the cell".into())));
    };
    let call: RustcCall = match fs::read(&call_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(call) => call,
        None => return Ok((code, Some("cargo did not run rustc for the cell".into()))),
    };
    let inputs = match snapshot(crate_dir, &path_packages, &call) {
        Ok(inputs) => inputs,
        Err(reason) => return Ok((code, Some(format!("{reason:#}")))),
    };
    // Sources and manifests only: what cargo itself writes during this build is not an edit
    // someone made behind its back: the libraries named by `--extern` (a `:dep` compiled just
    // now) and the lock file of the workspace the cell crate is in (evcxr's crate is a member
    // of a workspace one folder up; cargo resolves it afresh when evcxr adds a `:dep`).
    let built: std::collections::HashSet<PathBuf> = call
        .args
        .iter()
        .filter_map(|a| a.split_once('=').map(|(_, file)| PathBuf::from(file)))
        .chain(crate_dir.ancestors().map(|dir| dir.join("Cargo.lock")))
        .collect();
    let edited = |s: &&Stamp| !built.contains(&s.path) && s.changed_since(build_started);
    if let Some(changed) = inputs.iter().find(edited) {
        return Ok((
            code,
            Some(format!(
                "{} changed while cargo built",
                changed.path.display()
            )),
        ));
    }
    let env = env_text(env);
    let env_set = call
        .env
        .iter()
        .filter(|(k, v)| env.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let env_removed = env
        .keys()
        .filter(|k| !call.env.contains_key(*k))
        .cloned()
        .collect();
    let recording = Recording {
        crate_dir: crate_dir.to_owned(),
        cargo_env: comparable_env(&env),
        program: call.program,
        args: call.args,
        cwd: call.cwd,
        env_set,
        env_removed,
        artifact,
        inputs,
    };
    write_atomically(
        &state_dir.join("recording.json"),
        &serde_json::to_vec(&recording)?,
    )?;
    Ok((code, None))
}

/// The files whose change makes cargo's answer differ from the recording's.
fn snapshot(crate_dir: &Path, path_packages: &[PathBuf], call: &RustcCall) -> Result<Vec<Stamp>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    // Manifests, lock files and cargo configuration, wherever cargo looks for them.
    for dir in crate_dir.ancestors() {
        for name in [
            "Cargo.toml",
            "Cargo.lock",
            ".cargo/config",
            ".cargo/config.toml",
        ] {
            paths.push(dir.join(name));
        }
    }
    if let Some(workspace) = crate_dir.parent() {
        for member in fs::read_dir(workspace)?.flatten() {
            paths.push(member.path().join("Cargo.toml"));
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    if let Some(home) = cargo_home {
        paths.push(home.join("config"));
        paths.push(home.join("config.toml"));
    }
    // The compiler and the libraries the cell links against.
    paths.push(call.program.clone());
    let mut args = call.args.iter();
    while let Some(arg) = args.next() {
        if arg == "--extern" {
            if let Some((_, file)) = args.next().and_then(|a| a.split_once('=')) {
                paths.push(PathBuf::from(file));
            }
        }
    }
    // Every file and folder of the path dependencies (a new file changes its folder's time).
    for manifest in path_packages {
        let root = manifest.parent().context("a manifest without a folder")?;
        if root == crate_dir {
            continue;
        }
        walk(root, &mut paths)?;
    }
    paths.sort();
    paths.dedup();
    Ok(paths.iter().map(|p| Stamp::of(p)).collect())
}

fn walk(dir: &Path, into: &mut Vec<PathBuf>) -> Result<()> {
    into.push(dir.to_owned());
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if into.len() > MAX_WATCHED_FILES {
            bail!("more than {MAX_WATCHED_FILES} files in the path dependencies");
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, into)?;
        } else {
            into.push(path);
        }
    }
    Ok(())
}

fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    trainbook_wire::files::replace(file, |staging| fs::write(staging, bytes))?;
    Ok(())
}

fn state_dir(crate_dir: &Path) -> PathBuf {
    crate_dir.join("target").join("trainbook-cell-build")
}

/// The size of the build log of evcxr's crate in `crate_dir`: pass it to [`builds_since`].
pub fn build_log_len(crate_dir: &Path) -> u64 {
    fs::metadata(state_dir(crate_dir).join("builds.log")).map_or(0, |m| m.len())
}

/// The cell builds logged after byte `from` of the log, for `:timing`: how each was built
/// (rustc directly, or cargo and why) and how long it took.
pub fn builds_since(crate_dir: &Path, from: u64) -> Vec<(String, std::time::Duration)> {
    let Ok(log) = fs::read(state_dir(crate_dir).join("builds.log")) else {
        return Vec::new();
    };
    let Some(new) = log.get(from as usize..) else {
        return Vec::new();
    };
    String::from_utf8_lossy(new)
        .lines()
        .filter_map(|line| {
            let (what, time) = line.rsplit_once(" (")?;
            let seconds: f64 = time.strip_suffix(" s)")?.parse().ok()?;
            let what = match what {
                "rustc" => "Build: rustc directly (nothing else changed, cargo skipped)".to_owned(),
                other => format!("Build: {other}"),
            };
            Some((what, std::time::Duration::from_secs_f64(seconds)))
        })
        .collect()
}

fn log_build(state_dir: &Path, what: &str, started: Instant) {
    let line = format!("{what} ({:.3} s)\n", started.elapsed().as_secs_f64());
    if let Ok(mut log) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join("builds.log"))
    {
        let _ = log.write_all(line.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// This binary as cargo's `RUSTC_WORKSPACE_WRAPPER`.

/// Entry point as the recorder: `trainbook-rustc-recorder RUSTC ARGS...`. Saves the command
/// when it compiles the cell crate, then becomes rustc.
pub fn recorder_main() -> ! {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os().skip(1);
    let Some(rustc) = args.next() else {
        eprintln!("{RECORDER_NAME}: no rustc to run");
        std::process::exit(101);
    };
    let args: Vec<OsString> = args.collect();
    if let Some(file) = std::env::var_os(RECORD_ENV) {
        if let Err(error) = record(Path::new(&file), Path::new(&rustc), &args) {
            // Not fatal: the build goes on, the next cell goes through cargo again.
            eprintln!("{RECORDER_NAME}: {error:#}");
        }
    }
    let error = Command::new(&rustc)
        .args(&args)
        .env_remove(RECORD_ENV)
        .exec();
    eprintln!(
        "{RECORDER_NAME}: cannot run {}: {error}",
        Path::new(&rustc).display()
    );
    std::process::exit(101)
}

fn record(file: &Path, rustc: &Path, args: &[OsString]) -> Result<()> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<_>>()
        .context("an argument is not UTF-8")?;
    let is_cell = args
        .windows(2)
        .any(|pair| pair[0] == "--crate-name" && pair[1] == CELL_CRATE);
    if !is_cell {
        return Ok(());
    }
    let mut env = BTreeMap::new();
    for (key, value) in std::env::vars_os() {
        let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
            bail!("the variable {key:?} is not UTF-8");
        };
        env.insert(key.to_owned(), value.to_owned());
    }
    env.remove(RECORD_ENV);
    env.remove("RUSTC_WORKSPACE_WRAPPER");
    // cargo's jobserver: its file descriptors do not exist outside this build.
    env.remove("CARGO_MAKEFLAGS");
    let call = RustcCall {
        program: rustc.to_owned(),
        args,
        env,
        cwd: std::env::current_dir()?,
    };
    write_atomically(file, &serde_json::to_vec(&call)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_evcxrs_cell_build_is_taken_over() {
        let args = |s: &str| s.split(' ').map(OsString::from).collect::<Vec<_>>();
        assert!(is_cell_build(&args(
            "build --target x86_64-unknown-linux-gnu --message-format=json"
        )));
        assert!(is_cell_build(&args(
            "--offline build --target x86_64-unknown-linux-gnu --message-format=json"
        )));
        assert!(!is_cell_build(&args("build")));
        // A cell may run cargo with arguments that are not text: passed on, never a panic.
        let mut odd = args("build --target x86_64-unknown-linux-gnu --message-format=json");
        odd[2] = OsString::from_vec(vec![0xff, 0xfe]);
        assert!(!is_cell_build(&odd));
        assert!(!is_cell_build(&args("metadata --format-version 1")));
        assert!(!is_cell_build(&args(
            "check --target x86_64-unknown-linux-gnu --message-format=json"
        )));
        assert!(!is_cell_build(&args(
            "build --release --target x86_64-unknown-linux-gnu --message-format=json"
        )));
    }

    #[test]
    fn a_stamp_sees_content_time_and_existence_change() {
        let dir = std::env::temp_dir().join(format!("tb-stamp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.rs");
        let missing = Stamp::of(&file);
        assert!(missing.state.is_none() && missing.unchanged());
        fs::write(&file, "fn a() {}").unwrap();
        assert!(!missing.unchanged());
        let written = Stamp::of(&file);
        assert!(written.unchanged());
        fs::write(&file, "fn a() { }").unwrap();
        assert!(!written.unchanged(), "size changed");
        let rewritten = Stamp::of(&file);
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&file, "fn b() { }").unwrap();
        assert!(!rewritten.unchanged(), "same size, newer time");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn diagnostics_are_wrapped_as_cargo_wraps_them() {
        let artifact = serde_json::json!({
            "reason": "compiler-artifact",
            "package_id": "path+file:///k/ctx#1.0.0",
            "manifest_path": "/k/ctx/Cargo.toml",
            "target": {"name": "ctx", "kind": ["cdylib"]},
        });
        let diagnostic = serde_json::json!({"$message_type": "diagnostic", "message": "oops",
            "level": "error", "spans": [], "children": [], "rendered": "error: oops"});
        let message = compiler_message(&artifact, diagnostic.clone());
        assert_eq!(message["reason"], "compiler-message");
        assert_eq!(message["target"]["name"], "ctx");
        assert_eq!(message["manifest_path"], "/k/ctx/Cargo.toml");
        assert_eq!(message["message"], diagnostic);
    }

    #[test]
    fn timing_reads_the_builds_a_cell_made() {
        let crate_dir = std::env::temp_dir().join(format!("tb-builds-{}", std::process::id()));
        let dir = state_dir(&crate_dir);
        fs::create_dir_all(&dir).unwrap();
        let started = Instant::now();
        log_build(&dir, "cargo: no recorded build", started);
        let before = build_log_len(&crate_dir);
        log_build(&dir, "rustc", started);
        let builds = builds_since(&crate_dir, before);
        assert_eq!(builds.len(), 1, "{builds:?}");
        assert!(builds[0].0.contains("rustc directly"), "{builds:?}");
        let all = builds_since(&crate_dir, 0);
        assert_eq!(all[0].0, "Build: cargo: no recorded build");
        assert!(builds_since(&crate_dir, build_log_len(&crate_dir)).is_empty());
        fs::remove_dir_all(&crate_dir).unwrap();
    }
}
