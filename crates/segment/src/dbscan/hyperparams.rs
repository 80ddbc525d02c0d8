//! DBSCAN hyperparameters, in linfa's layout: [`DbscanParams`] is the unchecked
//! builder, [`DbscanValidParams`] what checking it gives.

use linfa::ParamGuard;

use super::errors::DbscanError;

/// Checked DBSCAN hyperparameters: a finite `eps > 0` and `min_samples ≥ 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscanValidParams {
    eps: f64,
    min_samples: usize,
}

impl DbscanValidParams {
    /// The neighbourhood radius.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// Neighbours within `eps` (the row itself counted) that make a core point.
    pub fn min_samples(&self) -> usize {
        self.min_samples
    }
}

/// Unchecked DBSCAN hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscanParams(DbscanValidParams);

impl DbscanParams {
    pub fn new(eps: f64, min_samples: usize) -> Self {
        DbscanParams(DbscanValidParams { eps, min_samples })
    }
}

impl ParamGuard for DbscanParams {
    type Checked = DbscanValidParams;
    type Error = DbscanError;

    fn check_ref(&self) -> Result<&DbscanValidParams, DbscanError> {
        if !(self.0.eps > 0.0 && self.0.eps.is_finite()) {
            return Err(DbscanError::Eps);
        }
        if self.0.min_samples < 1 {
            return Err(DbscanError::MinSamples);
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<DbscanValidParams, DbscanError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_key() {
        let refused = |p: DbscanParams| p.check().err().map(|e| e.to_string());
        for eps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                refused(DbscanParams::new(eps, 3)).as_deref(),
                Some("eps must be a finite number above 0")
            );
        }
        assert_eq!(
            refused(DbscanParams::new(0.5, 0)).as_deref(),
            Some("min_samples must be at least 1")
        );
        let valid = DbscanParams::new(0.5, 3).check().unwrap();
        assert_eq!((valid.eps(), valid.min_samples()), (0.5, 3));
    }
}
