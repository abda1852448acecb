//! Hyperparameter search: grids, random draws, conditional parameters, failures, pruning,
//! save and resume, and that the Bayesian search finds Branin's minimum.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trainbook::prelude::*;

/// The tests run one at a time: one of them replaces the process-wide panic hook, and every
/// study's trials wrap that hook while they run.
fn one_study_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn branin(x: f64, y: f64) -> f64 {
    let pi = std::f64::consts::PI;
    let (a, b, c) = (1.0, 5.1 / (4.0 * pi * pi), 5.0 / pi);
    let (r, s, t) = (6.0, 10.0, 1.0 / (8.0 * pi));
    a * (y - b * x * x + c * x - r).powi(2) + s * (1.0 - t) * x.cos() + s
}

#[test]
fn a_grid_search_visits_every_grid_point_once() {
    let _serial = one_study_at_a_time();
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
    let _serial = one_study_at_a_time();
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
    let _serial = one_study_at_a_time();
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
    let _serial = one_study_at_a_time();
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
    let _serial = one_study_at_a_time();
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
    let _serial = one_study_at_a_time();
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

#[test]
fn parallel_trials_run_at_once_and_propose_what_a_sequential_study_does() {
    let _serial = one_study_at_a_time();
    let space = Space::new()
        .log_uniform("lr", 1e-4, 1e-1)
        .int("layers", 1, 4)
        .choice("activation", &["relu", "gelu"]);
    let mut sequential = Study::minimize(space.clone())
        .sampler(Sampler::Random)
        .trials(12)
        .seed(5);
    sequential.optimize(&mut |t| t.params.float("lr")).unwrap();
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut parallel = Study::minimize(space)
        .sampler(Sampler::Random)
        .trials(12)
        .seed(5)
        .jobs(4);
    parallel
        .optimize_parallel(&|t| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // Long enough for all four workers to be inside a trial together.
            std::thread::sleep(Duration::from_millis(100));
            running.fetch_sub(1, Ordering::SeqCst);
            t.params.float("lr")
        })
        .unwrap();
    assert_eq!(most.load(Ordering::SeqCst), 4);
    assert_eq!(
        parallel
            .records
            .iter()
            .map(|t| t.number)
            .collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    let params = |s: &Study| {
        s.records
            .iter()
            .map(|t| t.params.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(params(&parallel), params(&sequential));
    assert_eq!(
        parallel.best().unwrap().number,
        sequential.best().unwrap().number
    );
}

#[test]
fn a_parallel_bayesian_study_spreads_its_running_trials_and_still_converges() {
    let _serial = one_study_at_a_time();
    let space = Space::new()
        .uniform("x", -5.0, 10.0)
        .uniform("y", 0.0, 15.0);
    let mut study = Study::minimize(space)
        .sampler(Sampler::Bayesian { initial: 8 })
        .trials(40)
        .seed(2)
        .jobs(3);
    // Which trials are running when another is proposed depends on the order trials finish.
    // With objectives that return at once, the workers outrun the model (several proposals
    // against the same few results; 4 runs in 40 ended above 0.78). Trials that take 10 ms, as
    // real ones take far longer, give proposals the results in time: 0.40-0.48 over 25 runs.
    study
        .optimize_parallel(&|t| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            Ok(branin(t.params.float("x")?, t.params.float("y")?))
        })
        .unwrap();
    assert_eq!(study.records.len(), 40);
    let distinct: BTreeSet<String> = study.records.iter().map(|t| t.params.to_string()).collect();
    assert_eq!(distinct.len(), 40, "running trials were proposed twice");
    let best = study.best().unwrap().value.unwrap();
    assert!(best < 0.6, "best {best} after 40 parallel trials");
}

#[test]
fn panicking_parallel_trials_are_failed_quietly_and_the_panic_hook_comes_back() {
    let _serial = one_study_at_a_time();
    static REPORTED: AtomicUsize = AtomicUsize::new(0);
    let original = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {
        REPORTED.fetch_add(1, Ordering::SeqCst);
    }));
    let mut study = Study::minimize(Space::new().int("i", 0, 9))
        .sampler(Sampler::Grid { points: 2 })
        .jobs(4);
    let result = study.optimize_parallel(&|t| {
        std::thread::sleep(Duration::from_millis(20));
        if t.number % 2 == 0 {
            panic!("trial {} blew up", t.number);
        }
        Ok(t.number as f64)
    });
    let during = REPORTED.load(Ordering::SeqCst);
    // A panic outside any study reaches the hook that was there before.
    let _ = std::panic::catch_unwind(|| panic!("after the study"));
    let after = REPORTED.load(Ordering::SeqCst);
    std::panic::set_hook(original);
    result.unwrap();
    assert_eq!(study.records.len(), 10);
    let failed: Vec<usize> = study
        .records
        .iter()
        .filter(|t| matches!(&t.state, TrialState::Failed(why) if why.contains("blew up")))
        .map(|t| t.number)
        .collect();
    assert_eq!(failed, [0, 2, 4, 6, 8]);
    assert_eq!(during, 0, "handled trial panics reached the panic hook");
    assert_eq!(after, 1, "the panic hook was not restored");
}

#[test]
fn a_time_budget_stops_starting_trials() {
    let _serial = one_study_at_a_time();
    let mut study = Study::minimize(Space::new().uniform("x", 0.0, 1.0))
        .sampler(Sampler::Random)
        .trials(1000)
        .timeout(0.3);
    let started = Instant::now();
    study
        .optimize(&mut |t| {
            std::thread::sleep(Duration::from_millis(50));
            t.params.float("x")
        })
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    // Trials start until 0.3 s have passed; the last one started then runs to its end.
    assert!(
        (2..=7).contains(&study.records.len()),
        "{} trials",
        study.records.len()
    );
    assert!(seconds < 0.3 + 0.2, "{seconds} s");
    let mut parallel = Study::minimize(Space::new().uniform("x", 0.0, 1.0))
        .sampler(Sampler::Random)
        .trials(1000)
        .timeout(0.3)
        .jobs(2);
    parallel
        .optimize_parallel(&|t| {
            std::thread::sleep(Duration::from_millis(50));
            t.params.float("x")
        })
        .unwrap();
    assert!(
        (4..=14).contains(&parallel.records.len()),
        "{} parallel trials",
        parallel.records.len()
    );
}

#[test]
fn tuning_a_classifier_by_cross_validation_scores_like_cross_val_score() {
    let _serial = one_study_at_a_time();
    let wine = load_wine();
    let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
    let space = Space::new().int("max_depth", 1, 6);
    let mut study = Study::maximize(space.clone())
        .sampler(Sampler::Grid { points: 2 })
        .jobs(2)
        .live(false);
    let make = |p: &Params| -> anyhow::Result<Box<dyn Classifier>> {
        Ok(Box::new(
            DecisionTreeClassifier::new()
                .max_depth(p.int("max_depth")? as usize)
                .seed(0),
        ))
    };
    study.optimize_cv(&x, &y, 5, "accuracy", &make).unwrap();
    assert_eq!(study.records.len(), 6);
    for trial in &study.records {
        let depth = trial.params.int("max_depth").unwrap() as usize;
        let scores = cross_val_score(
            &DecisionTreeClassifier::new().max_depth(depth).seed(0),
            &x,
            &y,
            5,
            "accuracy",
        )
        .unwrap();
        let mean = scores.iter().sum::<f64>() / 5.0;
        assert_eq!(trial.value, Some(mean), "depth {depth}");
        assert_eq!(trial.reports.len(), 5);
        assert_eq!(trial.reports[4].1, mean);
    }
    assert!(study.best().unwrap().params.int("max_depth").unwrap() >= 3);

    let error = Study::minimize(space)
        .optimize_cv(&x, &y, 5, "accuracy", &make)
        .unwrap_err();
    assert!(error.to_string().contains("Study::maximize"), "{error}");
}

/// The same search over a regressor: real targets get folds in row order and a regression
/// scorer, and each trial's value is what `cross_val_score` gives that model.
#[test]
fn tuning_a_regressor_by_cross_validation_scores_like_cross_val_score() {
    let _serial = one_study_at_a_time();
    let diabetes = load_diabetes();
    let (x, y) = (
        Matrix::features(&diabetes).unwrap(),
        diabetes.y_values().unwrap(),
    );
    let mut study = Study::maximize(Space::new().log_uniform("alpha", 1e-3, 1e3))
        .sampler(Sampler::Grid { points: 4 })
        .live(false);
    let make = |p: &Params| -> anyhow::Result<Box<dyn Regressor>> {
        Ok(Box::new(LinearRegression::ridge(p.float("alpha")?)))
    };
    study
        .optimize_cv(&x, &y, 5, "neg_mean_squared_error", &make)
        .unwrap();
    assert_eq!(study.records.len(), 4);
    for trial in &study.records {
        let alpha = trial.params.float("alpha").unwrap();
        let scores = cross_val_score(
            &LinearRegression::ridge(alpha),
            &x,
            &y,
            5,
            "neg_mean_squared_error",
        )
        .unwrap();
        let mean = scores.iter().sum::<f64>() / 5.0;
        assert_eq!(trial.value, Some(mean), "alpha {alpha}");
    }
    // Strong shrinkage on diabetes' ten scaled features costs accuracy.
    assert!(study.best().unwrap().params.float("alpha").unwrap() < 100.0);
    let wrong = Study::maximize(Space::new().log_uniform("alpha", 1e-3, 1e3))
        .live(false)
        .optimize_cv(&x, &y, 5, "accuracy", &make)
        .unwrap_err();
    assert!(format!("{wrong:#}").contains("classifiers"), "{wrong:#}");
}

/// The text of every `<text>` element of an SVG.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            Some(
                t.split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn parameter_and_parallel_coordinate_charts_show_every_completed_trial() {
    let _serial = one_study_at_a_time();
    let space = Space::new()
        .log_uniform("lr", 1e-4, 1e-1)
        .int("layers", 1, 3)
        .choice("optimizer", &["adam", "sgd"])
        .uniform("momentum", 0.0, 0.9)
        .only_if("momentum", "optimizer", "sgd");
    let mut study = Study::minimize(space)
        .sampler(Sampler::Random)
        .trials(15)
        .seed(1);
    study
        .optimize(&mut |t| {
            if t.number == 3 {
                anyhow::bail!("diverged");
            }
            Ok(t.params.float("lr")?.log10().abs() + t.params.int("layers")? as f64)
        })
        .unwrap();
    let completed = 14;
    let with_momentum = study
        .records
        .iter()
        .filter(|t| t.value.is_some() && t.params.has("momentum"))
        .count();

    let table = study.to_frame().unwrap();
    assert_eq!(table.column("lr").unwrap().dtype(), &DataType::Float64);
    assert_eq!(table.column("layers").unwrap().dtype(), &DataType::Int64);
    assert_eq!(
        table.column("optimizer").unwrap().dtype(),
        &DataType::String
    );
    let without_momentum = study
        .records
        .iter()
        .filter(|t| !t.params.has("momentum"))
        .count();
    assert!(without_momentum > 0);
    assert_eq!(
        table.column("momentum").unwrap().null_count(),
        without_momentum
    );

    let svg = study.param_chart().to_svg().unwrap();
    let labels = texts(&svg);
    for text in [
        "lr",
        "layers",
        "optimizer",
        "momentum",
        "1e-3",
        "0.01",
        "adam",
        "sgd",
        "objective",
    ] {
        assert!(
            labels.iter().any(|l| l == text),
            "no label {text} in {labels:?}"
        );
    }
    // A dot per trial and parameter it had, plus the best trial's ring in each of its panels.
    let dots = svg.matches("<circle").count();
    let rings = 3 + usize::from(study.best().unwrap().params.has("momentum"));
    assert_eq!(dots, completed * 3 + with_momentum + rings);

    let svg = study.parallel_coordinates().to_svg().unwrap();
    let trial_lines = svg.matches("<polyline").count();
    // 5 axes, their ticks (objective 5, lr 4 decades, layers 3, optimizer 2, momentum 5), and
    // one line per completed trial.
    assert_eq!(trial_lines, 5 + (5 + 4 + 3 + 2 + 5) + completed);
    let labels = texts(&svg);
    for text in ["momentum", "objective", "1e-4", "sgd", "3"] {
        assert!(
            labels.iter().any(|l| l == text),
            "no label {text} in {labels:?}"
        );
    }
    let png = study.parallel_coordinates().to_png().unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let png = study.param_chart().to_png().unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    let empty = Study::minimize(Space::new().uniform("x", 0.0, 1.0));
    let error = empty.param_chart().to_svg().unwrap_err();
    assert!(error.to_string().contains("no completed trial"), "{error}");
}
