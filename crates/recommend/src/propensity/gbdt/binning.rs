//! Feature values to bins, as scikit-learn's `_BinMapper` does: per feature, the
//! midpoints between distinct values when there are at most `max_bins` of them, else the
//! `midpoint` percentiles of a seeded subsample of 200,000 values; a value goes to the
//! first bin whose upper threshold it does not exceed. Missing values (NaN) get a bin of
//! their own, after the feature's present bins.

use clientele_numeric::sample::sample_rows;
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Values per feature that the thresholds are computed from (scikit-learn's
/// `subsample` default).
const SUBSAMPLE: usize = 200_000;

/// Each feature's bin thresholds: bin `b` holds the values in
/// `(thresholds[b - 1], thresholds[b]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    pub thresholds: Vec<Vec<f64>>,
}

/// A binned matrix, twice: by column, for the partitions (which read one feature of a
/// node's rows), and by row as histogram slots, for the histograms.
///
/// A histogram takes a row at a time (LightGBM's row-wise histograms): a deep node's
/// rows are far apart, and feature by feature each row would cost a cache miss per
/// feature; row by row, one row's slots are read together, and consecutive updates of a
/// feature's bins are a whole row apart, so they do not wait for each other when every
/// row falls in the same bin. A row lists only its bins that are not their feature's
/// most frequent (`common`): the common bin's sums are the node's totals less the other
/// bins' (LightGBM's `most_freq_bin`), which leaves out most of a one-hot column.
///
/// A feature's bins are its present ones, then `missing[f]` for the missing values.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Feature `f`'s bins are `columns[f * rows..(f + 1) * rows]`.
    pub columns: Vec<u8>,
    pub rows: usize,
    pub features: usize,
    /// Per feature, the bin of missing values: the number of its present bins.
    pub missing: Vec<u8>,
    /// Where each feature's bins start in a histogram, and (last) where they all end.
    pub offsets: Vec<usize>,
    /// Per feature, its most frequent bin.
    pub common: Vec<u8>,
    /// Each row's other bins as histogram slots.
    pub slots: Slots,
}

/// Rows' histogram slots (`offsets[f] + bin`), row after row: row `r`'s are
/// `slots[starts[r]..starts[r + 1]]`.
#[derive(Debug, Clone)]
pub struct RowSlots<S> {
    pub slots: Vec<S>,
    pub starts: Vec<usize>,
}

impl<S> RowSlots<S> {
    /// Row `r`'s histogram slots, its features' common bins left out.
    #[inline]
    pub fn row(&self, r: usize) -> &[S] {
        &self.slots[self.starts[r]..self.starts[r + 1]]
    }
}

/// Two bytes a slot while a histogram has at most 65,536 bins (up to 256 features of
/// any bin count): the histograms stream the slots of every row of the root, and at a
/// million rows four bytes a slot left them waiting on memory.
#[derive(Debug, Clone)]
pub enum Slots {
    Narrow(RowSlots<u16>),
    Wide(RowSlots<u32>),
}

/// A histogram slot's index.
pub trait Slot: Copy + Send + Sync {
    fn index(self) -> usize;
}

impl Slot for u16 {
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Slot for u32 {
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
}

impl Binned {
    /// Feature `f`'s bins.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.columns[f * self.rows..(f + 1) * self.rows]
    }

    /// Whether row `r` goes left at a split of feature `f` at bin `at`.
    #[inline]
    pub fn goes_left(&self, r: usize, f: usize, at: u8, missing_left: bool) -> bool {
        let b = self.columns[f * self.rows + r];
        if b == self.missing[f] {
            missing_left
        } else {
            b <= at
        }
    }
}

/// Rows listed at a time when the slots are built in parallel.
const BLOCK_ROWS: usize = 1 << 14;

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

    /// Bins for the values that are there: one more than the thresholds (at most 255,
    /// as `max_bins` is; the missing values' bin is the next).
    pub fn bins_present(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }

    /// The bin of the present value `v` in feature `f`.
    pub fn bin(&self, f: usize, v: f64) -> u8 {
        first_not_below(&self.thresholds[f], v) as u8
    }

    /// Bins every value of `x`.
    pub fn transform(&self, x: ArrayView2<f64>) -> Binned {
        let (rows, features) = x.dim();
        let missing: Vec<u8> = (0..features).map(|f| self.bins_present(f) as u8).collect();
        let mut columns = vec![0u8; rows * features];
        let mut common = vec![0u8; features];
        columns
            .par_chunks_mut(rows.max(1))
            .zip(common.par_iter_mut())
            .enumerate()
            .for_each(|(f, (out, common))| {
                let mut counts = [0usize; 256];
                for (b, &v) in out.iter_mut().zip(x.column(f)) {
                    *b = if v.is_nan() {
                        missing[f]
                    } else {
                        self.bin(f, v)
                    };
                    counts[usize::from(*b)] += 1;
                }
                // The first of the most frequent, for the same bins on every run.
                let most = counts.iter().copied().max().unwrap_or(0);
                *common = counts.iter().position(|&c| c == most).unwrap_or(0) as u8;
            });
        let mut offsets = vec![0];
        for f in 0..features {
            offsets.push(offsets[f] + usize::from(missing[f]) + 1);
        }
        let slots = if offsets[features] <= usize::from(u16::MAX) + 1 {
            Slots::Narrow(row_slots(&columns, rows, &common, &offsets, |s| s as u16))
        } else {
            Slots::Wide(row_slots(&columns, rows, &common, &offsets, |s| s as u32))
        };
        Binned {
            columns,
            rows,
            features,
            missing,
            offsets,
            common,
            slots,
        }
    }
}

/// Each row's bins other than their feature's common one, as histogram slots.
fn row_slots<S: Slot>(
    columns: &[u8],
    rows: usize,
    common: &[u8],
    offsets: &[usize],
    slot: impl Fn(usize) -> S + Sync,
) -> RowSlots<S> {
    let features = common.len();
    let blocks: Vec<(Vec<S>, Vec<usize>)> = (0..rows.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let first = block * BLOCK_ROWS;
            let last = (first + BLOCK_ROWS).min(rows);
            let mut slots = Vec::new();
            let mut lengths = Vec::with_capacity(last - first);
            for r in first..last {
                let before = slots.len();
                for f in 0..features {
                    let b = columns[f * rows + r];
                    if b != common[f] {
                        slots.push(slot(offsets[f] + usize::from(b)));
                    }
                }
                lengths.push(slots.len() - before);
            }
            (slots, lengths)
        })
        .collect();
    let mut slots = Vec::with_capacity(blocks.iter().map(|(s, _)| s.len()).sum());
    let mut starts = Vec::with_capacity(rows + 1);
    starts.push(0);
    for (block_slots, lengths) in blocks {
        slots.extend_from_slice(&block_slots);
        for length in lengths {
            starts.push(starts[starts.len() - 1] + length);
        }
    }
    RowSlots { slots, starts }
}

/// `sorted.partition_point(|&t| t < v)`, without branches: the same number of steps for
/// every value, so that binning a column of random values does not mispredict at each
/// step of the search (twice as fast on the benchmark's features).
#[inline]
fn first_not_below(sorted: &[f64], v: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let (mut base, mut size) = (0, sorted.len());
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        // Said to be unpredictable, or the compiler may make it a branch again.
        base = std::hint::select_unpredictable(sorted[mid] < v, mid, base);
        size -= half;
    }
    base + usize::from(sorted[base] < v)
}

/// The distinct values of `values`, sorted, if there are at most `max`; found without
/// sorting every value, as most columns of a bank's features are flags and small counts.
fn few_distinct(values: &[f64], max: usize) -> Option<Vec<f64>> {
    let mut distinct: Vec<f64> = Vec::new();
    for &v in values {
        let at = first_not_below(&distinct, v);
        if distinct.get(at) != Some(&v) {
            if distinct.len() == max {
                return None;
            }
            distinct.insert(at, v);
        }
    }
    Some(distinct)
}

/// The thresholds of one feature's values (NaN removed).
fn thresholds_of(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    let distinct = match few_distinct(&values, max_bins) {
        Some(distinct) => distinct,
        None => {
            values.sort_unstable_by(f64::total_cmp);
            let mut distinct = values.clone();
            distinct.dedup();
            distinct
        }
    };
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
        assert_eq!(
            binned.column(0),
            [0, 1, 3, 1, 2],
            "missing after the three present bins"
        );
        assert_eq!(
            (binned.missing.as_slice(), binned.offsets.as_slice()),
            (&[3][..], &[0, 4][..])
        );
        // Bin 1 is the most frequent: the rows list their other bins.
        assert_eq!(binned.common, [1]);
        let Slots::Narrow(slots) = &binned.slots else {
            panic!("four bins take narrow slots")
        };
        let slots: Vec<&[u16]> = (0..5).map(|r| slots.row(r)).collect();
        assert_eq!(slots, [&[0][..], &[], &[3], &[], &[2]]);
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

    #[test]
    fn the_branchless_search_is_partition_point() {
        let sorted = [-3.0, -1.0, 0.0, 0.5, 2.0, 7.0, 7.5];
        for n in 0..=sorted.len() {
            let part = &sorted[..n];
            for v in [
                -4.0, -3.0, -2.0, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 7.0, 7.25, 7.5, 9.0,
            ] {
                assert_eq!(
                    first_not_below(part, v),
                    part.partition_point(|&t| t < v),
                    "{v} in {part:?}"
                );
            }
        }
        assert_eq!(
            few_distinct(&[2.0, 1.0, 2.0, 0.0], 3),
            Some(vec![0.0, 1.0, 2.0])
        );
        assert_eq!(few_distinct(&[2.0, 1.0, 2.0, 0.0], 2), None);
    }
}
