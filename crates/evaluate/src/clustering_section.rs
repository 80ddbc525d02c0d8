//! The clustering metrics of the segments: silhouette (overall and per segment),
//! Davies–Bouldin, Calinski–Harabasz, sizes, the noise share and stability.

use std::collections::BTreeMap;
use std::path::Path;

use clientele_numeric::clustering::{
    adjusted_rand_index, calinski_harabasz, davies_bouldin, sample_rows, silhouette_samples,
};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::hashing::{fast_map_with_capacity, FastMap};
use clientele_shared::stage::StageIo;
use ndarray::Array2;

use crate::errors::EvaluateError;
use crate::metrics_file::{ClusteringDetails, MetricsFile};
use crate::EvaluateParams;

/// Customer → segment (−1 for noise). A hash map: a million customers looked up by id
/// (ranking per segment, the feature rows) cost a B-tree's string comparisons a tenth of
/// the stage.
pub(crate) type Segments = FastMap<String, i64>;

/// Customer → segment (−1 for noise), from an assignments table.
pub(crate) fn read_assignments(
    path: &Path,
    key: Option<&ParquetKey>,
) -> Result<Segments, EvaluateError> {
    let rows = clientele_shared::schema::read_assignments(path, key)?;
    // Nothing read from the map depends on its order (see the rerun below).
    let mut segments: Segments = fast_map_with_capacity(rows.len());
    segments.extend(
        rows.into_iter()
            .map(|(customer, segment)| (customer, i64::from(segment))),
    );
    Ok(segments)
}

pub(crate) fn clustering_section(
    params: &EvaluateParams,
    io: &StageIo,
    segments: &Segments,
    seed: u64,
    file: &mut MetricsFile,
    key: Option<&ParquetKey>,
) -> Result<(), EvaluateError> {
    let mut details = ClusteringDetails {
        customers: segments.len() as u64,
        noise: segments.values().filter(|s| **s < 0).count() as u64,
        ..ClusteringDetails::default()
    };
    for s in segments.values().filter(|s| **s >= 0) {
        *details.sizes.entry(s.to_string()).or_default() += 1;
    }
    file.metrics
        .insert("segments".into(), details.sizes.len() as f64);
    file.metrics.insert(
        "noise_share".into(),
        details.noise as f64 / details.customers.max(1) as f64,
    );
    for (s, size) in &details.sizes {
        file.metrics
            .insert(format!("segment.{s}.size"), *size as f64);
        file.metrics.insert(
            format!("segment.{s}.share"),
            *size as f64 / details.customers.max(1) as f64,
        );
    }
    if let Some(path) = io.input("features") {
        let features = read_feature_matrix(path, None, key)?;
        let d = features.names.len();
        let numbers: BTreeMap<i64, usize> = details
            .sizes
            .keys()
            .filter_map(|s| s.parse::<i64>().ok())
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for (r, id) in features.ids.iter().enumerate() {
            if let Some(s) = segments.get(id).filter(|s| **s >= 0) {
                rows.push(r);
                labels.push(numbers[s]);
            }
        }
        let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| features.values[rows[i] * d + j]);
        if numbers.len() >= 2 && rows.len() > numbers.len() {
            file.metrics
                .insert("davies_bouldin".into(), davies_bouldin(x.view(), &labels)?);
            file.metrics.insert(
                "calinski_harabasz".into(),
                calinski_harabasz(x.view(), &labels)?,
            );
            let picked = sample_rows(rows.len(), params.silhouette_sample, seed);
            let sub = x.select(ndarray::Axis(0), &picked);
            let sub_labels: Vec<usize> = picked.iter().map(|&i| labels[i]).collect();
            if let Ok(samples) = silhouette_samples(sub.view(), &sub_labels) {
                let mean = samples.iter().sum::<f64>() / samples.len() as f64;
                file.metrics.insert("silhouette".into(), mean);
                for (s, &i) in &numbers {
                    let own: Vec<f64> = samples
                        .iter()
                        .zip(&sub_labels)
                        .filter(|(_, l)| **l == i)
                        .map(|(v, _)| *v)
                        .collect();
                    if !own.is_empty() {
                        file.metrics.insert(
                            format!("segment.{s}.silhouette"),
                            own.iter().sum::<f64>() / own.len() as f64,
                        );
                    }
                }
                details.silhouette_rows = Some(picked.len() as u64);
                details.silhouette_exact = Some(picked.len() == rows.len());
            }
        }
    }
    if let Some(path) = io.input("assignments_rerun") {
        let rerun = read_assignments(path, key)?;
        // Labels as indices 0.., per run; noise (−1) is a label of its own, as in
        // scikit-learn's adjusted_rand_score.
        let (mut index_a, mut index_b) = (BTreeMap::new(), BTreeMap::new());
        let mut a = Vec::new();
        let mut b = Vec::new();
        // In id order, so that the labels are numbered as the customers sort.
        let mut in_order: Vec<(&String, &i64)> = segments.iter().collect();
        in_order.sort_unstable();
        for (customer, s) in in_order {
            if let Some(t) = rerun.get(customer) {
                let n = index_a.len();
                a.push(*index_a.entry(*s).or_insert(n));
                let n = index_b.len();
                b.push(*index_b.entry(*t).or_insert(n));
            }
        }
        file.metrics
            .insert("stability_ari".into(), adjusted_rand_index(&a, &b)?);
        details.stability_customers = Some(a.len() as u64);
    }
    file.clustering = Some(details);
    Ok(())
}
