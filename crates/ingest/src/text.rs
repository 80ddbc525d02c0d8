//! CSV and newline-delimited JSON as records: the delimiter chosen, the header read, a
//! record at a time for NDJSON and for the identifier scan (CSV's records are read in
//! chunks by [`crate::chunks`] for the conversion).
//!
//! The bytes come from [`crate::source`]. Both formats are read twice when a column's
//! type must be inferred (once to infer from every value, once to convert), and once
//! otherwise. Records are parsed into a reused [`csv::ByteRecord`], so that memory stays
//! at one batch whatever the file size.

use std::borrow::Cow;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::columns::CellFormat;
use crate::error::{IngestError, Location, ParamError, RowProblem};
use crate::params::IngestParams;
use crate::source::{decoded, io_error, open, skip_bom, Recorder, Source, BOM};

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
    /// Where the records start in the decoded text after its byte-order mark: after the
    /// header record, or 0.
    data_start: u64,
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
        let data_start = if first.is_some() { 0 } else { end };
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            header,
            first,
            data_start,
        })
    }

    /// Where the records start, for a reader of the same text ([`crate::chunks`]).
    pub fn data_start(&self) -> u64 {
        self.data_start
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

pub fn is_null_marker(text: &str, markers: &[String]) -> bool {
    let t = crate::columns::trim(text);
    markers.iter().any(|m| m == t)
}
