//! The per-value rules that fit and apply share: clipping to the fences, the skew
//! transforms, the scalers' centre and scale (scikit-learn's conventions for constant
//! columns), and which categories keep a column of their own.

use std::collections::BTreeMap;
use std::path::Path;

use crate::errors::PreprocessError;
use crate::{stats, NumericState, OutlierAction, Scale, Transform};

/// The categories kept in their own column, sorted, and whether any were pooled. With
/// `max_categories`, the rarest are pooled so that `max - 1` remain besides `other`; among
/// equally rare ones, the first in sorted order goes first (scikit-learn's stable sort).
pub(crate) fn keep_categories(
    counts: &BTreeMap<&str, usize>,
    max: Option<usize>,
) -> (Vec<String>, bool) {
    let all: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    match max {
        Some(max) if all.len() > max => {
            let mut by_count: Vec<usize> = (0..all.len()).collect();
            by_count.sort_by_key(|&i| all[i].1);
            let pooled: std::collections::HashSet<usize> =
                by_count[..all.len() - (max - 1)].iter().copied().collect();
            let kept = (0..all.len())
                .filter(|i| !pooled.contains(i))
                .map(|i| all[i].0.to_string())
                .collect();
            (kept, true)
        }
        _ => (all.iter().map(|(k, _)| k.to_string()).collect(), false),
    }
}

pub(crate) fn clip(state: &NumericState, v: f64) -> f64 {
    match &state.outliers {
        Some(o) if o.action == OutlierAction::Clip => v.clamp(o.low, o.high),
        _ => v,
    }
}

pub(crate) fn transform(
    state: &NumericState,
    v: f64,
    path: &Path,
    row: usize,
) -> Result<f64, PreprocessError> {
    Ok(match state.transform {
        Transform::None => v,
        Transform::Log1p if v < 0.0 => {
            return Err(PreprocessError::Negative {
                path: path.to_path_buf(),
                row: row + 1,
                column: state.column.clone(),
            })
        }
        Transform::Log1p => v.ln_1p(),
        Transform::SignedLog1p => v.signum() * v.abs().ln_1p(),
    })
}

/// (center, scale) with scikit-learn's handling of constant columns (scale 1).
pub(crate) fn scaler(scale: Scale, values: &[f64]) -> (f64, f64) {
    let sorted = || stats::sorted(values);
    match scale {
        Scale::None => (0.0, 1.0),
        Scale::Standard => {
            let mean = stats::mean(values).unwrap_or(0.0);
            let sd = stats::std_dev(values, mean);
            // scikit-learn's _is_constant_feature: a variance within rounding of zero.
            let n = values.len() as f64;
            let var = sd * sd;
            let constant = var <= n * f64::EPSILON * var + (n * mean * f64::EPSILON).powi(2);
            (mean, if constant { 1.0 } else { sd })
        }
        Scale::MinMax => {
            let s = sorted();
            let (min, max) = (
                s.first().copied().unwrap_or(0.0),
                s.last().copied().unwrap_or(0.0),
            );
            let range = max - min;
            (
                min,
                if range < 10.0 * f64::EPSILON {
                    1.0
                } else {
                    range
                },
            )
        }
        Scale::Robust => {
            let s = sorted();
            let median = stats::median(&s).unwrap_or(0.0);
            let iqr =
                stats::quantile(&s, 0.75).unwrap_or(0.0) - stats::quantile(&s, 0.25).unwrap_or(0.0);
            (median, if iqr < 10.0 * f64::EPSILON { 1.0 } else { iqr })
        }
    }
}
