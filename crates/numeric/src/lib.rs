//! The numerical side that more than one clientele stage needs, and nothing that reads
//! or writes a file.
//!
//! - [`classification`]: ROC AUC, average precision and the top share of a
//!   classifier's scores, with scikit-learn's definitions.
//! - [`clustering`]: silhouette, Davies–Bouldin, Calinski–Harabasz and the adjusted
//!   Rand index with scikit-learn's definitions, for segment, evaluate and report.
//! - [`nearest`]: exact k-nearest references by brute force, the same neighbours to
//!   the bit on every CPU, for the recommend stage's content neighbours.
//! - [`ranking`]: the ranking metrics at k, one definition for the recommend stage's
//!   weight tuning and the evaluate stage's scores.
//! - [`sample`]: seeded row samples.
//! - [`simd`]: hot loops compiled for AVX2 and the baseline, chosen at run time, with
//!   the same results bit for bit; `CLIENTELE_SIMD` caps what every kernel may use.
//!
//! It depends on no Arrow, Parquet or encryption crate: the I/O side (the stage
//! contract, the schema, Parquet, atomic writes, encryption, partitions) is
//! `clientele-shared`. Each can be read, built and tested without the other.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod classification;
pub mod clustering;
pub mod nearest;
pub mod ranking;
pub mod sample;
pub mod simd;
