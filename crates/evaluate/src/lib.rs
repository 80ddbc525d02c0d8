//! The evaluate stage: ranking metrics of the recommendations (the blend and every
//! method side by side, overall and per segment), clustering metrics of the segments,
//! and a regression gate for CI.
//!
//! - [`ranking`]: the ranking metrics at k, defined once in `clientele-numeric` (the
//!   recommend stage tunes its blend on the same MAP@k), equal to Microsoft
//!   Recommenders'.
//! - [`gate`]: thresholds and drops against a baseline metrics file.
//!
//! It reads the files other stages wrote (recommendations, the held-out test split,
//! segment assignments, features) and writes one `metrics.json` whose flat `metrics`
//! map is what the gate and `clientele metrics diff` read. It computes no
//! recommendation and no segmentation.

#![forbid(unsafe_code)]

mod check;
mod errors;
pub mod gate;
mod lists;
mod params;

pub use clientele_numeric::ranking;

use std::collections::BTreeMap;
use std::path::Path;

use clientele_numeric::clustering::{
    adjusted_rand_index, calinski_harabasz, davies_bouldin, sample_rows, silhouette_samples,
};
use clientele_numeric::ranking::RankingSums;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use clientele_shared::SharedError;
use lists::Rows;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use check::check_params;
pub use errors::{EvaluateError, ParamError};
pub use params::*;

/// The evaluate stage, as the runner sees it.
pub struct Evaluate;

impl Stage for Evaluate {
    const KIND: &'static str = "evaluate";
    const INPUTS: &'static [Port] = &[
        Port {
            name: "recommendations",
            required: false,
            doc: "the blended recommendations (customer_id, rank, product, …)",
        },
        Port {
            name: "by_method",
            required: false,
            doc: "each method's own lists, scored side by side with the blend",
        },
        Port {
            name: "test",
            required: false,
            doc: "the held-out products (customer_id, product) the recommendations are scored against",
        },
        Port {
            name: "train",
            required: false,
            doc: "the holdings recommended from, so that catalogue coverage counts every product",
        },
        Port {
            name: "assignments",
            required: false,
            doc: "segment assignments: clustering metrics, and ranking metrics per segment",
        },
        Port {
            name: "features",
            required: false,
            doc: "the features the segments were made from, for silhouette, Davies–Bouldin and Calinski–Harabasz",
        },
        Port {
            name: "assignments_rerun",
            required: false,
            doc: "assignments of the same customers from a run with another seed: stability (adjusted Rand index)",
        },
        Port {
            name: "baseline",
            required: false,
            doc: "a metrics.json of an earlier run, for the gate's max_drop",
        },
    ];
    const OUTPUTS: &'static [Port] = &[Port {
        name: "metrics",
        required: true,
        doc: "metrics.json: the flat `metrics` map, details, and the gate's checks",
    }];
    type Params = EvaluateParams;
    type Error = EvaluateError;

    fn run(
        params: &EvaluateParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, EvaluateError> {
        check_params(params, io)?;
        let out = io
            .output("metrics")
            .ok_or(ParamError::MissingPort { port: "metrics" })?;
        let mut file = MetricsFile {
            k: params.k.clone(),
            ..MetricsFile::default()
        };
        let segments = match io.input("assignments") {
            Some(path) => Some(read_assignments(path)?),
            None => None,
        };
        if let Some(test) = io.input("test") {
            ctx.progress.step("ranking metrics");
            ranking_section(params, io, test, segments.as_ref(), &mut file)?;
        }
        if let Some(segments) = &segments {
            ctx.progress.step("clustering metrics");
            clustering_section(params, io, segments, ctx.seed, &mut file)?;
        }
        let mut report = StageReport {
            notes: table(&file),
            ..StageReport::default()
        };
        if let Some(g) = &params.gate {
            let baseline = match io.input("baseline") {
                Some(path) => Some(read_metrics(path)?),
                None => None,
            };
            let outcome = gate::check(g, &params.k, &file.metrics, baseline.as_ref())?;
            report.checks = outcome.iter().map(gate::Check::line).collect();
            report.gate_failed = outcome.iter().any(|c| !c.passed);
            file.gate = Some(GateResult {
                passed: !report.gate_failed,
                checks: outcome,
            });
        }
        write_metrics(out, &file)?;
        report.rows = file.metrics.len() as u64;
        report
            .counts
            .insert("metrics".into(), file.metrics.len() as u64);
        Ok(report)
    }
}

/// metrics.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricsFile {
    pub k: Vec<usize>,
    /// Every metric under a stable flat name (see the README): what the gate and
    /// `metrics diff` read.
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<ClusteringDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
}

/// Who was counted in the ranking metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RankingDetails {
    /// `blend`, then the methods of `by_method`.
    pub lists: Vec<String>,
    pub products: usize,
    pub customers_with_held_out_products: u64,
    /// By list: customers with recommendations and something held out (the averages).
    pub customers_counted: BTreeMap<String, u64>,
    /// By list: customers with recommendations but nothing held out (left out).
    pub customers_without_relevant: BTreeMap<String, u64>,
    /// By list: customers with something held out but no recommendation (left out of
    /// precision, recall, MAP and hit rate; 0 in NDCG, as the peer).
    pub customers_without_recommendations: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusteringDetails {
    pub customers: u64,
    pub noise: u64,
    pub sizes: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silhouette_exact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability_customers: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateResult {
    pub passed: bool,
    pub checks: Vec<gate::Check>,
}

/// Reads a metrics.json written by an evaluate stage.
pub fn read_metrics(path: &Path) -> Result<MetricsFile, SharedError> {
    let text = std::fs::read_to_string(path).map_err(|e| SharedError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn write_metrics(path: &Path, file: &MetricsFile) -> Result<(), SharedError> {
    let mut json = serde_json::to_string_pretty(file).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())
}

/// Customer → segment (−1 for noise), from an assignments table.
fn read_assignments(path: &Path) -> Result<BTreeMap<String, i64>, EvaluateError> {
    Ok(clientele_shared::schema::read_assignments(path)?
        .into_iter()
        .map(|(customer, segment)| (customer, i64::from(segment)))
        .collect())
}

/// The flat name of a metric of a list: the blend's own name, or `METHOD.name`.
fn flat(prefix: &str, list: &str, name: &str) -> String {
    let list = if list == "blend" {
        String::new()
    } else {
        format!("{list}.")
    };
    format!("{prefix}{list}{name}")
}

/// The metrics of one list at `k`, overall and by segment, in one pass over the
/// customers in id order (the order the sums were always taken in).
fn score_list(
    list: &Rows,
    relevant: &Rows,
    segment_of: Option<&[Option<i64>]>,
    k: usize,
) -> (RankingSums, BTreeMap<i64, RankingSums>) {
    let mut overall = RankingSums::default();
    let mut by_segment: BTreeMap<i64, RankingSums> = BTreeMap::new();
    let segment = |c: u32| segment_of.and_then(|s| s[c as usize]);
    for (i, &customer) in list.customers.iter().enumerate() {
        let truth = relevant
            .find(customer)
            .map_or(&[][..], |r| relevant.products_of(r));
        let add = |sums: &mut RankingSums| {
            sums.add_list(
                list.products_of(i)
                    .iter()
                    .map(|p| truth.binary_search(p).is_ok()),
                truth.len(),
                k,
            )
        };
        add(&mut overall);
        if let Some(s) = segment(customer) {
            add(by_segment.entry(s).or_default());
        }
    }
    for &customer in &relevant.customers {
        if list.find(customer).is_none() {
            overall.add_unrecommended();
            if let Some(s) = segment(customer) {
                by_segment.entry(s).or_default().add_unrecommended();
            }
        }
    }
    (overall, by_segment)
}

fn ranking_section(
    params: &EvaluateParams,
    io: &StageIo,
    test: &Path,
    segments: Option<&BTreeMap<String, i64>>,
    file: &mut MetricsFile,
) -> Result<(), EvaluateError> {
    let ranked = lists::read(
        test,
        io.input("recommendations"),
        io.input("by_method"),
        io.input("train"),
    )?;
    let mut details = RankingDetails {
        products: ranked.products.len(),
        customers_with_held_out_products: ranked.relevant.customers.len() as u64,
        ..RankingDetails::default()
    };
    let segment_of: Option<Vec<Option<i64>>> =
        segments.filter(|_| params.per_segment).map(|segments| {
            ranked
                .customers
                .iter()
                .map(|c| segments.get(c).copied())
                .collect()
        });
    // The blend first, then the methods in name order.
    let mut order: Vec<&String> = ranked.lists.keys().filter(|m| *m == "blend").collect();
    order.extend(ranked.lists.keys().filter(|m| *m != "blend"));
    for name in order {
        let list = &ranked.lists[name];
        details.lists.push(name.clone());
        for &k in &params.k {
            let (overall, by_segment) =
                score_list(list, &ranked.relevant, segment_of.as_deref(), k);
            let m = overall.metrics(k);
            let mut covered: Vec<u32> = (0..list.customers.len())
                .flat_map(|i| list.products_of(i).iter().take(k).copied())
                .collect();
            covered.sort_unstable();
            covered.dedup();
            let coverage = covered.len() as f64 / ranked.products.len().max(1) as f64;
            for (metric, value) in [
                ("precision", m.precision),
                ("recall", m.recall),
                ("f1", m.f1),
                ("map", m.map),
                ("ndcg", m.ndcg),
                ("hit_rate", m.hit_rate),
                ("coverage", coverage),
            ] {
                file.metrics
                    .insert(flat("", name, &format!("{metric}_at_{k}")), value);
            }
            if k == params.k[0] {
                details
                    .customers_counted
                    .insert(name.clone(), m.customers_counted);
                details
                    .customers_without_relevant
                    .insert(name.clone(), m.customers_without_relevant);
                details
                    .customers_without_recommendations
                    .insert(name.clone(), m.customers_without_recommendations);
            }
            for (segment, sums) in &by_segment {
                let m = sums.metrics(k);
                for (metric, value) in [
                    ("precision", m.precision),
                    ("recall", m.recall),
                    ("f1", m.f1),
                    ("map", m.map),
                    ("ndcg", m.ndcg),
                    ("hit_rate", m.hit_rate),
                ] {
                    file.metrics.insert(
                        flat(
                            &format!("segment.{segment}."),
                            name,
                            &format!("{metric}_at_{k}"),
                        ),
                        value,
                    );
                }
            }
        }
    }
    file.ranking = Some(details);
    Ok(())
}

fn clustering_section(
    params: &EvaluateParams,
    io: &StageIo,
    segments: &BTreeMap<String, i64>,
    seed: u64,
    file: &mut MetricsFile,
) -> Result<(), EvaluateError> {
    let mut details = ClusteringDetails {
        customers: segments.len() as u64,
        noise: segments.values().filter(|s| **s < 0).count() as u64,
        ..ClusteringDetails::default()
    };
    for s in segments.values().filter(|s| **s >= 0) {
        *details.sizes.entry(s.to_string()).or_default() += 1;
    }
    file.metrics
        .insert("segments".into(), details.sizes.len() as f64);
    file.metrics.insert(
        "noise_share".into(),
        details.noise as f64 / details.customers.max(1) as f64,
    );
    for (s, size) in &details.sizes {
        file.metrics
            .insert(format!("segment.{s}.size"), *size as f64);
        file.metrics.insert(
            format!("segment.{s}.share"),
            *size as f64 / details.customers.max(1) as f64,
        );
    }
    if let Some(path) = io.input("features") {
        let features = read_feature_matrix(path, None)?;
        let d = features.names.len();
        let numbers: BTreeMap<i64, usize> = details
            .sizes
            .keys()
            .filter_map(|s| s.parse::<i64>().ok())
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for (r, id) in features.ids.iter().enumerate() {
            if let Some(s) = segments.get(id).filter(|s| **s >= 0) {
                rows.push(r);
                labels.push(numbers[s]);
            }
        }
        let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| features.values[rows[i] * d + j]);
        if numbers.len() >= 2 && rows.len() > numbers.len() {
            file.metrics
                .insert("davies_bouldin".into(), davies_bouldin(x.view(), &labels)?);
            file.metrics.insert(
                "calinski_harabasz".into(),
                calinski_harabasz(x.view(), &labels)?,
            );
            let picked = sample_rows(rows.len(), params.silhouette_sample, seed);
            let sub = x.select(ndarray::Axis(0), &picked);
            let sub_labels: Vec<usize> = picked.iter().map(|&i| labels[i]).collect();
            if let Ok(samples) = silhouette_samples(sub.view(), &sub_labels) {
                let mean = samples.iter().sum::<f64>() / samples.len() as f64;
                file.metrics.insert("silhouette".into(), mean);
                for (s, &i) in &numbers {
                    let own: Vec<f64> = samples
                        .iter()
                        .zip(&sub_labels)
                        .filter(|(_, l)| **l == i)
                        .map(|(v, _)| *v)
                        .collect();
                    if !own.is_empty() {
                        file.metrics.insert(
                            format!("segment.{s}.silhouette"),
                            own.iter().sum::<f64>() / own.len() as f64,
                        );
                    }
                }
                details.silhouette_rows = Some(picked.len() as u64);
                details.silhouette_exact = Some(picked.len() == rows.len());
            }
        }
    }
    if let Some(path) = io.input("assignments_rerun") {
        let rerun = read_assignments(path)?;
        // Labels as indices 0.., per run; noise (−1) is a label of its own, as in
        // scikit-learn's adjusted_rand_score.
        let (mut index_a, mut index_b) = (BTreeMap::new(), BTreeMap::new());
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (customer, s) in segments {
            if let Some(t) = rerun.get(customer) {
                let n = index_a.len();
                a.push(*index_a.entry(*s).or_insert(n));
                let n = index_b.len();
                b.push(*index_b.entry(*t).or_insert(n));
            }
        }
        file.metrics
            .insert("stability_ari".into(), adjusted_rand_index(&a, &b)?);
        details.stability_customers = Some(a.len() as u64);
    }
    file.clustering = Some(details);
    Ok(())
}

/// The readable table for stderr: each list's ranking metrics at each k, then the
/// clustering scores.
fn table(file: &MetricsFile) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = &file.ranking {
        for &k in &file.k {
            lines.push(format!(
                "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9}   (k = {k})",
                "list", "precision", "recall", "map", "ndcg", "coverage"
            ));
            for list in &r.lists {
                let get = |m: &str| {
                    file.metrics
                        .get(&flat("", list, &format!("{m}_at_{k}")))
                        .copied()
                        .unwrap_or(f64::NAN)
                };
                lines.push(format!(
                    "{:<20} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4}",
                    list,
                    get("precision"),
                    get("recall"),
                    get("map"),
                    get("ndcg"),
                    get("coverage")
                ));
            }
        }
    }
    if file.clustering.is_some() {
        let scores: Vec<String> = [
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "noise_share",
            "stability_ari",
        ]
        .iter()
        .filter_map(|m| file.metrics.get(*m).map(|v| format!("{m} {v:.4}")))
        .collect();
        lines.push(format!("clustering: {}", scores.join(", ")));
    }
    lines
}
