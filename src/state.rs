//! Whether a stage is up to date, as `dvc repro` decides it.
//!
//! After a stage runs, its commit records, beside its outputs (in the output directory's
//! committed generation, `.clientele/current/state/STAGE.json`, see [`crate::outdir`]), a
//! fingerprint of what decides the bytes of its outputs: the stage kind and its
//! algorithm version, its parameters, the pipeline seed, the content of each input file,
//! the output paths relative to the output directory, and whether Parquet is encrypted;
//! and the content hash of each output. The stage is up to date when the fingerprint
//! computed now equals the recorded one and every output is still there, unchanged.
//!
//! No absolute path and no build identity enters the fingerprint: a copy of a finished
//! project in another directory, or an output directory restored from a CI cache, is up
//! to date. A change of a stage's code that changes its outputs bumps that stage's
//! `ALGORITHM_VERSION` (enforced by `tests/stage_versions.rs`), which re-runs the stage
//! and everything downstream; the clientele version is recorded for people but decides
//! nothing, since a release that changes no algorithm need not redo any work.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Pipeline, StageSpec};
use crate::outdir::OutputDir;

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    /// For people reading the record; not compared.
    pub tool_version: String,
    /// The stage kind's algorithm version; 0 in records written before there was one.
    #[serde(default)]
    pub algorithm_version: u32,
    pub fingerprint: String,
    pub params_sha256: String,
    pub inputs_sha256: BTreeMap<String, String>,
    pub outputs_sha256: BTreeMap<String, String>,
}

/// Why a stage will or will not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    UpToDate,
    Stale(String),
    /// An upstream stage will run first, so the inputs are not known yet.
    AfterUpstream(String),
}

impl Status {
    pub fn describe(&self) -> String {
        match self {
            Status::UpToDate => "up to date".to_string(),
            Status::Stale(why) => format!("will run: {why}"),
            Status::AfterUpstream(up) => format!("will run if `{up}` changes its outputs"),
        }
    }
}

/// The file name of a stage's record in the generation's `state/`.
pub fn state_name(pipeline: &Pipeline, stage: &StageSpec) -> String {
    match &pipeline.partition {
        // Each partition's run keeps its own record, beside the whole run's.
        Some(plan) => format!(
            "{}.part-{}-of-{}.json",
            stage.name, plan.part.index, plan.part.count
        ),
        None => format!("{}.json", stage.name),
    }
}

pub fn state_path(pipeline: &Pipeline, stage: &StageSpec) -> PathBuf {
    OutputDir::state_path(&pipeline.output_dir, &state_name(pipeline, stage))
}

/// An output's path relative to the output directory (config checks that every output
/// lies inside it).
pub fn relative_output(pipeline: &Pipeline, path: &Path) -> PathBuf {
    path.strip_prefix(&pipeline.output_dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file; of a directory (the report's charts), the SHA-256 of its files'
/// names and hashes in name order, temporary files left out.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    if path.is_dir() {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.contains(clientele_shared::atomic::TEMP_MARKER) {
                entries.push((name, entry.path()));
            }
        }
        entries.sort();
        let mut hasher = Sha256::new();
        for (name, entry) in entries {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(sha256_file(&entry)?.as_bytes());
            hasher.update([b'\n']);
        }
        return Ok(hex(&hasher.finalize()));
    }
    let mut file = File::open(path)?;
    let identity = FileIdentity::of(&file);
    if let Some(sha) = identity.as_ref().and_then(known_hash) {
        return Ok(sha);
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let sha = hex(&hasher.finalize());
    // Remembered only if the file did not change while it was read.
    if let Some(identity) =
        identity.filter(|before| FileIdentity::of(&file).as_ref() == Some(before))
    {
        remember_hash(identity, &sha);
    }
    Ok(sha)
}

/// What identifies a file's content within one run of the process: its device and inode,
/// size and modification time to the nanosecond (as DVC's cache of hashes keys them, with
/// the inode, so that a renamed file — a stage's staged output moved into place — is
/// still known). A file written again changes its size or time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified_ns: i128,
}

impl FileIdentity {
    #[cfg(unix)]
    fn of(file: &File) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        Some(FileIdentity {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }

    #[cfg(not(unix))]
    fn of(_: &File) -> Option<FileIdentity> {
        None
    }
}

/// The hashes this process has computed. A stage's outputs are hashed for its record and
/// are the next stage's inputs: without this, a pipeline read every intermediate file a
/// second time (the evaluate stage at a million customers spent 12 % of its CPU time
/// hashing its inputs). Kept in memory, for one run of the process only: a file changed
/// behind the runner's back with its size and time put back could go unseen during that
/// run, never in a later one.
static KNOWN_HASHES: std::sync::Mutex<BTreeMap<FileIdentity, String>> =
    std::sync::Mutex::new(BTreeMap::new());

fn known_hash(identity: &FileIdentity) -> Option<String> {
    KNOWN_HASHES.lock().ok()?.get(identity).cloned()
}

fn remember_hash(identity: FileIdentity, sha: &str) {
    if let Ok(mut known) = KNOWN_HASHES.lock() {
        known.insert(identity, sha.to_string());
    }
}

fn sha256_text(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Hashes of the stage's input files as they are now.
pub fn input_hashes(stage: &StageSpec) -> anyhow::Result<BTreeMap<String, String>> {
    stage
        .io
        .inputs
        .iter()
        .map(|(port, path)| {
            let sha = sha256_file(path).with_context(|| {
                format!(
                    "stage `{}`: cannot read input `{port}` at `{}`",
                    stage.name,
                    path.display()
                )
            })?;
            Ok((port.clone(), sha))
        })
        .collect()
}

/// The state the stage would record if it ran now on these inputs.
pub fn expected_state(
    pipeline: &Pipeline,
    stage: &StageSpec,
    inputs_sha256: BTreeMap<String, String>,
) -> StageState {
    let params_sha256 = sha256_text(&stage.params.canonical_json());
    let algorithm_version = stage.kind.algorithm_version();
    let mut text = format!(
        "kind {} version {algorithm_version}\nparams {params_sha256}\nseed {}\n",
        stage.kind, pipeline.seed
    );
    for (port, sha) in &inputs_sha256 {
        text.push_str(&format!("input {port} {sha}\n"));
    }
    for (port, path) in &stage.io.outputs {
        // Relative, so that a moved or restored output directory stays up to date; with
        // `/` on every platform, so that the fingerprint is the same on each.
        let relative = relative_output(pipeline, path);
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        text.push_str(&format!("output {port} {}\n", parts.join("/")));
    }
    if pipeline.encryption.is_some() {
        // Switching encryption on or off rewrites every Parquet output.
        text.push_str("encrypted\n");
    }
    StageState {
        tool_version: TOOL_VERSION.to_string(),
        algorithm_version,
        fingerprint: sha256_text(&text),
        params_sha256,
        inputs_sha256,
        outputs_sha256: BTreeMap::new(),
    }
}

pub fn read_state(pipeline: &Pipeline, stage: &StageSpec) -> Option<StageState> {
    let text = std::fs::read_to_string(state_path(pipeline, stage)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The recorded state when it was made by the same algorithm version and parameters as
/// `expected` (whose input hashes are not read); else why the stage must run whatever its
/// inputs hold: never run, another algorithm version, other parameters. The runner then
/// hashes the inputs while the stage runs instead of before.
pub fn same_version_and_params<'r>(
    recorded: Option<&'r StageState>,
    expected: &StageState,
    stage: &StageSpec,
) -> Result<&'r StageState, String> {
    let Some(recorded) = recorded else {
        return Err("never run".to_string());
    };
    if recorded.algorithm_version != expected.algorithm_version {
        return Err(format!(
            "the {} algorithm changed (version {} then, {} now)",
            stage.kind, recorded.algorithm_version, expected.algorithm_version
        ));
    }
    if recorded.params_sha256 != expected.params_sha256 {
        return Err("parameters changed".to_string());
    }
    Ok(recorded)
}

/// Compares a recorded state with the expected one and the outputs on disk.
pub fn status(recorded: Option<&StageState>, expected: &StageState, stage: &StageSpec) -> Status {
    let recorded = match same_version_and_params(recorded, expected, stage) {
        Ok(recorded) => recorded,
        Err(why) => return Status::Stale(why),
    };
    for (port, sha) in &expected.inputs_sha256 {
        if recorded.inputs_sha256.get(port) != Some(sha) {
            return Status::Stale(format!("input `{port}` changed"));
        }
    }
    if recorded.fingerprint != expected.fingerprint {
        return Status::Stale("ports or seed changed".to_string());
    }
    for (port, path) in &stage.io.outputs {
        match (recorded.outputs_sha256.get(port), sha256_file(path)) {
            (Some(want), Ok(have)) if *want == have => {}
            (_, Err(_)) if !path.exists() && !recorded.outputs_sha256.contains_key(port) => {}
            (_, Err(_)) => return Status::Stale(format!("output `{port}` is missing")),
            _ => return Status::Stale(format!("output `{port}` was modified")),
        }
    }
    Status::UpToDate
}

/// The record of a stage that ran: the expected state plus the hashes of its outputs,
/// read where the stage wrote them (`written`: each output port's staged path).
pub fn record(
    mut state: StageState,
    written: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<Vec<u8>> {
    for (port, path) in written {
        if path.exists() {
            let sha = sha256_file(path)
                .with_context(|| format!("cannot read output `{}`", path.display()))?;
            state.outputs_sha256.insert(port.clone(), sha);
        }
    }
    Ok(serde_json::to_string_pretty(&state)?.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha_of(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    #[test]
    fn a_file_written_again_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        std::fs::write(&path, b"first").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha_of(b"first"));
        // Remembered: the same answer without reading.
        assert_eq!(sha256_file(&path).unwrap(), sha_of(b"first"));
        // Replaced by a rename, as every output is: another inode.
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"other").unwrap();
        std::fs::rename(&staged, &path).unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha_of(b"other"));
        // Rewritten in place with another size.
        std::fs::write(&path, b"longer than before").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha_of(b"longer than before"));
        // A renamed file keeps its hash.
        let moved = dir.path().join("moved");
        std::fs::rename(&path, &moved).unwrap();
        assert_eq!(sha256_file(&moved).unwrap(), sha_of(b"longer than before"));
    }
}
