//! A CSV source cut into chunks of whole records, so that the records of different chunks
//! can be parsed on different threads.
//!
//! A line break ends a record unless it is inside a quoted field, so the cut needs the
//! quoting state at every line break. [`QuoteState`] follows it byte by byte with the
//! rules of `csv_core` (the parser every chunk is then given): a quote opens a quoted
//! field only at the start of a field, a doubled quote inside one is a quote, and `\r`,
//! `\n` and `\r\n` all end a record. Stretches without a quote character, most of a
//! typical bank export, are cut with `memchr` alone. Written here because the csv crate
//! parses from a single reader and no crate we use splits a stream at record boundaries.

use std::io::Read;
use std::path::Path;

use crate::error::IngestError;
use crate::source::{io_error, Source};

/// How many bytes a chunk holds (it ends at the last record boundary after this many,
/// or holds one longer record whole). Two chunks per thread are in memory at a time.
pub const CHUNK_BYTES: usize = 2 << 20;

#[cfg(test)]
thread_local! {
    /// A test's chunk size for the readers made on its thread (the whole stage's output
    /// must not depend on it).
    pub static TEST_CHUNK_BYTES: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn chunk_bytes() -> usize {
    #[cfg(test)]
    if let Some(bytes) = TEST_CHUNK_BYTES.with(std::cell::Cell::get) {
        return bytes;
    }
    CHUNK_BYTES
}

/// Where the parser is, as far as record boundaries care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a field (and of a record): a quote here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field: a quote here is text.
    InField,
    /// Inside a quoted field: a line break here is text.
    InQuoted,
    /// Just after a quote inside a quoted field: a second quote is an escaped quote,
    /// anything else closes the field.
    QuoteInQuote,
}

/// Byte classes of the state machine.
const OTHER: u8 = 0;
const DELIMITER: u8 = 1;
const QUOTE: u8 = 2;
const CARRIAGE_RETURN: u8 = 3;
const LINE_FEED: u8 = 4;

/// One stretch of whole records, and the line its first byte is on.
pub struct Chunk {
    pub text: Vec<u8>,
    pub first_line: u64,
}

/// Cuts the decoded bytes of a CSV source into [`Chunk`]s.
pub struct ChunkReader<'a> {
    source: Source,
    path: &'a Path,
    classes: [u8; 256],
    quote: u8,
    state: QuoteState,
    /// Bytes read after the last record boundary, already scanned (`state` is theirs).
    carry: Vec<u8>,
    /// The line the carried bytes start on.
    line: u64,
    /// Line breaks in the carried bytes.
    carry_lines: u64,
    at_end: bool,
    chunk_bytes: usize,
}

impl<'a> ChunkReader<'a> {
    /// Reads `source` from its current position after skipping `skip` bytes (the header
    /// record, as the CSV parser measured it).
    pub fn new(
        mut source: Source,
        path: &'a Path,
        delimiter: u8,
        quote: u8,
        skip: u64,
    ) -> Result<Self, IngestError> {
        let mut skipped = Vec::new();
        (&mut source)
            .take(skip)
            .read_to_end(&mut skipped)
            .map_err(io_error(path))?;
        let mut classes = [OTHER; 256];
        classes[usize::from(delimiter)] = DELIMITER;
        classes[usize::from(quote)] = QUOTE;
        classes[usize::from(b'\r')] = CARRIAGE_RETURN;
        classes[usize::from(b'\n')] = LINE_FEED;
        Ok(ChunkReader {
            source,
            path,
            classes,
            quote,
            state: QuoteState::FieldStart,
            carry: Vec::new(),
            line: 1 + memchr::memchr_iter(b'\n', &skipped).count() as u64,
            carry_lines: 0,
            at_end: false,
            chunk_bytes: chunk_bytes(),
        })
    }

    #[cfg(test)]
    fn with_chunk_bytes(mut self, chunk_bytes: usize) -> Self {
        self.chunk_bytes = chunk_bytes;
        self
    }

    /// The next chunk of whole records; `None` after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, IngestError> {
        let mut text = std::mem::take(&mut self.carry);
        // Line breaks before the last boundary found, and after it.
        let (mut lines, mut pending) = (0u64, self.carry_lines);
        let mut boundary = None;
        while !self.at_end && (boundary.is_none() || text.len() < self.chunk_bytes) {
            let start = text.len();
            // Reads of at least 64 KiB (less only for a test's smaller chunks).
            let want = self
                .chunk_bytes
                .saturating_sub(start)
                .max(self.chunk_bytes.min(1 << 16))
                .max(1);
            text.resize(start + want, 0);
            let n = read_some(&mut self.source, &mut text[start..]).map_err(io_error(self.path))?;
            text.truncate(start + n);
            if n == 0 {
                self.at_end = true;
                break;
            }
            let (last, (before, after)) = self.scan(&text[start..]);
            match last {
                Some(end) => {
                    boundary = Some(start + end);
                    lines += pending + before;
                    pending = after;
                }
                None => pending += after,
            }
        }
        if text.is_empty() {
            return Ok(None);
        }
        let first_line = self.line;
        // The loop stops without a boundary only at the end of the input.
        let end = match boundary {
            Some(end) if !self.at_end => end,
            _ => {
                // The last record need not end with a line break.
                self.line += lines + pending;
                self.carry_lines = 0;
                return Ok(Some(Chunk { text, first_line }));
            }
        };
        self.carry = text[end..].to_vec();
        self.carry_lines = pending;
        text.truncate(end);
        self.line += lines;
        Ok(Some(Chunk { text, first_line }))
    }

    /// Follows the quoting state over `bytes`: the offset just after the last line break
    /// that ends a record (if any), and the number of line breaks (`\n`, as the parser
    /// counts lines) before and after that offset.
    fn scan(&mut self, bytes: &[u8]) -> (Option<usize>, (u64, u64)) {
        let plain = matches!(self.state, QuoteState::FieldStart | QuoteState::InField)
            && memchr::memchr(self.quote, bytes).is_none();
        if plain {
            // Without quotes every line break ends a record.
            let breaks = memchr::memchr_iter(b'\n', bytes).count() as u64;
            let last = memchr::memrchr(b'\n', bytes);
            let tail = match last {
                Some(at) => {
                    self.state = QuoteState::FieldStart;
                    &bytes[at + 1..]
                }
                None => bytes,
            };
            if let Some(&byte) = tail.last() {
                self.state = match self.classes[usize::from(byte)] {
                    DELIMITER | CARRIAGE_RETURN | LINE_FEED => QuoteState::FieldStart,
                    _ => QuoteState::InField,
                };
            }
            return match last {
                Some(at) => (Some(at + 1), (breaks, 0)),
                None => (None, (0, breaks)),
            };
        }
        let mut state = self.state;
        let mut last = None;
        let (mut before, mut after) = (0u64, 0u64);
        for (at, &byte) in bytes.iter().enumerate() {
            let class = self.classes[usize::from(byte)];
            state = match (state, class) {
                (QuoteState::InQuoted, QUOTE) => QuoteState::QuoteInQuote,
                (QuoteState::InQuoted, _) => QuoteState::InQuoted,
                (QuoteState::QuoteInQuote, QUOTE) => QuoteState::InQuoted,
                (QuoteState::FieldStart, QUOTE) => QuoteState::InQuoted,
                (_, DELIMITER | CARRIAGE_RETURN | LINE_FEED) => QuoteState::FieldStart,
                (_, _) => QuoteState::InField,
            };
            if byte == b'\n' {
                after += 1;
                if state == QuoteState::FieldStart {
                    last = Some(at + 1);
                    before += after;
                    after = 0;
                }
            }
        }
        self.state = state;
        (last, (before, after))
    }
}

/// The records of one chunk, each with the line it starts on and its text's place in the
/// chunk (line breaks left out, for the rejects file).
pub struct ChunkRecords<'t> {
    parser: Parser<'t>,
    text: &'t [u8],
    /// The line of the last record's start.
    line: u64,
}

enum Parser<'t> {
    /// `csv_core`, for a chunk with a quote character in it. The chunk's line breaks not
    /// yet passed are walked in step with the records.
    Csv {
        reader: Box<csv::Reader<&'t [u8]>>,
        line_breaks: memchr::Memchr<'t>,
        next_break: Option<usize>,
    },
    /// A chunk without a quote character: a record is a line, its fields are split by the
    /// delimiter, and `\r`, `\n` and blank lines are skipped between records, exactly as
    /// `csv_core` reads such text but without its state machine (a seventh of the
    /// holdings' ingest), from byte `at`.
    QuoteFree { at: usize, delimiter: u8 },
}

impl<'t> ChunkRecords<'t> {
    pub fn new(chunk: &'t Chunk, delimiter: u8, quote: u8) -> Self {
        let parser = if memchr::memchr(quote, &chunk.text).is_none() {
            Parser::QuoteFree { at: 0, delimiter }
        } else {
            Parser::Csv {
                reader: Box::new(
                    csv::ReaderBuilder::new()
                        .delimiter(delimiter)
                        .quote(quote)
                        .has_headers(false)
                        .flexible(true)
                        .from_reader(&chunk.text[..]),
                ),
                line_breaks: memchr::memchr_iter(b'\n', &chunk.text),
                next_break: None,
            }
        };
        ChunkRecords {
            parser,
            text: &chunk.text,
            line: chunk.first_line,
        }
    }

    /// Reads the next record into `record`: its line and the range of its text; `None`
    /// at the end of the chunk.
    ///
    /// The line is counted here rather than taken from the parser, which places a record
    /// after `\r\n` on the line before and skips blank lines uncounted.
    pub fn next_record(
        &mut self,
        record: &mut csv::ByteRecord,
    ) -> Result<Option<(u64, std::ops::Range<usize>)>, csv::Error> {
        let text = self.text;
        let (reader, line_breaks, next_break) = match &mut self.parser {
            Parser::QuoteFree { at, delimiter } => {
                let mut start = *at;
                while let Some(&byte) = text.get(start).filter(|b| matches!(b, b'\r' | b'\n')) {
                    self.line += u64::from(byte == b'\n');
                    start += 1;
                }
                if start >= text.len() {
                    *at = start;
                    return Ok(None);
                }
                let end =
                    memchr::memchr2(b'\r', b'\n', &text[start..]).map_or(text.len(), |e| start + e);
                record.clear();
                for field in text[start..end].split(|b| b == delimiter) {
                    record.push_field(field);
                }
                *at = end;
                return Ok(Some((self.line, start..end)));
            }
            Parser::Csv {
                reader,
                line_breaks,
                next_break,
            } => (reader, line_breaks, next_break),
        };
        if !reader.read_byte_record(record)? {
            return Ok(None);
        }
        let position = |p: u64| usize::try_from(p).unwrap_or(usize::MAX).min(text.len());
        let mut start = position(record.position().map_or(0, csv::Position::byte));
        let mut end = position(reader.position().byte()).max(start);
        while start < end && matches!(text[start], b'\r' | b'\n') {
            start += 1;
        }
        while end > start && matches!(text[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        // One pass over the chunk's line breaks, in step with the records (a count per
        // record costs a vector search's set-up for a few bytes).
        loop {
            if next_break.is_none() {
                *next_break = line_breaks.next();
            }
            match *next_break {
                Some(at) if at < start => {
                    self.line += 1;
                    *next_break = None;
                }
                _ => break,
            }
        }
        Ok(Some((self.line, start..end)))
    }
}

/// `read` retried when interrupted.
fn read_some(source: &mut Source, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match source.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Every record of `text`, with its line, as the csv crate reads it whole.
    fn records_whole(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        records_of(text, 1)
    }

    fn records_of(text: &[u8], first_line: u64) -> Vec<(u64, Vec<Vec<u8>>)> {
        let chunk = Chunk {
            text: text.to_vec(),
            first_line,
        };
        let mut records = ChunkRecords::new(&chunk, b',', b'"');
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while let Some((line, _)) = records.next_record(&mut record).expect("parses") {
            out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    fn records_chunked(text: &[u8], chunk_bytes: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.csv");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(text))
            .expect("write");
        let source = crate::source::open_capped(&path, "utf-8", usize::MAX).expect("open");
        let mut reader = ChunkReader::new(source, &path, b',', b'"', 0)
            .expect("reader")
            .with_chunk_bytes(chunk_bytes);
        let mut out = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = reader.next_chunk().expect("chunk") {
            chunks += 1;
            out.extend(records_of(&chunk.text, chunk.first_line));
        }
        // Chunks of one byte end at the first line break that ends a record: a record
        // each, or none (a lone `\r` ends a record but is no place to cut).
        let lone_cr = text.contains(&b'\r');
        assert!(
            chunk_bytes > 1 || lone_cr || chunks >= out.len(),
            "{chunks} chunks"
        );
        out
    }

    /// Every record of `text` as `csv_core` reads it, with its byte range as the parser
    /// reports it, trimmed of line breaks.
    fn csv_core_records(text: &[u8]) -> Vec<(Vec<Vec<u8>>, std::ops::Range<usize>)> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).expect("parses") {
            let mut start = record.position().expect("position").byte() as usize;
            let mut end = reader.position().byte() as usize;
            while start < end && matches!(text[start], b'\r' | b'\n') {
                start += 1;
            }
            while end > start && matches!(text[end - 1], b'\r' | b'\n') {
                end -= 1;
            }
            out.push((record.iter().map(<[u8]>::to_vec).collect(), start..end));
        }
        out
    }

    #[test]
    fn quote_free_chunks_split_as_csv_core_does() {
        let cases: &[&[u8]] = &[
            b"a,b\n1,2\n",
            b"a,b\r\n1,2\r\n\r\n3,4",
            b"\n\n,,\n \n\r\r\nx\ry,\n",
            b"one field\nno,line,break,at,the,end,",
            b"",
            b"\r\n",
        ];
        for text in cases {
            let chunk = Chunk {
                text: text.to_vec(),
                first_line: 1,
            };
            let mut records = ChunkRecords::new(&chunk, b',', b'"');
            assert!(matches!(records.parser, Parser::QuoteFree { .. }));
            let mut ours = Vec::new();
            let mut record = csv::ByteRecord::new();
            while let Some((_, range)) = records.next_record(&mut record).expect("parses") {
                ours.push((record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>(), range));
            }
            assert_eq!(
                ours,
                csv_core_records(text),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn records_are_on_the_line_an_editor_shows() {
        let lines = |text: &[u8]| -> Vec<u64> { records_whole(text).iter().map(|r| r.0).collect() };
        assert_eq!(lines(b"a,b\r\n1,2\r\n\r\n3,4"), [1, 2, 4]);
        assert_eq!(lines(b"\n\na\n\"x\ny\",z\nlast\n"), [3, 4, 6]);
        assert_eq!(lines(b"\r\n\na\r\n\r\nb\rc\n"), [3, 5, 5]);
    }

    #[test]
    fn chunks_hold_the_records_and_lines_the_whole_file_has() {
        let cases: &[&[u8]] = &[
            b"a,b\n1,2\n3,4\n",
            b"a,b\r\n1,2\r\n\r\n3,4",
            b"a,\"b\nc\",d\n\"x\"\"\ny\",z\n5,6\n",
            // A quote inside an unquoted field is text; a line break after it ends the record.
            b"h,5'11\",w\n\"q,\n\",2\n7,8\n",
            // A lone carriage return ends a record, and the next may open a quote at once.
            b"a,b\r\"c\nd\",e\nf,g\n",
            // A closed quote followed by text continues the field unquoted.
            b"\"ab\"cd,\"e\"\nx,\"\"\n\"\"\"\",y\n",
            b"\n\n1,2\n\n",
            b"no line break at the end",
            b"\"unclosed\nquote,runs\nto the end\n",
        ];
        for (i, text) in cases.iter().enumerate() {
            let whole = records_whole(text);
            for chunk_bytes in [1, 2, 3, 5, 8, 13, 1 << 20] {
                assert_eq!(
                    records_chunked(text, chunk_bytes),
                    whole,
                    "case {i}, chunks of {chunk_bytes} bytes"
                );
            }
        }
    }

    #[test]
    fn generated_files_cut_anywhere_read_the_same() {
        // A pseudo-random mix of quoted, unquoted, empty fields and line breaks of both kinds.
        let mut text = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let pieces: [&[u8]; 10] = [
            b"plain",
            b"\"q,uo\"\"te\"",
            b"",
            b"\"multi\nline\"",
            b"5'1\"",
            b"\"\"",
            b"x",
            b"\"a\r\nb\"",
            b"12.5",
            b"\"\"\"\"",
        ];
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend_from_slice(pieces[(x % 10) as usize]);
            text.extend_from_slice(match (x >> 8) % 7 {
                0 => b"\n",
                1 => b"\r\n",
                _ => b",",
            });
        }
        let whole = records_whole(&text);
        assert!(whole.len() > 300);
        for chunk_bytes in [7, 64, 999, 4096] {
            assert_eq!(records_chunked(&text, chunk_bytes), whole, "{chunk_bytes}");
        }
    }
}
