//! `[stage.params]` of a segment stage.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `[stage.params]` of a segment stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentParams {
    /// `fit` clusters the customers and writes the `model` output; `apply` assigns new
    /// customers with the `model` input.
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The feature columns to cluster on; every Float64 column but `customer_id` when
    /// left out.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// K-Means: the number of segments, or `"auto"` to try `k_min..=k_max`.
    #[serde(default)]
    pub k: Auto<usize>,
    #[serde(default = "k_min")]
    pub k_min: usize,
    #[serde(default = "k_max")]
    pub k_max: usize,
    /// K-Means with `k = "auto"`: the score that chooses k.
    #[serde(default)]
    pub criterion: Criterion,
    /// K-Means: restarts from new k-means++ seeds; the lowest inertia is kept.
    #[serde(default = "n_init")]
    pub n_init: usize,
    #[serde(default = "max_iter")]
    pub max_iter: usize,
    /// K-Means: converged when the centres move less than `tol` × the mean feature
    /// variance (squared), as in scikit-learn.
    #[serde(default = "tol")]
    pub tol: f64,
    /// DBSCAN: the neighbourhood radius, or `"auto"` for the knee of the k-distance curve.
    #[serde(default)]
    pub eps: Auto<f64>,
    /// DBSCAN: neighbours (the point included) that make a core point.
    #[serde(default = "min_samples")]
    pub min_samples: usize,
    /// Fit on a seeded sample of this many customers, then assign every customer with
    /// the fitted model (K-Means: the nearest centre; DBSCAN: the cluster of the nearest
    /// core point within eps, else noise). Every customer is fitted on when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_sample: Option<usize>,
    /// K-Means: mini-batch K-Means with batches of this many customers (scikit-learn's
    /// `MiniBatchKMeans`), for fits too large for full Lloyd passes; `max_iter` then
    /// counts passes over the data. Full Lloyd iterations when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// The silhouette is exact up to this many customers, else computed on a seeded
    /// sample of this size.
    #[serde(default = "silhouette_sample")]
    pub silhouette_sample: usize,
    /// How many distinguishing features a segment's profile lists and its label names.
    #[serde(default = "top_features")]
    pub top_features: usize,
    /// Labels chosen by people, replacing generated ones: `labels = { "0" = "savers" }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The publication threshold: the profile of a segment (or noise) of fewer customers
    /// holds its size only; no mean, median, centre, distinguishing feature or generated
    /// label describes it.
    #[serde(default = "min_segment_size")]
    pub min_segment_size: usize,
    /// The seed of this stage's random choices, in place of the pipeline's: a second
    /// segment stage with another seed measures stability (evaluate's
    /// `assignments_rerun`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            mode: Mode::default(),
            algorithm: Algorithm::default(),
            features: None,
            k: Auto::Auto,
            k_min: k_min(),
            k_max: k_max(),
            criterion: Criterion::default(),
            n_init: n_init(),
            max_iter: max_iter(),
            tol: tol(),
            eps: Auto::Auto,
            min_samples: min_samples(),
            fit_sample: None,
            batch_size: None,
            silhouette_sample: silhouette_sample(),
            top_features: top_features(),
            labels: BTreeMap::new(),
            min_segment_size: min_segment_size(),
            seed: None,
        }
    }
}

fn k_min() -> usize {
    2
}
fn k_max() -> usize {
    10
}
fn n_init() -> usize {
    10
}
fn max_iter() -> usize {
    300
}
fn tol() -> f64 {
    1e-4
}
fn min_samples() -> usize {
    5
}
fn silhouette_sample() -> usize {
    20_000
}
fn top_features() -> usize {
    3
}
fn min_segment_size() -> usize {
    10
}

pub use clientele_shared::stage::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Kmeans,
    Dbscan,
}

/// The score that chooses k: the highest silhouette, the lowest Davies–Bouldin, or the
/// highest Calinski–Harabasz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    #[default]
    Silhouette,
    DaviesBouldin,
    CalinskiHarabasz,
}

/// A value, or `"auto"` for the stage to choose it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Auto<T> {
    #[default]
    Auto,
    Value(T),
}

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => serializer.serialize_str("auto"),
            Auto::Value(v) => v.serialize(serializer),
        }
    }
}

/// What `Auto<T>` accepts besides `"auto"`.
trait AutoValue: Sized {
    const EXPECTED: &'static str;
    fn from_i64(v: i64) -> Option<Self>;
    fn from_f64(v: f64) -> Option<Self>;
}

impl AutoValue for usize {
    const EXPECTED: &'static str = "a positive integer or \"auto\"";
    fn from_i64(v: i64) -> Option<Self> {
        usize::try_from(v).ok().filter(|v| *v > 0)
    }
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
}

impl AutoValue for f64 {
    const EXPECTED: &'static str = "a positive number or \"auto\"";
    fn from_i64(v: i64) -> Option<Self> {
        Some(v as f64).filter(|v| *v > 0.0)
    }
    fn from_f64(v: f64) -> Option<Self> {
        Some(v).filter(|v| v.is_finite() && *v > 0.0)
    }
}

impl<'de, T: AutoValue> Deserialize<'de> for Auto<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AutoVisitor<T>(std::marker::PhantomData<T>);
        impl<T: AutoValue> Visitor<'_> for AutoVisitor<T> {
            type Value = Auto<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Auto<T>, E> {
                if v == "auto" {
                    Ok(Auto::Auto)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Auto<T>, E> {
                T::from_i64(v)
                    .map(Auto::Value)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Auto<T>, E> {
                let signed = i64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))?;
                self.visit_i64(signed)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Auto<T>, E> {
                T::from_f64(v)
                    .map(Auto::Value)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        deserializer.deserialize_any(AutoVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SegmentParams, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn k_and_eps_take_a_value_or_auto() {
        let p = parse("k = 4\neps = 0.5").unwrap();
        assert_eq!((p.k, p.eps), (Auto::Value(4), Auto::Value(0.5)));
        let p = parse("k = \"auto\"\neps = 2").unwrap();
        assert_eq!((p.k, p.eps), (Auto::Auto, Auto::Value(2.0)));
        let error = parse("k = 0").unwrap_err();
        assert!(error.contains("a positive integer or \"auto\""), "{error}");
        let error = parse("eps = \"big\"").unwrap_err();
        assert!(error.contains("a positive number or \"auto\""), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = parse("n_clusters = 3").unwrap_err();
        assert!(error.contains("n_clusters"), "{error}");
    }

    #[test]
    fn serialised_params_read_back_equal() {
        let p = parse("k = 3\nlabels = { \"0\" = \"savers\" }").unwrap();
        let text = toml::to_string(&p).unwrap();
        assert_eq!(parse(&text).unwrap(), p);
    }
}
