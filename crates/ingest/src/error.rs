use std::fmt;
use std::path::PathBuf;

use clientele_shared::SharedError;

/// Where in a source a problem is: a text line (CSV, NDJSON) or a data row (Parquet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Line(u64),
    Row(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Why an ingest stage failed. Messages name the file, the line or row and the column,
/// and never quote a data value (it may be personal data).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is empty: there is no header and no data")]
    Empty { path: PathBuf },
    #[error("`{path}` {at}: {problem}")]
    Row {
        path: PathBuf,
        at: Location,
        problem: RowProblem,
    },
    #[error("`{path}` has no column `{column}`, which the config declares{hint}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        hint: String,
    },
    #[error("`{path}` names column `{column}` twice in its header")]
    DuplicateHeader { path: PathBuf, column: String },
    #[error(
        "`{path}`: column `{column}` has Arrow type {found}, which ingest cannot read as {wanted}"
    )]
    UnsupportedType {
        path: PathBuf,
        column: String,
        found: String,
        wanted: String,
    },
    #[error("cannot tell the format of `{path}` from its extension: set params.format to \"csv\", \"parquet\" or \"ndjson\"")]
    UnknownFormat { path: PathBuf },
    #[error("params.{key}: {message}")]
    Param { key: &'static str, message: String },
    #[error("the pseudonymisation key: the {source_name} {why}")]
    Key { source_name: String, why: String },
    #[error("cannot pseudonymise `{path}`: {message}")]
    Pseudonymise { path: PathBuf, message: String },
}

/// What is wrong with one row; also the `reason` written to the rejects file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("expected {expected} fields but found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("column `{column}` is not valid UTF-8")]
    InvalidUtf8 { column: String },
    #[error("the line is not valid UTF-8")]
    LineNotUtf8,
    #[error("column `{column}` does not hold {expected}")]
    Unparsable {
        column: String,
        expected: &'static str,
    },
    #[error("the customer id in column `{column}` is missing")]
    MissingId { column: String },
    #[error("the customer id in column `{column}` was already seen at {first}")]
    DuplicateId { column: String, first: Location },
    #[error("the record is malformed: {message}")]
    Malformed { message: String },
    #[error("the line is not a JSON object: {message}")]
    Json { message: String },
    #[error("column `{column}` holds a nested JSON value; only scalars can be ingested")]
    NestedJson { column: String },
}

impl RowProblem {
    /// The column the problem is in, if it is in one.
    pub fn column(&self) -> Option<&str> {
        match self {
            RowProblem::InvalidUtf8 { column }
            | RowProblem::Unparsable { column, .. }
            | RowProblem::MissingId { column }
            | RowProblem::DuplicateId { column, .. }
            | RowProblem::NestedJson { column } => Some(column),
            RowProblem::FieldCount { .. }
            | RowProblem::LineNotUtf8
            | RowProblem::Malformed { .. }
            | RowProblem::Json { .. } => None,
        }
    }
}
