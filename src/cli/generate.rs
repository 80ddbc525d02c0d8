//! `clientele generate`: writes synthetic bank data, deterministic per seed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::report;

#[derive(Args)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 3000)]
    customers: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Monthly holdings snapshots, the last at 2026-10-31 (2 to 12).
    #[arg(long, default_value_t = clientele_generate::DEFAULT_SNAPSHOTS)]
    snapshots: usize,
    /// Directory for customers.csv, holdings.csv and products.csv.
    #[arg(long)]
    out: PathBuf,
}

pub fn execute(args: GenerateArgs) -> ExitCode {
    let GenerateArgs {
        customers,
        seed,
        snapshots,
        out,
    } = args;
    report(
        clientele_generate::generate(
            &clientele_generate::GenerateOptions {
                customers,
                seed,
                snapshots,
            },
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
    )
}
