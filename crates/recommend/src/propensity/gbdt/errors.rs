//! Why gradient boosting refused to fit: a variant per rule, naming the parameter.

#[derive(Debug, thiserror::Error)]
pub enum GbdtError {
    #[error("learning_rate must be a finite number above 0")]
    LearningRate,
    #[error("max_iter must be at least 1")]
    MaxIter,
    #[error("max_leaf_nodes must be at least 2")]
    MaxLeafNodes,
    #[error("max_depth must be at least 1 (or left out)")]
    MaxDepth,
    #[error("min_samples_leaf must be at least 1")]
    MinSamplesLeaf,
    #[error("l2_regularization must be a finite number, 0 or above")]
    L2Regularization,
    #[error("max_bins must be between 2 and 255")]
    MaxBins,
    #[error("validation_fraction must be above 0 and below 1")]
    ValidationFraction,
    #[error("n_iter_no_change must be at least 1")]
    NIterNoChange,
    #[error("tol must be a finite number, 0 or above")]
    Tol,
    #[error("gradient boosting needs at least one row and one feature, and as many labels as rows ({rows} rows, {labels} labels)")]
    Shape { rows: usize, labels: usize },
    #[error("the training rows hold only one class: a classifier needs takers and non-takers")]
    OneClass,
    /// linfa's own errors, which its `Fit` traits ask every error type to take.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
