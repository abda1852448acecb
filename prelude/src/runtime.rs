//! The link between the prelude and the kernel's runner process: interrupts, input, the panic
//! hook and stdout flushing.
//!
//! Each cell is a shared library with its own copy of this crate, so no state lives here: the
//! runner process (the `trainbook` binary) owns it and exports `trainbook_runtime_*` symbols
//! that we look up with `dlsym`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

fn runtime_symbol(name: &std::ffi::CStr) -> Option<*mut libc::c_void> {
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!symbol.is_null()).then_some(symbol)
}

fn interrupt_flag() -> Option<&'static AtomicBool> {
    static FLAG: OnceLock<usize> = OnceLock::new();
    let address = *FLAG.get_or_init(|| {
        runtime_symbol(c"trainbook_runtime_interrupt_flag").map_or(0, |symbol| {
            let get: extern "C" fn() -> *const AtomicBool = unsafe { std::mem::transmute(symbol) };
            get() as usize
        })
    });
    // The flag is a static in the runner executable: valid for the life of the process.
    (address != 0).then(|| unsafe { &*(address as *const AtomicBool) })
}

/// The kernel's marker token, which the runner process holds (see `trainbook_wire`).
fn marker_token() -> Option<&'static trainbook_wire::Token> {
    static TOKEN: OnceLock<Option<trainbook_wire::Token>> = OnceLock::new();
    TOKEN
        .get_or_init(|| {
            let symbol = runtime_symbol(c"trainbook_runtime_marker_token")?;
            let get: extern "C" fn() -> *const std::ffi::c_char =
                unsafe { std::mem::transmute(symbol) };
            let text = get();
            if text.is_null() {
                return None;
            }
            // A NUL-terminated static string in the runner executable.
            let text = unsafe { std::ffi::CStr::from_ptr(text) };
            trainbook_wire::Token::new(text.to_str().ok()?)
        })
        .as_ref()
}

/// The line (no newline) that tells the kernel `payload` as a `marker`; `None` outside a kernel.
pub(crate) fn marker_line(marker: trainbook_wire::Marker, payload: &str) -> Option<String> {
    marker_token().map(|token| marker.line(token, payload))
}

/// True when this code runs inside a Trainbook kernel.
///
/// ```
/// // In a doctest there is no kernel.
/// assert!(!trainbook::prelude::in_kernel());
/// ```
pub fn in_kernel() -> bool {
    interrupt_flag().is_some()
}

/// True once the user has pressed the notebook's stop button during the current cell.
///
/// Long loops poll it to stop cleanly and return what they have, keeping every variable; a
/// cell that does not poll is stopped after a grace period and its runner restarted.
///
/// ```
/// use trainbook::prelude::*;
/// let mut steps = 0;
/// while steps < 1000 && !interrupted() {
///     steps += 1;
/// }
/// assert_eq!(steps, 1000);
/// ```
pub fn interrupted() -> bool {
    interrupt_flag().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Asks the notebook user for a line of text (Jupyter's `input_request`).
///
/// Outside a kernel it reads a line from stdin. In a headless `trainbook run` it returns "".
///
/// ```no_run
/// let name = trainbook::prelude::input("Your name: ");
/// ```
pub fn input(prompt: &str) -> String {
    read_input(prompt, false)
}

/// Like [`input`], but the frontend hides what is typed.
///
/// ```no_run
/// let token = trainbook::prelude::password("API token: ");
/// ```
pub fn password(prompt: &str) -> String {
    read_input(prompt, true)
}

fn read_input(prompt: &str, hidden: bool) -> String {
    let mut stdout = std::io::stdout().lock();
    if in_kernel() {
        // The kernel's evaluator understands this request line and answers on stdin.
        let tag = if hidden {
            "EVCXR_INPUT_REQUEST_PASSWORD"
        } else {
            "EVCXR_INPUT_REQUEST"
        };
        // evcxr keeps only the text up to the next ':' of this line, so the prompt travels as
        // a JSON string with its colons escaped; the kernel decodes it.
        let encoded = serde_json::to_string(prompt)
            .unwrap_or_default()
            .replace(':', "\\u003a");
        let _ = writeln!(stdout, "{tag}:{encoded}");
    } else {
        let _ = write!(stdout, "{prompt}");
    }
    let _ = stdout.flush();
    drop(stdout);
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.trim_end_matches(['\n', '\r']).to_owned()
}

extern "C" fn flush_stdout() {
    let _ = std::io::stdout().flush();
}

/// Runs `f`, catching a panic without reporting it: the kernel's panic hook would otherwise
/// announce a panic that the caller handles (a failed tuning trial) as the cell's error.
///
/// Safe to call from several threads at once (parallel trials): the first caller wraps the
/// process-wide hook in one that stays silent only on threads inside `catch_quietly`, and the
/// last one out puts the original behaviour back. Swapping the hook per call instead would let
/// two overlapping calls restore each other's silencer and lose the kernel's hook for good.
pub(crate) fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;
    static SILENCED: std::sync::Mutex<(usize, Option<std::sync::Arc<Hook>>)> =
        std::sync::Mutex::new((0, None));
    thread_local! {
        static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    {
        let mut silenced = SILENCED.lock().unwrap_or_else(|e| e.into_inner());
        if silenced.0 == 0 {
            let original = std::sync::Arc::new(std::panic::take_hook());
            let forward = original.clone();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(|quiet| quiet.get()) {
                    forward(info)
                }
            }));
            silenced.1 = Some(original);
        }
        silenced.0 += 1;
    }
    let was_quiet = QUIET.with(|quiet| quiet.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was_quiet));
    let mut silenced = SILENCED.lock().unwrap_or_else(|e| e.into_inner());
    silenced.0 -= 1;
    if silenced.0 == 0 {
        if let Some(original) = silenced.1.take() {
            // Dropping the wrapper drops its clone, so the original comes back unwrapped.
            let _ = std::panic::take_hook();
            match std::sync::Arc::try_unwrap(original) {
                Ok(hook) => std::panic::set_hook(hook),
                Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
            }
        }
    }
    result
}

/// Builds rayon's global thread pool with the calling thread as one of its threads (its size
/// from `RAYON_NUM_THREADS`, else the number of cores); true when it did, false when the pool
/// already existed or would have a single thread.
///
/// Why: a training loop on a thread outside the pool hands each parallel product or
/// convolution to the pool's threads and sleeps until they finish, and between those calls
/// (the optimizer, candle's gradient sums) the pool's threads spin waiting for work: three
/// threads taking turns on the cores. With the loop's thread in the pool it does its share of
/// the parallel work itself. On the 2-core machine the 256-512-512-10 MLP of bench/RESULTS.md
/// trained about 10% faster. The kernel calls this on the thread that runs the cells; call it
/// first thing in `main` of a program that trains, before anything uses rayon.
///
/// ```
/// if trainbook::runtime::run_rayon_on_this_thread() {
///     // This thread is the pool's first.
///     assert_eq!(rayon::current_thread_index(), Some(0));
/// }
/// // A second call finds the pool built.
/// assert!(!trainbook::runtime::run_rayon_on_this_thread());
/// ```
pub fn run_rayon_on_this_thread() -> bool {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // A one-thread pool made of this thread would never run work spawned from it while the
    // thread is busy elsewhere (rayon runs such jobs only when the thread waits on rayon).
    if threads < 2 {
        return false;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build_global()
        .is_ok()
}

/// Connects this process's cells to the kernel: panics in a cell are reported as the cell's
/// error (message and location, no backtrace noise), and output left without a newline is
/// flushed when a cell ends; the cells' thread joins rayon's pool
/// ([`run_rayon_on_this_thread`]). The kernel calls this once per runner process.
#[doc(hidden)]
pub fn attach() {
    run_rayon_on_this_thread();
    if let Some(symbol) = runtime_symbol(c"trainbook_runtime_register_flush") {
        let register: extern "C" fn(extern "C" fn()) = unsafe { std::mem::transmute(symbol) };
        register(flush_stdout);
    }
    // Cells run on the thread that calls attach; the cells' copy of std never named it.
    let cell_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(panic with a non-string payload)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        if thread.id() == cell_thread {
            let report = serde_json::json!({"message": message, "location": location});
            let line = marker_line(trainbook_wire::Marker::Panic, &report.to_string())
                .unwrap_or_else(|| format!("panicked at {location}:\n{message}"));
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.flush();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        } else {
            eprintln!(
                "thread '{}' panicked at {location}:\n{message}",
                thread.name().unwrap_or("<unnamed>")
            );
        }
    }));
}
