//! Seeded sampling, so that a sampled computation gives the same result on every run.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `size` distinct row indices drawn with the seed, in ascending order (all rows when
/// `size ≥ rows`): the rows a sampled silhouette is computed on.
pub fn sample_rows(rows: usize, size: usize, seed: u64) -> Vec<usize> {
    if size >= rows {
        return (0..rows).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut all: Vec<usize> = (0..rows).collect();
    for i in 0..size {
        let j = rng.random_range(i..rows);
        all.swap(i, j);
    }
    let mut chosen = all[..size].to_vec();
    chosen.sort_unstable();
    chosen
}
