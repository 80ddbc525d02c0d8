//! The segment stage: customers into segments with K-Means or DBSCAN, k chosen by
//! silhouette, segment profiles and labels, and a model that assigns new customers.
//!
//! [`Segment::run`] reads (`io`), fits (`fit_kmeans`, `fit_dbscan`) or applies a saved
//! model (`apply`), and writes (`io`). The algorithms:
//!
//! - [`k_means`]: k-means++ and Lloyd, in parallel, in linfa's layout (checked
//!   parameters, `Fit`, `PredictInplace`).
//! - [`dbscan`]: DBSCAN with scikit-learn's labels in memory linear in the rows, and
//!   `eps` at the knee of the k-distance curve, over the KD-tree of [`kdtree`].
//! - [`metrics`]: silhouette, Davies–Bouldin, Calinski–Harabasz and the adjusted Rand
//!   index, equal to scikit-learn's for the same labels.
//! - [`profile`]: sizes, shares, means and medians in original units (through the
//!   preprocess state's feature origins), distinguishing features, generated labels.
//!
//! The stage reads the features table that preprocess writes and holds it in memory as
//! one n × d matrix of f64. It does not choose features, reduce dimensions or scale:
//! that is preprocess's job. It never reads another stage's crate, only its files.

#![deny(unsafe_op_in_unsafe_fn)]

mod apply;
mod check;
pub mod dbscan;
mod errors;
mod fit_dbscan;
mod fit_kmeans;
mod io;
pub mod k_means;
pub mod kdtree;
/// The clustering metrics, defined once in `clientele-shared` for segment and evaluate.
pub use clientele_numeric::clustering as metrics;
pub mod model;
mod params;
pub mod profile;
mod scoring;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

pub use check::check_params;
pub use errors::{ParamError, SegmentError};
pub use io::{read_features, FeatureTable};
pub use params::*;
pub use scoring::{SilhouetteInfo, SweepRow};

/// The segment stage, as the runner sees it.
pub struct Segment;

impl Stage for Segment {
    const KIND: &'static str = "segment";
    // 2: the sweep's silhouette measures each pair once (its sums in another order:
    // the last bits of the sweep and the profiles).
    // 3: the sweep's silhouette adds each distance once per tuple of labels over the
    // labelings (again the sums' order: last bits).
    const ALGORITHM_VERSION: u32 = 3;
    const INPUTS: &'static [Port] = &[
        Port {
            name: "features",
            required: true,
            doc: "the features table from preprocess",
        },
        Port {
            name: "state",
            required: false,
            doc: "the preprocess state, to report centroids and profiles in original units",
        },
        Port {
            name: "model",
            required: false,
            doc: "a model file written by a fit (mode = \"apply\")",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "assignments",
            required: true,
            doc: "`customer_id`, `segment`, then `distance_to_centroid` (K-Means) or `point_type` (DBSCAN)",
        },
        Port {
            name: "profiles",
            required: false,
            doc: "segment profiles and labels, with the clustering scores, JSON",
        },
        Port {
            name: "sweep",
            required: false,
            doc: "K-Means: one row per k tried (k, inertia, silhouette, davies_bouldin, calinski_harabasz, chosen)",
        },
        Port {
            name: "model",
            required: false,
            doc: "the fitted model, JSON (mode = \"fit\")",
        },
    ];
    type Params = SegmentParams;
    type Error = SegmentError;

    fn run(
        params: &SegmentParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, SegmentError> {
        check_params(params, io)?;
        let features_path = io
            .input("features")
            .ok_or(ParamError::MissingPort { port: "features" })?;
        let assignments_path = io.output("assignments").ok_or(ParamError::MissingPort {
            port: "assignments",
        })?;
        let inputs = io::read_inputs(params, io, features_path, ctx.parquet_key)?;
        let table = &inputs.table;
        ctx.progress.step(&format!(
            "{} customers × {} features",
            table.ids.len(),
            table.names.len()
        ));
        let outcome = match &inputs.model {
            Some((path, m)) => apply::apply(m, path, table)?,
            None => match params.algorithm {
                Algorithm::Kmeans => fit_kmeans::fit_kmeans(params, table, ctx)?,
                Algorithm::Dbscan => fit_dbscan::fit_dbscan(params, table, ctx)?,
            },
        };
        io::write_outputs(
            params,
            io,
            table,
            &inputs.origins,
            &outcome,
            assignments_path,
            ctx.parquet_key,
        )
    }
}
