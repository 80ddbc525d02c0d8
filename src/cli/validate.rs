//! `clientele validate`: checks the pipeline file and prints the run order; runs
//! nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::load;
use crate::config;

#[derive(Args)]
pub struct ValidateArgs {
    pipeline: PathBuf,
    #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
    overrides: Vec<config::Override>,
}

pub fn execute(args: ValidateArgs) -> ExitCode {
    let p = match load(&args.pipeline, &args.overrides) {
        Ok(p) => p,
        Err(code) => return code,
    };
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
