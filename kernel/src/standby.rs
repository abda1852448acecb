//! Warm standby kernels.
//!
//! A kernel's evaluator takes 20-35 s to start on two cores: evcxr's in-process rust-analyzer
//! reads the name tables of every crate the prelude imports, and a kernel's first `let` makes
//! it load their trait impls. None of that can be kept on disk, so a kernel that Jupyter
//! launches leaves an evaluator warming up in the background, and the next launch (a restart,
//! another notebook) adopts it instead of starting its own.
//!
//! A standby is a detached, reniced `trainbook standby` process waiting on a Unix socket in a
//! folder keyed by the binary and the prelude build, so only an identical kernel is adopted. A
//! launcher claims one by renaming its socket (atomic: two launchers never share a standby),
//! sends it the connection file, working directory and environment, and stays alive as the
//! process Jupyter manages: it relays the standby's log to its own stderr and exits when the
//! standby does; the standby exits when the launcher dies. Standbys exist only under a Jupyter
//! server (`JPY_PARENT_PID`), exit with it, and give up after a while unclaimed.

use crate::protocol::ConnectionInfo;
use crate::runner::{
    cache_root, comparable_env, prelude_dir, private_dir, process_alive as alive, PreludeCache,
    RunnerOptions,
};
use crate::server::{self, log, Executor, StartHooks};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// How much a warming standby yields to the kernels in use (nice value).
const STANDBY_NICE: i32 = 10;
/// How long an unclaimed standby waits before it exits, unless TRAINBOOK_STANDBY_TTL says.
const DEFAULT_TTL: Duration = Duration::from_secs(4 * 3600);
/// Unix socket paths must fit in 108 bytes.
const MAX_SOCKET_PATH: usize = 100;

static LAUNCH_ENV: OnceLock<Vec<(OsString, OsString)>> = OnceLock::new();

/// Records the environment the process started with, before the runner adds its own variables:
/// standbys are started with it and compared against it.
pub fn remember_launch_env() {
    LAUNCH_ENV.get_or_init(|| std::env::vars_os().collect());
}

fn launch_env() -> &'static [(OsString, OsString)] {
    LAUNCH_ENV.get_or_init(|| std::env::vars_os().collect())
}

fn launch_env_map() -> BTreeMap<String, String> {
    launch_env()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Where standbys for this binary and prelude wait, and how many.
struct Policy {
    count: usize,
    ttl: Duration,
    server_pid: libc::pid_t,
    dir: PathBuf,
}

impl Policy {
    /// `None` when standbys are off: not launched by a Jupyter server, `TRAINBOOK_STANDBY=0`,
    /// or no prelude.
    fn from_env() -> Result<Option<Policy>> {
        let config = crate::config::Config::get();
        let count = match &config.standby {
            Some(value) => value.trim().parse::<usize>().with_context(|| {
                format!(
                    "TRAINBOOK_STANDBY={value:?} is not a number of standby kernels \
                     (0 turns them off, the default is 1)"
                )
            })?,
            None => 1,
        };
        let ttl = match &config.standby_ttl {
            Some(value) => Duration::from_secs(value.trim().parse().with_context(|| {
                format!("TRAINBOOK_STANDBY_TTL={value:?} is not a number of seconds")
            })?),
            None => DEFAULT_TTL,
        };
        let server_pid = std::env::var("JPY_PARENT_PID")
            .ok()
            .and_then(|pid| pid.trim().parse::<libc::pid_t>().ok());
        let (Some(server_pid), Some(prelude)) = (server_pid, prelude_dir()) else {
            return Ok(None);
        };
        if count == 0 || !alive(server_pid) {
            return Ok(None);
        }
        let cache = PreludeCache::for_prelude(&prelude)?;
        let exe = std::env::current_exe()?;
        let mut hasher = Sha256::new();
        hasher.update(exe.to_string_lossy().as_bytes());
        hasher.update(format!("{:?}", exe_stamp(&exe)));
        hasher.update(cache.identity());
        let dir = cache_root()?
            .join("standby")
            .join(hex::encode(&hasher.finalize()[..8]));
        private_dir(&dir)?;
        sweep_other_keys(&dir);
        let policy = Policy {
            count,
            ttl,
            server_pid,
            dir,
        };
        let longest = policy.socket("claimed", u32::MAX);
        if longest.as_os_str().len() > MAX_SOCKET_PATH {
            log(format!(
                "standby kernels off: {} is too long for a Unix socket (set TRAINBOOK_CACHE_DIR \
                 to a shorter folder)",
                longest.display()
            ));
            return Ok(None);
        }
        Ok(Some(policy))
    }

    fn socket(&self, state: &str, pid: u32) -> PathBuf {
        self.dir.join(format!("{state}-{pid}.sock"))
    }

    /// Standbys waiting to be claimed (warm or still warming), oldest first. Sockets left by
    /// standbys that died are removed.
    fn waiting(&self) -> Vec<u32> {
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        for entry in entries.flatten() {
            let Some((state, pid)) = standby_file(&entry.path()) else {
                continue;
            };
            if !alive(pid as libc::pid_t) {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if state != "ready" {
                continue;
            }
            let since = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((since, pid));
        }
        found.sort();
        found.into_iter().map(|(_, pid)| pid).collect()
    }

    /// Claims a standby and hands it this kernel's connection; `None` when none took it.
    fn adopt(&self, info: &ConnectionInfo) -> Option<Adopted> {
        for pid in self.waiting() {
            let ready = self.socket("ready", pid);
            let claimed = self.socket("claimed", pid);
            if fs::rename(&ready, &claimed).is_err() {
                continue; // another launcher was quicker
            }
            match self.hand_over(&claimed, info) {
                Ok(Some(adopted)) => {
                    log(format!(
                        "adopted the warm standby kernel {pid}; its log follows"
                    ));
                    return Some(adopted);
                }
                Ok(None) => {}
                Err(e) => {
                    log(format!("standby {pid} did not answer: {e:#}"));
                    let _ = fs::remove_file(&claimed);
                }
            }
        }
        None
    }

    fn hand_over(&self, socket: &Path, info: &ConnectionInfo) -> Result<Option<Adopted>> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let request = Handover {
            connection: info.clone(),
            cwd: std::env::current_dir()?,
            env: launch_env_map(),
        };
        writeln!(stream, "{}", serde_json::to_string(&request)?)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let reply: serde_json::Value =
            serde_json::from_str(&line).context("the standby's reply is not JSON")?;
        if reply["adopted"].as_bool() == Some(true) {
            stream.set_read_timeout(None)?;
            return Ok(Some(Adopted {
                log: reader,
                _stream: stream,
            }));
        }
        log(format!(
            "a standby kernel declined: {}",
            reply["reason"].as_str().unwrap_or("no reason given")
        ));
        Ok(None)
    }

    /// Starts standbys until `count` are waiting. Failures are logged: the kernel itself is fine.
    fn replenish(&self) {
        if let Err(e) = self.try_replenish() {
            log(format!("could not start a standby kernel: {e:#}"));
        }
    }

    fn try_replenish(&self) -> Result<()> {
        // One launcher at a time counts and starts, so two at once do not both fill the pool.
        let lock = fs::File::create(self.dir.join(".spawn.lock"))?;
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        for _ in self.waiting().len()..self.count {
            let log_file = self
                .dir
                .join(format!("standby-{}.log", uuid::Uuid::new_v4().simple()));
            let out = fs::File::create(&log_file)?;
            let mut command = Command::new(std::env::current_exe()?);
            command
                .arg("standby")
                .arg("--log")
                .arg(&log_file)
                .env_clear()
                .envs(launch_env().iter().cloned())
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out);
            // Its own session: a Ctrl-C or hang-up aimed at Jupyter's terminal is not for it.
            unsafe {
                command.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            let mut child = command
                .spawn()
                .context("cannot start `trainbook standby`")?;
            let pid = child.id();
            let socket = self.socket("ready", pid);
            let deadline = Instant::now() + Duration::from_secs(5);
            while !socket.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            log(format!("started the standby kernel {pid}"));
            // Reap it if it exits while this process lives.
            std::thread::spawn(move || child.wait());
        }
        Ok(())
    }
}

/// What a launcher sends the standby it claimed.
#[derive(Serialize, Deserialize)]
struct Handover {
    connection: ConnectionInfo,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
}

/// A standby serving this launcher's kernel.
struct Adopted {
    log: BufReader<UnixStream>,
    _stream: UnixStream,
}

impl Adopted {
    /// Relays the kernel's log until it exits, which is when this launcher exits too.
    fn relay(mut self) -> Result<()> {
        let _ = std::io::copy(&mut self.log, &mut std::io::stderr());
        Ok(())
    }
}

/// `trainbook kernel -f FILE`: adopts a warm standby when one is waiting, otherwise starts the
/// evaluator here; either way keeps one standby waiting for the next launch.
pub fn launch_kernel(connection_file: &Path) -> Result<()> {
    let launched = Instant::now();
    let info = ConnectionInfo::from_file(connection_file)?;
    // Jupyter interrupts with a message; a Ctrl-C in the terminal that started Jupyter must not
    // kill the kernel (nor, through this launcher, an adopted standby).
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let policy = Policy::from_env().unwrap_or_else(|e| {
        log(format!("standby kernels off: {e:#}"));
        None
    });
    if let Some(policy) = &policy {
        if let Some(adopted) = policy.adopt(&info) {
            log(format!(
                "handed over {:.0} ms after launch",
                launched.elapsed().as_secs_f64() * 1000.0
            ));
            policy.replenish();
            return adopted.relay();
        }
    }
    // Cold start. The next standby starts once this kernel's evaluator is ready, so the two do
    // not share the cores while the user waits for this one.
    let hooks = StartHooks {
        warm_up: false,
        on_ready: policy.map(|p| Box::new(move || p.replenish()) as Box<dyn FnOnce() + Send>),
    };
    server::run(info, Executor::start(RunnerOptions::default(), hooks))
}

/// `trainbook standby --log FILE`: warms an evaluator and waits for a launcher to claim it.
pub fn run_standby(log_file: Option<PathBuf>) -> Result<()> {
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        // Stopped by a signal, a standby still removes its socket and log.
        let handler: extern "C" fn(libc::c_int) = on_stop_signal;
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        libc::signal(libc::SIGHUP, handler as libc::sighandler_t);
        libc::setpriority(libc::PRIO_PROCESS, 0, STANDBY_NICE);
    }
    let policy = Policy::from_env()?
        .context("standby kernels are off here (no JPY_PARENT_PID, or TRAINBOOK_STANDBY=0)")?;
    let pid = std::process::id();
    // The log is named after the process, so that it can be told apart from a dead one's.
    let log_file = log_file.map(|file| {
        let named = policy.dir.join(format!("standby-{pid}.log"));
        fs::rename(&file, &named).map_or(file, |_| named)
    });
    let ready = policy.socket("ready", pid);
    let claimed = policy.socket("claimed", pid);
    let listener = UnixListener::bind(&ready)
        .with_context(|| format!("cannot listen on {}", ready.display()))?;
    listener.set_nonblocking(true)?;
    let exe = std::env::current_exe()?;
    let stamp = exe_stamp(&exe);
    let own_env = comparable_env(&launch_env_map());
    let started_in = std::env::current_dir()?;
    let executor = Executor::start(
        RunnerOptions::default(),
        StartHooks {
            warm_up: true,
            on_ready: None,
        },
    );
    let since = Instant::now();
    let cleanup = |executor: &Executor| {
        let _ = fs::remove_file(&ready);
        let _ = fs::remove_file(&claimed);
        if let Some(file) = &log_file {
            let _ = fs::remove_file(file);
        }
        executor.kill_runner_tree();
    };
    loop {
        match listener.accept() {
            Ok((stream, _)) => match receive_handover(&stream, &own_env) {
                Ok(handover) => {
                    let _ = fs::remove_file(&claimed);
                    if let Some(file) = &log_file {
                        let _ = fs::remove_file(file);
                    }
                    drop(listener);
                    return serve_adopted(stream, handover, executor, &started_in);
                }
                Err(reason) => {
                    log(format!("declined a launcher: {reason}"));
                    let mut stream = &stream;
                    let _ = writeln!(stream, "{}", json!({"adopted": false, "reason": reason}));
                    let _ = fs::rename(&claimed, &ready);
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                cleanup(&executor);
                return Err(e).context("standby socket failed");
            }
        }
        let why_exit = if STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
            Some("it was asked to stop")
        } else if !alive(policy.server_pid) {
            Some("its Jupyter server exited")
        } else if since.elapsed() > policy.ttl {
            Some("nobody claimed it within TRAINBOOK_STANDBY_TTL")
        } else if exe_stamp(&exe) != stamp {
            Some("the trainbook binary changed")
        } else {
            None
        };
        if let Some(why) = why_exit {
            log(format!("standby kernel exits: {why}"));
            cleanup(&executor);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

static STOP_SIGNAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP_SIGNAL.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Reads a launcher's handover; an error says why this standby cannot stand in for it.
fn receive_handover(
    stream: &UnixStream,
    own_env: &BTreeMap<String, String>,
) -> std::result::Result<Handover, String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("no handover: {e}"))?;
    let handover: Handover =
        serde_json::from_str(&line).map_err(|e| format!("bad handover: {e}"))?;
    let theirs = comparable_env(&handover.env);
    if &theirs != own_env {
        let differing: std::collections::BTreeSet<&str> = theirs
            .keys()
            .chain(own_env.keys())
            .filter(|k| theirs.get(*k) != own_env.get(*k))
            .map(String::as_str)
            .collect();
        let differing: Vec<&str> = differing.into_iter().collect();
        return Err(format!(
            "launched with a different environment ({})",
            differing.join(", ")
        ));
    }
    if !handover.cwd.is_dir() {
        return Err(format!("{} is not a folder", handover.cwd.display()));
    }
    Ok(handover)
}

fn serve_adopted(
    stream: UnixStream,
    handover: Handover,
    executor: Executor,
    started_in: &Path,
) -> Result<()> {
    // A kernel now: signals act as on any kernel.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::signal(libc::SIGHUP, libc::SIG_DFL);
    }
    std::env::set_current_dir(&handover.cwd)?;
    for (key, value) in handover.env.iter().filter(|(k, _)| k.starts_with("JPY_")) {
        std::env::set_var(key, value);
    }
    if handover.cwd != started_in {
        executor.set_working_dir(handover.cwd.clone());
    }
    if !set_priority_of_tree(std::process::id(), 0) {
        log(format!(
            "this kernel keeps the standby's nice value {STANDBY_NICE}: lowering it needs root \
             or CAP_SYS_NICE"
        ));
    }
    (&stream).write_all(
        format!("{}\n", json!({"adopted": true, "pid": std::process::id()})).as_bytes(),
    )?;
    // From here on the log goes to the launcher, which Jupyter shows.
    unsafe {
        libc::dup2(stream.as_raw_fd(), 1);
        libc::dup2(stream.as_raw_fd(), 2);
    }
    // The launcher is the process Jupyter manages: when it dies, this kernel goes with it.
    stream.set_read_timeout(None)?;
    let watched = stream.try_clone()?;
    let runner = executor.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64];
        loop {
            match (&watched).read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        runner.kill_runner_tree();
        std::process::exit(0);
    });
    let result = server::run(handover.connection, executor);
    drop(stream);
    result
}

/// `ready-<pid>.sock`, `claimed-<pid>.sock` or `standby-<pid>.log`: the state and the pid.
fn standby_file(path: &Path) -> Option<(String, u32)> {
    let name = path.file_name()?.to_str()?;
    let (stem, _) = name.rsplit_once('.')?;
    let (state, pid) = stem.split_once('-')?;
    Some((state.to_owned(), pid.parse().ok()?))
}

/// Folders of earlier binaries or prelude builds: dead standbys' files go, and the whole
/// folder once no standby there is alive.
fn sweep_other_keys(current: &Path) {
    let Some(root) = current.parent() else { return };
    let Ok(keys) = fs::read_dir(root) else { return };
    for key in keys.flatten().map(|e| e.path()).filter(|p| p != current) {
        let Ok(entries) = fs::read_dir(&key) else {
            continue;
        };
        let mut anyone_alive = false;
        for path in entries.flatten().map(|e| e.path()) {
            match standby_file(&path) {
                Some((_, pid)) if alive(pid as libc::pid_t) => anyone_alive = true,
                Some(_) => {
                    let _ = fs::remove_file(&path);
                }
                None => {}
            }
        }
        // A folder touched in the last minute may hold a standby that is still starting.
        let recent = fs::metadata(&key)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < Duration::from_secs(60)));
        if !anyone_alive && !recent {
            let _ = fs::remove_dir_all(&key);
        }
    }
}

fn exe_stamp(exe: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(exe).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Sets the nice value of every thread of `root` and its descendants (on Linux a nice value
/// belongs to a thread). False when the system refused.
fn set_priority_of_tree(root: u32, nice: i32) -> bool {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    let mut ok = true;
    for pid in tree {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(tid) = task.file_name().to_string_lossy().parse::<libc::id_t>() {
                if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
                    ok = false;
                }
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_files_name_their_state_and_process() {
        let parse = |name: &str| standby_file(&Path::new("/standby/key").join(name));
        assert_eq!(parse("ready-42.sock"), Some(("ready".into(), 42)));
        assert_eq!(parse("claimed-42.sock"), Some(("claimed".into(), 42)));
        assert_eq!(parse("standby-7.log"), Some(("standby".into(), 7)));
        // A log not yet renamed by its standby, and the spawn lock, belong to no process.
        assert_eq!(parse("standby-3f2a9c.log"), None);
        assert_eq!(parse(".spawn.lock"), None);
    }

    #[test]
    fn a_standby_stands_in_only_for_the_same_environment() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let first = env(&[
            ("PATH", "/bin"),
            ("JPY_SESSION_NAME", "a.ipynb"),
            ("TRAINBOOK_STANDBY", "1"),
            ("PWD", "/a"),
        ]);
        let second = env(&[
            ("PATH", "/bin"),
            ("JPY_SESSION_NAME", "b.ipynb"),
            ("TRAINBOOK_STANDBY", "2"),
            ("PWD", "/b"),
        ]);
        assert_eq!(comparable_env(&first), comparable_env(&second));
        let other_path = env(&[("PATH", "/usr/local/bin"), ("PWD", "/a")]);
        assert_ne!(comparable_env(&first), comparable_env(&other_path));
        let extra = env(&[("PATH", "/bin"), ("RAYON_NUM_THREADS", "1")]);
        assert_ne!(comparable_env(&first), comparable_env(&extra));
    }
}
