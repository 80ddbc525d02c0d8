//! `clientele merge`: puts the N parts of a partitioned run together, after checking
//! them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{load, report, EXIT_INVALID};
use crate::{partition, run};

#[derive(Args)]
pub struct MergeArgs {
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
}

pub fn execute(args: MergeArgs) -> ExitCode {
    let MergeArgs {
        pipeline,
        partitions,
        stages,
        quiet,
        json,
    } = args;
    let pipeline = match load(&pipeline, &[]) {
        Ok(p) => p,
        Err(code) => return code,
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
    let merged = partition::merge(&pipeline, partitions, &order);
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
