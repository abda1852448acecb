//! One-hot encoding: one 0/1 column per category.

use super::categories::{category_codes, fit_categories, HandleUnknown};
use super::params_table::{fitted_title, params_bundle};
use super::{fitted, Transformer};
use crate::data::columns::{f64_values, owned, require};
use crate::data::split::TrainFrame;
use crate::display::{MimeBundle, Render};
use anyhow::Result;
use polars::prelude::PlHashMap as HashMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// One 0/1 column per category, replacing each encoded column in place.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("color" => ["red", "blue", "red"]).unwrap());
/// let mut encoder = OneHotEncoder::new(&["color"]);
/// let encoded = encoder.fit_transform(&train).unwrap();
/// assert_eq!(encoded.get_column_names(), ["color_blue", "color_red"]);
/// let test = df!("color" => ["green"]).unwrap();
/// assert!(encoder.transform(&test).unwrap_err().to_string().contains("\"green\""));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneHotEncoder {
    pub columns: Vec<String>,
    pub handle_unknown: HandleUnknown,
    /// Fitted: the sorted categories of each column.
    categories: Vec<Vec<String>>,
}

impl OneHotEncoder {
    /// An encoder for the named columns; unseen categories are an error unless
    /// [`handle_unknown`](OneHotEncoder::handle_unknown) says otherwise.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(OneHotEncoder::new(&["color"]).handle_unknown, HandleUnknown::Error);
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> OneHotEncoder {
        OneHotEncoder {
            columns: owned(columns),
            handle_unknown: HandleUnknown::Error,
            categories: vec![],
        }
    }

    /// What to do with categories not seen in training.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("c" => ["a", "b"]).unwrap());
    /// let mut encoder = OneHotEncoder::new(&["c"]).handle_unknown(HandleUnknown::Other);
    /// encoder.fit(&train).unwrap();
    /// let out = encoder.transform(&df!("c" => ["z"]).unwrap()).unwrap();
    /// assert_eq!(out.column("c_(other)").unwrap().f64().unwrap().get(0), Some(1.0));
    /// ```
    pub fn handle_unknown(mut self, how: HandleUnknown) -> OneHotEncoder {
        self.handle_unknown = how;
        self
    }

    /// Each column's categories, sorted as scikit-learn sorts them (its `categories_`); an
    /// error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut encoder = OneHotEncoder::new(&["size"]);
    /// assert!(encoder.categories().is_err());
    /// encoder.fit(&TrainFrame::assume_training(df!("size" => ["m", "s", "l", "m"]).unwrap())).unwrap();
    /// assert_eq!(encoder.categories().unwrap()[0], ["l", "m", "s"]);
    /// ```
    pub fn categories(&self) -> Result<&[Vec<String>]> {
        fitted(&self.categories, &self.columns, false, self.name())
    }

    /// The output column names for input column i.
    fn output_names(&self, i: usize) -> Vec<String> {
        let name = &self.columns[i];
        let mut names: Vec<String> = self.categories[i]
            .iter()
            .map(|c| format!("{name}_{c}"))
            .collect();
        if self.handle_unknown == HandleUnknown::Other {
            names.push(format!("{name}_(other)"));
        }
        names
    }
}

impl Transformer for OneHotEncoder {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        self.categories = self
            .columns
            .iter()
            .map(|name| fit_categories(train, name, "OneHotEncoder"))
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.categories, &self.columns, false, self.name())?;
        require(frame, &self.columns)?;
        let mut encoded: HashMap<&str, Vec<Column>> = HashMap::default();
        for (i, name) in self.columns.iter().enumerate() {
            let categories = &self.categories[i];
            let codes = category_codes(
                frame,
                name,
                categories,
                self.handle_unknown,
                "OneHotEncoder",
            )?;
            let other =
                (self.handle_unknown == HandleUnknown::Other).then_some(categories.len() as u32);
            // One sequential pass per output column: cheaper than scattered writes.
            let columns = self
                .output_names(i)
                .into_iter()
                .enumerate()
                .map(|(k, out_name)| {
                    let k = k as u32;
                    let values: Vec<f64> = codes
                        .iter()
                        .map(|&c| if c.or(other) == Some(k) { 1.0 } else { 0.0 })
                        .collect();
                    Column::new(out_name.as_str().into(), values)
                })
                .collect();
            encoded.insert(name.as_str(), columns);
        }
        let mut result = Vec::with_capacity(frame.width() + 16);
        for col in frame.columns() {
            match encoded.remove(col.name().as_str()) {
                Some(columns) => result.extend(columns),
                None => result.push(col.clone()),
            }
        }
        Ok(DataFrame::new_infer_height(result)?)
    }

    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.categories, &self.columns, false, self.name())?;
        let mut out = frame.clone();
        for (i, name) in self.columns.iter().enumerate() {
            let names = self.output_names(i);
            let indicators = names
                .iter()
                .map(|n| f64_values(frame, n))
                .collect::<Result<Vec<_>>>()?;
            let values: StringChunked = (0..frame.height())
                .map(|row| {
                    let k = (0..self.categories[i].len()).find(|&k| indicators[k][row] == 1.0)?;
                    Some(self.categories[i][k].clone())
                })
                .collect();
            let position = frame
                .get_column_index(&names[0])
                .expect("checked by f64_values above");
            out = out.drop_many(names.iter().map(String::as_str));
            out.insert_column(
                position.min(out.width()),
                values.with_name(name.as_str().into()).into_column(),
            )?;
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "OneHotEncoder"
    }
}

impl Render for OneHotEncoder {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = self
            .columns
            .iter()
            .zip(&self.categories)
            .map(|(c, cats)| vec![c.clone(), cats.len().to_string(), cats.join(", ")])
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.categories.is_empty()),
            &["column", "categories", "values"],
            rows,
        )
    }
}
