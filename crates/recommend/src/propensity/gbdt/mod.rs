//! Gradient-boosted trees on histograms for a binary label: scikit-learn's
//! `HistGradientBoostingClassifier` algorithm (LightGBM's), in linfa's layout.
//!
//! Written here rather than taken from a crate. The most complete pure-Rust one,
//! forust-ml 0.4.8, was measured on the real bank clients on scikit-learn's split
//! (`bench/forust_compare/`, bench/README.md): its best setting (depth-wise trees of
//! depth 5, 100 at rate 0.1) reaches ROC AUC 0.7958 and average precision 0.4580, and
//! with `HistGradientBoostingClassifier`'s own (leaf-wise, 31 leaves, early stopping on
//! a tenth) 0.7851 and 0.4065, where scikit-learn reaches 0.8008 and 0.4602 and this
//! module 0.7996 and 0.4629. The others (hessboost, ferricml) are young one-author
//! crates. Here the trees are also ours to save column by column in the model file
//! and to turn into SQL, byte-identical from a seed. The algorithm is a few hundred
//! lines, tested against scikit-learn's figures on real data (tests/propensity.rs).
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
pub use model::{Gbdt, Walk};
