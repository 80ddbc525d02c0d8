//! Turning scores into lists: normalising each method's scores, blending them, ranking,
//! and tuning the blend's weights on a validation split.

use clientele_numeric::ranking::list_scores;
use rayon::prelude::*;

use crate::catalogue::Eligibility;
use crate::holdings::{products_of, Basket};
use crate::methods::Inputs;

/// The products customer `c` may be recommended: eligible and not held.
pub fn candidates(eligibility: &Eligibility, inputs: &Inputs<'_>, c: usize) -> Basket {
    let segment = inputs.segments.and_then(|s| s[c]);
    eligibility.for_customer(c, segment) & !inputs.train[c]
}

/// Min-max normalises `raw` over the candidate products into `out` (0 outside them):
/// the best candidate scores 1 and the worst 0, so that methods on different scales
/// (shares, votes, similarities, projections) blend on one. A method that scores every
/// candidate the same says nothing, and scores 0 throughout.
pub fn normalise(raw: &[f64], candidates: Basket, out: &mut [f64]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in products_of(candidates) {
        if raw[p].is_finite() {
            low = low.min(raw[p]);
            high = high.max(raw[p]);
        }
    }
    if high <= low || !high.is_finite() {
        return;
    }
    for p in products_of(candidates) {
        if raw[p].is_finite() {
            out[p] = (raw[p] - low) / (high - low);
        }
    }
}

/// The `k` candidates with the highest score above 0, best first; equal scores go to
/// the more popular product, then to the first in product order.
pub fn top_k(
    scores: &[f64],
    candidates: Basket,
    popularity: &[f64],
    k: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    out.extend(products_of(candidates).filter(|&p| scores[p] > 0.0));
    out.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then(popularity[b].total_cmp(&popularity[a]))
            .then(a.cmp(&b))
    });
    out.truncate(k);
}

/// `Σ weight · normalised`, product by product. `normalised` is `methods × P`.
pub fn blend(normalised: &[f64], weights: &[f64], out: &mut [f64]) {
    let np = out.len();
    out.iter_mut().for_each(|v| *v = 0.0);
    for (m, &w) in weights.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        for (o, v) in out.iter_mut().zip(&normalised[m * np..(m + 1) * np]) {
            *o += w * v;
        }
    }
}

/// Every weight vector of `methods` non-negative multiples of `step` summing to 1, in
/// lexicographic order of the weights (so the first of equal scores wins the same way
/// on every run).
pub fn weight_grid(methods: usize, step: f64) -> Vec<Vec<f64>> {
    let units = (1.0 / step).round().max(1.0) as usize;
    let mut grid = Vec::new();
    let mut current = vec![0usize; methods];
    fn go(i: usize, left: usize, current: &mut Vec<usize>, units: usize, grid: &mut Vec<Vec<f64>>) {
        if i + 1 == current.len() {
            current[i] = left;
            grid.push(current.iter().map(|&u| u as f64 / units as f64).collect());
            return;
        }
        for u in (0..=left).rev() {
            current[i] = u;
            go(i + 1, left - u, current, units, grid);
        }
    }
    if methods > 0 {
        go(0, units, &mut current, units, &mut grid);
    }
    grid
}

/// One validation customer: the candidates, each blended method's normalised scores,
/// and the products held out.
pub struct ValidationCase {
    pub candidates: Basket,
    pub normalised: Vec<f64>,
    pub held_out: Basket,
}

/// The mean AP@k of every weight vector of `grid` over the validation cases.
pub fn grid_map(
    cases: &[ValidationCase],
    grid: &[Vec<f64>],
    popularity: &[f64],
    k: usize,
) -> Vec<f64> {
    let np = popularity.len();
    grid.par_iter()
        .map(|weights| {
            let mut blended = vec![0.0; np];
            let mut list = Vec::with_capacity(np);
            let mut sum = 0.0;
            for case in cases {
                blend(&case.normalised, weights, &mut blended);
                top_k(&blended, case.candidates, popularity, k, &mut list);
                let relevant = case.held_out.count_ones() as usize;
                let scores = list_scores(
                    list.iter().map(|&p| case.held_out & (1 << p) != 0),
                    relevant,
                    k,
                );
                sum += scores.average_precision;
            }
            if cases.is_empty() {
                0.0
            } else {
                sum / cases.len() as f64
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_spans_zero_to_one_over_candidates() {
        let raw = [5.0, 1.0, 3.0, 100.0];
        let mut out = [9.0; 4];
        normalise(&raw, 0b0111, &mut out);
        assert_eq!(out, [1.0, 0.0, 0.5, 0.0]);
        normalise(&[2.0, 2.0, 7.0, 0.0], 0b0011, &mut out);
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    fn ties_go_to_the_more_popular_product() {
        let mut list = Vec::new();
        top_k(
            &[0.5, 0.5, 1.0, 0.0],
            0b1111,
            &[0.1, 0.2, 0.0, 0.9],
            3,
            &mut list,
        );
        assert_eq!(list, vec![2, 1, 0]);
    }

    #[test]
    fn the_grid_covers_the_simplex() {
        let grid = weight_grid(3, 0.5);
        assert_eq!(grid.len(), 6);
        assert_eq!(grid[0], vec![1.0, 0.0, 0.0]);
        assert!(grid
            .iter()
            .all(|w| (w.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    }
}
