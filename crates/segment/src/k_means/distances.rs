//! The distance table: the centres stored feature-major, a row's squared distances to
//! every centre summed in feature order, and the nearest centre kept (the first on
//! ties). Every kernel, the AVX-512 filter included, gives these bits.

use ndarray::ArrayView2;

use super::nearest_filter::NearestFilter;
use clientele_numeric::simd::prefetch_lines;

/// Centres stored feature-major (`d × k`), so that a row's squared distances to every
/// centre are summed feature by feature in one loop over the centres, which the compiler
/// vectorises; each distance is still summed in feature order, as a plain loop would.
pub(super) struct Centres {
    pub(super) transposed: Vec<f64>,
    /// Centres per feature in `transposed`: `k` rounded up to a multiple of 4 up to 16,
    /// the extra ones at infinity (never nearest), so that a row's distances have a fixed
    /// width and stay in registers.
    pub(super) width: usize,
    /// Features of each centre.
    pub(super) d: usize,
    /// The AVX-512 full scan ([`NearestFilter`]), where the CPU and the centres allow it.
    pub(super) filter: Option<NearestFilter>,
}

impl Centres {
    pub(super) fn new(c: ArrayView2<f64>) -> Self {
        Centres {
            filter: NearestFilter::new(c),
            ..Centres::portable(c)
        }
    }

    /// The same table without the AVX-512 kernel: the baseline in the benchmarks.
    pub(super) fn portable(c: ArrayView2<f64>) -> Self {
        let (k, d) = c.dim();
        let width = if k <= 16 { k.div_ceil(4).max(1) * 4 } else { k };
        let mut transposed = vec![f64::INFINITY; width * d];
        for (j, column) in c.columns().into_iter().enumerate() {
            for (i, v) in column.iter().enumerate() {
                transposed[j * width + i] = *v;
            }
        }
        Centres {
            transposed,
            width,
            d,
            filter: None,
        }
    }

    pub(super) fn scratch(&self) -> Vec<f64> {
        vec![0.0; self.width]
    }

    /// Squared distances from `row` to every centre, into `scratch` (`width` long; the
    /// padding centres get infinity).
    #[inline(always)]
    pub(super) fn distances(&self, row: &[f64], scratch: &mut [f64]) {
        match self.width {
            4 => self.fixed_width::<4>(row, scratch),
            8 => self.fixed_width::<8>(row, scratch),
            12 => self.fixed_width::<12>(row, scratch),
            16 => self.fixed_width::<16>(row, scratch),
            _ => {
                scratch.fill(0.0);
                for (centres, &v) in self.transposed.chunks_exact(self.width).zip(row) {
                    for (s, &c) in scratch.iter_mut().zip(centres) {
                        let diff = v - c;
                        *s += diff * diff;
                    }
                }
            }
        }
    }

    #[inline(always)]
    pub(super) fn fixed_width<const W: usize>(&self, row: &[f64], scratch: &mut [f64]) {
        let mut acc = [0.0f64; W];
        for (centres, &v) in self.transposed.chunks_exact(W).zip(row) {
            for t in 0..W {
                let diff = v - centres[t];
                acc[t] += diff * diff;
            }
        }
        scratch[..W].copy_from_slice(&acc);
    }

    /// For every row `i` of `rows` (row-major, `d` values each), its nearest centre (the
    /// first one on ties) into `nearest[i]` and its squared distance, summed in feature
    /// order, into `squared[i]`.
    ///
    /// Up to 16 centres, rows go [`ROW_BLOCK`] at a time through
    /// [`Centres::block_distances`]: their sums are independent, so the CPU overlaps them
    /// instead of waiting on one row's chain of additions. Each row's sums are still
    /// taken in feature order, so the results are the same bits as one row at a time.
    ///
    /// With `second`, also the second-smallest squared distance of each row (infinity
    /// with one centre): what the bounds of [`Assignment`] start from. With `sums`
    /// (row-major, `k × d`), also adds each row to its nearest centre's sum, in row
    /// order. `then_read`, one value per row that the caller reads next (the old
    /// labels), is fetched into the cache along the way: read afterwards in one loop, its
    /// misses stalled a full pass for 2 to 5 % of its time.
    #[inline(always)]
    pub(super) fn nearest_into(
        &self,
        rows: &[f64],
        nearest: &mut [usize],
        squared: &mut [f64],
        second: Option<&mut [f64]>,
        sums: Option<&mut [f64]>,
        then_read: &[usize],
    ) {
        match second {
            Some(second) => {
                self.nearest_width::<true>(rows, nearest, squared, second, sums, then_read)
            }
            None => self.nearest_width::<false>(rows, nearest, squared, &mut [], sums, then_read),
        }
    }

    #[inline(always)]
    pub(super) fn nearest_width<const SECOND: bool>(
        &self,
        rows: &[f64],
        nearest: &mut [usize],
        squared: &mut [f64],
        second: &mut [f64],
        mut sums: Option<&mut [f64]>,
        then_read: &[usize],
    ) {
        let d = self.d;
        let Some(filter) = &self.filter else {
            self.unfiltered::<SECOND>(rows, d, nearest, squared, second);
            if let Some(sums) = sums {
                add_rows(rows, d, nearest, sums);
            }
            return;
        };
        let mut scratch = self.scratch();
        let filtered_second = if SECOND { Some(&mut *second) } else { None };
        let mut row_sums = sums.as_deref().map(|s| filter.row_sums(s));
        let done = filter.nearest(
            rows,
            nearest,
            squared,
            filtered_second,
            |i, nearest, squared, second| {
                // A near tie, or values too large for the filter's bound: the scan decides.
                self.distances(&rows[i * d..(i + 1) * d], &mut scratch);
                keep::<SECOND>(&scratch, i, nearest, squared, second.unwrap_or_default());
            },
            |first, labels| {
                if let Some(row_sums) = &mut row_sums {
                    row_sums.add(&rows[first * d..(first + labels.len()) * d], labels);
                }
                if let Some(old) = then_read.get(first..first + labels.len()) {
                    prefetch_lines(old);
                }
            },
        );
        if let (Some(row_sums), Some(sums)) = (&row_sums, sums.as_deref_mut()) {
            row_sums.write(sums);
        }
        let second = if SECOND { &mut second[done..] } else { second };
        let rest = &rows[done * d..];
        self.unfiltered::<SECOND>(rest, d, &mut nearest[done..], &mut squared[done..], second);
        if let Some(sums) = sums {
            add_rows(rest, d, &nearest[done..], sums);
        }
    }

    /// [`Centres::nearest_width`] with the portable kernels only.
    #[inline(always)]
    pub(super) fn unfiltered<const SECOND: bool>(
        &self,
        rows: &[f64],
        d: usize,
        nearest: &mut [usize],
        squared: &mut [f64],
        second: &mut [f64],
    ) {
        match self.width {
            4 => self.blocked::<4, SECOND>(rows, d, nearest, squared, second),
            8 => self.blocked::<8, SECOND>(rows, d, nearest, squared, second),
            12 => self.blocked::<12, SECOND>(rows, d, nearest, squared, second),
            16 => self.blocked::<16, SECOND>(rows, d, nearest, squared, second),
            _ => {
                let mut scratch = self.scratch();
                for (i, row) in rows.chunks_exact(d).enumerate() {
                    self.distances(row, &mut scratch);
                    keep::<SECOND>(&scratch, i, nearest, squared, second);
                }
            }
        }
    }

    #[inline(always)]
    pub(super) fn blocked<const W: usize, const SECOND: bool>(
        &self,
        rows: &[f64],
        d: usize,
        nearest: &mut [usize],
        squared: &mut [f64],
        second: &mut [f64],
    ) {
        let mut blocks = rows.chunks_exact(ROW_BLOCK * d);
        let mut i = 0;
        for block in &mut blocks {
            for sums in &self.block_distances::<W, ROW_BLOCK>(block, d) {
                keep::<SECOND>(sums, i, nearest, squared, second);
                i += 1;
            }
        }
        for row in blocks.remainder().chunks_exact(d) {
            let [sums] = self.block_distances::<W, 1>(row, d);
            keep::<SECOND>(&sums, i, nearest, squared, second);
            i += 1;
        }
    }

    /// [`Centres::nearest_into`] for one row, with the second-smallest squared distance.
    #[inline(always)]
    pub(super) fn nearest_two(&self, row: &[f64], scratch: &mut [f64]) -> (usize, f64, f64) {
        self.distances(row, scratch);
        let (first, squared) = first_minimum(scratch);
        (first, squared, second_minimum(scratch, first))
    }

    /// Squared distances from each of the `R` rows of `rows` to every centre (the padding
    /// ones at infinity).
    #[inline(always)]
    pub(super) fn block_distances<const W: usize, const R: usize>(
        &self,
        rows: &[f64],
        d: usize,
    ) -> [[f64; W]; R] {
        self.gathered_distances(std::array::from_fn(|r| &rows[r * d..(r + 1) * d]))
    }

    /// [`Centres::block_distances`] for `R` rows from anywhere.
    #[inline(always)]
    pub(super) fn gathered_distances<const W: usize, const R: usize>(
        &self,
        rows: [&[f64]; R],
    ) -> [[f64; W]; R] {
        let mut acc = [[0.0f64; W]; R];
        for (j, centres) in self.transposed.chunks_exact(W).enumerate() {
            for r in 0..R {
                let v = rows[r][j];
                for t in 0..W {
                    let diff = v - centres[t];
                    acc[r][t] += diff * diff;
                }
            }
        }
        acc
    }
}

/// Rows per block of [`Centres::nearest_into`]'s scan.
pub(super) const ROW_BLOCK: usize = 4;

/// Index and value of the smallest of `values`, the first one on ties; `values` are
/// squared distances, never NaN. Without branches: on real data the nearest centre is
/// unpredictable, and a mispredicted comparison per centre cost more than the distances.
#[inline(always)]
pub(super) fn first_minimum(values: &[f64]) -> (usize, f64) {
    let smallest = values
        .iter()
        .fold(f64::INFINITY, |m, &v| if v < m { v } else { m });
    let mut first = values.len();
    for (i, &v) in values.iter().enumerate().rev() {
        first = if v == smallest { i } else { first };
    }
    // Only NaN sums, which finite data cannot give, match nothing: then the first
    // centre, as a scan with `<` would keep.
    if first == values.len() {
        first = 0;
    }
    (first, values[first])
}

/// Row `i`'s nearest centre and squared distance from its distances `sums`, and with
/// `SECOND` the second-smallest squared distance.
#[inline(always)]
pub(super) fn keep<const SECOND: bool>(
    sums: &[f64],
    i: usize,
    nearest: &mut [usize],
    squared: &mut [f64],
    second: &mut [f64],
) {
    (nearest[i], squared[i]) = first_minimum(sums);
    if SECOND {
        second[i] = second_minimum(sums, nearest[i]);
    }
}

/// The smallest of `values` but the one at `first`; infinity when there is no other.
#[inline(always)]
pub(super) fn second_minimum(values: &[f64], first: usize) -> f64 {
    values.iter().enumerate().fold(
        f64::INFINITY,
        |m, (i, &v)| if i != first && v < m { v } else { m },
    )
}

clientele_numeric::multiversion! {
    /// The nearest centre of each row of `rows` and the squared distance to it.
    pub(super) fn nearest_squared_rows(rows: &[f64], d: usize, table: &Centres, labels: &mut [usize], squared: &mut [f64]) {
        table.nearest_into(rows, labels, squared, None, None, &[]);
    }
}

/// Adds each row of `rows` (`d` values each) to the sum of its centre in `labels`
/// (`sums` row-major), in row order.
#[inline(always)]
pub(super) fn add_rows(rows: &[f64], d: usize, labels: &[usize], sums: &mut [f64]) {
    for (row, &label) in rows.chunks_exact(d).zip(labels) {
        for (s, v) in sums[label * d..(label + 1) * d].iter_mut().zip(row) {
            *s += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::k_means::algorithm::assign_step_with;
    use crate::k_means::model::KMeansModel;
    use crate::k_means::rows::Rows;
    use crate::k_means::test_data::scan;

    #[test]
    fn blocked_assignment_equals_a_plain_scan_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // Every width the kernel specialises (4, 8, 12, 16) and the general one (17),
        // and a row count that leaves a remainder after the blocks of four.
        for k in [1, 3, 4, 5, 8, 10, 12, 13, 16, 17] {
            for d in [1, 2, 7, 16, 37] {
                let mut centres = Array2::from_shape_fn((k, d), |_| rng.random_range(-3.0..3.0));
                if k > 2 {
                    // An exact duplicate (the first must win) and a near one.
                    let first = centres.row(0).to_owned();
                    centres.row_mut(k - 1).assign(&first);
                }
                let mut x = Array2::from_shape_fn((4099, d), |_| rng.random_range(-4.0..4.0));
                for t in 0..k {
                    x.row_mut(t).assign(&centres.row(t));
                }
                x.row_mut(4098).fill(1e200);
                let model = KMeansModel {
                    centroids: centres.clone(),
                    labels: vec![],
                    inertia: 0.0,
                    iterations: 0,
                };
                let (labels, distances) = model.assign(x.view());
                for (i, row) in x.rows().into_iter().enumerate() {
                    let (want, want_d2) = scan(&centres, &row.to_vec());
                    assert_eq!(
                        (labels[i], distances[i].to_bits()),
                        (want, want_d2.sqrt().to_bits()),
                        "k {k}, d {d}, row {i}"
                    );
                }
                // Labels, counts and sums of a whole pass, with the AVX-512 kernel (where
                // it runs) and without: it adds the rows batch by batch.
                let data = Rows::new(x.view());
                let step = |table: &Centres| {
                    let n = x.nrows();
                    let (mut labels, mut distances) = (vec![usize::MAX; n], vec![0.0; n]);
                    let (sums, counts, changed) =
                        assign_step_with(&data, table, k, d, &mut labels, &mut distances);
                    let sums: Vec<u64> = sums.iter().map(|v| v.to_bits()).collect();
                    (sums, counts, changed, labels)
                };
                let full = step(&Centres::new(centres.view()));
                assert_eq!(
                    full,
                    step(&Centres::portable(centres.view())),
                    "k {k}, d {d}"
                );
                assert_eq!(full.3, labels, "k {k}, d {d}");
                let counts = full.1;
                for (t, &count) in counts.iter().enumerate() {
                    assert_eq!(
                        count,
                        labels.iter().filter(|&&l| l == t).count(),
                        "k {k}, d {d}"
                    );
                }
            }
        }
    }
}
