//! A dense row-major matrix of f64: what the classical models take (one allocation, rows
//! contiguous, cheap to hand to threads).

use crate::data::{Dataset, TrainTestSplit};
use anyhow::{bail, Result};
use polars::prelude::{Column, DataFrame};

/// Samples as rows, features as columns.
///
/// ```
/// use trainbook::prelude::*;
/// let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
/// assert_eq!((x.rows(), x.cols()), (2, 2));
/// assert_eq!(x.row(1), &[3.0, 4.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
    /// The columns' names when the matrix came from a frame or dataset; `x0`, `x1`, ...
    /// otherwise (see [`Matrix::column_names`]).
    names: Option<Vec<String>>,
}

/// Two matrices are equal when their shapes and values are; names are labels, not values.
impl PartialEq for Matrix {
    fn eq(&self, other: &Matrix) -> bool {
        (self.rows, self.cols) == (other.rows, other.cols) && self.data == other.data
    }
}

impl Matrix {
    /// A matrix from row-major values; `data.len()` must be `rows * cols`.
    ///
    /// ```
    /// let x = trainbook::prelude::Matrix::new(2, 3, vec![0.0; 6]).unwrap();
    /// assert_eq!(x.cols(), 3);
    /// ```
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Matrix> {
        if data.len() != rows * cols {
            bail!(
                "a {rows} x {cols} matrix needs {} values, got {}",
                rows * cols,
                data.len()
            );
        }
        Ok(Matrix {
            rows,
            cols,
            data,
            names: None,
        })
    }

    /// A matrix from rows of equal length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Matrix> {
        let cols = rows.first().map_or(0, Vec::len);
        if let Some(i) = rows.iter().position(|r| r.len() != cols) {
            bail!(
                "row {i} has {} values but row 0 has {cols}; all rows need the same length",
                rows[i].len()
            );
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data: rows.concat(),
            names: None,
        })
    }

    /// The named numeric columns of a frame (missing values are an error naming the column).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// assert_eq!(Matrix::from_frame(&iris.frame, &iris.feature_names).unwrap().rows(), 150);
    /// ```
    pub fn from_frame(frame: &DataFrame, columns: &[impl AsRef<str>]) -> Result<Matrix> {
        Matrix::from_columns(frame, &crate::data::owned_names(columns))
    }

    fn from_columns(frame: &DataFrame, columns: &[String]) -> Result<Matrix> {
        let values = columns
            .iter()
            .map(|name| crate::data::column_values(frame, name))
            .collect::<Result<Vec<_>>>()?;
        let rows = frame.height();
        let mut data = Vec::with_capacity(rows * columns.len());
        for r in 0..rows {
            data.extend(values.iter().map(|c| c[r]));
        }
        Ok(Matrix {
            rows,
            cols: columns.len(),
            data,
            names: Some(columns.to_vec()),
        })
    }

    /// A dataset's feature columns.
    ///
    /// ```
    /// let x = trainbook::prelude::Matrix::features(&trainbook::prelude::load_digits()).unwrap();
    /// assert_eq!((x.rows(), x.cols()), (1797, 64));
    /// ```
    pub fn features(dataset: &Dataset) -> Result<Matrix> {
        Matrix::from_columns(&dataset.frame, &dataset.feature_names)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row i as a slice.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The given rows, in that order.
    ///
    /// ```
    /// let x = trainbook::prelude::Matrix::from_rows(&[vec![1.0], vec![2.0], vec![3.0]]).unwrap();
    /// assert_eq!(x.select_rows(&[2, 0]).unwrap().as_slice(), &[3.0, 1.0]);
    /// ```
    pub fn select_rows(&self, rows: &[usize]) -> Result<Matrix> {
        if let Some(&r) = rows.iter().find(|&&r| r >= self.rows) {
            bail!("row {r} is out of range for a matrix of {} rows", self.rows);
        }
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Ok(Matrix {
            rows: rows.len(),
            cols: self.cols,
            data,
            names: self.names.clone(),
        })
    }

    /// The columns' names: a frame's or dataset's column names when the matrix was built
    /// from one, `x0`, `x1`, ... otherwise (as scikit-learn's `get_feature_names_out`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Matrix::features(&load_iris()).unwrap().column_names()[0], "sepal length (cm)");
    /// assert_eq!(Matrix::new(1, 2, vec![0.0, 1.0]).unwrap().column_names(), ["x0", "x1"]);
    /// ```
    pub fn column_names(&self) -> Vec<String> {
        match &self.names {
            Some(names) => names.clone(),
            None => (0..self.cols).map(|i| format!("x{i}")).collect(),
        }
    }

    /// The same values under other column names (one per column).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::new(1, 2, vec![0.0, 1.0]).unwrap().named(&["age", "income"]).unwrap();
    /// assert_eq!(x.column_names(), ["age", "income"]);
    /// assert!(Matrix::new(1, 2, vec![0.0, 1.0]).unwrap().named(&["age"]).is_err());
    /// ```
    pub fn named(mut self, names: &[impl AsRef<str>]) -> Result<Matrix> {
        if names.len() != self.cols {
            bail!(
                "a matrix of {} columns needs {} names, got {}",
                self.cols,
                self.cols,
                names.len()
            );
        }
        self.names = Some(crate::data::owned_names(names));
        Ok(self)
    }

    /// A frame of Float64 columns named by [`column_names`](Matrix::column_names), what the
    /// data transformers take (NaN values count as missing there).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let frame = Matrix::features(&load_iris()).unwrap().to_frame().unwrap();
    /// assert_eq!(frame.shape(), (150, 4));
    /// ```
    pub fn to_frame(&self) -> Result<DataFrame> {
        let columns = self
            .column_names()
            .into_iter()
            .enumerate()
            .map(|(j, name)| {
                let values: Vec<f64> = (0..self.rows)
                    .map(|i| self.data[i * self.cols + j])
                    .collect();
                Column::new(name.into(), values)
            })
            .collect();
        Ok(DataFrame::new_infer_height(columns)?)
    }

    /// Rows as vectors (what `silhouette_score` takes).
    ///
    /// ```
    /// let x = trainbook::prelude::Matrix::new(1, 2, vec![1.0, 2.0]).unwrap();
    /// assert_eq!(x.to_rows(), vec![vec![1.0, 2.0]]);
    /// ```
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        (0..self.rows).map(|i| self.row(i).to_vec()).collect()
    }
}

/// Squared Euclidean distance. Four running sums let the compiler use SIMD (a single sum
/// is a strict sequential dependency for floats).
#[inline]
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let mut acc = [0.0f64; 4];
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            let diff = x[k] - y[k];
            acc[k] += diff * diff;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Features and targets cut the same way, as scikit-learn's `train_test_split(X, y)`.
type SplitXy<Y> = (Matrix, Matrix, Vec<Y>, Vec<Y>);

// Splitting a Matrix lives with the Matrix, so that data never imports models.
impl TrainTestSplit {
    /// (x_train, x_test, y_train, y_test): the rows of `x` and `y` on each side, shuffled
    /// by the split's seed (scikit-learn's `train_test_split(X, y, test_size, random_state)`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let diabetes = load_diabetes();
    /// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
    /// let (x_train, x_test, y_train, y_test) = TrainTestSplit::new(0.25).split_xy(&x, &y).unwrap();
    /// assert_eq!((x_train.rows(), x_test.rows(), y_train.len(), y_test.len()), (331, 111, 331, 111));
    /// ```
    pub fn split_xy<Y: Copy>(&self, x: &Matrix, y: &[Y]) -> Result<SplitXy<Y>> {
        self.cut(x, y, None)
    }

    /// [`split_xy`](TrainTestSplit::split_xy) keeping each class's share of `y` on both sides
    /// (`stratify=y`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let (_, _, y_train, y_test) = TrainTestSplit::new(0.2).stratified_xy(&x, &y).unwrap();
    /// assert_eq!(y_test.iter().filter(|&&c| c == 2).count(), 10);
    /// assert_eq!(y_train.len(), 120);
    /// ```
    pub fn stratified_xy(&self, x: &Matrix, y: &[usize]) -> Result<SplitXy<usize>> {
        let labels: Vec<String> = y.iter().map(|c| c.to_string()).collect();
        self.cut(x, y, Some(&labels))
    }

    fn cut<Y: Copy>(&self, x: &Matrix, y: &[Y], labels: Option<&[String]>) -> Result<SplitXy<Y>> {
        if x.rows() != y.len() {
            bail!(
                "x has {} rows but y has {} targets; pass one target per row",
                x.rows(),
                y.len()
            );
        }
        let (train, test) = self.split_rows(y.len(), labels)?;
        let pick = |rows: &[usize]| rows.iter().map(|&r| y[r]).collect::<Vec<Y>>();
        Ok((
            x.select_rows(&train)?,
            x.select_rows(&test)?,
            pick(&train),
            pick(&test),
        ))
    }
}
