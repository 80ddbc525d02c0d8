//! The DBSCAN fit: `eps` fixed or at the knee of the k-distance curve, on every
//! customer or on a seeded `fit_sample` and then assigning everyone.

use std::collections::BTreeMap;

use ndarray::Axis;

use crate::errors::{ParamError, SegmentError};
use crate::io::FeatureTable;
use crate::scoring::{fit_rows, silhouettes, Outcome, Scores, SilhouetteInfo};
use crate::{dbscan, metrics, model, Auto, SegmentParams};
use clientele_shared::stage::StageContext;

pub(crate) fn fit_dbscan(
    params: &SegmentParams,
    table: &FeatureTable,
    ctx: &StageContext<'_>,
) -> Result<Outcome, SegmentError> {
    let x = table.x.view();
    let n = x.nrows();
    let seed = params.seed.unwrap_or(ctx.seed);
    let sample = fit_rows(params, n, seed);
    let fit_x = sample.as_ref().map(|rows| x.select(Axis(0), rows));
    let fit_view = fit_x.as_ref().map_or(x, |x| x.view());
    let mut notes = Vec::new();
    let (eps, auto) = match params.eps {
        Auto::Value(eps) => (eps, false),
        Auto::Auto => {
            ctx.progress
                .step(&format!("{}-distance curve for eps", params.min_samples));
            let curve = dbscan::k_distances(fit_view, params.min_samples)?;
            let eps = dbscan::knee(&curve).ok_or_else(|| ParamError::FlatKDistance {
                min_samples: params.min_samples,
                path: table.path.clone(),
            })?;
            notes.push(format!(
                "eps = {eps} (auto: the knee of the sorted {}-distance curve)",
                params.min_samples
            ));
            (eps, true)
        }
    };
    ctx.progress.step(&format!(
        "DBSCAN eps = {eps}, min_samples = {}",
        params.min_samples
    ));
    let fit = dbscan::fit(
        fit_view,
        &dbscan::DbscanParams::new(eps, params.min_samples),
    )?;
    let (core, core_labels) = dbscan::core_points(fit_view, &fit);
    let (labels, point_types) = match &sample {
        None => (fit.labels, fit.point_types),
        Some(rows) => {
            ctx.progress.step(&format!(
                "assigning {n} customers to the clusters of {} core points",
                core.nrows()
            ));
            notes.push(format!(
                "fitted on a seeded sample of {} of {n} customers; the others joined the cluster of the nearest core point within eps (border), else noise",
                rows.len()
            ));
            let mut labels = dbscan::assign(core.view(), &core_labels, eps, x)?;
            let mut types: Vec<dbscan::PointType> = labels
                .iter()
                .map(|&l| {
                    if l < 0 {
                        dbscan::PointType::Noise
                    } else {
                        dbscan::PointType::Border
                    }
                })
                .collect();
            // The sampled customers keep what the fit found (a border point reachable
            // from two clusters keeps the one DBSCAN gave it).
            for (i, &r) in rows.iter().enumerate() {
                labels[r] = fit.labels[i];
                types[r] = fit.point_types[i];
            }
            (labels, types)
        }
    };
    let clustered: Vec<usize> = (0..n).filter(|&i| labels[i] >= 0).collect();
    let noise = (n - clustered.len()) as u64;
    let labels_usize: Vec<usize> = labels.iter().map(|&l| l.max(0) as usize).collect();
    let (silhouette, silhouette_rows, exact) = if fit.clusters >= 2 {
        silhouettes(
            x,
            Some(&clustered),
            std::slice::from_ref(&labels_usize),
            params.silhouette_sample,
            seed,
        )
    } else {
        (vec![None], 0, true)
    };
    let clustered_x = x.select(Axis(0), &clustered);
    let clustered_labels: Vec<usize> = clustered.iter().map(|&i| labels_usize[i]).collect();
    notes.push(format!(
        "{} clusters; noise: {noise} of {n} customers ({:.1} %), left out of the silhouette, Davies–Bouldin and Calinski–Harabasz",
        fit.clusters,
        100.0 * noise as f64 / n as f64
    ));
    if fit.clusters < 2 {
        notes.push("fewer than 2 clusters: no silhouette".to_string());
    } else if !exact {
        notes.push(format!(
            "silhouette on a seeded sample of {silhouette_rows} of {} clustered customers",
            clustered.len()
        ));
    }
    Ok(Outcome {
        model: Some(model::SegmentModel {
            format: model::MODEL_FORMAT,
            features: table.names.clone(),
            labels: BTreeMap::new(),
            fitted: model::Fitted::Dbscan {
                eps,
                min_samples: params.min_samples,
                core_points: model::to_rows(&core),
                core_labels,
            },
        }),
        model_labels: BTreeMap::new(),
        scores: Scores {
            algorithm: "dbscan",
            mode: "fit",
            customers: n as u64,
            segments: fit.clusters,
            silhouette: Some(SilhouetteInfo {
                value: silhouette[0],
                rows: silhouette_rows,
                exact,
                noise_excluded: noise,
            }),
            davies_bouldin: metrics::davies_bouldin(clustered_x.view(), &clustered_labels).ok(),
            calinski_harabasz: metrics::calinski_harabasz(clustered_x.view(), &clustered_labels)
                .ok(),
            eps: Some(eps),
            eps_auto: Some(auto),
            min_samples: Some(params.min_samples),
            noise_share: Some(noise as f64 / n as f64),
            ..Scores::default()
        },
        labels,
        kmeans_distances: None,
        point_types: Some(point_types),
        centroids: None,
        sweep: Vec::new(),
        notes,
    })
}
