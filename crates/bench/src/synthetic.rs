//! Seeded synthetic inputs for the kernels: the same seed gives the same data.

use clientele_recommend::holdings::Basket;
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `rows` × `dims` points around `centres` Gaussian blobs of unequal spreads (0.3 to
/// 1.5), centres uniform in [-5, 5]^dims: clustered as customer features are, so that
/// K-Means and DBSCAN do the work they do on real data.
pub fn blobs(rows: usize, dims: usize, centres: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centre: Vec<f64> = (0..centres * dims)
        .map(|_| rng.random_range(-5.0..5.0))
        .collect();
    let spread: Vec<f64> = (0..centres).map(|_| rng.random_range(0.3..1.5)).collect();
    let unit = Normal::new(0.0, 1.0).expect("a unit normal is valid");
    let mut x = Array2::zeros((rows, dims));
    for mut row in x.rows_mut() {
        let c = rng.random_range(0..centres);
        for (j, v) in row.iter_mut().enumerate() {
            *v = centre[c * dims + j] + spread[c] * unit.sample(&mut rng);
        }
    }
    x
}

/// One basket per customer over `products` products (at most 128): each customer has one
/// of six latent types, and each type holds each product with its own probability, so
/// that baskets repeat and neighbours share products, as in a bank's holdings.
pub fn holdings(customers: usize, products: usize, seed: u64) -> Vec<Basket> {
    assert!(products <= Basket::BITS as usize, "at most 128 products");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    const TYPES: usize = 6;
    let probability: Vec<f64> = (0..TYPES * products)
        .map(|_| {
            let u: f64 = rng.random_range(0.0..1.0);
            u * u * u
        })
        .collect();
    (0..customers)
        .map(|_| {
            let t = rng.random_range(0..TYPES);
            (0..products)
                .filter(|&p| rng.random_bool(probability[t * products + p]))
                .fold(0, |basket: Basket, p| basket | (1 << p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        assert_eq!(blobs(100, 3, 4, 1), blobs(100, 3, 4, 1));
        assert_ne!(blobs(100, 3, 4, 1), blobs(100, 3, 4, 2));
        assert_eq!(holdings(100, 20, 1), holdings(100, 20, 1));
        assert_ne!(holdings(100, 20, 1), holdings(100, 20, 2));
    }

    #[test]
    fn baskets_repeat_and_stay_within_the_catalogue() {
        let baskets = holdings(10_000, 20, 7);
        assert!(baskets.iter().all(|&b| b < (1 << 20)));
        let distinct: std::collections::HashSet<_> = baskets.iter().collect();
        assert!(
            distinct.len() < 10_000 && distinct.len() > 50,
            "{}",
            distinct.len()
        );
    }
}
