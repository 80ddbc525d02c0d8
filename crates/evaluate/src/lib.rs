//! The evaluate stage: ranking metrics of the recommendations (the blend and every
//! method side by side, overall and per segment), ROC AUC and average precision of the
//! propensity probabilities per product, clustering metrics of the segments, and a
//! regression gate for CI.
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
mod clustering_section;
mod errors;
pub mod gate;
mod lists;
mod metrics_file;
mod params;
mod probability_section;
mod ranking_section;

pub use clientele_numeric::ranking;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

use clustering_section::{clustering_section, read_assignments};
use metrics_file::{table, write_metrics};
use probability_section::probability_section;
use ranking_section::ranking_section;

pub use check::check_params;
pub use errors::{EvaluateError, ParamError};
pub use metrics_file::{read_metrics, ClusteringDetails, GateResult, MetricsFile, RankingDetails};
pub use params::*;

/// The evaluate stage, as the runner sees it.
pub struct Evaluate;

impl Stage for Evaluate {
    const KIND: &'static str = "evaluate";
    // 2: propensity metrics per segment and the top decile's share of takers.
    // 3: the silhouette measures each pair once (its sums in another order: last bits).
    const ALGORITHM_VERSION: u32 = 3;
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
            name: "probabilities",
            required: false,
            doc: "the recommend stage's propensity probabilities (customer_id, product, probability): ROC AUC and average precision per product against `test`",
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
            Some(path) => Some(read_assignments(path, ctx.parquet_key)?),
            None => None,
        };
        // The lists' metrics (reading them is serial work) and the clustering metrics
        // (the silhouette is parallel) are independent: each fills a part of its own,
        // at the same time, and the parts are put together in the order they always
        // were (their keys do not overlap).
        let (recommendation_part, clustering_part) = rayon::join(
            || -> Result<MetricsFile, EvaluateError> {
                let mut part = MetricsFile::default();
                if let Some(test) = io.input("test") {
                    ctx.progress.step("ranking metrics");
                    ranking_section(
                        params,
                        io,
                        test,
                        segments.as_ref(),
                        &mut part,
                        ctx.parquet_key,
                    )?;
                }
                if let (Some(probabilities), Some(test)) =
                    (io.input("probabilities"), io.input("test"))
                {
                    ctx.progress.step("probability metrics");
                    probability_section(
                        probabilities,
                        test,
                        segments.as_ref().filter(|_| params.per_segment),
                        &mut part,
                        ctx.parquet_key,
                    )?;
                }
                Ok(part)
            },
            || -> Result<MetricsFile, EvaluateError> {
                let mut part = MetricsFile::default();
                if let Some(segments) = &segments {
                    ctx.progress.step("clustering metrics");
                    clustering_section(params, io, segments, ctx.seed, &mut part, ctx.parquet_key)?;
                }
                Ok(part)
            },
        );
        let (recommendation_part, clustering_part) = (recommendation_part?, clustering_part?);
        file.metrics.extend(recommendation_part.metrics);
        file.metrics.extend(clustering_part.metrics);
        file.ranking = recommendation_part.ranking;
        file.clustering = clustering_part.clustering;
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
