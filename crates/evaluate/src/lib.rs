//! The evaluate stage: clustering and ranking metrics and the CI regression gate.
//!
//! Not implemented yet (issue "Evaluate stage"). The runner recognises the kind
//! `evaluate` and rejects it at validation with a message saying so.
