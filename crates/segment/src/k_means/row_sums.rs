//! Each centre's running sum of rows, added in row order eight features per AVX-512
//! instruction: the same bits as a scalar loop. The full pass adds each settled batch
//! while its rows are still in the L1 cache.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::nearest_filter::Lanes;
#[cfg(doc)]
use super::nearest_filter::NearestFilter;

/// Each centre's sum of rows, as [`NearestFilter::row_sums`] makes it: kept in 64-byte
/// aligned vectors while rows are added, so that no load or store of a sum is split
/// across two cache lines.
pub(crate) struct RowSums {
    /// Centre `c`'s feature `j` is lane `j % 8` of vector `c × ⌈d/8⌉ + j / 8`.
    values: Vec<Lanes>,
    k: usize,
    d: usize,
}

impl RowSums {
    /// Sums starting from `sums` (row-major, `k × d`); made only through
    /// [`NearestFilter::row_sums`], so only where the CPU has AVX-512F.
    pub(super) fn new(k: usize, d: usize, sums: &[f64]) -> Self {
        assert_eq!(sums.len(), k * d);
        let blocks = d.div_ceil(8);
        let mut values = vec![Lanes([0.0; 8]); k * blocks];
        for (c, sum) in sums.chunks_exact(d).enumerate() {
            for (j, &v) in sum.iter().enumerate() {
                values[c * blocks + j / 8].0[j % 8] = v;
            }
        }
        RowSums { values, k, d }
    }

    /// Adds each row of `rows` (row-major, `d` values each) to the sum of its centre in
    /// `labels`, in row order: the additions of a scalar loop, in its order, eight
    /// features per instruction.
    pub(crate) fn add(&mut self, rows: &[f64], labels: &[usize]) {
        assert!(rows.len() == labels.len() * self.d);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F: only a `NearestFilter` makes `RowSums`. Every
        // row is inside `rows` (asserted above), and the kernel asserts each label below
        // `k` as it reads it (a pass of its own over the labels cost 4 % of a full pass).
        unsafe {
            add_rows_avx512(rows, self.d, labels, self.k, &mut self.values)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("only a NearestFilter makes RowSums, and it needs x86-64");
    }

    /// Writes the sums back, row-major, `k × d`.
    pub(crate) fn write(&self, sums: &mut [f64]) {
        let blocks = self.d.div_ceil(8);
        for (c, sum) in sums.chunks_exact_mut(self.d).enumerate() {
            for (j, v) in sum.iter_mut().enumerate() {
                *v = self.values[c * blocks + j / 8].0[j % 8];
            }
        }
    }
}

/// [`RowSums::add`].
///
/// # Safety
/// The CPU must have AVX-512F; `rows` holds `labels.len() × d` values and `sums`
/// `k × ⌈d/8⌉` vectors. Panics on a label not below `k`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_rows_avx512(rows: &[f64], d: usize, labels: &[usize], k: usize, sums: &mut [Lanes]) {
    // SAFETY: the function's contract (its `# Safety`, or that of the kernel
    // that alone calls it) is the caller's to keep.
    unsafe {
        let blocks = d.div_ceil(8);
        let last = (d - (blocks - 1) * 8) as u32;
        let tail: __mmask8 = ((1u32 << last) - 1) as __mmask8;
        let source = rows.as_ptr();
        let target = sums.as_mut_ptr() as *mut f64;
        assert!(sums.len() >= k * blocks);
        for (i, &label) in labels.iter().enumerate() {
            assert!(label < k, "label {label} of {k} centres");
            let row = source.add(i * d);
            let sum = target.add(label * blocks * 8);
            for b in 0..blocks - 1 {
                let total = _mm512_add_pd(
                    _mm512_load_pd(sum.add(b * 8)),
                    _mm512_loadu_pd(row.add(b * 8)),
                );
                _mm512_store_pd(sum.add(b * 8), total);
            }
            // The padding lanes are left as they are: masked loads read only the row.
            let b = blocks - 1;
            let old = _mm512_load_pd(sum.add(b * 8));
            let total =
                _mm512_mask_add_pd(old, tail, old, _mm512_maskz_loadu_pd(tail, row.add(b * 8)));
            _mm512_store_pd(sum.add(b * 8), total);
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::k_means::nearest_filter::NearestFilter;

    #[test]
    fn row_sums_add_as_a_scalar_loop_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (k, d) in [(1, 1), (3, 7), (8, 8), (8, 16), (10, 37), (16, 40)] {
            let centres = Array2::from_shape_fn((k, d), |_| rng.random_range(-1.0..1.0));
            let Some(filter) = NearestFilter::new(centres.view()) else {
                eprintln!("skipped: the AVX-512 filter is off here (no AVX-512F and FMA, or CLIENTELE_SIMD below native)");
                return;
            };
            // Values of very different sizes, so that the order of the additions shows
            // in the bits; and runs of one label, so that one sum is added to in a row.
            let n = 300;
            let rows: Vec<f64> = (0..n * d)
                .map(|_| rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-8..9)))
                .collect();
            let labels: Vec<usize> = (0..n)
                .map(|i| {
                    if i % 50 < 10 {
                        0
                    } else {
                        rng.random_range(0..k)
                    }
                })
                .collect();
            let start: Vec<f64> = (0..k * d).map(|_| rng.random_range(-1e3..1e3)).collect();
            let mut want = start.clone();
            for (row, &label) in rows.chunks_exact(d).zip(&labels) {
                for (s, v) in want[label * d..(label + 1) * d].iter_mut().zip(row) {
                    *s += v;
                }
            }
            let mut sums = filter.row_sums(&start);
            // In uneven pieces, as batches and their remainders come.
            let mut first = 0;
            for piece in [32, 1, 100, 167] {
                let last = first + piece;
                sums.add(&rows[first * d..last * d], &labels[first..last]);
                first = last;
            }
            let mut got = vec![0.0; k * d];
            sums.write(&mut got);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "k {k}, d {d}");
            // A label past the last centre would write outside the sums: refused.
            let past = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sums.add(&rows[..2 * d], &[0, k]);
            }));
            assert!(past.is_err(), "k {k}, d {d}: label {k} accepted");
        }
    }
}
