//! The matrix as the passes read it: one contiguous row-major slice, and the sums over
//! it that run in fixed chunks, so that they do not depend on the thread count.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::nearest_filter::prefetch_lines;
use super::CHUNK_ROWS;

/// Rows of a matrix as one contiguous row-major slice.
pub(super) struct Rows<'a> {
    pub(super) values: std::borrow::Cow<'a, [f64]>,
    pub(super) n: usize,
    pub(super) d: usize,
}

impl<'a> Rows<'a> {
    pub(super) fn new(x: ArrayView2<'a, f64>) -> Self {
        let (n, d) = x.dim();
        let values = match x.to_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(x.iter().copied().collect()),
        };
        Rows { values, n, d }
    }
    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.d..(i + 1) * self.d]
    }
}

/// The mean over features of their population variance.
pub(super) fn mean_variance(data: &Rows) -> f64 {
    let n = data.n as f64;
    let mean: Vec<f64> = column_sums(data, |_, v| v).iter().map(|s| s / n).collect();
    let var = column_sums(data, |j, v| (v - mean[j]) * (v - mean[j]));
    var.iter().sum::<f64>() / n / data.d as f64
}

/// Σ f(column, value) per column; per-chunk sums combined in chunk order, so the result
/// is the same on any number of threads.
pub(super) fn column_sums(data: &Rows, f: impl Fn(usize, f64) -> f64 + Sync) -> Vec<f64> {
    let d = data.d;
    data.values
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| {
            let mut sums = vec![0.0; d];
            for row in chunk.chunks_exact(d) {
                for (j, (s, &v)) in sums.iter_mut().zip(row).enumerate() {
                    *s += f(j, v);
                }
            }
            sums
        })
        .collect::<Vec<_>>()
        .iter()
        .fold(vec![0.0; d], |mut acc, s| {
            acc.iter_mut().zip(s).for_each(|(a, v)| *a += v);
            acc
        })
}

/// The rows at `indices`, as a matrix.
pub(super) fn data_rows(data: &Rows, indices: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((indices.len(), data.d));
    for (mut r, &i) in out.rows_mut().into_iter().zip(indices) {
        r.iter_mut().zip(data.row(i)).for_each(|(o, v)| *o = *v);
    }
    out
}

pub(super) fn chunked_sum(values: &[f64]) -> f64 {
    values
        .par_chunks(CHUNK_ROWS)
        .map(|c| c.iter().sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// Asks the CPU to fetch row `i` of `rows` (`d` values each) into the cache, if there is
/// such a row: a pass waits on memory as long as it computes unless the two overlap.
#[inline(always)]
pub(super) fn prefetch_row(rows: &[f64], i: usize, d: usize) {
    if let Some(row) = rows.get(i * d..(i + 1) * d) {
        prefetch_lines(row);
    }
}
