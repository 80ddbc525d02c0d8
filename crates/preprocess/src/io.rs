//! Reading for both passes: the columns `fit` learns from, one whole column at a time
//! ([`ColumnSource`]), each column's values as numbers or texts, and the column types
//! each rule takes; and the fitted state file, read and written.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::compute::{cast, concat};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::SharedError;

use crate::errors::PreprocessError;
use crate::{FittedState, STATE_FORMAT};

/// Where `fit` reads its data: whole columns, one at a time, so that memory holds one
/// column rather than the table (exact medians and quantiles need every value).
pub trait ColumnSource {
    fn schema(&self) -> SchemaRef;
    fn num_rows(&self) -> usize;
    /// The whole column `name`; `None` if there is no such column.
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError>;
}

impl ColumnSource for RecordBatch {
    fn schema(&self) -> SchemaRef {
        RecordBatch::schema(self)
    }
    fn num_rows(&self) -> usize {
        RecordBatch::num_rows(self)
    }
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError> {
        Ok(self.column_by_name(name).cloned())
    }
}

/// A Parquet file read column by column (Parquet stores columns apart, so reading one
/// decodes only that one).
pub struct ParquetColumns {
    path: PathBuf,
    schema: SchemaRef,
    rows: usize,
    key: Option<ParquetKey>,
}

impl ParquetColumns {
    /// Opens `path`, decrypting with `key` if the file is encrypted.
    pub fn open(path: &Path, key: Option<&ParquetKey>) -> Result<Self, PreprocessError> {
        let source = ParquetSource::open(path, key)?;
        Ok(ParquetColumns {
            path: path.to_path_buf(),
            schema: source.schema().clone(),
            rows: source.rows() as usize,
            key: key.cloned(),
        })
    }
}

impl ColumnSource for ParquetColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn num_rows(&self) -> usize {
        self.rows
    }
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError> {
        let Ok(index) = self.schema.index_of(name) else {
            return Ok(None);
        };
        let batches = ParquetSource::open_columns(&self.path, Some(&[index]), self.key.as_ref())?
            .read_all()?;
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        if arrays.is_empty() {
            return Ok(Some(arrow::array::new_empty_array(
                self.schema.field(index).data_type(),
            )));
        }
        Ok(Some(concat(&arrays).map_err(|e| internal(&self.path, e))?))
    }
}

pub(crate) fn internal(path: &Path, e: impl std::fmt::Display) -> PreprocessError {
    PreprocessError::Shared(SharedError::ParquetRead {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn read_state(path: &Path) -> Result<FittedState, PreprocessError> {
    let text = std::fs::read_to_string(path).map_err(|e| PreprocessError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let state: FittedState = serde_json::from_str(&text).map_err(|e| PreprocessError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if state.format != STATE_FORMAT {
        return Err(PreprocessError::State {
            path: path.to_path_buf(),
            message: format!(
                "state format {} is not the format {STATE_FORMAT} this version reads",
                state.format
            ),
        });
    }
    Ok(state)
}

pub(crate) fn is_numeric(ty: &DataType) -> bool {
    ty.is_numeric() || *ty == DataType::Boolean
}

pub(crate) fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(ty, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8))
}

pub(crate) fn column(
    source: &dyn ColumnSource,
    path: &Path,
    name: &str,
    what: &'static str,
) -> Result<ArrayRef, PreprocessError> {
    source
        .read_column(name)?
        .ok_or_else(|| PreprocessError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            what,
        })
}

pub(crate) fn numbers(array: &ArrayRef, path: &Path) -> Result<Vec<Option<f64>>, PreprocessError> {
    let cast = cast(array, &DataType::Float64).map_err(|e| internal(path, e))?;
    let values = cast
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| internal(path, "cast to Float64"))?;
    Ok(values.iter().collect())
}

pub(crate) fn texts(array: &ArrayRef, path: &Path) -> Result<Vec<Option<String>>, PreprocessError> {
    let cast = cast(array, &DataType::Utf8).map_err(|e| internal(path, e))?;
    let values = cast
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .ok_or_else(|| internal(path, "cast to Utf8"))?;
    Ok(values.iter().map(|v| v.map(str::to_string)).collect())
}

/// The types a categorical rule takes: text, or numbers read as their text.
pub(crate) fn is_categorical(ty: &DataType) -> bool {
    is_text(ty) || is_numeric(ty)
}

/// Writes the fitted state as JSON, atomically.
pub(crate) fn write_state(state: &FittedState, path: &Path) -> Result<(), PreprocessError> {
    let json = serde_json::to_string_pretty(state).map_err(|e| PreprocessError::WriteState {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    clientele_shared::atomic::write_file(path, json.as_bytes())?;
    Ok(())
}
