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
//! [`Preprocess::run`] fits (`fit`: the steps in that order, one column at a time) or
//! reads a state (`io`), then applies it (`apply`, with the per-value rules of `rules`)
//! batch by batch and writes the features and the state.
//!
//! Two passes over the Parquet file, so that memory holds a column, not the table:
//! fitting reads one whole column at a time (exact medians and quantiles need every
//! value of it), and applying transforms and writes one batch at a time.

#![forbid(unsafe_code)]

mod apply;
mod check;
mod errors;
mod fit;
mod io;
mod params;
mod rules;
mod state;
mod stats;

use std::path::Path;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

pub use apply::{apply, apply_rows};
pub use check::check_params;
pub use errors::{ParamError, PreprocessError};
pub use fit::fit;
pub use io::{read_state, ColumnSource, ParquetColumns};
pub use params::*;
pub use state::*;

/// The preprocess stage, as the runner sees it.
pub struct Preprocess;

impl Stage for Preprocess {
    const KIND: &'static str = "preprocess";
    // 2: the features file carries the feature origins in its schema metadata.
    const ALGORITHM_VERSION: u32 = 2;
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
        let table = io
            .input("table")
            .ok_or(ParamError::MissingPort { port: "table" })?;
        let features = io
            .output("features")
            .ok_or(ParamError::MissingPort { port: "features" })?;
        let mut notes = Vec::new();
        // Pass 1 (fit): statistics, one column at a time.
        let state = match params.mode {
            Mode::Fit => fit(
                params,
                &ParquetColumns::open(table, ctx.parquet_key)?,
                table,
                &mut notes,
            )?,
            Mode::Apply => read_state(io.input("state").unwrap_or(Path::new("state.json")))?,
        };
        // Pass 2: transform, one batch at a time.
        let (rows, counts) = apply::apply_file(&state, table, features, ctx)?;
        if let (Mode::Fit, Some(path)) = (params.mode, io.output("state")) {
            io::write_state(&state, path)?;
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
