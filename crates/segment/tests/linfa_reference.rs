//! Our K-Means and DBSCAN kernels against linfa-clustering's, which stay the reference:
//! on the same data, K-Means reaches linfa's inertia (to 0.5 %) with the same partition
//! (adjusted Rand index ≥ 0.95), and DBSCAN gives linfa's labels exactly.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, Predict, Transformer};
use linfa_clustering::{Dbscan, KMeans};
use ndarray::{Array1, Array2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use clientele_segment::metrics::adjusted_rand_index;
use clientele_segment::{dbscan, k_means};

/// `rows` points around `centres` random centres in `dims` dimensions, with unequal
/// spreads (each coordinate a sum of uniforms, close to normal), and 2 % uniform noise.
fn blobs(rows: usize, dims: usize, centres: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let means: Vec<Vec<f64>> = (0..centres)
        .map(|_| (0..dims).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    let spreads: Vec<f64> = (0..centres).map(|_| rng.random_range(0.3..1.2)).collect();
    let mut values = Vec::with_capacity(rows * dims);
    for _ in 0..rows {
        if rng.random_bool(0.02) {
            values.extend((0..dims).map(|_| rng.random_range(-14.0..14.0)));
            continue;
        }
        let c = rng.random_range(0..centres);
        for mean in &means[c] {
            let z: f64 = (0..4).map(|_| rng.random::<f64>() - 0.5).sum::<f64>() * 1.73;
            values.push(mean + z * spreads[c]);
        }
    }
    Array2::from_shape_vec((rows, dims), values).unwrap()
}

fn inertia(x: &Array2<f64>, centroids: &Array2<f64>, labels: &[usize]) -> f64 {
    x.rows()
        .into_iter()
        .zip(labels)
        .map(|(r, &l)| {
            r.iter()
                .zip(centroids.row(l))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn kmeans_matches_linfa() {
    for (k, seed) in [(3, 1), (5, 2), (8, 3)] {
        let x = blobs(4000, 6, k, seed);
        let dataset = DatasetBase::from(x.clone());
        let theirs = KMeans::params(k)
            .n_runs(10)
            .tolerance(1e-4)
            .fit(&dataset)
            .unwrap();
        let their_labels: Array1<usize> = theirs.predict(&x);
        let their_labels = their_labels.to_vec();
        let their_inertia = inertia(&x, theirs.centroids(), &their_labels);

        // Through linfa's traits.
        let ours = k_means::KMeansParams::new(k).fit(&dataset).unwrap();
        let our_labels: Array1<usize> = ours.predict(&x);
        assert_eq!(our_labels.to_vec(), ours.labels);
        assert!(
            ours.inertia <= their_inertia * 1.005,
            "k = {k}: ours {} against linfa's {their_inertia}",
            ours.inertia
        );
        let ari = adjusted_rand_index(&ours.labels, &their_labels).unwrap();
        assert!(ari >= 0.95, "k = {k}: adjusted Rand index {ari}");
    }
}

#[test]
fn dbscan_matches_linfa() {
    let x = blobs(3000, 4, 5, 9);
    for (eps, min_samples) in [(0.6, 5), (1.0, 10), (2.0, 30)] {
        let theirs: Array1<Option<usize>> = Dbscan::params(min_samples)
            .tolerance(eps)
            .transform(&x)
            .unwrap();
        let ours = dbscan::fit(x.view(), &dbscan::DbscanParams::new(eps, min_samples)).unwrap();
        let theirs: Vec<i32> = theirs.iter().map(|l| l.map_or(-1, |l| l as i32)).collect();
        assert_eq!(
            ours.labels, theirs,
            "eps = {eps}, min_samples = {min_samples}"
        );
        assert!(ours.clusters >= 1);
    }
}
