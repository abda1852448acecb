//! Data: the shipped and generated datasets, loading, inspection, cleaning, transformers,
//! leakage-safe splits, class imbalance, and tensors for training.

mod clean;
mod columns;
mod datasets;
pub(crate) mod exact;
mod generators;
mod imbalance;
mod inspect;
mod io;
mod loader;
mod split;
mod stats;
mod table;
mod transform;

pub use clean::{
    cast_columns, drop_duplicates, drop_nulls, drop_nulls_in, duplicate_count, fill_nulls,
    outlier_mask, remove_outliers, Fill, OutlierRule,
};
pub use columns::{class_labels, numeric_columns, string_columns, text_values};
pub(crate) use columns::{f64_values as column_values, owned as owned_names};
pub use datasets::{
    load_breast_cancer, load_diabetes, load_digits, load_digits_images, load_iris, load_wine,
    Dataset, TargetKind,
};
pub use generators::{
    make_blobs, make_classification, make_moons, make_ratings, make_regression, make_reviews,
    MakeClassification,
};
pub use imbalance::{class_weights, random_oversample, random_undersample, smote, ClassWeight};
pub use inspect::{class_balance, describe, null_counts};
pub use io::{read_csv, read_json, read_parquet, write_csv, write_parquet, Csv};
pub use loader::{frame_to_tensor, labels_to_tensor, values_to_tensor, Batches, DataLoader};
pub use split::{
    stratified_split, train_test_split, Fold, KFold, StratifiedKFold, TestFrame, TrainFrame,
    TrainTestFrames, TrainTestSplit,
};
pub use table::{frame_to_html, Table};
pub use transform::{
    FillValue, HandleUnknown, ImputeStrategy, Imputer, MinMaxScaler, OneHotEncoder, OrdinalEncoder,
    OutlierClipper, Pipeline, PipelineStep, PreparedFold, RobustScaler, StandardScaler,
    Transformer,
};
