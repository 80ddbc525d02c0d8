//! `clientele rekey`: re-encrypts a pipeline's Parquet outputs under a new key (rotation).
//!
//! Each file is read under the old key and written whole under the new one into the
//! run's staging area; one commit of the output directory (see [`crate::outdir`]) then
//! publishes every re-encrypted file together with the records of the stages that were
//! up to date before (with their new hashes), so a reader sees every file under the old
//! key or every file under the new one. A file already under the new key (rotated by hand,
//! or by an older clientele) is left as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clientele_shared::encryption::{is_encrypted, ParquetKey};
use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::SharedError;

use crate::config::{KeyLocation, Pipeline};
use crate::outdir::Commit;
use crate::state::{self, Status};

/// What a rekey did.
#[derive(Debug, Default, serde::Serialize)]
pub struct RekeySummary {
    /// Files re-encrypted under the new key.
    pub rekeyed: Vec<String>,
    /// Files already under the new key.
    pub already: Vec<String>,
    /// Stages recorded as up to date again.
    pub stages_kept_up_to_date: Vec<String>,
}

pub fn rekey(pipeline: &Pipeline, new_key: ParquetKey) -> anyhow::Result<RekeySummary> {
    let old_key = match &pipeline.encryption {
        Some(KeyLocation::Env(name)) => ParquetKey::from_env(name)?,
        Some(KeyLocation::File(path)) => ParquetKey::from_file(path)?,
        None => bail!(
            "pipeline `{}` has no [pipeline.encryption]: its files are not encrypted, so there is no key to rotate",
            pipeline.name
        ),
    };
    // Which stages are up to date now, before any file changes.
    let outdir = crate::run::open_output_dir(pipeline, "run.lock", true)?;
    let mut up_to_date = Vec::new();
    for stage in &pipeline.stages {
        let Ok(inputs) = state::input_hashes(stage) else {
            continue;
        };
        let expected = state::expected_state(pipeline, stage, inputs);
        let recorded = state::read_state(pipeline, stage);
        if state::status(recorded.as_ref(), &expected, stage) == Status::UpToDate {
            up_to_date.push(stage);
        }
    }
    let files: BTreeSet<PathBuf> = pipeline
        .stages
        .iter()
        .flat_map(|s| s.io.outputs.values())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet") && p.is_file())
        .cloned()
        .collect();

    let mut summary = RekeySummary::default();
    let mut rekeyed: BTreeSet<PathBuf> = BTreeSet::new();
    for file in &files {
        if !is_encrypted(file) {
            bail!(
                "`{}` is not encrypted; run the pipeline once with its key before rotating it",
                file.display()
            );
        }
        let read = ParquetSource::open(file, Some(&old_key)).and_then(|source| {
            let schema = source.schema().clone();
            Ok((schema, source.read_all()?))
        });
        let (schema, batches) = match read {
            Ok(read) => read,
            Err(SharedError::Decrypt { .. }) => {
                // Already under the new key (rotated by hand, or by an older clientele)?
                ParquetSource::open(file, Some(&new_key)).with_context(|| {
                    format!(
                        "`{}` opens under neither the old key nor the new one",
                        file.display()
                    )
                })?;
                summary.already.push(file.display().to_string());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut sink = ParquetSink::create(
            &outdir.staged(&state::relative_output(pipeline, file)),
            schema,
            Some(&new_key),
        )?;
        for batch in &batches {
            sink.write(batch)?;
        }
        sink.finish()?;
        summary.rekeyed.push(file.display().to_string());
        rekeyed.insert(file.clone());
    }
    // Where each file is now: staged if re-encrypted, else in place.
    let now = |path: &PathBuf| {
        if rekeyed.contains(path) {
            outdir.staged(&state::relative_output(pipeline, path))
        } else {
            path.clone()
        }
    };
    let mut commit = Commit {
        outputs: rekeyed
            .iter()
            .map(|path| state::relative_output(pipeline, path))
            .collect(),
        states: Vec::new(),
    };
    for stage in up_to_date {
        // Inputs are hashed where the stage reads them after the commit.
        let inputs = stage
            .io
            .inputs
            .iter()
            .map(|(port, path)| {
                state::sha256_file(&now(path))
                    .map(|sha| (port.clone(), sha))
                    .with_context(|| format!("cannot read `{}`", path.display()))
            })
            .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
        let expected = state::expected_state(pipeline, stage, inputs);
        let written = stage
            .io
            .outputs
            .iter()
            .map(|(port, path)| (port.clone(), now(path)))
            .collect();
        commit.states.push((
            state::state_name(pipeline, stage),
            Some(state::record(expected, &written)?),
        ));
        summary.stages_kept_up_to_date.push(stage.name.clone());
    }
    outdir.commit(&commit)?;
    Ok(summary)
}
