//! Parquet files as clientele reads and writes them.
//!
//! Written files are standard: plain Arrow types, zstd compression, row groups small
//! enough that a writer holds at most one in memory. Every write goes through
//! [`crate::atomic::AtomicFile`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, DictionaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::atomic::AtomicFile;
use crate::encryption::{is_encrypted, ParquetKey};
use crate::SharedError;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::encryption::decrypt::FileDecryptionProperties;
use parquet::encryption::encrypt::FileEncryptionProperties;

/// Rows per row group: bounds the writer's memory (one row group is buffered) while
/// keeping row groups large enough for efficient scans.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per batch when reading.
pub(crate) const READ_BATCH_ROWS: usize = 64 * 1024;

/// A Parquet file being written; nothing appears under the final name until
/// [`ParquetSink::finish`].
///
/// Encoding and compressing run on a writer thread of their own, a batch behind the
/// caller, so that a stage parses or computes the next batch while the last one is
/// compressed (on ingest of 300,000 customers the writer is a sixth of the work). At
/// most two batches wait for it, so memory stays bounded by the batch size. The bytes
/// are those of writing on the caller's thread: one writer, batches in order.
pub struct ParquetSink {
    path: PathBuf,
    batches: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    writer: Option<std::thread::JoinHandle<WriterResult>>,
    rows: u64,
}

type WriterResult = Result<ArrowWriter<AtomicFile>, parquet::errors::ParquetError>;

impl ParquetSink {
    /// Creates the file, encrypted under `key` when one is given.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        key: Option<&ParquetKey>,
    ) -> Result<Self, SharedError> {
        let file = AtomicFile::create(path)?;
        let zstd = ZstdLevel::try_new(3).map_err(|e| write_error(path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(zstd))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
        if let Some(key) = key {
            let encryption = FileEncryptionProperties::builder(key.bytes().to_vec())
                .build()
                .map_err(|e| write_error(path, e))?;
            props = props.with_file_encryption_properties(encryption);
        }
        let props = props.build();
        let mut writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| write_error(path, e))?;
        let (batches, received) = std::sync::mpsc::sync_channel::<RecordBatch>(1);
        let worker = std::thread::Builder::new()
            .name("parquet-writer".to_string())
            .spawn(move || {
                for batch in received {
                    writer.write(&batch)?;
                }
                Ok(writer)
            })
            .map_err(|e| write_error(path, e))?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            batches: Some(batches),
            writer: Some(worker),
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SharedError> {
        self.rows += batch.num_rows() as u64;
        let sent = match &self.batches {
            // A batch's columns are shared, not copied.
            Some(batches) => batches.send(batch.clone()).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped on an error: that error is the one to report.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| write_error(&self.path, "the Parquet writer stopped")))
        }
    }

    /// Waits for the writer thread to write every batch sent; its writer, or its error.
    fn join(&mut self) -> Result<ArrowWriter<AtomicFile>, SharedError> {
        self.batches = None;
        let worker = self
            .writer
            .take()
            .ok_or_else(|| write_error(&self.path, "the Parquet writer already finished"))?;
        match worker.join() {
            Ok(written) => written.map_err(|e| write_error(&self.path, e)),
            Err(_) => Err(write_error(
                &self.path,
                "the Parquet writer thread panicked",
            )),
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer and moves the file into place.
    pub fn finish(mut self) -> Result<u64, SharedError> {
        let file = self
            .join()?
            .into_inner()
            .map_err(|e| write_error(&self.path, e))?;
        file.commit()?;
        Ok(self.rows)
    }
}

impl Drop for ParquetSink {
    /// A sink dropped unfinished (its stage failed) waits for its writer, so that no
    /// thread outlives it; the temporary file is removed with the writer.
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.join();
        }
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> SharedError {
    SharedError::ParquetWrite {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes whole batches to `path` atomically; returns the number of rows.
pub fn write_batches(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
    key: Option<&ParquetKey>,
) -> Result<u64, SharedError> {
    let mut sink = ParquetSink::create(path, schema, key)?;
    for batch in batches {
        sink.write(batch)?;
    }
    sink.finish()
}

/// A Parquet file opened for reading in batches. Decoding errors name the file.
pub struct ParquetSource {
    path: PathBuf,
    schema: SchemaRef,
    rows: u64,
    reader: ParquetRecordBatchReader,
    /// Parquet decodes projected columns in file order; this puts them back in the order
    /// they were asked for (`None` when that is already file order).
    reorder: Option<Vec<usize>>,
}

impl ParquetSource {
    /// Opens `path`; an encrypted file is decrypted with `key` (an error without one).
    pub fn open(path: &Path, key: Option<&ParquetKey>) -> Result<Self, SharedError> {
        Self::open_columns(path, None, key)
    }

    /// Opens `path` reading only the columns named `names`, in that order, with an error
    /// naming the first one missing; `what` completes the sentence "… has no column `x`,
    /// which {what}" (e.g. "segment assignments have").
    pub fn open_named(
        path: &Path,
        names: &[&str],
        what: &str,
        key: Option<&ParquetKey>,
    ) -> Result<Self, SharedError> {
        Self::open_named_with_dictionaries(path, names, what, key, &[])
    }

    /// [`ParquetSource::open_named`], the text columns named in `dictionaries` read as
    /// dictionaries (`Dictionary(Int32, Utf8)`) where the file holds them as plain text:
    /// a column of a few distinct values (products, methods) then costs the caller one
    /// lookup per distinct value and batch instead of one per row, and the decoder does
    /// not copy the strings out of Parquet's dictionary pages.
    pub fn open_named_with_dictionaries(
        path: &Path,
        names: &[&str],
        what: &str,
        key: Option<&ParquetKey>,
        dictionaries: &[&str],
    ) -> Result<Self, SharedError> {
        let schema = Self::open(path, key)?.schema;
        let indices = names
            .iter()
            .map(|name| {
                schema
                    .index_of(name)
                    .map_err(|_| SharedError::MissingColumn {
                        path: path.to_path_buf(),
                        column: (*name).to_string(),
                        what: what.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let as_dictionaries = dictionaries.iter().any(|name| {
            schema
                .field_with_name(name)
                .is_ok_and(|f| f.data_type() == &DataType::Utf8)
        });
        let supplied = as_dictionaries.then(|| {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| {
                    if dictionaries.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8
                    {
                        f.as_ref().clone().with_data_type(DataType::Dictionary(
                            Box::new(DataType::Int32),
                            Box::new(DataType::Utf8),
                        ))
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect();
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
        });
        Self::open_guarded(path, Some(&indices), key, supplied)
    }

    /// Opens `path` reading only the top-level columns at `columns` (all when `None`), in
    /// that order: Parquet stores columns apart, so the others are never read or decoded.
    pub fn open_columns(
        path: &Path,
        columns: Option<&[usize]>,
        key: Option<&ParquetKey>,
    ) -> Result<Self, SharedError> {
        Self::open_guarded(path, columns, key, None)
    }

    /// Opens the file; as in `next_batch`, a panic of the footer decoder on a corrupt
    /// file is an error naming it.
    fn open_guarded(
        path: &Path,
        columns: Option<&[usize]>,
        key: Option<&ParquetKey>,
        supplied: Option<SchemaRef>,
    ) -> Result<Self, SharedError> {
        std::panic::catch_unwind(|| Self::open_columns_unguarded(path, columns, key, supplied))
            .unwrap_or_else(|panic| {
                Err(SharedError::ParquetRead {
                    path: path.to_path_buf(),
                    message: format!(
                        "the decoder failed on corrupt data ({})",
                        panic_text(&panic)
                    ),
                })
            })
    }

    fn open_columns_unguarded(
        path: &Path,
        columns: Option<&[usize]>,
        key: Option<&ParquetKey>,
        supplied: Option<SchemaRef>,
    ) -> Result<Self, SharedError> {
        let file = File::open(path).map_err(|e| SharedError::io("open", path, e))?;
        let read_error = |e: parquet::errors::ParquetError| SharedError::ParquetRead {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut options = ArrowReaderOptions::new();
        if is_encrypted(path) {
            let key = key.ok_or_else(|| SharedError::Encrypted {
                path: path.to_path_buf(),
            })?;
            let decryption = FileDecryptionProperties::builder(key.bytes().to_vec())
                .build()
                .map_err(read_error)?;
            options = options.with_file_decryption_properties(decryption);
        }
        if let Some(schema) = supplied {
            options = options.with_schema(schema);
        }
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
            .map_err(|e| {
                if is_encrypted(path) {
                    SharedError::Decrypt {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    }
                } else {
                    read_error(e)
                }
            })?;
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).map_err(|_| {
            SharedError::ParquetRead {
                path: path.to_path_buf(),
                message: "the footer declares a negative row count".to_string(),
            }
        })?;
        let mut reorder = None;
        let (builder, schema) = match columns {
            None => {
                let schema = builder.schema().clone();
                (builder, schema)
            }
            Some(indices) => {
                let mut in_file_order = indices.to_vec();
                in_file_order.sort_unstable();
                in_file_order.dedup();
                let order: Vec<usize> = indices
                    .iter()
                    .filter_map(|i| in_file_order.binary_search(i).ok())
                    .collect();
                if order.iter().enumerate().any(|(at, &i)| at != i)
                    || order.len() != in_file_order.len()
                {
                    reorder = Some(order);
                }
                let mask = ProjectionMask::roots(
                    builder.metadata().file_metadata().schema_descr(),
                    in_file_order.iter().copied(),
                );
                let schema = Arc::new(builder.schema().project(indices).map_err(|e| {
                    SharedError::ParquetRead {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    }
                })?);
                (builder.with_projection(mask), schema)
            }
        };
        let reader = builder
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(read_error)?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            schema,
            rows,
            reader,
            reorder,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Row count declared in the footer.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next batch, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, SharedError> {
        // The parquet crate can panic on corrupt pages (found by tests/fuzz.rs: a flipped
        // byte in the definition levels, kept in tests/fuzz/regressions/parquet/). A
        // corrupt file is bad input, so the panic becomes an error naming the file; the
        // reader is not used again after it.
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reader.next()))
            .map_err(|panic| SharedError::ParquetRead {
                path: self.path.clone(),
                message: format!(
                    "the decoder failed on corrupt data ({})",
                    panic_text(&panic)
                ),
            })?;
        match next {
            None => Ok(None),
            Some(Ok(batch)) => match &self.reorder {
                None => Ok(Some(batch)),
                Some(order) => {
                    batch
                        .project(order)
                        .map(Some)
                        .map_err(|e| SharedError::ParquetRead {
                            path: self.path.clone(),
                            message: e.to_string(),
                        })
                }
            },
            Some(Err(e)) => Err(SharedError::ParquetRead {
                path: self.path.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Reads every remaining batch.
    pub fn read_all(mut self) -> Result<Vec<RecordBatch>, SharedError> {
        let mut batches = Vec::new();
        while let Some(batch) = self.next_batch()? {
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// The message of a caught panic.
fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// A string column of a batch, plain or dictionary-encoded (as ingest writes
/// categoricals, and as [`ParquetSource::open_named_with_dictionaries`] reads columns).
pub enum TextColumn<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> TextColumn<'a> {
    /// The column, with an error naming the file and column if it is not text.
    pub fn of(path: &Path, column: &'a ArrayRef, name: &str) -> Result<Self, SharedError> {
        let text = if let Some(plain) = column.as_any().downcast_ref::<StringArray>() {
            Some(TextColumn::Plain(plain))
        } else {
            column
                .as_any()
                .downcast_ref::<DictionaryArray<Int32Type>>()
                .and_then(|d| {
                    let values = d.values().as_any().downcast_ref::<StringArray>()?;
                    Some(TextColumn::Dictionary(d, values))
                })
        };
        text.ok_or_else(|| SharedError::ColumnType {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected: "text (Utf8 or a dictionary of Utf8)",
            found: column.data_type().clone(),
        })
    }

    /// Row `row`'s text, `None` where it is missing.
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TextColumn::Plain(a) => (!a.is_null(row)).then(|| a.value(row)),
            TextColumn::Dictionary(_, values) => self.value_index(row).map(|k| values.value(k)),
        }
    }

    /// How many distinct values a dictionary column holds; `None` for plain text.
    pub fn distinct_values(&self) -> Option<usize> {
        match self {
            TextColumn::Plain(_) => None,
            TextColumn::Dictionary(_, values) => Some(values.len()),
        }
    }

    /// Which of the distinct values row `row` holds, in a dictionary column; `None` where
    /// it is missing, and for plain text.
    pub fn value_index(&self, row: usize) -> Option<usize> {
        match self {
            TextColumn::Plain(_) => None,
            TextColumn::Dictionary(d, _) => {
                let keys = d.keys();
                (!keys.is_null(row)).then(|| keys.value(row) as usize)
            }
        }
    }
}

/// Reads a string column of a batch, with an error naming the file and column.
pub fn string_column<'a>(
    path: &Path,
    column: &'a ArrayRef,
    name: &str,
) -> Result<impl Fn(usize) -> Option<&'a str> + 'a, SharedError> {
    let text = TextColumn::of(path, column, name)?;
    Ok(move |row| text.get(row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    /// Writes one batch of these columns (every one nullable) to `path`.
    fn write_columns(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = columns.into_iter().map(|(_, array)| array).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        write_batches(path, schema, &[batch], None).unwrap();
    }

    #[test]
    fn text_columns_asked_as_dictionaries_keep_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let products = vec![
            Some("loan"),
            Some("card"),
            None,
            Some("loan"),
            Some("savings"),
        ];
        write_columns(
            &path,
            vec![
                (
                    "customer_id",
                    Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"])),
                ),
                ("product", Arc::new(StringArray::from(products.clone()))),
            ],
        );
        let mut source = ParquetSource::open_named_with_dictionaries(
            &path,
            &["product", "customer_id"],
            "tests need",
            None,
            &["product"],
        )
        .unwrap();
        let read = source.next_batch().unwrap().unwrap();
        assert!(matches!(
            read.column(0).data_type(),
            DataType::Dictionary(_, _)
        ));
        assert_eq!(read.column(1).data_type(), &DataType::Utf8);
        let get = string_column(&path, read.column(0), "product").unwrap();
        assert_eq!((0..5).map(get).collect::<Vec<_>>(), products);
    }

    #[test]
    fn named_columns_come_in_the_order_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_columns(
            &path,
            vec![
                ("customer_id", Arc::new(StringArray::from(vec!["a", "b"]))),
                (
                    "balance",
                    Arc::new(Float64Array::from(vec![Some(1.5), None])),
                ),
            ],
        );
        let mut source =
            ParquetSource::open_named(&path, &["balance", "customer_id"], "tests need", None)
                .unwrap();
        assert_eq!(source.schema().field(0).name(), "balance");
        let read = source.next_batch().unwrap().unwrap();
        assert_eq!(read.schema().field(0).name(), "balance");
        assert!(read
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .is_some());
        let err = ParquetSource::open_named(&path, &["customer_id", "segment"], "tests need", None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no column `segment`, which tests need"),
            "{err}"
        );
    }

    #[test]
    fn written_batches_read_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new("balance", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
            ],
        )
        .unwrap();
        assert_eq!(
            write_batches(&path, schema.clone(), std::slice::from_ref(&batch), None).unwrap(),
            2
        );
        let source = ParquetSource::open(&path, None).unwrap();
        assert_eq!(source.rows(), 2);
        assert_eq!(source.read_all().unwrap(), vec![batch.clone()]);
        let balance = ParquetSource::open_columns(&path, Some(&[1]), None).unwrap();
        assert_eq!(balance.schema().fields().len(), 1);
        assert_eq!(
            balance.read_all().unwrap(),
            vec![batch.project(&[1]).unwrap()]
        );
    }

    #[test]
    fn a_text_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not.parquet");
        std::fs::write(&path, "customer_id\n1\n").unwrap();
        let message = ParquetSource::open(&path, None).err().unwrap().to_string();
        assert!(message.contains("not.parquet"), "{message}");
        assert!(message.contains("not a readable Parquet file"), "{message}");
    }
}
