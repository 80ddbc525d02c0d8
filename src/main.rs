//! `clientele`: runs bank customer segmentation and recommendation pipelines declared
//! in TOML.
//!
//! This crate is the thin runner: it reads and checks the pipeline file
//! ([`config`]), orders the stages by their inputs and outputs, skips those that are up
//! to date ([`state`]), and calls the stage crates ([`kinds`]). It holds no stage logic.
//!
//! Exit codes: 0 success; 1 a stage failed while running (bad data, I/O); 2 the command
//! line or the pipeline file is invalid, and nothing ran; 3 is reserved for a failed
//! quality gate of the evaluate stage.

mod config;
mod export;
mod kinds;
mod partition;
mod rekey;
mod run;
mod state;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clientele_shared::encryption::ParquetKey;

/// Exit code: a stage failed while running.
const EXIT_STAGE_FAILED: u8 = 1;
/// Exit code: invalid command line or pipeline; nothing ran.
const EXIT_INVALID: u8 = 2;
/// A quality gate of an evaluate stage failed: every stage ran and wrote its outputs.
const EXIT_GATE_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "clientele",
    version,
    about = "Bank customer segmentation and product recommendation pipelines."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline, skipping stages that are up to date.
    Run {
        pipeline: PathBuf,
        /// Run only this stage and the stages it depends on (repeatable).
        #[arg(long = "stage", value_name = "NAME")]
        stages: Vec<String>,
        /// Run stages even when they are up to date.
        #[arg(long)]
        force: bool,
        /// Print nothing on stderr but errors.
        #[arg(long)]
        quiet: bool,
        /// Print a machine-readable summary of the run on stdout.
        #[arg(long)]
        json: bool,
        /// Override a stage parameter: STAGE.PARAM=VALUE (VALUE in TOML syntax, or text).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        overrides: Vec<config::Override>,
        /// Score only the I-th of N hash partitions of the customers (0 ≤ I < N), with
        /// stages that apply saved models; outputs are named `*.part-I-of-N.*`.
        #[arg(long, value_name = "I/N")]
        partition: Option<clientele_shared::partition::Partition>,
    },
    /// Put the N parts of a partitioned run together: each output of the pipeline's
    /// stages from its `*.part-I-of-N.*` files, after checking that every part is there
    /// and every customer is in exactly one.
    Merge {
        pipeline: PathBuf,
        /// How many partitions the runs used.
        #[arg(long, value_name = "N")]
        partitions: usize,
        /// Merge only this stage's outputs and those of the stages it depends on.
        #[arg(long = "stage", value_name = "NAME")]
        stages: Vec<String>,
        #[arg(long)]
        quiet: bool,
        /// Print a machine-readable summary on stdout: each output, its customers and
        /// the rows of each part, or the error.
        #[arg(long)]
        json: bool,
    },
    /// Check a pipeline file without running anything.
    Validate {
        pipeline: PathBuf,
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        overrides: Vec<config::Override>,
    },
    /// Show the stage order, inputs, outputs, and which stages are up to date.
    Plan {
        pipeline: PathBuf,
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        overrides: Vec<config::Override>,
    },
    /// Work with metrics.json files written by evaluate stages.
    Metrics {
        #[command(subcommand)]
        action: MetricsCommand,
    },
    /// Re-encrypt a pipeline's Parquet outputs under a new key (key rotation). Rerun it
    /// if interrupted: files already under the new key are skipped.
    Rekey {
        pipeline: PathBuf,
        /// The environment variable holding the new key (hex).
        #[arg(long, value_name = "VAR", conflicts_with = "new_key_file")]
        new_key_env: Option<String>,
        /// A file holding the new key (hex).
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
    /// Write a fitted stage as one SQL query: a preprocess stage's features, a K-Means
    /// segment stage's assignments, or a recommend stage's item-based lists, from the
    /// saved state and model files.
    ExportSql {
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
        /// Write the query to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write synthetic bank data (customers, holdings, products), deterministic per seed.
    Generate {
        /// Number of customers.
        #[arg(long, default_value_t = 3000)]
        customers: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Directory for customers.csv, holdings.csv and products.csv.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            pipeline,
            stages,
            force,
            quiet,
            json,
            overrides,
            partition,
        } => {
            let pipeline = match config::load(&pipeline, &overrides) {
                Ok(p) => p,
                Err(e) => {
                    if json {
                        // CI parses stdout: an invalid pipeline gets a summary too.
                        let errors: Vec<String> = e.0.iter().map(ToString::to_string).collect();
                        let summary = serde_json::json!({
                            "ok": false,
                            "stages": [],
                            "error": errors.join("\n"),
                        });
                        println!("{summary}");
                    }
                    return invalid(&e);
                }
            };
            let pipeline = match partition {
                None => pipeline,
                Some(part) => {
                    let scored = run::selected(&pipeline, &stages).and_then(|order| {
                        partition::partitioned(&pipeline, part, &order).map_err(anyhow::Error::msg)
                    });
                    match scored {
                        Ok(p) => p,
                        Err(e) => {
                            eprintln!("error: --partition {part}: {e:#}");
                            return ExitCode::from(EXIT_INVALID);
                        }
                    }
                }
            };
            let options = run::RunOptions {
                stages,
                force,
                quiet,
            };
            let summary = run::run(&pipeline, &options);
            if json {
                match serde_json::to_string_pretty(&summary) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("error: cannot print the summary: {e}"),
                }
            }
            for stage in summary.stages.iter().filter(|s| s.gate_failed) {
                eprintln!("gate failed in stage `{}`:", stage.name);
                for line in &stage.checks {
                    eprintln!("    {line}");
                }
            }
            match &summary.error {
                None if summary.gate_failed => ExitCode::from(EXIT_GATE_FAILED),
                None => {
                    if !quiet {
                        eprintln!(
                            "pipeline `{}` done in {:.2} s",
                            summary.pipeline, summary.seconds
                        );
                    }
                    ExitCode::SUCCESS
                }
                Some(message) => {
                    eprintln!("error: {message}");
                    // An unknown --stage name is a usage error: nothing ran.
                    if summary.stages.is_empty() {
                        ExitCode::from(EXIT_INVALID)
                    } else {
                        ExitCode::from(EXIT_STAGE_FAILED)
                    }
                }
            }
        }
        Command::Merge {
            pipeline,
            partitions,
            stages,
            quiet,
            json,
        } => {
            let pipeline = match config::load(&pipeline, &[]) {
                Ok(p) => p,
                Err(e) => return invalid(&e),
            };
            if partitions == 0 {
                eprintln!("error: --partitions must be at least 1");
                return ExitCode::from(EXIT_INVALID);
            }
            let order = match run::selected(&pipeline, &stages) {
                Ok(order) => order,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(EXIT_INVALID);
                }
            };
            let merged = run::use_pipeline_key(&pipeline)
                .map_err(anyhow::Error::from)
                .and_then(|()| partition::merge(&pipeline, partitions, &order));
            if json {
                let summary = match &merged {
                    Ok(merged) => serde_json::json!({
                        "ok": true,
                        "partitions": partitions,
                        "outputs": merged
                            .iter()
                            .map(|(path, found)| serde_json::json!({
                                "path": path.display().to_string(),
                                "customers": found.rows.iter().sum::<u64>(),
                                "rows_per_part": found.rows,
                            }))
                            .collect::<Vec<_>>(),
                    }),
                    Err(e) => serde_json::json!({ "ok": false, "error": format!("{e:#}") }),
                };
                println!("{summary}");
            }
            report(merged.map(|merged| {
                if !quiet {
                    for (path, found) in merged {
                        eprintln!(
                            "{}: {} customer(s) from {partitions} part(s) ({})",
                            path.display(),
                            found.rows.iter().sum::<u64>(),
                            found
                                .rows
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(" + ")
                        );
                    }
                }
            }))
        }
        Command::Rekey {
            pipeline,
            new_key_env,
            new_key_file,
        } => {
            let pipeline = match config::load(&pipeline, &[]) {
                Ok(p) => p,
                Err(e) => return invalid(&e),
            };
            let new_key = match (new_key_env, new_key_file) {
                (Some(name), None) => ParquetKey::from_env(&name),
                (None, Some(path)) => ParquetKey::from_file(&path),
                _ => {
                    eprintln!("error: name the new key: --new-key-env VAR or --new-key-file FILE");
                    return ExitCode::from(EXIT_INVALID);
                }
            };
            let new_key = match new_key {
                Ok(key) => key,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_INVALID);
                }
            };
            report(rekey::rekey(&pipeline, new_key).map(|summary| {
                eprintln!(
                    "{} file(s) re-encrypted, {} already under the new key; {} stage(s) still up to date. Point the pipeline's [pipeline.encryption] at the new key now.",
                    summary.rekeyed.len(),
                    summary.already.len(),
                    summary.stages_kept_up_to_date.len()
                );
            }))
        }
        Command::Validate {
            pipeline,
            overrides,
        } => match config::load(&pipeline, &overrides) {
            Ok(p) => {
                println!(
                    "pipeline `{}` is valid: {} stage(s), run order: {}",
                    p.name,
                    p.stages.len(),
                    p.order
                        .iter()
                        .map(|&i| p.stages[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(" → ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => invalid(&e),
        },
        Command::Plan {
            pipeline,
            overrides,
        } => {
            let pipeline = match config::load(&pipeline, &overrides) {
                Ok(p) => p,
                Err(e) => return invalid(&e),
            };
            report(run::plan(&pipeline, &mut std::io::stdout().lock()))
        }
        Command::Metrics {
            action: MetricsCommand::Diff { a, b },
        } => report((|| {
            let a = clientele_evaluate::read_metrics(&a)?;
            let b = clientele_evaluate::read_metrics(&b)?;
            let mut out = std::io::stdout().lock();
            for line in clientele_evaluate::gate::diff(&a, &b) {
                // A closed pipe (`| head`) ends the listing, not the program.
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            Ok(())
        })()),
        Command::ExportSql {
            pipeline,
            stage,
            dialect,
            from,
            customers,
            segments,
            out,
        } => {
            let pipeline = match config::load(&pipeline, &[]) {
                Ok(p) => p,
                Err(e) => return invalid(&e),
            };
            let dialect = match dialect {
                SqlDialect::Ansi => clientele_sql::Dialect::Ansi,
                SqlDialect::Spark => clientele_sql::Dialect::Spark,
                SqlDialect::Duckdb => clientele_sql::Dialect::Duckdb,
            };
            report(
                export::export_sql(
                    &pipeline,
                    &stage,
                    dialect,
                    from.as_deref(),
                    &export::OtherTables {
                        customers: customers.as_deref(),
                        segments: segments.as_deref(),
                    },
                )
                .and_then(|query| export::write(&query, out.as_deref())),
            )
        }
        Command::Generate {
            customers,
            seed,
            out,
        } => report(
            clientele_generate::generate(
                &clientele_generate::GenerateOptions { customers, seed },
                &out,
            )
            .map(|counts| {
                eprintln!(
                    "wrote {} customers, {} holdings rows, {} products to {}",
                    counts.customers,
                    counts.holdings,
                    counts.products,
                    out.display()
                );
            })
            .with_context(|| format!("cannot generate data into `{}`", out.display())),
        ),
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SqlDialect {
    Ansi,
    Spark,
    Duckdb,
}

#[derive(Subcommand)]
enum MetricsCommand {
    /// Compare two runs' metrics: every metric of either, its two values and the change.
    Diff { a: PathBuf, b: PathBuf },
}

fn invalid(errors: &config::ConfigErrors) -> ExitCode {
    for e in &errors.0 {
        eprintln!("error: {e}");
    }
    ExitCode::from(EXIT_INVALID)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_STAGE_FAILED)
        }
    }
}
