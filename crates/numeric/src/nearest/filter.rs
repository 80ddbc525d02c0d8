//! A faster content-neighbour search for CPUs with AVX-512: the same neighbours and
//! squared distances as the plain search, bit for bit, with a sixth of its arithmetic
//! per reference.
//!
//! The plain search computes `Σ_j (x_j − r_j)²` for every reference: a subtraction, a
//! multiplication and an addition per reference and feature, which made it compute-bound
//! (60 % of the recommend stage at a million customers, by perf). Here, for
//! [`FILTER_QUERIES`] queries and sixteen references (one per `f32` vector lane) at a
//! time:
//! 1. a *filter* computes `‖x‖² + ‖r‖² − 2 x·r` with the dot product in single precision,
//!    one fused multiply-add per reference and feature over sixteen lanes. The rows are
//!    first centred on the references' mean (distances do not change; the norms, and with
//!    them the bound below, shrink when the data sit far from zero);
//! 2. a reference whose filtered value, less a bound on its error, is not below the
//!    query's current `k`-th distance cannot enter the list (the plain search would pass
//!    it by);
//! 3. every other reference gets its squared distance computed exactly as the plain search
//!    computes it, in double precision from the original values (the differences squared
//!    and added in feature order, without fused operations), and goes through the same
//!    insertion.
//!
//! Steps 2 and 3 only skip references that the plain search also skips, so the lists are
//! its lists. Most references are skipped: once a query's list is full, a reference
//! enters it rarely (about `k ln(n / k)` times over `n` references in random order).
//!
//! The bound. With `u = 2⁻²⁴` (single precision's unit roundoff), rounding each centred
//! value to `f32` changes it by at most `u` relatively, so each product by at most `2u`;
//! a fused multiply-add chain of `d` terms adds at most `d u Σ|x_j r_j|`. Since
//! `Σ|x_j r_j| ≤ (‖x‖² + ‖r‖²) / 2`, the filtered value is within `(d + 2) u (‖x‖² + ‖r‖²)`
//! (to first order) of the exact squared distance of the centred rows, which differs
//! from the plain search's sum by double-precision rounding only, `2⁻²⁹` times smaller.
//! Values that underflow single precision add at most `2⁻¹⁴⁹ · |r_j|` each. The filter
//! uses `ε = FILTER_SLACK × (d + 4) × (f32::EPSILON × (‖x‖² + ‖r‖²) + FILTER_FLOOR)`,
//! with `f32::EPSILON = 2u`: four times the derived bound. Written by hand because no
//! crate offers a nearest-neighbour search with bit-exact results; `std::arch`
//! intrinsics because the compiler keeps AVX-512 code to 256-bit vectors unless told.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::LANES;

/// Customers per pass over the references: eight accumulators of eight lanes, a quarter
/// of the AVX-512 registers, so every accumulator stays in a register.
pub(super) const FILTER_QUERIES: usize = 8;

/// See the module's documentation.
const FILTER_SLACK: f64 = 2.0;

/// Absolute part of the bound, per feature: far above what values that underflow single
/// precision can add (`2⁻¹⁴⁹ × 10¹⁵`).
const FILTER_FLOOR: f64 = 1e-25;

/// Above this, the bound is not trusted (single-precision products could overflow):
/// such a query, or such references, are searched by the plain search.
const FILTER_CEILING: f64 = 1e30;

/// References per filter block: one per `f32` lane of an AVX-512 register, two of the
/// exact search's blocks of [`LANES`].
const WIDE: usize = 2 * LANES;

/// The references centred and rounded to single precision, sixteen to a block, with
/// their norms.
pub(super) struct NearestFilter {
    /// The mean of the blocks' lanes (padding lanes repeat the last reference; any
    /// centre keeps distances, this one keeps the norms small), subtracted from every
    /// row before the filter.
    centre: Vec<f64>,
    /// `blocks[(b·d + j)·WIDE + l]`: centred value `j` of reference `b·WIDE + l`, as
    /// `f32`; lanes past the last block of [`LANES`] are zero.
    blocks: Vec<f32>,
    /// `‖r − centre‖²` of every lane of `blocks`; infinite for lanes past the last
    /// block of [`LANES`], whose filtered value is then NaN and never a candidate.
    norms: Vec<f64>,
}

impl NearestFilter {
    /// The filter for these reference blocks (`blocks[(b·d + j)·LANES + l]`), when this
    /// CPU has AVX-512 and FMA (and `CLIENTELE_SIMD` allows them) and every reference
    /// value is finite and not too large.
    pub(super) fn new(blocks: &[f64], d: usize) -> Option<Self> {
        if d == 0 || blocks.is_empty() || !crate::simd::avx512_enabled() {
            return None;
        }
        if !blocks.iter().all(|v| v.is_finite()) {
            return None;
        }
        let lanes = blocks.len() / d;
        let value = |i: usize, j: usize| blocks[((i / LANES) * d + j) * LANES + i % LANES];
        let centre: Vec<f64> = (0..d)
            .map(|j| (0..lanes).map(|i| value(i, j)).sum::<f64>() / lanes as f64)
            .collect();
        let wide_blocks = lanes.div_ceil(WIDE);
        let mut wide = vec![0.0f32; wide_blocks * d * WIDE];
        let mut norms = vec![f64::INFINITY; wide_blocks * WIDE];
        for (i, norm) in norms.iter_mut().enumerate().take(lanes) {
            let (b, l) = (i / WIDE, i % WIDE);
            let mut sum = 0.0f64;
            for (j, c) in centre.iter().enumerate() {
                let v = value(i, j) - c;
                sum += v * v;
                wide[(b * d + j) * WIDE + l] = v as f32;
            }
            *norm = sum;
        }
        let trusted = |v: &f64| v.is_finite() && *v < FILTER_CEILING;
        if !norms[..lanes].iter().all(trusted) {
            return None;
        }
        Some(NearestFilter {
            centre,
            blocks: wide,
            norms,
        })
    }

    /// What [`super::nearest_references`] finds, for up to [`FILTER_QUERIES`] queries;
    /// `false` (and nothing searched) when a query's values are not finite or too large
    /// for the bound.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nearest(
        &self,
        blocks: &[f64],
        d: usize,
        xs: &[&[f64]],
        reference: &[u32],
        excludes: &[u32],
        k: usize,
        nearest: &mut [Vec<(f64, u32)>],
    ) -> bool {
        let queries = xs.len();
        let lanes = self.norms.len();
        assert!(
            queries <= FILTER_QUERIES
                && excludes.len() == queries
                && nearest.len() >= queries
                && xs.iter().all(|x| x.len() == d)
                && self.centre.len() == d
                && blocks.len().is_multiple_of(d * LANES)
                && blocks.len() / d <= lanes
                && self.blocks.len() == lanes * d
                && reference.len() <= blocks.len() / d
        );
        // The queries centred, transposed (`by_feature[j·FILTER_QUERIES + q]`, so that one
        // pointer reaches every query's value of a feature; eight pointers did not fit in
        // registers) and rounded; unused queries repeat the first, so the inner loop has a
        // fixed shape.
        let mut query_norms = [0.0f64; FILTER_QUERIES];
        let mut by_feature = vec![0.0f32; d * FILTER_QUERIES];
        let mut exact_by_feature = vec![0.0f64; d * FILTER_QUERIES];
        for q in 0..FILTER_QUERIES {
            let Some(x) = xs.get(q).or(xs.first()) else {
                break;
            };
            let mut norm = 0.0f64;
            for (j, (v, c)) in x.iter().zip(&self.centre).enumerate() {
                let centred = v - c;
                norm += centred * centred;
                by_feature[j * FILTER_QUERIES + q] = centred as f32;
                exact_by_feature[j * FILTER_QUERIES + q] = *v;
            }
            if !(norm.is_finite() && norm < FILTER_CEILING && x.iter().all(|v| v.is_finite())) {
                return false;
            }
            query_norms[q] = norm;
        }
        if k == 0 || queries == 0 {
            return true;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F and FMA (checked by `new`, the only constructor),
        // and the slices have the lengths the kernel reads (asserted above).
        unsafe {
            filter_kernel(
                Blocks {
                    exact: blocks,
                    wide: &self.blocks,
                    norms: &self.norms,
                    d,
                },
                Queries {
                    count: xs.len(),
                    by_feature: &by_feature,
                    exact_by_feature: &exact_by_feature,
                    norms: &query_norms,
                    excludes,
                },
                reference,
                k,
                nearest,
            );
        }
        true
    }
}

/// The references as the kernel reads them.
struct Blocks<'a> {
    /// The exact search's blocks of [`LANES`], `exact[(b·d + j)·LANES + l]`.
    exact: &'a [f64],
    /// [`NearestFilter::blocks`].
    wide: &'a [f32],
    /// [`NearestFilter::norms`].
    norms: &'a [f64],
    d: usize,
}

/// The queries as the kernel reads them.
struct Queries<'a> {
    count: usize,
    /// Centred and rounded, `by_feature[j·FILTER_QUERIES + q]`.
    by_feature: &'a [f32],
    /// As given, in the same layout, for the exact sums.
    exact_by_feature: &'a [f64],
    /// `‖x − centre‖²`.
    norms: &'a [f64; FILTER_QUERIES],
    excludes: &'a [u32],
}

/// The search of [`NearestFilter::nearest`].
///
/// # Safety
/// The CPU must have AVX-512F and FMA; the slices have the lengths
/// [`NearestFilter::nearest`] asserts, `queries.count ≤ FILTER_QUERIES`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn filter_kernel(
    blocks: Blocks<'_>,
    queries: Queries<'_>,
    reference: &[u32],
    k: usize,
    nearest: &mut [Vec<(f64, u32)>],
) {
    let d = blocks.d;
    let n_queries = queries.count;
    let exact_blocks = blocks.exact.len() / (d * LANES);
    let slack = FILTER_SLACK * (d + 4) as f64;
    let mut worst = [f64::INFINITY; FILTER_QUERIES];
    // SAFETY: the function's contract (its `# Safety`) is the caller's to keep; every
    // pointer read below is inside `blocks.exact`, `blocks.wide`, `blocks.norms`,
    // `queries.by_feature` or `queries.exact_by_feature`.
    unsafe {
        let two = _mm512_set1_pd(2.0);
        let epsilon = _mm512_set1_pd(slack * f32::EPSILON as f64);
        let floor = _mm512_set1_pd(slack * FILTER_FLOOR);
        let x = queries.by_feature.as_ptr();
        for w in 0..blocks.wide.len() / (d * WIDE) {
            let base = blocks.wide.as_ptr().add(w * d * WIDE);
            let mut acc = [_mm512_setzero_ps(); FILTER_QUERIES];
            for j in 0..d {
                let lanes = _mm512_loadu_ps(base.add(j * WIDE));
                let x = x.add(j * FILTER_QUERIES);
                for (q, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(q)), lanes, *acc);
                }
            }
            // Each half of sixteen lanes is one exact block of eight, in reference order,
            // so that every insertion sees the lists the plain search would.
            for half in 0..2 {
                let b = 2 * w + half;
                if b >= exact_blocks {
                    break;
                }
                let reference_norms = _mm512_loadu_pd(blocks.norms.as_ptr().add(b * LANES));
                // The queries some of whose references here may enter their lists.
                let mut pending = [(0usize, 0u8); FILTER_QUERIES];
                let mut n_pending = 0;
                for q in 0..n_queries {
                    let dot = _mm512_cvtps_pd(if half == 0 {
                        _mm512_castps512_ps256(acc[q])
                    } else {
                        _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[q])))
                    });
                    let norms = _mm512_add_pd(reference_norms, _mm512_set1_pd(queries.norms[q]));
                    // ‖x‖² + ‖r‖² − 2 x·r − ε, against the current k-th distance.
                    let filtered = _mm512_fnmadd_pd(two, dot, norms);
                    let bound = _mm512_fmadd_pd(epsilon, norms, floor);
                    let lowest = _mm512_sub_pd(filtered, bound);
                    let left = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(lowest, _mm512_set1_pd(worst[q]));
                    if left != 0 {
                        pending[n_pending] = (q, left);
                        n_pending += 1;
                    }
                }
                if n_pending == 0 {
                    continue;
                }
                // Exactly the plain search's sums, lane by lane: the same operations in
                // the same order, without fused ones; the queries' sums interleaved, so
                // that their chains of additions overlap.
                let exact_base = blocks.exact.as_ptr().add(b * d * LANES);
                let mut exact = [_mm512_setzero_pd(); FILTER_QUERIES];
                for j in 0..d {
                    let lanes = _mm512_loadu_pd(exact_base.add(j * LANES));
                    let x = queries.exact_by_feature.as_ptr().add(j * FILTER_QUERIES);
                    for (exact, &(q, _)) in exact.iter_mut().zip(&pending[..n_pending]) {
                        let diff = _mm512_sub_pd(lanes, _mm512_set1_pd(*x.add(q)));
                        *exact = _mm512_add_pd(*exact, _mm512_mul_pd(diff, diff));
                    }
                }
                for (exact, &(q, mut left)) in exact.iter().zip(&pending[..n_pending]) {
                    let mut dists = [0.0f64; LANES];
                    _mm512_storeu_pd(dists.as_mut_ptr(), *exact);
                    while left != 0 {
                        let l = left.trailing_zeros() as usize;
                        left &= left - 1;
                        let i = b * LANES + l;
                        if i >= reference.len() {
                            continue;
                        }
                        super::insert_nearest(
                            &mut nearest[q],
                            &mut worst[q],
                            dists[l],
                            reference[i],
                            queries.excludes[q],
                            k,
                        );
                    }
                }
            }
        }
    }
}
