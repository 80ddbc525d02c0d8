//! Pseudonyms: each identifier replaced by its HMAC-SHA256 under a secret key.
//!
//! The same key gives the same pseudonym, so the customer table and the holdings still
//! join; without the key a pseudonym cannot be recomputed from a guessed identifier, as
//! a plain hash could. The key never appears in the pipeline file: it is read from an
//! environment variable or a key file, and a missing or short key is an error, never a
//! fallback to an unkeyed hash.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::record_batch::RecordBatch;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::IngestError;

/// Shorter keys are refused: 128 bits is the floor for an HMAC key.
pub const MIN_KEY_BYTES: usize = 16;
/// Pseudonyms keep the first 128 bits of the MAC, as 32 hex digits: collisions among a
/// billion customers have a probability below 1e-20.
const PSEUDONYM_BYTES: usize = 16;

/// Where the key comes from, for messages (never the key).
#[derive(Debug, Clone)]
pub enum KeySource<'a> {
    Env(&'a str),
    File(&'a Path),
}

impl std::fmt::Display for KeySource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(name) => write!(f, "environment variable `{name}`"),
            KeySource::File(path) => write!(f, "key file `{}`", path.display()),
        }
    }
}

#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
}

impl Pseudonymiser {
    /// Reads the key (its bytes, without trailing whitespace, so that a file written by
    /// `echo` works) and checks its length.
    pub fn from_source(source: KeySource<'_>) -> Result<Self, IngestError> {
        let bad = |why: String| IngestError::Key {
            source_name: source.to_string(),
            why,
        };
        let bytes = match &source {
            KeySource::Env(name) => std::env::var_os(name)
                .ok_or_else(|| bad("is not set; the pseudonymisation key must be there".into()))?
                .into_encoded_bytes(),
            KeySource::File(path) => {
                std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?
            }
        };
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        Self::new(&bytes[..end]).map_err(bad)
    }

    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "holds a key of {} bytes; a pseudonymisation key needs at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                key.len()
            ));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(Pseudonymiser { mac })
    }

    /// The pseudonym of one identifier: 32 lowercase hex digits.
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..PSEUDONYM_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Replaces the text columns at `columns` of `batch` by their pseudonyms (nulls stay
    /// null).
    pub fn apply(&self, batch: &RecordBatch, columns: &[usize]) -> Result<RecordBatch, String> {
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for &c in columns {
            let text = arrays[c]
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    format!(
                        "column `{}` is not text and cannot be pseudonymised",
                        batch.schema().field(c).name()
                    )
                })?;
            let mapped: StringArray = (0..text.len())
                .map(|r| (!text.is_null(r)).then(|| self.pseudonym(text.value(r))))
                .collect();
            arrays[c] = Arc::new(mapped);
        }
        RecordBatch::try_new(batch.schema(), arrays).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_hmac_sha256() {
        // Python's own HMAC gives the same:
        // hmac.new(b"0123456789abcdef", b"C0000001", hashlib.sha256).hexdigest()[:32]
        let p = Pseudonymiser::new(b"0123456789abcdef").unwrap();
        assert_eq!(p.pseudonym("C0000001"), "db840efac526bc7e87345056b89039ca");
        assert_eq!(p.pseudonym("C0000001"), p.pseudonym("C0000001"));
        let other = Pseudonymiser::new(b"another key of 16+ bytes").unwrap();
        assert_ne!(p.pseudonym("C0000001"), other.pseudonym("C0000001"));
    }

    #[test]
    fn a_short_or_missing_key_is_an_error() {
        assert!(Pseudonymiser::new(b"short").is_err());
        let err = Pseudonymiser::from_source(KeySource::Env("CLIENTELE_TEST_NO_SUCH_KEY_VAR"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("`CLIENTELE_TEST_NO_SUCH_KEY_VAR` is not set"),
            "{err}"
        );
    }
}
