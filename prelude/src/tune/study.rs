//! A study: trials of an objective over a search space, chosen by grid, random or Bayesian
//! (Gaussian process + expected improvement) search, with failed trials recorded, median
//! pruning, a trials table and charts, and save / resume.

use super::gp::{Gp, Hyper};
use super::space::{Kind, Params, Space, Value};
use crate::charts::LineChart;
use crate::display::{display_handle, html_escape, DisplayHandle, MimeBundle, Render};
use crate::random::Rng;
use anyhow::{bail, Context, Result};
use polars::prelude::{Column, DataFrame, IntoColumn, NamedFrom, Series};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether lower or higher values are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Minimize,
    Maximize,
}

/// How the next trial's parameters are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Sampler {
    /// Every point of the grid with `points` values per real parameter, in order.
    Grid { points: usize },
    /// Independent uniform draws.
    Random,
    /// `initial` space-filling (Latin hypercube) trials, then a Gaussian process with expected
    /// improvement.
    Bayesian { initial: usize },
}

/// How a trial ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TrialState {
    Complete,
    /// The objective returned an error, a NaN or infinity, or panicked.
    Failed(String),
    /// Stopped early by the pruner.
    Pruned,
}

/// One trial of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub number: usize,
    pub params: Params,
    #[serde(with = "crate::data::exact")]
    pub value: Option<f64>,
    pub state: TrialState,
    #[serde(with = "crate::data::exact")]
    pub seconds: f64,
    /// Intermediate values reported by the objective, by step.
    #[serde(with = "crate::data::exact")]
    pub reports: Vec<(usize, f64)>,
}

/// What the objective gets: the trial's parameters, and `report` for intermediate values
/// (each epoch's validation loss), which returns an error when the pruner stops the trial —
/// propagate it with `?`.
pub struct Trial<'a> {
    pub number: usize,
    pub params: Params,
    reports: std::cell::RefCell<Vec<(usize, f64)>>,
    /// Whether a value at a step should stop the trial; it reads the study's trials as they
    /// are at that moment (parallel trials finish while this one runs).
    should_prune: Option<Box<dyn Fn(usize, f64) -> bool + 'a>>,
}

/// The error `Trial::report` returns to stop a pruned trial.
#[derive(Debug)]
pub struct Pruned;

impl std::fmt::Display for Pruned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trial pruned: its intermediate value is worse than the median of earlier trials"
        )
    }
}

impl std::error::Error for Pruned {}

impl Trial<'_> {
    /// Records `value` at `step`; an error (to return with `?`) when the trial should stop.
    pub fn report(&self, step: usize, value: f64) -> Result<()> {
        self.reports.borrow_mut().push((step, value));
        match &self.should_prune {
            Some(should_prune) if should_prune(step, value) => Err(Pruned.into()),
            _ => Ok(()),
        }
    }
}

/// Stops a trial whose intermediate value at a step is worse than the median of the completed
/// trials' values at that step (Optuna's MedianPruner), after `warmup` steps and once
/// `min_trials` trials have completed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MedianPruner {
    pub warmup: usize,
    pub min_trials: usize,
}

impl MedianPruner {
    fn should_prune(
        &self,
        step: usize,
        value: f64,
        history: &[TrialRecord],
        direction: Direction,
    ) -> bool {
        if step < self.warmup {
            return false;
        }
        let mut others: Vec<f64> = history
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| t.reports.iter().find(|(s, _)| *s == step).map(|(_, v)| *v))
            .collect();
        if others.len() < self.min_trials {
            return false;
        }
        others.sort_by(f64::total_cmp);
        let median = if others.len() % 2 == 1 {
            others[others.len() / 2]
        } else {
            (others[others.len() / 2 - 1] + others[others.len() / 2]) / 2.0
        };
        match direction {
            Direction::Minimize => value > median,
            Direction::Maximize => value < median,
        }
    }
}

/// A hyperparameter study.
///
/// ```
/// use trainbook::prelude::*;
/// let space = Space::new().uniform("x", -5.0, 5.0).int("k", 0, 3);
/// let mut study = Study::minimize(space).sampler(Sampler::Bayesian { initial: 8 }).trials(25).seed(1);
/// study
///     .optimize(&mut |trial| {
///         let (x, k) = (trial.params.float("x")?, trial.params.int("k")?);
///         Ok((x - 1.0).powi(2) + k as f64)
///     })
///     .unwrap();
/// let best = study.best().unwrap();
/// assert!(best.value.unwrap() < 0.1);
/// assert_eq!(best.params.int("k").unwrap(), 0);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Study {
    pub space: Space,
    pub direction: Direction,
    pub sampler: Sampler,
    /// Trials to run in one `optimize` call.
    pub trials: usize,
    /// Stop starting new trials after this long.
    pub timeout: Option<Duration>,
    pub seed: u64,
    pub pruner: Option<MedianPruner>,
    /// Live display in a notebook.
    pub live: bool,
    /// Trials run at once by [`Study::optimize_parallel`] and [`Study::optimize_cv`].
    #[serde(default = "one_job")]
    pub jobs: usize,
    /// Every trial so far, in trial-number order.
    pub records: Vec<TrialRecord>,
    #[serde(skip)]
    hyper: Option<Hyper>,
}

impl Study {
    fn new(space: Space, direction: Direction) -> Study {
        Study {
            space,
            direction,
            sampler: Sampler::Bayesian { initial: 10 },
            trials: 50,
            timeout: None,
            seed: 0,
            pruner: None,
            live: true,
            jobs: 1,
            records: Vec::new(),
            hyper: None,
        }
    }

    /// A study that looks for the lowest value (Bayesian search, 50 trials by default).
    pub fn minimize(space: Space) -> Study {
        Study::new(space, Direction::Minimize)
    }

    /// A study that looks for the highest value.
    pub fn maximize(space: Space) -> Study {
        Study::new(space, Direction::Maximize)
    }

    pub fn sampler(mut self, sampler: Sampler) -> Study {
        self.sampler = sampler;
        self
    }

    pub fn trials(mut self, trials: usize) -> Study {
        self.trials = trials;
        self
    }

    pub fn timeout(mut self, seconds: f64) -> Study {
        self.timeout = Some(Duration::from_secs_f64(seconds));
        self
    }

    pub fn seed(mut self, seed: u64) -> Study {
        self.seed = seed;
        self
    }

    /// Median pruning after `warmup` reported steps, once `min_trials` trials completed.
    pub fn median_pruner(mut self, warmup: usize, min_trials: usize) -> Study {
        self.pruner = Some(MedianPruner { warmup, min_trials });
        self
    }

    /// How many trials [`Study::optimize_parallel`] and [`Study::optimize_cv`] run at
    /// once, each on its own thread (1 by default). Grid and random studies propose the same
    /// trials whatever the number; a Bayesian study treats running trials as if they had
    /// scored as well as the best so far ("constant liar"), so parallel proposals spread out,
    /// and its proposals then depend on which trials finish first. Parallel Bayesian search
    /// pays off when a trial takes much longer than a proposal (a few milliseconds): with
    /// objectives that return at once, the workers propose against too few results and the
    /// search does worse than one job (Branin, 40 trials, 3 jobs: best up to 1.09 instead of
    /// about 0.45).
    ///
    /// ```
    /// let study = trainbook::prelude::Study::minimize(trainbook::prelude::Space::new()).jobs(0);
    /// assert_eq!(study.jobs, 1); // at least one
    /// ```
    pub fn jobs(mut self, jobs: usize) -> Study {
        self.jobs = jobs.max(1);
        self
    }

    /// Whether to show the live display in a notebook (on by default).
    pub fn live(mut self, on: bool) -> Study {
        self.live = on;
        self
    }

    /// Lower is better after this (maximised values are negated).
    fn loss(&self, value: f64) -> f64 {
        match self.direction {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }

    /// The best completed trial.
    pub fn best(&self) -> Option<&TrialRecord> {
        self.records
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .min_by(|a, b| {
                self.loss(a.value.unwrap_or(f64::NAN))
                    .total_cmp(&self.loss(b.value.unwrap_or(f64::NAN)))
            })
    }

    /// The best value after each trial (None until one completes).
    pub fn best_so_far(&self) -> Vec<Option<f64>> {
        let mut best: Option<f64> = None;
        self.records
            .iter()
            .map(|t| {
                if let (TrialState::Complete, Some(v)) = (&t.state, t.value) {
                    if best.is_none_or(|b| self.loss(v) < self.loss(b)) {
                        best = Some(v);
                    }
                }
                best
            })
            .collect()
    }

    /// The parameters of trial `number`; `running` are the trials started but not finished.
    fn next_params(
        &mut self,
        number: usize,
        rng: &mut Rng,
        running: &[Params],
    ) -> Result<Option<Params>> {
        match self.sampler {
            Sampler::Grid { points } => Ok(self.space.grid(points)?.into_iter().nth(number)),
            Sampler::Random => Ok(Some(
                self.space
                    .sample(&mut Rng::new(self.seed).fork(number as u64)),
            )),
            Sampler::Bayesian { initial } => {
                // Completed trials by their value; pruned ones by their last reported value
                // (worse than where a finished trial would end), so the model learns to avoid
                // them instead of proposing the same pruned point again.
                let observed: Vec<(&Params, f64)> = self
                    .records
                    .iter()
                    .filter_map(|t| match (&t.state, t.value, t.reports.last()) {
                        (TrialState::Complete, Some(v), _) => Some((&t.params, v)),
                        (TrialState::Pruned, _, Some(&(_, v))) if v.is_finite() => {
                            Some((&t.params, v))
                        }
                        _ => None,
                    })
                    .collect();
                if number < initial || observed.len() < 3 {
                    return Ok(Some(self.space.from_unit(&latin_hypercube(
                        initial.max(1),
                        self.space.params().len(),
                        number,
                        self.seed,
                    ))));
                }
                let mut x: Vec<Vec<f64>> = observed
                    .iter()
                    .map(|(p, _)| self.space.to_unit(p))
                    .collect();
                let mut y: Vec<f64> = observed.iter().map(|(_, v)| self.loss(*v)).collect();
                // Constant liar: a running trial counts as scoring the best value so far, so
                // the model expects nothing more there and proposes elsewhere.
                let best_observed = y.iter().cloned().fold(f64::INFINITY, f64::min);
                for params in running {
                    x.push(self.space.to_unit(params));
                    y.push(best_observed);
                }
                let start = self
                    .hyper
                    .clone()
                    .filter(|h| h.log_lengths.len() == self.space.params().len())
                    .unwrap_or_else(|| Hyper::initial(self.space.params().len()));
                let Some(gp) = Gp::fit(&x, &y, &start, rng) else {
                    return Ok(Some(self.space.sample(rng)));
                };
                self.hyper = Some(gp.hyper().clone());
                let best = y.iter().cloned().fold(f64::INFINITY, f64::min);
                let mut order: Vec<usize> = (0..y.len()).collect();
                order.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
                let incumbents: Vec<Vec<f64>> =
                    order.iter().take(3).map(|&i| x[i].clone()).collect();
                Ok(Some(self.space.from_unit(&gp.propose(
                    best,
                    &incumbents,
                    rng,
                ))))
            }
        }
    }

    /// Runs up to `trials` more trials (continuing a loaded study), one at a time, or until
    /// the timeout, the end of the grid, or an interrupt. A trial that errs, returns NaN or
    /// panics is recorded as failed and the study goes on. For trials on several threads see
    /// [`Study::optimize_parallel`].
    pub fn optimize(&mut self, objective: &mut dyn FnMut(&Trial) -> Result<f64>) -> Result<()> {
        self.space.validate()?;
        let budget = Budget::new(self);
        let mut rng = self.proposal_rng();
        let mut live = LiveView::default();
        for number in budget.numbers() {
            if budget.spent() {
                break;
            }
            let Some(params) = self.next_params(number, &mut rng, &[])? else {
                break;
            };
            let records = self.records.as_slice();
            let trial = Trial {
                number,
                params,
                reports: Default::default(),
                should_prune: self.pruner.map(|pruner| {
                    let direction = self.direction;
                    Box::new(move |step, value| {
                        pruner.should_prune(step, value, records, direction)
                    }) as Box<dyn Fn(usize, f64) -> bool>
                }),
            };
            let record = run_trial(trial, |trial| objective(trial));
            self.records.push(record);
            live.redraw(self);
        }
        live.finish(self);
        Ok(())
    }

    /// Like [`Study::optimize`], with [`Study::jobs`] trials at once, each on its own thread;
    /// the objective must be `Fn + Sync` (it is called from several threads). The live display
    /// and an interrupt work as in `optimize`: running trials finish, no new ones start.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let space = Space::new().uniform("x", -5.0, 5.0);
    /// let mut study = Study::minimize(space).sampler(Sampler::Random).trials(20).jobs(4).seed(3);
    /// study.optimize_parallel(&|trial| Ok(trial.params.float("x")?.powi(2))).unwrap();
    /// assert_eq!(study.records.len(), 20);
    /// assert!(study.records.iter().enumerate().all(|(i, t)| t.number == i));
    /// ```
    pub fn optimize_parallel(
        &mut self,
        objective: &(dyn Fn(&Trial) -> Result<f64> + Sync),
    ) -> Result<()> {
        self.space.validate()?;
        let jobs = self.jobs.max(1);
        let (pruner, direction) = (self.pruner, self.direction);
        let budget = Budget::new(self);
        let board = std::sync::Mutex::new(Board {
            next: budget.first,
            rng: self.proposal_rng(),
            running: Vec::new(),
            error: None,
            study: self,
        });
        let lock = || board.lock().unwrap_or_else(|e| e.into_inner());
        let (finished, redraws) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let finished = finished.clone();
                let (budget, lock) = (&budget, &lock);
                scope.spawn(move || loop {
                    let (number, params) = {
                        let mut board = lock();
                        if board.next >= budget.end || budget.spent() || board.error.is_some() {
                            break;
                        }
                        let number = board.next;
                        let running: Vec<Params> =
                            board.running.iter().map(|(_, p)| p.clone()).collect();
                        let Board { study, rng, .. } = &mut *board;
                        match study.next_params(number, rng, &running) {
                            Ok(Some(params)) => {
                                board.next += 1;
                                board.running.push((number, params.clone()));
                                (number, params)
                            }
                            Ok(None) => break,
                            Err(error) => {
                                board.error = Some(error);
                                break;
                            }
                        }
                    };
                    let trial = Trial {
                        number,
                        params,
                        reports: Default::default(),
                        should_prune: pruner.map(|pruner| {
                            Box::new(move |step, value| {
                                pruner.should_prune(step, value, &lock().study.records, direction)
                            }) as Box<dyn Fn(usize, f64) -> bool>
                        }),
                    };
                    let record = run_trial(trial, objective);
                    {
                        let mut board = lock();
                        board.running.retain(|(n, _)| *n != number);
                        let at = board.study.records.partition_point(|t| t.number < number);
                        board.study.records.insert(at, record);
                    }
                    let _ = finished.send(());
                });
            }
            drop(finished);
            // This thread is the cell's: it draws while the workers run trials.
            let mut live = LiveView::default();
            for () in redraws {
                live.redraw(lock().study);
            }
            live.finish(lock().study);
        });
        match board.into_inner().unwrap_or_else(|e| e.into_inner()).error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The random stream for Bayesian proposals, continuing a resumed study's numbering.
    fn proposal_rng(&self) -> Rng {
        Rng::new(self.seed).fork(1_000_003 + self.records.len() as u64)
    }

    fn frame(&self, done: bool) -> MimeBundle {
        let best = self
            .best()
            .map(|b| {
                format!(
                    "best {:.6} (trial {}: {})",
                    b.value.unwrap_or(f64::NAN),
                    b.number,
                    b.params
                )
            })
            .unwrap_or_else(|| "no completed trial yet".into());
        let status = format!(
            "{} {} trials · {best}",
            if done { "finished:" } else { "running:" },
            self.records.len()
        );
        let chart = self.history_chart().to_svg().unwrap_or_default();
        MimeBundle::text(if done { self.summary() } else { status.clone() }).with(
            "text/html",
            format!("<div><p>{}</p>{chart}</div>", html_escape(&status)),
        )
    }

    fn summary(&self) -> String {
        let count =
            |f: fn(&TrialState) -> bool| self.records.iter().filter(|t| f(&t.state)).count();
        let best = self
            .best()
            .map(|b| {
                format!(
                    "; best {:.6} at trial {}: {}",
                    b.value.unwrap_or(f64::NAN),
                    b.number,
                    b.params
                )
            })
            .unwrap_or_default();
        format!(
            "{} trials: {} complete, {} pruned, {} failed{best}",
            self.records.len(),
            count(|s| *s == TrialState::Complete),
            count(|s| *s == TrialState::Pruned),
            count(|s| matches!(s, TrialState::Failed(_))),
        )
    }

    /// Each trial's value and the best so far.
    pub fn history_chart(&self) -> LineChart {
        let values: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|t| t.value.map(|v| (t.number as f64 + 1.0, v)))
            .collect();
        let best: Vec<(f64, f64)> = self
            .best_so_far()
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.map(|v| (i as f64 + 1.0, v)))
            .collect();
        LineChart::new("Optimisation history")
            .x_label("trial")
            .y_label("objective")
            .series_xy("trial value", values)
            .series_xy("best so far", best)
    }

    /// One row per trial: number, state, value, a column per parameter (f64, i64 or text, as
    /// the parameter; empty where a conditional parameter was absent), and seconds.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let space = Space::new().uniform("x", 0.0, 1.0).int("k", 1, 3);
    /// let mut study = Study::minimize(space).sampler(Sampler::Random).trials(4);
    /// study.optimize(&mut |t| Ok(t.params.float("x")?)).unwrap();
    /// let table = study.to_frame().unwrap();
    /// assert_eq!(table.shape(), (4, 6));
    /// assert_eq!(table.column("k").unwrap().dtype(), &DataType::Int64);
    /// ```
    pub fn to_frame(&self) -> Result<DataFrame> {
        let mut columns: Vec<Column> = vec![
            Series::new(
                "trial".into(),
                self.records
                    .iter()
                    .map(|t| t.number as u32)
                    .collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "state".into(),
                self.records
                    .iter()
                    .map(|t| match &t.state {
                        TrialState::Complete => "complete".to_string(),
                        TrialState::Pruned => "pruned".to_string(),
                        TrialState::Failed(why) => format!("failed: {why}"),
                    })
                    .collect::<Vec<_>>(),
            )
            .into_column(),
            Series::new(
                "value".into(),
                self.records.iter().map(|t| t.value).collect::<Vec<_>>(),
            )
            .into_column(),
        ];
        // A column per parameter with its type: f64, i64 or text; empty where a conditional
        // parameter was absent.
        for p in self.space.params() {
            let name = p.name.as_str().into();
            let values = self.records.iter().map(|t| t.params.0.get(&p.name));
            let column = match p.kind {
                Kind::Uniform { .. } | Kind::LogUniform { .. } => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Some(Value::Float(x)) => Some(*x),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Kind::Int { .. } => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Some(Value::Int(x)) => Some(*x),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Kind::Choice(_) => Series::new(
                    name,
                    values.map(|v| v.map(|v| v.to_string())).collect::<Vec<_>>(),
                ),
            };
            columns.push(column.into_column());
        }
        columns.push(
            Series::new(
                "seconds".into(),
                self.records.iter().map(|t| t.seconds).collect::<Vec<_>>(),
            )
            .into_column(),
        );
        Ok(DataFrame::new_infer_height(columns)?)
    }

    /// Writes the study (space, settings, every trial) as JSON, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_vec_pretty(self)?;
        trainbook_wire::files::replace(path, |temporary| std::fs::write(temporary, json))
            .with_context(|| format!("could not write {}", path.display()))
    }

    /// Reads a study written by [`Study::save`]; `optimize` then continues it.
    pub fn load(path: impl AsRef<Path>) -> Result<Study> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let study: Study = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a saved study", path.display()))?;
        if study.space.params().is_empty() {
            bail!("{} holds a study without parameters", path.display());
        }
        Ok(study)
    }
}

impl Render for Study {
    fn mime_bundle(&self) -> MimeBundle {
        self.frame(true)
    }
}

fn one_job() -> usize {
    1
}

/// Which trial numbers one `optimize` call may run, and when its time or the user's patience
/// runs out.
struct Budget {
    first: usize,
    end: usize,
    started: Instant,
    timeout: Option<Duration>,
}

impl Budget {
    fn new(study: &Study) -> Budget {
        let first = study
            .records
            .iter()
            .map(|t| t.number + 1)
            .max()
            .unwrap_or(0);
        Budget {
            first,
            end: first + study.trials,
            started: Instant::now(),
            timeout: study.timeout,
        }
    }

    fn numbers(&self) -> std::ops::Range<usize> {
        self.first..self.end
    }

    /// Out of time, or interrupted: start no new trial.
    fn spent(&self) -> bool {
        self.timeout.is_some_and(|t| self.started.elapsed() >= t) || crate::runtime::interrupted()
    }
}

/// What the threads of a parallel study share.
struct Board<'s> {
    study: &'s mut Study,
    next: usize,
    rng: Rng,
    running: Vec<(usize, Params)>,
    error: Option<anyhow::Error>,
}

/// Runs one trial, turning errors, non-finite values, pruning and panics into its record.
fn run_trial<'a>(
    trial: Trial<'a>,
    objective: impl FnOnce(&Trial<'a>) -> Result<f64>,
) -> TrialRecord {
    let started = Instant::now();
    let outcome = crate::runtime::catch_quietly(|| objective(&trial));
    let (value, state) = match outcome {
        Ok(Ok(v)) if v.is_finite() => (Some(v), TrialState::Complete),
        Ok(Ok(v)) => (
            None,
            TrialState::Failed(format!("the objective returned {v}")),
        ),
        Ok(Err(e)) if e.is::<Pruned>() => (None, TrialState::Pruned),
        Ok(Err(e)) => (None, TrialState::Failed(format!("{e:#}"))),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            (None, TrialState::Failed(format!("panicked: {message}")))
        }
    };
    TrialRecord {
        number: trial.number,
        params: trial.params,
        value,
        state,
        seconds: started.elapsed().as_secs_f64(),
        reports: trial.reports.into_inner(),
    }
}

/// The study's one live output in a notebook, redrawn at most four times a second.
#[derive(Default)]
struct LiveView {
    view: Option<DisplayHandle>,
    last_drawn: Option<Instant>,
}

impl LiveView {
    fn redraw(&mut self, study: &Study) {
        if !study.live
            || !crate::runtime::in_kernel()
            || self
                .last_drawn
                .is_some_and(|t| t.elapsed() <= Duration::from_millis(250))
        {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let frame = study.frame(false);
        match &self.view {
            Some(view) => view.update(&frame),
            None => self.view = Some(display_handle(&frame)),
        }
    }

    /// The final frame, which stays.
    fn finish(&self, study: &Study) {
        if let Some(view) = &self.view {
            view.update(&study.frame(true));
        }
    }
}

/// Point `index` (mod count) of a seeded Latin hypercube of `count` points in [0, 1]^dims.
fn latin_hypercube(count: usize, dims: usize, index: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed ^ 0x1A7);
    let strata: Vec<Vec<usize>> = (0..dims).map(|_| rng.permutation(count)).collect();
    let mut jitter = Rng::new(seed).fork(index as u64);
    (0..dims)
        .map(|d| (strata[d][index % count] as f64 + jitter.uniform()) / count as f64)
        .collect()
}
