//! The segment stage: K-Means and DBSCAN, k chosen by silhouette, segment profiles.
//!
//! So far this crate holds the clustering quality metrics ([`metrics`]): silhouette,
//! Davies–Bouldin, Calinski–Harabasz and the adjusted Rand index, equal to
//! scikit-learn's for the same labels.
//! The clustering itself and the stage are not implemented yet (issue "Segment stage"):
//! the runner still rejects the kind `segment` at validation, saying so.

pub mod metrics;

/// Why a clustering metric cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("there are {rows} rows but {labels} labels; each row needs one label")]
    LabelCount { rows: usize, labels: usize },
    #[error("{metric} needs between 2 and {max} clusters (one fewer than the rows), but the labels form {clusters}")]
    ClusterCount {
        metric: &'static str,
        clusters: usize,
        max: usize,
    },
}
