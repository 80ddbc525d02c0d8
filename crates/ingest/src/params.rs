use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[stage.params]` of an ingest stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// `csv`, `parquet` or `ndjson`; by default taken from the input's extension.
    #[serde(default)]
    pub format: Option<Format>,
    /// CSV field delimiter, one ASCII character, or `auto`: chosen among `,` `;` tab `|`
    /// from the first lines.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// CSV quote character, one ASCII character.
    #[serde(default = "default_quote")]
    pub quote: String,
    /// Whether the first CSV line names the columns; without it they are `column_1`, ….
    #[serde(default = "yes")]
    pub header: bool,
    /// Text values read as missing (exact match, after trimming spaces).
    #[serde(default = "default_null_markers")]
    pub null_markers: Vec<String>,
    /// The source column holding the customer key; it becomes `customer_id`. Without
    /// one (and without a `customer_id` column), a row key is generated from the row's
    /// position in the source: `1`, `2`, ….
    #[serde(default)]
    pub id_column: Option<String>,
    /// Whether each customer appears once (a customer table: a repeated key is an error)
    /// or may appear in many rows (holdings, transactions).
    #[serde(default = "yes")]
    pub one_row_per_customer: bool,
    /// Declared column types; undeclared columns are inferred from the whole file.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
    /// `fail` stops at the first bad row; `quarantine` writes bad rows to the `rejects`
    /// output with the reason and goes on.
    #[serde(default)]
    pub on_error: OnError,
    /// Rows per Arrow batch: the stage holds about one batch in memory.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Direct identifiers (name, e-mail, phone, address, IBAN, …): dropped here, so that
    /// no later file holds them.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Identifier columns replaced by their HMAC-SHA256 pseudonym (the key column by its
    /// source name or `customer_id`). Needs a key: `key_env`, or a key file as the input
    /// `key`.
    #[serde(default)]
    pub pseudonymise: Vec<String>,
    /// The environment variable holding the pseudonymisation key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// The decimal mark of numbers in a text source: `.` or `,`.
    #[serde(default = "default_decimal")]
    pub decimal: String,
    /// The thousands separator of numbers in a text source, if any: `,` `.` `'` `_` or a
    /// space. Only separators that group the whole part by threes are read.
    #[serde(default)]
    pub thousands: Option<String>,
    /// The form of dates besides ISO `YYYY-MM-DD`, in strftime notation (`%d/%m/%Y`); a
    /// format with a time of day reads the date it falls on.
    #[serde(default)]
    pub date_format: Option<String>,
    /// The text encoding of a CSV or NDJSON source: `utf-8` (a UTF-16 byte-order mark is
    /// still recognised), `utf-16le`, `utf-16be`, `latin-1`, `windows-1250`,
    /// `windows-1252`, or any WHATWG label.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// The longest line (header included) read: beyond it, an error naming the line.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

impl Default for IngestParams {
    fn default() -> Self {
        IngestParams {
            format: None,
            delimiter: default_delimiter(),
            quote: default_quote(),
            header: true,
            null_markers: default_null_markers(),
            id_column: None,
            one_row_per_customer: true,
            columns: BTreeMap::new(),
            on_error: OnError::Fail,
            batch_rows: default_batch_rows(),
            max_line_bytes: default_max_line_bytes(),
            decimal: default_decimal(),
            thousands: None,
            date_format: None,
            encoding: default_encoding(),
            drop: Vec::new(),
            pseudonymise: Vec::new(),
            key_env: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Int,
    Float,
    Bool,
    Date,
    Categorical,
}

impl ColumnType {
    pub fn describe(self) -> &'static str {
        match self {
            ColumnType::String => "text",
            ColumnType::Int => "a whole number",
            ColumnType::Float => "a finite number",
            ColumnType::Bool => "a boolean (true/false, yes/no, Y/N, 1/0)",
            ColumnType::Date => "a date (YYYY-MM-DD, or params.date_format)",
            ColumnType::Categorical => "a category",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    #[default]
    Fail,
    Quarantine,
}

fn default_delimiter() -> String {
    "auto".to_string()
}
fn default_decimal() -> String {
    ".".to_string()
}
fn default_encoding() -> String {
    "utf-8".to_string()
}
fn default_max_line_bytes() -> usize {
    4 << 20
}
fn default_quote() -> String {
    "\"".to_string()
}
fn yes() -> bool {
    true
}
fn default_null_markers() -> Vec<String> {
    ["", "NA", "NULL"].map(String::from).to_vec()
}
fn default_batch_rows() -> usize {
    64 * 1024
}
