//! Encryption at rest: Parquet Modular Encryption (AES-GCM) of every Parquet file a
//! pipeline writes, with one key for the footer and every column ("uniform" encryption,
//! which pyarrow, DuckDB and Spark read given the key).
//!
//! The runner loads the key once and hands it to each stage in its
//! [`crate::stage::StageContext`]; every [`crate::parquet_io`] reader and writer takes it
//! explicitly (no process-wide key: two pipelines in one process, or a test, cannot see
//! each other's). A file is written encrypted when a key is given; an encrypted file is
//! read with the key given, and a plaintext input (a source the bank hands over) is
//! still read as it is. The key itself is never written anywhere.

use std::path::Path;

use crate::SharedError;

/// An AES key of 16, 24 or 32 bytes.
#[derive(Clone)]
pub struct ParquetKey(Vec<u8>);

impl std::fmt::Debug for ParquetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParquetKey({} bytes)", self.0.len())
    }
}

impl ParquetKey {
    /// Parses a key written as hex (32, 48 or 64 digits; surrounding whitespace ignored).
    /// `source` names where it came from, for the message.
    pub fn from_hex(text: &str, source: &str) -> Result<Self, SharedError> {
        let bad = |why: &str| SharedError::Key {
            source_name: source.to_string(),
            why: why.to_string(),
        };
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) || !text.len().is_multiple_of(2) {
            return Err(bad(
                "does not hold a key in hex digits (e.g. `openssl rand -hex 32`)",
            ));
        }
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect();
        if ![16, 24, 32].contains(&bytes.len()) {
            return Err(bad(&format!(
                "holds a key of {} bytes; AES needs 16, 24 or 32 (32, 48 or 64 hex digits)",
                bytes.len()
            )));
        }
        Ok(ParquetKey(bytes))
    }

    /// Reads the key from an environment variable.
    pub fn from_env(name: &str) -> Result<Self, SharedError> {
        let source = format!("environment variable `{name}`");
        match std::env::var(name) {
            Ok(text) => Self::from_hex(&text, &source),
            Err(_) => Err(SharedError::Key {
                source_name: source,
                why: "is not set; the encryption key must be there".to_string(),
            }),
        }
    }

    /// Reads the key from a file.
    pub fn from_file(path: &Path) -> Result<Self, SharedError> {
        let source = format!("key file `{}`", path.display());
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text, &source),
            Err(e) => Err(SharedError::Key {
                source_name: source,
                why: format!("cannot be read: {e}"),
            }),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Whether a Parquet file has an encrypted footer (it ends in `PARE`, not `PAR1`).
pub fn is_encrypted(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut magic = [0u8; 4];
    file.seek(SeekFrom::End(-4)).is_ok() && file.read_exact(&mut magic).is_ok() && &magic == b"PARE"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_of_an_aes_length() {
        assert!(ParquetKey::from_hex(&"ab".repeat(32), "t").is_ok());
        assert!(ParquetKey::from_hex(&"ab".repeat(16), "t").is_ok());
        let err = ParquetKey::from_hex(&"ab".repeat(20), "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a key of 20 bytes"), "{err}");
        assert!(ParquetKey::from_hex("not hex at all!", "t").is_err());
        let debug = format!("{:?}", ParquetKey::from_hex(&"ab".repeat(32), "t").unwrap());
        assert!(!debug.contains("ab"), "the key was printed: {debug}");
    }
}
