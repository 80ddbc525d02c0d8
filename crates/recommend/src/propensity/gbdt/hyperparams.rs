//! Gradient-boosting hyperparameters, in linfa's layout: [`GbdtParams`] is the unchecked
//! builder, [`GbdtValidParams`] what checking it gives. The defaults are scikit-learn's
//! `HistGradientBoostingClassifier` defaults, so that the two can be compared as they
//! come.

use linfa::ParamGuard;

use super::errors::GbdtError;

/// Checked gradient-boosting hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtValidParams {
    pub(super) learning_rate: f64,
    pub(super) max_iter: usize,
    pub(super) max_leaf_nodes: usize,
    pub(super) max_depth: Option<usize>,
    pub(super) min_samples_leaf: usize,
    pub(super) l2_regularization: f64,
    pub(super) max_bins: usize,
    pub(super) early_stopping: EarlyStopping,
    pub(super) validation_fraction: f64,
    pub(super) n_iter_no_change: usize,
    pub(super) tol: f64,
    pub(super) seed: u64,
}

/// Whether boosting stops when the loss on a held-out validation fold stops improving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    /// On above 10,000 training rows (scikit-learn's `"auto"`).
    Auto,
    On,
    Off,
}

impl GbdtValidParams {
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
    pub fn max_leaf_nodes(&self) -> usize {
        self.max_leaf_nodes
    }
    pub fn max_bins(&self) -> usize {
        self.max_bins
    }
    /// Whether `rows` training rows are boosted with early stopping.
    pub fn stops_early(&self, rows: usize) -> bool {
        match self.early_stopping {
            EarlyStopping::Auto => rows > 10_000,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        }
    }
}

/// Unchecked gradient-boosting hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams(GbdtValidParams);

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams(GbdtValidParams {
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: 31,
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 0,
        })
    }
}

impl GbdtParams {
    pub fn new() -> Self {
        Self::default()
    }
    /// Shrinkage: each tree's leaves are scaled by it.
    pub fn learning_rate(mut self, v: f64) -> Self {
        self.0.learning_rate = v;
        self
    }
    /// At most this many trees (boosting iterations).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.0.max_iter = v;
        self
    }
    /// Leaves per tree; trees grow best split first until they have this many.
    pub fn max_leaf_nodes(mut self, v: usize) -> Self {
        self.0.max_leaf_nodes = v;
        self
    }
    /// Depth limit (`None`: only the leaf count limits a tree).
    pub fn max_depth(mut self, v: Option<usize>) -> Self {
        self.0.max_depth = v;
        self
    }
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.0.min_samples_leaf = v;
        self
    }
    pub fn l2_regularization(mut self, v: f64) -> Self {
        self.0.l2_regularization = v;
        self
    }
    /// Bins per feature for the values that are there (missing values get one more).
    pub fn max_bins(mut self, v: usize) -> Self {
        self.0.max_bins = v;
        self
    }
    pub fn early_stopping(mut self, v: EarlyStopping) -> Self {
        self.0.early_stopping = v;
        self
    }
    pub fn validation_fraction(mut self, v: f64) -> Self {
        self.0.validation_fraction = v;
        self
    }
    pub fn n_iter_no_change(mut self, v: usize) -> Self {
        self.0.n_iter_no_change = v;
        self
    }
    pub fn tol(mut self, v: f64) -> Self {
        self.0.tol = v;
        self
    }
    /// Seeds the validation fold and the binning subsample.
    pub fn seed(mut self, v: u64) -> Self {
        self.0.seed = v;
        self
    }
}

impl ParamGuard for GbdtParams {
    type Checked = GbdtValidParams;
    type Error = GbdtError;

    fn check_ref(&self) -> Result<&GbdtValidParams, GbdtError> {
        let p = &self.0;
        if !(p.learning_rate > 0.0 && p.learning_rate.is_finite()) {
            return Err(GbdtError::LearningRate);
        }
        if p.max_iter < 1 {
            return Err(GbdtError::MaxIter);
        }
        if p.max_leaf_nodes < 2 {
            return Err(GbdtError::MaxLeafNodes);
        }
        if p.max_depth == Some(0) {
            return Err(GbdtError::MaxDepth);
        }
        if p.min_samples_leaf < 1 {
            return Err(GbdtError::MinSamplesLeaf);
        }
        if !(p.l2_regularization >= 0.0 && p.l2_regularization.is_finite()) {
            return Err(GbdtError::L2Regularization);
        }
        if !(2..=255).contains(&p.max_bins) {
            return Err(GbdtError::MaxBins);
        }
        if !(p.validation_fraction > 0.0 && p.validation_fraction < 1.0) {
            return Err(GbdtError::ValidationFraction);
        }
        if p.n_iter_no_change < 1 {
            return Err(GbdtError::NIterNoChange);
        }
        if !(p.tol >= 0.0 && p.tol.is_finite()) {
            return Err(GbdtError::Tol);
        }
        Ok(p)
    }

    fn check(self) -> Result<GbdtValidParams, GbdtError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_key() {
        let refused = |p: GbdtParams| p.check().err().map(|e| e.to_string());
        let says = |p: GbdtParams, key: &str| {
            let e = refused(p).unwrap_or_default();
            assert!(e.starts_with(key), "{e} should name {key}");
        };
        says(GbdtParams::new().learning_rate(0.0), "learning_rate");
        says(GbdtParams::new().learning_rate(f64::NAN), "learning_rate");
        says(GbdtParams::new().max_iter(0), "max_iter");
        says(GbdtParams::new().max_leaf_nodes(1), "max_leaf_nodes");
        says(GbdtParams::new().max_depth(Some(0)), "max_depth");
        says(GbdtParams::new().min_samples_leaf(0), "min_samples_leaf");
        says(
            GbdtParams::new().l2_regularization(-1.0),
            "l2_regularization",
        );
        says(GbdtParams::new().max_bins(256), "max_bins");
        says(
            GbdtParams::new().validation_fraction(1.0),
            "validation_fraction",
        );
        says(GbdtParams::new().n_iter_no_change(0), "n_iter_no_change");
        says(GbdtParams::new().tol(f64::INFINITY), "tol");
        let valid = GbdtParams::new().check().unwrap();
        assert!(!valid.stops_early(10_000) && valid.stops_early(10_001));
    }
}
