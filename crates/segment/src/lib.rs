//! The segment stage: customers into segments with K-Means or DBSCAN, k chosen by
//! silhouette, segment profiles and labels, and a model that assigns new customers.
//!
//! - [`k_means`]: k-means++ and Lloyd, in parallel, in linfa's layout (checked
//!   parameters, `Fit`, `PredictInplace`).
//! - [`dbscan`]: DBSCAN with scikit-learn's labels in memory linear in the rows, and
//!   `eps` at the knee of the k-distance curve, over the KD-tree of [`kdtree`].
//! - [`metrics`]: silhouette, Davies–Bouldin, Calinski–Harabasz and the adjusted Rand
//!   index, equal to scikit-learn's for the same labels.
//! - [`profile`]: sizes, shares, means and medians in original units (through the
//!   preprocess state's feature origins), distinguishing features, generated labels.
//!
//! The stage reads the features table that preprocess writes and holds it in memory as
//! one n × d matrix of f64. It does not choose features, reduce dimensions or scale:
//! that is preprocess's job. It never reads another stage's crate, only its files.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod dbscan;
pub mod k_means;
pub mod kdtree;
/// The clustering metrics, defined once in `clientele-shared` for segment and evaluate.
pub use clientele_shared::clustering as metrics;
pub mod model;
mod params;
pub mod profile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::parquet_io::write_batches;
use clientele_shared::schema::{
    assignments_schema, read_feature_origins, sweep_schema, FeatureOrigin,
};
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use clientele_shared::SharedError;
use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

pub use params::*;

/// Why a segment stage failed. Messages name the file, the column and the row, never a
/// value.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error(transparent)]
    Clustering(#[from] clientele_shared::clustering::ClusteringError),
    #[error("the features hold a value that is not a finite number")]
    NotFinite,
    #[error("params: {0}")]
    Params(String),
    #[error("K-Means: {0}")]
    KMeans(#[from] k_means::KMeansError),
    #[error("cannot use the model file `{path}`: {message}")]
    Model { path: PathBuf, message: String },
    #[error("nearest-neighbour search failed: {0}")]
    Linfa(String),
}

impl From<linfa::Error> for SegmentError {
    fn from(e: linfa::Error) -> Self {
        SegmentError::Linfa(e.to_string())
    }
}

/// The segment stage, as the runner sees it.
pub struct Segment;

impl Stage for Segment {
    const KIND: &'static str = "segment";
    const INPUTS: &'static [Port] = &[
        Port {
            name: "features",
            required: true,
            doc: "the features table from preprocess",
        },
        Port {
            name: "state",
            required: false,
            doc: "the preprocess state, to report centroids and profiles in original units",
        },
        Port {
            name: "model",
            required: false,
            doc: "a model file written by a fit (mode = \"apply\")",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "assignments",
            required: true,
            doc: "`customer_id`, `segment`, then `distance_to_centroid` (K-Means) or `point_type` (DBSCAN)",
        },
        Port {
            name: "profiles",
            required: false,
            doc: "segment profiles and labels, with the clustering scores, JSON",
        },
        Port {
            name: "sweep",
            required: false,
            doc: "K-Means: one row per k tried (k, inertia, silhouette, davies_bouldin, calinski_harabasz, chosen)",
        },
        Port {
            name: "model",
            required: false,
            doc: "the fitted model, JSON (mode = \"fit\")",
        },
    ];
    type Params = SegmentParams;
    type Error = SegmentError;

    fn run(
        params: &SegmentParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, SegmentError> {
        check_params(params, io)?;
        let (Some(features_path), Some(assignments_path)) =
            (io.input("features"), io.output("assignments"))
        else {
            return Err(SegmentError::Params(
                "the runner passed no `features` input or no `assignments` output".into(),
            ));
        };
        let origins: BTreeMap<String, FeatureOrigin> = match io.input("state") {
            Some(path) => read_feature_origins(path)?
                .into_iter()
                .map(|o| (o.name.clone(), o))
                .collect(),
            None => BTreeMap::new(),
        };
        let model_in = match (params.mode, io.input("model")) {
            (Mode::Apply, Some(path)) => Some((path, model::read(path)?)),
            _ => None,
        };
        let wanted = match &model_in {
            Some((_, m)) => Some(m.features.as_slice()),
            None => params.features.as_deref(),
        };
        let table = read_features(features_path, wanted)?;
        ctx.progress.step(&format!(
            "{} customers × {} features",
            table.ids.len(),
            table.names.len()
        ));
        let outcome = match model_in {
            Some((path, m)) => apply(&m, path, &table)?,
            None => match params.algorithm {
                Algorithm::Kmeans => fit_kmeans(params, &table, ctx)?,
                Algorithm::Dbscan => fit_dbscan(params, &table, ctx)?,
            },
        };
        write_outputs(params, io, &table, &origins, &outcome, assignments_path)
    }
}

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &SegmentParams, io: &StageIo) -> Result<(), SegmentError> {
    let bad = |m: &str| Err(SegmentError::Params(m.to_string()));
    match params.mode {
        Mode::Apply if io.input("model").is_none() => {
            return bad(
                "mode = \"apply\" needs an input named `model`: a model file written by a fit",
            )
        }
        Mode::Apply if io.output("model").is_some() || io.output("sweep").is_some() => {
            return bad("mode = \"apply\" writes no `model` or `sweep`; remove those outputs")
        }
        Mode::Fit if io.input("model").is_some() => {
            return bad("an input `model` is only read with mode = \"apply\"")
        }
        _ => {}
    }
    if params.mode == Mode::Fit
        && params.algorithm == Algorithm::Dbscan
        && io.output("sweep").is_some()
    {
        return bad("`sweep` is the K-Means k sweep; DBSCAN writes none");
    }
    if params.k_min < 2 || params.k_min > params.k_max {
        return bad("k_min must be at least 2 and at most k_max");
    }
    if params.n_init < 1 || params.max_iter < 1 {
        return bad("n_init and max_iter must be at least 1");
    }
    if !(params.tol >= 0.0 && params.tol.is_finite()) {
        return bad("tol must be a finite number ≥ 0");
    }
    if params.min_samples < 1 {
        return bad("min_samples must be at least 1");
    }
    if params.silhouette_sample < 2 {
        return bad("silhouette_sample must be at least 2");
    }
    if params.fit_sample.is_some_and(|m| m < 2) {
        return bad("fit_sample must be at least 2");
    }
    if params.mode == Mode::Apply && params.fit_sample.is_some() {
        return bad("fit_sample is for mode = \"fit\"; an apply assigns every customer");
    }
    if params.batch_size == Some(0) {
        return bad("batch_size must be at least 1");
    }
    if params.batch_size.is_some()
        && (params.mode == Mode::Apply || params.algorithm != Algorithm::Kmeans)
    {
        return bad("batch_size is for fitting K-Means (mini-batch K-Means)");
    }
    if let Some(key) = params.labels.keys().find(|k| k.parse::<i32>().is_err()) {
        return Err(SegmentError::Params(format!(
            "labels: `{key}` is not a segment number"
        )));
    }
    Ok(())
}

/// The customer ids and the feature matrix, row by row as in the file.
pub struct FeatureTable {
    pub path: PathBuf,
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub x: Array2<f64>,
}

/// Reads `customer_id` and the feature columns (`wanted`, or every Float64 column).
pub fn read_features(path: &Path, wanted: Option<&[String]>) -> Result<FeatureTable, SegmentError> {
    let matrix = read_feature_matrix(path, wanted)?;
    let x = Array2::from_shape_vec((matrix.ids.len(), matrix.names.len()), matrix.values)
        .map_err(|e| SegmentError::Params(e.to_string()))?;
    Ok(FeatureTable {
        path: matrix.path,
        ids: matrix.ids,
        names: matrix.names,
        x,
    })
}

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
struct Outcome {
    labels: Vec<i32>,
    kmeans_distances: Option<Vec<f64>>,
    point_types: Option<Vec<dbscan::PointType>>,
    centroids: Option<Array2<f64>>,
    model: Option<model::SegmentModel>,
    /// Apply: the labels saved with the model.
    model_labels: BTreeMap<String, String>,
    sweep: Vec<SweepRow>,
    scores: Scores,
    notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Scores {
    algorithm: &'static str,
    mode: &'static str,
    customers: u64,
    /// Under its own key: `segments` is the list of profiles.
    #[serde(rename = "segment_count")]
    segments: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    k_chosen_by: Option<Criterion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inertia: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    silhouette: Option<SilhouetteInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    davies_bouldin: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calinski_harabasz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eps_auto: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    noise_share: Option<f64>,
}

/// The seed of the silhouette sample, apart from the clustering seeds.
const SILHOUETTE_SEED_SALT: u64 = 0x5111_4077_e77e;
/// The seed of the `fit_sample` rows, apart from the other seeds.
const FIT_SAMPLE_SEED_SALT: u64 = 0xf175_a3b1_e000;

/// The rows to fit on when `fit_sample` is below the number of customers: a seeded
/// sample, ascending. `None`: every row.
fn fit_rows(params: &SegmentParams, n: usize, seed: u64) -> Option<Vec<usize>> {
    params
        .fit_sample
        .filter(|&m| m < n)
        .map(|m| metrics::sample_rows(n, m, seed ^ FIT_SAMPLE_SEED_SALT))
}

/// Silhouettes of several labelings of the rows at `rows` (all of `x`'s rows when `None`),
/// exact up to `sample` rows, else on a seeded sample.
fn silhouettes(
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

fn fit_kmeans(
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
            return Err(SegmentError::Params(format!(
                "k = {largest} needs at least {largest} customers, but {within}"
            )));
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
    let (silhouette, silhouette_rows, exact) = silhouettes(
        table.x.view(),
        None,
        &labelings,
        params.silhouette_sample,
        seed,
    );
    let mut sweep: Vec<SweepRow> = ks
        .iter()
        .zip(&models)
        .zip(&silhouette)
        .map(|((&k, m), &s)| SweepRow {
            k,
            inertia: m.inertia,
            silhouette: s,
            davies_bouldin: metrics::davies_bouldin(table.x.view(), &m.labels).ok(),
            calinski_harabasz: metrics::calinski_harabasz(table.x.view(), &m.labels).ok(),
            chosen: false,
        })
        .collect();
    let chosen = choose(&sweep, params.criterion).ok_or_else(|| {
        SegmentError::Params(format!(
            "no k in {}…{} could be scored by {:?}: are there fewer distinct customers than k?",
            params.k_min, params.k_max, params.criterion
        ))
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

fn criterion_name(c: Criterion) -> &'static str {
    match c {
        Criterion::Silhouette => "silhouette",
        Criterion::DaviesBouldin => "Davies–Bouldin",
        Criterion::CalinskiHarabasz => "Calinski–Harabasz",
    }
}

/// The index of the best row by the criterion; the smallest k on ties. A single row is
/// chosen even when it could not be scored (a fixed k).
fn choose(sweep: &[SweepRow], criterion: Criterion) -> Option<usize> {
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

fn fit_dbscan(
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
            let eps = dbscan::knee(&curve).ok_or_else(|| {
                SegmentError::Params(format!(
                    "eps = \"auto\": the {}-distance curve of `{}` is flat, so it has no knee; set eps",
                    params.min_samples,
                    table.path.display()
                ))
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
        &dbscan::DbscanParams {
            eps,
            min_samples: params.min_samples,
        },
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

fn apply(
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

/// The profiles file.
#[derive(Serialize)]
struct ProfilesFile<'a> {
    #[serde(flatten)]
    scores: &'a Scores,
    /// `original` when a preprocess state gave the features' origins, else `features`.
    units: &'static str,
    segments: Vec<profile::SegmentProfile>,
}

fn write_outputs(
    params: &SegmentParams,
    io: &StageIo,
    table: &FeatureTable,
    origins: &BTreeMap<String, FeatureOrigin>,
    outcome: &Outcome,
    assignments_path: &Path,
) -> Result<StageReport, SegmentError> {
    let features = profile::Features {
        names: &table.names,
        origins,
    };
    // Labels: the model's (apply), then the pipeline's overrides.
    let mut overrides = outcome.model_labels.clone();
    overrides.extend(params.labels.clone());
    let mut profiles = profile::profiles(
        table.x.view(),
        &outcome.labels,
        &features,
        outcome.centroids.as_ref(),
        params.top_features,
        &overrides,
    );
    profile::suppress_small(&mut profiles, params.min_segment_size);

    let kmeans = outcome.kmeans_distances.is_some();
    let schema = assignments_schema(kmeans);
    let last: ArrayRef = match (&outcome.kmeans_distances, &outcome.point_types) {
        (Some(d), _) => Arc::new(Float64Array::from(d.clone())),
        (None, Some(t)) => Arc::new(StringArray::from_iter_values(t.iter().map(|t| t.name()))),
        (None, None) => Arc::new(Float64Array::from(Vec::<f64>::new())),
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(&table.ids)),
            Arc::new(Int32Array::from(outcome.labels.clone())),
            last,
        ],
    )
    .map_err(|e| write_error(assignments_path, e))?;
    let rows = write_batches(assignments_path, schema, &[batch])?;

    if let Some(path) = io.output("sweep") {
        let s = &outcome.sweep;
        let batch = RecordBatch::try_new(
            sweep_schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(s.iter().map(|r| r.k as i64))),
                Arc::new(Float64Array::from_iter_values(s.iter().map(|r| r.inertia))),
                Arc::new(Float64Array::from_iter(s.iter().map(|r| r.silhouette))),
                Arc::new(Float64Array::from_iter(s.iter().map(|r| r.davies_bouldin))),
                Arc::new(Float64Array::from_iter(
                    s.iter().map(|r| r.calinski_harabasz),
                )),
                Arc::new(BooleanArray::from_iter(s.iter().map(|r| Some(r.chosen)))),
            ],
        )
        .map_err(|e| write_error(path, e))?;
        write_batches(path, sweep_schema(), &[batch])?;
    }
    if let Some(path) = io.output("profiles") {
        let file = ProfilesFile {
            scores: &outcome.scores,
            units: if origins.is_empty() {
                "features"
            } else {
                "original"
            },
            segments: profiles.clone(),
        };
        write_json(path, &file)?;
    }
    if let (Some(path), Some(m)) = (io.output("model"), &outcome.model) {
        let mut m = m.clone();
        m.labels = profiles
            .iter()
            .filter(|p| p.segment >= 0)
            .map(|p| (p.segment.to_string(), p.label.clone()))
            .collect();
        write_json(path, &m)?;
    }

    let mut counts = BTreeMap::new();
    counts.insert("segments".to_string(), outcome.scores.segments as u64);
    let noise = outcome.labels.iter().filter(|&&l| l < 0).count() as u64;
    if !kmeans {
        counts.insert("noise".to_string(), noise);
    }
    if let Some(s) = &outcome.scores.silhouette {
        counts.insert("silhouette_rows".to_string(), s.rows);
    }
    let mut notes = outcome.notes.clone();
    for p in profiles.iter().filter(|p| p.segment >= 0) {
        notes.push(format!(
            "segment {}: {} customers ({:.1} %), \"{}\"",
            p.segment,
            p.size,
            100.0 * p.share,
            p.label
        ));
    }
    Ok(StageReport {
        rows,
        counts,
        notes,
        ..StageReport::default()
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), SegmentError> {
    let mut json = serde_json::to_string_pretty(value).map_err(|e| write_error(path, e))?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())?;
    Ok(())
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Shared(SharedError::ParquetWrite {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
