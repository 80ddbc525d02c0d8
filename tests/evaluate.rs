//! End-to-end tests of the evaluate stage: its metrics against the files it scores and
//! the segment stage's own scores, the gate's exit code and table, `metrics diff`, and
//! stability.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, Float64Array, Int32Array, StringArray};
use clientele_numeric::classification::{average_precision, roc_auc};
use clientele_numeric::ranking::{ranking_metrics_with, Averaging};
use common::Project;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The string and Int32 columns of a Parquet file, by name.
fn columns(path: &Path) -> BTreeMap<String, Vec<String>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let values = out.entry(field.name().clone()).or_default();
            if let Some(s) = column.as_any().downcast_ref::<StringArray>() {
                values.extend((0..s.len()).map(|r| s.value(r).to_string()));
            } else if let Some(i) = column.as_any().downcast_ref::<Int32Array>() {
                values.extend((0..i.len()).map(|r| i.value(r).to_string()));
            } else if let Some(f) = column.as_any().downcast_ref::<Float64Array>() {
                // Rust prints the shortest text that parses back to the same f64.
                values.extend((0..f.len()).map(|r| f.value(r).to_string()));
            }
        }
    }
    out
}

fn metrics(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The held-out products by customer, and the blended lists by customer (best first),
/// as the quickstart's evaluate stage read them.
#[allow(clippy::type_complexity)]
fn held_out_and_lists(
    out: &Path,
) -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, Vec<String>>,
) {
    let recs = columns(&out.join("recommendations.parquet"));
    let test = columns(&out.join("split_test.parquet"));
    let mut relevant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (c, p) in test["customer_id"].iter().zip(&test["product"]) {
        relevant.entry(c.clone()).or_default().insert(p.clone());
    }
    let mut ranked: BTreeMap<String, Vec<(i32, String)>> = BTreeMap::new();
    for ((c, r), p) in recs["customer_id"]
        .iter()
        .zip(&recs["rank"])
        .zip(&recs["product"])
    {
        ranked
            .entry(c.clone())
            .or_default()
            .push((r.parse().unwrap(), p.clone()));
    }
    let lists: BTreeMap<String, Vec<String>> = ranked
        .into_iter()
        .map(|(c, mut l)| {
            l.sort();
            (c, l.into_iter().map(|(_, p)| p).collect())
        })
        .collect();
    (relevant, lists)
}

/// The quickstart run once, up to its evaluate stage.
fn quickstart() -> &'static Project {
    static RUN: std::sync::OnceLock<Project> = std::sync::OnceLock::new();
    RUN.get_or_init(Project::quickstart_run)
}

#[test]
fn metrics_score_exactly_the_recommendations_and_the_held_out_split() {
    let p = quickstart();
    let out = p.path("out/quickstart");
    let m = metrics(&out.join("metrics.json"));
    let test = columns(&out.join("split_test.parquet"));
    let (relevant, lists) = held_out_and_lists(&out);
    for k in [3, 5] {
        let expected = ranking_metrics_with(&lists, &relevant, k, Averaging::HeldOut);
        for (name, value) in [
            ("precision", expected.precision),
            ("recall", expected.recall),
            ("map", expected.map),
            ("ndcg", expected.ndcg),
            ("hit_rate", expected.hit_rate),
            ("f1", expected.f1),
        ] {
            let key = format!("{name}_at_{k}");
            assert_eq!(m["metrics"][&key].as_f64().unwrap(), value, "{key}");
        }
    }
    // Every method side by side with the blend, and per segment.
    for method in [
        "popularity",
        "segment_popularity",
        "user_knn",
        "item_knn",
        "content_knn",
        "product_profile",
        "propensity",
    ] {
        assert!(
            m["metrics"][format!("{method}.map_at_5")].is_f64(),
            "{method}"
        );
        assert!(m["metrics"][format!("segment.0.{method}.map_at_5")].is_f64());
    }
    // The propensity probabilities, product by product, against who took the product.
    let probabilities = columns(&out.join("propensity_probabilities.parquet"));
    let taken: BTreeSet<(String, String)> = test["customer_id"]
        .iter()
        .cloned()
        .zip(test["product"].iter().cloned())
        .collect();
    let assignments = columns(&out.join("segments.parquet"));
    let segment_of: BTreeMap<&String, &String> = assignments["customer_id"]
        .iter()
        .zip(&assignments["segment"])
        .collect();
    let mut segments: Vec<&String> = assignments["segment"].iter().collect();
    segments.sort();
    segments.dedup();
    assert!(segments.len() >= 2, "{segments:?}");
    for product in ["home_insurance", "credit_card"] {
        // Every customer scored for the product, then each segment's alone.
        for within in std::iter::once(None).chain(segments.iter().map(Some)) {
            let (mut scores, mut labels) = (Vec::new(), Vec::new());
            for ((c, p), v) in probabilities["customer_id"]
                .iter()
                .zip(&probabilities["product"])
                .zip(&probabilities["probability"])
            {
                if p == product && within.is_none_or(|s| segment_of.get(c) == Some(s)) {
                    scores.push(v.parse::<f64>().unwrap());
                    labels.push(taken.contains(&(c.clone(), p.clone())));
                }
            }
            let prefix = within.map_or(String::new(), |s| format!("segment.{s}."));
            let key =
                |name: &str| m["metrics"][format!("{prefix}propensity.{product}.{name}")].as_f64();
            assert_eq!(key("auc"), roc_auc(&scores, &labels), "{prefix}{product}");
            assert!(key("auc").is_some(), "{prefix}{product}");
            assert_eq!(
                key("average_precision"),
                average_precision(&scores, &labels),
                "{prefix}{product}"
            );
        }
    }
    // Mortgage holders take up home insurance: the model separates them.
    assert!(
        m["metrics"]["propensity.home_insurance.auc"]
            .as_f64()
            .unwrap()
            > 0.85
    );
    // Customers left out are counted.
    let counted = m["ranking"]["customers_counted"]["blend"].as_u64().unwrap();
    assert_eq!(
        counted
            + m["ranking"]["customers_without_recommendations"]["blend"]
                .as_u64()
                .unwrap(),
        relevant.len() as u64
    );
}

#[test]
fn the_peers_averaging_leaves_out_the_customers_a_list_does_not_reach() {
    let p = Project::quickstart_copy();
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--quiet",
        "--set",
        "evaluate.averaging=\"recommended\"",
        "--set",
        "evaluate.gate.max_drop=1.0",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = p.path("out/quickstart");
    let m = metrics(&out.join("metrics.json"));
    assert_eq!(m["ranking"]["averaging"], "recommended");
    let (relevant, lists) = held_out_and_lists(&out);
    let peer = ranking_metrics_with(&lists, &relevant, 5, Averaging::Recommended);
    let ours = ranking_metrics_with(&lists, &relevant, 5, Averaging::HeldOut);
    assert_eq!(m["metrics"]["map_at_5"].as_f64().unwrap(), peer.map);
    // Some customers with something held out get no list, so the peer's MAP is higher.
    assert!(peer.customers_without_recommendations > 0);
    assert!(peer.map > ours.map);
}

#[test]
fn clustering_scores_equal_the_segment_stages_own() {
    let p = quickstart();
    let out = p.path("out/quickstart");
    let m = metrics(&out.join("metrics.json"));
    let profiles = metrics(&out.join("segment_profiles.json"));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(
        m["metrics"]["silhouette"].as_f64().unwrap(),
        profiles["silhouette"]["value"].as_f64().unwrap()
    ));
    for key in ["davies_bouldin", "calinski_harabasz"] {
        assert!(close(
            m["metrics"][key].as_f64().unwrap(),
            profiles[key].as_f64().unwrap()
        ));
    }
    let sizes: u64 = profiles["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let segment = s["segment"].as_i64().unwrap();
            let size = s["size"].as_u64().unwrap();
            assert_eq!(
                m["metrics"][format!("segment.{segment}.size")].as_f64(),
                Some(size as f64)
            );
            size
        })
        .sum();
    assert_eq!(sizes, 3000);
    // Per-segment silhouettes average, weighted by size, to the overall one.
    let weighted: f64 = profiles["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            m["metrics"][format!("segment.{}.silhouette", s["segment"])]
                .as_f64()
                .unwrap()
                * s["size"].as_f64().unwrap()
        })
        .sum::<f64>()
        / 3000.0;
    assert!(close(
        weighted,
        m["metrics"]["silhouette"].as_f64().unwrap()
    ));
}

#[test]
fn a_failed_gate_exits_3_prints_every_check_and_is_checked_again() {
    let p = Project::quickstart_run();
    let strict = ["--set", "evaluate.gate.min={ precision_at_5 = 0.9 }"];
    let args: Vec<&str> = ["run", "pipelines/quickstart.toml", "--quiet"]
        .into_iter()
        .chain(strict)
        .collect();
    let run = p.run(&args);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("gate failed in stage `evaluate`"),
        "{stderr}"
    );
    let failed = stderr
        .lines()
        .find(|l| l.contains("precision_at_5") && l.contains(">= 0.9"))
        .unwrap();
    assert!(
        failed.contains("FAILED") && failed.contains("now"),
        "{failed}"
    );
    // The comparisons with the baseline are printed too, with baseline and delta.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("map_at_5") && l.contains("max_drop") && l.contains("delta")),
        "{stderr}"
    );
    let m = metrics(&p.path("out/quickstart/metrics.json"));
    assert_eq!(m["gate"]["passed"], false);
    // Not recorded as up to date: the same command fails again.
    assert_eq!(p.run(&args).code(), 3);
    // A drop against the baseline fails as well.
    let mut baseline = metrics(&p.path("pipelines/quickstart_baseline.json"));
    let map = baseline["metrics"]["map_at_5"].as_f64().unwrap();
    baseline["metrics"]["map_at_5"] = (map + 0.05).into();
    p.write(
        "pipelines/quickstart_baseline.json",
        serde_json::to_string(&baseline).unwrap(),
    );
    let run = p.run(&["run", "pipelines/quickstart.toml", "--quiet"]);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(run.stderr().contains("-0.05"), "{}", run.stderr());
}

#[test]
fn metrics_diff_lists_both_values_and_the_change() {
    let p = quickstart();
    p.write(
        "a.json",
        r#"{"k": [5], "metrics": {"precision_at_5": 0.25, "only_a": 1.0}}"#,
    );
    p.write(
        "b.json",
        r#"{"k": [5], "metrics": {"precision_at_5": 0.2, "only_b": 2.0}}"#,
    );
    let run = p.run(&["metrics", "diff", "a.json", "b.json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    let line = out
        .lines()
        .find(|l| l.starts_with("precision_at_5"))
        .unwrap();
    assert!(
        line.contains("0.250000") && line.contains("0.200000") && line.contains("-0.050000"),
        "{line}"
    );
    assert!(out
        .lines()
        .any(|l| l.starts_with("only_a") && l.trim_end().ends_with('-')));
    let run = p.run(&["metrics", "diff", "a.json", "missing.json"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("missing.json"), "{}", run.stderr());
}

#[test]
fn stability_of_a_segmentation_against_itself_is_one_and_config_errors_name_the_key() {
    let p = quickstart();
    p.write(
        "pipelines/stability.toml",
        r#"
[pipeline]
name = "stability"
output_dir = "../out/stability"

[[stage]]
name = "evaluate"
kind = "evaluate"
inputs = { assignments = "../out/quickstart/segments.parquet", assignments_rerun = "../out/quickstart/segments.parquet" }
outputs = { metrics = "metrics.json" }
"#,
    );
    let run = p.run(&["run", "pipelines/stability.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let m = metrics(&p.path("out/stability/metrics.json"));
    assert_eq!(m["metrics"]["stability_ari"].as_f64(), Some(1.0));
    assert_eq!(m["clustering"]["stability_customers"].as_u64(), Some(3000));

    let text = std::fs::read_to_string(p.path("pipelines/stability.toml")).unwrap()
        + "[stage.params.gate]\nmax_drop = 0.01\n";
    p.write("pipelines/stability.toml", text);
    let run = p.run(&["run", "pipelines/stability.toml", "--quiet"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("name an input `baseline`"),
        "{}",
        run.stderr()
    );
}
