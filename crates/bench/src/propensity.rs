//! The `propensity` method's learner at scale: one gradient-boosted model per product
//! (holds it or not, at the holdings' last snapshot) on the preprocess stage's features,
//! then every customer scored for every product. `bench/propensity_sklearn.py` does the
//! same with scikit-learn's `HistGradientBoostingClassifier`, with the same trees (100,
//! no early stopping), bins (255), leaves (31) and learning rate (0.1).

use std::path::Path;
use std::time::Instant;

use clientele_numeric::classification::roc_auc;
use clientele_recommend::holdings::read_holdings;
use clientele_recommend::propensity::gbdt::{EarlyStopping, GbdtParams};
use clientele_recommend::HoldingsFormat;
use clientele_segment::read_features;
use linfa::ParamGuard;

pub fn run(features: &Path, holdings: &Path) -> anyhow::Result<serde_json::Value> {
    let table = read_features(features, None, None)?;
    let holdings = read_holdings(holdings, HoldingsFormat::Long, None)?;
    let (_, baskets) = holdings
        .snapshots
        .last()
        .ok_or_else(|| anyhow::anyhow!("the holdings table is empty"))?;
    // Each feature row's basket, by customer id.
    let index: std::collections::HashMap<&str, usize> = holdings
        .customers
        .iter()
        .enumerate()
        .map(|(c, id)| (id.as_str(), c))
        .collect();
    let basket_of: Vec<u128> = table
        .ids
        .iter()
        .map(|id| index.get(id.as_str()).map_or(0, |&c| baskets[c]))
        .collect();
    let params = GbdtParams::new()
        .max_iter(100)
        .early_stopping(EarlyStopping::Off)
        .check()?;
    let (mut fit_seconds, mut score_seconds, mut aucs) = (0.0, 0.0, Vec::new());
    for p in 0..holdings.products.len() {
        let labels: Vec<bool> = basket_of.iter().map(|b| b & (1 << p) != 0).collect();
        let positives = labels.iter().filter(|&&l| l).count();
        if positives == 0 || positives == labels.len() {
            continue;
        }
        let started = Instant::now();
        let model = params.fit_rows(table.x.view(), &labels)?;
        fit_seconds += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let scores = model.predict_proba(table.x.view());
        score_seconds += started.elapsed().as_secs_f64();
        aucs.extend(roc_auc(&scores, &labels));
        eprintln!(
            "product {p}: {} trees, {fit_seconds:.1} s so far",
            model.trees.len()
        );
    }
    Ok(serde_json::json!({
        "side": "clientele",
        "rows": table.ids.len(),
        "features": table.x.ncols(),
        "products": aucs.len(),
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "mean_train_auc": aucs.iter().sum::<f64>() / aucs.len().max(1) as f64,
    }))
}
