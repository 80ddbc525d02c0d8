//! The I/O side of what every clientele stage needs, and nothing a single stage owns.
//!
//! - [`stage`]: the contract between the runner and a stage: its declared input and
//!   output ports, the context it runs in, and the report it returns.
//! - [`schema`]: the columns of the tables that pass between stages, written down once.
//! - [`features`]: the features table read into ids and a dense matrix.
//! - [`parquet_io`]: reading Parquet with errors that name the file, and writing it
//!   (zstd, plain Arrow types) through [`atomic`] so that no reader ever sees half a file.
//! - [`partition`]: hash partitions of the customers for scoring in N independent jobs,
//!   and the checked merge of their outputs.
//! - [`encryption`]: the Parquet encryption key, which travels in the stage context.
//! - [`error`]: [`SharedError`], whose messages name the file.
//!
//! The numerical side that stages share (clustering and ranking metrics, samples, SIMD
//! dispatch) is the `clientele-numeric` crate, which does no I/O.
//!
//! This crate holds no stage logic and no pipeline configuration: stages live in their
//! own crates, the pipeline TOML and the order of stages in the `clientele` runner.

#![forbid(unsafe_code)]

pub mod atomic;
pub mod encryption;
pub mod error;
pub mod features;
pub mod hashing;
pub mod parquet_io;
pub mod partition;
pub mod schema;
pub mod stage;

pub use error::SharedError;
