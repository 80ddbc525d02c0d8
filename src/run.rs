//! Running a checked pipeline: stage by stage, skipping what is up to date.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clientele_shared::encryption::ParquetKey;
use clientele_shared::partition::write_partition;
use clientele_shared::stage::{Progress, StageContext, StageIo};
use serde::Serialize;

use crate::config::{KeyLocation, Pipeline};
use crate::outdir::{Busy, Commit, OutputDir};
use crate::state::{self, Status};

pub struct RunOptions {
    pub stages: Vec<String>,
    pub force: bool,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ran,
    Skipped,
    Failed,
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub name: String,
    pub kind: String,
    pub status: Outcome,
    pub reason: String,
    pub seconds: f64,
    pub rows: Option<u64>,
    pub counts: BTreeMap<String, u64>,
    pub notes: Vec<String>,
    pub outputs: BTreeMap<String, String>,
    /// A quality gate's checks, one line each (evaluate stages with a gate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    pub gate_failed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub pipeline: String,
    pub ok: bool,
    pub seconds: f64,
    pub stages: Vec<StageSummary>,
    pub error: Option<String>,
    /// Whether a quality gate failed (every stage ran; the exit code is 3).
    pub gate_failed: bool,
    /// Whether nothing could run because another run holds the output directory.
    #[serde(skip)]
    pub busy: bool,
    /// Key files this run created (`create = true`), so that CI can store them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys_created: Vec<PathBuf>,
}

/// The stages to consider: those named with `--stage` and everything upstream of them,
/// in run order; all stages when none is named.
pub fn selected(pipeline: &Pipeline, names: &[String]) -> anyhow::Result<Vec<usize>> {
    if names.is_empty() {
        return Ok(pipeline.order.clone());
    }
    let mut wanted = BTreeSet::new();
    let mut stack = Vec::new();
    for name in names {
        let i = pipeline.stage_index(name).ok_or_else(|| {
            anyhow::anyhow!(
                "--stage {name}: the pipeline has no stage of this name; it has {}",
                pipeline
                    .stages
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        stack.push(i);
    }
    while let Some(i) = stack.pop() {
        if wanted.insert(i) {
            stack.extend(pipeline.stages[i].producers.values().copied());
        }
    }
    Ok(pipeline
        .order
        .iter()
        .copied()
        .filter(|i| wanted.contains(i))
        .collect())
}

/// Prints row counts on stderr at most once a second.
struct StderrProgress<'a> {
    stage: &'a str,
    last: Mutex<Instant>,
    enabled: bool,
}

impl Progress for StderrProgress<'_> {
    fn rows(&self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = Instant::now();
        match total {
            Some(total) => eprintln!("    {}: {done} of {total} rows", self.stage),
            None => eprintln!("    {}: {done} rows", self.stage),
        }
    }

    fn step(&self, message: &str) {
        if self.enabled {
            eprintln!("    {}: {message}", self.stage);
        }
    }
}

/// An error and its causes, `: `-joined, leaving out a cause whose text the message
/// already holds (a stage error that shows its source, as most do, would else say
/// everything twice).
fn chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The key the pipeline's Parquet files are written and read with (`None`: plain files);
/// it is handed to each stage in its context, and never printed or recorded.
pub fn pipeline_key(
    pipeline: &Pipeline,
) -> Result<Option<ParquetKey>, clientele_shared::SharedError> {
    Ok(match &pipeline.encryption {
        None => None,
        Some(KeyLocation::Env(name)) => Some(ParquetKey::from_env(name)?),
        Some(KeyLocation::File(path)) => Some(ParquetKey::from_file(path)?),
    })
}

pub fn run(pipeline: &Pipeline, options: &RunOptions) -> RunSummary {
    let started = Instant::now();
    let mut summary = RunSummary {
        pipeline: pipeline.name.clone(),
        ok: true,
        seconds: 0.0,
        stages: Vec::new(),
        error: None,
        gate_failed: false,
        busy: false,
        keys_created: Vec::new(),
    };
    let order = match selected(pipeline, &options.stages) {
        Ok(order) => order,
        Err(e) => {
            summary.ok = false;
            summary.error = Some(format!("{e:#}"));
            return summary;
        }
    };
    match crate::keys::create_missing(&pipeline.keys_to_create) {
        Ok(created) => {
            for path in &created {
                if !options.quiet {
                    eprintln!(
                        "created the key file `{}` (mode 0600): keep it, and keep it apart from the outputs; without it the encrypted files cannot be read nor the pseudonyms recomputed",
                        path.display()
                    );
                }
            }
            summary.keys_created = created;
        }
        Err(e) => {
            summary.ok = false;
            summary.error = Some(format!("{e:#}"));
            return summary;
        }
    }
    let key = match pipeline_key(pipeline) {
        Ok(key) => key,
        Err(e) => {
            summary.ok = false;
            summary.error = Some(e.to_string());
            return summary;
        }
    };
    let lock_name = match &pipeline.partition {
        Some(plan) => format!("run.part-{}-of-{}.lock", plan.part.index, plan.part.count),
        None => "run.lock".to_string(),
    };
    let outdir = match open_output_dir(pipeline, &lock_name, options.quiet) {
        Ok(outdir) => outdir,
        Err(e) => {
            summary.ok = false;
            summary.busy = e.is::<Busy>();
            summary.error = Some(format!("{e:#}"));
            return summary;
        }
    };
    if let Some(plan) = &pipeline.partition {
        for (table, copy) in &plan.inputs {
            match write_partition(table, copy, plan.part, key.as_ref()) {
                Ok(rows) if !options.quiet => eprintln!(
                    "partition {}: {rows} customer(s) of `{}`",
                    plan.part,
                    table.display()
                ),
                Ok(_) => {}
                Err(e) => {
                    summary.ok = false;
                    summary.error = Some(format!("partition {}: {e}", plan.part));
                    return summary;
                }
            }
        }
    }
    let total = order.len();
    for (n, &i) in order.iter().enumerate() {
        let stage = &pipeline.stages[i];
        let mut entry = StageSummary {
            name: stage.name.clone(),
            kind: stage.kind.to_string(),
            status: Outcome::NotRun,
            reason: String::new(),
            seconds: 0.0,
            rows: None,
            counts: BTreeMap::new(),
            notes: Vec::new(),
            outputs: stage
                .io
                .outputs
                .iter()
                .map(|(port, path)| (port.clone(), path.display().to_string()))
                .collect(),
            checks: Vec::new(),
            gate_failed: false,
        };
        if !summary.ok {
            entry.reason = "an earlier stage failed".to_string();
            summary.stages.push(entry);
            continue;
        }
        let stage_started = Instant::now();
        let result = (|| -> anyhow::Result<()> {
            let recorded = state::read_state(pipeline, stage);
            let without_inputs = state::expected_state(pipeline, stage, BTreeMap::new());
            // When the stage runs whatever its inputs hold, they are hashed while it runs
            // (the hash only goes into its record): reading a large input twice, one
            // after the other, was a sixth of an ingest's time.
            let (inputs_sha256, reason) =
                match state::same_version_and_params(recorded.as_ref(), &without_inputs, stage) {
                    Err(why) => (None, why),
                    Ok(_) if options.force => (None, "--force".to_string()),
                    Ok(_) => {
                        let inputs = state::input_hashes(stage)?;
                        let expected = state::expected_state(pipeline, stage, inputs.clone());
                        match state::status(recorded.as_ref(), &expected, stage) {
                            Status::UpToDate => {
                                entry.status = Outcome::Skipped;
                                entry.reason = "up to date".to_string();
                                return Ok(());
                            }
                            Status::Stale(why) | Status::AfterUpstream(why) => (Some(inputs), why),
                        }
                    }
                };
            entry.reason = reason;
            if !options.quiet {
                eprintln!(
                    "[{}/{total}] {} ({}): running, {}",
                    n + 1,
                    stage.name,
                    stage.kind,
                    entry.reason
                );
            }
            let progress = StderrProgress {
                stage: &stage.name,
                last: Mutex::new(Instant::now()),
                enabled: !options.quiet,
            };
            let ctx = StageContext {
                stage: &stage.name,
                seed: pipeline.seed,
                progress: &progress,
                parquet_key: key.as_ref(),
            };
            // The stage writes into this run's staging area; the commit then publishes
            // its outputs and its record together (see `crate::outdir`).
            outdir.clear_staging()?;
            let relative: Vec<_> = stage
                .io
                .outputs
                .values()
                .map(|path| state::relative_output(pipeline, path))
                .collect();
            let staged = StageIo {
                inputs: stage.io.inputs.clone(),
                outputs: stage
                    .io
                    .outputs
                    .keys()
                    .cloned()
                    .zip(relative.iter().map(|rel| outdir.staged(rel)))
                    .collect(),
            };
            let (report, inputs_sha256) = std::thread::scope(|scope| {
                let hashing = match inputs_sha256 {
                    Some(known) => Err(known),
                    None => Ok(scope.spawn(|| state::input_hashes(stage))),
                };
                let report = stage.params.run(&staged, &ctx);
                let inputs_sha256 = match hashing {
                    Err(known) => known,
                    Ok(thread) => thread
                        .join()
                        .map_err(|_| anyhow::anyhow!("the thread hashing the inputs panicked"))??,
                };
                anyhow::Ok((report?, inputs_sha256))
            })?;
            let expected = state::expected_state(pipeline, stage, inputs_sha256);
            entry.rows = Some(report.rows);
            entry.counts = report.counts;
            entry.notes = report.notes;
            entry.checks = report.checks;
            entry.gate_failed = report.gate_failed;
            // A failed gate is not up to date: the next run checks again.
            let record = if report.gate_failed {
                None
            } else {
                Some(state::record(expected, &staged.outputs)?)
            };
            outdir.commit(&Commit {
                outputs: relative,
                states: vec![(state::state_name(pipeline, stage), record)],
            })?;
            entry.status = Outcome::Ran;
            Ok(())
        })();
        entry.seconds = stage_started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                if !options.quiet {
                    match entry.status {
                        Outcome::Skipped => eprintln!(
                            "[{}/{total}] {} ({}): up to date, skipped",
                            n + 1,
                            stage.name,
                            stage.kind
                        ),
                        _ => {
                            eprintln!(
                                "[{}/{total}] {} ({}): done in {:.2} s, {} rows",
                                n + 1,
                                stage.name,
                                stage.kind,
                                entry.seconds,
                                entry.rows.unwrap_or(0)
                            );
                            for note in &entry.notes {
                                eprintln!("    {note}");
                            }
                        }
                    }
                }
            }
            Err(e) => {
                entry.status = Outcome::Failed;
                summary.ok = false;
                summary.error = Some(format!("stage `{}` failed: {}", stage.name, chain(&e)));
            }
        }
        summary.gate_failed |= entry.gate_failed;
        summary.stages.push(entry);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

/// Takes the output directory's run lock, clears what dead runs left, and turns outputs
/// an older clientele wrote in place into committed ones.
pub fn open_output_dir(
    pipeline: &Pipeline,
    lock_name: &str,
    quiet: bool,
) -> anyhow::Result<OutputDir> {
    let outputs: Vec<_> = pipeline
        .stages
        .iter()
        .flat_map(|s| s.io.outputs.values())
        .map(|path| state::relative_output(pipeline, path))
        .collect();
    // Where temporary files are written outside the staging area: beside the output
    // links, and the partitions' copies of their inputs.
    let mut folders: Vec<PathBuf> = outputs
        .iter()
        .filter_map(|rel| rel.parent().map(Path::to_path_buf))
        .collect();
    folders.push(PathBuf::from(crate::partition::INPUT_COPIES));
    let outdir = OutputDir::open(&pipeline.output_dir, lock_name, &folders)?;
    let adopted = outdir.adopt(&outputs)?;
    if !quiet {
        for note in &outdir.notes {
            eprintln!("{note}");
        }
        if !adopted.is_empty() {
            eprintln!(
                "{} output(s) written in place by an older clientele now live in {}/.clientele (see ARCHITECTURE.md)",
                adopted.len(),
                pipeline.output_dir.display()
            );
        }
    }
    Ok(outdir)
}

/// The `plan` command's table.
pub fn plan(pipeline: &Pipeline, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "pipeline `{}`: {} stage(s), outputs in {}",
        pipeline.name,
        pipeline.stages.len(),
        pipeline.output_dir.display()
    )?;
    let mut will_run: BTreeSet<usize> = BTreeSet::new();
    for (n, &i) in pipeline.order.iter().enumerate() {
        let stage = &pipeline.stages[i];
        let upstream = stage.producers.values().find(|p| will_run.contains(p));
        let status = match upstream {
            Some(&p) => Status::AfterUpstream(pipeline.stages[p].name.clone()),
            None => match state::input_hashes(stage) {
                Ok(inputs) => {
                    let expected = state::expected_state(pipeline, stage, inputs);
                    state::status(
                        state::read_state(pipeline, stage).as_ref(),
                        &expected,
                        stage,
                    )
                }
                Err(e) => Status::Stale(format!("{e:#}")),
            },
        };
        if status != Status::UpToDate {
            will_run.insert(i);
        }
        writeln!(
            out,
            "{}. {} ({}): {}",
            n + 1,
            stage.name,
            stage.kind,
            status.describe()
        )?;
        for (port, path) in &stage.io.inputs {
            let from = stage
                .producers
                .get(port)
                .map(|&p| format!(" (from `{}`)", pipeline.stages[p].name))
                .unwrap_or_default();
            writeln!(out, "     in  {port}: {}{from}", path.display())?;
        }
        for (port, path) in &stage.io.outputs {
            writeln!(out, "     out {port}: {}", path.display())?;
        }
    }
    Ok(())
}
