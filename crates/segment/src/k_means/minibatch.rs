//! Mini-batch K-Means (scikit-learn's `MiniBatchKMeans`), for fits where each Lloyd
//! pass over every row costs too much.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::algorithm::assign_step;
use super::distances::{nearest_squared_rows, Centres};
use super::hyperparams::KMeansValidParams;
use super::init::kmeans_plus_plus;
use super::model::KMeansModel;
use super::rows::{chunked_sum, data_rows, Rows};

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
pub(super) fn fit_minibatch(
    data: Rows,
    params: &KMeansValidParams,
    batch_size: usize,
    tol: f64,
) -> KMeansModel {
    let (n, d, k) = (data.n, data.d, params.k());
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed());
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
    for _ in 0..params.n_init() {
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
        unreachable!("n_init ≥ 1 is checked by KMeansParams::check_ref");
    };
    let mut counts = vec![0.0f64; k];
    let steps = (params.max_iter().saturating_mul(n) / batch_size).max(1);
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
pub(super) const MAX_NO_IMPROVEMENT: usize = 10;

/// Moves every centre whose count is below 1 % of the largest to a row of `batch` drawn
/// without replacement (at most half the batch's rows), and sets its count to the
/// smallest count left: scikit-learn's reassignment in `_mini_batch_step`.
pub(super) fn reassign_low_counts(
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
pub(super) const REASSIGNMENT_RATIO: f64 = 0.01;

#[cfg(test)]
mod tests {
    use crate::k_means::test_data::blobs;
    use crate::k_means::{fit, KMeansParams};

    #[test]
    fn minibatch_finds_the_blobs_and_does_not_depend_on_the_threads() {
        let x = blobs();
        let params = KMeansParams::new(3).batch_size(Some(16)).n_init(3);
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
        let big = fit(x.view(), &params.clone().batch_size(Some(10_000))).unwrap();
        assert_eq!(big.labels.len(), x.nrows());
        let all = fit(x.view(), &KMeansParams::new(x.nrows()).batch_size(Some(4))).unwrap();
        assert!(all.inertia.is_finite());
        assert!(fit(x.view(), &KMeansParams::new(3).batch_size(Some(0))).is_err());
    }
}
