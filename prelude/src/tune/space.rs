//! Search spaces: named parameters with their kinds and bounds, conditional parameters, and
//! the sampled values with their types kept (an integer parameter gives an `i64`).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a parameter is drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    /// A real number in [low, high].
    Uniform { low: f64, high: f64 },
    /// A positive real number whose logarithm is uniform in [ln low, ln high] (learning rates).
    LogUniform { low: f64, high: f64 },
    /// An integer low, low + step, … up to high.
    Int { low: i64, high: i64, step: i64 },
    /// One of the listed options.
    Choice(Vec<String>),
}

/// One named parameter; `condition` makes it exist only when another (categorical) parameter
/// has a given value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub kind: Kind,
    pub condition: Option<(String, String)>,
}

/// A sampled value, typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Float(#[serde(with = "crate::data::exact")] f64),
    Int(i64),
    Choice(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Float(v) => write!(f, "{v:.6}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Choice(v) => write!(f, "{v}"),
        }
    }
}

/// The values of one trial, by name; conditional parameters whose condition does not hold are
/// absent.
///
/// ```
/// use trainbook::prelude::*;
/// let space = Space::new().log_uniform("lr", 1e-4, 1e-1).int("layers", 1, 3);
/// let params = space.sample(&mut trainbook::random::Rng::new(0));
/// assert!(params.float("lr").unwrap() >= 1e-4);
/// assert!((1..=3).contains(&params.int("layers").unwrap()));
/// assert!(params.choice("layers").is_err()); // an integer, not a choice
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(pub BTreeMap<String, Value>);

impl Params {
    fn get(&self, name: &str) -> Result<&Value> {
        self.0.get(name).with_context(|| {
            format!(
                "this trial has no parameter {name:?} (it has {}); a conditional parameter is \
                 only present when its condition holds",
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// A real-valued parameter (uniform or log-uniform).
    pub fn float(&self, name: &str) -> Result<f64> {
        match self.get(name)? {
            Value::Float(v) => Ok(*v),
            other => bail!("{name} is {other:?}, not a real number"),
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name)? {
            Value::Int(v) => Ok(*v),
            other => bail!("{name} is {other:?}, not an integer"),
        }
    }

    /// A categorical parameter.
    pub fn choice(&self, name: &str) -> Result<&str> {
        match self.get(name)? {
            Value::Choice(v) => Ok(v),
            other => bail!("{name} is {other:?}, not a choice"),
        }
    }

    /// True when the parameter is present in this trial.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl std::fmt::Display for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// A search space, built with chained calls; every search (grid, random, Bayesian) takes one.
///
/// ```
/// use trainbook::prelude::*;
/// let space = Space::new()
///     .log_uniform("lr", 1e-5, 1e-1)
///     .int_step("batch", 16, 128, 16)
///     .choice("optimizer", &["adam", "sgd"])
///     .uniform("momentum", 0.0, 0.99)
///     .only_if("momentum", "optimizer", "sgd");
/// assert_eq!(space.params().len(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Space {
    params: Vec<Param>,
}

impl Space {
    pub fn new() -> Space {
        Space::default()
    }

    fn push(mut self, name: &str, kind: Kind) -> Space {
        self.params.retain(|p| p.name != name);
        self.params.push(Param {
            name: name.to_string(),
            kind,
            condition: None,
        });
        self
    }

    /// A real number uniform in [low, high].
    pub fn uniform(self, name: &str, low: f64, high: f64) -> Space {
        self.push(name, Kind::Uniform { low, high })
    }

    /// A positive real number, uniform in log scale.
    pub fn log_uniform(self, name: &str, low: f64, high: f64) -> Space {
        self.push(name, Kind::LogUniform { low, high })
    }

    /// An integer in [low, high].
    pub fn int(self, name: &str, low: i64, high: i64) -> Space {
        self.push(name, Kind::Int { low, high, step: 1 })
    }

    /// An integer low, low + step, … ≤ high.
    pub fn int_step(self, name: &str, low: i64, high: i64, step: i64) -> Space {
        self.push(name, Kind::Int { low, high, step })
    }

    /// One of `options`.
    pub fn choice(self, name: &str, options: &[&str]) -> Space {
        self.push(
            name,
            Kind::Choice(options.iter().map(|o| o.to_string()).collect()),
        )
    }

    /// Makes `name` exist only in trials where the categorical `parent` is `value`.
    pub fn only_if(mut self, name: &str, parent: &str, value: &str) -> Space {
        if let Some(p) = self.params.iter_mut().find(|p| p.name == name) {
            p.condition = Some((parent.to_string(), value.to_string()));
        }
        self
    }

    /// The parameters, in the order they were declared.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Checks bounds and conditions, with an error naming the parameter and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.params.is_empty() {
            bail!("the search space is empty; add parameters with .uniform, .int, .choice, …");
        }
        for p in &self.params {
            match &p.kind {
                Kind::Uniform { low, high } if low.partial_cmp(high) != Some(std::cmp::Ordering::Less) => {
                    bail!("{}: low {low} must be below high {high}", p.name)
                }
                Kind::LogUniform { low, high } if *low <= 0.0 || low.partial_cmp(high) != Some(std::cmp::Ordering::Less) => bail!(
                    "{}: a log-uniform parameter needs 0 < low < high, got {low} and {high}",
                    p.name
                ),
                Kind::Int { low, high, step } if *step < 1 || low > high => bail!(
                    "{}: an integer parameter needs low <= high and step >= 1, got {low}, {high}, {step}",
                    p.name
                ),
                Kind::Choice(options) if options.is_empty() => {
                    bail!("{}: a choice needs at least one option", p.name)
                }
                _ => {}
            }
            if let Some((parent, value)) = &p.condition {
                let Some(parent_param) = self.params.iter().find(|q| &q.name == parent) else {
                    bail!("{} depends on {parent}, which is not in the space", p.name);
                };
                match &parent_param.kind {
                    Kind::Choice(options) if options.contains(value) => {}
                    _ => bail!(
                        "{} depends on {parent} = {value}, but {parent} is not a choice with that option",
                        p.name
                    ),
                }
            }
        }
        Ok(())
    }

    /// The parameters that exist for these values of the categorical ones.
    pub(crate) fn active(&self, params: &Params) -> Vec<bool> {
        self.params
            .iter()
            .map(|p| match &p.condition {
                None => true,
                Some((parent, value)) => params.choice(parent).is_ok_and(|v| v == value),
            })
            .collect()
    }

    /// One uniformly random point.
    pub fn sample(&self, rng: &mut crate::random::Rng) -> Params {
        let unit: Vec<f64> = (0..self.params.len()).map(|_| rng.uniform()).collect();
        self.from_unit(&unit)
    }

    /// The point at coordinates `unit` in [0, 1]^d (one per parameter, in order), which is
    /// how the Bayesian search sees the space. Inactive conditional parameters are dropped.
    pub fn from_unit(&self, unit: &[f64]) -> Params {
        let mut values = BTreeMap::new();
        for (p, &u) in self.params.iter().zip(unit) {
            let u = u.clamp(0.0, 1.0);
            let value = match &p.kind {
                Kind::Uniform { low, high } => Value::Float(low + u * (high - low)),
                Kind::LogUniform { low, high } => {
                    Value::Float((low.ln() + u * (high.ln() - low.ln())).exp())
                }
                Kind::Int { low, high, step } => {
                    let count = (high - low) / step + 1;
                    let index = ((u * count as f64).floor() as i64).min(count - 1);
                    Value::Int(low + index * step)
                }
                Kind::Choice(options) => {
                    let index =
                        ((u * options.len() as f64).floor() as usize).min(options.len() - 1);
                    Value::Choice(options[index].clone())
                }
            };
            values.insert(p.name.clone(), value);
        }
        let mut params = Params(values);
        let active = self.active(&params);
        for (p, on) in self.params.iter().zip(active) {
            if !on {
                params.0.remove(&p.name);
            }
        }
        params
    }

    /// The unit coordinates of a point (the centre of its cell for integers and choices);
    /// inactive parameters get 0.5.
    pub fn to_unit(&self, params: &Params) -> Vec<f64> {
        self.params
            .iter()
            .map(|p| match (&p.kind, params.0.get(&p.name)) {
                (Kind::Uniform { low, high }, Some(Value::Float(v))) => (v - low) / (high - low),
                (Kind::LogUniform { low, high }, Some(Value::Float(v))) => {
                    (v.ln() - low.ln()) / (high.ln() - low.ln())
                }
                (Kind::Int { low, high, step }, Some(Value::Int(v))) => {
                    let count = (high - low) / step + 1;
                    (((v - low) / step) as f64 + 0.5) / count as f64
                }
                (Kind::Choice(options), Some(Value::Choice(v))) => {
                    let index = options.iter().position(|o| o == v).unwrap_or(0);
                    (index as f64 + 0.5) / options.len() as f64
                }
                _ => 0.5,
            })
            .collect()
    }

    /// The grid with `points` values per real parameter (log-spaced for log-uniform), every
    /// integer and every option; conditional parameters only where they apply.
    pub fn grid(&self, points: usize) -> Result<Vec<Params>> {
        self.validate()?;
        let points = points.max(2);
        let axes: Vec<Vec<f64>> = self
            .params
            .iter()
            .map(|p| match &p.kind {
                Kind::Uniform { .. } | Kind::LogUniform { .. } => (0..points)
                    .map(|i| i as f64 / (points - 1) as f64)
                    .collect(),
                Kind::Int { low, high, step } => {
                    let count = (high - low) / step + 1;
                    (0..count)
                        .map(|i| (i as f64 + 0.5) / count as f64)
                        .collect()
                }
                Kind::Choice(options) => (0..options.len())
                    .map(|i| (i as f64 + 0.5) / options.len() as f64)
                    .collect(),
            })
            .collect();
        let total: usize = axes.iter().map(Vec::len).product();
        if total > 1_000_000 {
            bail!("the grid has {total} points; use fewer points per axis or a random search");
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut grid = Vec::new();
        for index in 0..total {
            let mut rest = index;
            let mut unit = vec![0.0; axes.len()];
            for d in (0..axes.len()).rev() {
                unit[d] = axes[d][rest % axes[d].len()];
                rest /= axes[d].len();
            }
            let params = self.from_unit(&unit);
            // Inactive conditional axes repeat points: keep each distinct point once.
            if seen.insert(format!("{params}")) {
                grid.push(params);
            }
        }
        Ok(grid)
    }
}
