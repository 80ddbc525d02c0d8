//! `clientele-bandwidth`: one K-Means Lloyd pass against the memory-bandwidth bound
//! (matrix bytes / measured copy bandwidth), printed as one JSON line per shape.
//! Run by `bench/run_bandwidth.sh`.

#![forbid(unsafe_code)]

use clap::Parser;
use clientele_bench::bandwidth::measure;

#[derive(Parser)]
struct Cli {
    /// Rows of the matrix (8 bytes per value).
    #[arg(long, default_value_t = 2_000_000)]
    rows: usize,
    /// Shapes to measure, as DIMSxK.
    #[arg(long, default_values_t = ["16x8".to_string(), "37x10".to_string()])]
    shape: Vec<String>,
    /// Timed runs of each; the best is kept.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    for shape in &cli.shape {
        let (dims, k) = shape
            .split_once('x')
            .and_then(|(d, k)| Some((d.parse().ok()?, k.parse().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("--shape `{shape}` is not DIMSxK, e.g. 16x8"))?;
        println!(
            "{}",
            serde_json::to_string(&measure(cli.rows, dims, k, cli.repeats))?
        );
    }
    Ok(())
}
