//! Reading what the other stages wrote: the parts of each file the report shows.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::{string_column, ParquetSource};
use clientele_shared::schema::{CUSTOMER_ID, PRODUCT, RANK, SNAPSHOT};
use clientele_shared::SharedError;
use serde::Deserialize;

use crate::ReportError;

/// The segment profiles file, as far as the report reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Profiles {
    pub algorithm: String,
    pub customers: u64,
    pub segments: Vec<SegmentProfile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SegmentProfile {
    /// `-1` for DBSCAN noise.
    pub segment: i32,
    pub label: String,
    pub size: u64,
    pub features: Vec<FeatureProfile>,
    #[serde(default)]
    pub distinguishing: Vec<String>,
    /// Below the segment stage's publication threshold: only the size is given.
    #[serde(default)]
    pub suppressed: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureProfile {
    pub feature: String,
    pub source: String,
    /// In the input column's own units (a share for a one-hot or missing indicator).
    pub mean: f64,
    /// (segment mean − overall mean) / overall standard deviation, in feature space.
    pub standardised_difference: f64,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| SharedError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        SharedError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
        .into()
    })
}

pub fn read_profiles(path: &Path) -> Result<Profiles, ReportError> {
    read_json(path)
}

/// The evaluate stage's metrics file, as far as the report reads it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metrics {
    #[serde(default)]
    pub k: Vec<usize>,
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub ranking: Option<RankingDetails>,
    #[serde(default)]
    pub gate: Option<GateDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RankingDetails {
    /// `blend` first, then each method.
    pub lists: Vec<String>,
    #[serde(default)]
    pub customers_with_held_out_products: u64,
    /// By list: the customers with something held out that it recommended to.
    #[serde(default)]
    pub customers_counted: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GateDetails {
    #[serde(default)]
    pub passed: Option<bool>,
    #[serde(default)]
    pub checks: Vec<GateCheck>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GateCheck {
    pub metric: String,
    pub rule: String,
    #[serde(default)]
    pub baseline: Option<f64>,
    #[serde(default)]
    pub now: Option<f64>,
    pub passed: bool,
}

pub fn read_metrics(path: &Path) -> Result<Metrics, ReportError> {
    read_json(path)
}

/// One row of the k sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub k: i64,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub chosen: bool,
}

/// The segment stage's k sweep (`k`, `inertia`, `silhouette`, `chosen`).
pub fn read_sweep(path: &Path, key: Option<&ParquetKey>) -> Result<Vec<SweepRow>, ReportError> {
    let mut source = ParquetSource::open_named(
        path,
        &["k", "inertia", "silhouette", "chosen"],
        "a k sweep has",
        key,
    )?;
    let mut rows = Vec::new();
    let mut first_row = 1;
    while let Some(batch) = source.next_batch()? {
        let typed = |c: usize, expected: &'static str| SharedError::ColumnType {
            path: path.to_path_buf(),
            column: batch.schema().field(c).name().clone(),
            expected,
            found: batch.column(c).data_type().clone(),
        };
        let k = batch.column(0).as_any().downcast_ref::<Int64Array>();
        let k = k.ok_or_else(|| typed(0, "Int64"))?;
        let inertia = batch.column(1).as_any().downcast_ref::<Float64Array>();
        let inertia = inertia.ok_or_else(|| typed(1, "Float64"))?;
        let silhouette = batch.column(2).as_any().downcast_ref::<Float64Array>();
        let silhouette = silhouette.ok_or_else(|| typed(2, "Float64"))?;
        let chosen = batch.column(3).as_any().downcast_ref::<BooleanArray>();
        let chosen = chosen.ok_or_else(|| typed(3, "Boolean"))?;
        for r in 0..batch.num_rows() {
            if k.is_null(r) || inertia.is_null(r) {
                return Err(SharedError::BadValue {
                    path: path.to_path_buf(),
                    row: first_row + r,
                    column: if k.is_null(r) { "k" } else { "inertia" }.to_string(),
                    why: "is empty".to_string(),
                }
                .into());
            }
            rows.push(SweepRow {
                k: k.value(r),
                inertia: inertia.value(r),
                silhouette: (!silhouette.is_null(r)).then(|| silhouette.value(r)),
                chosen: !chosen.is_null(r) && chosen.value(r),
            });
        }
        first_row += batch.num_rows();
    }
    rows.sort_by_key(|row| row.k);
    Ok(rows)
}

/// Who holds what: for each customer, the products held at the latest snapshot (every
/// row when the table has no snapshot column).
pub fn read_latest_holdings(
    path: &Path,
    key: Option<&ParquetKey>,
) -> Result<BTreeMap<String, Vec<String>>, ReportError> {
    let has_snapshot = ParquetSource::open(path, key)?
        .schema()
        .index_of(SNAPSHOT)
        .is_ok();
    let mut names = vec![CUSTOMER_ID, PRODUCT];
    if has_snapshot {
        names.push(SNAPSHOT);
    }
    let what = "a holdings table in long format has (one row per customer and product)";
    let latest = if has_snapshot {
        let mut source = ParquetSource::open_named(path, &[SNAPSHOT], what, key)?;
        let mut latest: Option<i32> = None;
        while let Some(batch) = source.next_batch()? {
            let dates = date_column(path, batch.column(0))?;
            for r in 0..batch.num_rows() {
                if !dates.is_null(r) {
                    latest = latest.max(Some(dates.value(r)));
                }
            }
        }
        latest
    } else {
        None
    };
    let mut source = ParquetSource::open_named(path, &names, what, key)?;
    let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        let products = string_column(path, batch.column(1), PRODUCT)?;
        let dates = if has_snapshot {
            Some(date_column(path, batch.column(2))?)
        } else {
            None
        };
        for r in 0..batch.num_rows() {
            if let Some(dates) = dates {
                if dates.is_null(r) || Some(dates.value(r)) != latest {
                    continue;
                }
            }
            if let (Some(id), Some(product)) = (ids(r), products(r)) {
                held.entry(id.to_string())
                    .or_default()
                    .push(product.to_string());
            }
        }
    }
    for products in held.values_mut() {
        products.sort_unstable();
        products.dedup();
    }
    Ok(held)
}

fn date_column<'a>(
    path: &Path,
    column: &'a arrow::array::ArrayRef,
) -> Result<&'a Date32Array, SharedError> {
    column
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| SharedError::ColumnType {
            path: path.to_path_buf(),
            column: SNAPSHOT.to_string(),
            expected: "Date32 (ingest writes dates so)",
            found: column.data_type().clone(),
        })
}

/// The products recommended to each customer, best first.
pub fn read_recommendations(
    path: &Path,
    key: Option<&ParquetKey>,
) -> Result<BTreeMap<String, Vec<String>>, ReportError> {
    let mut source = ParquetSource::open_named(
        path,
        &[CUSTOMER_ID, RANK, PRODUCT],
        "recommendations have",
        key,
    )?;
    let mut ranked: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        let rank = batch.column(1);
        let int32 = rank.as_any().downcast_ref::<Int32Array>();
        let int64 = rank.as_any().downcast_ref::<Int64Array>();
        if int32.is_none() && int64.is_none() {
            return Err(SharedError::ColumnType {
                path: path.to_path_buf(),
                column: RANK.to_string(),
                expected: "an integer (recommend writes Int32)",
                found: rank.data_type().clone(),
            }
            .into());
        }
        let products = string_column(path, batch.column(2), PRODUCT)?;
        for r in 0..batch.num_rows() {
            let position = int32
                .map(|a| i64::from(a.value(r)))
                .or_else(|| int64.map(|a| a.value(r)))
                .unwrap_or(i64::MAX);
            if let (Some(id), Some(product)) = (ids(r), products(r)) {
                ranked
                    .entry(id.to_string())
                    .or_default()
                    .push((position, product.to_string()));
            }
        }
    }
    Ok(ranked
        .into_iter()
        .map(|(id, mut list)| {
            list.sort();
            (id, list.into_iter().map(|(_, p)| p).collect())
        })
        .collect())
}
