//! Tuning the blend: the weight grid searched for the best MAP@k on a seeded sample of
//! validation customers, as close to the task as the holdings allow:
//!
//! - with at least two snapshots that transitions may be learnt from, on the **last
//!   transition**: the methods fitted on the snapshot before it (and the transitions
//!   before that), asked for the products newly held at its end — the task itself, one
//!   period earlier, never the test period;
//! - otherwise on a **holdout** of the training baskets (`validation_fraction` of each
//!   customer's products).
//!
//! With fewer than [`MIN_VALIDATION_CUSTOMERS`] customers to validate on, the grid is
//! still searched and written, but the configured weights are kept.

use std::collections::BTreeMap;

use clientele_numeric::sample::sample_rows;
use clientele_shared::stage::StageContext;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blend::{self, candidates, normalise, ValidationCase};
use crate::methods::{Fitted, Settings};
use crate::params::{Method, RecommendParams};
use crate::read::StageData;
use crate::split::{holdout, Holdout, Split};

/// Below this many validation customers, a tuned weight is noise: the configured
/// weights are kept, and the notes say so.
pub const MIN_VALIDATION_CUSTOMERS: usize = 200;

/// The result of tuning the blend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// `last transition` or `holdout`.
    #[serde(default)]
    pub validation: String,
    pub validation_customers: usize,
    /// Whether the weights below were used (else too few validation customers).
    #[serde(default)]
    pub applied: bool,
    pub best_map: f64,
    pub weights: BTreeMap<Method, f64>,
    pub grid: Vec<GridPoint>,
}

/// One point of the weight grid and its validation MAP@k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridPoint {
    pub weights: BTreeMap<Method, f64>,
    pub map_at_k: f64,
}

/// Holds out `validation_fraction` of each customer's training products, fits the
/// methods on the rest and searches the grid over the methods `configured` weighs
/// above 0.
pub fn tune_blend(
    params: &RecommendParams,
    data: &mut StageData,
    split: &Split,
    settings: Settings,
    configured: &BTreeMap<Method, f64>,
    ctx: &StageContext<'_>,
) -> Tuning {
    let n = split.history.len();
    // The snapshots the validation fit learns from, and the date of the one it scores.
    let dated = |end: usize| split.history_dates.get(..end).unwrap_or(&[]);
    let (validation, history, (train_date, history_dates), kind) = if n >= 2 {
        let (before, after) = (&split.history[n - 2], &split.history[n - 1]);
        let validation = Holdout {
            train: before.clone(),
            test: after.iter().zip(before).map(|(a, b)| a & !b).collect(),
        };
        let train_date = split.history_dates.get(n - 2).copied().flatten();
        (
            validation,
            &split.history[..n - 1],
            (train_date, dated(n - 1)),
            "last transition",
        )
    } else {
        let validation = holdout(
            &split.train,
            params.validation_fraction,
            ctx.seed ^ 0x7475_6e65,
        );
        // The products held out for validation were acquired at the latest snapshots:
        // the last transition could teach `propensity` the very answers, so it is left
        // out.
        (
            validation,
            &split.history[..n.saturating_sub(1)],
            (split.train_date, dated(n.saturating_sub(1))),
            "holdout",
        )
    };
    ctx.progress
        .step(&format!("tuning the blend on the {kind}"));
    // With a panel, the customers as they were at the snapshot scored for validation.
    data.score_at(train_date);
    let data = &*data;
    let inputs = data
        .inputs(
            &validation.train,
            history,
            split.held_out_customers.as_deref(),
        )
        .dated(train_date, history_dates);
    let fitted = Fitted::fit(&inputs, settings, &|s| ctx.progress.step(s));
    let blended: Vec<usize> = fitted
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| configured.get(m).is_some_and(|w| *w > 0.0))
        .map(|(i, _)| i)
        .collect();
    let held_out = &validation.test;
    let with_held_out: Vec<usize> = (0..held_out.len()).filter(|&c| held_out[c] != 0).collect();
    let sample: Vec<usize> =
        sample_rows(with_held_out.len(), params.tune_customers, ctx.seed ^ 0x5a)
            .into_iter()
            .map(|i| with_held_out[i])
            .collect();
    let np = inputs.product_names.len();
    let cases: Vec<ValidationCase> = sample
        .par_iter()
        .map(|&c| {
            let mut scores = fitted.scratch();
            fitted.score(&inputs, c, &mut scores);
            let candidates = candidates(&data.eligibility, &inputs, c);
            let mut normalised = vec![0.0; blended.len() * np];
            for (j, &m) in blended.iter().enumerate() {
                normalise(
                    &scores.raw[m * np..(m + 1) * np],
                    candidates,
                    &mut normalised[j * np..(j + 1) * np],
                );
            }
            ValidationCase {
                candidates,
                normalised,
                held_out: held_out[c],
            }
        })
        .collect();
    let grid = blend::weight_grid(blended.len(), params.tune_step);
    let maps = blend::grid_map(&cases, &grid, fitted.popularity(), params.top_k);
    let as_map = |weights: &[f64]| -> BTreeMap<Method, f64> {
        fitted
            .methods
            .iter()
            .map(|m| {
                let w = blended
                    .iter()
                    .position(|&i| fitted.methods[i] == *m)
                    .map_or(0.0, |j| weights[j]);
                (*m, w)
            })
            .collect()
    };
    let best = best_point(&maps);
    let applied = cases.len() >= MIN_VALIDATION_CUSTOMERS;
    Tuning {
        validation: kind.to_string(),
        validation_customers: cases.len(),
        applied,
        best_map: best.map_or(0.0, |b| maps[b]),
        weights: best.map_or_else(|| configured.clone(), |b| as_map(&grid[b])),
        grid: grid
            .iter()
            .zip(&maps)
            .map(|(w, &map_at_k)| GridPoint {
                weights: as_map(w),
                map_at_k,
            })
            .collect(),
    }
}

/// The grid point with the highest MAP@k, the first of equals (the grid is in a fixed
/// order, so ties resolve the same way on every run); `None` for an empty grid.
fn best_point(maps: &[f64]) -> Option<usize> {
    let mut best = None;
    for (i, &map) in maps.iter().enumerate() {
        if best.is_none_or(|b: usize| map > maps[b]) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_equal_best_points_wins() {
        assert_eq!(best_point(&[0.1, 0.4, 0.2, 0.4]), Some(1));
        assert_eq!(best_point(&[0.3]), Some(0));
        assert_eq!(best_point(&[]), None);
        // A NaN never displaces a number.
        assert_eq!(best_point(&[0.2, f64::NAN, 0.1]), Some(0));
    }
}
