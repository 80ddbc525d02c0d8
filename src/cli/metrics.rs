//! `clientele metrics diff`: compares two evaluate runs' metrics.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::report;

#[derive(Subcommand)]
pub enum MetricsCommand {
    /// Compare two runs' metrics: every metric of either, its two values and the change.
    Diff { a: PathBuf, b: PathBuf },
}

pub fn execute(action: MetricsCommand) -> ExitCode {
    let MetricsCommand::Diff { a, b } = action;
    report((|| {
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
    })())
}
