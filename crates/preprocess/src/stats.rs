//! Column statistics with scikit-learn's and numpy's conventions, so that fitted values
//! equal theirs: population standard deviation (ddof = 0), medians averaging the two
//! middle values, quantiles by numpy's default linear interpolation, and the smallest
//! value among equally frequent ones as the most frequent.

/// Mean of `values`; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Population standard deviation, computed as scikit-learn's `StandardScaler` does
/// (squared deviations from the mean, minus the rounding correction).
pub fn std_dev(values: &[f64], mean: f64) -> f64 {
    let n = values.len() as f64;
    if values.is_empty() {
        return 0.0;
    }
    let correction: f64 = values.iter().map(|v| v - mean).sum();
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    ((squares - correction * correction / n) / n)
        .max(0.0)
        .sqrt()
}

/// The `q` quantile (0 ≤ q ≤ 1) of `sorted` values, by linear interpolation between
/// the closest ranks (numpy's `method="linear"`).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let t = position - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    // numpy's lerp: from the nearer end, so that t = 1 gives b exactly.
    Some(if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    })
}

pub fn median(sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    })
}

/// Sorts a copy of `values` (which hold no NaN: ingest rejects non-finite numbers).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The most frequent of `sorted` values; the smallest among ties.
pub fn most_frequent(sorted: &[f64]) -> Option<f64> {
    let mut best: Option<(f64, usize)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let run = sorted[i..].iter().take_while(|&&v| v == sorted[i]).count();
        if best.is_none_or(|(_, n)| run > n) {
            best = Some((sorted[i], run));
        }
        i += run;
    }
    best.map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_numpy_on_small_cases() {
        let v = sorted(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(median(&v), Some(2.5));
        assert_eq!(quantile(&v, 0.25), Some(1.75)); // np.percentile([1,2,3,4], 25)
        assert_eq!(quantile(&v, 0.75), Some(3.25));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(median(&sorted(&[5.0, 1.0, 3.0])), Some(3.0));
        assert_eq!(
            most_frequent(&sorted(&[3.0, 1.0, 3.0, 1.0, 2.0])),
            Some(1.0)
        );
        let m = mean(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((std_dev(&[1.0, 2.0, 3.0, 4.0], m) - 1.118033988749895).abs() < 1e-15);
        assert_eq!(quantile(&[], 0.5), None);
    }
}
