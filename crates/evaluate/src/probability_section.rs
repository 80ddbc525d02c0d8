//! How well the `propensity` method's probabilities separate, product by product, the
//! customers who took the product in the test period from those who did not: ROC AUC
//! and average precision over every customer it scored for the product (the candidates:
//! eligible, not holding it), against the held-out products.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, Float64Array};
use clientele_numeric::classification::{average_precision, roc_auc};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::{string_column, ParquetSource};
use clientele_shared::schema::{CUSTOMER_ID, PROBABILITY, PRODUCT};
use clientele_shared::SharedError;

use crate::errors::EvaluateError;
use crate::metrics_file::MetricsFile;

/// Adds `propensity.PRODUCT.auc` and `.average_precision` for each product with takers
/// and non-takers among the customers scored, and their means over those products
/// (`propensity.auc_mean`, `propensity.average_precision_mean`).
pub(crate) fn probability_section(
    probabilities: &Path,
    test: &Path,
    file: &mut MetricsFile,
    key: Option<&ParquetKey>,
) -> Result<(), EvaluateError> {
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    crate::lists::read_pairs(test, key, |c, p| {
        taken.insert((c.to_string(), p.to_string()));
    })?;
    // By product: (probability, taken) of each customer scored.
    let mut by_product: BTreeMap<String, (Vec<f64>, Vec<bool>)> = BTreeMap::new();
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
            let entry = by_product.entry(p.to_string()).or_default();
            entry.0.push(values.value(r));
            entry
                .1
                .push(taken.contains(&(c.to_string(), p.to_string())));
        }
    }
    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for (product, (scores, labels)) in &by_product {
        if let Some(auc) = roc_auc(scores, labels) {
            file.metrics
                .insert(format!("propensity.{product}.auc"), auc);
            aucs.push(auc);
        }
        if let (Some(ap), true) = (average_precision(scores, labels), labels.iter().any(|l| !l)) {
            file.metrics
                .insert(format!("propensity.{product}.average_precision"), ap);
            aps.push(ap);
        }
    }
    for (name, values) in [("auc_mean", &aucs), ("average_precision_mean", &aps)] {
        if !values.is_empty() {
            file.metrics.insert(
                format!("propensity.{name}"),
                values.iter().sum::<f64>() / values.len() as f64,
            );
        }
    }
    file.metrics
        .insert("propensity.products_scored".into(), aucs.len() as f64);
    Ok(())
}
