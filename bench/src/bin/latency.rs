//! Kernel latency, send to idle, over real ZeroMQ: Trainbook with its whole prelude against
//! evcxr_jupyter 0.22 with the same crates loaded by `:dep`, in one run.
//!
//! ```text
//! cargo run --release --locked -p trainbook-bench --bin latency -- [--runs 7] [--only trainbook|evcxr]
//! ```
//! Trainbook kernels are launched as Jupyter launches them (`JPY_PARENT_PID` is this process),
//! so starts are measured both cold (no standby kernel waiting: the first kernel under a
//! Jupyter server) and adopting a warm standby (a restart, the next notebook).
//! evcxr_jupyter comes from `cargo install --locked evcxr_jupyter --version 0.22.0` (not part
//! of CI). Its build directory is kept in `~/.cache/trainbook/bench-evcxr` so that only the
//! first run pays for compiling polars and candle; that first build time is printed when it
//! happens.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use trainbook_tests::{stop_standbys, warm_standbys, Client, Kernel};

/// The crates Trainbook's prelude builds on, loaded the evcxr way.
const EVCXR_DEPS: &str = r#":dep polars = { version = "0.55", default-features = false, features = ["csv", "parquet", "json", "fmt", "random", "mode", "is_in", "strings", "abs", "round_series", "dtype-slim", "cum_agg", "rank"] }
:dep candle-core = "0.11"
:dep candle-nn = "0.11"
:dep plotters = { version = "0.3.7", default-features = false, features = ["svg_backend", "bitmap_backend", "bitmap_encoder", "ab_glyph", "line_series", "point_series", "area_series", "histogram", "full_palette", "colormaps"] }"#;
const EVCXR_IMPORTS: &str =
    "use polars::prelude::{df, DataFrame, NamedFrom};\nuse candle_core::{DType, Device, Tensor};";

struct Cell {
    name: &'static str,
    code: &'static str,
    /// What the result must contain, so a broken cell cannot pass as fast.
    expect: &'static str,
    trainbook_only: bool,
}

const CELLS: &[Cell] = &[
    Cell { name: "1+1", code: "1+1", expect: "2", trainbook_only: false },
    Cell {
        name: "3-row DataFrame, displayed",
        code: "let frame = df!(\"a\" => [1, 2, 3], \"b\" => [\"x\", \"y\", \"z\"]).unwrap();\nframe",
        expect: "shape: (3, 2)",
        trainbook_only: false,
    },
    Cell {
        name: "candle 4x4 matmul",
        code: "let a = Tensor::ones((4, 4), DType::F32, &Device::Cpu).unwrap();\na.matmul(&a).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()",
        expect: "64",
        trainbook_only: false,
    },
    // The display of a cell's last expression (the kernel's rewrite, kernel/src/runner/
    // rewrite.rs) against the same work printed instead of displayed: the difference is what
    // showing the value costs.
    Cell {
        name: "1+1 printed, not displayed",
        code: "println!(\"{}\", 1+1);",
        expect: "2",
        trainbook_only: false,
    },
    Cell {
        name: "3-row DataFrame, printed, not displayed",
        code: "let frame = df!(\"a\" => [1, 2, 3], \"b\" => [\"x\", \"y\", \"z\"]).unwrap();\nprintln!(\"{}\", frame.height());",
        expect: "3",
        trainbook_only: false,
    },
    Cell {
        name: "prelude function (accuracy_score)",
        code: "accuracy_score(&[0, 1, 1, 0], &[0, 1, 0, 0]).unwrap()",
        expect: "0.75",
        trainbook_only: true,
    },
];

/// A kernel's first cell that binds a prelude type to a variable: evcxr's rust-analyzer loads
/// the dependencies' trait impls for it (a standby does this while it waits).
const FIRST_LET: &str = "let first = df!(\"a\" => [1, 2, 3]).unwrap();\nfirst.height()";

/// Waits until `n` standby kernels have their evaluators ready.
async fn wait_for_warm_standbys(n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while warm_standbys() < n {
        if Instant::now() > deadline {
            bail!("{n} standby kernel(s) did not warm up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn result_text(iopub: &[Value]) -> String {
    iopub
        .iter()
        .filter(|m| {
            let t = &m["header"]["msg_type"];
            t == "execute_result" || t == "display_data" || t == "stream"
        })
        .map(|m| {
            m["content"]["data"]["text/plain"]
                .as_str()
                .or(m["content"]["text"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn run_cell(client: &mut Client, code: &str, timeout: Duration) -> Result<(f64, String)> {
    let started = Instant::now();
    let (reply, iopub) = client.execute_within(code, timeout).await?;
    let elapsed = started.elapsed().as_secs_f64();
    if reply["content"]["status"] != "ok" {
        bail!("cell failed: {code}\n{}", reply["content"]);
    }
    Ok((elapsed, result_text(&iopub)))
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Trainbook,
    Evcxr,
}

fn evcxr_binary() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let installed = home.join(".cargo/bin/evcxr_jupyter");
    installed.exists().then_some(installed)
}

/// For Trainbook, how many standby kernels the launch keeps waiting.
fn kernel_command(which: Which, standbys: usize) -> Result<Command> {
    Ok(match which {
        Which::Trainbook => Kernel::under_jupyter(std::process::id(), standbys),
        Which::Evcxr => {
            let binary = evcxr_binary().context("evcxr_jupyter is not installed")?;
            let dir = PathBuf::from(std::env::var("HOME")?).join(".cache/trainbook/bench-evcxr");
            std::fs::create_dir_all(&dir)?;
            let mut command = Command::new(binary);
            command.env("EVCXR_TMPDIR", dir).arg("--control_file");
            // evcxr links cells against the dynamic libstd, whose folder the runner process
            // cannot find from cells built in its nested target folder ("dlopen failed" on the
            // first cell); the same library path Trainbook's runner sets for itself.
            if let Ok(out) = Command::new("rustc")
                .args(["--print", "target-libdir"])
                .output()
            {
                command.env(
                    "LD_LIBRARY_PATH",
                    String::from_utf8_lossy(&out.stdout).trim(),
                );
            }
            command
        }
    })
}

/// Starts a kernel and runs its set-up (evcxr: the `:dep` cell); returns the client and the
/// seconds from process start to the first result.
async fn start(which: Which, standbys: usize) -> Result<(Kernel, Client, f64)> {
    let started = Instant::now();
    let kernel = Kernel::start_command(kernel_command(which, standbys)?)?;
    let mut client = kernel.connect_with(which == Which::Trainbook).await?;
    let first_cell = match which {
        Which::Trainbook => "1+1".to_string(),
        Which::Evcxr => format!("{EVCXR_DEPS}\n{EVCXR_IMPORTS}\n1+1"),
    };
    let (_, text) = run_cell(&mut client, &first_cell, Duration::from_secs(3600)).await?;
    if !text.contains('2') {
        bail!("first cell gave {text:?}");
    }
    Ok((kernel, client, started.elapsed().as_secs_f64()))
}

async fn measure(which: Which, runs: usize) -> Result<Vec<(String, f64)>> {
    let label = match which {
        Which::Trainbook => "trainbook",
        Which::Evcxr => "evcxr_jupyter 0.22",
    };
    let mut rows = Vec::new();
    let mut cold = Vec::new();
    let mut first_let_cold = Vec::new();
    stop_standbys();
    for _ in 0..3 {
        let (kernel, mut client, seconds) = start(which, 0).await?;
        eprintln!("{label}: cold start to first result {seconds:.2} s");
        cold.push(seconds);
        first_let_cold.push(
            run_cell(&mut client, FIRST_LET, Duration::from_secs(300))
                .await?
                .0,
        );
        drop(client);
        drop(kernel);
    }
    rows.push((
        "start to first result, cold (3 runs)".to_string(),
        median(cold),
    ));
    rows.push((
        "first `let frame = df!(..)` cell, cold kernel".to_string(),
        median(first_let_cold),
    ));
    if which == Which::Trainbook {
        // Restarts: each new launch adopts the standby the previous one left warming.
        let (mut kernel, mut client, _) = start(which, 1).await?;
        let mut adopted = Vec::new();
        let mut first_let_adopted = Vec::new();
        for _ in 0..3 {
            wait_for_warm_standbys(1).await?;
            drop(client);
            drop(kernel);
            let (k, mut c, seconds) = start(which, 1).await?;
            eprintln!("{label}: restart adopting a warm standby, first result {seconds:.2} s");
            adopted.push(seconds);
            first_let_adopted.push(
                run_cell(&mut c, FIRST_LET, Duration::from_secs(300))
                    .await?
                    .0,
            );
            (kernel, client) = (k, c);
        }
        rows.push((
            "start to first result, adopting a warm standby (restart; 3 runs)".to_string(),
            median(adopted),
        ));
        rows.push((
            "first `let frame = df!(..)` cell, adopted kernel".to_string(),
            median(first_let_adopted),
        ));
        // Two notebooks opened at once, with the default one standby and with two.
        for standbys in [1, 2] {
            wait_for_warm_standbys(standbys).await?;
            let (a, b) = tokio::join!(start(which, standbys), start(which, standbys));
            let (a, b) = (a?, b?);
            eprintln!(
                "{label}: two at once with {standbys} standby(s): {:.2} s and {:.2} s",
                a.2, b.2
            );
            rows.push((
                format!(
                    "start to first result, 2 kernels at once, {standbys} standby(s) waiting \
                     (slower of the two)"
                ),
                a.2.max(b.2),
            ));
            if standbys == 1 {
                // Keep one launched with TRAINBOOK_STANDBY=2 running to fill the pool of two.
                drop((a, b));
                let (k, c, _) = start(which, 2).await?;
                (kernel, client) = (k, c);
            }
        }
        drop(client);
        drop(kernel);
        stop_standbys();
    }
    let (_kernel, mut client, _) = start(which, 0).await?;
    for cell in CELLS {
        if cell.trainbook_only && which != Which::Trainbook {
            continue;
        }
        let mut times = Vec::new();
        for run in 0..=runs {
            let (seconds, text) =
                run_cell(&mut client, cell.code, Duration::from_secs(300)).await?;
            if !text.contains(cell.expect) {
                bail!(
                    "{label}: {} gave {text:?}, expected {:?}",
                    cell.name,
                    cell.expect
                );
            }
            if run > 0 {
                times.push(seconds); // run 0 warms up
            }
        }
        eprintln!("{label}: {} {:?}", cell.name, times);
        rows.push((format!("warm: {}", cell.name), median(times)));
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let runs: usize = option("--runs").map_or(Ok(7), |r| r.parse())?;
    let only = option("--only");
    let mut kernels = Vec::new();
    if only.as_deref() != Some("evcxr") {
        kernels.push(Which::Trainbook);
    }
    if only.as_deref() != Some("trainbook") {
        if evcxr_binary().is_some() {
            kernels.push(Which::Evcxr);
        } else {
            eprintln!(
                "evcxr_jupyter not found in ~/.cargo/bin; install it for the side-by-side run:\n  \
                 cargo install --locked evcxr_jupyter --version 0.22.0"
            );
        }
    }
    let mut results = Vec::new();
    for which in kernels {
        results.push((which, measure(which, runs).await?));
    }
    println!("\n| measurement (median, send to idle) | trainbook | evcxr_jupyter 0.22 |");
    println!("|---|---|---|");
    let trainbook = results.iter().find(|(w, _)| *w == Which::Trainbook);
    let evcxr = results.iter().find(|(w, _)| *w == Which::Evcxr);
    let names: Vec<String> = results
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|(n, _)| n.clone()))
        .fold(Vec::new(), |mut names, n| {
            if !names.contains(&n) {
                names.push(n);
            }
            names
        });
    let cell = |set: Option<&(Which, Vec<(String, f64)>)>, name: &str| {
        set.and_then(|(_, rows)| rows.iter().find(|(n, _)| n == name))
            .map_or("–".to_string(), |(_, s)| format!("{:.0} ms", s * 1000.0))
    };
    for name in names {
        println!(
            "| {name} | {} | {} |",
            cell(trainbook, &name),
            cell(evcxr, &name)
        );
    }
    Ok(())
}
