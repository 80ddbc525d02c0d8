//! Reading the features (and the preprocess state's feature origins, and a saved model)
//! and writing the assignments, the sweep, the profiles and the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use clientele_shared::encryption::ParquetKey;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::parquet_io::write_batches;
use clientele_shared::schema::{
    assignments_schema, read_feature_origins, sweep_schema, FeatureOrigin,
};
use clientele_shared::stage::{StageIo, StageReport};
use clientele_shared::SharedError;
use ndarray::Array2;
use serde::Serialize;

use crate::errors::SegmentError;
use crate::scoring::{Outcome, Scores};
use crate::{model, profile, Mode, SegmentParams};

/// What the stage reads before it fits or applies.
pub(crate) struct Inputs<'a> {
    /// The preprocess state's feature origins, by feature name (empty without a state).
    pub(crate) origins: BTreeMap<String, FeatureOrigin>,
    /// The saved model and its path, with mode = "apply".
    pub(crate) model: Option<(&'a Path, model::SegmentModel)>,
    pub(crate) table: FeatureTable,
}

/// Reads the state's origins, the model (apply) and the features the model (or the
/// `features` parameter) names.
pub(crate) fn read_inputs<'a>(
    params: &SegmentParams,
    io: &'a StageIo,
    features_path: &Path,
    key: Option<&ParquetKey>,
) -> Result<Inputs<'a>, SegmentError> {
    let model = match (params.mode, io.input("model")) {
        (Mode::Apply, Some(path)) => Some((path, model::read(path)?)),
        _ => None,
    };
    let wanted = match &model {
        Some((_, m)) => Some(m.features.as_slice()),
        None => params.features.as_deref(),
    };
    let mut table = read_features(features_path, wanted, key)?;
    // The state's origins when it is given, else those the features file carries.
    let origins = match io.input("state") {
        Some(path) => read_feature_origins(path)?,
        None => std::mem::take(&mut table.origins),
    };
    let origins: BTreeMap<String, FeatureOrigin> =
        origins.into_iter().map(|o| (o.name.clone(), o)).collect();
    Ok(Inputs {
        origins,
        model,
        table,
    })
}

/// The customer ids and the feature matrix, row by row as in the file.
pub struct FeatureTable {
    pub path: PathBuf,
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub x: Array2<f64>,
    /// The origins the features file carries (see `FEATURE_ORIGINS_KEY`).
    pub origins: Vec<FeatureOrigin>,
}

/// Reads `customer_id` and the feature columns (`wanted`, or every Float64 column).
/// An encrypted file is decrypted with `key`.
pub fn read_features(
    path: &Path,
    wanted: Option<&[String]>,
    key: Option<&ParquetKey>,
) -> Result<FeatureTable, SegmentError> {
    let matrix = read_feature_matrix(path, wanted, key)?;
    let x = Array2::from_shape_vec((matrix.ids.len(), matrix.names.len()), matrix.values).map_err(
        |e| SegmentError::Matrix {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    )?;
    Ok(FeatureTable {
        path: matrix.path,
        ids: matrix.ids,
        names: matrix.names,
        x,
        origins: matrix.origins,
    })
}

/// The profiles file.
#[derive(Serialize)]
pub(crate) struct ProfilesFile<'a> {
    #[serde(flatten)]
    scores: &'a Scores,
    /// `original` when a preprocess state gave the features' origins, else `features`.
    units: &'static str,
    segments: Vec<profile::SegmentProfile>,
}

pub(crate) fn write_outputs(
    params: &SegmentParams,
    io: &StageIo,
    table: &FeatureTable,
    origins: &BTreeMap<String, FeatureOrigin>,
    outcome: &Outcome,
    assignments_path: &Path,
    key: Option<&ParquetKey>,
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
    let rows = write_batches(assignments_path, schema, &[batch], key)?;

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
        write_batches(path, sweep_schema(), &[batch], key)?;
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

pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), SegmentError> {
    let mut json = serde_json::to_string_pretty(value).map_err(|e| write_error(path, e))?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())?;
    Ok(())
}

pub(crate) fn write_error(path: &Path, e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Shared(SharedError::ParquetWrite {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
