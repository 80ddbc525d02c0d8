//! `run --partition I/N` and `merge`: which stages may score one partition of the
//! customers, the pipeline that does it, and putting the parts back together.
//!
//! A partitioned run only scores: every stage that runs must apply a saved model row by
//! row (preprocess or segment in `mode = "apply"`), so that the N parts together are
//! exactly the whole run. Fits, recommendations and metrics learn from every customer
//! and are refused. Outputs get a `.part-I-of-N` suffix; an input table that no stage of
//! the pipeline writes is first cut down to the partition's customers, under
//! `OUTPUT_DIR/partition-inputs/`. The hashing and the checked merge live in
//! `clientele_shared::partition`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clientele_shared::partition::{merge_parts, Merged, Partition};
use clientele_shared::stage::Mode;

use crate::config::{Pipeline, StageSpec};
use crate::kinds::StageParams;
use crate::outdir::Commit;

/// The folder of the output directory that holds each partition's copy of its inputs.
pub const INPUT_COPIES: &str = "partition-inputs";

/// What a partitioned run adds to a pipeline.
#[derive(Debug, Clone)]
pub struct PartitionPlan {
    pub part: Partition,
    /// Each customer table read from outside the pipeline, and the partition's copy of it
    /// that the stages read instead; written before the first stage runs.
    pub inputs: Vec<(PathBuf, PathBuf)>,
}

/// For a stage that can score a partition: its input port holding customer rows, and
/// the outputs it may write (one row per customer each).
fn row_ports(stage: &StageSpec) -> Result<(&'static str, &'static [&'static str]), String> {
    let fits = || {
        Err(format!(
            "stage `{}` fits a model, and a fit learns from every customer, so it cannot run on a partition: fit once without --partition, then score the partitions with a stage in mode = \"apply\"",
            stage.name
        ))
    };
    match &stage.params {
        StageParams::Preprocess(p) if p.mode == Mode::Apply => Ok(("table", &["features"])),
        StageParams::Segment(p) if p.mode == Mode::Apply => Ok(("features", &["assignments"])),
        StageParams::Preprocess(_) | StageParams::Segment(_) => fits(),
        _ => Err(format!(
            "stage `{}` ({}) works on the whole population and cannot run on a partition; only preprocess and segment stages in mode = \"apply\" score partitions (as in pipelines/scoring.toml)",
            stage.name, stage.kind
        )),
    }
}

/// Checks that the stage writes only per-customer tables.
fn check_outputs(stage: &StageSpec, writes: &[&str]) -> Result<(), String> {
    for port in stage.io.outputs.keys() {
        if !writes.contains(&port.as_str()) {
            return Err(format!(
                "stage `{}`: output `{port}` describes the whole population, so a partition cannot write it; remove it from the scoring pipeline (a partition writes {})",
                stage.name,
                writes
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// The pipeline that scores partition `part` with the stages `order` (indices into
/// `pipeline.stages`, as `run::selected` gives them).
pub fn partitioned(
    pipeline: &Pipeline,
    part: Partition,
    order: &[usize],
) -> Result<Pipeline, String> {
    let mut out = pipeline.clone();
    let copies_dir = pipeline.output_dir.join(INPUT_COPIES);
    // One copy per outside table, however many stages read it.
    let mut copies: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for &i in order {
        let (rows_port, writes) = row_ports(&pipeline.stages[i])?;
        check_outputs(&pipeline.stages[i], writes)?;
        let stage = &mut out.stages[i];
        for path in stage.io.outputs.values_mut() {
            *path = part.part_path(path);
        }
        for (port, path) in stage.io.inputs.iter_mut() {
            if stage.producers.contains_key(port) {
                *path = part.part_path(path);
            } else if port == rows_port {
                let taken = copies.len();
                let copy = copies.entry(path.clone()).or_insert_with(|| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    // Numbered, so that two tables of the same name in different folders
                    // do not share a copy.
                    part.part_path(&copies_dir.join(format!("{taken}-{name}")))
                });
                *path = copy.clone();
            }
        }
    }
    out.partition = Some(PartitionPlan {
        part,
        inputs: copies.into_iter().collect(),
    });
    Ok(out)
}

/// Merges the `count` parts of every output of the stages `order`; returns each output
/// with what the merge found. Checks every stage before merging anything, and publishes
/// the merged outputs in one commit of the output directory, so a failed check writes
/// nothing.
pub fn merge(
    pipeline: &Pipeline,
    count: usize,
    order: &[usize],
) -> anyhow::Result<Vec<(PathBuf, Merged)>> {
    let mut outputs: Vec<&Path> = Vec::new();
    for &i in order {
        let stage = &pipeline.stages[i];
        let (_, writes) = row_ports(stage).map_err(anyhow::Error::msg)?;
        check_outputs(stage, writes).map_err(anyhow::Error::msg)?;
        outputs.extend(stage.io.outputs.values().map(PathBuf::as_path));
    }
    let key = crate::run::pipeline_key(pipeline)?;
    let outdir = crate::run::open_output_dir(pipeline, "run.lock", true)?;
    let mut merged = Vec::new();
    let mut commit = Commit::default();
    for path in outputs {
        let relative = crate::state::relative_output(pipeline, path);
        let found = merge_parts(path, count, &outdir.staged(&relative), key.as_ref())
            .map_err(|e| anyhow::anyhow!("cannot merge into `{}`: {e}", path.display()))?;
        commit.outputs.push(relative);
        merged.push((path.to_path_buf(), found));
    }
    outdir.commit(&commit)?;
    Ok(merged)
}
