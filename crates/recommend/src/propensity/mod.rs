//! Propensity models: per product, the probability that a customer takes it, learnt
//! from customers like them who did or did not. Two families, each in linfa's layout:
//! [`gbdt`] (gradient-boosted trees on histograms) and [`logistic`] (L2-regularised
//! logistic regression).

pub mod bands;
pub mod calibration;
pub mod gbdt;
pub mod logistic;
pub mod method;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The logistic function: a raw score (log-odds) to a probability.
pub fn sigmoid(raw: f64) -> f64 {
    1.0 / (1.0 + (-raw).exp())
}

/// ln(1 + eᶻ), without overflow.
pub(crate) fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// A seeded split of the rows into training and validation, each class shuffled and
/// `fraction` of it (rounded up) held out; both sides ascending.
pub(crate) fn stratified_split(
    labels: &[bool],
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::new();
    let mut validation = Vec::new();
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&r| labels[r] == class).collect();
        rows.shuffle(&mut rng);
        let held = ((rows.len() as f64) * fraction).ceil() as usize;
        validation.extend_from_slice(&rows[..held.min(rows.len())]);
        train.extend_from_slice(&rows[held.min(rows.len())..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}
