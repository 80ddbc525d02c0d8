//! `clientele run`: runs the pipeline, skipping up-to-date stages, whole or one
//! partition of the customers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{invalid, EXIT_GATE_FAILED, EXIT_INVALID, EXIT_STAGE_FAILED};
use crate::{config, partition, run};

#[derive(Args)]
pub struct RunArgs {
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
}

pub fn execute(args: RunArgs) -> ExitCode {
    let RunArgs {
        pipeline,
        stages,
        force,
        quiet,
        json,
        overrides,
        partition,
    } = args;
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
            // An unknown --stage name, or a directory another run holds, is a usage
            // error: nothing ran.
            if summary.stages.is_empty() || summary.busy {
                ExitCode::from(EXIT_INVALID)
            } else {
                ExitCode::from(EXIT_STAGE_FAILED)
            }
        }
    }
}
