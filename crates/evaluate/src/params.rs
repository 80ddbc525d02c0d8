//! `[stage.params]` of an evaluate stage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use clientele_numeric::ranking::Averaging;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateParams {
    /// The cut-offs of the ranking metrics.
    #[serde(default = "ks")]
    pub k: Vec<usize>,
    /// Who the ranking metrics average over: `held_out` (every customer with something
    /// held out; a list that recommends nothing to one scores 0 for them) or
    /// `recommended` (Microsoft Recommenders': the customers each list recommends to).
    #[serde(default)]
    pub averaging: Averaging,
    /// Ranking metrics per segment as well (needs `assignments`).
    #[serde(default = "yes")]
    pub per_segment: bool,
    /// The silhouette is exact up to this many customers, else computed on a seeded
    /// sample of this size.
    #[serde(default = "silhouette_sample")]
    pub silhouette_sample: usize,
    /// The regression gate; none by default.
    #[serde(default)]
    pub gate: Option<Gate>,
}

impl Default for EvaluateParams {
    fn default() -> Self {
        EvaluateParams {
            k: ks(),
            averaging: Averaging::default(),
            per_segment: true,
            silhouette_sample: silhouette_sample(),
            gate: None,
        }
    }
}

fn ks() -> Vec<usize> {
    vec![5]
}
fn yes() -> bool {
    true
}
fn silhouette_sample() -> usize {
    20_000
}

/// Checks on the metrics: thresholds, and drops against a baseline metrics file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// `metric = value`: the metric must be at least the value.
    #[serde(default)]
    pub min: BTreeMap<String, f64>,
    /// `metric = value`: the metric must be at most the value.
    #[serde(default)]
    pub max: BTreeMap<String, f64>,
    /// With a `baseline` input: each metric of `compare` may fall at most this much
    /// below the baseline's (rise, for a metric where lower is better).
    #[serde(default)]
    pub max_drop: Option<f64>,
    /// The metrics compared with the baseline; by default the blend's precision,
    /// recall, MAP and NDCG at every k.
    #[serde(default)]
    pub compare: Option<Vec<String>>,
}
