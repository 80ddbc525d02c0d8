//! The K-Means fit: k fixed or chosen over a sweep of k by a criterion (silhouette by
//! default), on every customer or on a seeded `fit_sample` and then assigning everyone.

use std::collections::BTreeMap;

use ndarray::Axis;
use rayon::prelude::*;

use crate::errors::{ParamError, SegmentError};
use crate::io::FeatureTable;
use crate::scoring::{fit_rows, silhouettes, Outcome, Scores, SilhouetteInfo, SweepRow};
use crate::{k_means, metrics, model, Auto, Criterion, SegmentParams};
use clientele_shared::stage::StageContext;

pub(crate) fn fit_kmeans(
    params: &SegmentParams,
    table: &FeatureTable,
    ctx: &StageContext<'_>,
) -> Result<Outcome, SegmentError> {
    let n = table.x.nrows();
    let seed = params.seed.unwrap_or(ctx.seed);
    let ks: Vec<usize> = match params.k {
        Auto::Value(k) => vec![k],
        Auto::Auto => (params.k_min..=params.k_max).collect(),
    };
    let sample = fit_rows(params, n, seed);
    let fit_x = sample.as_ref().map(|rows| table.x.select(Axis(0), rows));
    let fit_view = fit_x.as_ref().map_or(table.x.view(), |x| x.view());
    if let Some(&largest) = ks.last() {
        if largest > fit_view.nrows() {
            let within = match &sample {
                Some(rows) => format!("the fit_sample has {}", rows.len()),
                None => format!("`{}` has {n}", table.path.display()),
            };
            return Err(ParamError::KAboveCustomers { k: largest, within }.into());
        }
    }
    let mut models = Vec::with_capacity(ks.len());
    for (i, &k) in ks.iter().enumerate() {
        ctx.progress.step(&format!(
            "{} k = {k} ({} of {}), {} restarts",
            if params.batch_size.is_some() {
                "mini-batch K-Means"
            } else {
                "K-Means"
            },
            i + 1,
            ks.len(),
            params.n_init
        ));
        let mut model = k_means::fit(
            fit_view,
            &k_means::KMeansParams::new(k)
                .n_init(params.n_init)
                .max_iter(params.max_iter)
                .tol(params.tol)
                .seed(seed)
                .batch_size(params.batch_size),
        )?;
        if sample.is_some() {
            // Fitted on the sample: every customer is labelled, and the inertia counted,
            // by the nearest centre, so that the sweep describes all of them.
            let (labels, distances) = model.assign(table.x.view());
            model.inertia = distances.iter().map(|d| d * d).sum();
            model.labels = labels;
        }
        models.push(model);
    }
    ctx.progress
        .step("silhouette, Davies–Bouldin and Calinski–Harabasz");
    let labelings: Vec<Vec<usize>> = models.iter().map(|m| m.labels.clone()).collect();
    // Each k's Davies–Bouldin and Calinski–Harabasz is a pass over every customer: one k
    // per task, beside the silhouette's tiles.
    let ((silhouette, silhouette_rows, exact), quality) = rayon::join(
        || {
            silhouettes(
                table.x.view(),
                None,
                &labelings,
                params.silhouette_sample,
                seed,
            )
        },
        || {
            models
                .par_iter()
                .map(|m| {
                    (
                        metrics::davies_bouldin(table.x.view(), &m.labels).ok(),
                        metrics::calinski_harabasz(table.x.view(), &m.labels).ok(),
                    )
                })
                .collect::<Vec<_>>()
        },
    );
    let mut sweep: Vec<SweepRow> = ks
        .iter()
        .zip(&models)
        .zip(&silhouette)
        .zip(quality)
        .map(
            |(((&k, m), &s), (davies_bouldin, calinski_harabasz))| SweepRow {
                k,
                inertia: m.inertia,
                silhouette: s,
                davies_bouldin,
                calinski_harabasz,
                chosen: false,
            },
        )
        .collect();
    let chosen = choose(&sweep, params.criterion).ok_or_else(|| ParamError::NoScorableK {
        k_min: params.k_min,
        k_max: params.k_max,
        criterion: format!("{:?}", params.criterion),
    })?;
    sweep[chosen].chosen = true;
    let model = models.swap_remove(chosen);
    let row = &sweep[chosen];
    let mut notes = Vec::new();
    if let Some(rows) = &sample {
        notes.push(format!(
            "fitted on a seeded sample of {} of {n} customers; every customer assigned to the nearest centre",
            rows.len()
        ));
    }
    if ks.len() > 1 {
        notes.push(format!(
            "k = {} chosen by {} among {}…{}",
            row.k,
            criterion_name(params.criterion),
            params.k_min,
            params.k_max
        ));
    }
    notes.push(if exact {
        format!("silhouette exact, on all {silhouette_rows} customers")
    } else {
        format!("silhouette on a seeded sample of {silhouette_rows} of {n} customers")
    });
    let (_, distances) = model.assign(table.x.view());
    let labels: Vec<i32> = model.labels.iter().map(|&l| l as i32).collect();
    Ok(Outcome {
        labels,
        kmeans_distances: Some(distances),
        point_types: None,
        centroids: Some(model.centroids.clone()),
        model: Some(model::SegmentModel {
            format: model::MODEL_FORMAT,
            features: table.names.clone(),
            labels: BTreeMap::new(),
            fitted: model::Fitted::Kmeans {
                centroids: model::to_rows(&model.centroids),
            },
        }),
        model_labels: BTreeMap::new(),
        scores: Scores {
            algorithm: "kmeans",
            mode: "fit",
            customers: n as u64,
            segments: row.k,
            k_chosen_by: (ks.len() > 1).then_some(params.criterion),
            inertia: Some(row.inertia),
            silhouette: Some(SilhouetteInfo {
                value: row.silhouette,
                rows: silhouette_rows,
                exact,
                noise_excluded: 0,
            }),
            davies_bouldin: row.davies_bouldin,
            calinski_harabasz: row.calinski_harabasz,
            ..Scores::default()
        },
        sweep,
        notes,
    })
}

pub(crate) fn criterion_name(c: Criterion) -> &'static str {
    match c {
        Criterion::Silhouette => "silhouette",
        Criterion::DaviesBouldin => "Davies–Bouldin",
        Criterion::CalinskiHarabasz => "Calinski–Harabasz",
    }
}

/// The index of the best row by the criterion; the smallest k on ties. A single row is
/// chosen even when it could not be scored (a fixed k).
pub(crate) fn choose(sweep: &[SweepRow], criterion: Criterion) -> Option<usize> {
    if sweep.len() == 1 {
        return Some(0);
    }
    let score = |r: &SweepRow| match criterion {
        Criterion::Silhouette => r.silhouette,
        Criterion::DaviesBouldin => r.davies_bouldin.map(|v| -v),
        Criterion::CalinskiHarabasz => r.calinski_harabasz,
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, r) in sweep.iter().enumerate() {
        if let Some(s) = score(r).filter(|s| !s.is_nan()) {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
    }
    best.map(|(i, _)| i)
}
