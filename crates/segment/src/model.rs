//! The model file: what `mode = "apply"` needs to assign new customers, as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::SegmentError;

pub const MODEL_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentModel {
    pub format: u32,
    /// The feature columns, in the order the centres and core points list them.
    pub features: Vec<String>,
    /// Each segment's label, by segment number.
    pub labels: BTreeMap<String, String>,
    pub fitted: Fitted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
pub enum Fitted {
    /// A customer joins the segment of the nearest centre.
    Kmeans { centroids: Vec<Vec<f64>> },
    /// A customer joins the segment of the nearest core point within `eps`, else noise.
    Dbscan {
        eps: f64,
        min_samples: usize,
        core_points: Vec<Vec<f64>>,
        core_labels: Vec<i32>,
    },
}

pub fn to_rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Rows back into a matrix of `width` columns; an error naming `what` if they do not fit.
pub fn from_rows(
    rows: &[Vec<f64>],
    width: usize,
    path: &Path,
    what: &str,
) -> Result<Array2<f64>, SegmentError> {
    if let Some(bad) = rows.iter().position(|r| r.len() != width) {
        return Err(SegmentError::Model {
            path: path.to_path_buf(),
            message: format!(
                "{what} {bad} has {} values, but the model names {width} features",
                rows[bad].len()
            ),
        });
    }
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Array2::from_shape_vec((rows.len(), width), flat).map_err(|e| SegmentError::Model {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn read(path: &Path) -> Result<SegmentModel, SegmentError> {
    let model_error = |message: String| SegmentError::Model {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| model_error(e.to_string()))?;
    let model: SegmentModel =
        serde_json::from_str(&text).map_err(|e| model_error(e.to_string()))?;
    if model.format != MODEL_FORMAT {
        return Err(model_error(format!(
            "model format {} is not the format {MODEL_FORMAT} this version reads",
            model.format
        )));
    }
    Ok(model)
}
