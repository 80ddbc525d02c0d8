//! The evaluate stage: clustering and ranking metrics and the CI regression gate.
//!
//! So far this crate offers the ranking metrics at k ([`ranking`], defined once in
//! `clientele-shared` because the recommend stage tunes its blend on the same MAP@k),
//! equal to Microsoft Recommenders' for the same lists. The stage itself, the clustering
//! metrics side by side, baselines and the gate are not implemented yet (issue "Evaluate
//! stage"): the runner still rejects the kind `evaluate` at validation, saying so.

pub use clientele_shared::ranking;
