//! Why an evaluate stage failed (a failed gate is not an error: see [`crate::gate`]).
//! Messages name the file, the row, the column or the parameter, never a value.

use std::path::PathBuf;

use clientele_numeric::clustering::ClusteringError;
use clientele_shared::SharedError;

/// Why an evaluate stage failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error(transparent)]
    Clustering(#[from] ClusteringError),
    #[error("`{path}` row {row}: column `{column}` {why}")]
    BadValue {
        path: PathBuf,
        row: usize,
        column: String,
        why: String,
    },
    #[error("params: {0}")]
    Params(#[from] ParamError),
}

/// A parameter that breaks a rule with the others, the ports or the metrics computed:
/// one variant per rule, each naming its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("k must list at least one cut-off, each at least 1")]
    CutOffs,
    #[error("silhouette_sample must be at least 2")]
    SilhouetteSample,
    #[error("ranking metrics need both recommendations (or by_method) and the `test` split; give both or neither")]
    ListsWithoutTest,
    #[error("an input `features` is read with `assignments`, for the clustering metrics")]
    FeaturesWithoutAssignments,
    #[error("an input `assignments_rerun` is compared with `assignments`; name both")]
    RerunWithoutAssignments,
    #[error("gate.max_drop must be a finite number ≥ 0")]
    MaxDrop,
    #[error("gate.max_drop compares with a baseline: name an input `baseline` (a metrics.json of an earlier run)")]
    MaxDropWithoutBaseline,
    #[error("gate: give `min`, `max` or `max_drop`")]
    EmptyGate,
    #[error("an input `baseline` is read by a gate with max_drop; add [stage.params.gate]")]
    BaselineWithoutGate,
    #[error("gate.{key}: `{metric}` is not a metric of this run (metrics.json lists those computed, e.g. {examples})")]
    UnknownMetric {
        key: &'static str,
        metric: String,
        examples: String,
    },
    #[error("gate.compare: the baseline has no metric `{metric}`")]
    BaselineLacksMetric { metric: String },
    #[error("the runner passed no `{port}` port")]
    MissingPort { port: &'static str },
}
