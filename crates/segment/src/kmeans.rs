//! K-Means: k-means++ seeding and Lloyd iterations, as scikit-learn's `KMeans`
//! (`algorithm = "lloyd"`) does them.
//!
//! Written here rather than taken from linfa-clustering because linfa's K-Means was
//! measured at about 3× slower than scikit-learn's on 1,000,000 × 24 (the segment issue):
//! this one runs every pass over the rows in parallel chunks (rayon) and computes a row's
//! distances to all centres in one vectorisable loop. It sits behind linfa's traits
//! ([`linfa::traits::Fit`] and [`linfa::traits::PredictInplace`]), and linfa's own K-Means
//! stays the reference in the tests.
//!
//! After the first pass of a fit, each pass keeps Hamerly's bounds ([`Assignment`]): a
//! row whose own centre is provably still the nearest, by a margin no rounding can
//! close, gets only its distance to that centre, which is summed exactly as the full
//! scan sums it. So the labels, distances and centres are the full scan's, bit for bit,
//! and most rows of a late pass cost a read and one distance instead of `k`.
//!
//! Determinism: parallel work is split into fixed chunks whose partial results are
//! combined in chunk order, so labels and centres do not depend on the number of threads.
//! Restart `r` draws from its own generator, seeded from `(seed, r)`.
//!
//! As in scikit-learn: k-means++ tries `2 + ⌊ln k⌋` candidates per centre and keeps the
//! one that lowers the potential most; Lloyd stops when no label changes or when the
//! centres moved less than `tol × mean feature variance` (sum of squared shifts); an
//! empty cluster is moved to the row farthest from its centre; the restart with the
//! lowest inertia wins.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::nearest_filter::{prefetch_lines, NearestFilter, BATCH_ROWS};
use crate::SegmentError;

/// Rows per parallel chunk. Fixed, so that results do not depend on the thread count.
const CHUNK_ROWS: usize = 4096;

/// K-Means hyperparameters, checked by [`KMeansParams::check`] before fitting.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    /// Set: mini-batch K-Means ([`fit_minibatch`]) with batches of this many rows, and
    /// `max_iter` counts passes over the data.
    pub batch_size: Option<usize>,
}

impl KMeansParams {
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            batch_size: None,
        }
    }

    pub fn check(&self, rows: usize) -> Result<(), SegmentError> {
        let bad = |message: String| Err(SegmentError::Params(message));
        if self.k < 1 {
            return bad("k must be at least 1".into());
        }
        if self.k > rows {
            return bad(format!(
                "k = {} segments need at least as many customers, but there are {rows}",
                self.k
            ));
        }
        if self.n_init < 1 || self.max_iter < 1 {
            return bad("n_init and max_iter must be at least 1".into());
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return bad("tol must be a finite number ≥ 0".into());
        }
        if self.batch_size == Some(0) {
            return bad("batch_size must be at least 1".into());
        }
        Ok(())
    }
}

/// A fitted K-Means model: the centres, and what fitting found.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    pub centroids: Array2<f64>,
    /// The label of each training row.
    pub labels: Vec<usize>,
    /// Sum of squared distances of the rows to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the winning restart.
    pub iterations: usize,
}

impl KMeansModel {
    /// The nearest centre of each row, and the distance (not squared) to it.
    pub fn assign(&self, x: ArrayView2<f64>) -> (Vec<usize>, Vec<f64>) {
        let centres = Centres::new(self.centroids.view());
        let data = Rows::new(x);
        let mut labels = vec![0usize; data.n];
        let mut distances = vec![0.0f64; data.n];
        labels
            .par_chunks_mut(CHUNK_ROWS)
            .zip(distances.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .for_each(|(chunk, (labels, distances))| {
                let first = chunk * CHUNK_ROWS;
                let rows = &data.values[first * data.d..(first + labels.len()) * data.d];
                nearest_squared_rows(rows, data.d, &centres, labels, distances);
                distances.iter_mut().for_each(|d| *d = d.sqrt());
            });
        (labels, distances)
    }
}

/// Lloyd passes over a fixed matrix, exposed on their own so that the benchmarks
/// (`crates/bench`) can time them and set them against the memory-bandwidth bound:
/// [`LloydPass::run`] is one full pass (every row to its nearest centre, by a scan of
/// every centre), [`LloydPass::iterate`] one iteration of [`fit`]'s loop, with the
/// bounds that spare most of the scan once the centres settle.
pub struct LloydPass<'a> {
    data: Rows<'a>,
    assignment: Assignment,
}

impl<'a> LloydPass<'a> {
    pub fn new(x: ArrayView2<'a, f64>) -> Self {
        let data = Rows::new(x);
        let assignment = Assignment::new(data.n, true);
        LloydPass { data, assignment }
    }

    /// Assigns every row to its nearest row of `centres` (k × d, with d the matrix's
    /// columns) by a full scan, keeping no bounds, and returns each centre's count of
    /// rows. The next [`LloydPass::iterate`] scans again.
    pub fn run(&mut self, centres: &Array2<f64>) -> Vec<usize> {
        self.full_pass(&Centres::new(centres.view()), centres.dim())
    }

    /// [`LloydPass::run`] with the portable kernels only, never the AVX-512 one (same
    /// results): the baseline the benchmarks set it against.
    pub fn run_portable(&mut self, centres: &Array2<f64>) -> Vec<usize> {
        self.full_pass(&Centres::portable(centres.view()), centres.dim())
    }

    fn full_pass(&mut self, table: &Centres, (k, d): (usize, usize)) -> Vec<usize> {
        let assignment = &mut self.assignment;
        assignment.last = None;
        assignment.scanned = self.data.n;
        let (labels, distances) = (&mut assignment.labels, &mut assignment.distances);
        assign_step_with(&self.data, table, k, d, labels, distances).1
    }

    /// Rows whose distances to every centre the last pass computed.
    pub fn scanned(&self) -> usize {
        self.assignment.scanned
    }

    /// One iteration of [`fit`]'s Lloyd loop from `centres`, which move to their rows'
    /// means; the assignment uses the bounds left by the previous call (the first call
    /// scans). Returns how many labels changed.
    pub fn iterate(&mut self, centres: &mut Array2<f64>) -> usize {
        lloyd_iteration(&self.data, &mut self.assignment, centres).1
    }
}

/// Rows of a matrix as one contiguous row-major slice.
struct Rows<'a> {
    values: std::borrow::Cow<'a, [f64]>,
    n: usize,
    d: usize,
}

impl<'a> Rows<'a> {
    fn new(x: ArrayView2<'a, f64>) -> Self {
        let (n, d) = x.dim();
        let values = match x.to_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(x.iter().copied().collect()),
        };
        Rows { values, n, d }
    }
    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.d..(i + 1) * self.d]
    }
}

/// Centres stored feature-major (`d × k`), so that a row's squared distances to every
/// centre are summed feature by feature in one loop over the centres, which the compiler
/// vectorises; each distance is still summed in feature order, as a plain loop would.
struct Centres {
    transposed: Vec<f64>,
    /// Centres per feature in `transposed`: `k` rounded up to a multiple of 4 up to 16,
    /// the extra ones at infinity (never nearest), so that a row's distances have a fixed
    /// width and stay in registers.
    width: usize,
    /// Features of each centre.
    d: usize,
    /// The AVX-512 full scan ([`NearestFilter`]), where the CPU and the centres allow it.
    filter: Option<NearestFilter>,
}

impl Centres {
    fn new(c: ArrayView2<f64>) -> Self {
        Centres {
            filter: NearestFilter::new(c),
            ..Centres::portable(c)
        }
    }

    /// The same table without the AVX-512 kernel: the baseline in the benchmarks.
    fn portable(c: ArrayView2<f64>) -> Self {
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

    fn scratch(&self) -> Vec<f64> {
        vec![0.0; self.width]
    }

    /// Squared distances from `row` to every centre, into `scratch` (`width` long; the
    /// padding centres get infinity).
    #[inline(always)]
    fn distances(&self, row: &[f64], scratch: &mut [f64]) {
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
    fn fixed_width<const W: usize>(&self, row: &[f64], scratch: &mut [f64]) {
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
    fn nearest_into(
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
    fn nearest_width<const SECOND: bool>(
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
    fn unfiltered<const SECOND: bool>(
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
    fn blocked<const W: usize, const SECOND: bool>(
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
    fn nearest_two(&self, row: &[f64], scratch: &mut [f64]) -> (usize, f64, f64) {
        self.distances(row, scratch);
        let (first, squared) = first_minimum(scratch);
        (first, squared, second_minimum(scratch, first))
    }

    /// Squared distances from each of the `R` rows of `rows` to every centre (the padding
    /// ones at infinity).
    #[inline(always)]
    fn block_distances<const W: usize, const R: usize>(
        &self,
        rows: &[f64],
        d: usize,
    ) -> [[f64; W]; R] {
        let rows: [&[f64]; R] = std::array::from_fn(|r| &rows[r * d..(r + 1) * d]);
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
const ROW_BLOCK: usize = 4;

/// Index and value of the smallest of `values`, the first one on ties; `values` are
/// squared distances, never NaN. Without branches: on real data the nearest centre is
/// unpredictable, and a mispredicted comparison per centre cost more than the distances.
#[inline(always)]
fn first_minimum(values: &[f64]) -> (usize, f64) {
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
fn keep<const SECOND: bool>(
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
fn second_minimum(values: &[f64], first: usize) -> f64 {
    values.iter().enumerate().fold(
        f64::INFINITY,
        |m, (i, &v)| if i != first && v < m { v } else { m },
    )
}

/// One chunk's share of an assignment's per-row state.
struct ChunkRows<'c> {
    labels: &'c mut [usize],
    /// Squared distance of each row to its centre.
    distances: &'c mut [f64],
    /// Each row's upper and lower bounds for [`Assignment`], when it keeps bounds.
    bounds: Option<(&'c mut [f64], &'c mut [f64])>,
}

clientele_shared::multiversion! {
    /// Labels and squared distances of the rows of `rows` (row-major, `d` values each);
    /// adds each row to its centre's sum and count in `step`, and counts the labels
    /// changed. With `bounds`, also each row's bounds for [`Assignment`], from its
    /// distances to the nearest and the second-nearest centre.
    fn assign_rows(rows: &[f64], d: usize, table: &Centres, chunk: ChunkRows, step: &mut ChunkStep) {
        let ChunkRows { labels, distances, bounds } = chunk;
        let mut nearest = vec![0usize; labels.len()];
        match bounds {
            Some((upper, lower)) => {
                table.nearest_into(rows, &mut nearest, distances, Some(&mut *lower), Some(&mut step.sums), labels);
                for ((u, l), &squared) in upper.iter_mut().zip(lower.iter_mut()).zip(distances.iter()) {
                    *u = upper_bound(squared);
                    *l = lower_bound(*l);
                }
            }
            None => table.nearest_into(rows, &mut nearest, distances, None, Some(&mut step.sums), labels),
        }
        for (&best, label) in nearest.iter().zip(labels.iter_mut()) {
            step.changed += usize::from(*label != best);
            *label = best;
        }
        count_labels(&nearest, &mut step.counts);
        step.scanned += labels.len();
    }
}

clientele_shared::multiversion! {
    /// The nearest centre of each row of `rows` and the squared distance to it.
    fn nearest_squared_rows(rows: &[f64], d: usize, table: &Centres, labels: &mut [usize], squared: &mut [f64]) {
        table.nearest_into(rows, labels, squared, None, None, &[]);
    }
}

clientele_shared::multiversion! {
    /// For each row and candidate `t`, the smaller of the row's current closest squared
    /// distance and its squared distance to `t`: kept in `if_chosen` (row-major, one
    /// value per candidate) and added to `potentials[t]`. Keeping them spares a second
    /// pass over the data once a candidate is chosen.
    fn candidate_potentials(
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

/// Fits K-Means: `n_init` restarts, the lowest inertia kept (the first on ties).
pub fn fit(x: ArrayView2<f64>, params: &KMeansParams) -> Result<KMeansModel, SegmentError> {
    params.check(x.nrows())?;
    if x.iter().any(|v| !v.is_finite()) {
        return Err(SegmentError::NotFinite);
    }
    if let Some(batch_size) = params.batch_size {
        return Ok(fit_minibatch(x, params, batch_size));
    }
    let data = Rows::new(x);
    let tol = params.tol * mean_variance(&data);
    let mut best: Option<KMeansModel> = None;
    for restart in 0..params.n_init {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        rng.set_stream(restart as u64);
        let init = kmeans_plus_plus(&data, params.k, &mut rng);
        let model = lloyd(&data, init, params.max_iter, tol);
        if best.as_ref().is_none_or(|b| model.inertia < b.inertia) {
            best = Some(model);
        }
    }
    best.ok_or_else(|| SegmentError::Params("n_init must be at least 1".into()))
}

/// Mini-batch K-Means, as scikit-learn's `MiniBatchKMeans` does it: for very large fits,
/// where each Lloyd pass over every row costs too much.
///
/// - `3 × batch_size` rows (at least `3k`) drawn with replacement are the *init set*:
///   each of `n_init` restarts seeds k-means++ on it, and the restart whose centres have
///   the lowest inertia on a second draw of the same size (the validation set) is kept.
/// - Then up to `max_iter` passes' worth of steps. Each step draws `batch_size` rows with
///   replacement, assigns them to the nearest centre, and moves each centre to the
///   running mean of every row ever assigned to it (its learning rate is one over its
///   count). A centre whose count falls below 1 % of the largest moves to a row of the
///   batch (scikit-learn's `reassignment_ratio = 0.01`).
/// - It stops when an exponentially weighted average of the batches' mean inertia has
///   not improved for 10 steps (`max_no_improvement = 10`), or, with `tol > 0`, when the
///   centres moved less than `tol × mean feature variance` in a step.
/// - Finally every row is assigned, which gives the labels and the inertia.
///
/// One generator, seeded from `seed`, draws everything in order, and each step's sums run
/// over the batch in order, so the result does not depend on the number of threads.
pub fn fit_minibatch(x: ArrayView2<f64>, params: &KMeansParams, batch_size: usize) -> KMeansModel {
    let data = Rows::new(x);
    let (n, d, k) = (data.n, data.d, params.k);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let init_size = if 3 * batch_size < k {
        3 * k
    } else {
        3 * batch_size
    };
    let draw = |rng: &mut ChaCha8Rng, size: usize| -> Vec<usize> {
        (0..size).map(|_| rng.random_range(0..n)).collect()
    };
    let validation = data_rows(&data, &draw(&mut rng, init_size));
    let validation = Rows::new(validation.view());
    let mut centres: Option<(f64, Array2<f64>)> = None;
    for _ in 0..params.n_init {
        let init_set = data_rows(&data, &draw(&mut rng, init_size));
        let init = kmeans_plus_plus(&Rows::new(init_set.view()), k, &mut rng);
        let mut labels = vec![0usize; validation.n];
        let mut squared = vec![0.0; validation.n];
        nearest_squared_rows(
            &validation.values,
            d,
            &Centres::new(init.view()),
            &mut labels,
            &mut squared,
        );
        let inertia: f64 = squared.iter().sum();
        if centres.as_ref().is_none_or(|(best, _)| inertia < *best) {
            centres = Some((inertia, init));
        }
    }
    let Some((_, mut centres)) = centres else {
        unreachable!("n_init ≥ 1 is checked by KMeansParams::check");
    };
    let tol = params.tol * mean_variance(&data);
    let mut counts = vec![0.0f64; k];
    let steps = (params.max_iter.saturating_mul(n) / batch_size).max(1);
    let alpha = (batch_size as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
    let mut smoothed: Option<f64> = None;
    let mut smoothed_min: Option<f64> = None;
    let mut no_improvement = 0;
    let mut since_reassign = 0;
    let mut batch = vec![0.0; batch_size * d];
    let mut labels = vec![0usize; batch_size];
    let mut squared = vec![0.0; batch_size];
    let mut sums = vec![0.0; k * d];
    let mut members = vec![0.0f64; k];
    let mut iterations = 0;
    for step in 1..=steps {
        iterations = step;
        for (slot, i) in batch.chunks_exact_mut(d).zip(draw(&mut rng, batch_size)) {
            slot.copy_from_slice(data.row(i));
        }
        nearest_squared_rows(
            &batch,
            d,
            &Centres::new(centres.view()),
            &mut labels,
            &mut squared,
        );
        let batch_inertia = squared.iter().sum::<f64>() / batch_size as f64;
        // Only the `tol` rule needs the centres before the step.
        let previous = (tol > 0.0).then(|| centres.clone());
        // Each centre to the running mean of the rows it was given: scikit-learn's
        // `_minibatch_update_dense`.
        sums.fill(0.0);
        members.fill(0.0);
        for (row, &c) in batch.chunks_exact(d).zip(&labels) {
            members[c] += 1.0;
            sums[c * d..(c + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(s, v)| *s += v);
        }
        for c in 0..k {
            if members[c] > 0.0 {
                let total = counts[c] + members[c];
                for (j, centre) in centres.row_mut(c).iter_mut().enumerate() {
                    *centre = (*centre * counts[c] + sums[c * d + j]) / total;
                }
                counts[c] = total;
            }
        }
        // Low-count centres to rows of the batch, every 10 k rows seen, or whenever a
        // centre has no row yet: scikit-learn's `_random_reassign`.
        since_reassign += batch_size;
        if counts.contains(&0.0) || since_reassign >= 10 * k {
            since_reassign = 0;
            reassign_low_counts(&mut centres, &mut counts, &batch, d, &mut rng);
        }
        // The first step's inertia is the initial centres': not counted.
        if step == 1 {
            continue;
        }
        let ewa = match smoothed {
            None => batch_inertia,
            Some(e) => e * (1.0 - alpha) + batch_inertia * alpha,
        };
        smoothed = Some(ewa);
        if let Some(previous) = &previous {
            let shift: f64 = centres
                .iter()
                .zip(previous.iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            if shift <= tol {
                break;
            }
        }
        if smoothed_min.is_none_or(|m| ewa < m) {
            smoothed_min = Some(ewa);
            no_improvement = 0;
        } else {
            no_improvement += 1;
        }
        if no_improvement >= MAX_NO_IMPROVEMENT {
            break;
        }
    }
    let mut labels = vec![usize::MAX; n];
    let mut distances = vec![0.0; n];
    assign_step(&data, &centres, &mut labels, &mut distances);
    KMeansModel {
        centroids: centres,
        labels,
        inertia: chunked_sum(&distances),
        iterations,
    }
}

/// Steps without improvement of the smoothed batch inertia before mini-batch K-Means
/// stops (scikit-learn's `max_no_improvement`).
const MAX_NO_IMPROVEMENT: usize = 10;

/// Moves every centre whose count is below 1 % of the largest to a row of `batch` drawn
/// without replacement (at most half the batch's rows), and sets its count to the
/// smallest count left: scikit-learn's reassignment in `_mini_batch_step`.
fn reassign_low_counts(
    centres: &mut Array2<f64>,
    counts: &mut [f64],
    batch: &[f64],
    d: usize,
    rng: &mut ChaCha8Rng,
) {
    let largest = counts.iter().fold(0.0f64, |m, &c| m.max(c));
    let mut low: Vec<usize> = (0..counts.len())
        .filter(|&c| counts[c] < REASSIGNMENT_RATIO * largest)
        .collect();
    let rows = batch.len() / d;
    if low.is_empty() || rows == 0 {
        return;
    }
    // At most half the batch: the lowest counts first, ties by index.
    low.sort_by(|&a, &b| counts[a].total_cmp(&counts[b]).then(a.cmp(&b)));
    low.truncate((rows / 2).max(1));
    low.sort_unstable();
    let kept_min = (0..counts.len())
        .filter(|c| !low.contains(c))
        .map(|c| counts[c])
        .fold(f64::INFINITY, f64::min);
    // The first `low.len()` places of a partial Fisher–Yates shuffle: rows without
    // replacement.
    let mut order: Vec<usize> = (0..rows).collect();
    for i in 0..low.len() {
        let j = rng.random_range(i..rows);
        order.swap(i, j);
    }
    for (&c, &row) in low.iter().zip(&order) {
        centres
            .row_mut(c)
            .iter_mut()
            .zip(&batch[row * d..(row + 1) * d])
            .for_each(|(centre, v)| *centre = *v);
        if kept_min.is_finite() {
            counts[c] = kept_min;
        }
    }
}

/// A centre is moved when its count is below this share of the largest count.
const REASSIGNMENT_RATIO: f64 = 0.01;

/// The mean over features of their population variance.
fn mean_variance(data: &Rows) -> f64 {
    let n = data.n as f64;
    let mean: Vec<f64> = column_sums(data, |_, v| v).iter().map(|s| s / n).collect();
    let var = column_sums(data, |j, v| (v - mean[j]) * (v - mean[j]));
    var.iter().sum::<f64>() / n / data.d as f64
}

/// Σ f(column, value) per column; per-chunk sums combined in chunk order, so the result
/// is the same on any number of threads.
fn column_sums(data: &Rows, f: impl Fn(usize, f64) -> f64 + Sync) -> Vec<f64> {
    let d = data.d;
    data.values
        .par_chunks(CHUNK_ROWS * d)
        .map(|chunk| {
            let mut sums = vec![0.0; d];
            for row in chunk.chunks_exact(d) {
                for (j, (s, &v)) in sums.iter_mut().zip(row).enumerate() {
                    *s += f(j, v);
                }
            }
            sums
        })
        .collect::<Vec<_>>()
        .iter()
        .fold(vec![0.0; d], |mut acc, s| {
            acc.iter_mut().zip(s).for_each(|(a, v)| *a += v);
            acc
        })
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`).
fn kmeans_plus_plus(data: &Rows, k: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
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
fn update_closest(data: &Rows, centre: usize, closest: &mut [f64]) {
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

clientele_shared::multiversion! {
    fn lower_closest(rows: &[f64], d: usize, table: &Centres, closest: &mut [f64]) {
        let mut scratch = table.scratch();
        for (row, c) in rows.chunks_exact(d).zip(closest.iter_mut()) {
            table.distances(row, &mut scratch);
            *c = c.min(scratch[0]);
        }
    }
}

/// The rows at `indices`, as a matrix.
fn data_rows(data: &Rows, indices: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((indices.len(), data.d));
    for (mut r, &i) in out.rows_mut().into_iter().zip(indices) {
        r.iter_mut().zip(data.row(i)).for_each(|(o, v)| *o = *v);
    }
    out
}

fn chunked_sum(values: &[f64]) -> f64 {
    values
        .par_chunks(CHUNK_ROWS)
        .map(|c| c.iter().sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// What one assignment pass over a chunk of rows found.
struct ChunkStep {
    sums: Vec<f64>,
    counts: Vec<usize>,
    changed: usize,
    /// Rows whose distances to every centre were computed.
    scanned: usize,
}

impl ChunkStep {
    fn new(k: usize, d: usize) -> Self {
        ChunkStep {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            changed: 0,
            scanned: 0,
        }
    }
}

/// Adds each row of `rows` (`d` values each) to the sum of its centre in `labels`
/// (`sums` row-major), in row order.
#[inline(always)]
fn add_rows(rows: &[f64], d: usize, labels: &[usize], sums: &mut [f64]) {
    for (row, &label) in rows.chunks_exact(d).zip(labels) {
        for (s, v) in sums[label * d..(label + 1) * d].iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// Asks the CPU to fetch row `i` of `rows` (`d` values each) into the cache, if there is
/// such a row: a pass waits on memory as long as it computes unless the two overlap.
#[inline(always)]
fn prefetch_row(rows: &[f64], i: usize, d: usize) {
    if let Some(row) = rows.get(i * d..(i + 1) * d) {
        prefetch_lines(row);
    }
}

/// Adds how many of `labels` each centre has to `counts`. Four tallies, one for each
/// row of a group of four, so that a run of one label does not wait on one counter.
#[inline(always)]
fn count_labels(labels: &[usize], counts: &mut [usize]) {
    let k = counts.len();
    let mut tallies = vec![0usize; 4 * k];
    let mut groups = labels.chunks_exact(4);
    for group in &mut groups {
        for (t, &label) in group.iter().enumerate() {
            tallies[t * k + label] += 1;
        }
    }
    for &label in groups.remainder() {
        tallies[label] += 1;
    }
    for tally in tallies.chunks_exact(k) {
        counts.iter_mut().zip(tally).for_each(|(c, t)| *c += t);
    }
}

/// Assigns every row to its nearest centre (updating `labels` and `distances`, squared),
/// and returns the per-cluster sums and counts, and how many labels changed.
fn assign_step(
    data: &Rows,
    centres: &Array2<f64>,
    labels: &mut [usize],
    distances: &mut [f64],
) -> (Vec<f64>, Vec<usize>, usize) {
    let (k, d) = centres.dim();
    assign_step_with(data, &Centres::new(centres.view()), k, d, labels, distances)
}

/// [`assign_step`] with a given table of `k` centres of `d` features.
fn assign_step_with(
    data: &Rows,
    table: &Centres,
    k: usize,
    d: usize,
    labels: &mut [usize],
    distances: &mut [f64],
) -> (Vec<f64>, Vec<usize>, usize) {
    let steps: Vec<ChunkStep> = labels
        .par_chunks_mut(CHUNK_ROWS)
        .zip(distances.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .map(|(chunk, (labels, distances))| {
            let mut step = ChunkStep::new(k, d);
            let first = chunk * CHUNK_ROWS;
            let rows = &data.values[first * d..(first + labels.len()) * d];
            let chunk = ChunkRows {
                labels,
                distances,
                bounds: None,
            };
            assign_rows(rows, d, table, chunk, &mut step);
            step
        })
        .collect();
    combine(steps, k, d)
}

/// The chunks' sums, counts and changed labels, added in chunk order.
fn combine(steps: Vec<ChunkStep>, k: usize, d: usize) -> (Vec<f64>, Vec<usize>, usize) {
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    let mut changed = 0;
    for step in steps {
        sums.iter_mut().zip(&step.sums).for_each(|(s, v)| *s += v);
        counts
            .iter_mut()
            .zip(&step.counts)
            .for_each(|(c, v)| *c += v);
        changed += step.changed;
    }
    (sums, counts, changed)
}

/// Relative slack of every bound of [`Assignment`]. It is far above the rounding error
/// of a squared distance summed over any number of features this tool sees (about
/// (d + 2) × 1.1e-16) and of the bounds' own arithmetic, so that a row is skipped only
/// when its centre is the nearest by a margin no rounding can close.
const BOUND_SLACK: f64 = 1e-9;

/// Rows of a chunk whose bounds are tested before a bounded pass over it.
const SAMPLE_ROWS: usize = 128;

/// One in this many of [`SAMPLE_ROWS`] failing their bounds has the AVX-512 kernel scan
/// the chunk whole. Both passes are bound by memory: a bounded pass must still read every
/// row for the sums, and each tenth of the rows it scans one by one adds about a third of
/// a full pass (bench/README.md); the two broke even between a twentieth and a fifth.
const FULL_SCAN_SHARE: usize = 10;

/// Absolute slack, for distances so small that relative rounding bounds fail.
const BOUND_FLOOR: f64 = 1e-150;

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
struct Assignment {
    labels: Vec<usize>,
    /// Squared distance of each row to its centre; after a bounded pass, exact only for
    /// the rows it computed (see `exact`).
    distances: Vec<f64>,
    /// Whether every value of `distances` is exact for the last pass's centres.
    exact: bool,
    /// Upper bound on each row's distance (not squared) to its own centre.
    upper: Vec<f64>,
    /// Lower bound on each row's distance (not squared) to every centre but its own.
    lower: Vec<f64>,
    /// The centres of the last pass: `None` before the first, when every row is scanned.
    last: Option<Array2<f64>>,
    /// Off, every pass scans every row: the reference in the tests.
    bounds: bool,
    /// Rows the last pass scanned.
    scanned: usize,
}

impl Assignment {
    fn new(n: usize, bounds: bool) -> Self {
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
    fn step(&mut self, data: &Rows, centres: &Array2<f64>) -> (Vec<f64>, Vec<usize>, usize) {
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
    fn exact_distances(&mut self, data: &Rows) {
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
struct Moved {
    /// The centres, row-major.
    centres: Vec<f64>,
    /// How far each centre moved since the last pass, rounded up.
    moves: Vec<f64>,
    /// The largest of `moves`.
    largest_move: f64,
    /// For each centre, half the distance to the nearest other centre, rounded down
    /// (infinity for a lone centre).
    half_gaps: Vec<f64>,
}

impl Moved {
    /// A row's bounds, upper and lower, carried over the move of the centres (its own
    /// centre's move for the upper one, the largest move for the lower one), and the floor
    /// its upper bound must stay under to keep its centre without a scan.
    #[inline(always)]
    fn carry(&self, upper: f64, lower: f64, own: usize) -> (f64, f64, f64) {
        let upper = (upper + self.moves[own]) * (1.0 + BOUND_SLACK);
        let lower = (lower - self.largest_move) * (1.0 - BOUND_SLACK);
        (upper, lower, lower.max(self.half_gaps[own]))
    }

    /// Squared distance from `row` to centre `own`, summed as the scan sums it.
    #[inline(always)]
    fn own_distance(&self, row: &[f64], own: usize) -> f64 {
        let d = row.len();
        squared_distance(row, &self.centres[own * d..(own + 1) * d])
    }

    fn new(last: &Array2<f64>, centres: &Array2<f64>) -> Self {
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
fn upper_bound(squared: f64) -> f64 {
    squared.sqrt() * (1.0 + BOUND_SLACK) + BOUND_FLOOR
}

/// A lower bound on the distance whose square was computed as `squared`.
#[inline(always)]
fn lower_bound(squared: f64) -> f64 {
    squared.sqrt() * (1.0 - BOUND_SLACK)
}

/// Squared distance from `row` to `centre`, summed in feature order as the scan sums it.
#[inline(always)]
fn squared_distance(row: &[f64], centre: &[f64]) -> f64 {
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
fn own_distances(rows: &[f64], d: usize, centres: &[f64], labels: &[usize], out: &mut [f64]) {
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

clientele_shared::multiversion! {
    /// [`assign_rows`] with the bounds of [`Assignment`]: a row is scanned only when its
    /// own centre may not be the nearest.
    fn bounded_rows(rows: &[f64], d: usize, table: &Centres, moved: &Moved, chunk: ChunkRows, step: &mut ChunkStep) {
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

/// Lloyd iterations from `centres` (scikit-learn's `_kmeans_single_lloyd`), each
/// assignment with Hamerly's bounds ([`Assignment`]).
fn lloyd(data: &Rows, centres: Array2<f64>, max_iter: usize, tol: f64) -> KMeansModel {
    lloyd_with(data, centres, max_iter, tol, true)
}

/// [`lloyd`], with or without the bounds (the same result either way, bit for bit).
fn lloyd_with(
    data: &Rows,
    mut centres: Array2<f64>,
    max_iter: usize,
    tol: f64,
    bounds: bool,
) -> KMeansModel {
    let mut assignment = Assignment::new(data.n, bounds);
    let mut iterations = 0;
    let mut strict = false;
    for _ in 0..max_iter {
        iterations += 1;
        let (shift, changed) = lloyd_iteration(data, &mut assignment, &mut centres);
        if changed == 0 && iterations > 1 {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
    }
    if !strict {
        // The centres moved after the last assignment: assign once more, as
        // scikit-learn does, so that labels and centres agree.
        assignment.step(data, &centres);
    }
    assignment.exact_distances(data);
    let inertia = assignment
        .distances
        .par_chunks(CHUNK_ROWS)
        .map(|c| c.iter().sum::<f64>())
        .collect::<Vec<_>>()
        .iter()
        .sum();
    KMeansModel {
        centroids: centres,
        labels: assignment.labels,
        inertia,
        iterations,
    }
}

/// One Lloyd iteration: assign, refill empty clusters, move each centre to its rows'
/// mean. Returns the sum of the centres' squared shifts and how many labels changed.
fn lloyd_iteration(
    data: &Rows,
    assignment: &mut Assignment,
    centres: &mut Array2<f64>,
) -> (f64, usize) {
    let (k, d) = centres.dim();
    let (mut sums, mut counts, changed) = assignment.step(data, centres);
    if counts.contains(&0) {
        assignment.exact_distances(data);
    }
    relocate_empty_clusters(
        data,
        &assignment.labels,
        &assignment.distances,
        &mut sums,
        &mut counts,
        d,
    );
    let mut shift = 0.0;
    for c in 0..k {
        let new = &sums[c * d..(c + 1) * d];
        let mut row = centres.row_mut(c);
        if counts[c] > 0 {
            for (old, s) in row.iter_mut().zip(new) {
                let v = s / counts[c] as f64;
                shift += (v - *old) * (v - *old);
                *old = v;
            }
        }
    }
    (shift, changed)
}

/// Gives each empty cluster the row farthest from its centre, taken from its cluster
/// (scikit-learn's `_relocate_empty_clusters_dense`).
fn relocate_empty_clusters(
    data: &Rows,
    labels: &[usize],
    distances: &[f64],
    sums: &mut [f64],
    counts: &mut [usize],
    d: usize,
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..data.n).collect();
    order.sort_by(|&a, &b| distances[b].total_cmp(&distances[a]).then(a.cmp(&b)));
    for (&cluster, &row) in empty.iter().zip(&order) {
        let old = labels[row];
        let values = data.row(row);
        sums[old * d..(old + 1) * d]
            .iter_mut()
            .zip(values)
            .for_each(|(s, v)| *s -= v);
        counts[old] -= 1;
        sums[cluster * d..(cluster + 1) * d].copy_from_slice(values);
        counts[cluster] = 1;
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, SegmentError> for KMeansParams {
    type Object = KMeansModel;

    fn fit(
        &self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, T>,
    ) -> Result<KMeansModel, SegmentError> {
        fit(dataset.records().view(), self)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for KMeansModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        let (labels, _) = self.assign(x.view());
        y.iter_mut().zip(labels).for_each(|(y, l)| *y = l);
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Predict;
    use ndarray::array;

    /// The scan every kernel must equal: distances summed in feature order, the first
    /// centre on ties.
    fn scan(centres: &Array2<f64>, row: &[f64]) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (t, c) in centres.rows().into_iter().enumerate() {
            let mut sum = 0.0;
            for (&x, &c) in row.iter().zip(c.iter()) {
                let diff = x - c;
                sum += diff * diff;
            }
            if t == 0 || sum < best.1 {
                best = (t, sum);
            }
        }
        best
    }

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
                let mut pass = LloydPass::new(x.view());
                let counts = pass.run(&centres);
                assert_eq!(counts, pass.run_portable(&centres), "k {k}, d {d}");
                // The sums too: the AVX-512 path adds the rows batch by batch.
                let data = Rows::new(x.view());
                let step = |table: &Centres| {
                    let n = x.nrows();
                    let (mut labels, mut distances) = (vec![usize::MAX; n], vec![0.0; n]);
                    let (sums, counts, changed) =
                        assign_step_with(&data, table, k, d, &mut labels, &mut distances);
                    let sums: Vec<u64> = sums.iter().map(|v| v.to_bits()).collect();
                    (sums, counts, changed, labels)
                };
                assert_eq!(
                    step(&Centres::new(centres.view())),
                    step(&Centres::portable(centres.view())),
                    "k {k}, d {d}"
                );
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

    fn blobs() -> Array2<f64> {
        // Three tight groups of four points.
        let mut rows = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)] {
            for (dx, dy) in [(0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1)] {
                rows.extend([cx + dx, cy + dy]);
            }
        }
        Array2::from_shape_vec((12, 2), rows).unwrap()
    }

    #[test]
    fn minibatch_finds_the_blobs_and_does_not_depend_on_the_threads() {
        let x = blobs();
        let params = KMeansParams {
            batch_size: Some(16),
            n_init: 3,
            ..KMeansParams::new(3)
        };
        let lloyd = fit(x.view(), &KMeansParams::new(3)).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| fit(x.view(), &params).unwrap());
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| fit(x.view(), &params).unwrap());
        assert_eq!(one, two);
        assert_eq!(
            crate::metrics::adjusted_rand_index(&one.labels, &lloyd.labels).unwrap(),
            1.0
        );
        // A batch larger than the data, and k = n.
        let big = fit(
            x.view(),
            &KMeansParams {
                batch_size: Some(10_000),
                ..params.clone()
            },
        )
        .unwrap();
        assert_eq!(big.labels.len(), x.nrows());
        let all = fit(
            x.view(),
            &KMeansParams {
                batch_size: Some(4),
                ..KMeansParams::new(x.nrows())
            },
        )
        .unwrap();
        assert!(all.inertia.is_finite());
        assert!(fit(
            x.view(),
            &KMeansParams {
                batch_size: Some(0),
                ..KMeansParams::new(3)
            }
        )
        .is_err());
    }

    #[test]
    fn finds_three_blobs_through_linfa_traits() {
        let x = blobs();
        let model = KMeansParams::new(3)
            .fit(&DatasetBase::from(x.clone()))
            .unwrap();
        // Each group of four shares a label, and the groups differ.
        let labels = model.labels.clone();
        for g in 0..3 {
            assert!(labels[g * 4..g * 4 + 4].iter().all(|&l| l == labels[g * 4]));
        }
        assert_ne!(labels[0], labels[4]);
        assert_ne!(labels[4], labels[8]);
        assert_ne!(labels[0], labels[8]);
        // 12 points at 0.1 from their centre.
        assert!(
            (model.inertia - 12.0 * 0.01).abs() < 1e-12,
            "{}",
            model.inertia
        );
        let predicted: Array1<usize> = model.predict(&array![[9.0, 1.0]]);
        assert_eq!(predicted[0], labels[4]);
    }

    #[test]
    fn same_seed_same_result_other_seed_same_partition() {
        let x = blobs();
        let a = fit(x.view(), &KMeansParams::new(3)).unwrap();
        let b = fit(x.view(), &KMeansParams::new(3)).unwrap();
        assert_eq!(a, b);
        let c = fit(
            x.view(),
            &KMeansParams {
                seed: 7,
                ..KMeansParams::new(3)
            },
        )
        .unwrap();
        assert_eq!(
            crate::metrics::adjusted_rand_index(&a.labels, &c.labels).unwrap(),
            1.0
        );
    }

    #[test]
    fn an_empty_cluster_is_refilled() {
        // Two identical centres to start: one cluster empties and must be given a row.
        let x = array![[0.0], [0.1], [5.0], [5.1]];
        let data = Rows::new(x.view());
        let model = lloyd(&data, array![[0.0], [0.0]], 100, 0.0);
        let mut sorted = model.labels.clone();
        sorted.dedup();
        assert_eq!(model.labels[0], model.labels[1]);
        assert_ne!(model.labels[0], model.labels[2]);
        assert!((model.inertia - 4.0 * 0.0025).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let x = blobs();
        assert!(fit(x.view(), &KMeansParams::new(13)).is_err());
        assert!(fit(x.view(), &KMeansParams::new(0)).is_err());
        let mut with_nan = x.clone();
        with_nan[[3, 1]] = f64::NAN;
        assert!(matches!(
            fit(with_nan.view(), &KMeansParams::new(2)),
            Err(SegmentError::NotFinite)
        ));
    }
}
