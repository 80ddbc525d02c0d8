//! The preprocess stage: imputation, outliers, encoding and scaling, fitted once and
//! applied to new data.
//!
//! Not implemented yet (issue "Preprocess stage"). The runner recognises the kind
//! `preprocess` and rejects it at validation with a message saying so; this crate exists
//! so that the workspace has its final shape.
