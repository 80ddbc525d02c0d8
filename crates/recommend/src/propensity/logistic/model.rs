//! A fitted logistic regression: P(label) = sigmoid(intercept + Σ coefficient × value).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::propensity::sigmoid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// Newton iterations taken.
    pub iterations: usize,
}

impl Logistic {
    pub fn raw_score(&self, row: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(row)
                .map(|(w, x)| w * x)
                .sum::<f64>()
    }

    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.raw_score(row))
    }

    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|r| match r.as_slice() {
                Some(row) => self.probability(row),
                None => self.probability(&r.to_vec()),
            })
            .collect()
    }

    /// Each feature's term of the raw score, added to `out`; returns the intercept.
    pub fn contributions(&self, row: &[f64], out: &mut [f64]) -> f64 {
        for ((o, w), x) in out.iter_mut().zip(&self.coefficients).zip(row) {
            *o += w * x;
        }
        self.intercept
    }
}
