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

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static FLUSH_FN: AtomicUsize = AtomicUsize::new(0);

/// Marker for output that is not (yet) a whole line; followed by a JSON string.
pub const PART_MARKER: &str = "TRAINBOOK_PART ";
const EXECUTION_COMPLETE: &str = "EVCXR_EXECUTION_COMPLETE";
/// Lines of evcxr's or our own protocol; user text glued in front of them is split off.
const PROTOCOL_PREFIXES: [&str; 2] = ["EVCXR_", "TRAINBOOK_"];

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

/// The line the runner prints on stderr when a compiled cell starts running.
pub const RUNNING_MARKER: &str = "TRAINBOOK_RUNNING";
/// The line the runner prints on stderr after a cell returned: everything the cell wrote to
/// stderr is ahead of it in the pipe.
pub const STDERR_SYNC_MARKER: &str = "TRAINBOOK_STDERR_SYNC";

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

/// Called first thing in `main` when this process is evcxr's runner.
pub fn prepare_runner_process() {
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

fn interpose() -> std::io::Result<()> {
    let (out_read, out_write) = pipe()?;
    let real_stdout = cvt(unsafe { libc::dup(1) })?;
    cvt(unsafe { libc::dup2(out_write, 1) })?;
    unsafe { libc::close(out_write) };
    std::thread::Builder::new()
        .name("trainbook-stdout".into())
        .spawn(move || StdoutPump::new(out_read, real_stdout).run())?;

    let (in_read, in_write) = pipe()?;
    let real_stdin = cvt(unsafe { libc::dup(0) })?;
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
            unsafe { libc::close(to) };
            return;
        }
        let chunk = &buf[..n as usize];
        if at_line_start && chunk.starts_with(b"LOAD_AND_RUN ") {
            write_all_fd(announce, format!("{RUNNING_MARKER}\n").as_bytes());
        }
        at_line_start = chunk.ends_with(b"\n");
        write_all_fd(to, chunk);
    }
}

struct StdoutPump {
    from: RawFd,
    to: RawFd,
    /// Bytes of the current line not yet forwarded.
    line: Vec<u8>,
    /// Inside an EVCXR_BEGIN_CONTENT block only whole lines may pass.
    in_content_block: bool,
}

impl StdoutPump {
    fn new(from: RawFd, to: RawFd) -> Self {
        StdoutPump {
            from,
            to,
            line: Vec::new(),
            in_content_block: false,
        }
    }

    fn run(mut self) {
        let mut buf = vec![0u8; 65536];
        loop {
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
            self.flush_cell_stdout();
            write_all_fd(2, format!("{STDERR_SYNC_MARKER}\n").as_bytes());
        }
        if text.starts_with(b"EVCXR_BEGIN_CONTENT") {
            self.in_content_block = true;
        } else if text == b"EVCXR_END_CONTENT" {
            self.in_content_block = false;
        }
        write_all_fd(self.to, line);
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
        let mut out = Vec::with_capacity(text.len() + 32);
        out.extend_from_slice(PART_MARKER.as_bytes());
        serde_json::to_writer(&mut out, &text).expect("strings serialize");
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
    const MARKERS: [&str; 10] = [
        "TRAINBOOK_RUNNING",
        "EVCXR_EXECUTION_COMPLETE",
        "EVCXR_PANIC_NOTIFICATION",
        "EVCXR_BEGIN_CONTENT",
        "EVCXR_END_CONTENT",
        "EVCXR_INPUT_REQUEST",
        "EVCXR_VARIABLE_CHANGED_TYPE:",
        "EVCXR_ERROR_OCCURRED",
        "TRAINBOOK_DISPLAY ",
        "TRAINBOOK_PANIC ",
    ];
    let Some(pos) = text
        .windows(prefix.len())
        .position(|w| w == prefix.as_bytes())
    else {
        return false;
    };
    MARKERS
        .iter()
        .any(|m| text[pos..].starts_with(m.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_glued_markers() {
        assert_eq!(
            protocol_suffix_start(b"abcEVCXR_PANIC_NOTIFICATION"),
            Some(3)
        );
        assert_eq!(protocol_suffix_start(b"EVCXR_PANIC_NOTIFICATION"), None);
        assert_eq!(protocol_suffix_start(b"talk about EVCXR_ things"), None);
        assert_eq!(protocol_suffix_start(b"x TRAINBOOK_DISPLAY {}"), Some(2));
    }
}
