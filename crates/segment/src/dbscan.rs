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

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kdtree::KdTree;
use crate::{ParamError, SegmentError};

/// Rows whose neighbourhoods are held at once.
const CHUNK_ROWS: usize = 4096;

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

#[derive(Debug, Clone, PartialEq)]
pub struct DbscanParams {
    pub eps: f64,
    pub min_samples: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DbscanFit {
    /// Cluster of each row, `-1` for noise.
    pub labels: Vec<i32>,
    pub point_types: Vec<PointType>,
    pub clusters: usize,
}

fn check(x: ArrayView2<f64>) -> Result<(), SegmentError> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(ParamError::DbscanEmpty.into());
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(SegmentError::NotFinite);
    }
    Ok(())
}

/// Row `i` as a contiguous slice.
fn row(x: ArrayView2<'_, f64>, i: usize) -> std::borrow::Cow<'_, [f64]> {
    let view = x.index_axis_move(ndarray::Axis(0), i);
    match view.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(view.to_vec()),
    }
}

pub fn fit(x: ArrayView2<f64>, params: &DbscanParams) -> Result<DbscanFit, SegmentError> {
    check(x)?;
    if !(params.eps > 0.0 && params.eps.is_finite()) || params.min_samples < 1 {
        return Err(ParamError::DbscanParams.into());
    }
    let n = x.nrows();
    let tree = KdTree::new(x);

    // 1. Core points.
    let counts: Vec<usize> = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| tree.count_within(&row(x, i), params.eps))
        .collect();
    let core: Vec<bool> = counts.iter().map(|&c| c >= params.min_samples).collect();

    // 2. Components of core points; core neighbours of the other rows.
    let mut parent: Vec<usize> = (0..n).collect();
    let mut border_candidates: Vec<Vec<usize>> = vec![Vec::new(); n];
    for start in (0..n).step_by(CHUNK_ROWS) {
        let rows = start..(start + CHUNK_ROWS).min(n);
        let lists: Vec<Vec<usize>> = rows
            .clone()
            .into_par_iter()
            .with_min_len(64)
            .map(|i| {
                let mut list = tree.within(&row(x, i), params.eps);
                list.retain(|&j| core[j]);
                list
            })
            .collect();
        for (i, list) in rows.zip(lists) {
            if core[i] {
                for j in list {
                    union(&mut parent, i, j);
                }
            } else {
                border_candidates[i] = list;
            }
        }
    }

    // 3. Number clusters by their first core point.
    let mut number = vec![-1i32; n];
    let mut clusters = 0i32;
    let mut labels = vec![-1i32; n];
    for i in 0..n {
        if core[i] {
            let root = find(&mut parent, i);
            if number[root] < 0 {
                number[root] = clusters;
                clusters += 1;
            }
            labels[i] = number[root];
        }
    }
    let mut point_types = vec![PointType::Noise; n];
    for i in 0..n {
        if core[i] {
            point_types[i] = PointType::Core;
        } else if !border_candidates[i].is_empty() {
            let mut best = i32::MAX;
            for &j in &border_candidates[i] {
                let root = find(&mut parent, j);
                best = best.min(number[root]);
            }
            labels[i] = best;
            point_types[i] = PointType::Border;
        }
    }
    Ok(DbscanFit {
        labels,
        point_types,
        clusters: clusters as usize,
    })
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // The smaller index becomes the root; any choice gives the same components.
        let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[high] = low;
    }
}

/// The sorted k-distance curve: each row's distance to its `min_samples`-th nearest row
/// (itself counted first, as DBSCAN counts it).
pub fn k_distances(x: ArrayView2<f64>, min_samples: usize) -> Result<Vec<f64>, SegmentError> {
    check(x)?;
    let tree = KdTree::new(x);
    let k = min_samples.clamp(1, x.nrows());
    let mut distances: Vec<f64> = (0..x.nrows())
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            tree.nearest(&row(x, i), k)
                .last()
                .map_or(0.0, |(d2, _)| d2.sqrt())
        })
        .collect();
    distances.sort_by(f64::total_cmp);
    Ok(distances)
}

/// The knee of an ascending curve: the point farthest below the chord from its first to
/// its last point, both axes scaled to [0, 1] (the "kneedle" rule). `None` for a flat or
/// too short curve.
pub fn knee(curve: &[f64]) -> Option<f64> {
    let (first, last) = (*curve.first()?, *curve.last()?);
    if curve.len() < 3 || last <= first {
        return None;
    }
    let span = (curve.len() - 1) as f64;
    let mut best = (f64::NEG_INFINITY, 0usize);
    for (i, &y) in curve.iter().enumerate() {
        let gap = i as f64 / span - (y - first) / (last - first);
        if gap > best.0 {
            best = (gap, i);
        }
    }
    Some(curve[best.1]).filter(|eps| *eps > 0.0)
}

/// Assigns new rows: the cluster of the nearest core point within `eps`, else noise.
pub fn assign(
    core_points: ArrayView2<f64>,
    core_labels: &[i32],
    eps: f64,
    x: ArrayView2<f64>,
) -> Result<Vec<i32>, SegmentError> {
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
    use super::*;
    use ndarray::array;

    #[test]
    fn two_groups_a_border_point_and_noise() {
        // Group A: 0, 0.1, 0.2; group B: 5, 5.1, 5.2; 0.33 is within eps of 0.2 only, so
        // a border point of A; 20 is noise.
        let x = array![[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.33], [20.0]];
        let fit = fit(
            x.view(),
            &DbscanParams {
                eps: 0.15,
                min_samples: 3,
            },
        )
        .unwrap();
        assert_eq!(fit.labels, vec![0, 0, 0, 1, 1, 1, 0, -1]);
        assert_eq!(fit.clusters, 2);
        use PointType::*;
        assert_eq!(
            fit.point_types,
            vec![Border, Core, Core, Border, Core, Border, Border, Noise]
        );
    }

    #[test]
    fn a_border_point_reached_by_two_clusters_goes_to_the_first() {
        // Two groups of five 0.05 apart, 0.8 between them; 0.6 is 0.4 from the end of
        // each, so a border point of both (3 neighbours < 5).
        let mut rows: Vec<f64> = (0..5).map(|i| i as f64 * 0.05).collect();
        rows.extend((0..5).map(|i| 1.0 + i as f64 * 0.05));
        rows.push(0.6);
        let x = Array2::from_shape_vec((11, 1), rows).unwrap();
        let fit = fit(
            x.view(),
            &DbscanParams {
                eps: 0.42,
                min_samples: 5,
            },
        )
        .unwrap();
        assert_eq!(fit.clusters, 2);
        assert_eq!(fit.point_types[10], PointType::Border);
        assert_eq!(fit.labels[10], 0);
        assert_eq!(fit.labels[5], 1);
    }

    #[test]
    fn new_rows_take_the_nearest_core_within_eps() {
        let x = array![[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]];
        let params = DbscanParams {
            eps: 0.15,
            min_samples: 3,
        };
        let fitted = fit(x.view(), &params).unwrap();
        let (core, labels) = core_points(x.view(), &fitted);
        let new = array![[0.05], [5.2], [3.0]];
        assert_eq!(
            assign(core.view(), &labels, params.eps, new.view()).unwrap(),
            vec![0, 1, -1]
        );
    }

    #[test]
    fn the_knee_is_where_the_curve_turns_up() {
        let mut curve: Vec<f64> = (0..90).map(|i| 1.0 + i as f64 * 0.01).collect();
        curve.extend((0..10).map(|i| 3.0 + i as f64));
        assert_eq!(knee(&curve), Some(curve[89]));
        assert_eq!(knee(&[1.0, 1.0, 1.0]), None);
    }
}
