//! DBSCAN with scikit-learn's labels, in memory linear in the number of rows.
//!
//! scikit-learn computes every neighbourhood first and keeps them all (memory grows with
//! n × mean neighbourhood size); here neighbourhoods are queried from a KD-tree
//! ([`crate::kdtree`]) in chunks and dropped once used:
//! 1. count each row's neighbours within `eps` (itself included): rows with at least
//!    `min_samples` are core points;
//! 2. join core points within `eps` of each other (union–find); for a non-core row keep
//!    only its core neighbours (fewer than `min_samples`);
//! 3. number the clusters in the order of their first core point, and give a border row
//!    the lowest-numbered cluster among its core neighbours.
//!
//! Step 3 gives exactly scikit-learn's labels: it expands clusters depth-first from core
//! points in row order, so clusters are numbered by their first core point and a border
//! point goes to the first cluster expanded that reaches it, the lowest-numbered one.
//!
//! In linfa's layout: `hyperparams` ([`DbscanParams`] → [`DbscanValidParams`], checked
//! by linfa's `ParamGuard`), `errors` ([`DbscanError`]), `algorithm` ([`fit`], and
//! linfa's `Fit`), `model` ([`DbscanFit`], assigning new rows), `knee` (the k-distance
//! curve and its knee, for `eps = "auto"`).

mod algorithm;
mod errors;
mod hyperparams;
mod knee;
mod model;

use std::borrow::Cow;

use ndarray::ArrayView2;

pub use algorithm::{fit, fit_checked};
pub use errors::DbscanError;
pub use hyperparams::{DbscanParams, DbscanValidParams};
pub use knee::{k_distances, knee};
pub use model::{assign, core_points, DbscanFit, PointType};

/// Rows whose neighbourhoods are held at once.
const CHUNK_ROWS: usize = 4096;

/// Refuses a matrix without rows or features, or with a value that is not finite.
fn check(x: ArrayView2<f64>) -> Result<(), DbscanError> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(DbscanError::Empty);
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(DbscanError::NotFinite);
    }
    Ok(())
}

/// Row `i` as a contiguous slice.
fn row(x: ArrayView2<'_, f64>, i: usize) -> Cow<'_, [f64]> {
    let view = x.index_axis_move(ndarray::Axis(0), i);
    match view.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(view.to_vec()),
    }
}
