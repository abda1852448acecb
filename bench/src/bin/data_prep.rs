//! Data-preparation speed: the prelude's helpers against the same steps hand-written in
//! polars, in one process on the same table. `bench/data_prep.py` makes the table, runs
//! pandas + scikit-learn on it, then runs this binary and prints all three side by side.
//!
//! Steps (both sides): drop rows with a missing value, drop duplicate rows, 80/20 split,
//! z-score the 8 float columns (fitted on the training rows), one-hot the string column.
//!
//! Usage: data_prep <table.csv> [--runs N]   (prints one JSON line)

use anyhow::{Context, Result};
use std::time::Instant;
use trainbook::polars::prelude::*;
use trainbook::prelude::{
    drop_duplicates, drop_nulls, read_csv, train_test_split, OneHotEncoder, Pipeline,
    StandardScaler, Transformer,
};
use trainbook::random::Rng;

const FLOATS: [&str; 8] = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"];

/// The prelude: what a notebook user writes.
fn with_prelude(table: &DataFrame) -> Result<(DataFrame, DataFrame)> {
    let clean = drop_duplicates(&drop_nulls(table)?)?;
    let split = train_test_split(&clean, 0.2, 0)?;
    let mut prep = Pipeline::new()
        .then(StandardScaler::new(&FLOATS))
        .then(OneHotEncoder::new(&["cat"]));
    let train = prep.fit_transform(&split.train)?;
    let test = prep.transform_test(&split.test)?;
    Ok((train.into_frame(), test.into_frame()))
}

/// The same steps written directly against polars' eager API.
fn hand_written(table: &DataFrame) -> Result<(DataFrame, DataFrame)> {
    let clean =
        table
            .drop_nulls::<String>(None)?
            .unique_stable(None, UniqueKeepStrategy::First, None)?;
    let n = clean.height();
    let n_test = (0.2 * n as f64).ceil() as usize;
    let order: Vec<IdxSize> = Rng::new(0)
        .permutation(n)
        .into_iter()
        .map(|i| i as IdxSize)
        .collect();
    let test_idx = IdxCa::from_vec("i".into(), order[..n_test].to_vec());
    let train_idx = IdxCa::from_vec("i".into(), order[n_test..].to_vec());
    let (mut train, mut test) = (clean.take(&train_idx)?, clean.take(&test_idx)?);
    for name in FLOATS {
        let col = train.column(name)?.as_materialized_series().clone();
        let mean = col.mean().context("mean")?;
        let std = col.std(0).context("std")?;
        let scale = if std == 0.0 { 1.0 } else { std };
        for frame in [&mut train, &mut test] {
            let s = frame.column(name)?.as_materialized_series().clone();
            let scaled = ((&s - mean) / scale).with_name(name.into());
            frame.with_column(scaled.into_column())?;
        }
    }
    let cats = train
        .column("cat")?
        .as_materialized_series()
        .unique_stable()?;
    let mut cats: Vec<String> = cats.str()?.iter().flatten().map(String::from).collect();
    cats.sort();
    for frame in [&mut train, &mut test] {
        let s = frame.column("cat")?.as_materialized_series().clone();
        for c in &cats {
            let dummy = s
                .str()?
                .equal(c.as_str())
                .into_series()
                .cast(&DataType::Float64)?;
            frame.with_column(dummy.with_name(format!("cat_{c}").into()).into_column())?;
        }
        *frame = frame.drop("cat")?;
    }
    Ok((train, test))
}

/// Where the prelude's time goes, step by step (`--profile`).
fn profile(table: &DataFrame) -> Result<()> {
    let t = Instant::now();
    let no_nulls = drop_nulls(table)?;
    eprintln!(
        "drop_nulls       {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let clean = drop_duplicates(&no_nulls)?;
    eprintln!(
        "drop_duplicates  {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let hand = table.drop_nulls::<String>(None)?;
    eprintln!(
        "  hand drop_nulls {:6.1} ms ({} chunks vs {})",
        t.elapsed().as_secs_f64() * 1e3,
        hand.first_col_n_chunks(),
        no_nulls.first_col_n_chunks()
    );
    let t = Instant::now();
    let _ = hand.unique_stable(None, UniqueKeepStrategy::First, None)?;
    eprintln!(
        "  hand unique     {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let split = train_test_split(&clean, 0.2, 0)?;
    eprintln!(
        "split            {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut scaler = StandardScaler::new(&FLOATS);
    scaler.fit(&split.train)?;
    eprintln!(
        "scaler fit       {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let train = scaler.transform(&split.train)?;
    let _test = scaler.transform(&split.test)?;
    eprintln!(
        "scaler transform {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut onehot = OneHotEncoder::new(&["cat"]);
    onehot.fit(&trainbook::prelude::TrainFrame::assume_training(
        train.clone(),
    ))?;
    eprintln!(
        "one-hot fit      {:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let _ = onehot.transform(&train)?;
    eprintln!(
        "one-hot transform{:6.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn best_of(
    runs: usize,
    f: impl Fn() -> Result<(DataFrame, DataFrame)>,
) -> Result<(f64, (usize, usize))> {
    let mut best = f64::INFINITY;
    let mut shape = (0, 0);
    for _ in 0..runs {
        let start = Instant::now();
        let (train, test) = f()?;
        best = best.min(start.elapsed().as_secs_f64());
        shape = (train.height(), test.height());
    }
    Ok((best, shape))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .context("usage: data_prep <table.csv> [--runs N]")?;
    let runs = match args.iter().position(|a| a == "--runs") {
        Some(i) => args[i + 1].parse()?,
        None => 10,
    };
    let table = read_csv(path)?;
    if args.iter().any(|a| a == "--profile") {
        return profile(&table);
    }
    let (prelude_s, prelude_shape) = best_of(runs, || with_prelude(&table))?;
    let (polars_s, polars_shape) = best_of(runs, || hand_written(&table))?;
    anyhow::ensure!(
        prelude_shape == polars_shape,
        "both sides must keep the same rows"
    );
    println!(
        "{}",
        serde_json::json!({
            "rows_in": table.height(),
            "train_rows": prelude_shape.0,
            "test_rows": prelude_shape.1,
            "trainbook_s": prelude_s,
            "hand_polars_s": polars_s,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
    Ok(())
}
