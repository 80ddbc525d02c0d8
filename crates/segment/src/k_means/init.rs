//! Greedy k-means++ seeding (scikit-learn's `_kmeans_plusplus`): `2 + ⌊ln k⌋`
//! candidates per centre, the one that lowers the potential most kept.
//!
//! Each candidate would cost a pass over the data, and at a few Lloyd passes per fit the
//! seeding is most of the work. Most of it is spared by the triangle inequality, as in
//! E. Raff, "Exact Acceleration of K-Means++ and K-Means‖" (IJCAI 2021): every row
//! remembers which chosen centre `o` is its closest, and if `d(o, t) ≥ 2·d(row, o)` no
//! candidate `t` can come nearer than `o`, so the row's potential is its closest
//! distance, without reading the row. The test keeps the bounds' margin
//! ([`BOUND_SLACK`]), so a skipped row is one whose distance the scan would have found
//! larger by more than any rounding: the centres are the scan's, bit for bit.
//!
//! The rows a pass does read are gathered first and go [`ROW_BLOCK`] at a time through
//! the distances, so that their sums overlap; what they give for each candidate is kept
//! until the chosen one is known, then written when the next pass (or draw) reaches
//! their chunk, so that no pass of its own goes over the rows to update them.

use ndarray::{s, Array2, ArrayView2};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::bounds::BOUND_SLACK;
use super::distances::{nearest_squared_rows, Centres, ROW_BLOCK};
use super::rows::{data_rows, prefetch_row, Rows};
use super::CHUNK_ROWS;

/// What a chunk of rows keeps between two candidate passes: the rows the last pass read
/// (their places in the chunk), their values for every candidate, and, once a candidate
/// is chosen, which one, to be written into the chunk's closest distances and owners
/// before they are next read.
#[derive(Default)]
struct ChunkSeeding {
    read: Vec<u32>,
    values: Vec<f64>,
    pending: Option<(usize, u32)>,
}

impl ChunkSeeding {
    fn settle(&mut self, closest: &mut [f64], owner: &mut [u32], trials: usize) {
        if let Some((best, index)) = self.pending.take() {
            take_chosen(
                &self.read,
                &self.values,
                trials,
                best,
                index,
                closest,
                owner,
            );
        }
    }
}

clientele_numeric::multiversion! {
    /// Gives each row in `read` its value for the chosen candidate `best`, which becomes
    /// its owner (`index`) where it is nearer than the row's closest centre.
    fn take_chosen(
        read: &[u32],
        values: &[f64],
        trials: usize,
        best: usize,
        index: u32,
        closest: &mut [f64],
        owner: &mut [u32],
    ) {
        for (&i, value) in read.iter().zip(values.chunks_exact(trials)) {
            let (c, o) = (&mut closest[i as usize], &mut owner[i as usize]);
            let nearer = value[best] < *c;
            *c = if nearer { value[best] } else { *c };
            *o = if nearer { index } else { *o };
        }
    }
}

clientele_numeric::multiversion! {
    /// Adds to `potentials[t]`, for each row in order, the smaller of the row's closest
    /// squared distance and its squared distance to candidate `t`. A row whose closest
    /// distance is below `reach[owner]` (the smallest over candidates of a quarter of the
    /// squared distance between its owner and the candidate, less the margin) is not read.
    /// The rows that are read are listed in `read`, and their values for each candidate
    /// kept in `values` (`trials` per row), so that the chosen one's need not be computed
    /// again.
    #[allow(clippy::too_many_arguments)]
    fn candidate_potentials(
        rows: &[f64],
        d: usize,
        candidates: &Centres,
        closest: &[f64],
        owner: &[u32],
        reach: &[f64],
        read: &mut Vec<u32>,
        values: &mut Vec<f64>,
        potentials: &mut [f64],
    ) {
        let trials = potentials.len();
        // Without a branch per row: which rows are read is as unpredictable as the data.
        read.clear();
        read.resize(closest.len(), 0);
        let mut count = 0;
        for (i, (&c, &o)) in closest.iter().zip(owner).enumerate() {
            read[count] = i as u32;
            count += usize::from(c >= reach[o as usize]);
        }
        read.truncate(count);
        values.clear();
        values.resize(count * trials, 0.0);
        match candidates.width {
            4 => candidate_values::<4>(rows, d, candidates, closest, read, values, trials),
            8 => candidate_values::<8>(rows, d, candidates, closest, read, values, trials),
            12 => candidate_values::<12>(rows, d, candidates, closest, read, values, trials),
            16 => candidate_values::<16>(rows, d, candidates, closest, read, values, trials),
            _ => {
                let mut scratch = candidates.scratch();
                for (&i, kept) in read.iter().zip(values.chunks_exact_mut(trials)) {
                    let i = i as usize;
                    candidates.distances(&rows[i * d..(i + 1) * d], &mut scratch);
                    kept.iter_mut().zip(&scratch).for_each(|(k, &s)| *k = closest[i].min(s));
                }
            }
        }
        if count == 0 {
            for &c in closest {
                potentials.iter_mut().for_each(|p| *p += c);
            }
            return;
        }
        let mut next = 0;
        for (i, &c) in closest.iter().enumerate() {
            let was_read = read[next.min(count - 1)] as usize == i;
            let kept = &values[next.min(count - 1) * trials..][..trials];
            for (p, &k) in potentials.iter_mut().zip(kept) {
                *p += if was_read { k } else { c };
            }
            next += usize::from(was_read);
        }
    }
}

/// The values of [`candidate_potentials`] for the rows in `read`, [`ROW_BLOCK`] rows at a
/// time (`W` is the candidate table's width).
#[inline(always)]
fn candidate_values<const W: usize>(
    rows: &[f64],
    d: usize,
    candidates: &Centres,
    closest: &[f64],
    read: &[u32],
    values: &mut [f64],
    trials: usize,
) {
    let row = |i: u32| &rows[i as usize * d..(i as usize + 1) * d];
    let mut blocks = read.chunks_exact(ROW_BLOCK);
    let mut kept = values.chunks_exact_mut(trials);
    for (b, block) in (&mut blocks).enumerate() {
        // The rows read are scattered, so the CPU's own prefetch does not see them coming.
        for &i in read
            .get((b + 2) * ROW_BLOCK..(b + 3) * ROW_BLOCK)
            .unwrap_or(&[])
        {
            prefetch_row(rows, i as usize, d);
        }
        let sums =
            candidates.gathered_distances::<W, ROW_BLOCK>(std::array::from_fn(|r| row(block[r])));
        for (sums, &i) in sums.iter().zip(block) {
            if let Some(kept) = kept.next() {
                kept.iter_mut()
                    .zip(sums)
                    .for_each(|(k, &s)| *k = closest[i as usize].min(s));
            }
        }
    }
    for &i in blocks.remainder() {
        let [sums] = candidates.gathered_distances::<W, 1>([row(i)]);
        if let Some(kept) = kept.next() {
            kept.iter_mut()
                .zip(&sums)
                .for_each(|(k, &s)| *k = closest[i as usize].min(s));
        }
    }
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`).
pub(super) fn kmeans_plus_plus(data: &Rows, k: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    seed_centres(data, k, rng, true)
}

/// [`kmeans_plus_plus`]; with `prune` false every row is read for every candidate (the
/// reference the pruned seeding is tested against).
fn seed_centres(data: &Rows, k: usize, rng: &mut ChaCha8Rng, prune: bool) -> Array2<f64> {
    let mut centres = Array2::<f64>::zeros((k, data.d));
    let first = rng.random_range(0..data.n);
    centres
        .row_mut(0)
        .iter_mut()
        .zip(data.row(first))
        .for_each(|(c, v)| *c = *v);
    let mut closest = vec![f64::INFINITY; data.n];
    let mut owner = vec![0u32; data.n];
    // Each chunk's sum of `closest`: where a draw lands is found chunk by chunk, then row
    // by row in one chunk, without a cumulative sum over every row.
    let mut chunk_sums = first_distances(data, first, &mut closest);
    let trials = 2 + (k as f64).ln() as usize;
    let mut seeding: Vec<ChunkSeeding> = (0..chunk_sums.len())
        .map(|_| ChunkSeeding::default())
        .collect();
    for c in 1..k {
        let total: f64 = chunk_sums.iter().sum();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.random::<f64>() * total;
                let (chunk, before) = chunk_of(&chunk_sums, target);
                let rows = chunk * CHUNK_ROWS..((chunk + 1) * CHUNK_ROWS).min(data.n);
                seeding[chunk].settle(&mut closest[rows.clone()], &mut owner[rows.clone()], trials);
                rows.start + draw_in(&closest[rows], before, target)
            })
            .collect();
        let candidate_rows = data_rows(data, &candidates);
        let mut quarters = quarter_gaps(centres.slice(s![..c, ..]), candidate_rows.view());
        if !prune {
            quarters.fill(f64::NEG_INFINITY);
        }
        let reach: Vec<f64> = quarters
            .rows()
            .into_iter()
            .map(|q| q.iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        let table = Centres::new(candidate_rows.view());
        // For each candidate, the potential if it were chosen.
        let partial: Vec<Vec<f64>> = closest
            .par_chunks_mut(CHUNK_ROWS)
            .zip(owner.par_chunks_mut(CHUNK_ROWS))
            .zip(seeding.par_iter_mut())
            .enumerate()
            .map(|(chunk, ((closest, owner), seeding))| {
                seeding.settle(closest, owner, trials);
                let first = chunk * CHUNK_ROWS;
                let rows = &data.values[first * data.d..(first + closest.len()) * data.d];
                let mut potentials = vec![0.0; trials];
                candidate_potentials(
                    rows,
                    data.d,
                    &table,
                    closest,
                    owner,
                    &reach,
                    &mut seeding.read,
                    &mut seeding.values,
                    &mut potentials,
                );
                potentials
            })
            .collect();
        let mut best = 0;
        let mut best_potential = f64::INFINITY;
        for t in 0..trials {
            let pot: f64 = partial.iter().map(|p| p[t]).sum();
            if pot < best_potential {
                best_potential = pot;
                best = t;
            }
        }
        chunk_sums = partial.iter().map(|p| p[best]).collect();
        seeding
            .iter_mut()
            .for_each(|s| s.pending = Some((best, c as u32)));
        centres
            .row_mut(c)
            .iter_mut()
            .zip(data.row(candidates[best]))
            .for_each(|(c, v)| *c = *v);
    }
    centres
}

/// Each row's squared distance to row `first` into `closest`; returns their sums by chunk.
fn first_distances(data: &Rows, first: usize, closest: &mut [f64]) -> Vec<f64> {
    let table = Centres::new(data_rows(data, &[first]).view());
    closest
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .map(|(chunk, closest)| {
            let start = chunk * CHUNK_ROWS;
            let rows = &data.values[start * data.d..(start + closest.len()) * data.d];
            // With one centre every label is 0; the scan gives the distances' bits.
            let mut labels = vec![0usize; closest.len()];
            nearest_squared_rows(rows, data.d, &table, &mut labels, closest);
            closest.iter().sum()
        })
        .collect()
}

/// The chunk in which the running sum of the rows' closest distances reaches `target`,
/// and the sum of the chunks before it.
fn chunk_of(chunk_sums: &[f64], target: f64) -> (usize, f64) {
    let mut before = 0.0;
    for (chunk, &sum) in chunk_sums.iter().enumerate() {
        if before + sum >= target {
            return (chunk, before);
        }
        before += sum;
    }
    (chunk_sums.len().saturating_sub(1), before)
}

/// The first row of a chunk at which `before` plus the running sum of `closest` reaches
/// `target` (the last if rounding leaves it short): k-means++'s draw in proportion to
/// the squared distance.
fn draw_in(closest: &[f64], before: f64, target: f64) -> usize {
    let mut running = before;
    for (i, &c) in closest.iter().enumerate() {
        running += c;
        if running >= target {
            return i;
        }
    }
    closest.len().saturating_sub(1)
}

/// `[j, t]`: a quarter of the squared distance between centre `j` and candidate `t`, less
/// the margin. A row owned by `j` whose closest squared distance is below it is farther
/// from `t` than from `j`: `d(row, t) ≥ d(j, t) − d(row, j) > d(row, j)`.
fn quarter_gaps(centres: ArrayView2<f64>, candidates: ArrayView2<f64>) -> Array2<f64> {
    Array2::from_shape_fn((centres.nrows(), candidates.nrows()), |(j, t)| {
        let squared: f64 = centres
            .row(j)
            .iter()
            .zip(candidates.row(t))
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        squared * 0.25 * (1.0 - BOUND_SLACK)
    })
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
    fn pruned_seeding_picks_the_plain_seedings_centres_bit_for_bit() {
        // Blobs far apart (most rows pruned), a cloud (few pruned), duplicates and near
        // ties, with k up to 17 (five candidates per centre).
        let blobs = Array2::from_shape_fn((3000, 5), |(i, j)| {
            let blob = (i % 9) as f64;
            blob * 40.0 * ((j + 1) as f64).sqrt() + ((i * 31 + j * 17) % 101) as f64 * 0.05
        });
        let cloud = Array2::from_shape_fn((2000, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 97.0
        });
        let ties =
            Array2::from_shape_fn((1500, 2), |(i, j)| ((i / 3) % 10) as f64 + j as f64 * 0.5);
        for x in [blobs, cloud, ties] {
            let rows = Rows::new(x.view());
            for k in [1, 2, 3, 8, 17] {
                for seed in 0..3 {
                    let pruned = seed_centres(&rows, k, &mut ChaCha8Rng::seed_from_u64(seed), true);
                    let plain = seed_centres(&rows, k, &mut ChaCha8Rng::seed_from_u64(seed), false);
                    let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&pruned), bits(&plain), "k {k}, seed {seed}");
                }
            }
        }
    }

    #[test]
    fn candidate_potentials_match_the_direct_sums() {
        let x = three_groups();
        let rows = Rows::new(x.view());
        let closest: Vec<f64> = (0..rows.n).map(|i| (i % 13) as f64).collect();
        let owner = vec![0u32; rows.n];
        let picked = [4usize, 60, 149];
        let table = Centres::new(data_rows(&rows, &picked).view());
        let mut potentials = vec![0.0; picked.len()];
        let mut seeding = ChunkSeeding::default();
        candidate_potentials(
            &rows.values,
            rows.d,
            &table,
            &closest,
            &owner,
            &[f64::NEG_INFINITY],
            &mut seeding.read,
            &mut seeding.values,
            &mut potentials,
        );
        assert_eq!(seeding.read.len(), rows.n);
        let (mut lowered, mut owners) = (closest.clone(), owner.clone());
        seeding.pending = Some((1, 7));
        seeding.settle(&mut lowered, &mut owners, picked.len());
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
                assert_eq!(
                    seeding.values[i * picked.len() + t].to_bits(),
                    kept.to_bits()
                );
                if t == 1 {
                    assert_eq!(lowered[i].to_bits(), kept.to_bits());
                    assert_eq!(owners[i], if d < closest[i] { 7 } else { 0 });
                }
                expected += kept;
            }
            assert_eq!(potentials[t].to_bits(), expected.to_bits());
        }
    }

    #[test]
    fn a_draw_lands_where_the_running_sum_reaches_the_target() {
        let closest: Vec<f64> = (0..3 * CHUNK_ROWS)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let sums: Vec<f64> = closest.chunks(CHUNK_ROWS).map(|c| c.iter().sum()).collect();
        for (target, row) in [
            (0.0, 0),
            (0.5, 0),
            (1.0, 0),
            (1.5, 2),
            (2048.5, 4096),
            (6144.0, 3 * CHUNK_ROWS - 2),
        ] {
            let (chunk, before) = chunk_of(&sums, target);
            let rows = chunk * CHUNK_ROWS..(chunk + 1) * CHUNK_ROWS;
            assert_eq!(
                rows.start + draw_in(&closest[rows], before, target),
                row,
                "target {target}"
            );
        }
    }
}
