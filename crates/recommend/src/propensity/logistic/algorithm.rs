//! Newton's method on the L2-regularised log-loss, with a Cholesky solve and a
//! backtracking (Armijo) line search.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;

use super::errors::LogisticError;
use super::hyperparams::LogisticValidParams;
use super::model::Logistic;
use crate::propensity::{sigmoid, softplus};

/// Rows per parallel chunk: the sums are taken chunk by chunk in order, so that they do
/// not depend on the thread count.
const CHUNK: usize = 4096;

impl LogisticValidParams {
    pub fn fit_rows(&self, x: ArrayView2<f64>, labels: &[bool]) -> Result<Logistic, LogisticError> {
        let (n, d) = x.dim();
        if n == 0 || d == 0 || labels.len() != n {
            return Err(LogisticError::Shape {
                rows: n,
                labels: labels.len(),
            });
        }
        if let Some((row, feature)) = x
            .indexed_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(at, _)| at)
        {
            return Err(LogisticError::NotFinite { row, feature });
        }
        let positives = labels.iter().filter(|&&l| l).count();
        if positives == 0 || positives == n {
            return Err(LogisticError::OneClass);
        }
        let x = x.as_standard_layout();
        let values = x.as_slice().unwrap_or_default();
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        // Parameters: the coefficients, then the intercept (kept at 0 without one).
        let m = d + 1;
        let mut theta = vec![0.0; m];
        let scale = self.c * n as f64;
        for iteration in 1..=self.max_iter {
            let (loss, gradient, hessian) = self.derivatives(values, &y, d, &theta);
            let largest = gradient.iter().fold(0.0f64, |a, g| a.max(g.abs())) / scale;
            if largest <= self.tol {
                return Ok(model(theta, iteration - 1));
            }
            let step = solve_spd(hessian, &gradient, m);
            let slope: f64 = gradient.iter().zip(&step).map(|(g, s)| g * s).sum();
            let mut t = 1.0;
            let mut next = theta.clone();
            loop {
                for ((n, th), s) in next.iter_mut().zip(&theta).zip(&step) {
                    *n = th - t * s;
                }
                let trial = self.objective(values, &y, d, &next);
                // Armijo's condition, with a strict decrease: near the minimum the
                // expected decrease falls below the objective's last bit, and a step
                // that changes nothing would pass it.
                if trial <= loss - 1e-4 * t * slope && trial < loss {
                    break;
                }
                // No step along Newton's direction lowers the objective as f64 computes
                // it: `theta` is the minimum to the precision of the sums (on unscaled
                // features the gradient's floor can sit above `tol`, and iterating on
                // rounding noise only ended in a failure to converge).
                if t < 1e-10 {
                    return Ok(model(theta, iteration));
                }
                t /= 2.0;
            }
            if next == theta {
                return Ok(model(theta, iteration));
            }
            theta = next;
        }
        let (_, gradient, _) = self.derivatives(values, &y, d, &theta);
        let largest = gradient.iter().fold(0.0f64, |a, g| a.max(g.abs())) / scale;
        if largest <= self.tol {
            Ok(model(theta, self.max_iter))
        } else {
            Err(LogisticError::NotConverged {
                iterations: self.max_iter,
                gradient: largest,
            })
        }
    }

    /// C × Σ log-loss + ½‖w‖².
    fn objective(&self, values: &[f64], y: &[f64], d: usize, theta: &[f64]) -> f64 {
        let loss: f64 = values
            .par_chunks(CHUNK * d)
            .zip(y.par_chunks(CHUNK))
            .map(|(rows, y)| {
                rows.chunks_exact(d)
                    .zip(y)
                    .map(|(row, &y)| {
                        let z = score(row, theta);
                        softplus(z) - y * z
                    })
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        self.c * loss + 0.5 * theta[..d].iter().map(|w| w * w).sum::<f64>()
    }

    /// The objective, its gradient and its Hessian (row-major, (d + 1)²) at `theta`.
    fn derivatives(
        &self,
        values: &[f64],
        y: &[f64],
        d: usize,
        theta: &[f64],
    ) -> (f64, Vec<f64>, Vec<f64>) {
        let m = d + 1;
        let partial: Vec<(f64, Vec<f64>, Vec<f64>)> = values
            .par_chunks(CHUNK * d)
            .zip(y.par_chunks(CHUNK))
            .map(|(rows, y)| {
                let mut loss = 0.0;
                let mut gradient = vec![0.0; m];
                let mut hessian = vec![0.0; m * m];
                for (row, &y) in rows.chunks_exact(d).zip(y) {
                    let z = score(row, theta);
                    let p = sigmoid(z);
                    loss += softplus(z) - y * z;
                    let (r, s) = (p - y, p * (1.0 - p));
                    for j in 0..d {
                        gradient[j] += r * row[j];
                        let sj = s * row[j];
                        let line = &mut hessian[j * m..(j + 1) * m];
                        for k in 0..=j {
                            line[k] += sj * row[k];
                        }
                        line[d] += sj;
                    }
                    gradient[d] += r;
                    hessian[d * m + d] += s;
                }
                (loss, gradient, hessian)
            })
            .collect();
        let mut loss = 0.0;
        let mut gradient = vec![0.0; m];
        let mut hessian = vec![0.0; m * m];
        for (l, g, h) in &partial {
            loss += l;
            gradient.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            hessian.iter_mut().zip(h).for_each(|(a, b)| *a += b);
        }
        let c = self.c;
        loss = c * loss + 0.5 * theta[..d].iter().map(|w| w * w).sum::<f64>();
        for j in 0..m {
            gradient[j] *= c;
            for k in 0..=j.min(d) {
                let v = if j == d && k < d {
                    // The intercept's row: its column entries were summed in column d.
                    c * hessian[k * m + d]
                } else {
                    c * hessian[j * m + k]
                };
                hessian[j * m + k] = v;
                hessian[k * m + j] = v;
            }
        }
        for j in 0..d {
            gradient[j] += theta[j];
            hessian[j * m + j] += 1.0;
        }
        if !self.fit_intercept {
            // The intercept stays 0: no gradient, a unit diagonal.
            gradient[d] = 0.0;
            for k in 0..m {
                hessian[d * m + k] = 0.0;
                hessian[k * m + d] = 0.0;
            }
            hessian[d * m + d] = 1.0;
        }
        (loss, gradient, hessian)
    }
}

impl<D: Data<Elem = f64>> Fit<ArrayBase<D, Ix2>, Array1<bool>, LogisticError>
    for LogisticValidParams
{
    type Object = Logistic;

    fn fit(
        &self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, Array1<bool>>,
    ) -> Result<Logistic, LogisticError> {
        let labels: Vec<bool> = dataset.targets.iter().copied().collect();
        self.fit_rows(dataset.records.view(), &labels)
    }
}

fn score(row: &[f64], theta: &[f64]) -> f64 {
    let d = row.len();
    theta[d] + row.iter().zip(theta).map(|(x, w)| x * w).sum::<f64>()
}

fn model(mut theta: Vec<f64>, iterations: usize) -> Logistic {
    let intercept = theta.pop().unwrap_or(0.0);
    Logistic {
        coefficients: theta,
        intercept,
        iterations,
    }
}

/// Solves `a x = b` for a symmetric positive definite `a` (m × m, row-major) by
/// Cholesky. The Hessian here is positive definite (the penalty adds the identity, and
/// the intercept's entry is a positive sum), so no pivoting is needed.
fn solve_spd(mut a: Vec<f64>, b: &[f64], m: usize) -> Vec<f64> {
    for j in 0..m {
        let mut diagonal = a[j * m + j];
        for k in 0..j {
            diagonal -= a[j * m + k] * a[j * m + k];
        }
        let diagonal = diagonal.max(f64::MIN_POSITIVE).sqrt();
        a[j * m + j] = diagonal;
        for i in j + 1..m {
            let mut v = a[i * m + j];
            for k in 0..j {
                v -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = v / diagonal;
        }
    }
    let mut x = b.to_vec();
    for i in 0..m {
        for k in 0..i {
            x[i] -= a[i * m + k] * x[k];
        }
        x[i] /= a[i * m + i];
    }
    for i in (0..m).rev() {
        for k in i + 1..m {
            x[i] -= a[k * m + i] * x[k];
        }
        x[i] /= a[i * m + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use linfa::ParamGuard;
    use ndarray::array;

    use super::super::LogisticParams;
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x = solve_spd(a.clone(), &[1.0, 2.0, 3.0], 3);
        for i in 0..3 {
            let row: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((row - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
    }

    #[test]
    fn the_gradient_vanishes_at_the_fit() {
        let x = array![
            [0.5, 1.0],
            [1.5, -1.0],
            [-0.3, 0.2],
            [2.0, 0.1],
            [0.1, -0.4],
            [1.1, 0.9]
        ];
        let labels = [false, true, false, true, false, true];
        let params = LogisticParams::new().c(0.7).check_unwrap();
        let model = params.fit_rows(x.view(), &labels).unwrap();
        let mut theta = model.coefficients.clone();
        theta.push(model.intercept);
        let values = x.as_slice().unwrap();
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        let (_, gradient, _) = params.derivatives(values, &y, 2, &theta);
        assert!(gradient.iter().all(|g| g.abs() < 1e-9), "{gradient:?}");
        // A missing value is refused, naming where.
        let mut bad = x.clone();
        bad[[4, 1]] = f64::NAN;
        let e = params
            .fit_rows(bad.view(), &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 4, feature 1"), "{e}");
    }
}
