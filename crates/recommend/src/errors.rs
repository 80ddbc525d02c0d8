//! Why a recommend stage failed. Messages name the file, the row, the column or the
//! parameter, never a value.

use std::path::PathBuf;

use clientele_shared::SharedError;

/// Why a recommend stage failed.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("`{path}` row {row}: column `{column}` {why}")]
    BadValue {
        path: PathBuf,
        row: usize,
        column: String,
        why: String,
    },
    #[error("`{path}` holds more than 128 distinct products; the recommend stage is made for catalogues of tens of products")]
    TooManyProducts { path: PathBuf },
    #[error("the holdings and the catalogue name {count} distinct products together; the recommend stage handles at most 128 (each customer's products are the bits of a 128-bit set): split the catalogue into product families and run one recommend stage per family")]
    TooManyUniverseProducts { count: usize },
    #[error("catalogue `{path}` line {line}, column `{column}`: {why}")]
    Catalogue {
        path: PathBuf,
        line: u64,
        column: String,
        why: String,
    },
    #[error("params: {0}")]
    Params(#[from] ParamError),
    #[error("recommend model `{path}`: {message}")]
    Model { path: PathBuf, message: String },
    #[error("building an output batch failed: {0}")]
    OutputBatch(#[from] arrow::error::ArrowError),
}

/// A parameter that breaks a rule, alone or with the ports and the data: one variant
/// per rule, each naming its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("{key} must be at least 1")]
    Zero { key: &'static str },
    #[error("{key} must be between 0 and 1 (exclusive)")]
    NotAFraction { key: &'static str },
    #[error("tune_step must be in (0, 1]")]
    TuneStep,
    #[error("tune_step gives a grid of {points} weight vectors over {methods} methods, more than the {max} tuning tries (each is scored on every validation customer): use a larger tune_step or fewer methods", max = crate::check::MAX_TUNE_GRID)]
    TuneGrid { points: u64, methods: usize },
    #[error("{key} must be a date written YYYY-MM-DD")]
    NotADate { key: &'static str },
    #[error("test_snapshot is only read with split = \"temporal\"")]
    TestSnapshotWithoutTemporal,
    #[error("an output `test` needs split = \"holdout\" or \"temporal\"")]
    TestOutputWithoutSplit,
    #[error(
        "an output `probabilities` needs the propensity method, which needs a `features` input"
    )]
    ProbabilitiesWithoutPropensity,
    #[error(
        "`ages` reads date columns of the customer table: give an input `customers`, and `features` for the propensity method that uses them"
    )]
    AgesWithoutCustomers,
    #[error("with a split, name an output `test`: the held-out products that evaluate scores")]
    SplitWithoutTestOutput,
    #[error("give the catalogue either as an input `catalogue` or as `products`, not both")]
    TwoCatalogues,
    #[error("weights.{method} must be a finite number ≥ 0")]
    BadWeight { method: String },
    #[error("weights.{method} is above 0, but {method} needs an input `{input}`")]
    WeightWithoutInput { method: String, input: &'static str },
    #[error("methods: `{method}` needs an input `{input}`; name it, or leave `{method}` out of `methods`")]
    MethodWithoutInput { method: String, input: &'static str },
    #[error("weights: `{method}` has a weight but is not in `methods`; add it there, or drop its weight")]
    WeightOfUnlistedMethod { method: String },
    #[error("weights: at least one method needs a weight above 0")]
    AllWeightsZero,
    #[error("the catalogue's eligibility rules read the customer columns {columns}; name an input `customers` (the customer table)")]
    RulesWithoutCustomers { columns: String },
    #[error("the catalogue excludes segments; name an input `assignments`")]
    ExclusionsWithoutAssignments,
    #[error("the runner passed no `{port}` port")]
    MissingPort { port: &'static str },
    #[error("{key}: `{path}` has no snapshot {date}; its snapshots are {snapshots}")]
    NoSuchSnapshot {
        key: &'static str,
        path: PathBuf,
        date: String,
        snapshots: String,
    },
    #[error("split = \"temporal\" needs two snapshots, but `{path}` has {snapshots}")]
    TemporalNeedsTwoSnapshots { path: PathBuf, snapshots: String },
    #[error("split = \"temporal\": the test snapshot must come after the training snapshot")]
    TestSnapshotNotAfterTraining,
}
