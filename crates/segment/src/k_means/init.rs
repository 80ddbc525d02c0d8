//! Greedy k-means++ seeding (scikit-learn's `_kmeans_plusplus`): `2 + ⌊ln k⌋`
//! candidates per centre, the one that lowers the potential most kept.

use ndarray::Array2;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::distances::Centres;
use super::rows::{chunked_sum, data_rows, Rows};
use super::CHUNK_ROWS;

clientele_numeric::multiversion! {
    /// For each row and candidate `t`, the smaller of the row's current closest squared
    /// distance and its squared distance to `t`: kept in `if_chosen` (row-major, one
    /// value per candidate) and added to `potentials[t]`. Keeping them spares a second
    /// pass over the data once a candidate is chosen.
    pub(super) fn candidate_potentials(
        rows: &[f64],
        d: usize,
        candidates: &Centres,
        closest: &[f64],
        if_chosen: &mut [f64],
        potentials: &mut [f64],
    ) {
        let trials = potentials.len();
        let mut scratch = candidates.scratch();
        for ((row, &c), kept) in rows.chunks_exact(d).zip(closest).zip(if_chosen.chunks_exact_mut(trials)) {
            candidates.distances(row, &mut scratch);
            for ((p, &s), k) in potentials.iter_mut().zip(&scratch).zip(kept.iter_mut()) {
                let m = c.min(s);
                *k = m;
                *p += m;
            }
        }
    }
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`).
pub(super) fn kmeans_plus_plus(data: &Rows, k: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let mut centres = Array2::<f64>::zeros((k, data.d));
    let first = rng.random_range(0..data.n);
    centres
        .row_mut(0)
        .iter_mut()
        .zip(data.row(first))
        .for_each(|(c, v)| *c = *v);
    let mut closest = vec![f64::INFINITY; data.n];
    update_closest(data, first, &mut closest);
    let mut potential = chunked_sum(&closest);
    let trials = 2 + (k as f64).ln() as usize;
    let mut cumulative = vec![0.0; data.n];
    let mut if_chosen = vec![0.0; data.n * trials];
    for c in 1..k {
        let mut running = 0.0;
        for (acc, d) in cumulative.iter_mut().zip(&closest) {
            running += d;
            *acc = running;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.random::<f64>() * running;
                cumulative.partition_point(|&v| v < target).min(data.n - 1)
            })
            .collect();
        // For each candidate, the potential if it were chosen.
        let table = Centres::new(data_rows(data, &candidates).view());
        let partial: Vec<Vec<f64>> = if_chosen
            .par_chunks_mut(CHUNK_ROWS * trials)
            .enumerate()
            .map(|(chunk, if_chosen)| {
                let rows = chunk * CHUNK_ROWS..((chunk + 1) * CHUNK_ROWS).min(data.n);
                let mut potentials = vec![0.0; trials];
                candidate_potentials(
                    &data.values[rows.start * data.d..rows.end * data.d],
                    data.d,
                    &table,
                    &closest[rows],
                    if_chosen,
                    &mut potentials,
                );
                potentials
            })
            .collect();
        let mut best = 0;
        let mut best_potential = f64::INFINITY;
        for (t, _) in candidates.iter().enumerate() {
            let pot: f64 = partial.iter().map(|p| p[t]).sum();
            if pot < best_potential {
                best_potential = pot;
                best = t;
            }
        }
        let chosen = candidates[best];
        potential = best_potential;
        closest
            .par_chunks_mut(CHUNK_ROWS)
            .zip(if_chosen.par_chunks(CHUNK_ROWS * trials))
            .for_each(|(closest, kept)| {
                for (c, k) in closest.iter_mut().zip(kept.chunks_exact(trials)) {
                    *c = k[best];
                }
            });
        centres
            .row_mut(c)
            .iter_mut()
            .zip(data.row(chosen))
            .for_each(|(c, v)| *c = *v);
    }
    let _ = potential;
    centres
}

/// Lowers each row's closest squared distance to its distance to row `centre`.
pub(super) fn update_closest(data: &Rows, centre: usize, closest: &mut [f64]) {
    let table = Centres::new(data_rows(data, &[centre]).view());
    closest
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .for_each(|(chunk, closest)| {
            let first = chunk * CHUNK_ROWS;
            let rows = &data.values[first * data.d..(first + closest.len()) * data.d];
            lower_closest(rows, data.d, &table, closest);
        });
}

clientele_numeric::multiversion! {
    pub(super) fn lower_closest(rows: &[f64], d: usize, table: &Centres, closest: &mut [f64]) {
        let mut scratch = table.scratch();
        for (row, c) in rows.chunks_exact(d).zip(closest.iter_mut()) {
            table.distances(row, &mut scratch);
            *c = c.min(scratch[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::SeedableRng;

    use super::*;

    /// Three tight groups of 50 rows, far apart.
    fn three_groups() -> Array2<f64> {
        Array2::from_shape_fn((150, 3), |(i, j)| {
            let group = (i / 50) as f64;
            group * 100.0 + ((i * 7 + j * 3) % 11) as f64 * 0.01
        })
    }

    #[test]
    fn seeding_puts_one_centre_in_each_far_group() {
        let x = three_groups();
        let rows = Rows::new(x.view());
        for seed in 0..5 {
            let centres = kmeans_plus_plus(&rows, 3, &mut ChaCha8Rng::seed_from_u64(seed));
            let mut groups: Vec<i64> = centres
                .rows()
                .into_iter()
                .map(|c| (c[0] / 100.0).round() as i64)
                .collect();
            groups.sort_unstable();
            assert_eq!(groups, [0, 1, 2], "seed {seed}");
        }
    }

    #[test]
    fn candidate_potentials_match_the_direct_sums() {
        let x = three_groups();
        let rows = Rows::new(x.view());
        let closest: Vec<f64> = (0..rows.n).map(|i| (i % 13) as f64).collect();
        let picked = [4usize, 60, 149];
        let table = Centres::new(data_rows(&rows, &picked).view());
        let mut if_chosen = vec![0.0; rows.n * picked.len()];
        let mut potentials = vec![0.0; picked.len()];
        candidate_potentials(
            &rows.values,
            rows.d,
            &table,
            &closest,
            &mut if_chosen,
            &mut potentials,
        );
        for (t, &c) in picked.iter().enumerate() {
            let mut expected = 0.0;
            for i in 0..rows.n {
                let d: f64 = rows
                    .row(i)
                    .iter()
                    .zip(rows.row(c))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                let kept = closest[i].min(d);
                assert!((if_chosen[i * picked.len() + t] - kept).abs() < 1e-9);
                expected += kept;
            }
            assert!((potentials[t] - expected).abs() < 1e-6 * expected.max(1.0));
        }
        let mut lowered = closest.clone();
        update_closest(&rows, 60, &mut lowered);
        for i in 0..rows.n {
            assert!((lowered[i] - if_chosen[i * picked.len() + 1]).abs() < 1e-9);
        }
    }
}
