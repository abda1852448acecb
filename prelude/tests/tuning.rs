//! Hyperparameter search: grids, random draws, conditional parameters, failures, pruning,
//! save and resume, and that the Bayesian search finds Branin's minimum.

use std::collections::BTreeSet;
use trainbook::prelude::*;

fn branin(x: f64, y: f64) -> f64 {
    let pi = std::f64::consts::PI;
    let (a, b, c) = (1.0, 5.1 / (4.0 * pi * pi), 5.0 / pi);
    let (r, s, t) = (6.0, 10.0, 1.0 / (8.0 * pi));
    a * (y - b * x * x + c * x - r).powi(2) + s * (1.0 - t) * x.cos() + s
}

#[test]
fn a_grid_search_visits_every_grid_point_once() {
    let space = Space::new()
        .uniform("x", 0.0, 1.0)
        .choice("activation", &["relu", "tanh"])
        .int("layers", 1, 2);
    let mut study = Study::minimize(space)
        .sampler(Sampler::Grid { points: 3 })
        .trials(100);
    study
        .optimize(&mut |t| Ok(t.params.float("x")? + t.params.int("layers")? as f64))
        .unwrap();
    assert_eq!(study.records.len(), 3 * 2 * 2);
    let seen: BTreeSet<String> = study.records.iter().map(|t| t.params.to_string()).collect();
    assert_eq!(seen.len(), 12);
    let xs: BTreeSet<String> = study
        .records
        .iter()
        .map(|t| format!("{}", t.params.float("x").unwrap()))
        .collect();
    assert_eq!(
        xs,
        ["0", "0.5", "1"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(study.best().unwrap().params.float("x").unwrap(), 0.0);
}

#[test]
fn random_search_keeps_types_and_bounds_and_is_reproducible() {
    let space = Space::new()
        .log_uniform("lr", 1e-5, 1e-1)
        .int_step("batch", 16, 128, 16)
        .choice("optimizer", &["adam", "sgd"])
        .uniform("momentum", 0.5, 0.99)
        .only_if("momentum", "optimizer", "sgd");
    let run = |seed: u64| {
        let mut study = Study::minimize(space.clone())
            .sampler(Sampler::Random)
            .trials(200)
            .seed(seed);
        study.optimize(&mut |_| Ok(0.0)).unwrap();
        study
            .records
            .into_iter()
            .map(|t| t.params)
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut batches = BTreeSet::new();
    for p in &a {
        let lr = p.float("lr").unwrap();
        assert!((1e-5..=1e-1).contains(&lr));
        let batch = p.int("batch").unwrap();
        assert!((16..=128).contains(&batch) && batch % 16 == 0);
        batches.insert(batch);
        match p.choice("optimizer").unwrap() {
            "sgd" => assert!((0.5..=0.99).contains(&p.float("momentum").unwrap())),
            _ => assert!(!p.has("momentum")),
        }
    }
    assert_eq!(batches.len(), 8, "every batch size is drawn: {batches:?}");
    // Log-uniform: about half the draws below the geometric middle (1e-3).
    let low = a.iter().filter(|p| p.float("lr").unwrap() < 1e-3).count();
    assert!((70..130).contains(&low), "{low} of 200 below 1e-3");
}

#[test]
fn failed_trials_are_recorded_and_the_study_goes_on() {
    let mut study = Study::minimize(Space::new().int("i", 0, 100))
        .sampler(Sampler::Random)
        .trials(8);
    let mut calls = 0;
    study
        .optimize(&mut |_| {
            calls += 1;
            match calls {
                2 => anyhow::bail!("out of memory"),
                4 => Ok(f64::NAN),
                6 => panic!("index out of bounds"),
                n => Ok(n as f64),
            }
        })
        .unwrap();
    assert_eq!(study.records.len(), 8);
    let states: Vec<String> = study
        .records
        .iter()
        .map(|t| match &t.state {
            TrialState::Complete => "ok".into(),
            TrialState::Failed(why) => why.clone(),
            TrialState::Pruned => "pruned".into(),
        })
        .collect();
    assert_eq!(states[1], "out of memory");
    assert!(states[3].contains("NaN"), "{}", states[3]);
    assert!(
        states[5].contains("panicked: index out of bounds"),
        "{}",
        states[5]
    );
    assert_eq!(study.best().unwrap().value, Some(1.0));
    let table = study.to_frame().unwrap();
    assert_eq!(table.height(), 8);
}

#[test]
fn the_median_pruner_stops_a_clearly_worse_trial() {
    let mut study = Study::minimize(Space::new().uniform("badness", 0.0, 1.0))
        .sampler(Sampler::Grid { points: 8 })
        .trials(8)
        .median_pruner(2, 4);
    let mut steps_run = Vec::new();
    study
        .optimize(&mut |t| {
            let badness = t.params.float("badness")?;
            // Trials in grid order 0, 1/7, …: the late ones have much worse curves.
            let mut value = 0.0;
            let mut steps = 0;
            for step in 0..10 {
                value = badness * 10.0 + 1.0 / (step + 1) as f64;
                steps += 1;
                if let Err(e) = t.report(step, value) {
                    steps_run.push(steps);
                    return Err(e);
                }
            }
            steps_run.push(steps);
            Ok(value)
        })
        .unwrap();
    let pruned: Vec<usize> = study
        .records
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .map(|t| t.number)
        .collect();
    assert_eq!(pruned, [4, 5, 6, 7], "{steps_run:?}");
    assert!(steps_run[4..].iter().all(|&s| s == 3), "{steps_run:?}");
}

#[test]
fn a_saved_study_resumes_where_it_stopped() {
    let path = std::env::temp_dir().join(format!("trainbook-study-{}.json", std::process::id()));
    let space = Space::new()
        .uniform("x", -5.0, 10.0)
        .uniform("y", 0.0, 15.0);
    let mut study = Study::minimize(space).seed(3).trials(12);
    let objective = &mut |t: &Trial| Ok(branin(t.params.float("x")?, t.params.float("y")?));
    study.optimize(objective).unwrap();
    study.save(&path).unwrap();
    let mut resumed = Study::load(&path).unwrap().trials(8);
    assert_eq!(resumed.records, study.records);
    resumed.optimize(objective).unwrap();
    assert_eq!(resumed.records.len(), 20);
    assert_eq!(
        resumed.records.iter().map(|t| t.number).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bayesian_search_finds_branins_minimum_and_beats_random_search() {
    let space = Space::new()
        .uniform("x", -5.0, 10.0)
        .uniform("y", 0.0, 15.0);
    let best = |sampler: Sampler, seed: u64| {
        let mut study = Study::minimize(space.clone())
            .sampler(sampler)
            .trials(40)
            .seed(seed);
        study
            .optimize(&mut |t| Ok(branin(t.params.float("x")?, t.params.float("y")?)))
            .unwrap();
        study.best().unwrap().value.unwrap()
    };
    for seed in 0..3 {
        let bayesian = best(Sampler::Bayesian { initial: 10 }, seed);
        let random = best(Sampler::Random, seed);
        println!("seed {seed}: Bayesian {bayesian}, random {random}");
        assert!(
            bayesian < 0.45,
            "seed {seed}: {bayesian} (minimum 0.397887)"
        );
        assert!(
            bayesian < random,
            "seed {seed}: {bayesian} vs random {random}"
        );
    }
}
