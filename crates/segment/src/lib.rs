//! The segment stage: K-Means and DBSCAN, k chosen by silhouette, segment profiles.
//!
//! Not implemented yet (issue "Segment stage"). The runner recognises the kind `segment`
//! and rejects it at validation with a message saying so.
