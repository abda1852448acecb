//! Looking at a table before touching it: summary statistics, missing values, duplicates,
//! class balance. Each returns a DataFrame, so it shows as an HTML table in the kernel.

use super::columns::{column, f64_options, is_numeric};
use super::stats::{quantile_sorted, sorted};
use anyhow::Result;
use polars::prelude::*;

/// Summary statistics of every numeric column, as pandas' `describe`: count, missing, mean,
/// std (sample, ddof 1), min, quartiles, max.
///
/// ```
/// use trainbook::prelude::*;
/// let summary = describe(&load_iris().frame).unwrap();
/// assert_eq!(summary.column("statistic").unwrap().len(), 9);
/// let means = summary.column("sepal length (cm)").unwrap().f64().unwrap().get(2).unwrap();
/// assert!((means - 5.843333).abs() < 1e-6);
/// ```
pub fn describe(frame: &DataFrame) -> Result<DataFrame> {
    let names = [
        "count", "missing", "mean", "std", "min", "25%", "50%", "75%", "max",
    ];
    let mut columns = vec![Column::new("statistic".into(), names)];
    for col in frame.columns() {
        if !is_numeric(col.dtype()) {
            continue;
        }
        let all = f64_options(frame, col.name())?;
        let values = sorted(all.iter().flatten().copied().collect());
        let n = values.len();
        let stats = if n == 0 {
            vec![
                Some(0.0),
                Some(all.len() as f64),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ]
        } else {
            let m = values.iter().sum::<f64>() / n as f64;
            let std = (n > 1).then(|| {
                (values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64).sqrt()
            });
            vec![
                Some(n as f64),
                Some((all.len() - n) as f64),
                Some(m),
                std,
                Some(values[0]),
                Some(quantile_sorted(&values, 0.25)),
                Some(quantile_sorted(&values, 0.5)),
                Some(quantile_sorted(&values, 0.75)),
                Some(values[n - 1]),
            ]
        };
        let stats: Float64Chunked = stats.into_iter().collect();
        columns.push(stats.with_name(col.name().clone()).into_column());
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// Per column: type, missing values (null or NaN) and their share, distinct values.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [Some(1.0), None], "y" => ["a", "a"]).unwrap();
/// let report = null_counts(&frame).unwrap();
/// assert_eq!(report.column("missing").unwrap().u64().unwrap().get(0), Some(1));
/// ```
pub fn null_counts(frame: &DataFrame) -> Result<DataFrame> {
    let (mut names, mut dtypes, mut missing, mut share, mut distinct) =
        (vec![], vec![], vec![], vec![], vec![]);
    for col in frame.columns() {
        let n_missing = if is_numeric(col.dtype()) {
            f64_options(frame, col.name())?
                .iter()
                .filter(|v| v.is_none())
                .count()
        } else {
            col.null_count()
        };
        names.push(col.name().to_string());
        dtypes.push(col.dtype().to_string());
        missing.push(n_missing as u64);
        share.push(if frame.height() == 0 {
            0.0
        } else {
            n_missing as f64 / frame.height() as f64
        });
        distinct.push(col.n_unique()? as u64);
    }
    Ok(DataFrame::new_infer_height(vec![
        Column::new("column".into(), names),
        Column::new("dtype".into(), dtypes),
        Column::new("missing".into(), missing),
        Column::new("missing share".into(), share),
        Column::new("distinct".into(), distinct),
    ])?)
}

/// How many rows each class of `target` has, and its share, sorted by class.
///
/// ```
/// use trainbook::prelude::*;
/// let balance = class_balance(&load_breast_cancer().frame, "target").unwrap();
/// assert_eq!(balance.column("count").unwrap().u64().unwrap().get(0), Some(212));
/// ```
pub fn class_balance(frame: &DataFrame, target: &str) -> Result<DataFrame> {
    let col = column(frame, target)?;
    let counts = col
        .as_materialized_series()
        .value_counts(false, false, "count".into(), false)?
        .sort([target], SortMultipleOptions::default())?;
    let total = frame.height() as f64;
    let count = counts.column("count")?.cast(&DataType::UInt64)?;
    let share: Float64Chunked = count
        .u64()?
        .iter()
        .map(|c| c.map(|c| c as f64 / total))
        .collect();
    let mut out = counts.select([target])?;
    out.with_column(count.with_name("count".into()))?;
    out.with_column(share.with_name("share".into()).into_column())?;
    Ok(out)
}
