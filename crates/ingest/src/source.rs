//! The bytes of a text source, as the CSV and NDJSON readers take them: decompressed
//! (gzip, zstd, found by their magic bytes), decoded to UTF-8 (`params.encoding`, or a
//! UTF-16 byte-order mark), each line capped (`params.max_line_bytes`), a UTF-8 mark
//! skipped; and the recorder that keeps a CSV record's text as read, for the rejects.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{IngestError, ParamError};
use crate::params::IngestParams;

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A source file as text: decompressed, decoded to UTF-8, read through [`LineCap`].
pub type Source = BufReader<LineCap<Box<dyn Read + Send>>>;

const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";

/// The encoding named by `label`: a WHATWG label (`latin1` is windows-1252, as browsers
/// and Excel read it), or one with its hyphens and underscores dropped or added as
/// Python writes them (`latin-1`, `utf_16le`); `None` for an unknown label.
pub fn encoding_of(label: &str) -> Option<&'static encoding_rs::Encoding> {
    let label = label.trim().to_ascii_lowercase();
    let squeezed: String = label.chars().filter(|c| !matches!(c, '-' | '_')).collect();
    [label.clone(), label.replace('_', "-"), squeezed]
        .iter()
        .find_map(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
}

/// The bytes of a text source as UTF-8: gzip or zstd decompressed when the file starts
/// with their magic bytes (whatever its extension), then decoded from `encoding`. A
/// UTF-8 file (the default) is passed through untouched, so that invalid bytes are still
/// errors naming their line; a UTF-16 byte-order mark is honoured whatever the setting.
pub fn decoded(path: &Path, encoding: &str) -> Result<Box<dyn Read + Send>, IngestError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut raw = BufReader::with_capacity(1 << 16, file);
    let head = raw.fill_buf().map_err(io_error(path))?;
    let mut bytes: Box<dyn Read + Send> = if head.starts_with(GZIP_MAGIC) {
        // Multi-member: `cat a.gz b.gz` and bgzip files are one stream of text.
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else if head.starts_with(ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(io_error(path))?)
    } else {
        Box::new(raw)
    };
    let encoding = encoding_of(encoding).ok_or_else(|| ParamError::Encoding {
        label: encoding.to_string(),
    })?;
    if encoding == encoding_rs::UTF_8 {
        let mut peek = BufReader::with_capacity(1 << 16, bytes);
        let head = peek.fill_buf().map_err(io_error(path))?;
        if !(head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF")) {
            return Ok(Box::new(peek));
        }
        bytes = Box::new(peek);
    }
    // Decoded text carries no byte-order mark; a BOM in the file overrides `encoding`.
    Ok(Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding((encoding != encoding_rs::UTF_8).then_some(encoding))
            .bom_override(true)
            .bom_sniffing(true)
            .build(bytes),
    ))
}

pub fn open(path: &Path, params: &IngestParams) -> Result<Source, IngestError> {
    open_capped(path, &params.encoding, params.max_line_bytes)
}

pub fn open_capped(
    path: &Path,
    encoding: &str,
    max_line_bytes: usize,
) -> Result<Source, IngestError> {
    Ok(BufReader::with_capacity(
        1 << 20,
        LineCap {
            inner: decoded(path, encoding)?,
            max: max_line_bytes,
            line: 1,
            length: 0,
        },
    ))
}

/// Fails the read as soon as one physical line is longer than `max` bytes, so that a
/// file with no line breaks (a wrong export, a binary file) costs `max` bytes of memory
/// and an error naming the line, not a multi-gigabyte record.
pub struct LineCap<R> {
    inner: R,
    max: usize,
    line: u64,
    length: usize,
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut start = 0;
        for at in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.length + (at - start) > self.max {
                return Err(self.too_long());
            }
            self.line += 1;
            self.length = 0;
            start = at + 1;
        }
        self.length += n - start;
        if self.length > self.max {
            return Err(self.too_long());
        }
        Ok(n)
    }
}

impl<R> LineCap<R> {
    fn too_long(&self) -> std::io::Error {
        std::io::Error::other(format!(
            "line {} is longer than {} bytes (params.max_line_bytes); is this the right file, and the right delimiter and quote?",
            self.line, self.max
        ))
    }
}

pub fn io_error(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Skips a UTF-8 byte-order mark, as Excel and many bank exports write one.
pub fn skip_bom(reader: &mut Source, path: &Path) -> Result<(), IngestError> {
    let head = reader.fill_buf().map_err(io_error(path))?;
    if head.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    Ok(())
}

/// What the CSV parser reads, kept since the start of the current record while `on`, so
/// that a rejected record can be written as it was read, quotes and all (the csv crate
/// gives fields and byte positions, not the record's text).
pub struct Recorder<R> {
    inner: R,
    on: bool,
    /// The bytes read from stream offset `base` on.
    kept: Vec<u8>,
    base: u64,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.on {
            self.kept.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl<R> Recorder<R> {
    /// Records from the start, until told otherwise ([`Recorder::on`]).
    pub fn new(inner: R) -> Self {
        Recorder {
            inner,
            on: true,
            kept: Vec::new(),
            base: 0,
        }
    }

    /// Whether to keep recording; off forgets what was kept.
    pub fn keep(&mut self, keep: bool) {
        self.on = keep;
        if !keep {
            self.kept = Vec::new();
        }
    }

    /// The bytes from `start` to `end` (stream offsets), line break trimmed, into `out`;
    /// then forgets everything before `end`.
    pub fn take(&mut self, start: u64, end: u64, out: &mut Vec<u8>) {
        out.clear();
        if !self.on {
            return;
        }
        let at = |offset: u64| {
            usize::try_from(offset.saturating_sub(self.base))
                .unwrap_or(usize::MAX)
                .min(self.kept.len())
        };
        let (from, to) = (at(start), at(end));
        // The parser's positions put a CRLF's `\n` at the start of the next record.
        let mut text = &self.kept[from..to.max(from)];
        while let [b'\n' | b'\r', rest @ ..] = text {
            text = rest;
        }
        while let [rest @ .., b'\n' | b'\r'] = text {
            text = rest;
        }
        out.extend_from_slice(text);
        self.kept.drain(..to);
        self.base += to as u64;
    }
}

/// Reads a whole small file to check it is not empty (zero bytes, or only a BOM and
/// whitespace) before anything else, so that the error says "empty" and not "no header".
pub fn check_not_empty(path: &Path, params: &IngestParams) -> Result<(), IngestError> {
    let mut file = open_capped(path, &params.encoding, usize::MAX)?;
    let mut head = [0u8; 4096];
    let n = file.read(&mut head).map_err(io_error(path))?;
    let body = head[..n].strip_prefix(BOM).unwrap_or(&head[..n]);
    if n == 0 || (n < head.len() && body.iter().all(u8::is_ascii_whitespace)) {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
