//! What every clientele stage needs, and nothing a single stage owns.
//!
//! - [`stage`]: the contract between the runner and a stage: its declared input and
//!   output ports, the context it runs in, and the report it returns.
//! - [`schema`]: the columns of the tables that pass between stages, written down once.
//! - [`parquet_io`]: reading Parquet with errors that name the file, and writing it
//!   (zstd, plain Arrow types) through [`atomic`] so that no reader ever sees half a file.
//!
//! This crate holds no stage logic and no pipeline configuration: stages live in their
//! own crates, the pipeline TOML and the order of stages in the `clientele` runner.

pub mod atomic;
pub mod error;
pub mod parquet_io;
pub mod schema;
pub mod stage;

pub use error::SharedError;
