use std::path::PathBuf;

/// Errors of the shared I/O layer. Each names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a readable Parquet file: {message}")]
    ParquetRead { path: PathBuf, message: String },
    #[error("`{path}` is not the JSON file expected here: {message}")]
    Json { path: PathBuf, message: String },
    #[error("`{path}` has no column `{column}`, which {what}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        what: String,
    },
    #[error("`{path}`: column `{column}` has type {found}; a feature must be Float64, as preprocess writes it")]
    NotFloat {
        path: PathBuf,
        column: String,
        found: arrow::datatypes::DataType,
    },
    #[error("`{path}` row {row}: column `{column}` is missing or not a finite number; features must be complete (impute them in preprocess)")]
    BadFeature {
        path: PathBuf,
        row: usize,
        column: String,
    },
    #[error("`{path}` has no feature column (no Float64 column besides `customer_id`)")]
    NoFeatures { path: PathBuf },
    #[error("`{path}`: column `{column}` has type {found}, but it must be {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        expected: &'static str,
        found: arrow::datatypes::DataType,
    },
    #[error("`{path}` row {row}: column `{column}` {why}")]
    BadValue {
        path: PathBuf,
        /// 1-based, counting data rows.
        row: usize,
        column: String,
        why: String,
    },
    #[error("the encryption key: the {source_name} {why}")]
    Key { source_name: String, why: String },
    #[error("`{path}` is encrypted, and this pipeline has no encryption key: set `[pipeline.encryption]`")]
    Encrypted { path: PathBuf },
    #[error("`{path}` cannot be decrypted with the pipeline's key (a wrong key, or a damaged file): {message}")]
    Decrypt { path: PathBuf, message: String },
    #[error("cannot write Parquet file `{path}`: {message}")]
    ParquetWrite { path: PathBuf, message: String },
}

impl SharedError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SharedError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
