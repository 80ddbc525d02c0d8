//! Why DBSCAN refused to fit or assign: a variant per rule, naming the parameter.

/// Why DBSCAN refused to fit or assign.
#[derive(Debug, thiserror::Error)]
pub enum DbscanError {
    #[error("eps must be a finite number above 0")]
    Eps,
    #[error("min_samples must be at least 1")]
    MinSamples,
    #[error("DBSCAN needs at least one row and one feature")]
    Empty,
    #[error("the features hold a value that is not a finite number")]
    NotFinite,
    /// linfa's own errors, which its `Fit` traits ask every error type to take.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
