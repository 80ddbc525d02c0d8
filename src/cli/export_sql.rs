//! `clientele export-sql`: writes a fitted stage as one SQL query.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{load, report};
use crate::export;

#[derive(Args)]
pub struct ExportSqlArgs {
    pipeline: PathBuf,
    /// The stage to export.
    #[arg(long, value_name = "NAME")]
    stage: String,
    #[arg(long, value_enum, default_value_t = SqlDialect::Duckdb)]
    dialect: SqlDialect,
    /// The table to read: a Parquet path, or a table name. Default: the Parquet
    /// file the preprocess stage was fitted on; for a recommend stage, the holdings
    /// it was trained on (`customer_id`, `product`: one row per held product).
    #[arg(long, value_name = "TABLE_OR_PATH")]
    from: Option<String>,
    /// Recommend stages: the customer table the eligibility rules read. Default: the
    /// stage's `customers` input.
    #[arg(long, value_name = "TABLE_OR_PATH")]
    customers: Option<String>,
    /// Recommend stages: the segment assignments segment exclusions read. Default:
    /// the stage's `assignments` input.
    #[arg(long, value_name = "TABLE_OR_PATH")]
    segments: Option<String>,
    /// Recommend stages: the features table the propensity models read. Default: the
    /// stage's `features` input.
    #[arg(long, value_name = "TABLE_OR_PATH")]
    features: Option<String>,
    /// Recommend stages: the method whose lists the query writes.
    #[arg(long, value_enum, default_value_t = ListMethod::ItemKnn)]
    method: ListMethod,
    /// Recommend stages: the propensity models' probability of every candidate product
    /// (`customer_id`, `product`, `probability`) instead of lists.
    #[arg(long)]
    probabilities: bool,
    /// Write the query to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListMethod {
    #[value(name = "item_knn")]
    ItemKnn,
    Propensity,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SqlDialect {
    Ansi,
    Spark,
    Duckdb,
}

pub fn execute(args: ExportSqlArgs) -> ExitCode {
    let pipeline = match load(&args.pipeline, &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dialect = match args.dialect {
        SqlDialect::Ansi => clientele_sql::Dialect::Ansi,
        SqlDialect::Spark => clientele_sql::Dialect::Spark,
        SqlDialect::Duckdb => clientele_sql::Dialect::Duckdb,
    };
    report(
        export::export_sql(
            &pipeline,
            &args.stage,
            dialect,
            args.from.as_deref(),
            &export::RecommendExport {
                propensity: args.method == ListMethod::Propensity,
                probabilities: args.probabilities,
                customers: args.customers.as_deref(),
                segments: args.segments.as_deref(),
                features: args.features.as_deref(),
            },
        )
        .and_then(|query| export::write(&query, args.out.as_deref())),
    )
}
