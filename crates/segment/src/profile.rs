//! Segment profiles: size, share, the mean and median of every feature in the units of
//! its source column, the features that most distinguish the segment, and a short label
//! built from them.

use std::collections::BTreeMap;

use clientele_shared::schema::FeatureOrigin;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One segment, as the profiles file shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentProfile {
    /// The segment's number; `-1` for DBSCAN noise.
    pub segment: i32,
    pub label: String,
    /// Whether the label was written in the pipeline (`labels`) rather than generated.
    pub label_from_config: bool,
    pub size: u64,
    pub share: f64,
    /// K-Means: the segment's centre, feature by feature, in original units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centroid: Option<BTreeMap<String, f64>>,
    pub features: Vec<FeatureProfile>,
    /// The most distinguishing features, the largest absolute standardised difference
    /// first.
    pub distinguishing: Vec<String>,
    /// Below the publication threshold: only the size is given.
    #[serde(default)]
    pub suppressed: bool,
}

/// Empties the profiles of segments smaller than `min_size`: an aggregate over a handful
/// of customers (a mean income, a centre) says too much about each of them.
pub fn suppress_small(profiles: &mut [SegmentProfile], min_size: usize) {
    for p in profiles.iter_mut().filter(|p| p.size < min_size as u64) {
        if !p.label_from_config {
            p.label = if p.segment < 0 {
                format!("noise: fewer than {min_size} customers, not described")
            } else {
                format!(
                    "segment {}: fewer than {min_size} customers, not described",
                    p.segment
                )
            };
        }
        p.centroid = None;
        p.features.clear();
        p.distinguishing.clear();
        p.suppressed = true;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub feature: String,
    /// The input column it comes from.
    pub source: String,
    /// Mean and median over the segment, in the source column's units for a numeric
    /// feature (through the preprocess state), else in feature units (shares for
    /// one-hot and flag columns).
    pub mean: f64,
    pub median: f64,
    /// (segment mean − population mean) / population standard deviation, in feature
    /// space; 0 for a constant feature.
    pub standardised_difference: f64,
}

/// How each feature turns back into original units, and what it is called.
pub struct Features<'a> {
    pub names: &'a [String],
    /// Origins by feature name (from the preprocess state); empty when none was given.
    pub origins: &'a BTreeMap<String, FeatureOrigin>,
}

impl Features<'_> {
    fn original(&self, feature: usize, v: f64) -> f64 {
        match self
            .origins
            .get(&self.names[feature])
            .and_then(|o| o.unscale)
        {
            Some(u) => u.original(v),
            None => v,
        }
    }

    fn source(&self, feature: usize) -> &str {
        self.origins
            .get(&self.names[feature])
            .map_or(self.names[feature].as_str(), |o| o.source.as_str())
    }

    /// `balance` for a numeric feature; `job admin` for `job=admin`.
    fn phrase(&self, feature: usize) -> String {
        let name = &self.names[feature];
        let numeric = self.origins.get(name).is_none_or(|o| o.unscale.is_some());
        let base = if numeric { self.source(feature) } else { name };
        base.replace(['_', '='], " ").to_lowercase()
    }

    fn is_numeric(&self, feature: usize) -> bool {
        self.origins
            .get(&self.names[feature])
            .is_none_or(|o| o.unscale.is_some())
    }

    /// Centroids in original units, feature by feature.
    pub fn centroid(&self, centre: &[f64]) -> BTreeMap<String, f64> {
        centre
            .iter()
            .enumerate()
            .map(|(f, &v)| (self.names[f].clone(), self.original(f, v)))
            .collect()
    }
}

/// Profiles of every segment present in `labels` (noise, `-1`, last), in segment order.
pub fn profiles(
    x: ArrayView2<f64>,
    labels: &[i32],
    features: &Features,
    centroids: Option<&Array2<f64>>,
    top: usize,
    overrides: &BTreeMap<String, String>,
) -> Vec<SegmentProfile> {
    let (n, d) = x.dim();
    let (population_mean, population_sd): (Vec<f64>, Vec<f64>) = (0..d)
        .into_par_iter()
        .map(|f| {
            let column = x.column(f);
            let mean = column.sum() / n.max(1) as f64;
            let var = column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(1) as f64;
            (mean, var.sqrt())
        })
        .unzip();
    let mut segments: Vec<i32> = labels.to_vec();
    segments.sort_unstable();
    segments.dedup();
    // Noise last: it is what is left, not a segment.
    segments.sort_by_key(|&s| (s < 0, s));
    segments
        .into_iter()
        .map(|segment| {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == segment).collect();
            let size = rows.len();
            // Features one per task: each sorts its column's values of the segment (a
            // million values per feature over all segments) on its own.
            let (feature_profiles, mut differences): (Vec<FeatureProfile>, Vec<(usize, f64)>) = (0
                ..d)
                .into_par_iter()
                .map(|f| {
                    let mut values: Vec<f64> = rows.iter().map(|&i| x[[i, f]]).collect();
                    let mean = values.iter().sum::<f64>() / size as f64;
                    let difference = if population_sd[f] > 0.0 {
                        (mean - population_mean[f]) / population_sd[f]
                    } else {
                        0.0
                    };
                    // Values equal under the total order are the same bits: an unstable
                    // sort leaves the same sequence as a stable one.
                    values.sort_unstable_by(f64::total_cmp);
                    let median = median_of_sorted(&values);
                    // Means and medians in original units: the transforms are
                    // monotone, so the median maps across exactly; the mean is taken
                    // over original values.
                    let original_mean = if features.is_numeric(f) {
                        values.iter().map(|&v| features.original(f, v)).sum::<f64>() / size as f64
                    } else {
                        mean
                    };
                    (
                        FeatureProfile {
                            feature: features.names[f].clone(),
                            source: features.source(f).to_string(),
                            mean: original_mean,
                            median: features.original(f, median),
                            standardised_difference: difference,
                        },
                        (f, difference),
                    )
                })
                .unzip();
            differences.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            let top: Vec<(usize, f64)> = differences
                .into_iter()
                .filter(|(_, diff)| *diff != 0.0)
                .take(top)
                .collect();
            let generated = if segment < 0 {
                "noise: customers in no dense group".to_string()
            } else {
                label(features, &top)
            };
            let configured = overrides.get(&segment.to_string());
            SegmentProfile {
                segment,
                label: configured.cloned().unwrap_or(generated),
                label_from_config: configured.is_some(),
                size: size as u64,
                share: size as f64 / n as f64,
                centroid: centroids
                    .filter(|_| segment >= 0)
                    .map(|c| features.centroid(c.row(segment as usize).as_slice().unwrap_or(&[]))),
                features: feature_profiles,
                suppressed: false,
                distinguishing: top
                    .iter()
                    .map(|(f, _)| features.names[*f].clone())
                    .collect(),
            }
        })
        .collect()
}

/// "high balance · low purchases frequency · often job admin".
fn label(features: &Features, top: &[(usize, f64)]) -> String {
    if top.is_empty() {
        return "like the population".to_string();
    }
    top.iter()
        .map(|&(f, diff)| {
            let word = match (features.is_numeric(f), diff > 0.0) {
                (true, true) => "high",
                (true, false) => "low",
                (false, true) => "often",
                (false, false) => "rarely",
            };
            format!("{word} {}", features.phrase(f))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn median_of_sorted(values: &[f64]) -> f64 {
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clientele_shared::schema::{Transform, Unscale};
    use ndarray::array;

    #[test]
    fn profiles_in_original_units_with_a_label() {
        // Feature 0 is balance, standardised with mean 1000 and scale 500; feature 1 is
        // the one-hot `job=admin`.
        let x = array![[-1.0, 1.0], [-1.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
        let names = vec!["balance__standard".to_string(), "job=admin".to_string()];
        let mut origins = BTreeMap::new();
        origins.insert(
            names[0].clone(),
            FeatureOrigin {
                name: names[0].clone(),
                source: "balance".into(),
                unscale: Some(Unscale {
                    transform: Transform::None,
                    center: 1000.0,
                    scale: 500.0,
                }),
            },
        );
        origins.insert(
            names[1].clone(),
            FeatureOrigin {
                name: names[1].clone(),
                source: "job".into(),
                unscale: None,
            },
        );
        let features = Features {
            names: &names,
            origins: &origins,
        };
        let centroids = array![[-1.0, 1.0], [1.0, 0.0]];
        let mut overrides = BTreeMap::new();
        overrides.insert("1".to_string(), "wealthy".to_string());
        let p = profiles(
            x.view(),
            &[0, 0, 1, 1],
            &features,
            Some(&centroids),
            2,
            &overrides,
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].size, 2);
        assert_eq!(p[0].share, 0.5);
        assert_eq!(p[0].features[0].mean, 500.0);
        assert_eq!(p[0].features[0].median, 500.0);
        assert_eq!(p[0].features[0].standardised_difference, -1.0);
        assert_eq!(p[0].features[1].mean, 1.0);
        assert_eq!(p[0].centroid.as_ref().unwrap()["balance__standard"], 500.0);
        assert_eq!(p[0].label, "low balance · often job admin");
        assert!(!p[0].label_from_config);
        assert_eq!(p[1].label, "wealthy");
        assert!(p[1].label_from_config);
        assert_eq!(p[1].centroid.as_ref().unwrap()["balance__standard"], 1500.0);
    }

    #[test]
    fn noise_comes_last_and_is_named() {
        let x = array![[0.0], [1.0], [2.0]];
        let names = vec!["a".to_string()];
        let origins = BTreeMap::new();
        let features = Features {
            names: &names,
            origins: &origins,
        };
        let p = profiles(x.view(), &[-1, 0, 0], &features, None, 3, &BTreeMap::new());
        assert_eq!(p[0].segment, 0);
        assert_eq!(p[1].segment, -1);
        assert!(p[1].label.starts_with("noise"));
        assert_eq!(p[0].label, "high a");
    }
}
