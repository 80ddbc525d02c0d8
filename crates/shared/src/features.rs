//! Reading the features table that preprocess writes: customer ids and a dense matrix.

use std::path::{Path, PathBuf};

use arrow::array::{Array, Float64Array, StringArray};
use arrow::datatypes::DataType;

use crate::parquet_io::ParquetSource;
use crate::schema::{feature_origins_of, FeatureOrigin, CUSTOMER_ID};
use crate::SharedError;

/// The customer ids and the feature values, row by row as in the file.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    pub path: PathBuf,
    pub ids: Vec<String>,
    pub names: Vec<String>,
    /// Row-major, `ids.len()` × `names.len()`, every value finite.
    pub values: Vec<f64>,
    /// The origins the file's schema carries (every feature of the file, not only those
    /// read); empty when it carries none.
    pub origins: Vec<FeatureOrigin>,
}

impl FeatureMatrix {
    /// The features of row `r`.
    pub fn row(&self, r: usize) -> &[f64] {
        let d = self.names.len();
        &self.values[r * d..(r + 1) * d]
    }
}

/// Reads `customer_id` and the feature columns (`wanted`, or every Float64 column).
pub fn read_feature_matrix(
    path: &Path,
    wanted: Option<&[String]>,
    key: Option<&crate::encryption::ParquetKey>,
) -> Result<FeatureMatrix, SharedError> {
    let source = ParquetSource::open(path, key)?;
    let schema = source.schema().clone();
    let origins = feature_origins_of(&schema, path)?;
    let missing = |column: &str, what: &str| SharedError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        what: what.to_string(),
    };
    let id_index = schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| missing(CUSTOMER_ID, "every customer table has"))?;
    let feature_indices: Vec<usize> = match wanted {
        Some(names) => names
            .iter()
            .map(|name| {
                schema
                    .index_of(name)
                    .map_err(|_| missing(name, "is a feature the stage was asked to use"))
            })
            .collect::<Result<_, _>>()?,
        None => (0..schema.fields().len())
            .filter(|&i| i != id_index && schema.field(i).data_type() == &DataType::Float64)
            .collect(),
    };
    if feature_indices.is_empty() {
        return Err(SharedError::NoFeatures {
            path: path.to_path_buf(),
        });
    }
    for &i in &feature_indices {
        let field = schema.field(i);
        if field.data_type() != &DataType::Float64 {
            return Err(SharedError::NotFloat {
                path: path.to_path_buf(),
                column: field.name().clone(),
                found: field.data_type().clone(),
            });
        }
    }
    let names: Vec<String> = feature_indices
        .iter()
        .map(|&i| schema.field(i).name().clone())
        .collect();
    let d = names.len();
    let mut columns = vec![id_index];
    columns.extend(&feature_indices);
    let rows = source.rows() as usize;
    let mut source = ParquetSource::open_columns(path, Some(&columns), key)?;
    let mut ids = Vec::with_capacity(rows);
    let mut values = Vec::with_capacity(rows * d);
    while let Some(batch) = source.next_batch()? {
        let first = ids.len();
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| SharedError::NotFloat {
                path: path.to_path_buf(),
                column: CUSTOMER_ID.to_string(),
                found: batch.column(0).data_type().clone(),
            })?;
        ids.extend(id.iter().map(|v| v.unwrap_or_default().to_string()));
        let feature_columns: Vec<&Float64Array> = (1..=d)
            .map(|c| {
                batch
                    .column(c)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(|| SharedError::NotFloat {
                        path: path.to_path_buf(),
                        column: names[c - 1].clone(),
                        found: batch.column(c).data_type().clone(),
                    })
            })
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            for (c, column) in feature_columns.iter().enumerate() {
                let v = column.value(r);
                if column.is_null(r) || !v.is_finite() {
                    return Err(SharedError::BadFeature {
                        path: path.to_path_buf(),
                        row: first + r + 1,
                        column: names[c].clone(),
                    });
                }
                values.push(v);
            }
        }
    }
    Ok(FeatureMatrix {
        path: path.to_path_buf(),
        ids,
        names,
        values,
        origins,
    })
}
