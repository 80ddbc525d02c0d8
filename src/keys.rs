//! Where a pipeline's keys are (`[pipeline.encryption]`, `[pipeline.pseudonyms]`), and
//! the key files a run creates on first use (`create = true`), so that a private pipeline
//! runs on a fresh machine with no set-up step: 32 random bytes from the operating
//! system, as 64 hex digits, in a file of mode 0600 in a folder of mode 0700. A key file
//! may not lie in the output directory, so that a copied or published output never
//! carries the key that opens it.
//!
//! An existing file is never touched: a key that changed would re-encrypt nothing and
//! make every earlier pseudonym unjoinable.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[pipeline.encryption]` and `[pipeline.pseudonyms]`: where a key is (hex), never the
/// key itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// The environment variable holding the key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// A file holding the key, relative to the pipeline file.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Whether a run creates `key_file` when it is missing (see `crate::keys`).
    #[serde(default)]
    pub create: bool,
}

/// Where a pipeline's encryption key comes from, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLocation {
    Env(String),
    File(PathBuf),
}

/// Where `section` (the `[pipeline.TABLE]` key table) says the key is, its file resolved
/// from `base`; a file to be created is added to `to_create`. The error is the config key
/// at fault and what is wrong with it.
pub fn locate(
    table: &str,
    section: &Option<KeySection>,
    base: &Path,
    output_dir: &Path,
    to_create: &mut Vec<PathBuf>,
) -> Result<Option<KeyLocation>, (String, String)> {
    let location = match section {
        None => return Ok(None),
        Some(KeySection {
            key_env: Some(name),
            key_file: None,
            create: false,
        }) => KeyLocation::Env(name.clone()),
        Some(KeySection {
            key_env: None,
            key_file: Some(path),
            create,
        }) => {
            let path = crate::config::normalize(&base.join(path));
            if path.starts_with(output_dir) {
                return Err((
                    format!("{table}.key_file"),
                    format!("`{}` is inside the output directory; keep a key apart from the files it opens, so that a copy of the outputs never carries it", path.display()),
                ));
            }
            if *create {
                to_create.push(path.clone());
            }
            KeyLocation::File(path)
        }
        Some(KeySection {
            create: true,
            key_file: None,
            ..
        }) => {
            return Err((
                format!("{table}.create"),
                "only a `key_file` can be created; an environment variable is set by whoever runs the pipeline".to_string(),
            ))
        }
        Some(_) => {
            return Err((
                table.to_string(),
                "name the key's place once: `key_env` (an environment variable) or `key_file`, not both and not neither".to_string(),
            ))
        }
    };
    Ok(Some(location))
}

/// Creates each missing file of `paths`; returns those it created.
pub fn create_missing(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for path in paths {
        if create_key_file(path)? {
            created.push(path.clone());
        }
    }
    Ok(created)
}

/// Writes a new key to `path` unless a file is there; `true` when it wrote one. Two runs
/// racing to create the same key agree on one: the key is written to a private temporary
/// file and linked into place, which fails if the other run linked first.
fn create_key_file(path: &Path) -> anyhow::Result<bool> {
    use anyhow::Context;
    if path.exists() {
        return Ok(false);
    }
    let folder = path
        .parent()
        .with_context(|| format!("the key file `{}` has no folder", path.display()))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(folder)
        .with_context(|| format!("cannot create the key folder `{}`", folder.display()))?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| {
        anyhow::anyhow!("the operating system gave no random bytes for a new key: {e}")
    })?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map_or_else(|| "key".to_string(), |n| n.to_string_lossy().into_owned());
    let temporary = folder.join(format!(".{name}.clientele-tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(format!("{hex}\n").as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the key file `{}`", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_is_created_private_and_an_existing_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/parquet.key");
        let one = std::slice::from_ref(&path);
        assert_eq!(create_missing(one).unwrap(), one);
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first.trim().len(), 64);
        assert!(first.trim().bytes().all(|b| b.is_ascii_hexdigit()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        assert!(create_missing(one).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        // Another key file gets another key; no temporary file is left.
        let other = dir.path().join("keys/pseudonyms.key");
        create_missing(std::slice::from_ref(&other)).unwrap();
        assert_ne!(std::fs::read_to_string(&other).unwrap(), first);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            2
        );
    }
}
