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
//! | rejects (ingest, `on_error = "quarantine"`) | see [`rejects_schema`] |
//!
//! Column types are plain Arrow types: Utf8, Int64, Float64, Boolean, Date32, and
//! Dictionary(Int32, Utf8) for categoricals, so that pyarrow, DuckDB and Spark read them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The customer key in every customer-level table: a string, unique per table.
pub const CUSTOMER_ID: &str = "customer_id";
/// The product column of a holdings table.
pub const PRODUCT: &str = "product";
/// The snapshot date of a holdings table with more than one month.
pub const SNAPSHOT: &str = "snapshot";

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
