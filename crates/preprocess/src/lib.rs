//! The preprocess stage: imputation, outliers, skew transforms, categorical encoding and
//! scaling, fitted once (`mode = "fit"`) and applied to new data (`mode = "apply"`).
//!
//! Every statistic it learns (means, medians, quantile fences, category lists, scales)
//! goes to a JSON state file. Fitting computes the state; the output is then produced
//! by the same code that `apply` uses, so fitting and applying on the same data give
//! the same bytes. The statistics follow scikit-learn's conventions (`SimpleImputer`,
//! `StandardScaler`, `MinMaxScaler`, `RobustScaler`, `OneHotEncoder`) and are tested
//! against its values.
//!
//! Order of operations: rows with a missing value in a column imputed by `drop` are
//! dropped first; imputation values and outlier fences are learnt from the rows left;
//! rows beyond a `drop` fence go next; scalers and category lists are learnt from the
//! rows that survive every drop. It does not select features or reduce dimensions.
//!
//! Two passes over the Parquet file, so that memory holds a column, not the table:
//! fitting reads one whole column at a time (exact medians and quantiles need every
//! value of it), and applying transforms and writes one batch at a time.

#![forbid(unsafe_code)]

mod params;
mod state;
mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array};
use arrow::compute::{cast, concat, filter};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::schema::{Unscale, CUSTOMER_ID};
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use clientele_shared::SharedError;

pub use params::*;
pub use state::*;

/// Why a preprocess stage failed. Messages name the file and column, never a value.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("`{path}` has no column `{column}`, which {what}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        what: &'static str,
    },
    #[error(
        "`{path}`: column `{column}` has type {found}; it can only be passed through or dropped"
    )]
    Unsupported {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("`{path}`: column `{column}` has no value to learn {what} from (every value is missing); drop it with params.drop, or impute a constant")]
    NoValues {
        path: PathBuf,
        column: String,
        what: &'static str,
    },
    #[error("`{path}` row {row}: column `{column}` is negative, which log1p cannot take; use transform = \"signed_log1p\"")]
    Negative {
        path: PathBuf,
        row: usize,
        column: String,
    },
    #[error("`{path}`: no row is left after dropping rows with missing values or outliers")]
    NoRowsLeft { path: PathBuf },
    #[error("`{path}` has no rows: there is nothing to fit a state on")]
    EmptyTable { path: PathBuf },
    #[error("`{path}`: column `{column}` has type {found}, but the fitted state treats it as {expected}; was the state fitted on another table?")]
    StateMismatch {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("cannot read the state file `{path}`: {message}")]
    State { path: PathBuf, message: String },
    #[error("params.{key}: {message}")]
    Param { key: String, message: String },
}

/// The preprocess stage, as the runner sees it.
pub struct Preprocess;

impl Stage for Preprocess {
    const KIND: &'static str = "preprocess";
    const INPUTS: &'static [Port] = &[
        Port {
            name: "table",
            required: true,
            doc: "the customer table from ingest",
        },
        Port {
            name: "state",
            required: false,
            doc: "a fitted state file (mode = \"apply\")",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "features",
            required: true,
            doc: "`customer_id`, passed-through columns, then one Float64 column per feature",
        },
        Port {
            name: "state",
            required: false,
            doc: "the fitted state, JSON (mode = \"fit\")",
        },
    ];
    type Params = PreprocessParams;
    type Error = PreprocessError;

    fn run(
        params: &PreprocessParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, PreprocessError> {
        check_params(params, io)?;
        let (Some(table), Some(features)) = (io.input("table"), io.output("features")) else {
            return Err(param(
                "inputs",
                "the runner passed no `table` input or no `features` output",
            ));
        };
        let mut notes = Vec::new();
        // Pass 1 (fit): statistics, one column at a time.
        let state = match params.mode {
            Mode::Fit => fit(params, &ParquetColumns::open(table)?, table, &mut notes)?,
            Mode::Apply => {
                let path = io.input("state").unwrap_or(Path::new("state.json"));
                read_state(path)?
            }
        };
        // Pass 2: transform, one batch at a time.
        let mut source = ParquetSource::open(table)?;
        let total = source.rows();
        let empty = RecordBatch::new_empty(source.schema().clone());
        let (empty, mut counts) = apply(&state, &empty, table)?;
        let mut sink = ParquetSink::create(features, empty.schema())?;
        let mut first_row = 0usize;
        while let Some(batch) = source.next_batch()? {
            let (out, batch_counts) = apply_rows(&state, &batch, table, first_row)?;
            for (key, n) in batch_counts {
                *counts.entry(key).or_default() += n;
            }
            sink.write(&out)?;
            first_row += batch.num_rows();
            ctx.progress.rows(first_row as u64, Some(total));
        }
        if sink.rows() == 0 && total > 0 {
            return Err(PreprocessError::NoRowsLeft {
                path: table.to_path_buf(),
            });
        }
        let rows = sink.finish()?;
        if let (Mode::Fit, Some(path)) = (params.mode, io.output("state")) {
            let json =
                serde_json::to_string_pretty(&state).map_err(|e| param("state", e.to_string()))?;
            clientele_shared::atomic::write_file(path, json.as_bytes())?;
        }
        for (key, n) in counts.iter().filter(|(_, n)| **n > 0) {
            notes.push(format!("{key}: {n}"));
        }
        Ok(StageReport {
            rows,
            counts,
            notes,
            ..StageReport::default()
        })
    }
}

fn param(key: &str, message: impl Into<String>) -> PreprocessError {
    PreprocessError::Param {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &PreprocessParams, io: &StageIo) -> Result<(), PreprocessError> {
    match params.mode {
        Mode::Fit if io.output("state").is_none() => {
            return Err(param(
                "mode",
                "\"fit\" needs an output named `state` for the fitted statistics",
            ))
        }
        Mode::Apply if io.input("state").is_none() => {
            return Err(param(
                "mode",
                "\"apply\" needs an input named `state`: a state file written by a fit",
            ))
        }
        _ => {}
    }
    for column in &params.passthrough {
        if params.drop.contains(column) {
            return Err(param(
                "drop",
                format!("`{column}` is also listed in passthrough"),
            ));
        }
    }
    let mut rules: Vec<(String, &NumericRule)> = vec![("numeric".to_string(), &params.numeric)];
    let mut categorical: Vec<(String, &CategoricalRule)> =
        vec![("categorical".to_string(), &params.categorical)];
    for (column, rule) in &params.columns {
        match rule {
            ColumnRule::Numeric(r) => rules.push((format!("columns.{column}"), r)),
            ColumnRule::Categorical(r) => categorical.push((format!("columns.{column}"), r)),
        }
    }
    for (key, rule) in rules {
        if let Some(o) = &rule.outliers {
            let ok = match o.method {
                OutlierMethod::Iqr => o.factor > 0.0,
                OutlierMethod::Zscore => o.z > 0.0,
                OutlierMethod::Quantile => {
                    (0.0..1.0).contains(&o.low) && o.low < o.high && o.high <= 1.0
                }
            };
            if !ok {
                return Err(param(
                    &format!("{key}.outliers"),
                    "needs factor > 0 (iqr), z > 0 (zscore), or 0 ≤ low < high ≤ 1 (quantile)",
                ));
            }
        }
    }
    for (key, rule) in categorical {
        if matches!(rule.max_categories, Some(n) if n < 2) {
            return Err(param(
                &format!("{key}.max_categories"),
                "must be at least 2 (one kept category and `other`)",
            ));
        }
    }
    Ok(())
}

/// Where `fit` reads its data: whole columns, one at a time, so that memory holds one
/// column rather than the table (exact medians and quantiles need every value).
pub trait ColumnSource {
    fn schema(&self) -> SchemaRef;
    fn num_rows(&self) -> usize;
    /// The whole column `name`; `None` if there is no such column.
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError>;
}

impl ColumnSource for RecordBatch {
    fn schema(&self) -> SchemaRef {
        RecordBatch::schema(self)
    }
    fn num_rows(&self) -> usize {
        RecordBatch::num_rows(self)
    }
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError> {
        Ok(self.column_by_name(name).cloned())
    }
}

/// A Parquet file read column by column (Parquet stores columns apart, so reading one
/// decodes only that one).
pub struct ParquetColumns {
    path: PathBuf,
    schema: SchemaRef,
    rows: usize,
}

impl ParquetColumns {
    pub fn open(path: &Path) -> Result<Self, PreprocessError> {
        let source = ParquetSource::open(path)?;
        Ok(ParquetColumns {
            path: path.to_path_buf(),
            schema: source.schema().clone(),
            rows: source.rows() as usize,
        })
    }
}

impl ColumnSource for ParquetColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn num_rows(&self) -> usize {
        self.rows
    }
    fn read_column(&self, name: &str) -> Result<Option<ArrayRef>, PreprocessError> {
        let Ok(index) = self.schema.index_of(name) else {
            return Ok(None);
        };
        let batches = ParquetSource::open_columns(&self.path, Some(&[index]))?.read_all()?;
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
        if arrays.is_empty() {
            return Ok(Some(arrow::array::new_empty_array(
                self.schema.field(index).data_type(),
            )));
        }
        Ok(Some(concat(&arrays).map_err(|e| internal(&self.path, e))?))
    }
}

fn internal(path: &Path, e: impl std::fmt::Display) -> PreprocessError {
    PreprocessError::Shared(SharedError::ParquetRead {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn read_state(path: &Path) -> Result<FittedState, PreprocessError> {
    let text = std::fs::read_to_string(path).map_err(|e| PreprocessError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let state: FittedState = serde_json::from_str(&text).map_err(|e| PreprocessError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if state.format != STATE_FORMAT {
        return Err(PreprocessError::State {
            path: path.to_path_buf(),
            message: format!(
                "state format {} is not the format {STATE_FORMAT} this version reads",
                state.format
            ),
        });
    }
    Ok(state)
}

fn is_numeric(ty: &DataType) -> bool {
    ty.is_numeric() || *ty == DataType::Boolean
}

fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(ty, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8))
}

fn column(
    source: &dyn ColumnSource,
    path: &Path,
    name: &str,
    what: &'static str,
) -> Result<ArrayRef, PreprocessError> {
    source
        .read_column(name)?
        .ok_or_else(|| PreprocessError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            what,
        })
}

fn numbers(array: &ArrayRef, path: &Path) -> Result<Vec<Option<f64>>, PreprocessError> {
    let cast = cast(array, &DataType::Float64).map_err(|e| internal(path, e))?;
    let values = cast
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| internal(path, "cast to Float64"))?;
    Ok(values.iter().collect())
}

fn texts(array: &ArrayRef, path: &Path) -> Result<Vec<Option<String>>, PreprocessError> {
    let cast = cast(array, &DataType::Utf8).map_err(|e| internal(path, e))?;
    let values = cast
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .ok_or_else(|| internal(path, "cast to Utf8"))?;
    Ok(values.iter().map(|v| v.map(str::to_string)).collect())
}

/// What happens to each input column before anything is learnt.
enum Plan<'a> {
    Passthrough,
    Dropped,
    Numeric(&'a NumericRule),
    Categorical(&'a CategoricalRule),
}

/// Learns every statistic from the columns of `source` (see [`ColumnSource`]).
pub fn fit(
    params: &PreprocessParams,
    source: &dyn ColumnSource,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<FittedState, PreprocessError> {
    let schema = source.schema();
    for (names, what) in [
        (
            params.columns.keys().collect::<Vec<_>>(),
            "params.columns names",
        ),
        (
            params.passthrough.iter().collect(),
            "params.passthrough names",
        ),
        (params.drop.iter().collect(), "params.drop names"),
    ] {
        for name in names {
            if schema.index_of(name).is_err() {
                return Err(PreprocessError::MissingColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    what,
                });
            }
        }
    }
    let mut plans = Vec::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        let plan = if name == CUSTOMER_ID || params.passthrough.iter().any(|p| p == name) {
            Plan::Passthrough
        } else if params.drop.iter().any(|d| d == name) {
            Plan::Dropped
        } else if let Some(rule) = params.columns.get(name) {
            match rule {
                ColumnRule::Numeric(r) if is_numeric(field.data_type()) => Plan::Numeric(r),
                ColumnRule::Categorical(r)
                    if is_text(field.data_type()) || is_numeric(field.data_type()) =>
                {
                    Plan::Categorical(r)
                }
                _ => {
                    return Err(PreprocessError::Unsupported {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        found: field.data_type().to_string(),
                    })
                }
            }
        } else if is_numeric(field.data_type()) {
            Plan::Numeric(&params.numeric)
        } else if is_text(field.data_type()) {
            Plan::Categorical(&params.categorical)
        } else {
            notes.push(format!(
                "column `{name}` ({}) left out; list it in params.passthrough to keep it",
                field.data_type()
            ));
            Plan::Dropped
        };
        plans.push((name.to_string(), plan));
    }

    // 1. Rows dropped for a missing value.
    let n = source.num_rows();
    if n == 0 {
        return Err(PreprocessError::EmptyTable {
            path: path.to_path_buf(),
        });
    }
    let mut keep = vec![true; n];
    for (name, plan) in &plans {
        let drops = match plan {
            Plan::Numeric(r) => r.impute == NumericImpute::Drop,
            Plan::Categorical(r) => r.impute == CategoricalImpute::Drop,
            _ => false,
        };
        if drops {
            let array = column(source, path, name, "the plan names")?;
            for (row, k) in keep.iter_mut().enumerate() {
                if array.is_null(row) {
                    *k = false;
                }
            }
        }
    }

    // 2. Imputation values and outlier fences, from the rows left.
    let mut numeric: HashMap<&str, NumericState> = HashMap::new();
    let mut outlier_drop = vec![false; n];
    for (name, plan) in &plans {
        let Plan::Numeric(rule) = plan else { continue };
        let values = numbers(&column(source, path, name, "the plan names")?, path)?;
        let present: Vec<f64> = values
            .iter()
            .zip(&keep)
            .filter_map(|(v, k)| v.filter(|_| *k))
            .collect();
        let sorted = stats::sorted(&present);
        let no_values = |what| PreprocessError::NoValues {
            path: path.to_path_buf(),
            column: name.clone(),
            what,
        };
        let impute_value = match rule.impute {
            NumericImpute::Mean => Some(stats::mean(&present).ok_or_else(|| no_values("a mean"))?),
            NumericImpute::Median => {
                Some(stats::median(&sorted).ok_or_else(|| no_values("a median"))?)
            }
            NumericImpute::MostFrequent => Some(
                stats::most_frequent(&sorted).ok_or_else(|| no_values("a most frequent value"))?,
            ),
            NumericImpute::Constant => Some(rule.fill_value),
            NumericImpute::Drop => None,
        };
        let imputed: Vec<f64> = values
            .iter()
            .map(|v| v.or(impute_value).unwrap_or(0.0))
            .collect();
        let outliers = match &rule.outliers {
            None => None,
            Some(o) => {
                let kept: Vec<f64> = imputed
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(v, _)| *v)
                    .collect();
                let sorted = stats::sorted(&kept);
                let (low, high) = match o.method {
                    OutlierMethod::Iqr => {
                        let q1 = stats::quantile(&sorted, 0.25)
                            .ok_or_else(|| no_values("outlier fences"))?;
                        let q3 = stats::quantile(&sorted, 0.75)
                            .ok_or_else(|| no_values("outlier fences"))?;
                        (q1 - o.factor * (q3 - q1), q3 + o.factor * (q3 - q1))
                    }
                    OutlierMethod::Zscore => {
                        let mean = stats::mean(&kept).ok_or_else(|| no_values("outlier fences"))?;
                        let sd = stats::std_dev(&kept, mean);
                        (mean - o.z * sd, mean + o.z * sd)
                    }
                    OutlierMethod::Quantile => (
                        stats::quantile(&sorted, o.low)
                            .ok_or_else(|| no_values("outlier fences"))?,
                        stats::quantile(&sorted, o.high)
                            .ok_or_else(|| no_values("outlier fences"))?,
                    ),
                };
                if o.action == OutlierAction::Drop {
                    for (row, v) in imputed.iter().enumerate() {
                        if *v < low || *v > high {
                            outlier_drop[row] = true;
                        }
                    }
                }
                Some(FittedOutliers {
                    method: o.method,
                    action: o.action,
                    low,
                    high,
                })
            }
        };
        let state = NumericState {
            column: name.clone(),
            impute: rule.impute,
            impute_value,
            // As scikit-learn's add_indicator (features="missing-only"): only columns
            // with missing values at fit time get one.
            indicator: rule.indicator && values.iter().zip(&keep).any(|(v, k)| *k && v.is_none()),
            outliers,
            transform: rule.transform,
            scale: rule.scale,
            center: 0.0,
            scale_value: 1.0,
        };
        numeric.insert(name.as_str(), state);
    }

    // 3. Rows beyond a `drop` fence.
    for (k, d) in keep.iter_mut().zip(&outlier_drop) {
        *k &= !d;
    }
    let rows_fitted = keep.iter().filter(|k| **k).count();
    if rows_fitted == 0 {
        return Err(PreprocessError::NoRowsLeft {
            path: path.to_path_buf(),
        });
    }

    // 4. Scalers and categories, from the rows that survive every drop.
    let mut columns = Vec::new();
    for (name, plan) in &plans {
        let state = match plan {
            Plan::Passthrough => ColumnState::Passthrough {
                column: name.clone(),
            },
            Plan::Dropped => ColumnState::Dropped {
                column: name.clone(),
            },
            Plan::Numeric(_) => {
                let Some(mut state) = numeric.remove(name.as_str()) else {
                    continue;
                };
                // Read again rather than kept from step 2: memory holds one column.
                let raw = numbers(&column(source, path, name, "the plan names")?, path)?;
                let mut values = Vec::with_capacity(rows_fitted);
                for (row, v) in raw.iter().enumerate().filter(|(row, _)| keep[*row]) {
                    let v = v.or(state.impute_value).unwrap_or(0.0);
                    values.push(transform(&state, clip(&state, v), path, row)?);
                }
                let (center, scale) = scaler(state.scale, &values);
                state.center = center;
                state.scale_value = scale;
                ColumnState::Numeric(state)
            }
            Plan::Categorical(rule) => {
                let values = texts(&column(source, path, name, "the plan names")?, path)?;
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for (v, _) in values.iter().zip(&keep).filter(|(_, k)| **k) {
                    if let Some(v) = v {
                        *counts.entry(v.as_str()).or_default() += 1;
                    }
                }
                let impute_value = match rule.impute {
                    // BTreeMap order: among equally frequent categories the smallest wins, as in scikit-learn.
                    CategoricalImpute::MostFrequent => {
                        let best = counts
                            .iter()
                            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                            .map(|(v, _)| v.to_string());
                        Some(best.ok_or_else(|| PreprocessError::NoValues {
                            path: path.to_path_buf(),
                            column: name.clone(),
                            what: "a most frequent category",
                        })?)
                    }
                    CategoricalImpute::Constant => Some(rule.fill_value.clone()),
                    CategoricalImpute::Drop => None,
                };
                if let Some(fill) = &impute_value {
                    let missing = values
                        .iter()
                        .zip(&keep)
                        .filter(|(v, k)| **k && v.is_none())
                        .count();
                    if missing > 0 {
                        *counts.entry(fill.as_str()).or_default() += missing;
                    }
                }
                let (categories, pooled) = keep_categories(&counts, rule.max_categories);
                ColumnState::Categorical(CategoricalState {
                    column: name.clone(),
                    impute: rule.impute,
                    impute_value,
                    encode: rule.encode,
                    categories,
                    other: rule.encode == Encode::Onehot
                        && (pooled || rule.unknown == Unknown::Other),
                    unknown: rule.unknown,
                })
            }
        };
        columns.push(state);
    }
    let outputs = columns
        .iter()
        .filter(|c| c.column() != CUSTOMER_ID)
        .flat_map(|c| {
            let unscale = match c {
                ColumnState::Numeric(n) => Some(Unscale {
                    transform: n.transform,
                    center: n.center,
                    scale: n.scale_value,
                }),
                _ => None,
            };
            // The first output of a numeric column is its value; the others are flags.
            c.output_names()
                .into_iter()
                .enumerate()
                .map(move |(i, name)| OutputColumn {
                    name,
                    source: c.column().to_string(),
                    unscale: unscale.filter(|_| i == 0),
                })
        })
        .collect();
    Ok(FittedState {
        format: STATE_FORMAT,
        rows_fitted: rows_fitted as u64,
        columns,
        outputs,
    })
}

/// The categories kept in their own column, sorted, and whether any were pooled. With
/// `max_categories`, the rarest are pooled so that `max - 1` remain besides `other`; among
/// equally rare ones, the first in sorted order goes first (scikit-learn's stable sort).
fn keep_categories(counts: &BTreeMap<&str, usize>, max: Option<usize>) -> (Vec<String>, bool) {
    let all: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    match max {
        Some(max) if all.len() > max => {
            let mut by_count: Vec<usize> = (0..all.len()).collect();
            by_count.sort_by_key(|&i| all[i].1);
            let pooled: std::collections::HashSet<usize> =
                by_count[..all.len() - (max - 1)].iter().copied().collect();
            let kept = (0..all.len())
                .filter(|i| !pooled.contains(i))
                .map(|i| all[i].0.to_string())
                .collect();
            (kept, true)
        }
        _ => (all.iter().map(|(k, _)| k.to_string()).collect(), false),
    }
}

fn clip(state: &NumericState, v: f64) -> f64 {
    match &state.outliers {
        Some(o) if o.action == OutlierAction::Clip => v.clamp(o.low, o.high),
        _ => v,
    }
}

fn transform(
    state: &NumericState,
    v: f64,
    path: &Path,
    row: usize,
) -> Result<f64, PreprocessError> {
    Ok(match state.transform {
        Transform::None => v,
        Transform::Log1p if v < 0.0 => {
            return Err(PreprocessError::Negative {
                path: path.to_path_buf(),
                row: row + 1,
                column: state.column.clone(),
            })
        }
        Transform::Log1p => v.ln_1p(),
        Transform::SignedLog1p => v.signum() * v.abs().ln_1p(),
    })
}

/// (center, scale) with scikit-learn's handling of constant columns (scale 1).
fn scaler(scale: Scale, values: &[f64]) -> (f64, f64) {
    let sorted = || stats::sorted(values);
    match scale {
        Scale::None => (0.0, 1.0),
        Scale::Standard => {
            let mean = stats::mean(values).unwrap_or(0.0);
            let sd = stats::std_dev(values, mean);
            // scikit-learn's _is_constant_feature: a variance within rounding of zero.
            let n = values.len() as f64;
            let var = sd * sd;
            let constant = var <= n * f64::EPSILON * var + (n * mean * f64::EPSILON).powi(2);
            (mean, if constant { 1.0 } else { sd })
        }
        Scale::MinMax => {
            let s = sorted();
            let (min, max) = (
                s.first().copied().unwrap_or(0.0),
                s.last().copied().unwrap_or(0.0),
            );
            let range = max - min;
            (
                min,
                if range < 10.0 * f64::EPSILON {
                    1.0
                } else {
                    range
                },
            )
        }
        Scale::Robust => {
            let s = sorted();
            let median = stats::median(&s).unwrap_or(0.0);
            let iqr =
                stats::quantile(&s, 0.75).unwrap_or(0.0) - stats::quantile(&s, 0.25).unwrap_or(0.0);
            (median, if iqr < 10.0 * f64::EPSILON { 1.0 } else { iqr })
        }
    }
}

/// Transforms `batch` with a fitted state; returns the output and what each rule touched.
pub fn apply(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
) -> Result<(RecordBatch, BTreeMap<String, u64>), PreprocessError> {
    apply_rows(state, batch, path, 0)
}

/// [`apply`] to a batch whose first row is row `first_row` (0-based) of its file, so that
/// errors name the row in the file.
pub fn apply_rows(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
    first_row: usize,
) -> Result<(RecordBatch, BTreeMap<String, u64>), PreprocessError> {
    let n = batch.num_rows();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut keep = vec![true; n];
    let mut dropped_missing = 0u64;
    let mut numeric_values: HashMap<&str, Vec<Option<f64>>> = HashMap::new();
    let mut text_values: HashMap<&str, Vec<Option<String>>> = HashMap::new();
    check_types(state, batch, path)?;
    for c in &state.columns {
        match c {
            ColumnState::Numeric(s) => {
                let values = numbers(
                    &column(batch, path, &s.column, "the fitted state needs")?,
                    path,
                )?;
                if s.impute == NumericImpute::Drop {
                    mark_missing(&values, &mut keep, &mut dropped_missing);
                }
                numeric_values.insert(&s.column, values);
            }
            ColumnState::Categorical(s) => {
                let values = texts(
                    &column(batch, path, &s.column, "the fitted state needs")?,
                    path,
                )?;
                if s.impute == CategoricalImpute::Drop {
                    mark_missing(&values, &mut keep, &mut dropped_missing);
                }
                text_values.insert(&s.column, values);
            }
            ColumnState::Passthrough { column: name } => {
                column(batch, path, name, "the fitted state passes through")?;
            }
            ColumnState::Dropped { .. } => {}
        }
    }
    counts.insert("rows_dropped_missing".to_string(), dropped_missing);
    let mut dropped_outliers = 0u64;
    for c in &state.columns {
        let ColumnState::Numeric(s) = c else { continue };
        let Some(o) = s
            .outliers
            .as_ref()
            .filter(|o| o.action == OutlierAction::Drop)
        else {
            continue;
        };
        let values = &numeric_values[s.column.as_str()];
        for (row, v) in values.iter().enumerate() {
            let v = v.or(s.impute_value).unwrap_or(0.0);
            if keep[row] && (v < o.low || v > o.high) {
                keep[row] = false;
                dropped_outliers += 1;
            }
        }
    }
    counts.insert("rows_dropped_outliers".to_string(), dropped_outliers);
    // A batch may lose every row; the stage checks that the whole output is not empty.
    let kept_rows: Vec<usize> = (0..n).filter(|&r| keep[r]).collect();
    let mask = BooleanArray::from(keep.clone());

    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let feature =
        |name: String, values: Vec<f64>, fields: &mut Vec<Field>, arrays: &mut Vec<ArrayRef>| {
            fields.push(Field::new(name, DataType::Float64, false));
            arrays.push(Arc::new(Float64Array::from(values)));
        };
    for c in &state.columns {
        match c {
            ColumnState::Dropped { .. } => {}
            ColumnState::Passthrough { column: name } => {
                let array = column(batch, path, name, "the fitted state passes through")?;
                let index = batch
                    .schema()
                    .index_of(name)
                    .map_err(|e| internal(path, e))?;
                fields.push(batch.schema().field(index).clone());
                arrays.push(filter(&array, &mask).map_err(|e| internal(path, e))?);
            }
            ColumnState::Numeric(s) => {
                let values = &numeric_values[s.column.as_str()];
                let (mut out, mut missing, mut flags) =
                    (Vec::with_capacity(kept_rows.len()), Vec::new(), Vec::new());
                let (mut imputed, mut clipped) = (0u64, 0u64);
                for &row in &kept_rows {
                    let raw = values[row];
                    if raw.is_none() {
                        imputed += 1;
                    }
                    let v = raw.or(s.impute_value).unwrap_or(0.0);
                    let beyond = s.outliers.as_ref().is_some_and(|o| v < o.low || v > o.high);
                    if beyond
                        && s.outliers
                            .as_ref()
                            .is_some_and(|o| o.action == OutlierAction::Clip)
                    {
                        clipped += 1;
                    }
                    let x = transform(s, clip(s, v), path, first_row + row)?;
                    out.push((x - s.center) / s.scale_value);
                    missing.push(if raw.is_none() { 1.0 } else { 0.0 });
                    flags.push(if beyond { 1.0 } else { 0.0 });
                }
                counts.insert(format!("imputed.{}", s.column), imputed);
                if let Some(o) = &s.outliers {
                    let touched = match o.action {
                        OutlierAction::Clip => clipped,
                        OutlierAction::Flag => flags.iter().filter(|f| **f > 0.0).count() as u64,
                        OutlierAction::Drop => 0,
                    };
                    let verb = match o.action {
                        OutlierAction::Clip => "clipped",
                        OutlierAction::Flag => "flagged",
                        OutlierAction::Drop => "outliers_dropped",
                    };
                    counts.insert(format!("{verb}.{}", s.column), touched);
                }
                let names = c.output_names();
                let mut names = names.into_iter();
                feature(
                    names.next().unwrap_or_default(),
                    out,
                    &mut fields,
                    &mut arrays,
                );
                if s.indicator {
                    feature(
                        names.next().unwrap_or_default(),
                        missing,
                        &mut fields,
                        &mut arrays,
                    );
                }
                if matches!(&s.outliers, Some(o) if o.action == OutlierAction::Flag) {
                    feature(
                        names.next().unwrap_or_default(),
                        flags,
                        &mut fields,
                        &mut arrays,
                    );
                }
            }
            ColumnState::Categorical(s) => {
                let values = &text_values[s.column.as_str()];
                let index: HashMap<&str, usize> = s
                    .categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.as_str(), i))
                    .collect();
                let (mut unknown, mut imputed) = (0u64, 0u64);
                let codes: Vec<Option<usize>> = kept_rows
                    .iter()
                    .map(|&row| {
                        if values[row].is_none() {
                            imputed += 1;
                        }
                        let v = values[row].as_deref().or(s.impute_value.as_deref());
                        let code = v.and_then(|v| index.get(v).copied());
                        if code.is_none()
                            && v.is_some_and(|v| !s.categories.is_empty() && !index.contains_key(v))
                        {
                            unknown += 1;
                        }
                        code
                    })
                    .collect();
                counts.insert(format!("imputed.{}", s.column), imputed);
                counts.insert(format!("other_or_unknown.{}", s.column), unknown);
                let names = c.output_names();
                match s.encode {
                    Encode::Ordinal => {
                        let values = codes.iter().map(|c| c.map_or(-1.0, |c| c as f64)).collect();
                        feature(names[0].clone(), values, &mut fields, &mut arrays);
                    }
                    Encode::Onehot => {
                        for (i, name) in names.iter().enumerate().take(s.categories.len()) {
                            let values = codes
                                .iter()
                                .map(|c| if *c == Some(i) { 1.0 } else { 0.0 })
                                .collect();
                            feature(name.clone(), values, &mut fields, &mut arrays);
                        }
                        // The names come from the state, so that fit, apply and the
                        // recorded outputs cannot disagree.
                        if let Some(name) = names.get(s.categories.len()).filter(|_| s.other) {
                            let values = codes
                                .iter()
                                .map(|c| if c.is_none() { 1.0 } else { 0.0 })
                                .collect();
                            feature(name.clone(), values, &mut fields, &mut arrays);
                        }
                    }
                }
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let out = RecordBatch::try_new(schema, arrays).map_err(|e| internal(path, e))?;
    Ok((out, counts))
}

/// A state applied to a table of another schema must fail, naming the column, rather
/// than cast text to missing numbers and impute them.
fn check_types(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
) -> Result<(), PreprocessError> {
    for c in &state.columns {
        let (name, ok, expected) = match c {
            ColumnState::Numeric(s) => (&s.column, is_numeric as fn(&DataType) -> bool, "numeric"),
            ColumnState::Categorical(s) => (
                &s.column,
                is_categorical as fn(&DataType) -> bool,
                "categorical",
            ),
            ColumnState::Passthrough { .. } | ColumnState::Dropped { .. } => continue,
        };
        if let Some(field) = batch.schema().fields().iter().find(|f| f.name() == name) {
            if !ok(field.data_type()) {
                return Err(PreprocessError::StateMismatch {
                    path: path.to_path_buf(),
                    column: name.clone(),
                    found: field.data_type().to_string(),
                    expected,
                });
            }
        }
    }
    Ok(())
}

fn is_categorical(ty: &DataType) -> bool {
    is_text(ty) || is_numeric(ty)
}

fn mark_missing<T>(values: &[Option<T>], keep: &mut [bool], dropped: &mut u64) {
    for (row, v) in values.iter().enumerate() {
        if v.is_none() && keep[row] {
            keep[row] = false;
            *dropped += 1;
        }
    }
}
