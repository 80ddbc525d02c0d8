//! The tables that pass between stages, written down once.
//!
//! Stages never call each other; they agree on these column names and types only.
//! `ARCHITECTURE.md` lists which stage writes and which reads each table.
//!
//! | table | columns |
//! |---|---|
//! | customer table (ingest → preprocess) | [`CUSTOMER_ID`] (Utf8, non-null, unique), then the source's columns with their declared types |
//! | holdings (ingest → recommend) | [`CUSTOMER_ID`], [`PRODUCT`] (Utf8), optionally [`SNAPSHOT`] (Date32) |
//! | features (preprocess → segment, recommend) | [`CUSTOMER_ID`], passed-through columns, then non-null Float64 features |
//! | feature origins (preprocess → segment) | `outputs` of the preprocess state JSON, and the features file's schema metadata under [`FEATURE_ORIGINS_KEY`]: one [`FeatureOrigin`] per feature |
//! | segment assignments (segment → recommend, evaluate, report) | see [`assignments_schema`] |
//! | k sweep (segment → evaluate, report) | see [`sweep_schema`] |
//! | segment labels (segment profiles JSON → recommend, report) | `segments[].segment` and `segments[].label`, read by [`read_segment_labels`] |
//! | recommendations (recommend → evaluate, report) | see [`recommendations_schema`] |
//! | recommendations by method (recommend → evaluate) | see [`method_recommendations_schema`] |
//! | split: train and test holdings (recommend → evaluate) | [`CUSTOMER_ID`], [`PRODUCT`] (Utf8): see [`pairs_schema`] |
//! | rejects (ingest, `on_error = "quarantine"`) | see [`rejects_schema`] |
//!
//! Column types are plain Arrow types: Utf8, Int64, Float64, Boolean, Date32, and
//! Dictionary(Int32, Utf8) for categoricals, so that pyarrow, DuckDB and Spark read them.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::SharedError;

/// The customer key in every customer-level table: a string, unique per table.
pub const CUSTOMER_ID: &str = "customer_id";
/// The product column of a holdings table.
pub const PRODUCT: &str = "product";
/// The snapshot date of a holdings table with more than one month.
pub const SNAPSHOT: &str = "snapshot";

/// The segment column of the assignments table: the segment's number, `-1` for DBSCAN
/// noise.
pub const SEGMENT: &str = "segment";
/// K-Means assignments: the euclidean distance from the customer to its segment's centre,
/// in feature units.
pub const DISTANCE_TO_CENTROID: &str = "distance_to_centroid";
/// DBSCAN assignments: `core`, `border` or `noise`.
pub const POINT_TYPE: &str = "point_type";

/// Segment assignments: [`CUSTOMER_ID`], [`SEGMENT`] (Int32), then
/// [`DISTANCE_TO_CENTROID`] (Float64) for K-Means or [`POINT_TYPE`] (Utf8) for DBSCAN.
pub fn assignments_schema(kmeans: bool) -> SchemaRef {
    let last = if kmeans {
        Field::new(DISTANCE_TO_CENTROID, DataType::Float64, false)
    } else {
        Field::new(POINT_TYPE, DataType::Utf8, false)
    };
    Arc::new(Schema::new(vec![
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(SEGMENT, DataType::Int32, false),
        last,
    ]))
}

/// The K-Means k sweep, one row per k tried: the scores that choose k, and which was
/// chosen. The silhouette is null where it cannot be computed.
pub fn sweep_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("inertia", DataType::Float64, false),
        Field::new("silhouette", DataType::Float64, true),
        Field::new("davies_bouldin", DataType::Float64, true),
        Field::new("calinski_harabasz", DataType::Float64, true),
        Field::new("chosen", DataType::Boolean, false),
    ]))
}

/// The rank of a recommendation, 1 for the best.
pub const RANK: &str = "rank";
/// A recommendation's score: higher is better; comparable within one method.
pub const SCORE: &str = "score";
/// The method that made a list, or the methods that contributed to a blended one
/// (`user_knn+item_knn`).
pub const METHOD: &str = "method";
/// A sentence a relationship manager can read, holding counts and product or segment
/// names, never another customer's data.
pub const REASON: &str = "reason";

/// Recommendations, best first within each customer: [`CUSTOMER_ID`], [`RANK`] (Int32),
/// [`PRODUCT`], [`SCORE`] (Float64), [`METHOD`], [`REASON`].
pub fn recommendations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(RANK, DataType::Int32, false),
        Field::new(PRODUCT, DataType::Utf8, false),
        Field::new(SCORE, DataType::Float64, false),
        Field::new(METHOD, DataType::Utf8, false),
        Field::new(REASON, DataType::Utf8, false),
    ]))
}

/// Each single method's own top k, so that evaluate scores every method and baseline
/// side by side: [`METHOD`], [`CUSTOMER_ID`], [`RANK`], [`PRODUCT`], [`SCORE`].
pub fn method_recommendations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(METHOD, DataType::Utf8, false),
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(RANK, DataType::Int32, false),
        Field::new(PRODUCT, DataType::Utf8, false),
        Field::new(SCORE, DataType::Float64, false),
    ]))
}

/// The probability, from the `propensity` method, that the customer takes the product.
pub const PROBABILITY: &str = "probability";

/// Every customer's probability of taking each product they may be offered and do not
/// hold, from the `propensity` method: [`CUSTOMER_ID`], [`PRODUCT`], [`PROBABILITY`]
/// (Float64), customers in id order, products in catalogue order.
pub fn probabilities_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(PRODUCT, DataType::Utf8, false),
        Field::new(PROBABILITY, DataType::Float64, false),
    ]))
}

/// (customer, product) pairs: the train and test sides of a recommendation split.
pub fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(CUSTOMER_ID, DataType::Utf8, false),
        Field::new(PRODUCT, DataType::Utf8, false),
    ]))
}

/// Rejected input rows: where they were, why, and the raw record so it can be fixed.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("record", DataType::Utf8, true),
    ]))
}

/// A skew transform applied before scaling (a preprocess parameter, and part of a
/// feature's origin so that later stages can undo it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    #[default]
    None,
    /// `ln(1 + x)`, for non-negative heavy-tailed amounts.
    Log1p,
    /// `sign(x)·ln(1 + |x|)`, for amounts that can be negative (balances).
    SignedLog1p,
}

impl Transform {
    /// The original value of a transformed one.
    pub fn invert(self, v: f64) -> f64 {
        match self {
            Transform::None => v,
            Transform::Log1p => v.exp_m1(),
            Transform::SignedLog1p => v.signum() * v.abs().exp_m1(),
        }
    }
}

/// A feature column of the features table and the input column it comes from. The
/// preprocess state lists one per feature, in order, under `outputs`; segment reads them
/// to report centroids and profiles in the units of the original columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureOrigin {
    pub name: String,
    pub source: String,
    /// For a numeric feature: how to turn it back into the source column's units.
    /// Absent for indicator, flag and one-hot columns, whose values are already shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscale: Option<Unscale>,
}

/// The key of the features file's schema metadata that lists its features' origins (as
/// JSON, the preprocess state's `outputs`), so that a stage given the features without
/// the state still describes each feature by the column it comes from.
pub const FEATURE_ORIGINS_KEY: &str = "clientele.feature_origins";

/// The schema metadata that carries `origins`.
pub fn feature_origins_metadata(
    origins: &[FeatureOrigin],
) -> std::collections::HashMap<String, String> {
    // A list of plain strings and numbers always serialises.
    let json = serde_json::to_string(origins).unwrap_or_default();
    [(FEATURE_ORIGINS_KEY.to_string(), json)].into()
}

/// The origins a features file's schema carries; empty when it carries none (a file
/// written by another tool, or before the origins were written there).
pub fn feature_origins_of(schema: &Schema, path: &Path) -> Result<Vec<FeatureOrigin>, SharedError> {
    match schema.metadata().get(FEATURE_ORIGINS_KEY) {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(json).map_err(|e| SharedError::Json {
            path: path.to_path_buf(),
            message: format!("schema metadata `{FEATURE_ORIGINS_KEY}`: {e}"),
        }),
    }
}

/// A numeric feature is `(transform(value) − center) / scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unscale {
    pub transform: Transform,
    pub center: f64,
    pub scale: f64,
}

impl Unscale {
    /// The value in the source column's units.
    pub fn original(&self, feature: f64) -> f64 {
        self.transform.invert(feature * self.scale + self.center)
    }
}

/// Reads a segment assignments table: each customer's segment (`-1` for DBSCAN noise),
/// in file order. The segment column may be Int32 (as segment writes it) or Int64.
pub fn read_assignments(
    path: &Path,
    key: Option<&crate::encryption::ParquetKey>,
) -> Result<Vec<(String, i32)>, SharedError> {
    use arrow::array::{Array, Int32Array, Int64Array};
    let mut source = crate::parquet_io::ParquetSource::open_named(
        path,
        &[CUSTOMER_ID, SEGMENT],
        "segment assignments have",
        key,
    )?;
    let mut out = Vec::with_capacity(usize::try_from(source.rows()).unwrap_or(0));
    let mut first_row = 1;
    while let Some(batch) = source.next_batch()? {
        let ids = crate::parquet_io::string_column(path, batch.column(0), CUSTOMER_ID)?;
        let column = batch.column(1);
        let bad = |row: usize, why: &str| SharedError::BadValue {
            path: path.to_path_buf(),
            row,
            column: SEGMENT.into(),
            why: why.into(),
        };
        let int32 = column.as_any().downcast_ref::<Int32Array>();
        let int64 = column.as_any().downcast_ref::<Int64Array>();
        if int32.is_none() && int64.is_none() {
            return Err(SharedError::ColumnType {
                path: path.to_path_buf(),
                column: SEGMENT.into(),
                expected: "an integer (segment writes Int32)",
                found: column.data_type().clone(),
            });
        }
        for r in 0..batch.num_rows() {
            let row = first_row + r;
            let id = ids(r).ok_or_else(|| SharedError::BadValue {
                path: path.to_path_buf(),
                row,
                column: CUSTOMER_ID.into(),
                why: "is empty".into(),
            })?;
            if column.is_null(r) {
                return Err(bad(row, "is empty"));
            }
            let segment = int32
                .map(|a| i64::from(a.value(r)))
                .or_else(|| int64.map(|a| a.value(r)))
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| bad(row, "is out of range for a segment number"))?;
            out.push((id.to_string(), segment));
        }
        first_row += batch.num_rows();
    }
    Ok(out)
}

/// Reads the label of each segment from a segment profiles file, ignoring the rest.
pub fn read_segment_labels(
    path: &Path,
) -> Result<std::collections::BTreeMap<i32, String>, SharedError> {
    #[derive(Deserialize)]
    struct Profiles {
        segments: Vec<Labelled>,
    }
    #[derive(Deserialize)]
    struct Labelled {
        segment: i32,
        label: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| SharedError::io("read", path, e))?;
    serde_json::from_str::<Profiles>(&text)
        .map(|p| {
            p.segments
                .into_iter()
                .map(|s| (s.segment, s.label))
                .collect()
        })
        .map_err(|e| SharedError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Reads the feature origins (`outputs`) of a preprocess state file, ignoring the rest.
pub fn read_feature_origins(path: &Path) -> Result<Vec<FeatureOrigin>, SharedError> {
    #[derive(Deserialize)]
    struct StateOutputs {
        outputs: Vec<FeatureOrigin>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| SharedError::io("read", path, e))?;
    serde_json::from_str::<StateOutputs>(&text)
        .map(|s| s.outputs)
        .map_err(|e| SharedError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_origins_travel_in_the_schema_metadata() {
        let origins = vec![
            FeatureOrigin {
                name: "income__log1p__standard".into(),
                source: "income".into(),
                unscale: Some(Unscale {
                    transform: Transform::Log1p,
                    center: 10.5,
                    scale: 0.75,
                }),
            },
            FeatureOrigin {
                name: "job=admin".into(),
                source: "job".into(),
                unscale: None,
            },
        ];
        let path = Path::new("features.parquet");
        let schema = Schema::new(vec![Field::new(CUSTOMER_ID, DataType::Utf8, false)])
            .with_metadata(feature_origins_metadata(&origins));
        assert_eq!(feature_origins_of(&schema, path).unwrap(), origins);
        let plain = Schema::new(vec![Field::new(CUSTOMER_ID, DataType::Utf8, false)]);
        assert!(feature_origins_of(&plain, path).unwrap().is_empty());
        let broken = plain.with_metadata(
            [(FEATURE_ORIGINS_KEY.to_string(), "[{".to_string())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        let message = feature_origins_of(&broken, path).unwrap_err().to_string();
        assert!(message.contains("features.parquet") && message.contains(FEATURE_ORIGINS_KEY));
    }
}
