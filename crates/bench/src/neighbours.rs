//! The recommend stage's user-kNN (exact, over distinct baskets) against linfa-nn's
//! KD-tree and ball tree on the same holdings, at the catalogue's dimensionality.
//!
//! linfa-nn searches euclidean distance; on rows scaled to unit length its order is the
//! cosine order. It is timed on plain k nearest neighbours of a sample of customers (the
//! stage needs more: neighbours who hold something the customer lacks, which with many
//! identical baskets means searching far past k), then extrapolated to every customer,
//! so its figure is a lower bound.

use std::path::Path;
use std::time::Instant;

use clientele_numeric::sample::sample_rows;
use clientele_recommend::holdings::{products_of, read_holdings};
use clientele_recommend::user_knn::UserKnn;
use clientele_recommend::{HoldingsFormat, Similarity};
use linfa_nn::distance::L2Dist;
use linfa_nn::{BallTree, KdTree, NearestNeighbour};
use ndarray::Array2;

pub fn compare(
    path: &Path,
    k: usize,
    queries: usize,
    limit: Option<usize>,
) -> anyhow::Result<serde_json::Value> {
    let holdings = read_holdings(path, HoldingsFormat::Long, None)?;
    let (_, train) = holdings
        .snapshots
        .last()
        .ok_or_else(|| anyhow::anyhow!("the holdings table is empty"))?;
    let train = &train[..limit.unwrap_or(train.len()).min(train.len())];
    let n_products = holdings.products.len();
    let started = Instant::now();
    let ours = UserKnn::fit(train, n_products, k, Similarity::Cosine);
    let ours_seconds = started.elapsed().as_secs_f64();
    eprintln!("ours: {ours_seconds:.2} s");

    let mut x = Array2::<f64>::zeros((train.len(), n_products));
    for (c, &basket) in train.iter().enumerate() {
        let scale = 1.0 / (basket.count_ones().max(1) as f64).sqrt();
        for p in products_of(basket) {
            x[[c, p]] = scale;
        }
    }
    let sample = sample_rows(train.len(), queries, 1);
    let mut result = serde_json::json!({
        "customers": train.len(),
        "products": n_products,
        "distinct_baskets": ours.distinct_baskets(),
        "ours_seconds": ours_seconds,
        "linfa_queries": sample.len(),
    });
    for (name, seconds) in [
        ("kdtree", time_linfa(KdTree, &x, &sample, k)?),
        ("balltree", time_linfa(BallTree, &x, &sample, k)?),
    ] {
        result[format!("linfa_{name}_build_seconds")] = seconds.0.into();
        result[format!("linfa_{name}_extrapolated_seconds")] =
            (seconds.0 + seconds.1 * train.len() as f64).into();
    }
    result["seconds"] = ours_seconds.into();
    Ok(result)
}

/// Seconds to build the index, and per query.
fn time_linfa(
    algorithm: impl NearestNeighbour,
    x: &Array2<f64>,
    sample: &[usize],
    k: usize,
) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let index = algorithm.from_batch(x, L2Dist)?;
    let build = started.elapsed().as_secs_f64();
    eprintln!("linfa-nn index built in {build:.2} s");
    let started = Instant::now();
    for &c in sample {
        // One more than k: the customer finds itself.
        index.k_nearest(x.row(c), k + 1)?;
    }
    Ok((
        build,
        started.elapsed().as_secs_f64() / sample.len().max(1) as f64,
    ))
}
