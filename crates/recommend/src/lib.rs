//! The recommend stage: collaborative and content-based filtering, blended and explained.
//!
//! Not implemented yet (issue "Recommend stage"). The runner recognises the kind
//! `recommend` and rejects it at validation with a message saying so.
