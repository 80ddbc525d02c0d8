//! What a fit or an apply found, and how it is scored: the sweep's rows, the scores of
//! the profiles file, the `fit_sample` rows and the silhouettes (exact, or on a seeded
//! sample).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use crate::{dbscan, metrics, model, Criterion, SegmentParams};

/// One k of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub davies_bouldin: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub chosen: bool,
}

/// How the silhouette was computed.
#[derive(Debug, Clone, Serialize)]
pub struct SilhouetteInfo {
    pub value: Option<f64>,
    /// Customers it was computed on.
    pub rows: u64,
    /// Whether it was computed on every eligible customer (else on a seeded sample).
    pub exact: bool,
    /// DBSCAN: customers labelled noise, left out of the score.
    pub noise_excluded: u64,
}

/// What a fit or an apply found, before it is written.
pub(crate) struct Outcome {
    pub(crate) labels: Vec<i32>,
    pub(crate) kmeans_distances: Option<Vec<f64>>,
    pub(crate) point_types: Option<Vec<dbscan::PointType>>,
    pub(crate) centroids: Option<Array2<f64>>,
    pub(crate) model: Option<model::SegmentModel>,
    /// Apply: the labels saved with the model.
    pub(crate) model_labels: BTreeMap<String, String>,
    pub(crate) sweep: Vec<SweepRow>,
    pub(crate) scores: Scores,
    pub(crate) notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Scores {
    pub(crate) algorithm: &'static str,
    pub(crate) mode: &'static str,
    pub(crate) customers: u64,
    /// Under its own key: `segments` is the list of profiles.
    #[serde(rename = "segment_count")]
    pub(crate) segments: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) k_chosen_by: Option<Criterion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inertia: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) silhouette: Option<SilhouetteInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) davies_bouldin: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) calinski_harabasz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eps_auto: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) noise_share: Option<f64>,
}

/// The seed of the silhouette sample, apart from the clustering seeds.
pub(crate) const SILHOUETTE_SEED_SALT: u64 = 0x5111_4077_e77e;
/// The seed of the `fit_sample` rows, apart from the other seeds.
pub(crate) const FIT_SAMPLE_SEED_SALT: u64 = 0xf175_a3b1_e000;

/// The rows to fit on when `fit_sample` is below the number of customers: a seeded
/// sample, ascending. `None`: every row.
pub(crate) fn fit_rows(params: &SegmentParams, n: usize, seed: u64) -> Option<Vec<usize>> {
    params
        .fit_sample
        .filter(|&m| m < n)
        .map(|m| metrics::sample_rows(n, m, seed ^ FIT_SAMPLE_SEED_SALT))
}

/// Silhouettes of several labelings of the rows at `rows` (all of `x`'s rows when `None`),
/// exact up to `sample` rows, else on a seeded sample.
pub(crate) fn silhouettes(
    x: ArrayView2<f64>,
    rows: Option<&[usize]>,
    labelings: &[Vec<usize>],
    sample: usize,
    seed: u64,
) -> (Vec<Option<f64>>, u64, bool) {
    let eligible = rows.map_or(x.nrows(), <[usize]>::len);
    let picked = metrics::sample_rows(eligible, sample, seed ^ SILHOUETTE_SEED_SALT);
    let exact = picked.len() == eligible;
    let original: Vec<usize> = match rows {
        Some(rows) => picked.iter().map(|&i| rows[i]).collect(),
        None => picked,
    };
    let sub = x.select(Axis(0), &original);
    // Labels of the sample, renumbered 0.. so that clusters absent from it are not counted.
    let relabelled: Vec<Vec<usize>> = labelings
        .iter()
        .map(|labels| {
            let mut map = BTreeMap::new();
            original
                .iter()
                .map(|&i| {
                    let next = map.len();
                    *map.entry(labels[i]).or_insert(next)
                })
                .collect()
        })
        .collect();
    let valid: Vec<usize> = (0..relabelled.len())
        .filter(|&l| {
            let k = relabelled[l].iter().max().map_or(0, |m| m + 1);
            k >= 2 && k < original.len()
        })
        .collect();
    let refs: Vec<&[usize]> = valid.iter().map(|&l| relabelled[l].as_slice()).collect();
    let mut out = vec![None; labelings.len()];
    if let Ok(scores) = metrics::silhouette_scores(sub.view(), &refs) {
        for (l, s) in valid.into_iter().zip(scores) {
            out[l] = Some(s);
        }
    }
    (out, original.len() as u64, exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_groups() -> Array2<f64> {
        Array2::from_shape_fn((40, 2), |(i, j)| {
            (i / 20) as f64 * 10.0 + ((i * 5 + j) % 7) as f64 * 0.1
        })
    }

    #[test]
    fn silhouettes_are_exact_up_to_the_sample_and_skip_a_single_cluster() {
        let x = two_groups();
        let split: Vec<usize> = (0..40).map(|i| i / 20).collect();
        let one = vec![0usize; 40];
        let labels_far_apart: Vec<usize> = (0..40).map(|i| 5 + 3 * (i / 20)).collect();
        let (scores, rows, exact) = silhouettes(
            x.view(),
            None,
            &[split.clone(), one, labels_far_apart],
            1000,
            1,
        );
        assert_eq!((rows, exact), (40, true));
        let expected = metrics::silhouette_score(x.view(), &split).unwrap();
        assert_eq!(scores[0], Some(expected));
        assert_eq!(scores[1], None, "one cluster has no silhouette");
        // Labels are renumbered, so their values do not matter.
        assert_eq!(scores[2], Some(expected));
    }

    #[test]
    fn silhouettes_on_a_sample_are_seeded_and_restricted_to_the_rows_given() {
        let x = two_groups();
        let labels: Vec<usize> = (0..40).map(|i| i / 20).collect();
        let rows: Vec<usize> = (0..40).step_by(2).collect();
        let first = silhouettes(x.view(), Some(&rows), std::slice::from_ref(&labels), 10, 7);
        let again = silhouettes(x.view(), Some(&rows), &[labels], 10, 7);
        assert_eq!(first, again);
        assert_eq!((first.1, first.2), (10, false));
        assert!(first.0[0].is_some_and(|s| s > 0.9));
    }

    #[test]
    fn fit_rows_sample_only_below_the_customer_count() {
        let params = SegmentParams {
            fit_sample: Some(10),
            ..SegmentParams::default()
        };
        assert_eq!(fit_rows(&params, 10, 1), None);
        let rows = fit_rows(&params, 100, 1).unwrap();
        assert_eq!(rows.len(), 10);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(fit_rows(&SegmentParams::default(), 100, 1), None);
    }
}
