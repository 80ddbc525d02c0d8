//! The ingest stage: reads a customer or holdings table from CSV, Parquet or
//! newline-delimited JSON and writes it as typed Parquet (zstd) for the later stages.
//!
//! It names every problem by file, line (or row) and column: a row with the wrong number
//! of fields, a value that does not parse as its column's type, a declared column that is
//! missing, a duplicate or missing customer key, an empty file, invalid UTF-8, a corrupt
//! Parquet file. With `on_error = "quarantine"` bad rows go to the `rejects` output with
//! their reason and the rest is written. Memory is bounded by the batch size, except for
//! the set of customer keys kept to detect duplicates.
//!
//! It does not clean, impute or encode anything: that is the preprocess stage. It never
//! prints a data value in a message, since values may be personal data.

#![forbid(unsafe_code)]

mod columns;
mod error;
mod params;
mod parquet;
pub mod pseudonym;
mod table;
mod text;

use std::collections::HashSet;
use std::path::Path;

use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::schema::CUSTOMER_ID;
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

pub use error::{IngestError, Location, ParamError, RowProblem};
pub use params::{ColumnType, Format, IngestParams, OnError};

use pseudonym::{KeySource, Pseudonymiser};
use table::{IdSource, OutputPlan, Rejects, TableSink};
use text::RecordSource;

/// The ingest stage, as the runner sees it.
pub struct Ingest;

impl Stage for Ingest {
    const KIND: &'static str = "ingest";
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

/// Checks the parameters that the runner cannot check by type alone.
pub fn check_params(params: &IngestParams, io: &StageIo) -> Result<(), IngestError> {
    if params.on_error == OnError::Quarantine && io.output("rejects").is_none() {
        return Err(ParamError::QuarantineWithoutRejects.into());
    }
    if params.batch_rows == 0 {
        return Err(ParamError::BatchRows.into());
    }
    for (key, value) in [("delimiter", &params.delimiter), ("quote", &params.quote)] {
        if !matches!(value.as_bytes(), [b] if b.is_ascii()) {
            return Err(ParamError::NotOneCharacter { key }.into());
        }
    }
    if let Some(source) = io.input("source") {
        format_of(params, source)?;
    }
    let has_key = io.input("key").is_some() || params.key_env.is_some();
    if !params.pseudonymise.is_empty() && !has_key {
        return Err(ParamError::PseudonymiseWithoutKey.into());
    }
    if io.input("key").is_some() && params.key_env.is_some() {
        return Err(ParamError::TwoKeys.into());
    }
    if params.pseudonymise.is_empty() && has_key {
        return Err(ParamError::KeyWithoutColumns.into());
    }
    if let Some(column) = params.drop.iter().find(|c| params.pseudonymise.contains(c)) {
        return Err(ParamError::DroppedAndPseudonymised {
            column: column.clone(),
        }
        .into());
    }
    if let Some(column) = params.drop.iter().find(|c| params.columns.contains_key(*c)) {
        return Err(ParamError::DroppedAndDeclared {
            column: column.clone(),
        }
        .into());
    }
    if let Some(column) = params
        .pseudonymise
        .iter()
        .find(|c| matches!(params.columns.get(*c), Some(ty) if *ty != ColumnType::String))
    {
        return Err(ParamError::PseudonymTyped {
            column: column.clone(),
        }
        .into());
    }
    Ok(())
}

fn format_of(params: &IngestParams, path: &Path) -> Result<Format, IngestError> {
    if let Some(format) = params.format {
        return Ok(format);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv" | "txt" | "tsv") => Ok(Format::Csv),
        Some("parquet" | "pq") => Ok(Format::Parquet),
        Some("ndjson" | "jsonl" | "json") => Ok(Format::Ndjson),
        _ => Err(IngestError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads `source` and writes the typed table to `table` (and bad rows to `rejects`).
pub fn ingest(
    params: &IngestParams,
    source: &Path,
    table: &Path,
    rejects_path: Option<&Path>,
    pseudonymiser: Option<Pseudonymiser>,
    ctx: &StageContext<'_>,
) -> Result<StageReport, IngestError> {
    let format = format_of(params, source)?;
    if format != Format::Parquet {
        text::check_not_empty(source)?;
    }
    // Each format yields the output plan and a reader positioned at the first record.
    let mut reader = match format {
        Format::Csv => {
            let header = text::CsvSource::open(source, params)?.header().to_vec();
            let plan = plan_columns(params, source, &header, |cols| {
                let inferred = text::infer_csv(source, params, cols)?;
                Ok(cols.iter().map(|&c| inferred[c].result()).collect())
            })?;
            (
                plan,
                Reader::Text(Box::new(text::CsvSource::open(source, params)?)),
            )
        }
        Format::Ndjson => {
            let mut inference: Vec<columns::Inference> = Vec::new();
            let records = text::NdjsonSource::open(source, |column, text| {
                if inference.len() <= column {
                    inference.resize(column + 1, columns::Inference::default());
                }
                match text {
                    Some(t) if !text::is_null_marker(t, &params.null_markers) => {
                        inference[column].observe(t)
                    }
                    Some(_) => {}
                    None => inference[column].observe_unparsable(),
                }
            })?;
            let header = records.header().to_vec();
            let plan = plan_columns(params, source, &header, |cols| {
                Ok(cols
                    .iter()
                    .map(|&c| inference.get(c).map_or(ColumnType::String, |i| i.result()))
                    .collect())
            })?;
            (plan, Reader::Text(Box::new(records)))
        }
        Format::Parquet => {
            let records = ParquetSource::open(source)?;
            let fields: Vec<(String, arrow::datatypes::DataType)> = records
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            let header: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            let plan = plan_columns(params, source, &header, |cols| {
                cols.iter()
                    .map(|&c| parquet::plain_type(source, &fields[c].0, &fields[c].1))
                    .collect()
            })?;
            (plan, Reader::Parquet(Box::new(records)))
        }
    };
    let (plan, reader) = (&reader.0, &mut reader.1);
    let mut rejects = Rejects::new(params.on_error, source, rejects_path)?;
    // A rejected row is written without its record when the source holds personal
    // columns: its line and column say where to look in the source.
    rejects.withhold_records(!params.drop.is_empty() || !params.pseudonymise.is_empty());
    let pseudonyms = pseudonymiser.map(|p| (p, plan.pseudonymised.clone()));
    let mut sink = TableSink::new(
        ParquetSink::create(table, plan.schema())?,
        pseudonyms,
        source,
    );
    match reader {
        Reader::Text(records) => text::convert(
            records.as_mut(),
            source,
            plan,
            params,
            &mut sink,
            &mut rejects,
            ctx,
        )?,
        Reader::Parquet(records) => parquet::convert(
            records,
            plan,
            params.one_row_per_customer,
            &mut sink,
            &mut rejects,
            ctx,
        )?,
    }
    finish(sink, rejects)
}

enum Reader {
    Text(Box<dyn RecordSource>),
    Parquet(Box<ParquetSource>),
}

/// Commits the rejects first and the table last, so that a table under its final name
/// always comes with the rejects of the same run.
fn finish(sink: TableSink, rejects: Rejects) -> Result<StageReport, IngestError> {
    let rejected = rejects.finish()?;
    let rows = sink.finish()?;
    let mut report = StageReport {
        rows,
        ..StageReport::default()
    };
    report.counts.insert("rows_rejected".to_string(), rejected);
    if rejected > 0 {
        report.notes.push(format!(
            "{rejected} bad row(s) quarantined to the rejects output"
        ));
    }
    Ok(report)
}

/// Decides the output columns from the source header: the key column, and each other
/// column with its declared type or the one `infer` finds.
fn plan_columns(
    params: &IngestParams,
    path: &Path,
    header: &[String],
    infer: impl FnOnce(&[usize]) -> Result<Vec<ColumnType>, IngestError>,
) -> Result<OutputPlan, IngestError> {
    let mut seen = HashSet::new();
    for name in header {
        if !seen.insert(name.as_str()) {
            return Err(IngestError::DuplicateHeader {
                path: path.to_path_buf(),
                column: name.clone(),
            });
        }
    }
    let missing = |column: &str, hint: &str| IngestError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        hint: hint.to_string(),
    };
    for column in params.columns.keys() {
        if !seen.contains(column.as_str()) {
            return Err(missing(column, " in params.columns"));
        }
    }
    for column in &params.drop {
        if !seen.contains(column.as_str()) {
            return Err(missing(column, " in params.drop"));
        }
    }
    let id_name = match &params.id_column {
        Some(name) if !seen.contains(name.as_str()) => {
            return Err(missing(name, " as params.id_column"))
        }
        Some(name) => Some(name.clone()),
        None => seen.contains(CUSTOMER_ID).then(|| CUSTOMER_ID.to_string()),
    };
    if let Some(id) = &id_name {
        if matches!(params.columns.get(id), Some(ty) if *ty != ColumnType::String) {
            return Err(ParamError::KeyColumnTyped { column: id.clone() }.into());
        }
    }
    let id_index = id_name
        .as_ref()
        .and_then(|id| header.iter().position(|h| h == id));
    if let Some(id) = &id_name {
        if params.drop.contains(id) {
            return Err(ParamError::KeyColumnDropped { column: id.clone() }.into());
        }
    }
    let column_index: Vec<usize> = (0..header.len())
        .filter(|&c| Some(c) != id_index && !params.drop.contains(&header[c]))
        .collect();
    let undeclared: Vec<usize> = column_index
        .iter()
        .copied()
        .filter(|&c| !params.columns.contains_key(&header[c]))
        .collect();
    let inferred = if undeclared.is_empty() {
        Vec::new()
    } else {
        infer(&undeclared)?
    };
    let columns = column_index
        .iter()
        .map(|&c| {
            let ty = match params.columns.get(&header[c]) {
                Some(ty) => *ty,
                None => {
                    let k = undeclared.iter().position(|&u| u == c).unwrap_or(0);
                    inferred.get(k).copied().unwrap_or(ColumnType::String)
                }
            };
            (header[c].clone(), ty)
        })
        .collect();
    let columns: Vec<(String, ColumnType)> = columns;
    let mut pseudonymised = Vec::new();
    for name in &params.pseudonymise {
        if name == CUSTOMER_ID || Some(name) == id_name.as_ref() {
            pseudonymised.push(0);
        } else if let Some(out) = columns.iter().position(|(n, _)| n == name) {
            if columns[out].1 != ColumnType::String {
                return Err(ParamError::PseudonymOfNonText {
                    column: name.clone(),
                    read_as: columns[out].1.describe().to_string(),
                }
                .into());
            }
            pseudonymised.push(out + 1);
        } else {
            return Err(missing(name, " in params.pseudonymise"));
        }
    }
    pseudonymised.sort_unstable();
    pseudonymised.dedup();
    Ok(OutputPlan {
        id: id_name.map_or(IdSource::RowNumber, IdSource::Column),
        id_index,
        columns,
        source_index: column_index,
        pseudonymised,
    })
}
