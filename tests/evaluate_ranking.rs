//! Ranking metrics equal Microsoft Recommenders' `python_evaluation` (1.2.1) on the case
//! in `../shared/golden/rec_case_*.csv` (`make_rec_metrics_golden.py`), to 1e-12.

mod common;
use std::collections::{BTreeMap, BTreeSet};

use clientele_evaluate::ranking::ranking_metrics;

#[test]
fn ranking_metrics_equal_microsoft_recommenders() {
    let Some(shared) = common::shared() else {
        return;
    };
    let golden_dir = shared.join("golden");
    let mut relevant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in csv::Reader::from_path(golden_dir.join("rec_case_truth.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        relevant
            .entry(r[0].to_string())
            .or_default()
            .insert(r[1].to_string());
    }
    let mut ranked: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    for r in csv::Reader::from_path(golden_dir.join("rec_case_predictions.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        ranked
            .entry(r[0].to_string())
            .or_default()
            .push((r[3].parse().unwrap(), r[1].to_string()));
    }
    let recommended: BTreeMap<String, Vec<String>> = ranked
        .into_iter()
        .map(|(c, mut list)| {
            list.sort();
            (c, list.into_iter().map(|(_, p)| p).collect())
        })
        .collect();
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(golden_dir.join("rec_metrics_golden.json")).unwrap(),
    )
    .unwrap();
    for k in [1usize, 3, 5, 7, 10] {
        let m = ranking_metrics(&recommended, &relevant, k);
        assert_eq!(
            m.customers_counted,
            golden["customers_counted"].as_u64().unwrap(),
            "k = {k}"
        );
        let reference = &golden["at_k"][k.to_string()];
        for (name, ours) in [
            ("precision", m.precision),
            ("recall", m.recall),
            ("f1", m.f1),
            ("map", m.map),
            ("ndcg", m.ndcg),
        ] {
            let theirs = reference[name].as_f64().unwrap();
            assert!(
                (ours - theirs).abs() <= 1e-12,
                "k = {k}, {name}: ours {ours}, Microsoft Recommenders {theirs}"
            );
        }
    }
}
