//! The memory-bandwidth bound of a K-Means Lloyd pass, measured in one process: the
//! machine's copy bandwidth, and the time of one assignment pass over a matrix too large
//! for the caches. A pass must read the whole matrix, so it can take no less than the
//! matrix's bytes over the bandwidth.
//!
//! Two kinds of pass are timed. A *full pass* scans every centre for every row: the
//! first pass of a fit, and every pass without bounds. It is timed twice: as the stage
//! runs it (with the AVX-512 kernel where the CPU has it), and with the portable kernels
//! only, the baseline. A *bounded pass* is a later pass of a fit, where Hamerly's bounds
//! spare the scan of most rows (`clientele_segment::k_means`); it is timed along a real
//! fit, as the centres move, from the first `k` rows as initial centres until no label
//! changes (at most [`FIT_PASSES`] passes).
//!
//! Bandwidth follows STREAM's "Copy" convention: a copy of B bytes moves 2B (read and
//! write). Both the copy and the pass use every core (rayon), as the stage does, and each
//! is timed as the best of `repeats` runs, after one warm-up run that faults the pages in.

use std::time::Instant;

use clientele_segment::k_means::LloydPass;
use ndarray::s;
use rayon::prelude::*;
use serde::Serialize;

use crate::synthetic::blobs;

/// Bytes per parallel chunk of the copy: large enough that scheduling does not count.
const COPY_CHUNK: usize = 1 << 22;

/// Most passes of the timed fit.
pub const FIT_PASSES: usize = 30;

#[derive(Debug, Clone, Serialize)]
pub struct Bound {
    pub rows: usize,
    pub dims: usize,
    pub k: usize,
    pub threads: usize,
    pub matrix_bytes: usize,
    /// Copy bandwidth, STREAM convention (2 × bytes copied per second).
    pub copy_bytes_per_second: f64,
    /// Read-only bandwidth (a sum over the buffer), for reference: a pass only reads.
    pub read_bytes_per_second: f64,
    /// A full pass: every centre scanned for every row.
    pub lloyd_pass_seconds: f64,
    /// The same full pass with the portable kernels only (no AVX-512 filter): what
    /// `lloyd_pass_seconds` was before that kernel, measured in the same run.
    pub portable_pass_seconds: f64,
    /// Passes of the timed fit, the first (full) one included.
    pub fit_passes: usize,
    /// The share of rows the bounded passes scanned, on average.
    pub bounded_scanned_fraction: f64,
    /// The median of the fit's bounded passes (all but the first), each the best of
    /// `repeats` fits.
    pub bounded_pass_seconds: f64,
    /// The fit's time over its passes: what a pass costs on average in a fit.
    pub mean_fit_pass_seconds: f64,
    /// `matrix_bytes / copy_bytes_per_second`.
    pub bound_seconds: f64,
    /// `lloyd_pass_seconds / bound_seconds`: 1 is the bound; the target is ≤ 2.
    pub ratio_to_bound: f64,
    /// `bounded_pass_seconds / bound_seconds`.
    pub bounded_ratio_to_bound: f64,
    /// `mean_fit_pass_seconds / bound_seconds`.
    pub mean_fit_ratio_to_bound: f64,
}

fn best_of(repeats: usize, mut run: impl FnMut()) -> f64 {
    run();
    (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Copy and read bandwidth over buffers of `bytes` bytes.
pub fn bandwidth(bytes: usize, repeats: usize) -> (f64, f64) {
    let words = bytes / 8;
    let source: Vec<f64> = (0..words).map(|i| i as f64).collect();
    let mut target = vec![0.0f64; words];
    let chunk = COPY_CHUNK / 8;
    let copy = best_of(repeats, || {
        target
            .par_chunks_mut(chunk)
            .zip(source.par_chunks(chunk))
            .for_each(|(t, s)| t.copy_from_slice(s));
        std::hint::black_box(&target);
    });
    // Sixteen running sums, not one: a single chain of additions waits on each addition
    // (four cycles for eight bytes) and measured the adder, not the memory (15 GB/s against
    // 21 here).
    let read = best_of(repeats, || {
        let total: f64 = source
            .par_chunks(chunk)
            .map(|c| {
                let mut sums = [0.0f64; 16];
                let mut blocks = c.chunks_exact(16);
                for values in &mut blocks {
                    for (sum, v) in sums.iter_mut().zip(values) {
                        *sum += v;
                    }
                }
                sums.iter().sum::<f64>() + blocks.remainder().iter().sum::<f64>()
            })
            .sum();
        std::hint::black_box(total);
    });
    (2.0 * (words * 8) as f64 / copy, (words * 8) as f64 / read)
}

/// Measures the bandwidth and one Lloyd pass over `rows` × `dims` synthetic blobs with `k`
/// centres.
pub fn measure(rows: usize, dims: usize, k: usize, repeats: usize) -> Bound {
    let x = blobs(rows, dims, k, 7);
    let matrix_bytes = rows * dims * 8;
    let centres = x.slice(s![..k, ..]).to_owned();
    let mut pass = LloydPass::new(x.view());
    let lloyd_pass_seconds = best_of(repeats, || {
        std::hint::black_box(pass.run(&centres));
    });
    let portable_pass_seconds = best_of(repeats, || {
        std::hint::black_box(pass.run_portable(&centres));
    });
    let (fit, scanned) = time_fit(&x, &centres, repeats);
    // The buffers are twice the matrix, so no cache holds them either.
    let (copy_bytes_per_second, read_bytes_per_second) =
        bandwidth(matrix_bytes.max(1 << 28), repeats);
    let bound_seconds = matrix_bytes as f64 / copy_bytes_per_second;
    let bounded_pass_seconds = median(&fit[1..]);
    let mean_fit_pass_seconds = fit.iter().sum::<f64>() / fit.len() as f64;
    Bound {
        rows,
        dims,
        k,
        threads: rayon::current_num_threads(),
        matrix_bytes,
        copy_bytes_per_second,
        read_bytes_per_second,
        lloyd_pass_seconds,
        portable_pass_seconds,
        fit_passes: fit.len(),
        bounded_scanned_fraction: scanned[1..].iter().sum::<usize>() as f64
            / (rows * (scanned.len() - 1).max(1)) as f64,
        bounded_pass_seconds,
        mean_fit_pass_seconds,
        bound_seconds,
        ratio_to_bound: lloyd_pass_seconds / bound_seconds,
        bounded_ratio_to_bound: bounded_pass_seconds / bound_seconds,
        mean_fit_ratio_to_bound: mean_fit_pass_seconds / bound_seconds,
    }
}

/// Each pass's time of a fit from `centres` until no label changes (at most
/// [`FIT_PASSES`] passes), pass by pass the best of `repeats` fits. Every fit takes the
/// same passes: the fit is deterministic.
fn time_fit(
    x: &ndarray::Array2<f64>,
    centres: &ndarray::Array2<f64>,
    repeats: usize,
) -> (Vec<f64>, Vec<usize>) {
    let mut best: Vec<f64> = Vec::new();
    let mut scanned = vec![0; FIT_PASSES];
    for _ in 0..repeats.max(1) {
        let mut pass = LloydPass::new(x.view());
        let mut centres = centres.clone();
        for (i, scanned) in scanned.iter_mut().enumerate() {
            let started = Instant::now();
            let changed = pass.iterate(&mut centres);
            let seconds = started.elapsed().as_secs_f64();
            *scanned = pass.scanned();
            match best.get_mut(i) {
                Some(b) => *b = b.min(seconds),
                None => best.push(seconds),
            }
            if changed == 0 && i > 0 {
                break;
            }
        }
    }
    scanned.truncate(best.len());
    (best, scanned)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_positive_finite_figures() {
        let bound = measure(20_000, 8, 4, 1);
        assert_eq!(bound.matrix_bytes, 20_000 * 8 * 8);
        assert!(bound.fit_passes >= 2, "{bound:?}");
        for v in [
            bound.copy_bytes_per_second,
            bound.read_bytes_per_second,
            bound.lloyd_pass_seconds,
            bound.portable_pass_seconds,
            bound.ratio_to_bound,
            bound.bounded_pass_seconds,
            bound.mean_fit_ratio_to_bound,
        ] {
            assert!(v.is_finite() && v > 0.0, "{bound:?}");
        }
    }
}
