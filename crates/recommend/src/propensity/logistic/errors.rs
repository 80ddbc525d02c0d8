//! Why logistic regression refused to fit: a variant per rule, naming the parameter.

#[derive(Debug, thiserror::Error)]
pub enum LogisticError {
    #[error("c must be a finite number above 0 (the inverse of the L2 penalty)")]
    C,
    #[error("max_iter must be at least 1")]
    MaxIter,
    #[error("tol must be a finite number above 0")]
    Tol,
    #[error("logistic regression needs at least one row and one feature, and as many labels as rows ({rows} rows, {labels} labels)")]
    Shape { rows: usize, labels: usize },
    #[error("row {row}, feature {feature} is not a finite number: logistic regression needs every value (impute it first)")]
    NotFinite { row: usize, feature: usize },
    #[error("the training rows hold only one class: a classifier needs takers and non-takers")]
    OneClass,
    #[error("Newton's method did not converge in {iterations} iterations (largest gradient {gradient:e}); raise max_iter or tol")]
    NotConverged { iterations: usize, gradient: f64 },
    /// linfa's own errors, which its `Fit` traits ask every error type to take.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
