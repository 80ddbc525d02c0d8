//! DBSCAN's fit: core points by counted neighbourhoods, their components by union–find,
//! clusters numbered by their first core point and border rows given the lowest one.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;

use super::errors::DbscanError;
use super::hyperparams::{DbscanParams, DbscanValidParams};
use super::model::{DbscanFit, PointType};
use super::{check, row, CHUNK_ROWS};
use crate::kdtree::KdTree;

/// Fits DBSCAN: the parameters checked, then the three steps of the module's doc.
pub fn fit(x: ArrayView2<f64>, params: &DbscanParams) -> Result<DbscanFit, DbscanError> {
    fit_checked(x, params.check_ref()?)
}

/// [`fit`] with checked parameters.
pub fn fit_checked(
    x: ArrayView2<f64>,
    params: &DbscanValidParams,
) -> Result<DbscanFit, DbscanError> {
    check(x)?;
    let (eps, min_samples) = (params.eps(), params.min_samples());
    let n = x.nrows();
    let tree = KdTree::new(x);

    // 1. Core points.
    let core: Vec<bool> = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| tree.count_within_capped(&row(x, i), eps, min_samples) >= min_samples)
        .collect();

    // 2. Components of core points; core neighbours of the other rows. A pair of core
    // points is joined from the one earlier in the tree, so each core point looks only
    // at the tree positions after its own: half the search.
    let position = tree.positions();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut border_candidates: Vec<Vec<usize>> = vec![Vec::new(); n];
    for start in (0..n).step_by(CHUNK_ROWS) {
        let rows = start..(start + CHUNK_ROWS).min(n);
        let lists: Vec<Vec<usize>> = rows
            .clone()
            .into_par_iter()
            .with_min_len(64)
            .map(|i| {
                let from = if core[i] { position[i] + 1 } else { 0 };
                tree.within_from(&row(x, i), eps, from, |j| core[j])
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

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, DbscanError> for DbscanValidParams {
    type Object = DbscanFit;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<DbscanFit, DbscanError> {
        fit_checked(dataset.records().view(), self)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array2};

    use super::*;

    #[test]
    fn two_groups_a_border_point_and_noise() {
        // Group A: 0, 0.1, 0.2; group B: 5, 5.1, 5.2; 0.33 is within eps of 0.2 only, so
        // a border point of A; 20 is noise.
        let x = array![[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.33], [20.0]];
        let fit = fit(x.view(), &DbscanParams::new(0.15, 3)).unwrap();
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
        let fit = fit(x.view(), &DbscanParams::new(0.42, 5)).unwrap();
        assert_eq!(fit.clusters, 2);
        assert_eq!(fit.point_types[10], PointType::Border);
        assert_eq!(fit.labels[10], 0);
        assert_eq!(fit.labels[5], 1);
    }

    #[test]
    fn fits_through_linfa_traits_as_the_function_does() {
        let x = array![[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.33], [20.0]];
        let params = DbscanParams::new(0.15, 3);
        let through_linfa = params.fit(&DatasetBase::from(x.clone())).unwrap();
        assert_eq!(through_linfa, fit(x.view(), &params).unwrap());
        assert!(matches!(
            DbscanParams::new(0.0, 3).fit(&DatasetBase::from(x)),
            Err(DbscanError::Eps)
        ));
    }
}
