//! L2-regularised logistic regression for a binary label, scikit-learn's
//! `LogisticRegression` objective (`C` times the summed log-loss plus half the squared
//! coefficients, the intercept not penalised), in linfa's layout.
//!
//! Solved by Newton's method with a Cholesky factorisation and a backtracking line
//! search (scikit-learn's `newton-cholesky` solver): the objective is strictly convex,
//! so its one minimum is what scikit-learn's `lbfgs` also converges to, and Newton
//! reaches it to machine precision in a handful of passes, where linfa-logistic's
//! L-BFGS (through argmin) stops at a gradient tolerance. The Hessian costs n·d² per
//! pass: fine for the tens of features of a customer table.
//!
//! - [`hyperparams`]: [`LogisticParams`] checked into [`LogisticValidParams`].
//! - `algorithm`: Newton's method; linfa's `Fit`.
//! - [`model`]: the fitted [`Logistic`]: scores, probabilities, each term.

mod algorithm;
mod errors;
pub mod hyperparams;
pub mod model;

pub use errors::LogisticError;
pub use hyperparams::{LogisticParams, LogisticValidParams};
pub use model::Logistic;
