//! Propensity models: per product, the probability that a customer takes it, learnt
//! from customers like them who did or did not. Two families, each in linfa's layout:
//! [`gbdt`] (gradient-boosted trees on histograms) and [`logistic`] (L2-regularised
//! logistic regression).

pub mod gbdt;
pub mod logistic;
pub mod method;

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
