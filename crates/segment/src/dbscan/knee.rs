//! `eps = "auto"`: the sorted k-distance curve and its knee.

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::errors::DbscanError;
use super::{check, row};
use crate::kdtree::KdTree;

/// The sorted k-distance curve: each row's distance to its `min_samples`-th nearest row
/// (itself counted first, as DBSCAN counts it).
pub fn k_distances(x: ArrayView2<f64>, min_samples: usize) -> Result<Vec<f64>, DbscanError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_knee_is_where_the_curve_turns_up() {
        let mut curve: Vec<f64> = (0..90).map(|i| 1.0 + i as f64 * 0.01).collect();
        curve.extend((0..10).map(|i| 3.0 + i as f64));
        assert_eq!(knee(&curve), Some(curve[89]));
        assert_eq!(knee(&[1.0, 1.0, 1.0]), None);
    }
}
