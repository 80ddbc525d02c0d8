//! Gradient-boosted trees on histograms for a binary label: scikit-learn's
//! `HistGradientBoostingClassifier` algorithm (LightGBM's), in linfa's layout.
//!
//! Written here rather than taken from a crate: the pure-Rust ones (forust-ml,
//! hessboost, ferricml) either grow XGBoost's depth-wise trees without a validation
//! fold to stop on, or are young one-author crates; none gives the trees in a form
//! that `export-sql` turns into `CASE WHEN` with our guarantees of byte-identical
//! models from a seed. The algorithm is a few hundred lines, tested against
//! scikit-learn's figures on real data (tests/propensity.rs).
//!
//! - [`hyperparams`]: [`GbdtParams`] (scikit-learn's defaults) checked into
//!   [`GbdtValidParams`].
//! - `binning`: values to at most 255 bins per feature, missing values in one more.
//! - `grower`: one tree, best split first, on gradient histograms.
//! - `algorithm`: the boosting loop and early stopping; linfa's `Fit`.
//! - [`model`]: the fitted [`Gbdt`]: scores, probabilities, contributions.

mod algorithm;
pub mod binning;
mod errors;
mod grower;
pub mod hyperparams;
pub mod model;

pub use errors::GbdtError;
pub use hyperparams::{EarlyStopping, GbdtParams, GbdtValidParams};
pub use model::Gbdt;
