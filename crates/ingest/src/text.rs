//! CSV and newline-delimited JSON: text records, typed cell by cell.
//!
//! The bytes come from [`crate::source`]. Both are read twice when a column's type must be inferred (once to infer from every
//! value, once to convert), and once otherwise. Records are parsed into a reused
//! [`csv::ByteRecord`] so that memory stays at one batch whatever the file size.

use std::borrow::Cow;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::table::TableSink;
use arrow::array::{ArrayRef, StringBuilder};
use arrow::record_batch::RecordBatch;
use clientele_shared::stage::StageContext;
use csv::ByteRecord;

use crate::columns::{Cell, CellFormat, ColumnBuilder, Inference};
use crate::error::{IngestError, Location, ParamError, RowProblem};
use crate::params::IngestParams;
use crate::source::{decoded, io_error, open, skip_bom, Recorder, Source, BOM};
use crate::table::{internal, IdRegistry, IdSource, OutputPlan, Rejects};

/// The delimiters `delimiter = "auto"` chooses from, in the order that breaks ties.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How much of the file the choice reads: the first lines, up to this many bytes.
const SNIFF_BYTES: usize = 64 * 1024;
const SNIFF_RECORDS: usize = 100;

pub fn describe_delimiter(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab (\"\\t\")".to_string(),
        other => format!("\"{}\"", other as char),
    }
}

/// `params` with `delimiter = "auto"` resolved by [`sniff_delimiter`], and the note that
/// says what was chosen; `params` as they are, and no note, when the delimiter is given.
pub fn resolve_delimiter<'a>(
    params: &'a IngestParams,
    path: &Path,
) -> Result<(Cow<'a, IngestParams>, Option<String>), IngestError> {
    if params.delimiter != "auto" {
        return Ok((Cow::Borrowed(params), None));
    }
    let delimiter = sniff_delimiter(path, params)?;
    let note = match delimiter {
        Some(d) => format!(
            "delimiter: {} (chosen from the first lines)",
            describe_delimiter(d)
        ),
        None => "delimiter: \",\" (no other splits the first lines evenly: one column)".to_string(),
    };
    let resolved = IngestParams {
        delimiter: (delimiter.unwrap_or(b',') as char).to_string(),
        ..params.clone()
    };
    Ok((Cow::Owned(resolved), Some(note)))
}

/// Chooses the delimiter from the first lines (quotes respected): of `,` `;` tab `|`, the
/// one that splits every sampled record into the same number of fields, at least two,
/// the most fields winning, ties going to the earlier. `None` when no candidate does
/// (a one-column file, or an irregular one): the caller then uses `,`.
pub fn sniff_delimiter(path: &Path, params: &IngestParams) -> Result<Option<u8>, IngestError> {
    let quote = params.quote.as_bytes().first().copied().unwrap_or(b'"');
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    decoded(path, &params.encoding)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_error(path))?;
    let mut sample: &[u8] = head.strip_prefix(BOM).unwrap_or(&head);
    if head.len() == SNIFF_BYTES {
        // The last line may be cut: leave it out.
        if let Some(end) = sample.iter().rposition(|&b| b == b'\n') {
            sample = &sample[..end];
        }
    }
    let mut best: Option<(usize, u8)> = None;
    // With a decimal comma, a comma splits numbers, not fields.
    let candidates = DELIMITERS.into_iter().filter(|&d| {
        params.decimal.as_bytes() != [d]
            && params.thousands.as_deref().map(str::as_bytes) != Some(&[d])
    });
    for delimiter in candidates {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(quote)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut fields = None;
        let mut consistent = true;
        for record in reader.byte_records().take(SNIFF_RECORDS) {
            let Ok(record) = record else {
                consistent = false;
                break;
            };
            match fields {
                None => fields = Some(record.len()),
                Some(n) if n != record.len() => {
                    consistent = false;
                    break;
                }
                Some(_) => {}
            }
        }
        if let (true, Some(n)) = (consistent, fields) {
            if n >= 2 && best.is_none_or(|(m, _)| n > m) {
                best = Some((n, delimiter));
            }
        }
    }
    Ok(best.map(|(_, d)| d))
}

/// One record as the source gives it.
#[derive(Default)]
pub struct RawRecord {
    pub at: Option<Location>,
    pub fields: ByteRecord,
    /// For JSON: which fields were JSON `null` or absent. Empty for CSV.
    pub json_nulls: Vec<bool>,
    /// Set when the source could not split the record into fields at all.
    pub problem: Option<RowProblem>,
    /// The record's text as read (its line or lines, without the line break), when the
    /// source was asked to keep it ([`RecordSource::keep_raw_lines`]).
    pub raw: Vec<u8>,
}

pub trait RecordSource {
    fn header(&self) -> &[String];
    /// Reads the next record into `rec`; `false` at the end.
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool, IngestError>;
    /// Whether each record's text as read is kept in [`RawRecord::raw`] (for the
    /// rejects file); off unless asked, since it copies every byte once more.
    fn keep_raw_lines(&mut self, keep: bool);
    /// How this source's cells are parsed under `params`.
    fn cell_format(&self, params: &IngestParams) -> CellFormat {
        CellFormat::of(params)
    }
}

fn one_byte(value: &str, key: &'static str) -> Result<u8, IngestError> {
    match value.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(ParamError::NotOneCharacter { key }.into()),
    }
}

pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<Recorder<Source>>,
    header: Vec<String>,
    /// A headerless file's first record, read to count the columns, given back first,
    /// with its text as read.
    first: Option<(ByteRecord, Vec<u8>)>,
}

impl CsvSource {
    pub fn open(path: &Path, params: &IngestParams) -> Result<Self, IngestError> {
        let mut file = open(path, params)?;
        skip_bom(&mut file, path)?;
        let delimiter = one_byte(&params.delimiter, "delimiter")?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(one_byte(&params.quote, "quote")?)
            .has_headers(false)
            .flexible(true)
            .from_reader(Recorder::new(file));
        let mut first = ByteRecord::new();
        let read = reader
            .read_byte_record(&mut first)
            .map_err(|e| csv_error(path, e))?;
        if !read {
            return Err(IngestError::Empty {
                path: path.to_path_buf(),
            });
        }
        let mut first_raw = Vec::new();
        let end = reader.position().byte();
        reader.get_mut().take(0, end, &mut first_raw);
        let (header, first) = if params.header {
            let mut names = Vec::with_capacity(first.len());
            for (i, name) in first.iter().enumerate() {
                let name = std::str::from_utf8(name).map_err(|_| IngestError::Row {
                    path: path.to_path_buf(),
                    at: Location::Line(1),
                    problem: RowProblem::InvalidUtf8 {
                        column: format!("#{}", i + 1),
                    },
                })?;
                names.push(name.trim().to_string());
            }
            // One column whose name holds another likely delimiter: the file is almost
            // surely split by that one, not a one-column table.
            if let [only] = names.as_slice() {
                if let Some(&likely) = DELIMITERS
                    .iter()
                    .find(|&&c| c != delimiter && only.as_bytes().contains(&c))
                {
                    return Err(IngestError::OneColumnHeader {
                        path: path.to_path_buf(),
                        delimiter: describe_delimiter(delimiter),
                        likely: describe_delimiter(likely),
                    });
                }
            }
            (names, None)
        } else {
            let names = (1..=first.len()).map(|i| format!("column_{i}")).collect();
            (names, Some((first, first_raw)))
        };
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            header,
            first,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> IngestError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => IngestError::Row {
            path: path.to_path_buf(),
            at: Location::Line(line),
            problem: RowProblem::Malformed {
                message: format!("{other:?}"),
            },
        },
    }
}

impl RecordSource for CsvSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool, IngestError> {
        rec.problem = None;
        if let Some((first, raw)) = self.first.take() {
            rec.fields = first;
            rec.raw = raw;
        } else if !self
            .reader
            .read_byte_record(&mut rec.fields)
            .map_err(|e| csv_error(&self.path, e))?
        {
            return Ok(false);
        } else {
            let start = rec.fields.position().map_or(0, |p| p.byte());
            let end = self.reader.position().byte();
            self.reader.get_mut().take(start, end, &mut rec.raw);
        }
        rec.at = rec.fields.position().map(|p| Location::Line(p.line()));
        Ok(true)
    }

    fn keep_raw_lines(&mut self, keep: bool) {
        self.reader.get_mut().keep(keep);
    }
}

/// Newline-delimited JSON: one object per line; the columns are every key seen, in the
/// order first seen.
pub struct NdjsonSource {
    path: PathBuf,
    reader: Source,
    header: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    line: u64,
    buf: Vec<u8>,
    keep_raw: bool,
}

impl NdjsonSource {
    /// Opens the file, scanning it once for its keys and calling `observe` on each value
    /// (column index, text, or `None` for a value that cannot be text) for inference.
    pub fn open(
        path: &Path,
        params: &IngestParams,
        mut observe: impl FnMut(usize, Option<&str>),
    ) -> Result<Self, IngestError> {
        let mut source = Self::open_with_header(path, Vec::new(), params)?;
        let mut any = false;
        while source.next_line()? {
            any = true;
            let Ok(object) = source.parse_line() else {
                continue; // reported with its line when the records are converted
            };
            for (key, value) in &object {
                let column = match source.index.get(key.as_str()) {
                    Some(&c) => c,
                    None => {
                        source.index.insert(key.clone(), source.header.len());
                        source.header.push(key.clone());
                        source.header.len() - 1
                    }
                };
                match scalar_text(value) {
                    Ok(Some(text)) => observe(column, Some(&text)),
                    Ok(None) => {}
                    Err(()) => observe(column, None),
                }
            }
        }
        if !any {
            return Err(IngestError::Empty {
                path: path.to_path_buf(),
            });
        }
        let header = std::mem::take(&mut source.header);
        Self::open_with_header(path, header, params)
    }

    fn open_with_header(
        path: &Path,
        header: Vec<String>,
        params: &IngestParams,
    ) -> Result<Self, IngestError> {
        let mut reader = open(path, params)?;
        skip_bom(&mut reader, path)?;
        let index = header
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        Ok(NdjsonSource {
            path: path.to_path_buf(),
            reader,
            header,
            index,
            line: 0,
            buf: Vec::new(),
            keep_raw: false,
        })
    }

    /// Reads the next non-blank line into `buf`.
    fn next_line(&mut self) -> Result<bool, IngestError> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(io_error(&self.path))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    fn parse_line(&self) -> Result<serde_json::Map<String, serde_json::Value>, RowProblem> {
        let text = std::str::from_utf8(&self.buf).map_err(|_| RowProblem::LineNotUtf8)?;
        serde_json::from_str(text).map_err(|e| RowProblem::Json {
            message: e.to_string(),
        })
    }
}

/// The text of a JSON scalar; `Ok(None)` for null; `Err` for arrays and objects.
fn scalar_text(value: &serde_json::Value) -> Result<Option<String>, ()> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(()),
    }
}

impl RecordSource for NdjsonSource {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn keep_raw_lines(&mut self, keep: bool) {
        self.keep_raw = keep;
    }

    fn cell_format(&self, params: &IngestParams) -> CellFormat {
        CellFormat::of_json(params)
    }

    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool, IngestError> {
        if !self.next_line()? {
            return Ok(false);
        }
        rec.at = Some(Location::Line(self.line));
        rec.problem = None;
        rec.raw.clear();
        if self.keep_raw {
            let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            rec.raw
                .extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        }
        rec.fields.clear();
        rec.json_nulls.clear();
        rec.json_nulls.resize(self.header.len(), true);
        let object = match self.parse_line() {
            Ok(object) => object,
            Err(problem) => {
                rec.problem = Some(problem);
                return Ok(true);
            }
        };
        let mut values: Vec<Option<String>> = vec![None; self.header.len()];
        for (key, value) in &object {
            // Every key was seen by the scan in `open`, unless the file changed since.
            let Some(&column) = self.index.get(key.as_str()) else {
                continue;
            };
            match scalar_text(value) {
                Ok(text) => values[column] = text,
                Err(()) => {
                    rec.problem = Some(RowProblem::NestedJson {
                        column: key.clone(),
                    });
                    return Ok(true);
                }
            }
        }
        for (column, value) in values.iter().enumerate() {
            match value {
                Some(text) => {
                    rec.fields.push_field(text.as_bytes());
                    rec.json_nulls[column] = false;
                }
                None => rec.fields.push_field(b""),
            }
        }
        Ok(true)
    }
}

/// Infers the types of `columns` (indices into the header) over every CSV record.
pub fn infer_csv(
    path: &Path,
    params: &IngestParams,
    columns: &[usize],
) -> Result<Vec<Inference>, IngestError> {
    let mut source = CsvSource::open(path, params)?;
    let format = CellFormat::of(params);
    let mut inference = vec![Inference::default(); source.header().len()];
    let mut rec = RawRecord::default();
    while source.next_record(&mut rec)? {
        let record = RecordText::of(&rec.fields);
        for &c in columns {
            if c >= rec.fields.len() {
                continue;
            }
            match record.field(&rec.fields, c) {
                Ok(text) if is_null_marker(text, &params.null_markers) => {}
                Ok(text) => inference[c].observe(text, &format),
                Err(_) => inference[c].observe_unparsable(),
            }
        }
    }
    Ok(inference)
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

pub fn is_null_marker(text: &str, markers: &[String]) -> bool {
    let t = text.trim();
    markers.iter().any(|m| m == t)
}

/// Converts every record of `source` into the output table.
pub fn convert(
    source: &mut dyn RecordSource,
    source_path: &Path,
    plan: &OutputPlan,
    params: &IngestParams,
    sink: &mut TableSink,
    rejects: &mut Rejects,
    ctx: &StageContext<'_>,
) -> Result<(), IngestError> {
    let schema = plan.schema();
    let width = source.header().len();
    let batch_rows = params.batch_rows.max(1);
    let mut ids = IdRegistry::new(params.one_row_per_customer);
    let mut id_builder = StringBuilder::with_capacity(batch_rows, batch_rows * 8);
    let mut builders: Vec<ColumnBuilder> = plan
        .columns
        .iter()
        .map(|(_, ty)| ColumnBuilder::new(*ty, batch_rows))
        .collect();
    let mut pending = 0usize;
    let mut data_row = 0u64;
    let mut rec = RawRecord::default();
    let format = source.cell_format(params);
    source.keep_raw_lines(rejects.keeps_records());

    while source.next_record(&mut rec)? {
        data_row += 1;
        let at = rec.at.unwrap_or(Location::Row(data_row));
        let raw_text = |rec: &RawRecord| -> Option<String> {
            Some(String::from_utf8_lossy(&rec.raw).into_owned())
        };
        if let Some(problem) = rec.problem.take() {
            rejects.reject(at, problem, raw_text(&rec))?;
            continue;
        }
        if rec.fields.len() != width {
            let problem = RowProblem::FieldCount {
                expected: width,
                found: rec.fields.len(),
            };
            rejects.reject(at, problem, raw_text(&rec))?;
            continue;
        }
        let record = RecordText::of(&rec.fields);
        let text_of = |c: usize| -> Result<Option<&str>, RowProblem> {
            if rec.json_nulls.get(c).copied().unwrap_or(false) {
                return Ok(None);
            }
            let text = record
                .field(&rec.fields, c)
                .map_err(|_| RowProblem::InvalidUtf8 {
                    column: source_header_name(plan, c),
                })?;
            if is_null_marker(text, &params.null_markers) {
                Ok(None)
            } else {
                Ok(Some(text))
            }
        };
        let row: Result<(String, Vec<Cell<'_>>), RowProblem> = (|| {
            let id = match (&plan.id, plan.id_index) {
                (IdSource::Column(name), Some(c)) => match text_of(c)? {
                    Some(text) => text.trim().to_string(),
                    None => {
                        return Err(RowProblem::MissingId {
                            column: name.clone(),
                        })
                    }
                },
                _ => data_row.to_string(),
            };
            let mut row_cells = Vec::with_capacity(plan.columns.len());
            for (out, &c) in plan.source_index.iter().enumerate() {
                let (name, ty) = &plan.columns[out];
                let cell = match text_of(c)? {
                    None => Cell::Null,
                    Some(text) => {
                        format
                            .parse(*ty, text)
                            .ok_or_else(|| RowProblem::Unparsable {
                                column: name.clone(),
                                expected: ty.describe(),
                            })?
                    }
                };
                row_cells.push(cell);
            }
            Ok((id, row_cells))
        })();
        let (id, row_cells) = match row {
            Ok(row) => row,
            Err(problem) => {
                let text = raw_text(&rec);
                rejects.reject(at, problem, text)?;
                continue;
            }
        };
        if let Some(first) = ids.check(&id, at) {
            let problem = RowProblem::DuplicateId {
                column: plan.id_column_name().to_string(),
                first,
            };
            let text = raw_text(&rec);
            rejects.reject(at, problem, text)?;
            continue;
        }
        id_builder.append_value(&id);
        for (builder, cell) in builders.iter_mut().zip(row_cells) {
            builder.append(cell);
        }
        pending += 1;
        if pending >= batch_rows {
            write_batch(&schema, &mut id_builder, &mut builders, sink, source_path)?;
            pending = 0;
            ctx.progress.rows(data_row, None);
        }
    }
    if pending > 0 || sink.rows() == 0 {
        write_batch(&schema, &mut id_builder, &mut builders, sink, source_path)?;
    }
    ctx.progress.rows(data_row, Some(data_row));
    Ok(())
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

fn write_batch(
    schema: &arrow::datatypes::SchemaRef,
    id_builder: &mut StringBuilder,
    builders: &mut [ColumnBuilder],
    sink: &mut TableSink,
    path: &Path,
) -> Result<(), IngestError> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(builders.len() + 1);
    columns.push(std::sync::Arc::new(id_builder.finish()));
    columns.extend(builders.iter_mut().map(ColumnBuilder::finish));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| internal(path, e))?;
    sink.write(&batch)?;
    Ok(())
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
