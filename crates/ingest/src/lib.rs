//! The ingest stage: reads a customer or holdings table from CSV, Parquet or
//! newline-delimited JSON and writes it as typed Parquet (zstd) for the later stages.
//! Text sources may be gzip- or zstd-compressed and in any encoding `encoding_rs` knows;
//! numbers and dates may be written as the source's locale writes them.
//!
//! It names every problem by file, line (or row) and column: a row with the wrong number
//! of fields, a value that does not parse as its column's type, a declared column that is
//! missing, a duplicate or missing customer key, an empty file, invalid UTF-8, a corrupt
//! Parquet file. With `on_error = "quarantine"` bad rows go to the `rejects` output with
//! their reason and the rest is written. Memory is bounded by the batch size and a few
//! 2 MiB chunks of text per thread, except for the set of customer keys kept to detect
//! duplicates.
//!
//! [`Ingest::run`] checks the parameters (`check`), then reads the source (`read`): CSV
//! cut into chunks of whole records (`chunks`) that are inferred and typed on every core
//! and taken back in source order (`convert`); NDJSON a record at a time (`text`);
//! Parquet a batch at a time (`parquet`). The output columns are planned from the header
//! (`plan`, cells parsed by `columns`), and the rows go to the table sink and the rejects
//! (`table`).
//!
//! It does not clean, impute or encode anything: that is the preprocess stage. It never
//! prints a data value in a message, since values may be personal data.

#![forbid(unsafe_code)]

mod check;
mod chunks;
mod columns;
mod convert;
mod dataset;
mod error;
mod identifiers;
mod params;
mod parquet;
mod plan;
pub mod pseudonym;
mod read;
mod source;
mod table;
mod text;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

pub use check::check_params;
pub use error::{IngestError, Location, ParamError, RowProblem};
pub use identifiers::identifier_columns;
pub use params::{ColumnType, Format, IngestParams, OnError};
pub use read::ingest;

use pseudonym::{KeySource, Pseudonymiser};

/// The ingest stage, as the runner sees it.
pub struct Ingest;

impl Stage for Ingest {
    const KIND: &'static str = "ingest";
    const ALGORITHM_VERSION: u32 = 2;
    const INPUTS: &'static [Port] = &[
        Port {
            name: "source",
            required: true,
            doc: "the CSV, Parquet or NDJSON file to read",
        },
        Port {
            name: "key",
            required: false,
            doc: "a file holding the pseudonymisation key (or set params.key_env)",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "table",
            required: true,
            doc: "the typed table, `customer_id` first",
        },
        Port {
            name: "rejects",
            required: false,
            doc: "bad rows with their reason (with on_error = \"quarantine\")",
        },
    ];
    type Params = IngestParams;
    type Error = IngestError;

    fn run(
        params: &IngestParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, IngestError> {
        let (Some(source), Some(table)) = (io.input("source"), io.output("table")) else {
            return Err(ParamError::MissingPorts.into());
        };
        let pseudonymiser = match (io.input("key"), &params.key_env) {
            _ if params.pseudonymise.is_empty() => None,
            (Some(path), _) => Some(Pseudonymiser::from_source(KeySource::File(path))?),
            (None, Some(name)) => Some(Pseudonymiser::from_source(KeySource::Env(name))?),
            (None, None) => None,
        };
        ingest(
            params,
            source,
            table,
            io.output("rejects"),
            pseudonymiser,
            ctx,
        )
    }
}
