//! Why a segment stage failed. Messages name the file, the column, the row or the
//! parameter, never a value.

use std::path::PathBuf;

use clientele_shared::SharedError;

use crate::dbscan::DbscanError;
use crate::k_means::KMeansError;

/// Why a segment stage failed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error(transparent)]
    Clustering(#[from] clientele_numeric::clustering::ClusteringError),
    #[error("params: {0}")]
    Params(#[from] ParamError),
    #[error("K-Means: {0}")]
    KMeans(#[from] KMeansError),
    #[error("DBSCAN: {0}")]
    Dbscan(#[from] DbscanError),
    #[error("cannot use the model file `{path}`: {message}")]
    Model { path: PathBuf, message: String },
    #[error("nearest-neighbour search failed: {0}")]
    Linfa(String),
    #[error("the features of `{path}` do not make a matrix: {message}")]
    Matrix { path: PathBuf, message: String },
}

impl From<linfa::Error> for SegmentError {
    fn from(e: linfa::Error) -> Self {
        SegmentError::Linfa(e.to_string())
    }
}

/// A parameter that breaks a rule, alone or with the ports and the data: one variant
/// per rule, each naming its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("mode = \"apply\" needs an input named `model`: a model file written by a fit")]
    ApplyWithoutModel,
    #[error("mode = \"apply\" writes no `model` or `sweep`; remove those outputs")]
    ApplyWritesNoModel,
    #[error("an input `model` is only read with mode = \"apply\"")]
    ModelInputWithoutApply,
    #[error("`sweep` is the K-Means k sweep; DBSCAN writes none")]
    DbscanWritesNoSweep,
    #[error("k_min must be at least 2 and at most k_max")]
    KRange,
    #[error("{key} must be at least {least}")]
    TooSmall { key: &'static str, least: usize },
    #[error("{key} must be at most {most} ({why})")]
    TooLarge {
        key: &'static str,
        most: usize,
        why: &'static str,
    },
    #[error("tol must be a finite number ≥ 0")]
    Tolerance,
    #[error("fit_sample is for mode = \"fit\"; an apply assigns every customer")]
    FitSampleInApply,
    #[error("batch_size is for fitting K-Means (mini-batch K-Means)")]
    BatchSizeNotKMeansFit,
    #[error("labels: `{key}` is not a segment number")]
    LabelNotASegment { key: String },
    #[error("the runner passed no `{port}` port")]
    MissingPort { port: &'static str },
    #[error("k = {k} needs at least {k} customers, but {within}")]
    KAboveCustomers { k: usize, within: String },
    #[error("no k in {k_min}…{k_max} could be scored by {criterion}: are there fewer distinct customers than k?")]
    NoScorableK {
        k_min: usize,
        k_max: usize,
        criterion: String,
    },
    #[error("eps = \"auto\": the {min_samples}-distance curve of `{path}` is flat, so it has no knee; set eps")]
    FlatKDistance { min_samples: usize, path: PathBuf },
}
