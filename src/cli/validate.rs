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
    for stage in &p.stages {
        let (crate::kinds::StageParams::Ingest(params), Some(source)) =
            (&stage.params, stage.io.input("source"))
        else {
            continue;
        };
        // Only a warning: the source may not exist yet, or be written by an earlier stage.
        if let Ok(found) = clientele_ingest::identifier_columns(params, source) {
            for (column, what) in found {
                eprintln!(
                    "warning: stage `{}`: column `{column}` looks like a direct identifier ({what}) and is neither dropped nor pseudonymised at ingestion, so it is written in clear; add it to params.drop or params.pseudonymise",
                    stage.name
                );
            }
        }
    }
    for key in p.keys_to_create.iter().filter(|k| !k.exists()) {
        eprintln!(
            "note: the first run will create the key file `{}` (create = true)",
            key.display()
        );
    }
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
