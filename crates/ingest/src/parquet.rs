//! Parquet sources, one file or a directory of them (see [`crate::dataset`]): columns cast
//! to their declared (or nearest plain) type, batch by batch.

use std::path::Path;
use std::sync::Arc;

use crate::table::TableSink;
use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::{cast_with_options, filter_record_batch, CastOptions};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::stage::StageContext;

use crate::columns::arrow_type;
use crate::dataset;
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
        // Spark's INT96 and every writer's timestamps: the date, in the column's own time
        // zone (UTC when it has none), as a snapshot or a customer-since date is used.
        Date32 | Date64 | Timestamp(..) => ColumnType::Date,
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

/// What the notes say about columns whose type was read as another: decimals as floats,
/// timestamps as dates (once each, naming the columns).
pub fn type_notes(plan: &OutputPlan, fields: &[(String, DataType)]) -> Vec<String> {
    let of = |wanted: fn(&DataType) -> bool| -> Vec<String> {
        fields
            .iter()
            .filter(|(name, ty)| wanted(ty) && plan.columns.iter().any(|(c, _)| c == name))
            .map(|(name, ty)| format!("`{name}` ({ty})"))
            .collect()
    };
    let mut notes = Vec::new();
    let decimals = of(|ty| {
        matches!(
            ty,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
    });
    if !decimals.is_empty() {
        notes.push(format!(
            "decimal column(s) read as 64-bit floats (about 15 significant digits): {}",
            decimals.join(", ")
        ));
    }
    let timestamps = of(|ty| matches!(ty, DataType::Timestamp(..)));
    if !timestamps.is_empty() {
        notes.push(format!(
            "timestamp column(s) read as dates, in the column's time zone (UTC without one): {}",
            timestamps.join(", ")
        ));
    }
    notes
}

/// The data files of a Parquet source, the first one already open.
pub struct ParquetInput {
    files: dataset::ParquetFiles,
    /// The first file's columns, which every file must have.
    schema: SchemaRef,
    first: Option<ParquetSource>,
}

impl ParquetInput {
    pub fn new(files: dataset::ParquetFiles, first: ParquetSource) -> Self {
        ParquetInput {
            files,
            schema: first.schema().clone(),
            first: Some(first),
        }
    }
}

/// Converts every batch of every file of `input` into the output table. Rows are
/// numbered within their file, and a rejected row names its file.
pub fn convert(
    input: &mut ParquetInput,
    plan: &OutputPlan,
    one_row_per_customer: bool,
    sink: &mut TableSink,
    rejects: &mut Rejects,
    ctx: &StageContext<'_>,
) -> Result<(), IngestError> {
    let mut ids = IdRegistry::new(one_row_per_customer);
    let files = &input.files.files;
    let single = files.len() == 1;
    let mut done = 0u64;
    for file in files {
        let mut source = match input.first.take() {
            Some(source) => source,
            None => ParquetSource::open(&file.path, ctx.parquet_key)?,
        };
        if source.schema() != &input.schema {
            return Err(IngestError::OtherSchema {
                path: file.path.clone(),
                first: files[0].path.clone(),
            });
        }
        rejects.set_source(&file.path);
        let partition_values: Vec<Option<&str>> =
            file.partition_values.iter().map(Option::as_deref).collect();
        convert_file(
            &mut source,
            &partition_values,
            plan,
            &mut ids,
            sink,
            rejects,
            &mut done,
            single,
            ctx,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn convert_file(
    source: &mut ParquetSource,
    partition_values: &[Option<&str>],
    plan: &OutputPlan,
    ids: &mut IdRegistry,
    sink: &mut TableSink,
    rejects: &mut Rejects,
    done: &mut u64,
    single: bool,
    ctx: &StageContext<'_>,
) -> Result<(), IngestError> {
    let path = source.path().to_path_buf();
    let schema = plan.schema();
    let total = single.then(|| source.rows());
    let mut rows_before = 0u64;
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    while let Some(batch) = source.next_batch()? {
        let n = batch.num_rows();
        // The file's columns, then one constant column per partition folder.
        let mut all: Vec<ArrayRef> = batch.columns().to_vec();
        for value in partition_values {
            all.push(Arc::new(StringArray::from(vec![*value; n])));
        }
        let mut keep = vec![true; n];
        let mut problems: Vec<Option<RowProblem>> = vec![None; n];

        // The key column first, so that a row rejected for its key is reported for that.
        let id_array: ArrayRef = match (&plan.id, plan.id_index) {
            (IdSource::Column(name), Some(c)) => {
                let raw = &all[c];
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
            let raw = &all[c];
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
        *done += n as u64;
        ctx.progress.rows(*done, total);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, TimestampMicrosecondArray};

    /// 2026-10-31T23:30:00Z, in microseconds.
    const LATE_EVENING_UTC: i64 = 1_793_489_400_000_000;

    fn as_date(array: ArrayRef) -> i32 {
        let cast = cast_with_options(&array, &DataType::Date32, &CastOptions::default()).unwrap();
        cast.as_any()
            .downcast_ref::<Date32Array>()
            .unwrap()
            .value(0)
    }

    #[test]
    fn a_timestamp_is_read_as_its_date_in_its_own_time_zone() {
        let oct_31 = 20_757; // days from 1970-01-01
        let naive = Arc::new(TimestampMicrosecondArray::from(vec![LATE_EVENING_UTC]));
        assert_eq!(as_date(naive), oct_31);
        let utc =
            Arc::new(TimestampMicrosecondArray::from(vec![LATE_EVENING_UTC]).with_timezone("UTC"));
        assert_eq!(as_date(utc), oct_31);
        let paris = Arc::new(
            TimestampMicrosecondArray::from(vec![LATE_EVENING_UTC]).with_timezone("Europe/Paris"),
        );
        assert_eq!(as_date(paris), oct_31 + 1, "00:30 on 1 November in Paris");
        let path = Path::new("t.parquet");
        let ty = DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None);
        assert_eq!(plain_type(path, "t", &ty).unwrap(), ColumnType::Date);
    }

    #[test]
    fn a_nested_column_is_an_error_naming_it() {
        let ty = DataType::List(Arc::new(arrow::datatypes::Field::new(
            "item",
            DataType::Int64,
            true,
        )));
        let err = plain_type(Path::new("t.parquet"), "products", &ty)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `products`"), "{err}");
    }
}
