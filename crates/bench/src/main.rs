//! Runs one kernel of clientele on a Parquet file and prints, as one JSON line, the
//! seconds the kernel took and what it found. The clustering kernels read a matrix (a
//! `customer_id` column and Float64 features): `bench/run_segment.sh` runs them beside
//! `bench/segment_sklearn.py`, which does the same with scikit-learn, so that the two
//! are timed on the same work. `neighbours` reads a holdings table and times the
//! recommend stage's exact user-kNN against linfa-nn's KD-tree and ball tree.
//! `propensity` trains one gradient-boosted model per product, beside
//! `bench/propensity_sklearn.py`.
//!
//! Reading the file is not timed; the process's peak memory (GNU time) includes it on
//! both sides.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clientele_segment::{dbscan, k_means, metrics, read_features};

mod neighbours;
mod propensity;

#[derive(Parser)]
struct Cli {
    /// The Parquet matrix.
    input: PathBuf,
    #[command(subcommand)]
    kernel: Kernel,
}

#[derive(Subcommand)]
enum Kernel {
    /// K-Means (k-means++ and Lloyd).
    Kmeans {
        #[arg(long)]
        k: usize,
        #[arg(long, default_value_t = 1)]
        n_init: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Mini-batch K-Means with batches of this many rows.
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// The exact silhouette of a K-Means partition (the K-Means is not timed).
    Silhouette {
        #[arg(long)]
        k: usize,
    },
    /// User-based neighbours by holdings (INPUT is a long holdings table): ours for
    /// every customer, linfa-nn's for `queries` customers, extrapolated to all.
    Neighbours {
        #[arg(long, default_value_t = 20)]
        neighbours: usize,
        #[arg(long, default_value_t = 2000)]
        queries: usize,
        /// Only the first this many customers (by id), for sizes where linfa-nn finishes.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One gradient-boosted model per product on the features (INPUT), labelled by the
    /// holdings' last snapshot, then every customer scored (`bench/run_propensity.sh`).
    Propensity {
        /// The long holdings table (`customer_id`, `product`, `snapshot`).
        #[arg(long)]
        holdings: PathBuf,
    },
    /// DBSCAN.
    Dbscan {
        #[arg(long)]
        eps: f64,
        #[arg(long)]
        min_samples: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Kernel::Neighbours {
        neighbours,
        queries,
        limit,
    } = cli.kernel
    {
        let result = neighbours::compare(&cli.input, neighbours, queries, limit)?;
        println!("{result}");
        return Ok(());
    }
    if let Kernel::Propensity { holdings } = &cli.kernel {
        println!("{}", propensity::run(&cli.input, holdings)?);
        return Ok(());
    }
    let table = read_features(&cli.input, None, None)
        .with_context(|| format!("reading {}", cli.input.display()))?;
    let x = table.x.view();
    let started = Instant::now();
    let result = match cli.kernel {
        Kernel::Kmeans {
            k,
            n_init,
            seed,
            batch_size,
        } => {
            let model = k_means::fit(
                x,
                &k_means::KMeansParams::new(k)
                    .n_init(n_init)
                    .seed(seed)
                    .batch_size(batch_size),
            )?;
            serde_json::json!({ "inertia": model.inertia, "iterations": model.iterations })
        }
        Kernel::Silhouette { k } => {
            let labels = k_means::fit(x, &k_means::KMeansParams::new(k).n_init(1))?.labels;
            let started = Instant::now();
            let score = metrics::silhouette_score(x, &labels)?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({ "seconds": seconds, "silhouette": score })
            );
            return Ok(());
        }
        Kernel::Neighbours { .. } | Kernel::Propensity { .. } => unreachable!("handled above"),
        Kernel::Dbscan { eps, min_samples } => {
            let fit = dbscan::fit(x, &dbscan::DbscanParams::new(eps, min_samples))?;
            let noise = fit.labels.iter().filter(|&&l| l < 0).count();
            serde_json::json!({ "clusters": fit.clusters, "noise": noise })
        }
    };
    let mut result = result;
    result["seconds"] = started.elapsed().as_secs_f64().into();
    println!("{result}");
    Ok(())
}
