//! `clientele rekey`: re-encrypts a pipeline's Parquet outputs under a new key (rotation).
//!
//! Each file is read under the old key and written whole under the new one, through a
//! temporary file renamed into place, so that at any instant every file is complete and
//! readable under one of the two keys. A file already under the new key (a rekey that was
//! interrupted) is left as it is, so running the command again finishes the rotation.
//! Stages that were up to date before are recorded as up to date after, with their new
//! hashes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clientele_shared::encryption::{is_encrypted, set_parquet_key, ParquetKey};
use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::SharedError;

use crate::config::{KeyLocation, Pipeline};
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
    let result = (|| -> anyhow::Result<()> {
        for file in &files {
            if !is_encrypted(file) {
                bail!(
                    "`{}` is not encrypted; run the pipeline once with its key before rotating it",
                    file.display()
                );
            }
            set_parquet_key(Some(old_key.clone()));
            let read = ParquetSource::open(file).and_then(|source| {
                let schema = source.schema().clone();
                Ok((schema, source.read_all()?))
            });
            let (schema, batches) = match read {
                Ok(read) => read,
                Err(SharedError::Decrypt { .. }) => {
                    // Interrupted earlier: already under the new key?
                    set_parquet_key(Some(new_key.clone()));
                    ParquetSource::open(file).with_context(|| {
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
            set_parquet_key(Some(new_key.clone()));
            let mut sink = ParquetSink::create(file, schema)?;
            for batch in &batches {
                sink.write(batch)?;
            }
            sink.finish()?;
            summary.rekeyed.push(file.display().to_string());
        }
        Ok(())
    })();
    set_parquet_key(None);
    result?;
    for stage in up_to_date {
        let expected = state::expected_state(pipeline, stage, state::input_hashes(stage)?);
        state::record(pipeline, stage, expected)?;
        summary.stages_kept_up_to_date.push(stage.name.clone());
    }
    Ok(summary)
}
