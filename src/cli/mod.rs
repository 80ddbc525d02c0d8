//! The command line: one module per command, each with its arguments and what it does.
//! `main` only parses and dispatches.

pub mod export_sql;
pub mod generate;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod rekey;
pub mod run;
pub mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config;

/// Exit code: a stage failed while running.
pub const EXIT_STAGE_FAILED: u8 = 1;
/// Exit code: invalid command line or pipeline; nothing ran.
pub const EXIT_INVALID: u8 = 2;
/// A quality gate of an evaluate stage failed: every stage ran and wrote its outputs.
pub const EXIT_GATE_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "clientele",
    version,
    about = "Bank customer segmentation and product recommendation pipelines."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a pipeline, skipping stages that are up to date.
    Run(run::RunArgs),
    /// Put the N parts of a partitioned run together: each output of the pipeline's
    /// stages from its `*.part-I-of-N.*` files, after checking that every part is there
    /// and every customer is in exactly one.
    Merge(merge::MergeArgs),
    /// Check a pipeline file without running anything.
    Validate(validate::ValidateArgs),
    /// Show the stage order, inputs, outputs, and which stages are up to date.
    Plan(plan::PlanArgs),
    /// Work with metrics.json files written by evaluate stages.
    Metrics {
        #[command(subcommand)]
        action: metrics::MetricsCommand,
    },
    /// Re-encrypt a pipeline's Parquet outputs under a new key (key rotation). Rerun it
    /// if interrupted: files already under the new key are skipped.
    Rekey(rekey::RekeyArgs),
    /// Write a fitted stage as one SQL query: a preprocess stage's features, a K-Means
    /// segment stage's assignments, or a recommend stage's item-based lists, from the
    /// saved state and model files.
    ExportSql(export_sql::ExportSqlArgs),
    /// Write synthetic bank data (customers, holdings, products), deterministic per seed.
    Generate(generate::GenerateArgs),
}

/// The last panic's message and place, kept by the hook [`install_panic_hook`] sets for
/// the error that names the stage it happened in.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Whether a stage is running, so that its panic is reported once, by the stage boundary.
pub static IN_STAGE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Replaces the default panic output (a backtrace hint on stderr, then exit 101) by a
/// record that the stage boundary turns into an ordinary error (see `kinds::run`).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("{message}{place}");
        if !IN_STAGE.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("internal error (a bug in clientele; please report it): {text}");
        }
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(text);
        }
    }));
}

/// The message of the last panic, taken.
pub fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut last| last.take())
}

/// Refuses an environment the kernels cannot run under, before anything runs.
pub fn check_environment() -> Result<(), ExitCode> {
    use clientele_numeric::simd::{SimdCap, SIMD_ENV};
    let value = std::env::var(SIMD_ENV).ok();
    SimdCap::parse(value.as_deref())
        .map(drop)
        .map_err(|message| {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_INVALID)
        })
}

/// Prints every error of an invalid pipeline file; nothing ran.
pub fn invalid(errors: &config::ConfigErrors) -> ExitCode {
    for e in &errors.0 {
        eprintln!("error: {e}");
    }
    ExitCode::from(EXIT_INVALID)
}

/// The exit code of a command that ran: 0, or 1 with its error printed.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_STAGE_FAILED)
        }
    }
}

/// The pipeline file loaded and checked, or the exit code of an invalid one.
pub fn load(
    pipeline: &std::path::Path,
    overrides: &[config::Override],
) -> Result<config::Pipeline, ExitCode> {
    config::load(pipeline, overrides).map_err(|e| invalid(&e))
}
