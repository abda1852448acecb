//! Cloud cost estimates: an editable price table (GPU hours, storage, egress) and what a
//! planned amount of use costs under it, as a table and a chart.

use crate::charts::BarChart;
use crate::display::{html_escape, MimeBundle, Render};
use anyhow::{bail, Result};
use polars::prelude::{DataFrame, NamedFrom, Series};

/// Prices in US dollars. The defaults are the guide's: a V100 at $0.45 per hour, storage at
/// $0.026 per GB-month, egress at $0.12 per GB. Edit them to your provider's.
///
/// ```
/// use trainbook::prelude::*;
/// let prices = Prices::default().gpu("A100", 1.10).storage_per_gb_month(0.02);
/// assert_eq!(prices.gpu_per_hour("V100").unwrap(), 0.45);
/// assert_eq!(prices.gpu_per_hour("A100").unwrap(), 1.10);
/// assert!(prices.gpu_per_hour("H100").is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    /// Dollars per hour, by GPU name.
    pub gpus: Vec<(String, f64)>,
    pub storage_per_gb_month: f64,
    pub egress_per_gb: f64,
}

impl Default for Prices {
    fn default() -> Prices {
        Prices {
            gpus: vec![("V100".to_string(), 0.45)],
            storage_per_gb_month: 0.026,
            egress_per_gb: 0.12,
        }
    }
}

impl Prices {
    /// Adds a GPU, or changes its hourly price.
    pub fn gpu(mut self, name: &str, per_hour: f64) -> Prices {
        match self.gpus.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = per_hour,
            None => self.gpus.push((name.to_string(), per_hour)),
        }
        self
    }

    pub fn storage_per_gb_month(mut self, dollars: f64) -> Prices {
        self.storage_per_gb_month = dollars;
        self
    }

    pub fn egress_per_gb(mut self, dollars: f64) -> Prices {
        self.egress_per_gb = dollars;
        self
    }

    /// The hourly price of a GPU, or an error listing the known ones.
    pub fn gpu_per_hour(&self, name: &str) -> Result<f64> {
        match self.gpus.iter().find(|(n, _)| n == name) {
            Some((_, price)) => Ok(*price),
            None => bail!(
                "no price for GPU {name:?}; the table has {}. Add it with \
                 Prices::default().gpu({name:?}, dollars_per_hour)",
                self.gpus
                    .iter()
                    .map(|(n, p)| format!("{n} (${p}/h)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// What `usage` costs at these prices.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let usage = Usage::gpu("V100", 10.0).storage(50.0, 3.0).egress(20.0);
    /// let cost = Prices::default().estimate(&usage).unwrap();
    /// // 10 h x $0.45 + 50 GB x 3 months x $0.026 + 20 GB x $0.12
    /// assert!((cost.total() - (4.5 + 3.9 + 2.4)).abs() < 1e-12);
    /// ```
    pub fn estimate(&self, usage: &Usage) -> Result<CostEstimate> {
        for (what, value) in [
            ("GPU hours", usage.gpu_hours),
            ("storage GB", usage.storage_gb),
            ("storage months", usage.storage_months),
            ("egress GB", usage.egress_gb),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                bail!("{what} must be a number >= 0, got {value}");
            }
        }
        let gpu_price = self.gpu_per_hour(&usage.gpu)?;
        Ok(CostEstimate {
            lines: vec![
                CostLine {
                    item: format!("{} GPU", usage.gpu),
                    quantity: usage.gpu_hours,
                    unit: "hour".into(),
                    unit_price: gpu_price,
                },
                CostLine {
                    item: "storage".into(),
                    quantity: usage.storage_gb * usage.storage_months,
                    unit: "GB-month".into(),
                    unit_price: self.storage_per_gb_month,
                },
                CostLine {
                    item: "egress".into(),
                    quantity: usage.egress_gb,
                    unit: "GB".into(),
                    unit_price: self.egress_per_gb,
                },
            ],
        })
    }
}

/// A planned amount of cloud use.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    pub gpu: String,
    pub gpu_hours: f64,
    pub storage_gb: f64,
    pub storage_months: f64,
    pub egress_gb: f64,
}

impl Usage {
    /// `hours` on the named GPU, nothing stored or sent yet.
    pub fn gpu(name: &str, hours: f64) -> Usage {
        Usage {
            gpu: name.to_string(),
            gpu_hours: hours,
            storage_gb: 0.0,
            storage_months: 0.0,
            egress_gb: 0.0,
        }
    }

    /// GPU time from a measured run: `seconds` per training run times `runs` (a tuning study's
    /// trials, or repeated experiments), in hours.
    ///
    /// ```
    /// let usage = trainbook::prelude::Usage::training("V100", 90.0, 40);
    /// assert_eq!(usage.gpu_hours, 1.0);
    /// ```
    pub fn training(gpu: &str, seconds: f64, runs: usize) -> Usage {
        Usage::gpu(gpu, seconds * runs as f64 / 3600.0)
    }

    /// `gb` of data and checkpoints kept for `months`.
    pub fn storage(mut self, gb: f64, months: f64) -> Usage {
        self.storage_gb = gb;
        self.storage_months = months;
        self
    }

    /// `gb` sent out of the cloud (downloads of models, results).
    pub fn egress(mut self, gb: f64) -> Usage {
        self.egress_gb = gb;
        self
    }
}

/// One priced item of an estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct CostLine {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub unit_price: f64,
}

impl CostLine {
    pub fn cost(&self) -> f64 {
        self.quantity * self.unit_price
    }
}

/// The cost of a [`Usage`] at some [`Prices`], by item.
#[derive(Clone, Debug, PartialEq)]
pub struct CostEstimate {
    pub lines: Vec<CostLine>,
}

impl CostEstimate {
    /// Dollars in all.
    pub fn total(&self) -> f64 {
        self.lines.iter().map(CostLine::cost).sum()
    }

    /// One row per item: quantity, unit, unit price and cost.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let table = Prices::default().estimate(&Usage::gpu("V100", 2.0)).unwrap().to_frame().unwrap();
    /// assert_eq!(table.shape(), (3, 5));
    /// ```
    pub fn to_frame(&self) -> Result<DataFrame> {
        let column = |name: &str, values: Vec<f64>| Series::new(name.into(), values).into();
        Ok(DataFrame::new_infer_height(vec![
            Series::new(
                "item".into(),
                self.lines
                    .iter()
                    .map(|l| l.item.clone())
                    .collect::<Vec<_>>(),
            )
            .into(),
            column("quantity", self.lines.iter().map(|l| l.quantity).collect()),
            Series::new(
                "unit".into(),
                self.lines
                    .iter()
                    .map(|l| l.unit.clone())
                    .collect::<Vec<_>>(),
            )
            .into(),
            column(
                "unit price ($)",
                self.lines.iter().map(|l| l.unit_price).collect(),
            ),
            column("cost ($)", self.lines.iter().map(CostLine::cost).collect()),
        ])?)
    }

    /// The cost of each item as bars, labelled in dollars.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let chart = Prices::default().estimate(&Usage::gpu("V100", 10.0)).unwrap().chart();
    /// assert!(chart.to_svg().unwrap().contains("$4.50"));
    /// ```
    pub fn chart(&self) -> BarChart {
        let labels: Vec<&str> = self.lines.iter().map(|l| l.item.as_str()).collect();
        let costs: Vec<f64> = self.lines.iter().map(CostLine::cost).collect();
        BarChart::new(&format!("Estimated cost: ${:.2}", self.total()))
            .y_label("dollars")
            .value_format(|v| format!("${v:.2}"))
            .bars(&labels, &costs)
            .expect("one cost per item")
    }
}

impl Render for CostEstimate {
    fn mime_bundle(&self) -> MimeBundle {
        let mut text = String::new();
        let mut html = String::from(
            "<table><thead><tr><th>item</th><th>quantity</th><th>unit price</th><th>cost</th>\
             </tr></thead><tbody>",
        );
        for l in &self.lines {
            text += &format!(
                "{}: {:.2} {} x ${} = ${:.2}\n",
                l.item,
                l.quantity,
                l.unit,
                l.unit_price,
                l.cost()
            );
            html += &format!(
                "<tr><td>{}</td><td>{:.2} {}</td><td>${}</td><td>${:.2}</td></tr>",
                html_escape(&l.item),
                l.quantity,
                html_escape(&l.unit),
                l.unit_price,
                l.cost()
            );
        }
        text += &format!("total: ${:.2}", self.total());
        html += &format!(
            "<tr><th>total</th><td></td><td></td><th>${:.2}</th></tr></tbody></table>",
            self.total()
        );
        MimeBundle::text(text).with("text/html", html)
    }
}
