//! Why K-Means refused to fit: a variant per rule, naming the parameter.

/// Why K-Means refused to fit.
#[derive(Debug, thiserror::Error)]
pub enum KMeansError {
    #[error("{key} must be at least 1")]
    Zero { key: &'static str },
    #[error("tol must be a finite number ≥ 0")]
    Tolerance,
    #[error("k = {k} segments need at least as many customers, but there are {rows}")]
    TooFewRows { k: usize, rows: usize },
    #[error("the features hold a value that is not a finite number")]
    NotFinite,
    /// linfa's own errors, which its `Fit` traits ask every error type to take.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
