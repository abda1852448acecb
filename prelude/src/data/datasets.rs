//! The datasets scikit-learn ships, with the same rows and columns, embedded in the prelude
//! (no network). `prelude/data/export_sklearn_datasets.py` wrote the CSV files.

use crate::display::{html_escape, MimeBundle, Render};
use crate::vision::{Image, ImageSet};
use anyhow::{bail, Context, Result};
use polars::prelude::{CsvReadOptions, DataFrame, DataType, SerReader};
use std::io::Cursor;

/// What a dataset's target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `target` holds class indices 0..k, named by `target_names`.
    Classification,
    /// `target` holds real values.
    Regression,
}

/// A table of features plus a `target` column.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: &'static str,
    /// Features and the `target` column, in scikit-learn's order.
    pub frame: DataFrame,
    pub feature_names: Vec<String>,
    /// Class names for classification (`target_names[k]` names class k); empty for regression.
    pub target_names: Vec<String>,
    pub task: TargetKind,
    pub description: &'static str,
}

fn load(
    name: &'static str,
    csv: &'static str,
    target_names: &[&str],
    task: TargetKind,
    description: &'static str,
) -> Dataset {
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .into_reader_with_file_handle(Cursor::new(csv.as_bytes()))
        .finish()
        .expect("the embedded dataset CSV is valid (checked by the tests)");
    let feature_names = frame
        .get_column_names()
        .iter()
        .filter(|n| n.as_str() != "target")
        .map(|n| n.to_string())
        .collect();
    Dataset {
        name,
        frame,
        feature_names,
        target_names: target_names.iter().map(|s| s.to_string()).collect(),
        task,
        description,
    }
}

/// Iris: 150 flowers, 4 measurements (cm), 3 species.
///
/// ```
/// let iris = trainbook::prelude::load_iris();
/// assert_eq!(iris.frame.shape(), (150, 5));
/// assert_eq!(iris.target_names, ["setosa", "versicolor", "virginica"]);
/// ```
pub fn load_iris() -> Dataset {
    load(
        "iris",
        include_str!("../../data/iris.csv"),
        &["setosa", "versicolor", "virginica"],
        TargetKind::Classification,
        "Fisher's iris flowers: sepal and petal length and width of 3 species, 50 each.",
    )
}

/// Wine: 178 wines, 13 chemical measurements, 3 cultivars.
///
/// ```
/// let wine = trainbook::prelude::load_wine();
/// assert_eq!(wine.frame.shape(), (178, 14));
/// ```
pub fn load_wine() -> Dataset {
    load(
        "wine",
        include_str!("../../data/wine.csv"),
        &["class_0", "class_1", "class_2"],
        TargetKind::Classification,
        "UCI wine recognition: chemical analysis of wines from three cultivars in Italy.",
    )
}

/// Breast cancer (Wisconsin diagnostic): 569 tumours, 30 features, malignant (0) or benign (1).
///
/// ```
/// let cancer = trainbook::prelude::load_breast_cancer();
/// assert_eq!(cancer.frame.shape(), (569, 31));
/// assert_eq!(cancer.target_names, ["malignant", "benign"]);
/// ```
pub fn load_breast_cancer() -> Dataset {
    load(
        "breast_cancer",
        include_str!("../../data/breast_cancer.csv"),
        &["malignant", "benign"],
        TargetKind::Classification,
        "UCI breast cancer Wisconsin (diagnostic): cell nuclei features from biopsy images.",
    )
}

/// Digits: 1797 handwritten digits as 8x8 images (pixel values 0..16, row-major), 10 classes.
///
/// ```
/// let digits = trainbook::prelude::load_digits();
/// assert_eq!(digits.frame.shape(), (1797, 65));
/// assert_eq!(digits.feature_names[9], "pixel_1_1");
/// ```
pub fn load_digits() -> Dataset {
    load(
        "digits",
        include_str!("../../data/digits.csv"),
        &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
        TargetKind::Classification,
        "UCI optical recognition of handwritten digits: 8x8 images of 4-bit pixel counts.",
    )
}

/// Diabetes: 442 patients, 10 baseline features (mean-centred and scaled as in scikit-learn),
/// target a measure of disease progression one year later.
///
/// ```
/// let diabetes = trainbook::prelude::load_diabetes();
/// assert_eq!(diabetes.frame.shape(), (442, 11));
/// ```
pub fn load_diabetes() -> Dataset {
    load(
        "diabetes",
        include_str!("../../data/diabetes.csv"),
        &[],
        TargetKind::Regression,
        "Efron et al. diabetes data: age, sex, BMI, blood pressure and six blood serum measures.",
    )
}

impl Dataset {
    /// The feature columns (`feature_names`) without the target. An error if the frame no
    /// longer has one of them (the fields are public).
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::load_wine().features().unwrap().width(), 13);
    /// ```
    pub fn features(&self) -> Result<DataFrame> {
        self.frame
            .select(self.feature_names.iter().map(String::as_str))
            .with_context(|| {
                format!(
                    "{}: the frame lacks a feature column named in feature_names; keep the \
                     two in step when changing either",
                    self.name
                )
            })
    }

    /// The features as rows of f64 (row i is sample i), for models that take plain rows.
    ///
    /// ```
    /// let x = trainbook::prelude::load_iris().x().unwrap();
    /// assert_eq!(x[0], vec![5.1, 3.5, 1.4, 0.2]);
    /// ```
    pub fn x(&self) -> Result<Vec<Vec<f64>>> {
        let columns: Vec<Vec<f64>> = self
            .feature_names
            .iter()
            .map(|name| column_f64(&self.frame, name))
            .collect::<Result<_>>()
            .with_context(|| format!("{}: reading the features", self.name))?;
        Ok((0..self.frame.height())
            .map(|i| columns.iter().map(|c| c[i]).collect())
            .collect())
    }

    /// Class labels for a classification dataset.
    ///
    /// ```
    /// let y = trainbook::prelude::load_iris().y_classes().unwrap();
    /// assert_eq!((y[0], y[149]), (0, 2));
    /// ```
    pub fn y_classes(&self) -> Result<Vec<usize>> {
        if self.task != TargetKind::Classification {
            bail!(
                "{} is a regression dataset; use y_values() for its real-valued target",
                self.name
            );
        }
        let values = column_f64(&self.frame, "target")?;
        Ok(values.iter().map(|&v| v as usize).collect())
    }

    /// The target as f64 values (class indices as numbers for classification).
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::load_diabetes().y_values().unwrap().len(), 442);
    /// ```
    pub fn y_values(&self) -> Result<Vec<f64>> {
        column_f64(&self.frame, "target")
            .with_context(|| format!("{}: reading the target", self.name))
    }
}

/// A numeric column as f64 values; nulls are an error that names the column.
fn column_f64(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = frame
        .column(name)
        .with_context(|| format!("no column named {name:?}"))?;
    let cast = column
        .cast(&DataType::Float64)
        .with_context(|| format!("column {name:?} ({}) is not numeric", column.dtype()))?;
    let values = cast.f64()?;
    if values.null_count() > 0 {
        bail!(
            "column {name:?} has {} missing values; fill or drop them first",
            values.null_count()
        );
    }
    Ok(values.into_no_null_iter().collect())
}

impl Render for Dataset {
    fn mime_bundle(&self) -> MimeBundle {
        let (rows, _) = self.frame.shape();
        let mut html = format!(
            "<h4>{} <small>({} samples, {} features, {})</small></h4><p>{}</p>",
            html_escape(self.name),
            rows,
            self.feature_names.len(),
            match self.task {
                TargetKind::Classification => format!("{} classes", self.target_names.len()),
                TargetKind::Regression => "regression".to_string(),
            },
            html_escape(self.description)
        );
        html += &super::frame_to_html(&self.frame.head(Some(10)));
        MimeBundle::text(format!(
            "{}: {} samples, {} features\n{}",
            self.name,
            rows,
            self.feature_names.len(),
            self.frame.head(Some(5))
        ))
        .with("text/html", html)
    }
}

/// The digits of [`load_digits`] as 8x8 gray images (ink white,
/// 0..255), labelled 0–9.
///
/// ```
/// use trainbook::prelude::*;
/// let digits = load_digits_images();
/// assert_eq!((digits.images[0].width(), digits.images[0].channels(), digits.labels[0]), (8, 1, 0));
/// ```
pub fn load_digits_images() -> ImageSet {
    let digits = load_digits();
    let labels = digits
        .y_classes()
        .expect("the shipped digits have class labels");
    let images = digits
        .x()
        .expect("the shipped digits are numeric")
        .iter()
        .map(|row| Image::from_digit_row(row))
        .collect();
    ImageSet {
        images,
        labels,
        classes: digits.target_names.clone(),
    }
}
