//! The regression gate: thresholds on metrics, and drops against a baseline run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Gate, MetricsFile, ParamError};

/// Metrics where lower is better; for the others higher is.
pub const LOWER_IS_BETTER: [&str; 1] = ["davies_bouldin"];

/// One check of the gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub metric: String,
    /// `>= 0.2`, `<= 2`, or `max_drop 0.01`.
    pub rule: String,
    pub baseline: Option<f64>,
    pub now: f64,
    /// `now − baseline`, with a baseline.
    pub delta: Option<f64>,
    pub passed: bool,
}

impl Check {
    /// The check as one line: metric, rule, baseline, now, delta, verdict.
    pub fn line(&self) -> String {
        let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        format!(
            "{:<28} {:<16} baseline {:>8}  now {:>8.4}  delta {:>8}  {}",
            self.metric,
            self.rule,
            number(self.baseline),
            self.now,
            self.delta
                .map_or_else(|| "-".to_string(), |d| format!("{d:+.4}")),
            if self.passed { "ok" } else { "FAILED" }
        )
    }
}

/// The metrics `compare` defaults to: the blend's precision, recall, MAP and NDCG.
fn default_compare(ks: &[usize]) -> Vec<String> {
    ks.iter()
        .flat_map(|k| ["precision", "recall", "map", "ndcg"].map(|m| format!("{m}_at_{k}")))
        .collect()
}

/// Every check of the gate, in order: `min`, `max`, then the baseline comparisons. A
/// metric the gate names that was not computed is an error naming it.
pub fn check(
    gate: &Gate,
    ks: &[usize],
    now: &BTreeMap<String, f64>,
    baseline: Option<&MetricsFile>,
) -> Result<Vec<Check>, ParamError> {
    let value = |key: &'static str, metric: &str| {
        now.get(metric)
            .copied()
            .ok_or_else(|| ParamError::UnknownMetric {
                key,
                metric: metric.to_string(),
                examples: now.keys().take(5).cloned().collect::<Vec<_>>().join(", "),
            })
    };
    let mut checks = Vec::new();
    for (metric, threshold) in &gate.min {
        let v = value("min", metric)?;
        checks.push(Check {
            metric: metric.clone(),
            rule: format!(">= {threshold}"),
            baseline: None,
            now: v,
            delta: None,
            passed: v >= *threshold,
        });
    }
    for (metric, threshold) in &gate.max {
        let v = value("max", metric)?;
        checks.push(Check {
            metric: metric.clone(),
            rule: format!("<= {threshold}"),
            baseline: None,
            now: v,
            delta: None,
            passed: v <= *threshold,
        });
    }
    if let (Some(drop), Some(base)) = (gate.max_drop, baseline) {
        let compare = gate.compare.clone().unwrap_or_else(|| default_compare(ks));
        for metric in compare {
            let v = value("compare", &metric)?;
            let b = base.metrics.get(&metric).copied().ok_or_else(|| {
                ParamError::BaselineLacksMetric {
                    metric: metric.clone(),
                }
            })?;
            let worse_by = if LOWER_IS_BETTER.contains(&metric.as_str()) {
                v - b
            } else {
                b - v
            };
            checks.push(Check {
                metric,
                rule: format!("max_drop {drop}"),
                baseline: Some(b),
                now: v,
                delta: Some(v - b),
                // A tiny tolerance for the rounding of a value read back from JSON.
                passed: worse_by <= drop + 1e-12,
            });
        }
    }
    Ok(checks)
}

/// `clientele metrics diff A B`: each metric of either file, its two values and the
/// change, as lines of a table.
pub fn diff(a: &MetricsFile, b: &MetricsFile) -> Vec<String> {
    let mut names: Vec<&String> = a.metrics.keys().chain(b.metrics.keys()).collect();
    names.sort();
    names.dedup();
    let mut lines = vec![format!(
        "{:<40} {:>12} {:>12} {:>12}",
        "metric", "A", "B", "B − A"
    )];
    for name in names {
        let (x, y) = (a.metrics.get(name), b.metrics.get(name));
        let cell = |v: Option<&f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.6}"));
        let delta = match (x, y) {
            (Some(x), Some(y)) => format!("{:+.6}", y - x),
            _ => "-".to_string(),
        };
        lines.push(format!(
            "{:<40} {:>12} {:>12} {:>12}",
            name,
            cell(x),
            cell(y),
            delta
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn thresholds_and_drops() {
        let gate = Gate {
            min: BTreeMap::from([("precision_at_5".to_string(), 0.2)]),
            max: BTreeMap::from([("davies_bouldin".to_string(), 2.0)]),
            max_drop: Some(0.01),
            compare: Some(vec!["map_at_5".into(), "davies_bouldin".into()]),
        };
        let baseline = MetricsFile {
            metrics: metrics(&[("map_at_5", 0.40), ("davies_bouldin", 1.5)]),
            ..MetricsFile::default()
        };
        let now = metrics(&[
            ("precision_at_5", 0.25),
            ("map_at_5", 0.385),
            ("davies_bouldin", 1.505),
        ]);
        let checks = check(&gate, &[5], &now, Some(&baseline)).unwrap();
        let passed: Vec<bool> = checks.iter().map(|c| c.passed).collect();
        // MAP fell by 0.015 > 0.01; Davies–Bouldin rose by 0.005 ≤ 0.01.
        assert_eq!(passed, vec![true, true, false, true]);
        assert!(checks[2].line().contains("FAILED"));
        let err = check(
            &Gate {
                min: BTreeMap::from([("precision_at_7".to_string(), 0.1)]),
                ..gate
            },
            &[5],
            &now,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("gate.min: `precision_at_7`"), "{err}");
    }
}
