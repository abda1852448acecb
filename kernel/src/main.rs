//! `trainbook`: a Jupyter kernel for machine-learning work in Rust.

mod config;
mod history;
mod install;
mod is_complete;
mod log;
mod notebook;
mod protocol;
mod runner;
mod server;
mod standby;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

const USAGE: &str = "\
trainbook — a Rust Jupyter kernel for machine-learning work

USAGE:
    trainbook kernel --connection-file FILE   run a kernel (what Jupyter starts)
    trainbook install [--user | --sys-prefix | --prefix DIR]
                                              install the kernelspec (default --user)
    trainbook uninstall [--user | --sys-prefix | --prefix DIR]
    trainbook run NOTEBOOK.ipynb [-o OUT.ipynb]
                                              execute a notebook headless and write its
                                              outputs (in place unless -o is given)
    trainbook precompile                      build the prelude cache ahead of time
    trainbook --version

ENVIRONMENT:
    TRAINBOOK_PRELUDE_DIR   the prelude crate to load (default: the one it was built with)
    TRAINBOOK_CACHE_DIR     build cache (default ~/.cache/trainbook)
    TRAINBOOK_FEATURES      prelude cargo features, e.g. `cuda` (install.sh --cuda sets it;
                            `install` copies it and the CUDA variables into the kernelspec)
    TRAINBOOK_STANDBY       warm standby kernels kept under a Jupyter server (default 1, 0 = off)
    TRAINBOOK_STANDBY_TTL   seconds an unclaimed standby waits before it exits (default 14400)
    TRAINBOOK_CELL_BUILD    `cargo`: build every cell through cargo (by default a cell whose
                            dependencies, manifests and environment did not change is
                            compiled by rustc directly, as cargo last did)
    TRAINBOOK_MAX_MESSAGE_BYTES  largest frame or message a peer may send (default 512 MiB)
    TRAINBOOK_MAX_FRAMES    frames in one message (default 1000)
    TRAINBOOK_IOPUB_QUEUE   messages queued for an IOPub subscriber that is not reading
                            (default 1000; past that it misses messages, others do not wait)
    TRAINBOOK_HANDSHAKE_MS  time a connection has to finish the ZeroMQ handshake (default 10000)
    TRAINBOOK_MAX_CONNECTIONS  open connections per socket (default 256)
    JUPYTER_DATA_DIR        where --user installs the kernelspec
";

fn main() {
    // The kernel's toolchain folder links `cargo` and cargo's rustc wrapper to this binary.
    match invoked_as().as_deref() {
        Some(runner::cell_build::CARGO_NAME) => runner::cell_build::cargo_main(),
        Some(runner::cell_build::RECORDER_NAME) => runner::cell_build::recorder_main(),
        _ => {}
    }
    standby::remember_launch_env();
    // evcxr re-executes this binary to run compiled cells; in that role we never return.
    if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
        runner::host::prepare_runner_process();
        runner::host::run_cells();
    }
    // evcxr's other role for this binary: wrapping rustc.
    evcxr::runtime_hook();
    if let Err(error) = run_cli() {
        eprintln!("trainbook: {error:#}");
        std::process::exit(1);
    }
}

/// The file name this binary was started under.
fn invoked_as() -> Option<String> {
    let argv0 = std::env::args_os().next()?;
    Some(
        PathBuf::from(argv0)
            .file_name()?
            .to_string_lossy()
            .into_owned(),
    )
}

fn location(args: &[String]) -> Result<Option<install::Location>> {
    let mut location = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--user" => location = Some(install::Location::User),
            "--sys-prefix" => location = Some(install::Location::SysPrefix),
            "--prefix" => {
                let dir = args.get(i + 1).context("--prefix needs a directory")?;
                location = Some(install::Location::Prefix(PathBuf::from(dir)));
                i += 1;
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
        i += 1;
    }
    Ok(location)
}

fn run_cli() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        print!("{USAGE}");
        return Ok(());
    };
    let rest = &args[1..];
    match command.as_str() {
        "--version" | "-V" | "version" => {
            println!("trainbook {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "--help" | "-h" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        "kernel" => {
            let file = match rest {
                [flag, file] if flag == "--connection-file" || flag == "-f" => file,
                [file] if !file.starts_with('-') => file,
                _ => bail!("usage: trainbook kernel --connection-file FILE"),
            };
            standby::launch_kernel(&PathBuf::from(file))
        }
        // Started by a kernel launcher, not by people: see `standby`.
        "standby" => {
            let log = match rest {
                [flag, file] if flag == "--log" => Some(PathBuf::from(file)),
                [] => None,
                _ => bail!("usage: trainbook standby [--log FILE]"),
            };
            standby::run_standby(log)
        }
        "install" => {
            let location = location(rest)?.unwrap_or(install::Location::User);
            let dir = install::install(&location)?;
            println!("Installed the Trainbook kernelspec in {}", dir.display());
            Ok(())
        }
        "uninstall" => {
            for dir in install::uninstall(location(rest)?.as_ref())? {
                println!("Removed {}", dir.display());
            }
            Ok(())
        }
        "run" => {
            let (input, output) = match rest {
                [input] => (PathBuf::from(input), PathBuf::from(input)),
                [input, flag, output] if flag == "-o" || flag == "--output" => {
                    (PathBuf::from(input), PathBuf::from(output))
                }
                _ => bail!("usage: trainbook run NOTEBOOK.ipynb [-o OUT.ipynb]"),
            };
            notebook::run(&input, &output)
        }
        "precompile" => {
            let prelude = runner::prelude_dir()
                .context("no prelude found: set TRAINBOOK_PRELUDE_DIR to the prelude/ folder")?;
            let cache = runner::PreludeCache::for_prelude(&prelude)?;
            if cache.is_built() {
                println!(
                    "The prelude is already compiled ({}).",
                    cache.template_dir().display()
                );
                return Ok(());
            }
            cache.ensure_built(&|line| println!("{line}"))?;
            println!("Prelude cache ready in {}", cache.template_dir().display());
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}
