//! The output side shared by every source format: the customer key, duplicate detection,
//! batching into the Parquet sink, and the rejects file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use clientele_shared::hashing::{fast_map, FastMap};
use clientele_shared::parquet_io::ParquetSink;
use clientele_shared::schema::{rejects_schema, CUSTOMER_ID};

use crate::error::{IngestError, Location, ParamError, RowProblem};
use crate::params::{ColumnType, OnError};

/// Where the customer key comes from.
#[derive(Debug, Clone)]
pub enum IdSource {
    /// A source column (by name), read as text.
    Column(String),
    /// A key generated from the row's position in the source (1-based), so that the same
    /// file always gets the same keys, whatever rows are quarantined.
    RowNumber,
}

/// The output table's columns: `customer_id`, then each kept source column.
#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub id: IdSource,
    /// The source column index of the key, if it comes from a column.
    pub id_index: Option<usize>,
    /// (name, type) of each output column after `customer_id`, in source order.
    pub columns: Vec<(String, ColumnType)>,
    /// The source column index of each entry of `columns`.
    pub source_index: Vec<usize>,
    /// Output columns (0 = `customer_id`) written as pseudonyms.
    pub pseudonymised: Vec<usize>,
}

/// The output table: each batch pseudonymised (when configured), then written.
pub struct TableSink {
    sink: ParquetSink,
    pseudonyms: Option<(crate::pseudonym::Pseudonymiser, Vec<usize>)>,
    source_path: PathBuf,
}

impl TableSink {
    pub fn new(
        sink: ParquetSink,
        pseudonyms: Option<(crate::pseudonym::Pseudonymiser, Vec<usize>)>,
        source_path: &Path,
    ) -> Self {
        TableSink {
            sink,
            pseudonyms,
            source_path: source_path.to_path_buf(),
        }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        match &self.pseudonyms {
            Some((p, columns)) if !columns.is_empty() => {
                let batch =
                    p.apply(batch, columns)
                        .map_err(|message| IngestError::Pseudonymise {
                            path: self.source_path.clone(),
                            message,
                        })?;
                Ok(self.sink.write(&batch)?)
            }
            _ => Ok(self.sink.write(batch)?),
        }
    }

    pub fn rows(&self) -> u64 {
        self.sink.rows()
    }

    pub fn finish(self) -> Result<u64, IngestError> {
        Ok(self.sink.finish()?)
    }
}

impl OutputPlan {
    pub fn schema(&self) -> SchemaRef {
        let mut fields = vec![Field::new(CUSTOMER_ID, DataType::Utf8, false)];
        fields.extend(
            self.columns
                .iter()
                .map(|(name, ty)| Field::new(name, crate::columns::arrow_type(*ty), true)),
        );
        Arc::new(Schema::new(fields))
    }

    pub fn id_column_name(&self) -> &str {
        match &self.id {
            IdSource::Column(name) => name,
            IdSource::RowNumber => CUSTOMER_ID,
        }
    }
}

/// Remembers every customer key seen, to reject duplicates. Memory grows with the number
/// of customers (about 60 bytes each), the one part of ingest that is not bounded by the
/// batch size.
pub struct IdRegistry {
    first_seen: FastMap<Box<str>, Location>,
    enabled: bool,
}

impl IdRegistry {
    /// A registry that checks keys only if `one_row_per_customer`; otherwise it holds
    /// nothing and finds no duplicates.
    pub fn new(one_row_per_customer: bool) -> Self {
        IdRegistry {
            first_seen: fast_map(),
            enabled: one_row_per_customer,
        }
    }

    /// Records `id`; if it was seen before, returns where.
    pub fn check(&mut self, id: &str, at: Location) -> Option<Location> {
        if !self.enabled {
            return None;
        }
        if let Some(first) = self.first_seen.get(id) {
            return Some(*first);
        }
        self.first_seen.insert(id.into(), at);
        None
    }
}

/// Rows that failed, written to the `rejects` output in quarantine mode.
pub struct Rejects {
    mode: OnError,
    source_path: PathBuf,
    source_name: String,
    sink: Option<ParquetSink>,
    file: StringBuilder,
    line: UInt64Builder,
    column: StringBuilder,
    reason: StringBuilder,
    record: StringBuilder,
    pending: usize,
    count: u64,
    withhold_records: bool,
}

impl Rejects {
    /// Whether rejected rows are written without their record (when the source holds
    /// personal columns).
    pub fn withhold_records(&mut self, withhold: bool) {
        self.withhold_records = withhold;
    }

    /// Whether a rejected row's record is written (quarantine, nothing withheld).
    pub fn keeps_records(&self) -> bool {
        self.sink.is_some() && !self.withhold_records
    }

    /// The file the next rows come from (a table read from many files).
    pub fn set_source(&mut self, path: &Path) {
        self.source_path = path.to_path_buf();
        self.source_name = path.display().to_string();
    }

    pub fn new(
        mode: OnError,
        source_path: &Path,
        rejects_path: Option<&Path>,
        key: Option<&clientele_shared::encryption::ParquetKey>,
    ) -> Result<Self, IngestError> {
        let sink = match (mode, rejects_path) {
            (OnError::Quarantine, Some(path)) => {
                Some(ParquetSink::create(path, rejects_schema(), key)?)
            }
            (OnError::Quarantine, None) => return Err(ParamError::QuarantineWithoutRejects.into()),
            (OnError::Fail, _) => None,
        };
        Ok(Rejects {
            mode,
            source_path: source_path.to_path_buf(),
            source_name: source_path.display().to_string(),
            sink,
            file: StringBuilder::new(),
            line: UInt64Builder::new(),
            column: StringBuilder::new(),
            reason: StringBuilder::new(),
            record: StringBuilder::new(),
            pending: 0,
            count: 0,
            withhold_records: false,
        })
    }

    /// In fail mode, turns the problem into the stage's error; in quarantine mode,
    /// records the row and returns `Ok`.
    pub fn reject(
        &mut self,
        at: Location,
        problem: RowProblem,
        record: Option<String>,
    ) -> Result<(), IngestError> {
        if self.mode == OnError::Fail {
            return Err(IngestError::Row {
                path: self.source_path.clone(),
                at,
                problem,
            });
        }
        let (Location::Line(n) | Location::Row(n)) = at;
        self.file.append_value(&self.source_name);
        self.line.append_value(n);
        self.column.append_option(problem.column());
        self.reason.append_value(problem.to_string());
        self.record
            .append_option(record.filter(|_| !self.withhold_records));
        self.pending += 1;
        self.count += 1;
        if self.pending >= 8192 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        let Some(sink) = self.sink.as_mut() else {
            return Ok(());
        };
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.record.finish()),
        ];
        let batch = RecordBatch::try_new(rejects_schema(), columns)
            .map_err(|e| internal(&self.source_path, e))?;
        sink.write(&batch)?;
        self.pending = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, IngestError> {
        self.flush()?;
        if let Some(sink) = self.sink.take() {
            sink.finish()?;
        }
        Ok(self.count)
    }
}

/// An Arrow error while assembling a batch we built ourselves: a bug, reported as an
/// error naming the file rather than a panic.
pub fn internal(path: &Path, e: impl std::fmt::Display) -> IngestError {
    IngestError::Shared(clientele_shared::SharedError::ParquetWrite {
        path: path.to_path_buf(),
        message: format!("internal error while assembling a batch: {e}"),
    })
}
