//! Data: the shipped datasets and how tables show in the kernel.

mod datasets;
mod table;

pub use datasets::{
    load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, Dataset, Task,
};
pub use table::{frame_to_html, Table};
