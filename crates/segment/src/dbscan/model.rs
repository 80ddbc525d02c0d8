//! A DBSCAN fit, and assigning new rows with it: the cluster of the nearest core point
//! within `eps`, else noise.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::errors::DbscanError;
use super::{check, row};
use crate::kdtree::KdTree;

/// What DBSCAN made of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointType {
    Core,
    Border,
    Noise,
}

impl PointType {
    pub fn name(self) -> &'static str {
        match self {
            PointType::Core => "core",
            PointType::Border => "border",
            PointType::Noise => "noise",
        }
    }
}

/// What a fit found.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscanFit {
    /// Cluster of each row, `-1` for noise.
    pub labels: Vec<i32>,
    pub point_types: Vec<PointType>,
    pub clusters: usize,
}

/// Assigns new rows: the cluster of the nearest core point within `eps`, else noise.
pub fn assign(
    core_points: ArrayView2<f64>,
    core_labels: &[i32],
    eps: f64,
    x: ArrayView2<f64>,
) -> Result<Vec<i32>, DbscanError> {
    check(x)?;
    if core_points.nrows() == 0 {
        return Ok(vec![-1; x.nrows()]);
    }
    let tree = KdTree::new(core_points);
    Ok((0..x.nrows())
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            // The nearest core point, the lowest row on ties.
            match tree.nearest(&row(x, i), 1).first() {
                Some(&(d2, j)) if d2 <= eps * eps => core_labels[j],
                _ => -1,
            }
        })
        .collect())
}

/// The core rows of a fit, and their labels: what [`assign`] needs.
pub fn core_points(x: ArrayView2<f64>, fit: &DbscanFit) -> (Array2<f64>, Vec<i32>) {
    let rows: Vec<usize> = (0..x.nrows())
        .filter(|&i| fit.point_types[i] == PointType::Core)
        .collect();
    (
        x.select(ndarray::Axis(0), &rows),
        rows.iter().map(|&i| fit.labels[i]).collect(),
    )
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;
    use crate::dbscan::{fit, DbscanParams};

    #[test]
    fn new_rows_take_the_nearest_core_within_eps() {
        let x = array![[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]];
        let params = DbscanParams::new(0.15, 3);
        let fitted = fit(x.view(), &params).unwrap();
        let (core, labels) = core_points(x.view(), &fitted);
        let new = array![[0.05], [5.2], [3.0]];
        assert_eq!(
            assign(core.view(), &labels, 0.15, new.view()).unwrap(),
            vec![0, 1, -1]
        );
    }
}
