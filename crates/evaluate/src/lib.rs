//! The evaluate stage: clustering and ranking metrics and the CI regression gate.
//!
//! So far this crate holds the ranking metrics at k ([`ranking`]), equal to Microsoft
//! Recommenders' for the same lists. The stage itself, the clustering metrics side by
//! side, baselines and the gate are not implemented yet (issue "Evaluate stage"): the
//! runner still rejects the kind `evaluate` at validation, saying so.

pub mod ranking;
