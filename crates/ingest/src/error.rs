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
    #[error("`{path}` line 1: the header is one column whose name holds {likely}; the file is likely delimited by {likely}, not {delimiter}: set params.delimiter = {likely} (or leave it to \"auto\")")]
    OneColumnHeader {
        path: PathBuf,
        delimiter: String,
        likely: String,
    },
    #[error(
        "the directory `{path}` holds no data file (names starting with `.` or `_` are skipped)"
    )]
    EmptyDirectory { path: PathBuf },
    #[error("`{path}` sits in other partition folders (`key=value`) than `{first}`: every file of a partitioned table needs the same keys, in the same order")]
    PartitionFolders { path: PathBuf, first: PathBuf },
    #[error("`{path}` has other columns than `{first}`: every file of one table needs the same columns and types")]
    OtherSchema { path: PathBuf, first: PathBuf },
    #[error("cannot tell the format of `{path}` from its extension: set params.format to \"csv\", \"parquet\" or \"ndjson\"")]
    UnknownFormat { path: PathBuf },
    #[error("params.{0}")]
    Param(#[from] ParamError),
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
    #[error("column `{column}` is not valid UTF-8 (if the file is in another encoding, name it in params.encoding)")]
    InvalidUtf8 { column: String },
    #[error("the line is not valid UTF-8 (if the file is in another encoding, name it in params.encoding)")]
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

/// A parameter that breaks a rule, alone or with the ports or the source's columns: one
/// variant per rule, each naming its key (the message follows `params.`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("inputs: the runner passed no `source` input or no `table` output")]
    MissingPorts,
    #[error("on_error: \"quarantine\" needs an output named `rejects` for the bad rows")]
    QuarantineWithoutRejects,
    #[error("batch_rows: must be between 1 and {max} (memory grows with the batch: a batch of text rows is held whole)", max = crate::check::MAX_BATCH_ROWS)]
    BatchRows,
    #[error("max_line_bytes: must be at least 1")]
    MaxLineBytes,
    #[error("decimal: must be \".\" or \",\"")]
    Decimal,
    #[error("thousands: must be one of \",\" \".\" \"'\" \"_\" or a space")]
    Thousands,
    #[error("{second}: the same character as `{first}`; a mark can mean only one thing")]
    SameMark {
        first: &'static str,
        second: &'static str,
    },
    #[error("date_format: `{format}` is not a strftime format that reads a whole date (day, month and year), such as \"%d/%m/%Y\"")]
    DateFormat { format: String },
    #[error("encoding: `{label}` is not an encoding this version knows; use utf-8, utf-16le, utf-16be, latin-1, windows-1250, windows-1252 or another WHATWG label")]
    Encoding { label: String },
    #[error("{key}: must be exactly one ASCII character")]
    NotOneCharacter { key: &'static str },
    #[error("pseudonymise: needs a secret key: set `key_env` to the environment variable that holds it, name a key file as the input `key`, or give the pipeline one in [pipeline.pseudonyms]")]
    PseudonymiseWithoutKey,
    #[error(
        "key_env: the key comes from one place: either `key_env` or the input `key`, not both"
    )]
    TwoKeys,
    #[error("pseudonymise: a key is given but no column is named to pseudonymise")]
    KeyWithoutColumns,
    #[error("drop: column `{column}` is both dropped and pseudonymised; it can be only one")]
    DroppedAndPseudonymised { column: String },
    #[error("drop: column `{column}` is dropped, so it cannot be declared in `columns`")]
    DroppedAndDeclared { column: String },
    #[error("pseudonymise: column `{column}` is declared as another type than string; a pseudonym is text")]
    PseudonymTyped { column: String },
    #[error("columns: the key column `{column}` is always read as text; do not declare another type for it")]
    KeyColumnTyped { column: String },
    #[error("drop: `{column}` is the customer key and cannot be dropped; pseudonymise it instead")]
    KeyColumnDropped { column: String },
    #[error("pseudonymise: column `{column}` is read as {read_as}; declare it `string` in `columns` to pseudonymise it")]
    PseudonymOfNonText { column: String, read_as: String },
}
