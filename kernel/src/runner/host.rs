//! Code that runs inside the runner process: the same binary, re-executed by evcxr to load and
//! run compiled cells. Before evcxr's loop starts we
//! - install a SIGINT handler that only raises a flag (the prelude's `interrupted()` reads it),
//! - interpose on stdout so partial lines and `\r` progress output reach the kernel while the
//!   cell runs, and so a cell's unterminated output is flushed before evcxr's end marker,
//! - clear the interrupt flag on SIGUSR2, which the kernel sends before each cell,
//! - interpose on stdin to announce (`TRAINBOOK_RUNNING`) when compiled code starts to run, so
//!   the kernel's interrupt grace period counts running time, not compile time.
//!
//! The prelude reaches this code through `trainbook_runtime_*` symbols exported from the
//! executable (see build.rs), because cells link their own copy of the prelude.

use std::io::Write;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use trainbook_wire::{Marker, Token};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The kernel's end of stderr, for the crash handler (the stderr pump dies with the process).
static REAL_STDERR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(2);
static FLUSH_FN: AtomicUsize = AtomicUsize::new(0);
/// The kernel's marker token (see `trainbook_wire`), as text and NUL-terminated for the prelude.
static TOKEN: OnceLock<(Token, std::ffi::CString)> = OnceLock::new();
/// The pump's control pipe (main thread -> pump: "the cell returned") and its answer pipe.
static CELL_RETURNED: OnceLock<(RawFd, RawFd)> = OnceLock::new();

/// evcxr's end-of-cell line. Only the runner's own loop (`run_cells`) has it sent; the same
/// text printed by a cell is shown as text.
const EXECUTION_COMPLETE: &str = "EVCXR_EXECUTION_COMPLETE";
/// Lines of evcxr's or our own protocol; user text glued in front of them is split off.
const PROTOCOL_PREFIXES: [&str; 2] = ["EVCXR_", trainbook_wire::PREFIX];

fn token() -> &'static Token {
    &TOKEN
        .get()
        .expect("the runner reads its token first thing")
        .0
}

/// The prelude asks for the marker token here (NUL-terminated hex).
#[no_mangle]
pub extern "C" fn trainbook_runtime_marker_token() -> *const std::ffi::c_char {
    TOKEN.get().map_or(std::ptr::null(), |(_, c)| c.as_ptr())
}

/// The prelude asks for the interrupt flag here.
#[no_mangle]
pub extern "C" fn trainbook_runtime_interrupt_flag() -> *const AtomicBool {
    &INTERRUPTED
}

/// The prelude registers a function that flushes the cells' standard library stdout (a second
/// copy of std, loaded as a shared object, with its own buffer).
#[no_mangle]
pub extern "C" fn trainbook_runtime_register_flush(flush: extern "C" fn()) {
    FLUSH_FN.store(flush as usize, Ordering::SeqCst);
}

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_sigusr2(_: libc::c_int) {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// candle runs element-wise ops on a pool of its own whose threads spin after every op,
/// beside the rayon pool its matrix products use; on the cores they share, the spinning took
/// the matrix products' time (bench/RESULTS.md, "Training on candle": both MLPs train faster
/// with element-wise ops on the calling thread). Matrix products still use every core. A
/// value the user set is kept.
const CANDLE_ELEMENTWISE_THREADS: (&str, &str) = ("CANDLE_NUM_THREADS", "1");

/// candle asks for its thread count on every matrix product, and unless RAYON_NUM_THREADS is
/// set that reads and parses /proc/cpuinfo each time (13% of a small MLP's training step,
/// bench/RESULTS.md). Setting it to the size rayon's pool has anyway makes the question cheap.
fn pin_rayon_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// glibc gives freed blocks over 128 KB back to the system and maps the next one fresh, so a
/// training step that allocates and frees the same few-MB tensors every batch paid a page fault
/// for every 4 KB page of them, every batch (bench/RESULTS.md, "Training on candle": the digits
/// CNN's step is about a quarter faster when they stay in the heap). Blocks up to 32 MB now
/// come from the heap, and up to 128 MB of free space at its top is kept for the next batch.
fn keep_freed_tensors_in_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; glibc serialises it with allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// The runner and whatever its cells start die with the kernel, however the kernel ends:
/// - the runner leads a process group of its own, which the kernel kills on shutdown, restart
///   and interrupt timeout (`InterruptHandle::kill_tree`);
/// - the kernel's death (even by SIGKILL) closes the runner's stdin; the stdin pump then kills
///   the whole group (`stdin_pump`);
/// - and the kernel thread that started it dying sends it SIGTERM (`PR_SET_PDEATHSIG`), on
///   which it kills its group.
fn die_with_the_kernel() {
    // SAFETY: plain system calls on this process, before any other thread exists.
    unsafe {
        libc::setpgid(0, 0);
        #[cfg(target_os = "linux")]
        {
            let handler: extern "C" fn(libc::c_int) = on_kernel_death;
            libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            // The kernel may have died before the prctl: then we were reparented already.
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
        }
    }
}

/// SIGTERM (sent when the kernel dies, or by anyone ending the runner): the runner's whole
/// process group goes, the runner with it.
extern "C" fn on_kernel_death(_: libc::c_int) {
    // SAFETY: getpgrp, getpid, kill and _exit are async-signal-safe.
    unsafe {
        if libc::getpgrp() == libc::getpid() {
            libc::kill(0, libc::SIGKILL);
        }
        libc::_exit(1);
    }
}

/// When memory runs out, the kernel's OOM killer should take the runner (a cell's data, its
/// training), which the kernel restarts with a note saying what was lost, not the kernel with
/// every notebook connection and the evaluator's type information in it. Raising one's own
/// score needs no privilege; it is raised from what the kernel passed on (a launcher may have
/// set one), not set to a fixed value that could be the kernel's own.
fn be_the_first_to_go_when_memory_runs_out() {
    let inherited: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let raised = (inherited + 500).min(1000);
    let _ = std::fs::write("/proc/self/oom_score_adj", raised.to_string());
}

/// Called first thing in `main` when this process is evcxr's runner.
pub fn prepare_runner_process() {
    die_with_the_kernel();
    be_the_first_to_go_when_memory_runs_out();
    // The kernel's token, and no copy left where a cell's code would find it by accident.
    let token = std::env::var(trainbook_wire::TOKEN_VARIABLE)
        .ok()
        .and_then(|t| Token::new(&t))
        .unwrap_or_else(|| Token::new(&uuid::Uuid::new_v4().simple().to_string()).unwrap());
    std::env::remove_var(trainbook_wire::TOKEN_VARIABLE);
    let text = std::ffi::CString::new(token.as_str()).expect("hex has no NUL");
    let _ = TOKEN.set((token, text));
    let (variable, value) = CANDLE_ELEMENTWISE_THREADS;
    if std::env::var_os(variable).is_none() {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var(variable, value);
    }
    pin_rayon_thread_count();
    keep_freed_tensors_in_heap();
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        action.sa_sigaction = on_sigusr2 as *const () as usize;
        libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut());
    }
    if let Err(e) = interpose() {
        eprintln!(
            "trainbook runner: could not interpose on stdio ({e}); output will be line-buffered"
        );
    }
}

/// A copy of `fd` that children the cells spawn do not inherit: a `sleep` started by a cell
/// must not hold the kernel's pipes open after the runner is gone.
fn dup_private(fd: RawFd) -> std::io::Result<RawFd> {
    cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })
}

fn interpose() -> std::io::Result<()> {
    // stderr first, so what the other pumps announce on fd 2 goes through it, in order.
    let (err_read, err_write) = pipe()?;
    let real_stderr = dup_private(2)?;
    cvt(unsafe { libc::dup2(err_write, 2) })?;
    unsafe { libc::close(err_write) };
    REAL_STDERR.store(real_stderr, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("trainbook-stderr".into())
        .spawn(move || stderr_pump(err_read, real_stderr))?;

    let (out_read, out_write) = pipe()?;
    let real_stdout = dup_private(1)?;
    cvt(unsafe { libc::dup2(out_write, 1) })?;
    unsafe { libc::close(out_write) };
    let (returned_read, returned_write) = pipe()?;
    let (answer_read, answer_write) = pipe()?;
    let _ = CELL_RETURNED.set((returned_write, answer_read));
    std::thread::Builder::new()
        .name("trainbook-stdout".into())
        .spawn(move || StdoutPump::new(out_read, real_stdout, returned_read, answer_write).run())?;

    let (in_read, in_write) = pipe()?;
    let real_stdin = dup_private(0)?;
    cvt(unsafe { libc::dup2(in_read, 0) })?;
    unsafe { libc::close(in_read) };
    std::thread::Builder::new()
        .name("trainbook-stdin".into())
        .spawn(move || stdin_pump(real_stdin, in_write, 2))?; // announce on stderr
    Ok(())
}

fn pipe() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

fn cvt(ret: libc::c_int) -> std::io::Result<libc::c_int> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> isize {
    loop {
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return n;
    }
}

fn write_all_fd(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

/// Forwards evcxr's commands (and `input()` answers) to the real stdin reader, announcing on
/// stderr when a compiled cell is about to run. (Not stdout: evcxr waits for its stdout
/// channel to drain before returning, and while it starts up nothing drains it.)
fn stdin_pump(from: RawFd, to: RawFd, announce: RawFd) {
    let mut buf = [0u8; 8192];
    let mut at_line_start = true;
    loop {
        let n = read_fd(from, &mut buf);
        if n <= 0 {
            // The kernel is gone (or closed our stdin to stop us): take every process this
            // runner's cells started with us, as a terminal hangup would.
            // SAFETY: signals our own process group, which `die_with_the_kernel` created; never
            // a group we share with the kernel or Jupyter.
            unsafe {
                if libc::getpgrp() == libc::getpid() {
                    libc::kill(0, libc::SIGKILL);
                }
            }
            unsafe { libc::close(to) };
            return;
        }
        let chunk = &buf[..n as usize];
        if at_line_start && chunk.starts_with(b"LOAD_AND_RUN ") {
            let running = Marker::Running.line(token(), "") + "\n";
            write_all_fd(announce, running.as_bytes());
        }
        at_line_start = chunk.ends_with(b"\n");
        write_all_fd(to, chunk);
    }
}

/// Passes the cells' stderr to the kernel as whole lines of valid UTF-8 (evcxr stops reading a
/// stream at its first invalid line, which put every later output one cell out of step), with a
/// marker glued behind unterminated text split onto its own line.
fn stderr_pump(from: RawFd, to: RawFd) {
    let mut buf = vec![0u8; 65536];
    let mut line = Vec::new();
    loop {
        let n = read_fd(from, &mut buf);
        if n <= 0 {
            write_all_fd(to, String::from_utf8_lossy(&line).as_bytes());
            return;
        }
        for &byte in &buf[..n as usize] {
            line.push(byte);
            if byte == b'\n' {
                write_lossy_line(to, &line);
                line.clear();
            }
        }
        // A very long line without a newline goes on in pieces, each valid UTF-8.
        if line.len() > STDERR_LINE_LIMIT {
            let valid = match std::str::from_utf8(&line) {
                Ok(_) => line.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => line.len(),
            };
            let mut piece: Vec<u8> = line.drain(..valid).collect();
            piece.push(b'\n');
            write_lossy_line(to, &piece);
        }
    }
}

/// stderr text kept back waiting for its newline, at most.
const STDERR_LINE_LIMIT: usize = 1 << 20;

fn write_lossy_line(to: RawFd, line: &[u8]) {
    let text = &line[..line.len() - 1];
    if let Some(pos) = protocol_suffix_start(text) {
        let mut head = text[..pos].to_vec();
        head.push(b'\n');
        write_lossy_line(to, &head);
        return write_lossy_line(to, &line[pos..]);
    }
    write_all_fd(to, String::from_utf8_lossy(line).as_bytes());
}

struct StdoutPump {
    from: RawFd,
    to: RawFd,
    /// A byte here means the cell returned (`cell_returned`); the pump answers on `answer`.
    returned: RawFd,
    answer: RawFd,
    /// Bytes of the current line not yet forwarded.
    line: Vec<u8>,
    /// Inside an EVCXR_BEGIN_CONTENT block only whole lines may pass.
    in_content_block: bool,
}

impl StdoutPump {
    fn new(from: RawFd, to: RawFd, returned: RawFd, answer: RawFd) -> Self {
        StdoutPump {
            from,
            to,
            returned,
            answer,
            line: Vec::new(),
            in_content_block: false,
        }
    }

    fn run(mut self) {
        let mut buf = vec![0u8; 65536];
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: self.from,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.returned,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                continue; // EINTR
            }
            if fds[0].revents == 0 && fds[1].revents != 0 {
                let mut byte = [0u8; 1];
                if read_fd(self.returned, &mut byte) == 1 {
                    self.complete_cell();
                }
                continue;
            }
            let n = read_fd(self.from, &mut buf);
            if n <= 0 {
                let rest = std::mem::take(&mut self.line);
                write_all_fd(self.to, &rest);
                return;
            }
            self.feed(&buf[..n as usize]);
            self.forward_partial();
        }
    }

    fn feed(&mut self, data: &[u8]) {
        for &byte in data {
            self.line.push(byte);
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.whole_line(&line);
            }
        }
    }

    fn whole_line(&mut self, line: &[u8]) {
        let text = &line[..line.len() - 1];
        // User output left unterminated in front of a protocol line.
        if let Some(pos) = protocol_suffix_start(text) {
            self.emit_part(&text[..pos]);
            return self.whole_line(&line[pos..]);
        }
        if text == EXECUTION_COMPLETE.as_bytes() {
            // Printed by the cell: evcxr must not take it for the end of the cell.
            return self.emit_part(line);
        }
        if text.starts_with(b"EVCXR_BEGIN_CONTENT") {
            self.in_content_block = true;
        } else if text == b"EVCXR_END_CONTENT" {
            self.in_content_block = false;
        }
        // evcxr stops reading at the first line that is not UTF-8.
        write_all_fd(self.to, String::from_utf8_lossy(line).as_bytes());
    }

    /// The runner's loop says the cell returned: everything the cell printed goes out, then
    /// the stderr sync mark and evcxr's end-of-cell line, then the loop is answered.
    fn complete_cell(&mut self) {
        self.flush_cell_stdout();
        let sync = Marker::StderrSync.line(token(), "") + "\n";
        write_all_fd(2, sync.as_bytes());
        write_all_fd(self.to, format!("{EXECUTION_COMPLETE}\n").as_bytes());
        write_all_fd(self.answer, b"x");
    }

    /// The cell has returned: anything it printed without a newline is still in the cells' std
    /// buffer. Flush it into our pipe and forward it ahead of the end marker.
    fn flush_cell_stdout(&mut self) {
        let flush = FLUSH_FN.load(Ordering::SeqCst);
        if flush == 0 {
            return;
        }
        let flush: extern "C" fn() = unsafe { std::mem::transmute(flush) };
        flush();
        let mut buf = vec![0u8; 65536];
        loop {
            let mut poll = libc::pollfd {
                fd: self.from,
                events: libc::POLLIN,
                revents: 0,
            };
            if unsafe { libc::poll(&mut poll, 1, 0) } <= 0 {
                break;
            }
            let n = read_fd(self.from, &mut buf);
            if n <= 0 {
                break;
            }
            // The cell is done, so what was flushed holds no second end marker.
            self.feed(&buf[..n as usize]);
        }
        let rest = std::mem::take(&mut self.line);
        self.emit_part(&rest);
    }

    /// Forwards an unterminated tail right away, unless it may be the start of a protocol line.
    fn forward_partial(&mut self) {
        if self.line.is_empty() || self.in_content_block {
            return;
        }
        let may_be_protocol = PROTOCOL_PREFIXES.iter().any(|p| {
            let p = p.as_bytes();
            p.starts_with(&self.line) || self.line.starts_with(p)
        });
        if may_be_protocol {
            return;
        }
        // Keep an incomplete UTF-8 sequence for the next read.
        let valid = match std::str::from_utf8(&self.line) {
            Ok(_) => self.line.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.line.len(),
        };
        let part: Vec<u8> = self.line.drain(..valid).collect();
        self.emit_part(&part);
    }

    fn emit_part(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let json = serde_json::to_string(&text).expect("strings serialize");
        let mut out = Marker::Part.line(token(), &json).into_bytes();
        out.push(b'\n');
        write_all_fd(self.to, &out);
        let _ = std::io::stderr().flush();
    }
}

/// Where a protocol marker starts inside a line that does not begin with one.
fn protocol_suffix_start(text: &[u8]) -> Option<usize> {
    if PROTOCOL_PREFIXES
        .iter()
        .any(|p| text.starts_with(p.as_bytes()))
    {
        return None;
    }
    PROTOCOL_PREFIXES
        .iter()
        .filter_map(|p| {
            text.windows(p.len())
                .position(|w| w == p.as_bytes())
                .filter(|_| is_known_marker(text, p))
        })
        .min()
}

fn is_known_marker(text: &[u8], prefix: &str) -> bool {
    const EVCXR_MARKERS: [&str; 6] = [
        "EVCXR_PANIC_NOTIFICATION",
        "EVCXR_BEGIN_CONTENT",
        "EVCXR_END_CONTENT",
        "EVCXR_INPUT_REQUEST",
        "EVCXR_VARIABLE_CHANGED_TYPE:",
        "EVCXR_ERROR_OCCURRED",
    ];
    let ours = Marker::ALL.map(|m| format!("{}:{}", m.name(), token().as_str()));
    let mut markers = EVCXR_MARKERS
        .iter()
        .copied()
        .chain(ours.iter().map(String::as_str));
    let Some(pos) = text
        .windows(prefix.len())
        .position(|w| w == prefix.as_bytes())
    else {
        return false;
    };
    markers.any(|m| text[pos..].starts_with(m.as_bytes()))
}

/// Tells the stdout pump that the cell returned and waits until everything the cell printed,
/// and evcxr's end-of-cell line after it, went out.
fn cell_returned() {
    let _ = std::io::stdout().flush();
    if let Some(&(returned, answer)) = CELL_RETURNED.get() {
        write_all_fd(returned, b"x");
        let mut byte = [0u8; 1];
        read_fd(answer, &mut byte);
    } else {
        println!("{EXECUTION_COMPLETE}");
    }
}

/// The runner's loop, in place of evcxr's (`evcxr::runtime_hook`), speaking the same protocol:
/// `LOAD_AND_RUN <library> <function>` on stdin loads a cell's library and runs its function
/// with the variable store, then `EVCXR_EXECUTION_COMPLETE` goes to stdout. Ours sends that
/// line itself, through the pump, so a cell that prints the same text cannot end its own cell
/// early and put every later output one cell out of step.
pub fn run_cells() -> ! {
    use std::io::BufRead;
    install_crash_handlers();
    let mut store: *mut libc::c_void = std::ptr::null_mut();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        // Between cells only evcxr writes here, but a cell that prints an input request
        // (`EVCXR_INPUT_REQUEST:`) without reading the answer leaves that answer for this
        // loop: it is not an instruction, and must not end the runner and its variables.
        let Some(instruction) = line.strip_prefix("LOAD_AND_RUN ") else {
            continue;
        };
        let mut words = instruction.split(' ');
        let (Some(library), Some(function)) = (words.next(), words.next()) else {
            eprintln!("While processing instruction `{line:?}`, got error: unrecognised line");
            std::process::exit(99);
        };
        match load(library, function) {
            // SAFETY: evcxr compiled this function with exactly this signature.
            Ok(user_fn) => store = user_fn(store),
            Err(error) => {
                eprintln!("While processing instruction `{line:?}`, got error: {error}");
                std::process::exit(99);
            }
        }
        cell_returned();
    }
    std::process::exit(0);
}

type UserFn = extern "C" fn(*mut libc::c_void) -> *mut libc::c_void;

/// Loads a cell's library (never unloaded: its thread-locals may outlive it) and finds its
/// function.
fn load(library: &str, function: &str) -> Result<UserFn, String> {
    let path = std::ffi::CString::new(library).map_err(|e| e.to_string())?;
    let name = std::ffi::CString::new(function).map_err(|e| e.to_string())?;
    // SAFETY: dlopen/dlsym with NUL-terminated strings; dlerror's text is copied at once.
    unsafe {
        let handle = libc::dlopen(path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return Err(dl_error());
        }
        let symbol = libc::dlsym(handle, name.as_ptr());
        if symbol.is_null() {
            return Err(dl_error());
        }
        Ok(std::mem::transmute::<*mut libc::c_void, UserFn>(symbol))
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns a NUL-terminated string or null.
    unsafe {
        let text = libc::dlerror();
        if text.is_null() {
            "unknown dynamic loader error".into()
        } else {
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// A cell that crashes the process says how, as evcxr's runtime does, before the kernel
/// restarts the runner.
fn install_crash_handlers() {
    extern "C" fn on_crash(signal: libc::c_int) {
        let text: &[u8] = match signal {
            libc::SIGSEGV => b"Segmentation fault.\n",
            libc::SIGILL => b"Illegal instruction.\n",
            libc::SIGBUS => b"Bus error.\n",
            _ => b"Unexpected signal.\n",
        };
        // SAFETY: write and abort are async-signal-safe. Straight to the kernel: the stderr
        // pump thread would not get to run.
        unsafe {
            libc::write(
                REAL_STDERR.load(Ordering::SeqCst),
                text.as_ptr().cast(),
                text.len(),
            );
            libc::abort();
        }
    }
    for signal in [libc::SIGSEGV, libc::SIGILL, libc::SIGBUS] {
        // SAFETY: installs a handler that only writes and aborts.
        unsafe { libc::signal(signal, on_crash as *const () as libc::sighandler_t) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_glued_markers() {
        let _ = TOKEN.set((
            Token::new("00112233445566778899aabbccddeeff").unwrap(),
            c"00112233445566778899aabbccddeeff".into(),
        ));
        assert_eq!(
            protocol_suffix_start(b"abcEVCXR_PANIC_NOTIFICATION"),
            Some(3)
        );
        assert_eq!(protocol_suffix_start(b"EVCXR_PANIC_NOTIFICATION"), None);
        assert_eq!(protocol_suffix_start(b"talk about EVCXR_ things"), None);
        let display = format!("x {} {{}}", Marker::Display.line(token(), ""));
        assert_eq!(protocol_suffix_start(display.as_bytes()), Some(2));
        // Without the token it is text like any other.
        assert_eq!(protocol_suffix_start(b"x TRAINBOOK_DISPLAY {}"), None);
    }
}
