//! Column access shared by the data helpers, with errors that name the column.

use anyhow::{bail, Context, Result};
use polars::prelude::*;

/// The column, or an error listing the columns there are.
pub(crate) fn column<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Column> {
    frame.column(name).map_err(|_| {
        anyhow::anyhow!(
            "no column named {name:?}; the columns are {}",
            column_list(frame)
        )
    })
}

pub(crate) fn column_list(frame: &DataFrame) -> String {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| format!("{:?}", n.as_str()))
        .collect();
    format!("[{}]", names.join(", "))
}

pub(crate) fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || matches!(dtype, DataType::Boolean)
}

/// A numeric column as f64 values, nulls kept (NaN counts as missing too, as in scikit-learn).
pub(crate) fn f64_options(frame: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let column = column(frame, name)?;
    if !is_numeric(column.dtype()) {
        bail!(
            "column {name:?} is {}, not numeric; encode it (OneHotEncoder, OrdinalEncoder) or \
             cast it (cast_columns) first",
            column.dtype()
        );
    }
    let cast = column.cast(&DataType::Float64)?;
    Ok(cast
        .f64()?
        .iter()
        .map(|v| v.filter(|x| !x.is_nan()))
        .collect())
}

/// A numeric column as f64 values; a missing value is an error that says where.
pub(crate) fn f64_values(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let values = f64_options(frame, name)?;
    let missing = values.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        let first = values.iter().position(|v| v.is_none()).unwrap_or(0);
        bail!(
            "column {name:?} has {missing} missing values (the first in row {first}); \
             fill them (fill_nulls, Imputer) or drop them (drop_nulls) first"
        );
    }
    Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A class-label column (whole numbers 0..k) as `Vec<usize>`, what metrics and classical
/// models take; any other value is an error that names its row.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let y = class_labels(&iris.frame, "target").unwrap();
/// assert_eq!((y.len(), y[0], y[149]), (150, 0, 2));
/// let bad = df!("target" => [0.0, 1.5]).unwrap();
/// assert!(class_labels(&bad, "target").unwrap_err().to_string().contains("row 1"));
/// ```
pub fn class_labels(frame: &DataFrame, name: &str) -> Result<Vec<usize>> {
    let values = f64_values(frame, name)?;
    values
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
                bail!(
                    "column {name:?} holds class labels, which must be whole numbers 0, 1, 2, …; \
                     row {row} has {v}. Encode the labels first (OrdinalEncoder)"
                )
            }
            Ok(v as usize)
        })
        .collect()
}

/// A string (or categorical-like) column's values as owned strings, nulls kept.
pub(crate) fn string_options(frame: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let column = column(frame, name)?;
    let cast = column
        .cast(&DataType::String)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "column {name:?} ({}) cannot be read as text",
                column.dtype()
            )
        })?;
    Ok(cast.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Checks that every named column exists.
pub(crate) fn require(frame: &DataFrame, names: &[String]) -> Result<()> {
    for name in names {
        column(frame, name)?;
    }
    Ok(())
}

/// The names of the numeric columns, minus `except`.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("a" => [1.0], "b" => ["x"], "target" => [0]).unwrap();
/// assert_eq!(numeric_columns(&frame, &["target"]), ["a"]);
/// ```
pub fn numeric_columns(frame: &DataFrame, except: &[&str]) -> Vec<String> {
    frame
        .columns()
        .iter()
        .filter(|c| is_numeric(c.dtype()) && !except.contains(&c.name().as_str()))
        .map(|c| c.name().to_string())
        .collect()
}

/// The names of the text columns, minus `except`.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("a" => [1.0], "b" => ["x"]).unwrap();
/// assert_eq!(string_columns(&frame, &[]), ["b"]);
/// ```
pub fn string_columns(frame: &DataFrame, except: &[&str]) -> Vec<String> {
    frame
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::String) && !except.contains(&c.name().as_str()))
        .map(|c| c.name().to_string())
        .collect()
}

/// The values of a text column, in row order; a missing value is an error naming its row.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("text" => ["good", "bad"], "target" => [1, 0]).unwrap();
/// assert_eq!(text_values(&frame, "text").unwrap(), ["good", "bad"]);
/// assert!(text_values(&frame, "target").unwrap_err().to_string().contains("not text"));
/// ```
pub fn text_values(frame: &DataFrame, name: &str) -> Result<Vec<String>> {
    let values = column(frame, name)?;
    let Ok(texts) = values.str() else {
        bail!(
            "column {name:?} is {}, not text; cast it first (cast_columns) or pick a text \
             column: {}",
            values.dtype(),
            string_columns(frame, &[]).join(", ")
        );
    };
    texts
        .iter()
        .enumerate()
        .map(|(row, text)| {
            text.map(str::to_string).with_context(|| {
                format!("column {name:?} has a missing value in row {row}; drop or fill it first")
            })
        })
        .collect()
}

/// Converts names given as `&[&str]`, `Vec<String>`, … to owned strings.
pub(crate) fn owned(names: &[impl AsRef<str>]) -> Vec<String> {
    names.iter().map(|n| n.as_ref().to_string()).collect()
}

/// Replaces (or adds) a column.
pub(crate) fn set_column(frame: &mut DataFrame, column: Column) -> Result<()> {
    frame.with_column(column)?;
    Ok(())
}

/// Rows by index, in the given order.
pub(crate) fn take_rows(frame: &DataFrame, rows: &[usize]) -> Result<DataFrame> {
    // A random gather from many chunks is several times slower than one contiguous copy
    // followed by a gather (filters leave one chunk per input chunk).
    if frame.first_col_n_chunks() > 1 && rows.len() > 1024 {
        let mut single = frame.clone();
        single.rechunk_mut_par();
        return take_rows(&single, rows);
    }
    let idx = IdxCa::from_vec("idx".into(), rows.iter().map(|&i| i as IdxSize).collect());
    Ok(frame.take(&idx)?)
}
/// stay missing (null stays null, NaN stays NaN). Runs on polars' buffers directly: this is
/// the hot loop of every scaler.
pub(crate) fn map_columns(
    frame: &DataFrame,
    columns: &[String],
    f: impl Fn(usize, f64) -> f64,
) -> Result<DataFrame> {
    require(frame, columns)?;
    let mut out = frame.clone();
    for (i, name) in columns.iter().enumerate() {
        let values = float_column(frame, name)?;
        let mapped = values.f64()?.apply_values(|x| f(i, x));
        set_column(
            &mut out,
            mapped.with_name(name.as_str().into()).into_column(),
        )?;
    }
    Ok(out)
}

/// A numeric column cast to Float64 (a cheap clone when it already is).
pub(crate) fn float_column(frame: &DataFrame, name: &str) -> Result<Column> {
    let col = column(frame, name)?;
    if !is_numeric(col.dtype()) {
        bail!(
            "column {name:?} is {}, not numeric; encode it (OneHotEncoder, OrdinalEncoder) or \
             cast it (cast_columns) first",
            col.dtype()
        );
    }
    Ok(col.cast(&DataType::Float64)?)
}
