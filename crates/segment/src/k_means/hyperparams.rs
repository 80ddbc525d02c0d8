//! K-Means hyperparameters, in linfa's layout: [`KMeansParams`] is the unchecked
//! builder, [`KMeansValidParams`] what checking it gives, and only the checked type
//! fits ([`linfa::ParamGuard`] checks on the way, so `KMeansParams::fit` works too).

use linfa::ParamGuard;

use super::errors::KMeansError;

/// Checked K-Means hyperparameters: `k ≥ 1`, `n_init ≥ 1`, `max_iter ≥ 1`, a finite
/// `tol ≥ 0`, and a `batch_size` of at least 1 when set.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams {
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    batch_size: Option<usize>,
}

impl KMeansValidParams {
    /// Segments to find.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Restarts from fresh k-means++ seeds; the lowest inertia wins.
    pub fn n_init(&self) -> usize {
        self.n_init
    }
    /// Lloyd iterations per restart (with `batch_size`: passes over the data).
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
    /// Stop when the centres moved less than `tol × mean feature variance`.
    pub fn tol(&self) -> f64 {
        self.tol
    }
    /// Every random choice derives from it.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Set: mini-batch K-Means with batches of this many rows.
    pub fn batch_size(&self) -> Option<usize> {
        self.batch_size
    }
}

/// Unchecked K-Means hyperparameters: scikit-learn's defaults (`n_init = 10`,
/// `max_iter = 300`, `tol = 1e-4`), seed 0, full-batch Lloyd.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams(KMeansValidParams);

impl KMeansParams {
    pub fn new(k: usize) -> Self {
        KMeansParams(KMeansValidParams {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            batch_size: None,
        })
    }

    pub fn n_init(mut self, n_init: usize) -> Self {
        self.0.n_init = n_init;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.0.max_iter = max_iter;
        self
    }

    pub fn tol(mut self, tol: f64) -> Self {
        self.0.tol = tol;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Mini-batch K-Means with batches of this many rows (`None`: full-batch Lloyd).
    pub fn batch_size(mut self, batch_size: Option<usize>) -> Self {
        self.0.batch_size = batch_size;
        self
    }
}

impl ParamGuard for KMeansParams {
    type Checked = KMeansValidParams;
    type Error = KMeansError;

    fn check_ref(&self) -> Result<&KMeansValidParams, KMeansError> {
        let p = &self.0;
        if p.k == 0 {
            return Err(KMeansError::Zero { key: "k" });
        }
        if p.n_init == 0 {
            return Err(KMeansError::Zero { key: "n_init" });
        }
        if p.max_iter == 0 {
            return Err(KMeansError::Zero { key: "max_iter" });
        }
        if !(p.tol >= 0.0 && p.tol.is_finite()) {
            return Err(KMeansError::Tolerance);
        }
        if p.batch_size == Some(0) {
            return Err(KMeansError::Zero { key: "batch_size" });
        }
        Ok(p)
    }

    fn check(self) -> Result<KMeansValidParams, KMeansError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_key() {
        let refused = |p: KMeansParams| p.check().err().map(|e| e.to_string());
        let k = refused(KMeansParams::new(0));
        assert_eq!(k.as_deref(), Some("k must be at least 1"));
        let n_init = refused(KMeansParams::new(2).n_init(0));
        assert_eq!(n_init.as_deref(), Some("n_init must be at least 1"));
        let max_iter = refused(KMeansParams::new(2).max_iter(0));
        assert_eq!(max_iter.as_deref(), Some("max_iter must be at least 1"));
        assert_eq!(
            refused(KMeansParams::new(2).tol(f64::NAN)).as_deref(),
            Some("tol must be a finite number ≥ 0")
        );
        assert_eq!(
            refused(KMeansParams::new(2).tol(-1.0)).as_deref(),
            Some("tol must be a finite number ≥ 0")
        );
        assert_eq!(
            refused(KMeansParams::new(2).batch_size(Some(0))).as_deref(),
            Some("batch_size must be at least 1")
        );
        let valid = KMeansParams::new(4)
            .seed(9)
            .batch_size(Some(64))
            .check()
            .unwrap();
        assert_eq!(
            (valid.k(), valid.seed(), valid.batch_size()),
            (4, 9, Some(64))
        );
        assert_eq!(
            (valid.n_init(), valid.max_iter(), valid.tol()),
            (10, 300, 1e-4)
        );
    }
}
