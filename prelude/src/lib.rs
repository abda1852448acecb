//! The Trainbook prelude: what every notebook cell sees.
//!
//! The kernel loads this crate and runs `use trainbook::prelude::*;` before the first cell, so
//! everything in [`prelude`] is in scope everywhere. Outside the kernel (tests, scripts) the same
//! functions work and print to stdout.
//!
//! ```
//! use trainbook::prelude::*;
//! display(&Html::new("<b>hello</b>"));
//! assert!(!interrupted());
//! ```

pub mod cell;
pub mod charts;
pub mod cost;
pub mod data;
pub mod display;
pub mod evaluation;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod random;
pub mod runtime;
pub mod train;
pub mod tune;
pub mod vision;

/// Everything a notebook cell has in scope.
pub mod prelude {
    pub use crate::charts::{
        BarChart, Chart, Dendrogram, Heatmap, Histogram, LineChart, ScatterChart,
    };
    pub use crate::cost::{
        device_name, CostEstimate, CostLine, Latency, Prices, TrainingTime, Usage,
    };
    pub use crate::data::*;
    pub use crate::display::{
        clear_output, display, display_handle, DisplayHandle, EvcxrDisplay, Html, Json, Markdown,
        MimeBundle, Png, Render, Svg, Text,
    };
    pub use crate::evaluation::{
        cross_val_score, cross_validate, diagnose_history, diagnose_scores, learning_curve,
        CvResult, Diagnosis, IntoScoring, LearningCurve, Scoring,
    };
    pub use crate::metrics::*;
    pub use crate::models::{
        AgglomerativeClustering, Classifier, Clusterer, Dbscan, DecisionTreeClassifier,
        DecisionTreeRegressor, Gamma, Imputed, KMeans, LinearRegression, Linkage,
        LogisticRegression, Matrix, MaxFeatures, Merge, PipelineModel, RandomForestClassifier,
        RandomForestRegressor, Regressor, Standardized, Svc, SvmKernel,
    };
    pub use crate::nn::{
        default_device, items_by_user, popular_items, ratings_to_tensors, Activation, Cnn,
        CnnConfig, Conv3x3, Dropout, LayerInfo, MatrixFactorization, Mlp, MlpConfig, Network,
        OutputHead, Parameter, Parameters, RecommenderConfig, Rnn, RnnCell, RnnConfig, Summary,
        TextClassifier, TextClassifierConfig, Tokenizer, TwoTower,
    };
    pub use crate::runtime::{in_kernel, input, interrupted, password};
    pub use crate::train::{
        evaluate, lr_finder, Checkpoints, EarlyStopping, EpochRecord, Evaluation, FitReport,
        History, Loss, LrFinder, Monitor, NeuralClassifier, NeuralRegressor, Optimizer,
        OptimizerState, PlateauState, Progress, Schedule, StopReason, Trainer,
    };
    pub use crate::tune::{
        Direction, MedianPruner, ParallelCoordinates, ParamChart, Params, Sampler, Space, Study,
        Trial, TrialRecord, TrialState,
    };
    pub use crate::vision::{
        images_to_tensor, make_shapes, shapes_folder, Applied, Augment, Augmented, BadFile, Image,
        ImageFolder, ImageGrid, ImageSet, Normalize, OnBadFile, Padding, ResizeFilter, Transform,
    };
    pub use candle_core::{DType, Device, Module, Tensor, D};
    // Two crates the prelude is built on, reachable from cells by their own names:
    // `use anyhow::Context;`, `anyhow::bail!(..)`, `serde_json::json!(..)`.
    pub use ::anyhow;
    pub use ::serde_json;
    // The display of a cell's last expression (the kernel's rewrite calls `.trainbook_show()`):
    // in scope for method lookup, without adding names.
    pub use crate::cell::{
        ShowAnyResult as _, ShowAnything as _, ShowDebug as _, ShowDebugResult as _,
        ShowRender as _, ShowRenderResult as _,
    };
    pub use polars::prelude::{df, AnyValue, Column, DataFrame, DataType, NamedFrom, Series};
}

// The libraries themselves, for what the prelude does not cover: `trainbook::polars::...`;
// `trainbook::anyhow::Result` names the error type `?` gives in helper functions.
pub use anyhow;
pub use candle_core as candle;
pub use candle_nn;
pub use plotters;
pub use polars;
pub use serde_json;

/// The prelude's version, as the kernel reports it.
///
/// ```
/// assert!(!trainbook::version().is_empty());
/// ```
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
