//! Lloyd's algorithm (scikit-learn's `_kmeans_single_lloyd`): restarts from k-means++
//! seeds, each pass assigning every row in parallel chunks and moving each centre to
//! its rows' mean, an empty cluster refilled with the farthest row; behind linfa's
//! `Fit`.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Data, Ix2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::bounds::{lower_bound, upper_bound, Assignment};
use super::distances::Centres;
use super::errors::KMeansError;
use super::hyperparams::{KMeansParams, KMeansValidParams};
use super::init::kmeans_plus_plus;
use super::minibatch::fit_minibatch;
use super::model::KMeansModel;
use super::rows::{mean_variance, Rows};
use super::CHUNK_ROWS;

/// One chunk's share of an assignment's per-row state.
pub(super) struct ChunkRows<'c> {
    pub(super) labels: &'c mut [usize],
    /// Squared distance of each row to its centre.
    pub(super) distances: &'c mut [f64],
    /// Each row's upper and lower bounds for [`Assignment`], when it keeps bounds.
    pub(super) bounds: Option<(&'c mut [f64], &'c mut [f64])>,
}

clientele_numeric::multiversion! {
    /// Labels and squared distances of the rows of `rows` (row-major, `d` values each);
    /// adds each row to its centre's sum and count in `step`, and counts the labels
    /// changed. With `bounds`, also each row's bounds for [`Assignment`], from its
    /// distances to the nearest and the second-nearest centre.
    pub(super) fn assign_rows(rows: &[f64], d: usize, table: &Centres, chunk: ChunkRows, step: &mut ChunkStep) {
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

/// Fits K-Means: the parameters checked, then `n_init` restarts, the lowest inertia kept
/// (the first on ties); mini-batch when `batch_size` is set.
pub fn fit(x: ArrayView2<f64>, params: &KMeansParams) -> Result<KMeansModel, KMeansError> {
    fit_checked(x, params.check_ref()?)
}

/// [`fit`] with checked parameters.
pub fn fit_checked(
    x: ArrayView2<f64>,
    params: &KMeansValidParams,
) -> Result<KMeansModel, KMeansError> {
    if params.k() > x.nrows() {
        return Err(KMeansError::TooFewRows {
            k: params.k(),
            rows: x.nrows(),
        });
    }
    let data = Rows::new(x);
    // The spread is needed anyway, and its pass over the data checks every value.
    let tol = params.tol() * mean_variance(&data).ok_or(KMeansError::NotFinite)?;
    if let Some(batch_size) = params.batch_size() {
        return Ok(fit_minibatch(data, params, batch_size, tol));
    }
    let mut best: Option<KMeansModel> = None;
    for restart in 0..params.n_init() {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed());
        rng.set_stream(restart as u64);
        let init = kmeans_plus_plus(&data, params.k(), &mut rng);
        let model = lloyd(&data, init, params.max_iter(), tol);
        if best.as_ref().is_none_or(|b| model.inertia < b.inertia) {
            best = Some(model);
        }
    }
    best.ok_or(KMeansError::Zero { key: "n_init" })
}

/// What one assignment pass over a chunk of rows found.
pub(super) struct ChunkStep {
    pub(super) sums: Vec<f64>,
    pub(super) counts: Vec<usize>,
    pub(super) changed: usize,
    /// Rows whose distances to every centre were computed.
    pub(super) scanned: usize,
}

impl ChunkStep {
    pub(super) fn new(k: usize, d: usize) -> Self {
        ChunkStep {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            changed: 0,
            scanned: 0,
        }
    }
}

/// Adds how many of `labels` each centre has to `counts`. Four tallies, one for each
/// row of a group of four, so that a run of one label does not wait on one counter.
#[inline(always)]
pub(super) fn count_labels(labels: &[usize], counts: &mut [usize]) {
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
pub(super) fn assign_step(
    data: &Rows,
    centres: &Array2<f64>,
    labels: &mut [usize],
    distances: &mut [f64],
) -> (Vec<f64>, Vec<usize>, usize) {
    let (k, d) = centres.dim();
    assign_step_with(data, &Centres::new(centres.view()), k, d, labels, distances)
}

/// [`assign_step`] with a given table of `k` centres of `d` features.
pub(super) fn assign_step_with(
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
pub(super) fn combine(steps: Vec<ChunkStep>, k: usize, d: usize) -> (Vec<f64>, Vec<usize>, usize) {
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

/// Lloyd iterations from `centres` (scikit-learn's `_kmeans_single_lloyd`), each
/// assignment with Hamerly's bounds ([`Assignment`]).
pub(super) fn lloyd(data: &Rows, centres: Array2<f64>, max_iter: usize, tol: f64) -> KMeansModel {
    lloyd_with(data, centres, max_iter, tol, true)
}

/// [`lloyd`], with or without the bounds (the same result either way, bit for bit).
pub(super) fn lloyd_with(
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
pub(super) fn lloyd_iteration(
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
pub(super) fn relocate_empty_clusters(
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

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, KMeansError> for KMeansValidParams {
    type Object = KMeansModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeansModel, KMeansError> {
        fit_checked(dataset.records().view(), self)
    }
}

#[cfg(test)]
mod tests {
    use linfa::traits::Predict;
    use ndarray::{array, Array1};

    use super::*;
    use crate::k_means::test_data::blobs;

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
        let c = fit(x.view(), &KMeansParams::new(3).seed(7)).unwrap();
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
            Err(KMeansError::NotFinite)
        ));
    }
}
