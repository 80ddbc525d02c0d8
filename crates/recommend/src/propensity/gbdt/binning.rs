//! Feature values to bins, as scikit-learn's `_BinMapper` does: per feature, the
//! midpoints between distinct values when there are at most `max_bins` of them, else the
//! `midpoint` percentiles of a seeded subsample of 200,000 values; a value goes to the
//! first bin whose upper threshold it does not exceed. Missing values (NaN) get the last
//! bin, [`MISSING_BIN`], whatever the feature's bin count.

use clientele_numeric::sample::sample_rows;
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The bin of a missing value.
pub const MISSING_BIN: u8 = 255;

/// Values per feature that the thresholds are computed from (scikit-learn's
/// `subsample` default).
const SUBSAMPLE: usize = 200_000;

/// Each feature's bin thresholds: bin `b` holds the values in
/// `(thresholds[b - 1], thresholds[b]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    pub thresholds: Vec<Vec<f64>>,
}

/// A binned matrix, column-major: feature `f`'s bins are `bins[f * rows..(f + 1) * rows]`,
/// so that a histogram reads one contiguous column.
#[derive(Debug, Clone)]
pub struct Binned {
    pub bins: Vec<u8>,
    pub rows: usize,
    pub features: usize,
}

impl Binned {
    pub fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.rows..(f + 1) * self.rows]
    }
}

impl BinMapper {
    /// Learns the thresholds of each column of `x` (rows × features).
    pub fn fit(x: ArrayView2<f64>, max_bins: usize, seed: u64) -> Self {
        let n = x.nrows();
        let picked: Option<Vec<usize>> = (n > SUBSAMPLE).then(|| sample_rows(n, SUBSAMPLE, seed));
        let thresholds = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let column = x.column(f);
                let mut values: Vec<f64> = match &picked {
                    Some(rows) => rows.iter().map(|&r| column[r]).collect(),
                    None => column.iter().copied().collect(),
                };
                values.retain(|v| !v.is_nan());
                thresholds_of(values, max_bins)
            })
            .collect();
        BinMapper { thresholds }
    }

    /// Bins for the values that are there: one more than the thresholds.
    pub fn bins_present(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }

    /// The bin of `v` in feature `f`.
    pub fn bin(&self, f: usize, v: f64) -> u8 {
        if v.is_nan() {
            MISSING_BIN
        } else {
            self.thresholds[f].partition_point(|&t| t < v) as u8
        }
    }

    /// Bins every value of `x`, column-major.
    pub fn transform(&self, x: ArrayView2<f64>) -> Binned {
        let (rows, features) = x.dim();
        let mut bins = vec![0u8; rows * features];
        bins.par_chunks_mut(rows.max(1))
            .enumerate()
            .take(features)
            .for_each(|(f, out)| {
                for (b, &v) in out.iter_mut().zip(x.column(f)) {
                    *b = self.bin(f, v);
                }
            });
        Binned {
            bins,
            rows,
            features,
        }
    }
}

/// The thresholds of one feature's values (NaN removed).
fn thresholds_of(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    let mut thresholds: Vec<f64> = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
    } else {
        // numpy's percentile, method "midpoint", at linspace(0, 100, max_bins + 1)[1:-1].
        (1..max_bins)
            .map(|i| {
                let q = 100.0 * i as f64 / max_bins as f64;
                let position = q / 100.0 * (values.len() - 1) as f64;
                let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
                (values[lo] + values[hi]) / 2.0
            })
            .collect()
    };
    thresholds.dedup();
    // An infinite threshold would send every value left; scikit-learn caps it likewise.
    for t in &mut thresholds {
        *t = t.clamp(f64::MIN, f64::MAX);
    }
    thresholds
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn few_distinct_values_split_at_midpoints_and_missing_gets_its_bin() {
        let x = array![[1.0], [3.0], [f64::NAN], [3.0], [7.0]];
        let mapper = BinMapper::fit(x.view(), 255, 0);
        assert_eq!(mapper.thresholds[0], [2.0, 5.0]);
        let binned = mapper.transform(x.view());
        assert_eq!(binned.column(0), [0, 1, MISSING_BIN, 1, 2]);
        assert_eq!(mapper.bin(0, 2.0), 0, "a value on a threshold goes left");
        assert_eq!(mapper.bin(0, 100.0), 2);
    }

    #[test]
    fn many_distinct_values_split_at_midpoint_percentiles() {
        // 0..=99 into 4 bins: percentiles 25, 50, 75 at positions 24.75, 49.5, 74.25.
        let x = ndarray::Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let mapper = BinMapper::fit(x.view(), 4, 0);
        assert_eq!(mapper.thresholds[0], [24.5, 49.5, 74.5]);
    }
}
