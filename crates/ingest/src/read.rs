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
use crate::table::{OutputPlan, Rejects, TableSink};
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
    // Each output is opened once the plan is known (and again if CSV is converted twice).
    let open_outputs = |plan: &OutputPlan| -> Result<(TableSink, Rejects), IngestError> {
        let mut rejects = Rejects::new(params.on_error, source, rejects_path, ctx.parquet_key)?;
        // A rejected row is written without its record when the source holds personal
        // columns: its line and column say where to look in the source.
        rejects.withhold_records(!params.drop.is_empty() || !params.pseudonymise.is_empty());
        let pseudonyms = pseudonymiser
            .clone()
            .map(|p| (p, plan.pseudonymised.clone()));
        let sink = TableSink::new(
            ParquetSink::create(table, plan.schema(), ctx.parquet_key)?,
            pseudonyms,
            source,
        );
        Ok((sink, rejects))
    };
    let (sink, rejects) = match format {
        Format::Csv => {
            let csv = text::CsvSource::open(source, params)?;
            let (header, data_start) = (csv.header().to_vec(), csv.data_start());
            drop(csv);
            convert_csv_file(
                params,
                source,
                &header,
                data_start,
                &open_outputs,
                ctx,
                &mut notes,
            )?
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
            let (mut sink, mut rejects) = open_outputs(&plan)?;
            let mut records = records;
            convert::convert_records(
                &mut records,
                source,
                &plan,
                params,
                &mut sink,
                &mut rejects,
                ctx,
            )?;
            (sink, rejects)
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
            let (mut sink, mut rejects) = open_outputs(&plan)?;
            parquet::convert(
                &mut Box::new(parquet::ParquetInput::new(files, first)),
                &plan,
                params.one_row_per_customer,
                &mut sink,
                &mut rejects,
                ctx,
            )?;
            (sink, rejects)
        }
    };
    let mut report = finish(sink, rejects)?;
    report.notes.splice(0..0, notes);
    Ok(report)
}

/// Opens the table sink and the rejects for a plan.
type OpenOutputs<'a> = dyn Fn(&OutputPlan) -> Result<(TableSink, Rejects), IngestError> + 'a;

/// Converts a CSV file in one pass where it can: the columns' types inferred from the
/// first chunk, every value observed on the way. When the types every value calls for
/// differ (a column whose first values were all integers holds a decimal later on), the
/// outputs are dropped and the file converted again with those types, so that the
/// result is always what inference over every value decides. In fail mode a bad row
/// stops the pass early; the rest is then inferred to tell whether it is bad under the
/// final types too.
fn convert_csv_file(
    params: &IngestParams,
    source: &Path,
    header: &[String],
    data_start: u64,
    open_outputs: &OpenOutputs<'_>,
    ctx: &StageContext<'_>,
    notes: &mut Vec<String>,
) -> Result<(TableSink, Rejects), IngestError> {
    let width = header.len();
    let mut observed = Vec::new();
    let plan = plan_columns(params, source, header, |cols| {
        observed = cols.to_vec();
        let first = convert::infer_csv_first_chunk(source, params, width, data_start, cols)?;
        Ok(cols.iter().map(|&c| first[c].result()).collect())
    })?;
    let (mut sink, mut rejects) = open_outputs(&plan)?;
    let converted = convert::convert_csv(
        source,
        params,
        width,
        data_start,
        &plan,
        &observed,
        &mut sink,
        &mut rejects,
        ctx,
    );
    let plan_of = |every: &[columns::Inference]| {
        plan_columns(params, source, header, |cols| {
            Ok(cols.iter().map(|&c| every[c].result()).collect())
        })
    };
    let (every, final_plan) = match converted {
        Ok(every) => {
            let final_plan = plan_of(&every)?;
            (every, final_plan)
        }
        Err(bad_row @ IngestError::Row { .. }) if !observed.is_empty() => {
            let every = convert::infer_csv(source, params, width, data_start, &observed)?;
            let final_plan = plan_of(&every)?;
            if final_plan.columns == plan.columns {
                return Err(bad_row);
            }
            (every, final_plan)
        }
        Err(e) => return Err(e),
    };
    notes.extend(tolerance_notes(header, &observed, &every));
    if final_plan.columns == plan.columns {
        return Ok((sink, rejects));
    }
    // Dropped unfinished, the outputs' temporary files are removed.
    drop((sink, rejects));
    let (mut sink, mut rejects) = open_outputs(&final_plan)?;
    convert::convert_csv(
        source,
        params,
        width,
        data_start,
        &final_plan,
        &[],
        &mut sink,
        &mut rejects,
        ctx,
    )?;
    Ok((sink, rejects))
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

    /// The table's bytes, the rejects' bytes, the report's notes.
    type Outputs = (Vec<u8>, Vec<u8>, Vec<String>);

    /// Runs ingest with chunks of `chunk_bytes`, writing `t.parquet` and `r.parquet` in
    /// `out`: the table's and the rejects' bytes (empty when there are none), and the
    /// report's notes or the error.
    fn ingest_in_chunks(
        source: &Path,
        params: &IngestParams,
        chunk_bytes: usize,
        out: &Path,
    ) -> Result<Outputs, IngestError> {
        let (table, rejects) = (out.join("t.parquet"), out.join("r.parquet"));
        crate::chunks::TEST_CHUNK_BYTES.with(|c| c.set(Some(chunk_bytes)));
        let report = ingest(
            params,
            source,
            &table,
            Some(&rejects),
            None,
            &StageContext::plain("test"),
        );
        crate::chunks::TEST_CHUNK_BYTES.with(|c| c.set(None));
        let read = |p: &Path| std::fs::read(p).unwrap_or_default();
        Ok((read(&table), read(&rejects), report?.notes))
    }

    fn float_column(path: &Path, name: &str) -> bool {
        let table = ParquetSource::open(path, None).expect("table");
        table
            .schema()
            .field_with_name(name)
            .is_ok_and(|f| *f.data_type() == arrow::datatypes::DataType::Float64)
    }

    #[test]
    fn a_type_only_later_rows_show_is_found_in_fail_mode_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("c.csv");
        let mut text = String::from("customer_id,visits\n");
        for i in 0..300 {
            text.push_str(&format!("c{i},{}\n", if i < 200 { "3" } else { "2.5" }));
        }
        std::fs::write(&source, &text).expect("write");
        let params = IngestParams::default();
        // The first chunks hold only integers; the decimals make the column a float
        // column, not bad rows.
        let (_, _, notes) = ingest_in_chunks(&source, &params, 64, dir.path()).expect("ingests");
        assert!(
            float_column(&dir.path().join("t.parquet"), "visits"),
            "{notes:?}"
        );
        // A real bad row still fails, naming its line, and writes no table.
        text.push_str("c300,many\n");
        std::fs::write(&source, &text).expect("write");
        let out = tempfile::tempdir().expect("tempdir");
        let message = ingest_in_chunks(&source, &params, 64, out.path())
            .expect_err("a bad row")
            .to_string();
        assert!(
            message.contains("line 302") && message.contains("visits"),
            "{message}"
        );
        assert!(!out.path().join("t.parquet").exists());
    }

    #[test]
    fn the_output_is_the_same_bytes_whatever_the_chunk_size() {
        // Quoted line breaks, CRLF, bad rows, duplicate keys, a categorical column, an
        // inferred column with a tolerated misfit, batches smaller than a chunk.
        // `visits` looks like integers for the first 400 rows: a first chunk smaller than
        // that infers integers, and the file is converted again as decimals.
        let mut text = b"id,segment,amount,note,opened,visits\r\n".to_vec();
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
                    "{id},{},{amount},{note},2026-{:02}-{:02},{}{}\r\n",
                    ["a", "b", "c"][i % 3],
                    1 + i % 12,
                    1 + i % 28,
                    i % 9,
                    if i < 400 { "" } else { ".5" }
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
        let whole = ingest_in_chunks(&source, &params, 1 << 20, dir.path()).expect("ingests");
        assert!(
            whole.2.iter().any(|n| n.contains("quarantined")),
            "{:?}",
            whole.2
        );
        assert!(float_column(&dir.path().join("t.parquet"), "visits"));
        for chunk_bytes in [1, 100, 4096] {
            let chunked =
                ingest_in_chunks(&source, &params, chunk_bytes, dir.path()).expect("ingests");
            assert_eq!(chunked.2, whole.2, "notes, chunks of {chunk_bytes}");
            assert!(chunked.1 == whole.1, "rejects, chunks of {chunk_bytes}");
            assert!(chunked.0 == whole.0, "table, chunks of {chunk_bytes}");
        }
    }
}
