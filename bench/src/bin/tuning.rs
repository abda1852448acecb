//! Hyperparameter search, the Trainbook side of `bench/tuning.py`: best value after 50
//! evaluations on Branin and Hartmann-6 for 20 seeds, Bayesian (GP + EI) and random search,
//! and the optimiser's own time per trial (the objectives take microseconds).
//!
//! Usage: tuning [--seeds N] [--trials N]   (prints one JSON line)

use anyhow::Result;
use std::time::Instant;
use trainbook::prelude::*;

fn branin(p: &Params) -> Result<f64> {
    let (x, y) = (p.float("x")?, p.float("y")?);
    let pi = std::f64::consts::PI;
    let (b, c, t) = (5.1 / (4.0 * pi * pi), 5.0 / pi, 1.0 / (8.0 * pi));
    Ok((y - b * x * x + c * x - 6.0).powi(2) + 10.0 * (1.0 - t) * x.cos() + 10.0)
}

fn hartmann6(p: &Params) -> Result<f64> {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    let x: Vec<f64> = (0..6)
        .map(|j| p.float(&format!("x{j}")))
        .collect::<Result<_>>()?;
    let mut total = 0.0;
    for i in 0..4 {
        let inner: f64 = (0..6)
            .map(|j| A[i][j] * (x[j] - P[i][j] * 1e-4).powi(2))
            .sum();
        total -= ALPHA[i] * (-inner).exp();
    }
    Ok(total)
}

/// A benchmark objective.
type Objective = fn(&Params) -> Result<f64>;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str, default: usize| -> Result<usize> {
        Ok(match args.iter().position(|a| a == name) {
            Some(i) => args[i + 1].parse()?,
            None => default,
        })
    };
    let (seeds, trials) = (option("--seeds", 20)?, option("--trials", 50)?);
    let branin_space = Space::new()
        .uniform("x", -5.0, 10.0)
        .uniform("y", 0.0, 15.0);
    let hartmann_space = (0..6).fold(Space::new(), |s, j| s.uniform(&format!("x{j}"), 0.0, 1.0));
    let problems: [(&str, &Space, Objective); 2] = [
        ("branin", &branin_space, branin),
        ("hartmann6", &hartmann_space, hartmann6),
    ];
    let mut out = serde_json::Map::new();
    for (name, space, f) in problems {
        for (label, sampler) in [
            ("bayesian", Sampler::Bayesian { initial: 10 }),
            ("random", Sampler::Random),
        ] {
            let (mut bests, mut seconds) = (Vec::new(), 0.0);
            for seed in 0..seeds as u64 {
                let mut study = Study::minimize(space.clone())
                    .sampler(sampler)
                    .trials(trials)
                    .seed(seed)
                    .live(false);
                let start = Instant::now();
                study.optimize(&mut |t| f(&t.params))?;
                seconds += start.elapsed().as_secs_f64();
                bests.push(study.best().and_then(|b| b.value).unwrap_or(f64::NAN));
            }
            out.insert(
                format!("{name}_{label}"),
                serde_json::json!({
                    "median_best": median(bests.clone()),
                    "bests": bests,
                    "ms_per_trial": seconds * 1e3 / (seeds * trials) as f64,
                }),
            );
        }
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
