//! `clientele`: runs bank customer segmentation and recommendation pipelines declared
//! in TOML.
//!
//! This crate is the thin runner: it reads and checks the pipeline file
//! ([`config`]), orders the stages by their inputs and outputs, skips those that are up
//! to date ([`state`]), and calls the stage crates ([`kinds`]). It holds no stage logic.
//! Each command is a module of [`cli`]; `main` parses and dispatches.
//!
//! Exit codes: 0 success; 1 a stage failed while running (bad data, I/O); 2 the command
//! line or the pipeline file is invalid, and nothing ran; 3 is reserved for a failed
//! quality gate of the evaluate stage.

#![forbid(unsafe_code)]

mod cli;
mod config;
mod export;
mod keys;
mod kinds;
mod outdir;
mod overrides;
mod partition;
mod rekey;
mod run;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::install_panic_hook();
    if let Err(code) = cli::check_environment() {
        return code;
    }
    match cli.command {
        Command::Run(args) => cli::run::execute(args),
        Command::Merge(args) => cli::merge::execute(args),
        Command::Validate(args) => cli::validate::execute(args),
        Command::Plan(args) => cli::plan::execute(args),
        Command::Metrics { action } => cli::metrics::execute(action),
        Command::Rekey(args) => cli::rekey::execute(args),
        Command::ExportSql(args) => cli::export_sql::execute(args),
        Command::Generate(args) => cli::generate::execute(args),
    }
}
