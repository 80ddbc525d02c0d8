//! Parquet sources: columns cast to their declared (or nearest plain) type, batch by batch.

use std::path::Path;
use std::sync::Arc;

use crate::table::TableSink;
use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::{cast_with_options, filter_record_batch, CastOptions};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::stage::StageContext;

use crate::columns::arrow_type;
use crate::error::{IngestError, Location, RowProblem};
use crate::params::ColumnType;
use crate::table::{internal, IdRegistry, IdSource, OutputPlan, Rejects};

/// The plain type a source column is read as when none is declared.
pub fn plain_type(path: &Path, column: &str, ty: &DataType) -> Result<ColumnType, IngestError> {
    use DataType::*;
    Ok(match ty {
        // Binary is how many writers store text; invalid UTF-8 is then reported per row.
        Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView | Null => {
            ColumnType::String
        }
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => ColumnType::Int,
        Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) => ColumnType::Float,
        Boolean => ColumnType::Bool,
        Date32 | Date64 => ColumnType::Date,
        Dictionary(_, value) if matches!(**value, Utf8 | LargeUtf8) => ColumnType::Categorical,
        other => {
            return Err(IngestError::UnsupportedType {
                path: path.to_path_buf(),
                column: column.to_string(),
                found: other.to_string(),
                wanted: "string, int, float, bool, date or categorical".to_string(),
            })
        }
    })
}

/// Converts every batch of `source` into the output table.
pub fn convert(
    source: &mut ParquetSource,
    plan: &OutputPlan,
    one_row_per_customer: bool,
    sink: &mut TableSink,
    rejects: &mut Rejects,
    ctx: &StageContext<'_>,
) -> Result<(), IngestError> {
    let path = source.path().to_path_buf();
    let schema = plan.schema();
    let total = source.rows();
    let mut ids = IdRegistry::new(one_row_per_customer);
    let mut rows_before = 0u64;
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    while let Some(batch) = source.next_batch()? {
        let n = batch.num_rows();
        let mut keep = vec![true; n];
        let mut problems: Vec<Option<RowProblem>> = vec![None; n];

        // The key column first, so that a row rejected for its key is reported for that.
        let id_array: ArrayRef = match (&plan.id, plan.id_index) {
            (IdSource::Column(name), Some(c)) => {
                let raw = batch.column(c);
                let text = cast_with_options(raw, &DataType::Utf8, &options)
                    .map_err(|e| internal(&path, e))?;
                for (row, problem) in problems.iter_mut().enumerate() {
                    if text.is_null(row) {
                        *problem = Some(RowProblem::MissingId {
                            column: name.clone(),
                        });
                    }
                }
                text
            }
            _ => Arc::new(StringArray::from_iter_values(
                (0..n).map(|row| (rows_before + row as u64 + 1).to_string()),
            )),
        };
        let mut columns: Vec<ArrayRef> = vec![id_array.clone()];
        for (out, &c) in plan.source_index.iter().enumerate() {
            let (name, ty) = &plan.columns[out];
            let raw = batch.column(c);
            let cast = cast_with_options(raw, &arrow_type(*ty), &options).map_err(|_| {
                IngestError::UnsupportedType {
                    path: path.clone(),
                    column: name.clone(),
                    found: raw.data_type().to_string(),
                    wanted: ty.describe().to_string(),
                }
            })?;
            // A safe cast turns a value it cannot convert into null: such rows are errors.
            for (row, problem) in problems.iter_mut().enumerate() {
                if problem.is_none() && cast.is_null(row) && !raw.is_null(row) {
                    *problem = Some(RowProblem::Unparsable {
                        column: name.clone(),
                        expected: ty.describe(),
                    });
                }
            }
            columns.push(cast);
        }
        let id_text = id_array
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| internal(&path, "the key column is not text"))?;
        for row in 0..n {
            let at = Location::Row(rows_before + row as u64 + 1);
            if problems[row].is_none() {
                if let Some(first) = ids.check(id_text.value(row).trim(), at) {
                    problems[row] = Some(RowProblem::DuplicateId {
                        column: plan.id_column_name().to_string(),
                        first,
                    });
                }
            }
            if let Some(problem) = problems[row].take() {
                keep[row] = false;
                rejects.reject(at, problem, None)?;
            }
        }
        let out = RecordBatch::try_new(schema.clone(), columns).map_err(|e| internal(&path, e))?;
        let out = if keep.iter().all(|&k| k) {
            out
        } else {
            filter_record_batch(&out, &BooleanArray::from(keep)).map_err(|e| internal(&path, e))?
        };
        sink.write(&out)?;
        rows_before += n as u64;
        ctx.progress.rows(rows_before, Some(total));
    }
    Ok(())
}
