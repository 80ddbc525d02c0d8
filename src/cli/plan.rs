//! `clientele plan`: the order, each stage's inputs and outputs, and whether it is up
//! to date or why it will run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{load, report};
use crate::config;

#[derive(Args)]
pub struct PlanArgs {
    pipeline: PathBuf,
    #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
    overrides: Vec<config::Override>,
}

pub fn execute(args: PlanArgs) -> ExitCode {
    let pipeline = match load(&args.pipeline, &args.overrides) {
        Ok(p) => p,
        Err(code) => return code,
    };
    report(crate::run::plan(&pipeline, &mut std::io::stdout().lock()))
}
