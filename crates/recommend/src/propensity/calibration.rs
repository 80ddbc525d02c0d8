//! Platt scaling: a model's raw scores mapped to probabilities by a logistic curve
//! `sigmoid(a × raw + b)` fitted on a fold the model did not learn from, so that "31 %
//! likely" means that about 31 in 100 such customers take the product.

use linfa::ParamGuard;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::logistic::LogisticParams;
use super::sigmoid;

/// The fitted curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Platt {
    /// The identity on the log-odds scale: raw scores already are log-odds.
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    /// Fits the curve to raw scores and their labels (practically unregularised: C =
    /// 10⁶); the identity when the fold lacks a class or the fit fails.
    pub fn fit(raw: &[f64], labels: &[bool]) -> Platt {
        let Ok(x) = ArrayView2::from_shape((raw.len(), 1), raw) else {
            return Platt::IDENTITY;
        };
        LogisticParams::new()
            .c(1e6)
            .check()
            .and_then(|params| params.fit_rows(x, labels))
            .map_or(Platt::IDENTITY, |m| Platt {
                a: m.coefficients[0],
                b: m.intercept,
            })
    }

    pub fn probability(&self, raw: f64) -> f64 {
        sigmoid(self.a * raw + self.b)
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn platt_recovers_the_curve_the_labels_were_drawn_from() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let raw: Vec<f64> = (0..20_000)
            .map(|i| (i % 400) as f64 / 100.0 - 2.0)
            .collect();
        let labels: Vec<bool> = raw
            .iter()
            .map(|&r| rng.random::<f64>() < sigmoid(2.0 * r - 1.0))
            .collect();
        let platt = Platt::fit(&raw, &labels);
        assert!(
            (platt.a - 2.0).abs() < 0.1 && (platt.b + 1.0).abs() < 0.1,
            "{platt:?}"
        );
        assert_eq!(Platt::fit(&raw[..3], &[true, true, true]), Platt::IDENTITY);
    }
}
