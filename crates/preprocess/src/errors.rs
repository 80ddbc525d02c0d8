//! Why a preprocess stage failed. Messages name the file, the column, the row or the
//! parameter, never a value.

use std::path::PathBuf;

use clientele_shared::SharedError;

/// Why a preprocess stage failed. Messages name the file and column, never a value.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("`{path}` has no column `{column}`, which {what}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        what: &'static str,
    },
    #[error(
        "`{path}`: column `{column}` has type {found}; it can only be passed through or dropped"
    )]
    Unsupported {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("`{path}`: column `{column}` has no value to learn {what} from (every value is missing); drop it with params.drop, or impute a constant")]
    NoValues {
        path: PathBuf,
        column: String,
        what: &'static str,
    },
    #[error("`{path}`: column `{column}` has {distinct} distinct values in {values} rows: it looks like an identifier or free text, not a category; drop it (params.drop, or at ingest), or declare it numeric if it is a number")]
    IdentifierLike {
        path: PathBuf,
        column: String,
        distinct: usize,
        values: usize,
    },
    #[error("`{path}` row {row}: column `{column}` is negative, which log1p cannot take; use transform = \"signed_log1p\"")]
    Negative {
        path: PathBuf,
        row: usize,
        column: String,
    },
    #[error("`{path}`: no row is left after dropping rows with missing values or outliers")]
    NoRowsLeft { path: PathBuf },
    #[error("`{path}` has no rows: there is nothing to fit a state on")]
    EmptyTable { path: PathBuf },
    #[error("`{path}`: column `{column}` has type {found}, but the fitted state treats it as {expected}; was the state fitted on another table?")]
    StateMismatch {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("cannot read the state file `{path}`: {message}")]
    State { path: PathBuf, message: String },
    #[error("params.{0}")]
    Param(#[from] ParamError),
    #[error("cannot write the state file `{path}`: {message}")]
    WriteState { path: PathBuf, message: String },
}

/// A parameter that breaks a rule with the others or the ports: one variant per rule,
/// each naming its key (the message follows `params.`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("mode: \"fit\" needs an output named `state` for the fitted statistics")]
    FitWithoutStateOutput,
    #[error("mode: \"apply\" needs an input named `state`: a state file written by a fit")]
    ApplyWithoutStateInput,
    #[error("drop: `{column}` is also listed in passthrough")]
    DroppedAndPassedThrough { column: String },
    #[error(
        "{key}.outliers: needs factor > 0 (iqr), z > 0 (zscore), or 0 ≤ low < high ≤ 1 (quantile)"
    )]
    Outliers { key: String },
    #[error("{key}.max_categories: must be at least 2 (one kept category and `other`)")]
    MaxCategories { key: String },
    #[error("inputs: the runner passed no `{port}` port")]
    MissingPort { port: &'static str },
}
