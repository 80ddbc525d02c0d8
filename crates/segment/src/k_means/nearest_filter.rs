//! A faster full K-Means assignment for CPUs with AVX-512: the same labels and squared
//! distances as the plain scan, bit for bit, with about a third of its arithmetic.
//!
//! The plain scan computes `Σ_j (x_j − c_j)²` for every centre: a subtraction, a
//! multiplication and an addition per centre and feature, which makes a full pass
//! compute-bound (bench/README.md). Here, eight rows at a time (one per vector lane):
//! 1. a *filter* computes every centre's `‖c‖² − 2 x·c` with one fused multiply-add per
//!    centre and feature. It differs from the squared distance by `‖x‖²`, the same for
//!    every centre of a row, plus rounding, which is bounded below;
//! 2. a centre whose filtered value exceeds the smallest by more than twice that bound
//!    cannot be nearest, nor tie. When one centre is left (almost always), it is the
//!    nearest, and its squared distance is computed exactly as the scan computes it: the
//!    differences squared and added in feature order, without fused operations;
//! 3. a row with more than one centre left (a tie or a near tie), or whose values are too
//!    large for the bound, is reported back and scanned by the caller.
//!
//! A full pass was as much waiting on memory as computing: the two did not overlap.
//! So, between the arithmetic of a batch, the kernel fetches the rows two batches ahead,
//! one cache line at a time, and [`NearestFilter::nearest`] the lines of the outputs it
//! will write then; and once a batch is settled, the caller adds its rows to their centres' sums ([`RowSums`], in `row_sums.rs`) while
//! they are still in the L1 cache, in row order, eight features per instruction. With
//! them a full pass runs near the read bandwidth of the rows, labels and distances it
//! moves; the measurements, and what was tried and not kept, are in bench/README.md.
//!
//! Written by hand because no crate offers a nearest-centre search with bit-exact
//! results; `std::arch` intrinsics because the compiler does not find the transposition
//! and the masked selections by itself.
//!
//! The rounding bound. With `u = 2⁻⁵³`, inputs `x` and `c`, `d` features: the dot product
//! is off by at most `γ_d Σ|x_j c_j| ≤ d u (‖x‖² + ‖c‖²)/2`, `‖c‖²` by `d u ‖c‖²`, and
//! the fused `‖c‖² − 2 x·c` adds one rounding of at most `2u (‖x‖² + ‖c‖²)`. The scan's
//! own squared distance, a sum of `d` nonnegative terms each rounded three times, is off
//! from the true distance by at most `(d + 3) u · 2 (‖x‖² + ‖c‖²)`. All together, below
//! `(4d + 10) u (‖x‖² + ‖c‖²)`; [`FILTER_SLACK`] takes twice that, `‖c‖²` is taken as
//! the largest centre's, and [`FILTER_FLOOR`] covers values so small that they round
//! absolutely (subnormal). `‖x‖²` itself is not summed: it is at most
//! `2 ‖x − c‖² + 2 ‖c‖²` for the nearest centre `c`, whose distance is computed anyway
//! ([`NORM_FACTOR`]).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use clientele_numeric::simd::prefetch_lines;
use ndarray::ArrayView2;

pub(crate) use super::row_sums::RowSums;

/// Most centres the filter handles: two vectors of eight.
const MOST_CENTRES: usize = 16;

/// Rows per call of the kernel: four groups of eight.
pub(crate) const BATCH_ROWS: usize = 32;

/// How many batches ahead the kernel fetches rows. One ahead was slower at 16 features,
/// three no faster (bench/README.md); three batches of 37 features fit the L1 cache.
const PREFETCH_BATCHES: usize = 2;

/// `ε = FILTER_SLACK × (d + 4) × f64::EPSILON × (‖x‖² + max ‖c‖²) + FILTER_FLOOR`, the
/// bound on how far a filtered value can be from the scan's squared distance less
/// `‖x‖²`. `f64::EPSILON` is `2u`, so this is `8 (d + 4) u`, twice the derived bound.
const FILTER_SLACK: f64 = 4.0;

/// `‖x‖² ≤ 2 ‖x − c‖² + 2 ‖c‖²` for any centre `c`; the scan's `‖x − c‖²` may fall short
/// of the true one by a relative `(d + 2) u`, which the `10⁻⁶` covers up to billions of
/// features.
const NORM_FACTOR: f64 = 2.0 + 1e-6;

/// Absolute part of the bound, far above the rounding of subnormal values.
const FILTER_FLOOR: f64 = 1e-290;

/// Above this, `ε` is not trusted (squares could overflow): the row is scanned.
const FILTER_CEILING: f64 = 1e280;

/// Eight values, aligned as one AVX-512 vector: the transposed rows the kernel keeps.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Lanes(pub(super) [f64; 8]);

/// The centres as the kernel reads them.
pub(crate) struct NearestFilter {
    k: usize,
    d: usize,
    /// Row-major, `k × d`.
    centres: Vec<f64>,
    /// `‖c‖²` of each centre.
    norms: Vec<f64>,
    largest_norm: f64,
    /// Feature-major, `d × 16`, for picking each row's own centre by its index.
    transposed: Vec<f64>,
}

impl NearestFilter {
    /// The filter for these centres, when this CPU has AVX-512 and the centres are few
    /// (at most [`MOST_CENTRES`]) and finite.
    pub(crate) fn new(centres: ArrayView2<f64>) -> Option<Self> {
        let (k, d) = centres.dim();
        if k == 0 || k > MOST_CENTRES || d == 0 || !available() {
            return None;
        }
        let mut flat = vec![0.0; k * d];
        let mut transposed = vec![f64::INFINITY; d * MOST_CENTRES];
        let mut norms = vec![0.0; k];
        for (t, centre) in centres.rows().into_iter().enumerate() {
            let mut norm = 0.0;
            for (j, &v) in centre.iter().enumerate() {
                flat[t * d + j] = v;
                transposed[j * MOST_CENTRES + t] = v;
                norm += v * v;
            }
            norms[t] = norm;
        }
        let largest_norm = norms.iter().fold(0.0f64, |m, &v| m.max(v));
        if !norms.iter().all(|v| v.is_finite()) || largest_norm >= FILTER_CEILING {
            return None;
        }
        Some(NearestFilter {
            k,
            d,
            centres: flat,
            norms,
            largest_norm,
            transposed,
        })
    }

    /// The nearest centre (`nearest`) and squared distance (`squared`) of the rows of
    /// `rows` (row-major, `d` values each), [`BATCH_ROWS`] at a time; with `second`, a
    /// lower bound on each row's second-smallest squared distance (infinity with one
    /// centre). Returns how many rows it did (a multiple of [`BATCH_ROWS`]); the rows it
    /// could not settle are passed to `scan`, which must fill them in. Once a batch is
    /// settled, `settled` gets its first row and its labels, while its rows are still in
    /// the cache.
    pub(crate) fn nearest(
        &self,
        rows: &[f64],
        nearest: &mut [usize],
        squared: &mut [f64],
        mut second: Option<&mut [f64]>,
        mut scan: impl FnMut(usize, &mut [usize], &mut [f64], Option<&mut [f64]>),
        mut settled: impl FnMut(usize, &[usize]),
    ) -> usize {
        let d = self.d;
        let n = (rows.len() / d)
            .min(nearest.len())
            .min(squared.len())
            .min(second.as_ref().map_or(usize::MAX, |s| s.len()));
        let batches = n / BATCH_ROWS;
        let mut scratch = vec![Lanes([0.0; 8]); BATCH_ROWS / 8 * padded_features(d)];
        for batch in 0..batches {
            let first = batch * BATCH_ROWS;
            let ahead = first + PREFETCH_BATCHES * BATCH_ROWS;
            let ahead =
                &rows[(ahead * d).min(rows.len())..((ahead + BATCH_ROWS) * d).min(rows.len())];
            let batch_rows = &rows[first * d..(first + BATCH_ROWS) * d];
            // The outputs' lines too, so that their stores do not wait on memory.
            let later = (first + PREFETCH_BATCHES * BATCH_ROWS).min(n)
                ..(first + (PREFETCH_BATCHES + 1) * BATCH_ROWS).min(n);
            prefetch_lines(&squared[later.clone()]);
            if let Some(second) = second.as_deref() {
                prefetch_lines(&second[later]);
            }
            let out_nearest = &mut nearest[first..first + BATCH_ROWS];
            let out_squared = &mut squared[first..first + BATCH_ROWS];
            let out_second = second
                .as_deref_mut()
                .map(|s| &mut s[first..first + BATCH_ROWS]);
            let unsettled = self.batch(
                batch_rows,
                ahead,
                &mut scratch,
                out_nearest,
                out_squared,
                out_second,
            );
            let mut left = unsettled;
            while left != 0 {
                let row = left.trailing_zeros() as usize;
                left &= left - 1;
                scan(first + row, nearest, squared, second.as_deref_mut());
            }
            settled(first, &nearest[first..first + BATCH_ROWS]);
        }
        batches * BATCH_ROWS
    }

    /// Running sums of rows per centre, starting from `sums` (row-major, `k × d`). Only a
    /// filter makes them: it is what proves the CPU has AVX-512F.
    pub(crate) fn row_sums(&self, sums: &[f64]) -> RowSums {
        RowSums::new(self.k, self.d, sums)
    }

    /// One batch: safe wrapper of [`batch_kernel`], whose only requirement (the CPU has
    /// AVX-512) [`NearestFilter::new`] checked. Elsewhere `new` never makes a filter.
    fn batch(
        &self,
        rows: &[f64],
        ahead: &[f64],
        scratch: &mut [Lanes],
        nearest: &mut [usize],
        squared: &mut [f64],
        second: Option<&mut [f64]>,
    ) -> u32 {
        assert!(
            rows.len() == BATCH_ROWS * self.d
                && scratch.len() == BATCH_ROWS / 8 * padded_features(self.d)
                && nearest.len() == BATCH_ROWS
                && squared.len() == BATCH_ROWS
                && second.as_ref().is_none_or(|s| s.len() == BATCH_ROWS)
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F (checked by `new`, the only constructor), and the
        // slices have the lengths the kernel reads and writes (asserted above).
        unsafe {
            if self.k <= 8 {
                batch_kernel::<false>(self, rows, ahead, scratch, nearest, squared, second)
            } else {
                batch_kernel::<true>(self, rows, ahead, scratch, nearest, squared, second)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        u32::MAX
    }
}

/// Features per group in the kernel's scratch: `d` rounded up to a multiple of 8, so that
/// every transposed block is stored whole.
fn padded_features(d: usize) -> usize {
    d.div_ceil(8) * 8
}

/// Whether the filter runs: this CPU has AVX-512F and FMA, and `CLIENTELE_SIMD` does not
/// cap the kernels below it.
fn available() -> bool {
    clientele_numeric::simd::avx512_enabled()
}

/// Groups of eight rows per batch.
#[cfg(target_arch = "x86_64")]
const GROUPS: usize = BATCH_ROWS / 8;

/// The cache lines of a later batch's rows, fetched one at a time between the current
/// batch's arithmetic: fetched all at once, they fill the CPU's queue of outstanding
/// misses and stall it, so that the arithmetic and the memory traffic no longer overlap.
/// The kernel asks for a line in every phase of a batch (transposition, filter, selection,
/// exact distances, outputs), not only in the long loops: where a phase fetched nothing,
/// the queue ran empty, and a full pass at 16 features took 4 % longer.
#[cfg(target_arch = "x86_64")]
struct Prefetch {
    next: *const f64,
    end: *const f64,
}

#[cfg(target_arch = "x86_64")]
impl Prefetch {
    fn new(rows: &[f64]) -> Self {
        let range = rows.as_ptr_range();
        Prefetch {
            next: range.start,
            end: range.end,
        }
    }

    #[inline(always)]
    unsafe fn next_line(&mut self) {
        // SAFETY: the function's contract (its `# Safety`, or that of the kernel
        // that alone calls it) is the caller's to keep.
        unsafe {
            if self.next < self.end {
                _mm_prefetch::<_MM_HINT_T0>(self.next as *const i8);
                self.next = self.next.wrapping_add(8);
            }
        }
    }
}

/// Eight rows of eight features each, transposed: vector `j` holds feature `j` of every
/// row, row `r` in lane `r`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn transpose8(r: [__m512d; 8]) -> [__m512d; 8] {
    // SAFETY: the function's contract (its `# Safety`, or that of the kernel
    // that alone calls it) is the caller's to keep.
    unsafe {
        let a0 = _mm512_unpacklo_pd(r[0], r[1]);
        let a1 = _mm512_unpackhi_pd(r[0], r[1]);
        let a2 = _mm512_unpacklo_pd(r[2], r[3]);
        let a3 = _mm512_unpackhi_pd(r[2], r[3]);
        let a4 = _mm512_unpacklo_pd(r[4], r[5]);
        let a5 = _mm512_unpackhi_pd(r[4], r[5]);
        let a6 = _mm512_unpacklo_pd(r[6], r[7]);
        let a7 = _mm512_unpackhi_pd(r[6], r[7]);
        // Pairs of 128-bit lanes: features 0 and 4 (2 and 6, ...) of four rows.
        let even = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
        let odd = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
        let b0 = _mm512_permutex2var_pd(a0, even, a2);
        let b2 = _mm512_permutex2var_pd(a0, odd, a2);
        let b1 = _mm512_permutex2var_pd(a1, even, a3);
        let b3 = _mm512_permutex2var_pd(a1, odd, a3);
        let b4 = _mm512_permutex2var_pd(a4, even, a6);
        let b6 = _mm512_permutex2var_pd(a4, odd, a6);
        let b5 = _mm512_permutex2var_pd(a5, even, a7);
        let b7 = _mm512_permutex2var_pd(a5, odd, a7);
        let low = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
        let high = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
        [
            _mm512_permutex2var_pd(b0, low, b4),
            _mm512_permutex2var_pd(b1, low, b5),
            _mm512_permutex2var_pd(b2, low, b6),
            _mm512_permutex2var_pd(b3, low, b7),
            _mm512_permutex2var_pd(b0, high, b4),
            _mm512_permutex2var_pd(b1, high, b5),
            _mm512_permutex2var_pd(b2, high, b6),
            _mm512_permutex2var_pd(b3, high, b7),
        ]
    }
}

/// The filtered values `‖c‖² − 2 x·c` of `R` groups (from `group`) for `G` centres (from
/// `centre`), into `filtered`. `R × G` independent sums, so that the fused operations
/// overlap instead of waiting on one another.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn filtered_values<const G: usize, const R: usize, const NORMS: bool>(
    filter: &NearestFilter,
    features: *const Lanes,
    group: usize,
    centre: usize,
    filtered: &mut [[__m512d; MOST_CENTRES]; GROUPS],
    norms: &mut [__m512d; GROUPS],
    prefetch: &mut Prefetch,
) {
    // SAFETY: the function's contract (its `# Safety`, or that of the kernel
    // that alone calls it) is the caller's to keep.
    unsafe {
        let d = filter.d;
        let centres = filter.centres.as_ptr();
        let mut sums = [[_mm512_setzero_pd(); G]; R];
        let mut squares = [_mm512_setzero_pd(); R];
        for j in 0..d {
            prefetch.next_line();
            for (r, sums) in sums.iter_mut().enumerate() {
                let x = _mm512_load_pd(
                    features.add((group + r) * padded_features(d) + j) as *const f64
                );
                if NORMS {
                    squares[r] = _mm512_fmadd_pd(x, x, squares[r]);
                }
                for (q, sum) in sums.iter_mut().enumerate() {
                    // SAFETY: `centre + q < k` and `j < d`, inside `centres`.
                    let c = _mm512_set1_pd(*centres.add((centre + q) * d + j));
                    *sum = _mm512_fmadd_pd(x, c, *sum);
                }
            }
        }
        for (r, sums) in sums.iter().enumerate() {
            for (q, &sum) in sums.iter().enumerate() {
                let norm = _mm512_set1_pd(filter.norms[centre + q]);
                filtered[group + r][centre + q] = _mm512_fnmadd_pd(_mm512_set1_pd(2.0), sum, norm);
            }
        }
        if NORMS {
            norms[group..group + R].copy_from_slice(&squares);
        }
    }
}

/// [`filtered_values`] of every group for `G` centres from `centre`, `R` groups a call;
/// with `sum_norms`, the first centres also sum the rows' norms.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn centre_block<const G: usize, const R: usize>(
    filter: &NearestFilter,
    features: *const Lanes,
    centre: usize,
    sum_norms: bool,
    filtered: &mut [[__m512d; MOST_CENTRES]; GROUPS],
    norms: &mut [__m512d; GROUPS],
    prefetch: &mut Prefetch,
) {
    // SAFETY: the function's contract (its `# Safety`, or that of the kernel
    // that alone calls it) is the caller's to keep.
    unsafe {
        for group in (0..GROUPS).step_by(R) {
            if centre == 0 && sum_norms {
                filtered_values::<G, R, true>(
                    filter, features, group, centre, filtered, norms, prefetch,
                );
            } else {
                filtered_values::<G, R, false>(
                    filter, features, group, centre, filtered, norms, prefetch,
                );
            }
        }
    }
}

/// One batch of [`BATCH_ROWS`] rows; returns the rows (bits) the caller must scan.
///
/// # Safety
/// The CPU must have AVX-512F and FMA; `rows` holds `BATCH_ROWS × d` values, `scratch`
/// `BATCH_ROWS / 8 × padded_features(d)` vectors, and the outputs `BATCH_ROWS` each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn batch_kernel<const WIDE: bool>(
    filter: &NearestFilter,
    rows: &[f64],
    ahead: &[f64],
    scratch: &mut [Lanes],
    nearest: &mut [usize],
    squared: &mut [f64],
    mut second: Option<&mut [f64]>,
) -> u32 {
    // SAFETY: the function's contract (its `# Safety`, or that of the kernel
    // that alone calls it) is the caller's to keep.
    unsafe {
        let (k, d) = (filter.k, filter.d);
        let mut prefetch = Prefetch::new(ahead);
        let stride = padded_features(d);
        let features = scratch.as_mut_ptr();
        let feature = |i: usize| _mm512_load_pd(features.add(i) as *const f64);
        let source = rows.as_ptr();
        for group in 0..GROUPS {
            let p = source.add(group * 8 * d);
            let mut j0 = 0;
            while j0 < d {
                prefetch.next_line();
                let width = (d - j0).min(8);
                let block = if width == 8 {
                    transpose8(std::array::from_fn(|r| _mm512_loadu_pd(p.add(r * d + j0))))
                } else {
                    // Masked loads read only the row's own values.
                    let mask: __mmask8 = (1u8 << width) - 1;
                    transpose8(std::array::from_fn(|r| {
                        _mm512_maskz_loadu_pd(mask, p.add(r * d + j0))
                    }))
                };
                for (q, &v) in block.iter().enumerate() {
                    _mm512_store_pd(features.add(group * stride + j0 + q) as *mut f64, v);
                }
                j0 += 8;
            }
        }

        let mut filtered = [[_mm512_set1_pd(f64::INFINITY); MOST_CENTRES]; GROUPS];
        // Each row's ‖x‖², needed only for the second distances (ε does without it), is
        // summed with the first centres, from the features loaded anyway.
        let mut norms = [_mm512_setzero_pd(); GROUPS];
        let sum_norms = second.is_some();
        let (f, n, p) = (&mut filtered, &mut norms, &mut prefetch);
        macro_rules! centres {
            ($count:literal, $groups:literal, $first:expr) => {
                centre_block::<$count, $groups>(filter, features, $first, sum_norms, f, n, p)
            };
        }
        // Every centre once, none padded: at 10 centres, padding to 12 cost a sixth of the
        // fused operations. The slots of absent centres stay infinite, never kept.
        let mut centre = 0;
        while centre + 8 <= k {
            centres!(8, 2, centre);
            centre += 8;
        }
        if centre + 4 <= k {
            centres!(4, 4, centre);
            centre += 4;
        }
        match k - centre {
            1 => centres!(1, 4, centre),
            2 => centres!(2, 4, centre),
            3 => centres!(3, 4, centre),
            _ => {}
        }

        let mut best = [_mm512_setzero_si512(); GROUPS];
        let mut smallest = [_mm512_setzero_pd(); GROUPS];
        // The second smallest value (of the values as a multiset: equal to the smallest on a
        // tie), the smallest of every centre's but the best's. Infinity with one centre.
        let mut runner_up = [_mm512_setzero_pd(); GROUPS];
        for group in 0..GROUPS {
            prefetch.next_line();
            let values = &filtered[group];
            let (mut low, mut next) = (values[0], _mm512_set1_pd(f64::INFINITY));
            #[allow(clippy::needless_range_loop)] // iterators of vectors are not inlined here
            for t in 1..k {
                let v = values[t];
                // Strictly smaller: the first centre on ties, as the scan.
                let smaller = _mm512_cmp_pd_mask(v, low, _CMP_LT_OQ);
                next = _mm512_min_pd(next, _mm512_max_pd(v, low));
                low = _mm512_min_pd(v, low);
                best[group] = _mm512_mask_set1_epi64(best[group], smaller, t as i64);
            }
            (smallest[group], runner_up[group]) = (low, next);
        }

        // Each row's squared distance to its centre, as the scan sums it: feature order, a
        // subtraction, a multiplication and an addition, never fused.
        let table = filter.transposed.as_ptr();
        let mut exact = [_mm512_setzero_pd(); GROUPS];
        for j in 0..d {
            prefetch.next_line();
            let low = _mm512_loadu_pd(table.add(j * MOST_CENTRES));
            let high = if WIDE {
                _mm512_loadu_pd(table.add(j * MOST_CENTRES + 8))
            } else {
                low
            };
            for (group, sum) in exact.iter_mut().enumerate() {
                let c = if WIDE {
                    _mm512_permutex2var_pd(low, best[group], high)
                } else {
                    _mm512_permutexvar_pd(best[group], low)
                };
                let diff = _mm512_sub_pd(feature(group * stride + j), c);
                *sum = _mm512_add_pd(*sum, _mm512_mul_pd(diff, diff));
            }
        }
        let slack = _mm512_set1_pd(FILTER_SLACK * (d as f64 + 4.0) * f64::EPSILON);
        let norm_factor = _mm512_set1_pd(NORM_FACTOR);
        let three_largest = _mm512_set1_pd(3.0 * filter.largest_norm);
        let mut unsettled: u32 = 0;
        for group in 0..GROUPS {
            prefetch.next_line();
            // ε from `‖x‖² + max ‖c‖² ≤ 2 ‖x − c‖² + 3 max ‖c‖²`, with `c` the row's nearest
            // centre and `‖x − c‖²` as just summed: no sum of `‖x‖²` over the features.
            let epsilon = _mm512_fmadd_pd(
                slack,
                _mm512_fmadd_pd(norm_factor, exact[group], three_largest),
                _mm512_set1_pd(FILTER_FLOOR),
            );
            // False for NaN and for values too large to trust. Trusted rows have finite
            // filtered values only, so the `min` and `max` above saw no NaN.
            let trusted = _mm512_cmp_pd_mask(epsilon, _mm512_set1_pd(FILTER_CEILING), _CMP_LT_OQ);
            let threshold = _mm512_fmadd_pd(_mm512_set1_pd(2.0), epsilon, smallest[group]);
            // More than one centre within the threshold when the second smallest is: one
            // comparison, where a count over every centre cost one for each.
            let several = _mm512_cmp_pd_mask(runner_up[group], threshold, _CMP_LE_OQ);
            unsettled |= ((several | !trusted) as u32) << (8 * group);
            let mut labels = [0i64; 8];
            _mm512_storeu_epi64(labels.as_mut_ptr(), best[group]);
            for (out, &label) in nearest[group * 8..group * 8 + 8].iter_mut().zip(&labels) {
                *out = label as usize;
            }
            _mm512_storeu_pd(squared.as_mut_ptr().add(group * 8), exact[group]);
            if let Some(second) = second.as_deref_mut() {
                // Every other centre's squared distance is at least its filtered value plus
                // ‖x‖² less ε; 2ε also covers the rounding of this sum. Infinity with one
                // centre.
                let bound = _mm512_sub_pd(
                    _mm512_add_pd(runner_up[group], norms[group]),
                    _mm512_mul_pd(_mm512_set1_pd(2.0), epsilon),
                );
                _mm512_storeu_pd(
                    second.as_mut_ptr().add(group * 8),
                    _mm512_max_pd(bound, _mm512_setzero_pd()),
                );
            }
        }
        unsettled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The scan the filter must equal: squared distances summed in feature order, the
    /// first centre on ties; and the second-smallest squared distance.
    fn scan(centres: &Array2<f64>, row: &[f64]) -> (usize, f64, f64) {
        let mut all: Vec<f64> = Vec::new();
        for c in centres.rows() {
            let mut sum = 0.0;
            for (&x, &c) in row.iter().zip(c.iter()) {
                let diff = x - c;
                sum += diff * diff;
            }
            all.push(sum);
        }
        let mut best = 0;
        for (t, &v) in all.iter().enumerate() {
            if v < all[best] {
                best = t;
            }
        }
        let second = all
            .iter()
            .enumerate()
            .filter(|&(t, _)| t != best)
            .fold(f64::INFINITY, |m, (_, &v)| m.min(v));
        (best, all[best], second)
    }

    #[test]
    fn equals_the_scan_on_near_ties_offsets_and_extreme_values() {
        if !available() {
            eprintln!("skipped: the AVX-512 filter is off here (no AVX-512F and FMA, or CLIENTELE_SIMD below native)");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for (k, d) in [(1, 3), (2, 1), (3, 8), (8, 16), (10, 37), (16, 9), (13, 40)] {
            let mut centres = Array2::from_shape_fn((k, d), |_| rng.random_range(-2.0..2.0));
            if k > 2 {
                let first = centres.row(0).to_owned();
                centres.row_mut(2).assign(&first);
            }
            let n = 32 * 40;
            let mut x = Array2::from_shape_fn((n, d), |_| rng.random_range(-3.0..3.0));
            for i in 0..n {
                let kind = i % 8;
                let (a, b) = (i % k, (i / k + 1) % k);
                match kind {
                    // Within a few roundings of the halfway point between two centres.
                    0 | 1 => {
                        let delta = [0.0, 1e-16, -1e-16, 1e-14, -1e-13, 1e-11][i % 6];
                        for j in 0..d {
                            let (ca, cb) = (centres[[a, j]], centres[[b, j]]);
                            x[[i, j]] = (ca + cb) / 2.0 + delta * (cb - ca);
                        }
                    }
                    // Far from the origin, near one another: the filter's values cancel.
                    2 => x.row_mut(i).mapv_inplace(|v| 1e6 + v * 1e-3),
                    // Exactly on a centre.
                    3 => x.row_mut(i).assign(&centres.row(a)),
                    // In every group of eight rows of a batch in turn (group `i / 8 % 4`).
                    4 if i / 8 % 3 == 0 => x.row_mut(i).fill(1e200),
                    5 if i / 8 % 3 == 1 => x.row_mut(i).mapv_inplace(|v| v * 1e-160),
                    6 if i / 8 % 5 == 0 => x[[i, 0]] = f64::INFINITY,
                    // Far out on the bisector of two centres: a tie, with `‖x‖²` far above
                    // every `‖c‖²`, so that ε must grow with the row.
                    7 if d > 1 && a != b && i / 8 % 2 == 0 => {
                        let axis: Vec<f64> =
                            (0..d).map(|j| centres[[b, j]] - centres[[a, j]]).collect();
                        let mut away: Vec<f64> =
                            (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let along = away.iter().zip(&axis).map(|(u, v)| u * v).sum::<f64>()
                            / axis.iter().map(|v| v * v).sum::<f64>();
                        away.iter_mut()
                            .zip(&axis)
                            .for_each(|(u, v)| *u -= along * v);
                        for j in 0..d {
                            let middle = (centres[[a, j]] + centres[[b, j]]) / 2.0;
                            x[[i, j]] = middle + 1e4 * away[j];
                        }
                    }
                    _ => {}
                }
            }
            let filter = NearestFilter::new(centres.view()).expect("AVX-512, few finite centres");
            let rows = x.as_slice().expect("standard layout");
            let mut nearest = vec![usize::MAX; n];
            let mut squared = vec![f64::NAN; n];
            let mut second = vec![f64::NAN; n];
            let mut scanned = 0;
            let mut settled = Vec::new();
            let done = filter.nearest(
                rows,
                &mut nearest,
                &mut squared,
                Some(&mut second),
                |i, nearest, squared, second| {
                    scanned += 1;
                    let (b, s, t) = scan(&centres, &rows[i * d..(i + 1) * d]);
                    (nearest[i], squared[i]) = (b, s);
                    if let Some(second) = second {
                        second[i] = t;
                    }
                },
                |first, labels| settled.push((first, labels.to_vec())),
            );
            assert_eq!(done, n);
            // Every batch, in order, with its final labels (its scanned rows included).
            let firsts: Vec<usize> = settled.iter().map(|(first, _)| *first).collect();
            assert_eq!(firsts, (0..n).step_by(BATCH_ROWS).collect::<Vec<_>>());
            for (first, labels) in &settled {
                assert_eq!(labels[..], nearest[*first..first + BATCH_ROWS]);
            }
            // Near ties by design in over a third of the rows; the rest must settle.
            assert!(
                scanned < n * 3 / 4,
                "k {k}, d {d}: {scanned} of {n} rows scanned"
            );
            // Without the second distances (the kernel then sums no norms): the same.
            let mut alone = (vec![usize::MAX; n], vec![f64::NAN; n]);
            filter.nearest(
                rows,
                &mut alone.0,
                &mut alone.1,
                None,
                |i, nearest, squared, _| {
                    let (b, s, _) = scan(&centres, &rows[i * d..(i + 1) * d]);
                    (nearest[i], squared[i]) = (b, s);
                },
                |_, _| {},
            );
            for i in 0..n {
                let (b, s, t) = scan(&centres, &rows[i * d..(i + 1) * d]);
                assert_eq!(
                    (nearest[i], squared[i].to_bits()),
                    (b, s.to_bits()),
                    "k {k}, d {d}, row {i}"
                );
                assert_eq!(
                    (alone.0[i], alone.1[i].to_bits()),
                    (b, s.to_bits()),
                    "k {k}, d {d}, row {i}, without second distances"
                );
                assert!(
                    second[i] <= t || (t.is_nan() && second[i].is_nan()),
                    "k {k}, d {d}, row {i}: {} above {t}",
                    second[i]
                );
            }
        }
    }

    #[test]
    fn declines_many_or_non_finite_centres() {
        assert!(NearestFilter::new(Array2::<f64>::zeros((17, 3)).view()).is_none());
        assert!(NearestFilter::new(Array2::from_elem((2, 3), f64::NAN).view()).is_none());
        assert!(NearestFilter::new(Array2::from_elem((2, 3), 1e200).view()).is_none());
    }
}
