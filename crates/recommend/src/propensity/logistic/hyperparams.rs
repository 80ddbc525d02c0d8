//! Logistic-regression hyperparameters: [`LogisticParams`] (scikit-learn's defaults,
//! `C = 1`, an intercept) checked into [`LogisticValidParams`].

use linfa::ParamGuard;

use super::errors::LogisticError;

#[derive(Debug, Clone, PartialEq)]
pub struct LogisticValidParams {
    pub(super) c: f64,
    pub(super) fit_intercept: bool,
    pub(super) max_iter: usize,
    pub(super) tol: f64,
}

impl LogisticValidParams {
    /// The inverse of the L2 penalty's strength.
    pub fn c(&self) -> f64 {
        self.c
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams(LogisticValidParams);

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams(LogisticValidParams {
            c: 1.0,
            fit_intercept: true,
            max_iter: 100,
            tol: 1e-10,
        })
    }
}

impl LogisticParams {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn c(mut self, v: f64) -> Self {
        self.0.c = v;
        self
    }
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.0.fit_intercept = v;
        self
    }
    pub fn max_iter(mut self, v: usize) -> Self {
        self.0.max_iter = v;
        self
    }
    /// Newton stops when no gradient component of the objective, divided by `C` times
    /// the row count, exceeds this.
    pub fn tol(mut self, v: f64) -> Self {
        self.0.tol = v;
        self
    }
}

impl ParamGuard for LogisticParams {
    type Checked = LogisticValidParams;
    type Error = LogisticError;

    fn check_ref(&self) -> Result<&LogisticValidParams, LogisticError> {
        let p = &self.0;
        if !(p.c > 0.0 && p.c.is_finite()) {
            return Err(LogisticError::C);
        }
        if p.max_iter < 1 {
            return Err(LogisticError::MaxIter);
        }
        if !(p.tol > 0.0 && p.tol.is_finite()) {
            return Err(LogisticError::Tol);
        }
        Ok(p)
    }

    fn check(self) -> Result<LogisticValidParams, LogisticError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_key() {
        let refused =
            |p: LogisticParams| p.check().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused(LogisticParams::new().c(0.0)).starts_with("c "));
        assert!(refused(LogisticParams::new().c(f64::INFINITY)).starts_with("c "));
        assert!(refused(LogisticParams::new().max_iter(0)).starts_with("max_iter"));
        assert!(refused(LogisticParams::new().tol(0.0)).starts_with("tol"));
        assert_eq!(LogisticParams::new().check().unwrap().c(), 1.0);
    }
}
