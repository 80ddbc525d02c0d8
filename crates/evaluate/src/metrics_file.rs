//! metrics.json: what the stage writes, what the gate of a later run and `clientele
//! metrics diff` read, and the readable table of it for stderr.

use std::collections::BTreeMap;
use std::path::Path;

use clientele_shared::SharedError;
use serde::{Deserialize, Serialize};

use crate::gate;
use crate::ranking_section::flat;

/// metrics.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricsFile {
    pub k: Vec<usize>,
    /// Every metric under a stable flat name (see the README): what the gate and
    /// `metrics diff` read.
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<ClusteringDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
}

/// Who was counted in the ranking metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RankingDetails {
    /// `blend`, then the methods of `by_method`.
    pub lists: Vec<String>,
    /// Who the averages are over.
    #[serde(default)]
    pub averaging: clientele_numeric::ranking::Averaging,
    pub products: usize,
    pub customers_with_held_out_products: u64,
    /// By list: customers with recommendations and something held out (with
    /// `recommended` averaging, those the averages are over).
    pub customers_counted: BTreeMap<String, u64>,
    /// By list: customers with recommendations but nothing held out (left out).
    pub customers_without_relevant: BTreeMap<String, u64>,
    /// By list: customers with something held out but no recommendation (0 in every
    /// average with `held_out` averaging; with `recommended`, left out of precision,
    /// recall, MAP and hit rate and 0 in NDCG, as the peer).
    pub customers_without_recommendations: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusteringDetails {
    pub customers: u64,
    pub noise: u64,
    pub sizes: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette_exact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability_customers: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateResult {
    pub passed: bool,
    pub checks: Vec<gate::Check>,
}

/// Reads a metrics.json written by an evaluate stage.
pub fn read_metrics(path: &Path) -> Result<MetricsFile, SharedError> {
    let text = std::fs::read_to_string(path).map_err(|e| SharedError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn write_metrics(path: &Path, file: &MetricsFile) -> Result<(), SharedError> {
    let mut json = serde_json::to_string_pretty(file).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())
}

/// The readable table for stderr: each list's ranking metrics at each k, then the
/// clustering scores.
pub(crate) fn table(file: &MetricsFile) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = &file.ranking {
        for &k in &file.k {
            lines.push(format!(
                "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13}   (k = {k})",
                "list", "precision", "recall", "map", "ndcg", "coverage", "customers"
            ));
            for list in &r.lists {
                let get = |m: &str| {
                    file.metrics
                        .get(&flat("", list, &format!("{m}_at_{k}")))
                        .copied()
                        .unwrap_or(f64::NAN)
                };
                // The customers the list recommended to, of those with something held out.
                let covered = format!(
                    "{}/{}",
                    r.customers_counted.get(list).copied().unwrap_or(0),
                    r.customers_with_held_out_products
                );
                lines.push(format!(
                    "{:<20} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>13}",
                    list,
                    get("precision"),
                    get("recall"),
                    get("map"),
                    get("ndcg"),
                    get("coverage"),
                    covered
                ));
            }
        }
    }
    if file.clustering.is_some() {
        let scores: Vec<String> = [
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "noise_share",
            "stability_ari",
        ]
        .iter()
        .filter_map(|m| file.metrics.get(*m).map(|v| format!("{m} {v:.4}")))
        .collect();
        lines.push(format!("clustering: {}", scores.join(", ")));
    }
    lines
}
