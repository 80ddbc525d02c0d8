//! The matrix as the passes read it: one contiguous row-major slice, and the sums over
//! it that run in fixed chunks, so that they do not depend on the thread count.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::CHUNK_ROWS;
use clientele_numeric::simd::prefetch_lines;

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

/// The mean over features of their population variance, or `None` if a value is not
/// finite. One read of the matrix: each chunk's mean and sum of squared deviations are
/// taken while the chunk is in the cache, and the chunks combined in order (Chan, Golub
/// and LeVeque's pairwise update), so the result is the same on any number of threads.
pub(super) fn mean_variance(data: &Rows) -> Option<f64> {
    let d = data.d;
    let chunks: Vec<Option<Moments>> = data
        .values
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| Moments::of(chunk, d))
        .collect();
    let mut total = Moments {
        rows: 0.0,
        mean: vec![0.0; d],
        squares: vec![0.0; d],
    };
    for chunk in chunks {
        total.merge(&chunk?);
    }
    Some(total.squares.iter().sum::<f64>() / total.rows / d as f64)
}

clientele_numeric::multiversion! {
    /// Each column's mean, then the sum of squared deviations from it, over a chunk that
    /// the second loop reads from the cache.
    fn chunk_moments(chunk: &[f64], d: usize, mean: &mut [f64], squares: &mut [f64]) {
        let rows = (chunk.len() / d) as f64;
        // Summed less the chunk's first row, so that a large offset common to a column
        // does not take the digits of its spread.
        let first = &chunk[..d];
        for row in chunk.chunks_exact(d) {
            for ((m, v), f) in mean.iter_mut().zip(row).zip(first) {
                *m += v - f;
            }
        }
        mean.iter_mut().zip(first).for_each(|(m, f)| *m = f + *m / rows);
        for row in chunk.chunks_exact(d) {
            for ((s, m), v) in squares.iter_mut().zip(&*mean).zip(row) {
                *s += (v - m) * (v - m);
            }
        }
    }
}

/// Per column: the mean and the sum of squared deviations from it, over `rows` rows.
struct Moments {
    rows: f64,
    mean: Vec<f64>,
    squares: Vec<f64>,
}

impl Moments {
    /// `None` if a value is not finite.
    fn of(chunk: &[f64], d: usize) -> Option<Moments> {
        let rows = (chunk.len() / d) as f64;
        let mut mean = vec![0.0; d];
        let mut squares = vec![0.0; d];
        chunk_moments(chunk, d, &mut mean, &mut squares);
        // A value that is not finite makes its column's sums so; a check of every value
        // is needed only then (finite values large enough to overflow the sums).
        let sums_finite = mean.iter().chain(&squares).all(|v| v.is_finite());
        if !sums_finite && chunk.iter().any(|v| !v.is_finite()) {
            return None;
        }
        Some(Moments {
            rows,
            mean,
            squares,
        })
    }

    fn merge(&mut self, other: &Moments) {
        let rows = self.rows + other.rows;
        for j in 0..self.mean.len() {
            let delta = other.mean[j] - self.mean[j];
            self.mean[j] += delta * other.rows / rows;
            self.squares[j] += other.squares[j] + delta * delta * self.rows * other.rows / rows;
        }
        self.rows = rows;
    }
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

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    #[test]
    fn mean_variance_is_numpys_over_chunks_and_refuses_non_finite_values() {
        // Three and a half chunks, columns with large offsets (where a one-pass sum of
        // squares would lose every digit) and different spreads.
        let n = 3 * CHUNK_ROWS + CHUNK_ROWS / 2;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let wave = ((i * 7919 + j * 31) % 1000) as f64 / 1000.0;
            [1e9 + wave, wave * 10.0 - 3.0, (i % 2) as f64][j]
        });
        // Two passes on each column less its first value (an exact subtraction here).
        let expected = x
            .columns()
            .into_iter()
            .map(|c| {
                let shifted: Vec<f64> = c.iter().map(|v| v - c[0]).collect();
                let mean = shifted.iter().sum::<f64>() / n as f64;
                shifted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64
            })
            .sum::<f64>()
            / 3.0;
        let got = mean_variance(&Rows::new(x.view())).unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() <= 1e-12 * expected,
            "{got} against {expected}"
        );
        let mut bad = x.clone();
        bad[[n - 1, 2]] = f64::INFINITY;
        assert_eq!(mean_variance(&Rows::new(bad.view())), None);
        bad[[n - 1, 2]] = f64::NAN;
        assert_eq!(mean_variance(&Rows::new(bad.view())), None);
    }
}
