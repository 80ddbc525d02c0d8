//! The memory-bandwidth bound of a K-Means Lloyd pass, measured in one process: the
//! machine's copy bandwidth, and the time of one assignment pass over a matrix too large
//! for the caches. A pass must read the whole matrix, so it can take no less than the
//! matrix's bytes over the bandwidth.
//!
//! Bandwidth follows STREAM's "Copy" convention: a copy of B bytes moves 2B (read and
//! write). Both the copy and the pass use every core (rayon), as the stage does, and each
//! is timed as the best of `repeats` runs, after one warm-up run that faults the pages in.

use std::time::Instant;

use clientele_segment::kmeans::LloydPass;
use ndarray::s;
use rayon::prelude::*;
use serde::Serialize;

use crate::synthetic::blobs;

/// Bytes per parallel chunk of the copy: large enough that scheduling does not count.
const COPY_CHUNK: usize = 1 << 22;

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
    pub lloyd_pass_seconds: f64,
    /// `matrix_bytes / copy_bytes_per_second`.
    pub bound_seconds: f64,
    /// `lloyd_pass_seconds / bound_seconds`: 1 is the bound; the target is ≤ 2.
    pub ratio_to_bound: f64,
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
    let read = best_of(repeats, || {
        let total: f64 = source
            .par_chunks(chunk)
            .map(|c| c.iter().sum::<f64>())
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
    // The buffers are twice the matrix, so no cache holds them either.
    let (copy_bytes_per_second, read_bytes_per_second) =
        bandwidth(matrix_bytes.max(1 << 28), repeats);
    let bound_seconds = matrix_bytes as f64 / copy_bytes_per_second;
    Bound {
        rows,
        dims,
        k,
        threads: rayon::current_num_threads(),
        matrix_bytes,
        copy_bytes_per_second,
        read_bytes_per_second,
        lloyd_pass_seconds,
        bound_seconds,
        ratio_to_bound: lloyd_pass_seconds / bound_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_positive_finite_figures() {
        let bound = measure(20_000, 8, 4, 1);
        assert_eq!(bound.matrix_bytes, 20_000 * 8 * 8);
        for v in [
            bound.copy_bytes_per_second,
            bound.read_bytes_per_second,
            bound.lloyd_pass_seconds,
            bound.ratio_to_bound,
        ] {
            assert!(v.is_finite() && v > 0.0, "{bound:?}");
        }
    }
}
