//! Applying a saved model: every customer to its nearest centre (K-Means) or core point
//! within eps (DBSCAN), and the model's scores on them.

use std::path::Path;

use crate::errors::SegmentError;
use crate::io::FeatureTable;
use crate::scoring::{Outcome, Scores};
use crate::{dbscan, k_means, model};

pub(crate) fn apply(
    m: &model::SegmentModel,
    path: &Path,
    table: &FeatureTable,
) -> Result<Outcome, SegmentError> {
    let d = m.features.len();
    let n = table.x.nrows();
    let mut scores = Scores {
        mode: "apply",
        customers: n as u64,
        ..Scores::default()
    };
    let mut outcome = Outcome {
        labels: Vec::new(),
        kmeans_distances: None,
        point_types: None,
        centroids: None,
        model: None,
        model_labels: m.labels.clone(),
        sweep: Vec::new(),
        scores: Scores::default(),
        notes: Vec::new(),
    };
    match &m.fitted {
        model::Fitted::Kmeans { centroids } => {
            let centroids = model::from_rows(centroids, d, path, "centroid")?;
            let fitted = k_means::KMeansModel {
                centroids: centroids.clone(),
                labels: Vec::new(),
                inertia: 0.0,
                iterations: 0,
            };
            let (labels, distances) = fitted.assign(table.x.view());
            outcome.labels = labels.iter().map(|&l| l as i32).collect();
            outcome.kmeans_distances = Some(distances);
            scores.algorithm = "kmeans";
            scores.segments = centroids.nrows();
            outcome.centroids = Some(centroids);
        }
        model::Fitted::Dbscan {
            eps,
            core_points,
            core_labels,
            ..
        } => {
            let core = model::from_rows(core_points, d, path, "core point")?;
            if core_labels.len() != core.nrows() {
                return Err(SegmentError::Model {
                    path: path.to_path_buf(),
                    message: "core_points and core_labels differ in length".into(),
                });
            }
            let labels = dbscan::assign(core.view(), core_labels, *eps, table.x.view())?;
            let noise = labels.iter().filter(|&&l| l < 0).count();
            outcome.point_types = Some(
                labels
                    .iter()
                    .map(|&l| {
                        if l < 0 {
                            dbscan::PointType::Noise
                        } else {
                            dbscan::PointType::Border
                        }
                    })
                    .collect(),
            );
            outcome.labels = labels;
            scores.algorithm = "dbscan";
            scores.segments = core_labels.iter().max().map_or(0, |&m| (m + 1) as usize);
            scores.eps = Some(*eps);
            scores.noise_share = Some(noise as f64 / n.max(1) as f64);
            outcome.notes.push(format!(
                "noise: {noise} of {n} customers (no core point within eps)"
            ));
        }
    }
    outcome.scores = scores;
    Ok(outcome)
}
