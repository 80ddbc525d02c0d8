//! Reading the source, batch by batch, into the table sink: the format chosen, the
//! columns planned from the header, each batch parsed, checked and written (`convert`),
//! bad rows quarantined, the report made.

use std::path::Path;

use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::stage::{StageContext, StageReport};

use crate::error::IngestError;
use crate::params::{Format, IngestParams};
use crate::plan::plan_columns;
use crate::pseudonym::Pseudonymiser;
use crate::table::{Rejects, TableSink};
use crate::text::RecordSource;
use crate::{columns, convert, dataset, parquet, text};

pub(crate) fn format_of(params: &IngestParams, path: &Path) -> Result<Format, IngestError> {
    if let Some(format) = params.format {
        return Ok(format);
    }
    // A directory is a table written as many Parquet files (Spark, Hive, pyarrow, DuckDB).
    if path.is_dir() {
        return Ok(Format::Parquet);
    }
    // A compressed text file is named by its format and then its codec: `x.csv.gz`.
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    for codec in [".gz", ".zst", ".zstd"] {
        if let Some(stem) = name.strip_suffix(codec) {
            name = stem.to_string();
            break;
        }
    }
    let ext = Path::new(&name).extension().map(|e| e.to_string_lossy());
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
        crate::source::check_not_empty(source, params)?;
    }
    let mut notes = Vec::new();
    let (params, note) = match format {
        Format::Csv => text::resolve_delimiter(params, source)?,
        _ => (std::borrow::Cow::Borrowed(params), None),
    };
    notes.extend(note);
    let params = &*params;
    let cell_format = match format {
        Format::Ndjson => columns::CellFormat::of_json(params),
        _ => columns::CellFormat::of(params),
    };
    // Each format yields the output plan and a reader positioned at the first record.
    let mut reader = match format {
        Format::Csv => {
            let csv = text::CsvSource::open(source, params)?;
            let (header, data_start) = (csv.header().to_vec(), csv.data_start());
            drop(csv);
            let plan = plan_columns(params, source, &header, |cols| {
                let inferred = convert::infer_csv(source, params, header.len(), data_start, cols)?;
                notes.extend(tolerance_notes(&header, cols, &inferred));
                Ok(cols.iter().map(|&c| inferred[c].result()).collect())
            })?;
            (
                plan,
                Reader::Csv {
                    width: header.len(),
                    data_start,
                },
            )
        }
        Format::Ndjson => {
            let mut inference: Vec<columns::Inference> = Vec::new();
            let records = text::NdjsonSource::open(source, params, |column, text| {
                if inference.len() <= column {
                    inference.resize(column + 1, columns::Inference::default());
                }
                match text {
                    Some(t) if !text::is_null_marker(t, &params.null_markers) => {
                        inference[column].observe(t, &cell_format)
                    }
                    Some(_) => {}
                    None => inference[column].observe_unparsable(),
                }
            })?;
            let header = records.header().to_vec();
            inference.resize(header.len(), columns::Inference::default());
            let plan = plan_columns(params, source, &header, |cols| {
                notes.extend(tolerance_notes(&header, cols, &inference));
                Ok(cols.iter().map(|&c| inference[c].result()).collect())
            })?;
            (plan, Reader::Text(Box::new(records)))
        }
        Format::Parquet => {
            let files = dataset::list(source)?;
            let first = ParquetSource::open(&files.files[0].path, ctx.parquet_key)?;
            let fields: Vec<(String, arrow::datatypes::DataType)> = first
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            let mut header: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            header.extend(files.partition_columns.iter().cloned());
            let first_path = files.files[0].path.clone();
            let plan = plan_columns(params, source, &header, |cols| {
                cols.iter()
                    .map(|&c| match fields.get(c) {
                        Some((name, ty)) => parquet::plain_type(&first_path, name, ty),
                        // A partition folder's values are text: inferred as CSV cells are.
                        None => {
                            let mut inference = columns::Inference::default();
                            for file in &files.files {
                                if let Some(value) = &file.partition_values[c - fields.len()] {
                                    inference.observe(value, &columns::CellFormat::default());
                                }
                            }
                            Ok(inference.result())
                        }
                    })
                    .collect()
            })?;
            notes.extend(parquet::type_notes(&plan, &fields));
            if files.files.len() > 1 {
                notes.push(format!(
                    "read {} Parquet files{}",
                    files.files.len(),
                    if files.partition_columns.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", partition folders as columns {}",
                            files
                                .partition_columns
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ));
            }
            (
                plan,
                Reader::Parquet(Box::new(parquet::ParquetInput::new(files, first))),
            )
        }
    };
    let (plan, reader) = (&reader.0, &mut reader.1);
    let mut rejects = Rejects::new(params.on_error, source, rejects_path, ctx.parquet_key)?;
    // A rejected row is written without its record when the source holds personal
    // columns: its line and column say where to look in the source.
    rejects.withhold_records(!params.drop.is_empty() || !params.pseudonymise.is_empty());
    let pseudonyms = pseudonymiser.map(|p| (p, plan.pseudonymised.clone()));
    let mut sink = TableSink::new(
        ParquetSink::create(table, plan.schema(), ctx.parquet_key)?,
        pseudonyms,
        source,
    );
    match reader {
        Reader::Csv { width, data_start } => convert::convert_csv(
            source,
            params,
            *width,
            *data_start,
            plan,
            &mut sink,
            &mut rejects,
            ctx,
        )?,
        Reader::Text(records) => convert::convert_records(
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
    let mut report = finish(sink, rejects)?;
    report.notes.splice(0..0, notes);
    Ok(report)
}

/// The notes on what inference decided beyond the plain case: a column read as a number
/// or date although a few of its values are not (see [`columns::Inference::result`]), a
/// date column whose times of day were dropped, a text column of dates in an order only
/// `date_format` can state.
fn tolerance_notes(
    header: &[String],
    cols: &[usize],
    inferred: &[columns::Inference],
) -> Vec<String> {
    let mut notes = Vec::new();
    for &c in cols {
        let (inference, name) = (&inferred[c], &header[c]);
        let misfits = inference.misfits();
        if misfits > 0 {
            notes.push(format!(
                "column `{name}` read as {}: {misfits} of {} values ({:.2} %) are not, and their rows are bad rows (params.on_error); declare the column in params.columns if it is text",
                inference.result().describe(),
                inference.values(),
                100.0 * misfits as f64 / inference.values() as f64
            ));
        }
        let timestamps = inference.timestamps();
        if timestamps > 0 {
            notes.push(format!(
                "column `{name}` read as dates: {timestamps} of its values are timestamps, read as the date they were written on (the time of day and offset are dropped)"
            ));
        }
        if inference.needs_date_format() {
            notes.push(format!(
                "column `{name}` read as text, but its values look like dates such as 31/10/2026: name their order in params.date_format (\"%d/%m/%Y\" or \"%m/%d/%Y\") to read them as dates"
            ));
        }
    }
    notes
}

enum Reader {
    /// CSV records after the header (`data_start` bytes), read in parallel chunks.
    Csv {
        width: usize,
        data_start: u64,
    },
    /// Records read one at a time (NDJSON).
    Text(Box<dyn RecordSource>),
    Parquet(Box<parquet::ParquetInput>),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::OnError;

    /// Runs ingest on `text` with chunks of `chunk_bytes`: the table's and the rejects'
    /// bytes, and the report's notes.
    fn ingest_in_chunks(
        source: &Path,
        params: &IngestParams,
        chunk_bytes: usize,
    ) -> (Vec<u8>, Vec<u8>, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (table, rejects) = (dir.path().join("t.parquet"), dir.path().join("r.parquet"));
        crate::chunks::TEST_CHUNK_BYTES.with(|c| c.set(Some(chunk_bytes)));
        let report = ingest(
            params,
            source,
            &table,
            Some(&rejects),
            None,
            &StageContext::plain("test"),
        )
        .expect("ingests");
        crate::chunks::TEST_CHUNK_BYTES.with(|c| c.set(None));
        let read = |p: &Path| std::fs::read(p).expect("output");
        (read(&table), read(&rejects), report.notes)
    }

    #[test]
    fn the_output_is_the_same_bytes_whatever_the_chunk_size() {
        // Quoted line breaks, CRLF, bad rows, duplicate keys, a categorical column, an
        // inferred column with a tolerated misfit, batches smaller than a chunk.
        let mut text = b"id,segment,amount,note,opened\r\n".to_vec();
        for i in 0..600 {
            let id = if i % 97 == 5 { 3 } else { i };
            let amount = match i % 211 {
                17 => "n/a".to_string(),
                _ => format!("{}.{}", i * 7, i % 10),
            };
            let note = match i % 5 {
                0 => "\"two\r\nlines, \"\"quoted\"\"\"".to_string(),
                1 => String::new(),
                _ => format!("note {i}"),
            };
            let line = match i % 53 {
                11 => format!("{id},{},{amount}\n", ["a", "b", "c"][i % 3]),
                _ => format!(
                    "{id},{},{amount},{note},2026-{:02}-{:02}\r\n",
                    ["a", "b", "c"][i % 3],
                    1 + i % 12,
                    1 + i % 28
                ),
            };
            text.extend_from_slice(line.as_bytes());
        }
        let params = IngestParams {
            id_column: Some("id".into()),
            on_error: OnError::Quarantine,
            batch_rows: 50,
            columns: [(
                "segment".to_string(),
                crate::params::ColumnType::Categorical,
            )]
            .into_iter()
            .collect(),
            ..IngestParams::default()
        };
        // The rejects name the source file: the same file for every run.
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("customers.csv");
        std::fs::write(&source, &text).expect("write");
        let whole = ingest_in_chunks(&source, &params, 1 << 20);
        assert!(
            whole.2.iter().any(|n| n.contains("quarantined")),
            "{:?}",
            whole.2
        );
        for chunk_bytes in [1, 100, 4096] {
            let chunked = ingest_in_chunks(&source, &params, chunk_bytes);
            assert_eq!(chunked.2, whole.2, "notes, chunks of {chunk_bytes}");
            assert!(chunked.1 == whole.1, "rejects, chunks of {chunk_bytes}");
            assert!(chunked.0 == whole.0, "table, chunks of {chunk_bytes}");
        }
    }
}
