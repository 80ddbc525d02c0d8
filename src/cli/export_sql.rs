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
    /// With --probabilities: only this product's (repeat for several). Engines that
    /// cannot plan every product's trees in one query (Spark on 20 products of 100
    /// trees) run one product at a time.
    #[arg(long, value_name = "ID")]
    product: Vec<String>,
    /// With --method propensity: the lists from this table of probabilities (written by
    /// --probabilities queries, one product at a time if need be) rather than from the
    /// models' trees.
    #[arg(long, value_name = "TABLE_OR_PATH")]
    from_probabilities: Option<String>,
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
                products: &args.product,
                from_probabilities: args.from_probabilities.as_deref(),
                customers: args.customers.as_deref(),
                segments: args.segments.as_deref(),
                features: args.features.as_deref(),
            },
        )
        .and_then(|query| export::write(&query, args.out.as_deref())),
    )
}
