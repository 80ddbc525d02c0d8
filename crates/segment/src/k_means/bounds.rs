//! Hamerly's bounds: after the first pass of a fit, a row whose own centre is provably
//! still the nearest, by a margin no rounding can close, gets only its distance to that
//! centre, summed exactly as the full scan sums it. So the labels, distances and centres
//! are the full scan's, bit for bit, and most rows of a late pass cost a read and one
//! distance instead of `k`.

use ndarray::Array2;
use rayon::prelude::*;

use super::algorithm::{assign_rows, combine, count_labels, ChunkRows, ChunkStep};
use super::distances::{add_rows, Centres, ROW_BLOCK};
use super::nearest_filter::BATCH_ROWS;
use super::rows::{prefetch_row, Rows};
use super::CHUNK_ROWS;

/// Relative slack of every bound of [`Assignment`]. It is far above the rounding error
/// of a squared distance summed over any number of features this tool sees (about
/// (d + 2) × 1.1e-16) and of the bounds' own arithmetic, so that a row is skipped only
/// when its centre is the nearest by a margin no rounding can close.
pub(super) const BOUND_SLACK: f64 = 1e-9;

/// Rows of a chunk whose bounds are tested before a bounded pass over it.
pub(super) const SAMPLE_ROWS: usize = 128;

/// One in this many of [`SAMPLE_ROWS`] failing their bounds has the AVX-512 kernel scan
/// the chunk whole. Both passes are bound by memory: a bounded pass must still read every
/// row for the sums, and each tenth of the rows it scans one by one adds about a third of
/// a full pass (bench/README.md); the two broke even between a twentieth and a fifth.
pub(super) const FULL_SCAN_SHARE: usize = 10;

/// Absolute slack, for distances so small that relative rounding bounds fail.
pub(super) const BOUND_FLOOR: f64 = 1e-150;

/// Lloyd's assignment with Hamerly's bounds (G. Hamerly, "Making k-means even faster",
/// SDM 2010): the labels of a plain scan, bit for bit, with a fraction of its arithmetic
/// once the centres settle.
///
/// Each row keeps an upper bound on its distance to its own centre and a lower bound on
/// its distance to every other centre. When the upper bound is below the lower bound, or
/// below half the distance from its centre to the nearest other centre, no other centre
/// can be as near: the scan would keep the label, and the row costs only its addition to
/// its centre's sum. Otherwise the upper bound is tightened to the exact distance, and
/// if that does not settle it, the row is scanned. When the centres move, each upper
/// bound grows by its own centre's move and each lower bound drops by the largest move.
///
/// Every bound keeps [`BOUND_SLACK`] to spare, so that no skip rests on a difference
/// that rounding could make: a row within that margin of a tie is scanned.
///
/// A skipped row's squared distance is not computed. [`Assignment::exact_distances`]
/// computes them, summed in feature order as the scan sums them, where they are read:
/// to refill an empty cluster, and for the inertia.
pub(super) struct Assignment {
    pub(super) labels: Vec<usize>,
    /// Squared distance of each row to its centre; after a bounded pass, exact only for
    /// the rows it computed (see `exact`).
    pub(super) distances: Vec<f64>,
    /// Whether every value of `distances` is exact for the last pass's centres.
    pub(super) exact: bool,
    /// Upper bound on each row's distance (not squared) to its own centre.
    pub(super) upper: Vec<f64>,
    /// Lower bound on each row's distance (not squared) to every centre but its own.
    pub(super) lower: Vec<f64>,
    /// The centres of the last pass: `None` before the first, when every row is scanned.
    pub(super) last: Option<Array2<f64>>,
    /// Off, every pass scans every row: the reference in the tests.
    pub(super) bounds: bool,
    /// Rows the last pass scanned.
    pub(super) scanned: usize,
}

impl Assignment {
    pub(super) fn new(n: usize, bounds: bool) -> Self {
        Assignment {
            labels: vec![usize::MAX; n],
            distances: vec![0.0; n],
            exact: true,
            upper: vec![0.0; n],
            lower: vec![0.0; n],
            last: None,
            bounds,
            scanned: 0,
        }
    }

    /// Assigns every row to its nearest centre; returns the per-cluster sums and counts,
    /// and how many labels changed.
    pub(super) fn step(
        &mut self,
        data: &Rows,
        centres: &Array2<f64>,
    ) -> (Vec<f64>, Vec<usize>, usize) {
        let (k, d) = centres.dim();
        let table = Centres::new(centres.view());
        let moved = match self.last.take() {
            Some(last) if self.bounds && last.dim() == centres.dim() => {
                Some(Moved::new(&last, centres))
            }
            _ => None,
        };
        self.exact = moved.is_none();
        let bounds = self.bounds;
        let steps: Vec<ChunkStep> = self
            .labels
            .par_chunks_mut(CHUNK_ROWS)
            .zip(self.distances.par_chunks_mut(CHUNK_ROWS))
            .zip(self.upper.par_chunks_mut(CHUNK_ROWS))
            .zip(self.lower.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .map(|(chunk, (((labels, distances), upper), lower))| {
                let mut step = ChunkStep::new(k, d);
                let first = chunk * CHUNK_ROWS;
                let rows = &data.values[first * d..(first + labels.len()) * d];
                let chunk = ChunkRows {
                    labels,
                    distances,
                    bounds: bounds.then_some((upper, lower)),
                };
                match &moved {
                    Some(moved) => bounded_rows(rows, d, &table, moved, chunk, &mut step),
                    None => assign_rows(rows, d, &table, chunk, &mut step),
                }
                step
            })
            .collect();
        if self.bounds {
            self.last = Some(centres.clone());
        }
        self.scanned = steps.iter().map(|s| s.scanned).sum();
        combine(steps, k, d)
    }

    /// Makes every squared distance exact for the last pass's centres.
    pub(super) fn exact_distances(&mut self, data: &Rows) {
        let Some(centres) = self.last.as_ref().filter(|_| !self.exact) else {
            return;
        };
        let d = data.d;
        let flat: Vec<f64> = centres.iter().copied().collect();
        self.labels
            .par_chunks(CHUNK_ROWS)
            .zip(self.distances.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .for_each(|(chunk, (labels, distances))| {
                let first = chunk * CHUNK_ROWS;
                let rows = &data.values[first * d..(first + labels.len()) * d];
                own_distances(rows, d, &flat, labels, distances);
            });
        self.exact = true;
    }
}

/// What a bounded pass knows of the centres.
pub(super) struct Moved {
    /// The centres, row-major.
    pub(super) centres: Vec<f64>,
    /// How far each centre moved since the last pass, rounded up.
    pub(super) moves: Vec<f64>,
    /// The largest of `moves`.
    pub(super) largest_move: f64,
    /// For each centre, half the distance to the nearest other centre, rounded down
    /// (infinity for a lone centre).
    pub(super) half_gaps: Vec<f64>,
}

impl Moved {
    /// A row's bounds, upper and lower, carried over the move of the centres (its own
    /// centre's move for the upper one, the largest move for the lower one), and the floor
    /// its upper bound must stay under to keep its centre without a scan.
    #[inline(always)]
    pub(super) fn carry(&self, upper: f64, lower: f64, own: usize) -> (f64, f64, f64) {
        let upper = (upper + self.moves[own]) * (1.0 + BOUND_SLACK);
        let lower = (lower - self.largest_move) * (1.0 - BOUND_SLACK);
        (upper, lower, lower.max(self.half_gaps[own]))
    }

    /// Squared distance from `row` to centre `own`, summed as the scan sums it.
    #[inline(always)]
    pub(super) fn own_distance(&self, row: &[f64], own: usize) -> f64 {
        let d = row.len();
        squared_distance(row, &self.centres[own * d..(own + 1) * d])
    }

    pub(super) fn new(last: &Array2<f64>, centres: &Array2<f64>) -> Self {
        let distance = |a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt()
        };
        let k = centres.nrows();
        let moves: Vec<f64> = (0..k)
            .map(|c| distance(last.row(c), centres.row(c)) * (1.0 + BOUND_SLACK) + BOUND_FLOOR)
            .collect();
        let half_gaps = (0..k)
            .map(|a| {
                let nearest = (0..k)
                    .filter(|&c| c != a)
                    .map(|c| distance(centres.row(a), centres.row(c)))
                    .fold(f64::INFINITY, f64::min);
                0.5 * nearest * (1.0 - BOUND_SLACK)
            })
            .collect();
        Moved {
            centres: centres.iter().copied().collect(),
            largest_move: moves.iter().copied().fold(0.0, f64::max),
            moves,
            half_gaps,
        }
    }
}

/// An upper bound on the distance whose square was computed as `squared`.
#[inline(always)]
pub(super) fn upper_bound(squared: f64) -> f64 {
    squared.sqrt() * (1.0 + BOUND_SLACK) + BOUND_FLOOR
}

/// A lower bound on the distance whose square was computed as `squared`.
#[inline(always)]
pub(super) fn lower_bound(squared: f64) -> f64 {
    squared.sqrt() * (1.0 - BOUND_SLACK)
}

/// Squared distance from `row` to `centre`, summed in feature order as the scan sums it.
#[inline(always)]
pub(super) fn squared_distance(row: &[f64], centre: &[f64]) -> f64 {
    let mut acc = 0.0;
    for (x, c) in row.iter().zip(centre) {
        let diff = x - c;
        acc += diff * diff;
    }
    acc
}

/// Squared distance from each row of `rows` to its own centre (`labels[i]` of
/// `centres`, row-major), as [`squared_distance`] sums it: four rows at a time, so that
/// their sums overlap instead of waiting on one another.
#[inline(always)]
pub(super) fn own_distances(
    rows: &[f64],
    d: usize,
    centres: &[f64],
    labels: &[usize],
    out: &mut [f64],
) {
    let centre = |i: usize| &centres[labels[i] * d..(labels[i] + 1) * d];
    let mut blocks = rows.chunks_exact(ROW_BLOCK * d);
    let mut i = 0;
    for block in &mut blocks {
        let x: [&[f64]; ROW_BLOCK] = std::array::from_fn(|r| &block[r * d..(r + 1) * d]);
        let c: [&[f64]; ROW_BLOCK] = std::array::from_fn(|r| centre(i + r));
        let mut acc = [0.0f64; ROW_BLOCK];
        for j in 0..d {
            for r in 0..ROW_BLOCK {
                let diff = x[r][j] - c[r][j];
                acc[r] += diff * diff;
            }
        }
        out[i..i + ROW_BLOCK].copy_from_slice(&acc);
        i += ROW_BLOCK;
    }
    for row in blocks.remainder().chunks_exact(d) {
        out[i] = squared_distance(row, centre(i));
        i += 1;
    }
}

clientele_numeric::multiversion! {
    /// [`assign_rows`] with the bounds of [`Assignment`]: a row is scanned only when its
    /// own centre may not be the nearest.
    pub(super) fn bounded_rows(rows: &[f64], d: usize, table: &Centres, moved: &Moved, chunk: ChunkRows, step: &mut ChunkStep) {
        let ChunkRows { labels, distances, bounds } = chunk;
        let Some((upper, lower)) = bounds else {
            return assign_rows(rows, d, table, ChunkRows { labels, distances, bounds: None }, step);
        };
        // Early in a fit the centres still move far and most rows fail their bounds (two
        // thirds in the second pass of bench/run_bandwidth.sh's fit at 16 × 8): scanned
        // one by one, such a pass took three times a full pass with the AVX-512 kernel.
        // So the first rows of the chunk decide: from a tenth of them failing, the kernel
        // scans the whole chunk, which gives the same labels, and fresh bounds.
        if table.filter.is_some() {
            let sample = labels.len().min(SAMPLE_ROWS);
            let unsettled = (0..sample)
                .filter(|&i| {
                    // The loop's test below, without its writes.
                    let (up, _, floor) = moved.carry(upper[i], lower[i], labels[i]);
                    let row = &rows[i * d..(i + 1) * d];
                    !(up < floor || upper_bound(moved.own_distance(row, labels[i])) < floor)
                })
                .count();
            if unsettled * FULL_SCAN_SHARE >= sample && sample > 0 {
                let chunk = ChunkRows { labels, distances, bounds: Some((upper, lower)) };
                return assign_rows(rows, d, table, chunk, step);
            }
        }
        let mut scratch = table.scratch();
        let mut row_sums = table.filter.as_ref().map(|f| f.row_sums(&step.sums));
        let n = labels.len();
        let mut first = 0;
        // Blocks of a kernel batch: each block's rows are added to the sums while they
        // are still in the L1 cache, and the rows two blocks ahead are on their way.
        while first < n {
            let last = (first + BATCH_ROWS).min(n);
            for i in first..last {
                prefetch_row(rows, i + 2 * BATCH_ROWS, d);
                let row = &rows[i * d..(i + 1) * d];
                let own = labels[i];
                let floor;
                (upper[i], lower[i], floor) = moved.carry(upper[i], lower[i], own);
                // Each test is false for NaN, which then goes on to the scan.
                let settled = upper[i] < floor || {
                    distances[i] = moved.own_distance(row, own);
                    upper[i] = upper_bound(distances[i]);
                    upper[i] < floor
                };
                if !settled {
                    step.scanned += 1;
                    let (best, squared, second) = table.nearest_two(row, &mut scratch);
                    distances[i] = squared;
                    upper[i] = upper_bound(squared);
                    lower[i] = lower_bound(second);
                    if best != own {
                        step.changed += 1;
                        labels[i] = best;
                    }
                }
            }
            let (block, block_labels) = (&rows[first * d..last * d], &labels[first..last]);
            match &mut row_sums {
                Some(row_sums) => row_sums.add(block, block_labels),
                None => add_rows(block, d, block_labels, &mut step.sums),
            }
            first = last;
        }
        if let Some(row_sums) = &row_sums {
            row_sums.write(&mut step.sums);
        }
        count_labels(labels, &mut step.counts);
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::k_means::algorithm::{lloyd_iteration, lloyd_with};
    use crate::k_means::init::kmeans_plus_plus;

    #[test]
    fn bounded_lloyd_equals_the_plain_scan_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (n, d, k, spread) in [
            (5000, 2, 3, 0.5),
            (4099, 7, 5, 2.0),
            (6000, 37, 10, 1.0),
            (3000, 16, 17, 0.3),
            (2000, 3, 1, 1.0),
        ] {
            let means = Array2::from_shape_fn((k, d), |_| rng.random_range(-1.5..1.5));
            let mut x = Array2::from_shape_fn((n, d), |(i, j)| {
                means[[i % k, j]]
                    + spread * (rng.random_range(-1.0..1.0) + rng.random_range(-1.0..1.0))
            });
            // Exact duplicates, points halfway between two means (ties), tiny values.
            for i in 0..20 {
                let twin = x.row(i).to_owned();
                x.row_mut(n - 1 - i).assign(&twin);
            }
            if k > 1 {
                for i in 20..40 {
                    let halfway = (&means.row(0) + &means.row(1)) / 2.0;
                    x.row_mut(i).assign(&halfway);
                }
            }
            x.row_mut(40).fill(1e-200);
            let data = Rows::new(x.view());
            let init = kmeans_plus_plus(&data, k, &mut ChaCha8Rng::seed_from_u64(3));
            let plain = lloyd_with(&data, init.clone(), 300, 0.0, false);
            let bounded = lloyd_with(&data, init, 300, 0.0, true);
            assert!(
                k == 1 || plain.iterations > 3,
                "n {n}, d {d}, k {k}: {}",
                plain.iterations
            );
            assert_eq!(plain.labels, bounded.labels, "n {n}, d {d}, k {k}");
            assert_eq!(plain.iterations, bounded.iterations, "n {n}, d {d}, k {k}");
            assert_eq!(plain.inertia.to_bits(), bounded.inertia.to_bits());
            let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&plain.centroids), bits(&bounded.centroids));
        }
    }

    #[test]
    fn bounds_skip_most_rows_once_the_centres_settle() {
        // The point of the bounds: on separated groups, a late iteration scans few rows.
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let x = Array2::from_shape_fn((20_000, 8), |(i, _)| {
            (i % 4) as f64 * 10.0 + rng.random_range(-1.0..1.0)
        });
        let data = Rows::new(x.view());
        let mut centres = kmeans_plus_plus(&data, 4, &mut ChaCha8Rng::seed_from_u64(1));
        let mut assignment = Assignment::new(data.n, true);
        for _ in 0..3 {
            lloyd_iteration(&data, &mut assignment, &mut centres);
        }
        lloyd_iteration(&data, &mut assignment, &mut centres);
        let scanned = assignment.scanned;
        assert!(scanned < 200, "{scanned} of 20000 rows scanned");
    }

    #[test]
    fn a_bounded_pass_scans_whole_chunks_where_most_rows_fail_their_bounds() {
        // Centres moved far from where the bounds were taken: every row fails its
        // bounds, and with the AVX-512 kernel every chunk is scanned whole.
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let (n, d, k) = (3 * CHUNK_ROWS + 77, 16, 8);
        let x = Array2::from_shape_fn((n, d), |(i, _)| {
            (i % k) as f64 * 3.0 + rng.random_range(-1.0..1.0)
        });
        let data = Rows::new(x.view());
        let centres = kmeans_plus_plus(&data, k, &mut ChaCha8Rng::seed_from_u64(2));
        let mut assignment = Assignment::new(n, true);
        assignment.step(&data, &centres);
        let moved = centres.mapv(|v| -v * 0.5 + 1.0);
        let (sums, counts, changed) = assignment.step(&data, &moved);
        let mut plain = Assignment::new(n, false);
        plain.step(&data, &centres);
        let (plain_sums, plain_counts, plain_changed) = plain.step(&data, &moved);
        assert_eq!(assignment.labels, plain.labels);
        assert_eq!((counts, changed), (plain_counts, plain_changed));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&sums), bits(&plain_sums));
        if Centres::new(moved.view()).filter.is_some() {
            assert_eq!(assignment.scanned, n);
            // The fresh bounds hold the next pass to the plain scan too.
            let (_, _, again) = assignment.step(&data, &moved);
            let (_, _, plain_again) = plain.step(&data, &moved);
            assert_eq!((again, &assignment.labels), (plain_again, &plain.labels));
            assert!(assignment.scanned < n / 10, "{} of {n}", assignment.scanned);
        }
    }
}
