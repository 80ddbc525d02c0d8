//! A two-component principal component analysis, to draw the segments in a plane.
//!
//! Written here rather than taken from linfa-reduction: its PCA is a randomised truncated
//! SVD (seeded LOBPCG) over the centred n × d matrix and brings sprs, linfa-kernel and a
//! second `rand`. With d in the tens, the exact answer is cheaper: the d × d covariance,
//! accumulated in one pass over the rows, and its symmetric eigen-decomposition
//! (linfa-linalg's, pure Rust). Signs follow scikit-learn's `svd_flip`
//! (`u_based_decision=False`): each component's largest entry in absolute value is
//! positive, so that the picture does not flip between versions.

use linfa_linalg::eigh::{EigSort, Eigh};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};

/// Rows centred and multiplied at a time: bounds the copy while keeping the product a
/// matrix–matrix one.
const CHUNK_ROWS: usize = 8192;

/// A fitted two-component PCA.
#[derive(Debug, Clone)]
pub struct Pca {
    pub mean: Array1<f64>,
    /// 2 × d, one unit-length component per row, largest variance first.
    pub components: Array2<f64>,
    /// The variance along each component (covariance with n − 1, as scikit-learn).
    pub explained_variance: [f64; 2],
    /// Each component's share of the total variance.
    pub explained_variance_ratio: [f64; 2],
}

/// Why a PCA cannot be fitted.
#[derive(Debug, thiserror::Error)]
pub enum PcaError {
    #[error(
        "a projection needs at least 2 customers and 2 features; there are {rows} and {features}"
    )]
    TooSmall { rows: usize, features: usize },
    #[error("the covariance matrix could not be decomposed: {0}")]
    Decomposition(String),
}

impl Pca {
    /// Fits the first two principal components of the rows of `x`.
    pub fn fit(x: ArrayView2<f64>) -> Result<Pca, PcaError> {
        let (n, d) = x.dim();
        if n < 2 || d < 2 {
            return Err(PcaError::TooSmall {
                rows: n,
                features: d,
            });
        }
        let mean = x.sum_axis(Axis(0)) / n as f64;
        let mut covariance = Array2::<f64>::zeros((d, d));
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK_ROWS).min(n);
            let centred = &x.slice(s![start..end, ..]) - &mean;
            covariance = covariance + centred.t().dot(&centred);
            start = end;
        }
        covariance /= (n - 1) as f64;
        let total: f64 = covariance.diag().sum();
        let (values, vectors) = covariance
            .eigh()
            .map_err(|e| PcaError::Decomposition(e.to_string()))?
            .sort_eig_desc();
        let mut components = Array2::<f64>::zeros((2, d));
        for c in 0..2 {
            let mut v = vectors.column(c).to_owned();
            let largest =
                v.iter().copied().fold(
                    0.0f64,
                    |best, x| if x.abs() > best.abs() { x } else { best },
                );
            if largest < 0.0 {
                v.mapv_inplace(|x| -x);
            }
            components.row_mut(c).assign(&v);
        }
        let variance = [values[0].max(0.0), values[1].max(0.0)];
        let ratio = if total > 0.0 {
            [variance[0] / total, variance[1] / total]
        } else {
            [0.0, 0.0]
        };
        Ok(Pca {
            mean,
            components,
            explained_variance: variance,
            explained_variance_ratio: ratio,
        })
    }

    /// The coordinates of one row on the two components.
    pub fn project(&self, row: &[f64]) -> (f64, f64) {
        let mut out = [0.0; 2];
        for (c, value) in out.iter_mut().enumerate() {
            *value = row
                .iter()
                .zip(self.mean.iter())
                .zip(self.components.row(c).iter())
                .map(|((x, m), w)| (x - m) * w)
                .sum();
        }
        (out[0], out[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn points_on_a_line_have_all_their_variance_on_the_first_component() {
        let x = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let pca = Pca::fit(x.view()).unwrap();
        assert!((pca.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        let c = pca.components.row(0);
        let norm = 5f64.sqrt();
        assert!((c[0] - 1.0 / norm).abs() < 1e-12 && (c[1] - 2.0 / norm).abs() < 1e-12);
        // Centred, the first point is 1.5 steps of length √5 below the mean.
        let (a, b) = pca.project(&[0.0, 0.0]);
        assert!((a + 1.5 * norm).abs() < 1e-12 && b.abs() < 1e-12);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        let x = array![[1.0, 2.0]];
        assert!(matches!(
            Pca::fit(x.view()),
            Err(PcaError::TooSmall { rows: 1, .. })
        ));
    }
}
