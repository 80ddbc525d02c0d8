//! The contract between the runner and a stage.
//!
//! A stage is a function from named input files to named output files, with typed
//! parameters. It declares its ports; the runner resolves paths, decides whether the stage
//! is up to date, and calls [`Stage::run`]. A stage writes each output through
//! [`crate::atomic`] or [`crate::parquet_io`] and writes nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whether a stage that learns from data learns (`fit`, writing what it learnt to a
/// state or model file) or reuses what an earlier fit learnt (`apply`), as next month's
/// customers are scored with last month's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Fit,
    Apply,
}

/// A named input or output of a stage.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub name: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// A stage kind, implemented by one stage crate.
pub trait Stage {
    /// The `kind` value in the pipeline TOML.
    const KIND: &'static str;
    /// The version of what the stage computes. Bump it with any change of the stage's
    /// code that changes the bytes of its outputs for the same inputs, parameters and
    /// seed: it is part of the fingerprint, so outputs written by the older code are then
    /// rewritten rather than reused. `tests/stage_versions.rs` fails when a stage's
    /// outputs on the quickstart change and its version did not.
    const ALGORITHM_VERSION: u32;
    const INPUTS: &'static [Port];
    const OUTPUTS: &'static [Port];
    /// The stage's `[stage.params]` table; a serde type with `deny_unknown_fields`.
    type Params: Serialize + DeserializeOwned;
    type Error: std::error::Error + Send + Sync + 'static;

    fn run(
        params: &Self::Params,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, Self::Error>;
}

/// Resolved paths of a stage's ports. The runner has checked that every required port is
/// present and no unknown port is named.
#[derive(Debug, Clone, Default)]
pub struct StageIo {
    pub inputs: BTreeMap<String, PathBuf>,
    pub outputs: BTreeMap<String, PathBuf>,
}

impl StageIo {
    /// The path of an input port; `None` for an optional port left out.
    pub fn input(&self, port: &str) -> Option<&Path> {
        self.inputs.get(port).map(PathBuf::as_path)
    }
    pub fn output(&self, port: &str) -> Option<&Path> {
        self.outputs.get(port).map(PathBuf::as_path)
    }

    /// Ports with placeholder paths (`PORT.x`), for the checks that only ask which
    /// ports are given (a stage's parameter checks, in its tests).
    pub fn with_ports(inputs: &[&str], outputs: &[&str]) -> Self {
        let placeholder = |port: &&str| (port.to_string(), PathBuf::from(format!("{port}.x")));
        StageIo {
            inputs: inputs.iter().map(placeholder).collect(),
            outputs: outputs.iter().map(placeholder).collect(),
        }
    }
}

/// Where a stage reports progress. Implementations decide whether and how often to draw.
pub trait Progress: Sync {
    /// `done` units of work (rows) of `total`, if known.
    fn rows(&self, done: u64, total: Option<u64>);
    /// A step of long work that is not counted in rows (e.g. "k = 4 of 2…10"). It holds
    /// no data values.
    fn step(&self, _message: &str) {}
}

/// Progress that goes nowhere (for `--quiet`, and for tests).
pub struct NoProgress;
impl Progress for NoProgress {
    fn rows(&self, _done: u64, _total: Option<u64>) {}
}

/// What a stage is run with besides its parameters.
pub struct StageContext<'a> {
    /// The stage's name in the pipeline, for messages.
    pub stage: &'a str,
    /// The pipeline seed; a stage that draws random numbers derives its generator from it.
    pub seed: u64,
    pub progress: &'a dyn Progress,
    /// The key every Parquet file of the stage is written and read with (`None`: plain
    /// files). It travels here, never through a global.
    pub parquet_key: Option<&'a crate::encryption::ParquetKey>,
}

impl<'a> StageContext<'a> {
    /// A context for a stage called outside a pipeline (tests, benchmarks): seed 0, no
    /// progress shown, plain Parquet files.
    pub fn plain(stage: &'a str) -> Self {
        StageContext {
            stage,
            seed: 0,
            progress: &NoProgress,
            parquet_key: None,
        }
    }
}

/// What a stage did, for the run summary. Holds counts, never data values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageReport {
    /// Rows written to the stage's main output.
    pub rows: u64,
    /// Stage-specific counts (e.g. rows quarantined), under stable keys.
    pub counts: BTreeMap<String, u64>,
    /// Sentences for the person running the pipeline.
    pub notes: Vec<String>,
    /// A quality gate's checks, one readable line each (metric, rule, baseline, now,
    /// delta), printed by the runner when the gate fails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Whether a check failed. The stage's outputs are written; the runner finishes the
    /// pipeline, records nothing as up to date for this stage (so that a rerun checks
    /// again), and exits with its own code.
    pub gate_failed: bool,
}
