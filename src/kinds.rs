//! The stage kinds the runner knows, and the one place that maps a kind to its crate.

use std::fmt;

use clientele_evaluate::{Evaluate, EvaluateParams};
use clientele_ingest::{Ingest, IngestParams};
use clientele_preprocess::{Preprocess, PreprocessParams};
use clientele_recommend::{Recommend, RecommendParams};
use clientele_report::{Report, ReportParams};
use clientele_segment::{Segment, SegmentParams};
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use serde::de::{DeserializeSeed, Deserializer};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ingest,
    Preprocess,
    Segment,
    Recommend,
    Evaluate,
    Report,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Ingest,
        Kind::Preprocess,
        Kind::Segment,
        Kind::Recommend,
        Kind::Evaluate,
        Kind::Report,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ingest => Ingest::KIND,
            Kind::Preprocess => Preprocess::KIND,
            Kind::Segment => Segment::KIND,
            Kind::Recommend => Recommend::KIND,
            Kind::Evaluate => Evaluate::KIND,
            Kind::Report => Report::KIND,
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The stage crate's `Stage::ALGORITHM_VERSION`.
    pub fn algorithm_version(self) -> u32 {
        match self {
            Kind::Ingest => Ingest::ALGORITHM_VERSION,
            Kind::Preprocess => Preprocess::ALGORITHM_VERSION,
            Kind::Segment => Segment::ALGORITHM_VERSION,
            Kind::Recommend => Recommend::ALGORITHM_VERSION,
            Kind::Evaluate => Evaluate::ALGORITHM_VERSION,
            Kind::Report => Report::ALGORITHM_VERSION,
        }
    }

    pub fn inputs(self) -> &'static [Port] {
        match self {
            Kind::Ingest => Ingest::INPUTS,
            Kind::Preprocess => Preprocess::INPUTS,
            Kind::Segment => Segment::INPUTS,
            Kind::Recommend => Recommend::INPUTS,
            Kind::Evaluate => Evaluate::INPUTS,
            Kind::Report => Report::INPUTS,
        }
    }

    pub fn outputs(self) -> &'static [Port] {
        match self {
            Kind::Ingest => Ingest::OUTPUTS,
            Kind::Preprocess => Preprocess::OUTPUTS,
            Kind::Segment => Segment::OUTPUTS,
            Kind::Recommend => Recommend::OUTPUTS,
            Kind::Evaluate => Evaluate::OUTPUTS,
            Kind::Report => Report::OUTPUTS,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stage's typed `[stage.params]`.
#[derive(Debug, Clone)]
pub enum StageParams {
    Ingest(IngestParams),
    Preprocess(PreprocessParams),
    Segment(SegmentParams),
    Recommend(RecommendParams),
    Evaluate(EvaluateParams),
    Report(ReportParams),
}

impl StageParams {
    pub fn deserialize_for<'de, D: Deserializer<'de>>(
        kind: Kind,
        deserializer: D,
    ) -> Result<Self, D::Error> {
        Ok(match kind {
            Kind::Ingest => StageParams::Ingest(IngestParams::deserialize(deserializer)?),
            Kind::Preprocess => {
                StageParams::Preprocess(PreprocessParams::deserialize(deserializer)?)
            }
            Kind::Segment => StageParams::Segment(SegmentParams::deserialize(deserializer)?),
            Kind::Recommend => StageParams::Recommend(RecommendParams::deserialize(deserializer)?),
            Kind::Evaluate => StageParams::Evaluate(EvaluateParams::deserialize(deserializer)?),
            Kind::Report => StageParams::Report(ReportParams::deserialize(deserializer)?),
        })
    }

    /// The parameters of a stage with no `[stage.params]` table: every default, or an
    /// error naming the first required parameter.
    pub fn defaults_for(kind: Kind) -> Result<Self, toml::de::Error> {
        Self::from_table(kind, toml::Table::new())
    }

    pub fn from_table(kind: Kind, table: toml::Table) -> Result<Self, toml::de::Error> {
        Self::deserialize_for(kind, toml::Value::Table(table))
    }

    pub fn to_table(&self) -> toml::Table {
        let value = match self {
            StageParams::Ingest(p) => toml::Table::try_from(p),
            StageParams::Preprocess(p) => toml::Table::try_from(p),
            StageParams::Segment(p) => toml::Table::try_from(p),
            StageParams::Recommend(p) => toml::Table::try_from(p),
            StageParams::Evaluate(p) => toml::Table::try_from(p),
            StageParams::Report(p) => toml::Table::try_from(p),
        };
        // Our own params types always serialise to a table; an empty one is the fallback.
        value.unwrap_or_default()
    }

    /// The key (`params.…`) of the first infinite or NaN number in the parameters: no
    /// parameter of any stage takes one (a factor, a fraction, a weight).
    pub fn non_finite_key(&self) -> Option<String> {
        non_finite(&toml::Value::Table(self.to_table()), "params")
    }

    /// Canonical JSON of the parameters, for the stage fingerprint.
    pub fn canonical_json(&self) -> String {
        let json = match self {
            StageParams::Ingest(p) => serde_json::to_string(p),
            StageParams::Preprocess(p) => serde_json::to_string(p),
            StageParams::Segment(p) => serde_json::to_string(p),
            StageParams::Recommend(p) => serde_json::to_string(p),
            StageParams::Evaluate(p) => serde_json::to_string(p),
            StageParams::Report(p) => serde_json::to_string(p),
        };
        json.unwrap_or_default()
    }

    /// Checks that need the resolved ports as well as the parameters.
    pub fn check(&self, io: &StageIo) -> Result<(), String> {
        match self {
            StageParams::Ingest(p) => {
                clientele_ingest::check_params(p, io).map_err(|e| e.to_string())
            }
            StageParams::Preprocess(p) => {
                clientele_preprocess::check_params(p, io).map_err(|e| e.to_string())
            }
            StageParams::Segment(p) => {
                clientele_segment::check_params(p, io).map_err(|e| e.to_string())
            }
            StageParams::Recommend(p) => {
                clientele_recommend::check_params(p, io).map_err(|e| e.to_string())
            }
            StageParams::Evaluate(p) => {
                clientele_evaluate::check_params(p, io).map_err(|e| e.to_string())
            }
            StageParams::Report(p) => {
                clientele_report::check_params(p, io).map_err(|e| e.to_string())
            }
        }
    }

    /// Runs the stage. A panic inside it (a bug) is caught here and becomes an error
    /// naming the stage: the run exits 1 rather than 101, and since the stage wrote only
    /// into the staging area, nothing of it is published.
    pub fn run(&self, io: &StageIo, ctx: &StageContext<'_>) -> anyhow::Result<StageReport> {
        use std::sync::atomic::Ordering;
        crate::cli::IN_STAGE.store(true, Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if std::env::var("CLIENTELE_TEST_PANIC_IN_STAGE").is_ok_and(|s| s == ctx.stage) {
                panic!("the test hook CLIENTELE_TEST_PANIC_IN_STAGE");
            }
            self.run_unguarded(io, ctx)
        }));
        crate::cli::IN_STAGE.store(false, Ordering::SeqCst);
        outcome.unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "internal error in stage `{}`: {}; this is a bug in clientele (please report it), and none of the stage's outputs were published",
                ctx.stage,
                crate::cli::take_panic().unwrap_or_else(|| "it panicked".to_string())
            ))
        })
    }

    fn run_unguarded(&self, io: &StageIo, ctx: &StageContext<'_>) -> anyhow::Result<StageReport> {
        match self {
            StageParams::Ingest(p) => Ok(Ingest::run(p, io, ctx)?),
            StageParams::Preprocess(p) => Ok(Preprocess::run(p, io, ctx)?),
            StageParams::Segment(p) => Ok(Segment::run(p, io, ctx)?),
            StageParams::Recommend(p) => Ok(Recommend::run(p, io, ctx)?),
            StageParams::Evaluate(p) => Ok(Evaluate::run(p, io, ctx)?),
            StageParams::Report(p) => Ok(Report::run(p, io, ctx)?),
        }
    }
}

/// Deserialises `[stage.params]` as the type of the stage's kind, straight from the
/// document, so that toml reports unknown keys, missing keys and wrong types with their
/// line and column.
pub struct ParamsSeed(pub Kind);

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = StageParams;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<StageParams, D::Error> {
        StageParams::deserialize_for(self.0, deserializer)
    }
}

/// The key of the first infinite or NaN float in `value`.
fn non_finite(value: &toml::Value, key: &str) -> Option<String> {
    match value {
        toml::Value::Float(x) if !x.is_finite() => Some(key.to_string()),
        toml::Value::Table(table) => table
            .iter()
            .find_map(|(k, v)| non_finite(v, &format!("{key}.{k}"))),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(v, &format!("{key}[{i}]"))),
        _ => None,
    }
}
