//! `clientele rekey`: re-encrypts the pipeline's Parquet outputs under a new key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use clientele_shared::encryption::ParquetKey;

use super::{load, report, EXIT_INVALID};

#[derive(Args)]
pub struct RekeyArgs {
    pipeline: PathBuf,
    /// The environment variable holding the new key (hex).
    #[arg(long, value_name = "VAR", conflicts_with = "new_key_file")]
    new_key_env: Option<String>,
    /// A file holding the new key (hex).
    #[arg(long, value_name = "FILE")]
    new_key_file: Option<PathBuf>,
}

pub fn execute(args: RekeyArgs) -> ExitCode {
    let pipeline = match load(&args.pipeline, &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let new_key = match (args.new_key_env, args.new_key_file) {
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
    report(crate::rekey::rekey(&pipeline, new_key).map(|summary| {
        eprintln!(
            "{} file(s) re-encrypted, {} already under the new key; {} stage(s) still up to date. Point the pipeline's [pipeline.encryption] at the new key now.",
            summary.rekeyed.len(),
            summary.already.len(),
            summary.stages_kept_up_to_date.len()
        );
    }))
}
