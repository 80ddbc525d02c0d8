//! How well the `propensity` method's probabilities separate, product by product, the
//! customers who took the product in the test period from those who did not: ROC AUC
//! and average precision over every customer it scored for the product (the candidates:
//! eligible, not holding it), against the held-out products; overall and, with
//! assignments, within each segment (a model can rank well overall only because it tells
//! the segments apart).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, Float64Array};
use clientele_numeric::classification::{average_precision, roc_auc, top_share};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::{string_column, ParquetSource};
use clientele_shared::schema::{CUSTOMER_ID, PROBABILITY, PRODUCT};
use clientele_shared::SharedError;

use crate::clustering_section::Segments;
use crate::errors::EvaluateError;
use crate::metrics_file::MetricsFile;

/// The share of the customers scored whose takers `top_decile_share` counts: the highest
/// tenth.
const TOP_FRACTION: f64 = 0.1;

/// The probability and whether the product was taken, for each customer scored.
#[derive(Default)]
struct Scored {
    probabilities: Vec<f64>,
    taken: Vec<bool>,
}

/// Adds `propensity.PRODUCT.auc`, `.average_precision` and `.top_decile_share` (the
/// share of takers among the tenth scored highest) for each product with takers and
/// non-takers among the customers scored, and their means over those products
/// (`propensity.auc_mean`, `propensity.average_precision_mean`); with `segments`, the
/// same under `segment.S.` for each segment's customers (noise, −1, included).
pub(crate) fn probability_section(
    probabilities: &Path,
    test: &Path,
    segments: Option<&Segments>,
    file: &mut MetricsFile,
    key: Option<&ParquetKey>,
) -> Result<(), EvaluateError> {
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    crate::lists::read_pairs(test, key, |c, p| {
        taken.insert((c.to_string(), p.to_string()));
    })?;
    let mut by_product: BTreeMap<String, Scored> = BTreeMap::new();
    let mut by_segment: BTreeMap<i64, BTreeMap<String, Scored>> = BTreeMap::new();
    let mut source = ParquetSource::open_named(
        probabilities,
        &[CUSTOMER_ID, PRODUCT, PROBABILITY],
        "a probabilities file has",
        key,
    )?;
    let mut row = 0usize;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(probabilities, batch.column(0), CUSTOMER_ID)?;
        let products = string_column(probabilities, batch.column(1), PRODUCT)?;
        let values = batch
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| SharedError::ColumnType {
                path: probabilities.to_path_buf(),
                column: PROBABILITY.to_string(),
                expected: "Float64",
                found: batch.column(2).data_type().clone(),
            })?;
        for r in 0..batch.num_rows() {
            row += 1;
            let (Some(c), Some(p)) = (ids(r), products(r)) else {
                continue;
            };
            if values.is_null(r) || !values.value(r).is_finite() {
                return Err(SharedError::BadValue {
                    path: probabilities.to_path_buf(),
                    row,
                    column: PROBABILITY.to_string(),
                    why: "is not a number".to_string(),
                }
                .into());
            }
            let taken = taken.contains(&(c.to_string(), p.to_string()));
            let add = |scored: &mut Scored| {
                scored.probabilities.push(values.value(r));
                scored.taken.push(taken);
            };
            add(by_product.entry(p.to_string()).or_default());
            if let Some(&segment) = segments.and_then(|segments| segments.get(c)) {
                add(by_segment
                    .entry(segment)
                    .or_default()
                    .entry(p.to_string())
                    .or_default());
            }
        }
    }
    let products_scored = add_metrics(file, "", &by_product);
    file.metrics
        .insert("propensity.products_scored".into(), products_scored as f64);
    for (segment, by_product) in &by_segment {
        add_metrics(file, &format!("segment.{segment}."), by_product);
    }
    Ok(())
}

/// The metrics of each product, and their means, under `prefix`; returns how many
/// products had an AUC (takers and non-takers both).
fn add_metrics(
    file: &mut MetricsFile,
    prefix: &str,
    by_product: &BTreeMap<String, Scored>,
) -> usize {
    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for (product, scored) in by_product {
        let (scores, labels) = (&scored.probabilities, &scored.taken);
        if let Some(auc) = roc_auc(scores, labels) {
            file.metrics
                .insert(format!("{prefix}propensity.{product}.auc"), auc);
            aucs.push(auc);
            // The lift chart's first point, as a campaign calling a tenth would see it.
            if let Some(share) = top_share(scores, labels, TOP_FRACTION) {
                file.metrics.insert(
                    format!("{prefix}propensity.{product}.top_decile_share"),
                    share,
                );
            }
        }
        if let (Some(ap), true) = (average_precision(scores, labels), labels.iter().any(|l| !l)) {
            file.metrics.insert(
                format!("{prefix}propensity.{product}.average_precision"),
                ap,
            );
            aps.push(ap);
        }
    }
    for (name, values) in [("auc_mean", &aucs), ("average_precision_mean", &aps)] {
        if !values.is_empty() {
            file.metrics.insert(
                format!("{prefix}propensity.{name}"),
                values.iter().sum::<f64>() / values.len() as f64,
            );
        }
    }
    aucs.len()
}
