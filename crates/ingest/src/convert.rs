//! Text records into the output table: each record typed into Arrow columns
//! ([`RowTyper`], on any thread, a stretch of records at a time), then the stretches
//! taken in source order ([`InOrder`]): duplicate keys found, bad rows rejected in the
//! order they were read, rows written in batches of `batch_rows`.
//!
//! CSV is cut into chunks of whole records ([`crate::chunks`]) that are inferred and typed
//! on every core; NDJSON is read and typed on the calling thread. Either way the output
//! is the same bytes whatever the chunk size or the number of threads, since the batches
//! are cut by row count and everything that depends on order happens in [`InOrder`].

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray, StringBuilder};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use clientele_shared::stage::StageContext;
use csv::ByteRecord;
use rayon::prelude::*;

use crate::chunks::{Chunk, ChunkReader, ChunkRecords};
use crate::columns::{Cell, CellFormat, ColumnBuilder, Inference};
use crate::error::{IngestError, Location, RowProblem};
use crate::params::IngestParams;
use crate::source::{open, skip_bom};
use crate::table::{internal, IdRegistry, IdSource, OutputPlan, Rejects, TableSink};
use crate::text::{is_null_marker, RawRecord, RecordSource};

/// Where a record came from: its place in its stretch, its line, its text.
#[derive(Debug, Clone)]
struct Origin {
    /// 0-based, within the stretch.
    record: u64,
    at: Location,
    /// The record's text within [`TypedRows::text`].
    raw: Range<usize>,
}

/// A stretch of consecutive records, typed: the accepted rows' columns, and the origin
/// of every record, accepted or not.
pub struct TypedRows {
    records: u64,
    /// The key column's values (empty when keys are row numbers).
    ids: StringBuilder,
    columns: Vec<ColumnBuilder>,
    accepted: Vec<Origin>,
    rejected: Vec<(Origin, RowProblem)>,
    /// The records' text: a CSV chunk, or the NDJSON lines kept for the rejects file.
    text: Vec<u8>,
    /// What the observed columns' values fit (see [`RowTyper::observing`]).
    inference: Vec<Inference>,
    /// The cells of the record being typed, a buffer reused from record to record.
    cells: Vec<Typed>,
}

/// A cell typed before its whole row is known to be good. Text is kept as its source
/// column and fetched again when the row is appended, so that the buffer borrows nothing
/// and one allocation serves every record (one per record was 2 % of the conversion).
#[derive(Clone, Copy)]
enum Typed {
    Text(usize),
    Value(Cell<'static>),
}

impl Typed {
    fn of(cell: Cell<'_>, column: usize) -> Self {
        Typed::Value(match cell {
            Cell::Text(_) => return Typed::Text(column),
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Date(v) => Cell::Date(v),
        })
    }
}

impl TypedRows {
    fn new(plan: &OutputPlan, capacity: usize) -> Self {
        TypedRows {
            records: 0,
            ids: StringBuilder::with_capacity(capacity, capacity * 8),
            columns: plan
                .columns
                .iter()
                .map(|(_, ty)| ColumnBuilder::new(*ty, capacity))
                .collect(),
            accepted: Vec::with_capacity(capacity),
            rejected: Vec::new(),
            text: Vec::new(),
            inference: Vec::new(),
            cells: Vec::with_capacity(plan.columns.len()),
        }
    }

    fn reject(&mut self, origin: Origin, problem: RowProblem) {
        self.records += 1;
        self.rejected.push((origin, problem));
    }
}

/// Types records by the output plan: the key, each kept column parsed as its type.
pub struct RowTyper<'a> {
    plan: &'a OutputPlan,
    null_markers: &'a [String],
    format: CellFormat,
    width: usize,
    /// Source columns whose values are also observed for type inference.
    observed: &'a [usize],
}

impl<'a> RowTyper<'a> {
    pub fn new(
        plan: &'a OutputPlan,
        params: &'a IngestParams,
        format: CellFormat,
        width: usize,
    ) -> Self {
        RowTyper {
            plan,
            null_markers: &params.null_markers,
            format,
            width,
            observed: &[],
        }
    }

    /// Also observes the values of `columns` for type inference, as [`infer_csv`] does,
    /// so that a plan inferred from the first chunk is checked against every value in
    /// the same pass.
    pub fn observing(self, columns: &'a [usize]) -> Self {
        RowTyper {
            observed: columns,
            ..self
        }
    }

    /// Appends one record to `rows`: typed into its columns, or rejected with the
    /// problem (the whole row, never part of it).
    fn type_record(
        &self,
        rows: &mut TypedRows,
        fields: &ByteRecord,
        json_nulls: &[bool],
        origin: Origin,
    ) {
        let record = RecordText::of(fields);
        if !self.observed.is_empty() {
            if rows.inference.is_empty() {
                rows.inference = vec![Inference::default(); self.width];
            }
            observe(
                &mut rows.inference,
                self.observed,
                fields,
                &record,
                self.null_markers,
                &self.format,
            );
        }
        if fields.len() != self.width {
            let problem = RowProblem::FieldCount {
                expected: self.width,
                found: fields.len(),
            };
            return rows.reject(origin, problem);
        }
        let text_of = |c: usize| -> Result<Option<&str>, RowProblem> {
            if json_nulls.get(c).copied().unwrap_or(false) {
                return Ok(None);
            }
            let text = record
                .field(fields, c)
                .map_err(|_| RowProblem::InvalidUtf8 {
                    column: source_header_name(self.plan, c),
                })?;
            Ok((!is_null_marker(text, self.null_markers)).then_some(text))
        };
        let mut cells = std::mem::take(&mut rows.cells);
        cells.clear();
        let row = (|| -> Result<Option<&str>, RowProblem> {
            let id = match (&self.plan.id, self.plan.id_index) {
                (IdSource::Column(name), Some(c)) => match text_of(c)? {
                    Some(text) => Some(crate::columns::trim(text)),
                    None => {
                        return Err(RowProblem::MissingId {
                            column: name.clone(),
                        })
                    }
                },
                _ => None,
            };
            for (out, &c) in self.plan.source_index.iter().enumerate() {
                let (name, ty) = &self.plan.columns[out];
                let Some(text) = text_of(c)? else {
                    cells.push(Typed::Value(Cell::Null));
                    continue;
                };
                let cell = self
                    .format
                    .parse(*ty, text)
                    .ok_or_else(|| RowProblem::Unparsable {
                        column: name.clone(),
                        expected: ty.describe(),
                    })?;
                cells.push(Typed::of(cell, c));
            }
            Ok(id)
        })();
        match row {
            Ok(id) => {
                if let Some(id) = id {
                    rows.ids.append_value(id);
                }
                for (builder, typed) in rows.columns.iter_mut().zip(&cells) {
                    builder.append(match *typed {
                        Typed::Value(cell) => cell,
                        // Read without a problem a moment ago.
                        Typed::Text(c) => match text_of(c) {
                            Ok(Some(text)) => Cell::Text(text),
                            _ => Cell::Null,
                        },
                    });
                }
                rows.records += 1;
                rows.accepted.push(origin);
            }
            Err(problem) => rows.reject(origin, problem),
        }
        rows.cells = cells;
    }

    /// Types every record of a CSV chunk.
    fn type_chunk(&self, chunk: Chunk, delimiter: u8, quote: u8) -> TypedRows {
        let capacity = memchr::memchr_iter(b'\n', &chunk.text).count() + 1;
        let mut records = ChunkRecords::new(&chunk, delimiter, quote);
        let mut rows = TypedRows::new(self.plan, capacity);
        let mut fields = ByteRecord::new();
        loop {
            let origin = |line: u64, raw: Range<usize>, rows: &TypedRows| Origin {
                record: rows.records,
                at: Location::Line(line),
                raw,
            };
            match records.next_record(&mut fields) {
                Ok(Some((line, raw))) => {
                    let origin = origin(line, raw, &rows);
                    self.type_record(&mut rows, &fields, &[], origin);
                }
                Ok(None) => break,
                // Parsing bytes in memory fails on no input the chunk reader lets through;
                // were it to, the rest of the chunk is one bad row, not a panic.
                Err(e) => {
                    let line = e.position().map_or(chunk.first_line, |p| {
                        chunk.first_line + p.line().saturating_sub(1)
                    });
                    let origin = origin(line, 0..0, &rows);
                    rows.reject(
                        origin,
                        RowProblem::Malformed {
                            message: e.to_string(),
                        },
                    );
                    break;
                }
            }
        }
        rows.text = chunk.text;
        rows
    }
}

/// Takes typed stretches in source order and writes them: what depends on order
/// (duplicate keys, generated keys, the rejects' order, batch boundaries) is decided here.
pub struct InOrder<'a> {
    plan: &'a OutputPlan,
    schema: SchemaRef,
    batch_rows: usize,
    ids: IdRegistry,
    sink: &'a mut TableSink,
    rejects: &'a mut Rejects,
    path: &'a Path,
    /// Records taken so far, accepted or not.
    records: u64,
    /// Rows waiting for a full batch.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// The observed columns' inference over the stretches taken.
    inference: Vec<Inference>,
}

impl<'a> InOrder<'a> {
    pub fn new(
        plan: &'a OutputPlan,
        params: &IngestParams,
        sink: &'a mut TableSink,
        rejects: &'a mut Rejects,
        path: &'a Path,
    ) -> Self {
        InOrder {
            plan,
            schema: plan.schema(),
            batch_rows: params.batch_rows.max(1),
            ids: IdRegistry::new(params.one_row_per_customer),
            sink,
            rejects,
            path,
            records: 0,
            pending: Vec::new(),
            pending_rows: 0,
            inference: Vec::new(),
        }
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Checks the stretch's keys, rejects its bad rows in the order they were read, and
    /// queues its rows for writing.
    pub fn take(&mut self, mut rows: TypedRows) -> Result<(), IngestError> {
        add_inference(&mut self.inference, &rows.inference);
        let ids: StringArray = match self.plan.id {
            IdSource::Column(_) => rows.ids.finish(),
            // The row's position in the source, counting rejected rows, so that the same
            // file always gets the same keys.
            IdSource::RowNumber => rows
                .accepted
                .iter()
                .map(|o| Some((self.records + o.record + 1).to_string()))
                .collect(),
        };
        let mut duplicates = Vec::new();
        for (i, origin) in rows.accepted.iter().enumerate() {
            if let Some(first) = self.ids.check(ids.value(i), origin.at) {
                duplicates.push((i, first));
            }
        }
        let keep_text = self.rejects.keeps_records();
        let text_of = |raw: &Range<usize>| {
            keep_text.then(|| {
                String::from_utf8_lossy(rows.text.get(raw.clone()).unwrap_or_default()).into_owned()
            })
        };
        // Both lists are in record order: merged, the rejects are too.
        let mut bad = rows.rejected.drain(..).peekable();
        let mut dup = duplicates.iter().peekable();
        loop {
            let next_bad = bad.peek().map(|(o, _)| o.record);
            let next_dup = dup.peek().map(|&&(i, _)| rows.accepted[i].record);
            let bad_first = match (next_bad, next_dup) {
                (None, None) => break,
                (Some(b), Some(d)) => b < d,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if bad_first {
                if let Some((origin, problem)) = bad.next() {
                    self.rejects
                        .reject(origin.at, problem, text_of(&origin.raw))?;
                }
            } else if let Some(&(i, first)) = dup.next() {
                let origin = &rows.accepted[i];
                let problem = RowProblem::DuplicateId {
                    column: self.plan.id_column_name().to_string(),
                    first,
                };
                self.rejects
                    .reject(origin.at, problem, text_of(&origin.raw))?;
            }
        }
        drop(bad);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(rows.columns.len() + 1);
        columns.push(Arc::new(ids));
        columns.extend(rows.columns.iter_mut().map(ColumnBuilder::finish));
        let mut batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| internal(self.path, e))?;
        if !duplicates.is_empty() {
            let mut keep = vec![true; batch.num_rows()];
            for &(i, _) in &duplicates {
                keep[i] = false;
            }
            batch = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep))
                .map_err(|e| internal(self.path, e))?;
        }
        self.records += rows.records;
        self.queue(batch)
    }

    /// Cuts the rows into batches of exactly `batch_rows` (the last may be shorter).
    fn queue(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.batch_rows - self.pending_rows).min(batch.num_rows() - offset);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == self.batch_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        let batch = match self.pending.len() {
            0 => return Ok(()),
            1 => self.pending.remove(0),
            _ => arrow::compute::concat_batches(&self.schema, &self.pending)
                .map_err(|e| internal(self.path, e))?,
        };
        self.pending.clear();
        self.pending_rows = 0;
        self.sink.write(&batch)
    }

    /// Writes the last rows (an empty table still gets its schema); the observed
    /// columns' inference.
    pub fn finish(mut self) -> Result<Vec<Inference>, IngestError> {
        if self.pending.is_empty() && self.sink.rows() == 0 {
            self.pending
                .push(RecordBatch::new_empty(self.schema.clone()));
        }
        self.flush()?;
        Ok(self.inference)
    }
}

/// Observes `columns` of one record for type inference: every record, whatever its
/// field count or other problems, each of its fields that is there and not a null marker.
fn observe(
    inference: &mut [Inference],
    columns: &[usize],
    fields: &ByteRecord,
    record: &RecordText<'_>,
    null_markers: &[String],
    format: &CellFormat,
) {
    for &c in columns {
        if c >= fields.len() {
            continue;
        }
        match record.field(fields, c) {
            Ok(text) if is_null_marker(text, null_markers) => {}
            Ok(text) => inference[c].observe(text, format),
            Err(_) => inference[c].observe_unparsable(),
        }
    }
}

/// Adds a part's counts to a total (an empty part adds nothing; an empty total takes it).
fn add_inference(total: &mut Vec<Inference>, part: &[Inference]) {
    if total.is_empty() {
        total.extend_from_slice(part);
    } else {
        for (sum, more) in total.iter_mut().zip(part) {
            sum.add(more);
        }
    }
}

fn source_header_name(plan: &OutputPlan, c: usize) -> String {
    if Some(c) == plan.id_index {
        return plan.id_column_name().to_string();
    }
    plan.source_index
        .iter()
        .position(|&i| i == c)
        .map(|out| plan.columns[out].0.clone())
        .unwrap_or_else(|| format!("#{}", c + 1))
}

/// The delimiter and quote of checked parameters.
fn marks(params: &IngestParams) -> (u8, u8) {
    let first = |s: &str, default| s.as_bytes().first().copied().unwrap_or(default);
    (first(&params.delimiter, b','), first(&params.quote, b'"'))
}

/// The chunks of a CSV source after its byte-order mark and its first `data_start` bytes.
fn chunk_reader<'p>(
    path: &'p Path,
    params: &IngestParams,
    data_start: u64,
) -> Result<ChunkReader<'p>, IngestError> {
    let (delimiter, quote) = marks(params);
    let mut source = open(path, params)?;
    skip_bom(&mut source, path)?;
    ChunkReader::new(source, path, delimiter, quote, data_start)
}

/// Reads the next chunks, as many as there are threads (none at the end).
fn next_group(chunks: &mut ChunkReader<'_>, size: usize) -> Result<Vec<Chunk>, IngestError> {
    let mut group = Vec::with_capacity(size);
    while group.len() < size {
        match chunks.next_chunk()? {
            Some(chunk) => group.push(chunk),
            None => break,
        }
    }
    Ok(group)
}

/// Runs `work` on every chunk of the CSV source after its first `data_start` bytes,
/// the chunks of a group on all threads while the next group is read and the results
/// of the last one are handed to `take` in order. An error reading the source is
/// returned after the chunks before it are taken, as a single reader would meet them.
fn for_each_chunk<T: Send>(
    path: &Path,
    params: &IngestParams,
    data_start: u64,
    work: impl Fn(Chunk) -> T + Sync,
    mut take: impl FnMut(T) -> Result<(), IngestError> + Send,
) -> Result<(), IngestError> {
    let mut chunks = chunk_reader(path, params, data_start)?;
    let size = rayon::current_num_threads().max(1);
    let mut group = next_group(&mut chunks, size);
    let mut done: Vec<T> = Vec::new();
    let mut read_error = None;
    loop {
        let current = match group {
            Ok(chunks) => chunks,
            Err(e) => {
                read_error = Some(e);
                Vec::new()
            }
        };
        if current.is_empty() && done.is_empty() {
            break;
        }
        let reading = read_error.is_none() && !current.is_empty();
        let (worked, (next, taken)) = rayon::join(
            || current.into_par_iter().map(&work).collect::<Vec<T>>(),
            || {
                let taken = done.drain(..).try_for_each(&mut take);
                let next = if reading {
                    next_group(&mut chunks, size)
                } else {
                    Ok(Vec::new())
                };
                (next, taken)
            },
        );
        taken?;
        done = worked;
        group = next;
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Converts every record of a CSV source (after its header, `data_start` bytes) into
/// the output table, observing the values of the `observed` columns on the way; returns
/// their inference over every record.
#[allow(clippy::too_many_arguments)]
pub fn convert_csv(
    path: &Path,
    params: &IngestParams,
    width: usize,
    data_start: u64,
    plan: &OutputPlan,
    observed: &[usize],
    sink: &mut TableSink,
    rejects: &mut Rejects,
    ctx: &StageContext<'_>,
) -> Result<Vec<Inference>, IngestError> {
    let (delimiter, quote) = marks(params);
    let typer = RowTyper::new(plan, params, CellFormat::of(params), width).observing(observed);
    let mut in_order = InOrder::new(plan, params, sink, rejects, path);
    let progress = ctx.progress;
    for_each_chunk(
        path,
        params,
        data_start,
        |chunk| typer.type_chunk(chunk, delimiter, quote),
        |rows| {
            in_order.take(rows)?;
            progress.rows(in_order.records(), None);
            Ok(())
        },
    )?;
    let records = in_order.records();
    let mut inference = in_order.finish()?;
    inference.resize(width, Inference::default());
    progress.rows(records, Some(records));
    Ok(inference)
}

/// Observes `columns` over every record of one chunk.
fn infer_chunk(
    chunk: &Chunk,
    params: &IngestParams,
    width: usize,
    columns: &[usize],
) -> Vec<Inference> {
    let (delimiter, quote) = marks(params);
    let format = CellFormat::of(params);
    let mut inference = vec![Inference::default(); width];
    let mut records = ChunkRecords::new(chunk, delimiter, quote);
    let mut fields = ByteRecord::new();
    // A record the parser cannot read is reported by the conversion.
    while let Ok(Some(_)) = records.next_record(&mut fields) {
        let record = RecordText::of(&fields);
        observe(
            &mut inference,
            columns,
            &fields,
            &record,
            &params.null_markers,
            &format,
        );
    }
    inference
}

/// Infers the types of `columns` (indices into the header of `width` columns) over
/// every record of a CSV source after its header.
pub fn infer_csv(
    path: &Path,
    params: &IngestParams,
    width: usize,
    data_start: u64,
    columns: &[usize],
) -> Result<Vec<Inference>, IngestError> {
    let mut total = Vec::new();
    for_each_chunk(
        path,
        params,
        data_start,
        |chunk| infer_chunk(&chunk, params, width, columns),
        |inference| {
            add_inference(&mut total, &inference);
            Ok(())
        },
    )?;
    total.resize(width, Inference::default());
    Ok(total)
}

/// Infers the types of `columns` from the first chunk of records only: the plan the
/// conversion starts with, checked against every value as it converts.
pub fn infer_csv_first_chunk(
    path: &Path,
    params: &IngestParams,
    width: usize,
    data_start: u64,
    columns: &[usize],
) -> Result<Vec<Inference>, IngestError> {
    Ok(
        match chunk_reader(path, params, data_start)?.next_chunk()? {
            Some(chunk) => infer_chunk(&chunk, params, width, columns),
            None => vec![Inference::default(); width],
        },
    )
}

/// Converts every record of a record source (NDJSON) into the output table, on the
/// calling thread.
pub fn convert_records(
    source: &mut dyn RecordSource,
    source_path: &Path,
    plan: &OutputPlan,
    params: &IngestParams,
    sink: &mut TableSink,
    rejects: &mut Rejects,
    ctx: &StageContext<'_>,
) -> Result<(), IngestError> {
    let batch_rows = params.batch_rows.max(1);
    let typer = RowTyper::new(
        plan,
        params,
        source.cell_format(params),
        source.header().len(),
    );
    source.keep_raw_lines(rejects.keeps_records());
    let mut in_order = InOrder::new(plan, params, sink, rejects, source_path);
    let mut rows = TypedRows::new(plan, batch_rows);
    let mut rec = RawRecord::default();
    let mut data_row = 0u64;
    while source.next_record(&mut rec)? {
        data_row += 1;
        let start = rows.text.len();
        rows.text.extend_from_slice(&rec.raw);
        let origin = Origin {
            record: rows.records,
            at: rec.at.unwrap_or(Location::Row(data_row)),
            raw: start..rows.text.len(),
        };
        match rec.problem.take() {
            Some(problem) => rows.reject(origin, problem),
            None => typer.type_record(&mut rows, &rec.fields, &rec.json_nulls, origin),
        }
        if rows.accepted.len() >= batch_rows {
            let full = std::mem::replace(&mut rows, TypedRows::new(plan, batch_rows));
            in_order.take(full)?;
            ctx.progress.rows(data_row, None);
        }
    }
    in_order.take(rows)?;
    in_order.finish()?;
    ctx.progress.rows(data_row, Some(data_row));
    Ok(())
}

/// A record's fields as text, checked as UTF-8 once for the whole record rather than cell
/// by cell (a sixth of the conversion's time went to per-cell checks).
enum RecordText<'a> {
    /// The record's bytes, valid UTF-8, every field starting and ending on a character.
    Whole(&'a str),
    /// Not valid as a whole: each field is checked alone, to name the bad one.
    ByField,
}

impl<'a> RecordText<'a> {
    fn of(fields: &'a ByteRecord) -> Self {
        let Ok(whole) = std::str::from_utf8(fields.as_slice()) else {
            return RecordText::ByField;
        };
        // Fields are stored back to back: two invalid halves of a character in adjacent
        // fields would read as valid together, so every boundary is checked too.
        let on_characters = (0..fields.len()).all(|i| {
            fields
                .range(i)
                .is_some_and(|r| whole.is_char_boundary(r.start) && whole.is_char_boundary(r.end))
        });
        if on_characters {
            RecordText::Whole(whole)
        } else {
            RecordText::ByField
        }
    }

    /// Field `i` (empty when the record has no such field).
    fn field<'b>(&self, fields: &'b ByteRecord, i: usize) -> Result<&'b str, std::str::Utf8Error>
    where
        'a: 'b,
    {
        match (self, fields.range(i)) {
            (RecordText::Whole(whole), Some(range)) => Ok(&whole[range]),
            (_, range) => std::str::from_utf8(range.map_or(&[][..], |r| &fields.as_slice()[r])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_checked_as_utf8_once_yet_names_the_bad_field() {
        let mut record = ByteRecord::new();
        record.push_field("Zürich".as_bytes());
        record.push_field(b"42");
        record.push_field(b"");
        let text = RecordText::of(&record);
        assert!(matches!(text, RecordText::Whole(_)));
        assert_eq!(text.field(&record, 0), Ok("Zürich"));
        assert_eq!(text.field(&record, 2), Ok(""));
        // One character split over two fields: valid bytes together, invalid fields.
        let mut split = ByteRecord::new();
        split.push_field(b"a\xC3");
        split.push_field(b"\xA9b");
        let text = RecordText::of(&split);
        assert!(matches!(text, RecordText::ByField));
        assert!(text.field(&split, 0).is_err() && text.field(&split, 1).is_err());
        let mut bad = ByteRecord::new();
        bad.push_field(b"ok");
        bad.push_field(b"\xFF");
        let text = RecordText::of(&bad);
        assert_eq!(text.field(&bad, 0), Ok("ok"));
        assert!(text.field(&bad, 1).is_err());
    }
}
