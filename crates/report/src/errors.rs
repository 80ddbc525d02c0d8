//! Why a report stage failed. Messages name the file, the chart or the parameter, never
//! a value.

use std::path::PathBuf;

use clientele_numeric::clustering::ClusteringError;
use clientele_shared::SharedError;

use crate::pca::PcaError;

/// Why a report stage failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error(transparent)]
    Clustering(#[from] ClusteringError),
    #[error("the projection of `{path}`: {source}")]
    Pca {
        path: PathBuf,
        #[source]
        source: PcaError,
    },
    #[error("cannot draw the chart `{chart}`: {message}")]
    Draw {
        chart: &'static str,
        message: String,
    },
    #[error("params: {0}")]
    Params(#[from] ParamError),
    #[error("the features of `{path}` do not make a matrix: {message}")]
    Matrix { path: PathBuf, message: String },
}

/// A parameter that breaks a rule, alone or with the ports: one variant per rule, each
/// naming its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("`sample` is {0}; the silhouette needs at least 2 customers")]
    Sample(usize),
    #[error("`min_segment_size` is 0; use 1 to publish every segment, whatever its size")]
    MinSegmentSize,
    #[error("`heatmap_features` is 0; the heatmap needs at least one row")]
    HeatmapFeatures,
    #[error("an input `{input}` is {why}; name the `assignments` input too")]
    WithoutAssignments {
        input: &'static str,
        why: &'static str,
    },
    #[error("the runner passed no `{port}` port")]
    MissingPort { port: &'static str },
}
