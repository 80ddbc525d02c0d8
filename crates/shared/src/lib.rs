//! What every clientele stage needs, and nothing a single stage owns.
//!
//! - [`stage`]: the contract between the runner and a stage: its declared input and
//!   output ports, the context it runs in, and the report it returns.
//! - [`schema`]: the columns of the tables that pass between stages, written down once.
//! - [`features`]: the features table read into ids and a dense matrix.
//! - [`parquet_io`]: reading Parquet with errors that name the file, and writing it
//!   (zstd, plain Arrow types) through [`atomic`] so that no reader ever sees half a file.
//! - [`simd`]: hot loops compiled for AVX2 and the baseline, chosen at run time, with
//!   the same results bit for bit.
//! - [`sample`]: seeded row samples.
//! - [`partition`]: hash partitions of the customers for scoring in N independent jobs,
//!   and the checked merge of their outputs.
//! - [`clustering`]: silhouette, Davies–Bouldin, Calinski–Harabasz and the adjusted
//!   Rand index with scikit-learn's definitions, for segment and evaluate.
//! - [`ranking`]: the ranking metrics at k, one definition for the recommend stage's
//!   weight tuning and the evaluate stage's scores.
//!
//! This crate holds no stage logic and no pipeline configuration: stages live in their
//! own crates, the pipeline TOML and the order of stages in the `clientele` runner.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod atomic;
pub mod clustering;
pub mod encryption;
pub mod error;
pub mod features;
pub mod parquet_io;
pub mod partition;
pub mod ranking;
pub mod sample;
pub mod schema;
pub mod simd;
pub mod stage;

pub use error::SharedError;
