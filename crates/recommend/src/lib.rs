//! The recommend stage: for each customer, the top-k products they do not hold yet, and
//! why.
//!
//! [`Recommend::run`] calls its steps in order, each in its own module:
//!
//! 1. [`check`]: the parameters against each other and the ports.
//! 2. `read`: the holdings ([`holdings`]: long or wide, one bit set of products per
//!    customer and snapshot), the catalogue and its eligibility rules ([`catalogue`]),
//!    the features, segments and labels, all numbered on one `universe` of customers
//!    and products.
//! 3. `split`: what is recommended from, and what is held out for evaluation (a seeded
//!    holdout, or one snapshot predicting the next).
//! 4. `tune` (with `tune = true`): the blend's weights by grid search on a validation
//!    holdout's MAP@k.
//! 5. [`methods`]: every method the inputs allow, fitted — popularity (global and per
//!    segment), user-based ([`user_knn`], exact, over distinct baskets) and item-based
//!    collaborative filtering, content-based kNN and product profiles ([`content`]) —
//!    and their reasons.
//! 6. `write`: each customer's scores normalised, blended and ranked ([`blend`]), the
//!    lists, the split and the [`model`] file (which `clientele export-sql` reads).
//!
//! It does not compute the evaluation metrics (beyond the MAP@k that tunes the blend)
//! and it never reads another stage's crate, only its files.

#![forbid(unsafe_code)]

pub mod ages;
pub mod blend;
pub mod catalogue;
mod check;
pub mod content;
mod errors;
pub mod holdings;
pub mod methods;
pub mod model;
mod params;
pub mod propensity;
mod read;
mod split;
mod tune;
mod universe;
pub mod user_knn;
mod write;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

use crate::methods::{Chosen, Fitted, Settings};

pub use check::{available_methods, check_params};
pub use errors::{ParamError, RecommendError};
pub use params::*;
pub use tune::{GridPoint, Tuning};

/// The recommend stage, as the runner sees it.
pub struct Recommend;

impl Stage for Recommend {
    const KIND: &'static str = "recommend";
    // 2: propensity reasons name bands in the source column's units; the customer split.
    // 3: the propensity models in the model file, which is written compact.
    // 4: model format 3 (the scored snapshot's day and the panel flag, for export-sql);
    // Newton's method (logistic models, Platt curves) stops when a step no longer lowers
    // the objective.
    // 5: gradient-boosted trees on single-precision gradients, histograms summed row by
    // row in fixed pieces (probabilities move in the last digits).
    // 6: a node's histogram cut into pieces by its size (at most 16), the root's sums
    // taken from its histogram (probabilities move in the last digits).
    // 7: `propensity_max_examples` (default 1,000,000): larger products learn from a
    // sample.
    const ALGORITHM_VERSION: u32 = 7;
    const INPUTS: &'static [Port] = &[
        Port {
            name: "holdings",
            required: true,
            doc: "product holdings: `customer_id, product[, snapshot]`, or one 0/1 column per product with holdings_format = \"wide\"",
        },
        Port {
            name: "features",
            required: false,
            doc: "the features table from preprocess, for content_knn, product_profile and propensity",
        },
        Port {
            name: "assignments",
            required: false,
            doc: "segment assignments, for segment_popularity and segment exclusions",
        },
        Port {
            name: "profiles",
            required: false,
            doc: "segment profiles JSON, for the segments' labels in reasons",
        },
        Port {
            name: "customers",
            required: false,
            doc: "the customer table, for the catalogue's eligibility rules (min_age, min_income, …)",
        },
        Port {
            name: "catalogue",
            required: false,
            doc: "the product catalogue CSV: product_id, name, category, min_<column>, max_<column>, excluded_segments",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "recommendations",
            required: true,
            doc: "the blended top k: customer_id, rank, product, score, method, reason",
        },
        Port {
            name: "by_method",
            required: false,
            doc: "each method's own top k, for evaluation side by side: method, customer_id, rank, product, score",
        },
        Port {
            name: "train",
            required: false,
            doc: "the holdings recommended from: customer_id, product",
        },
        Port {
            name: "test",
            required: false,
            doc: "the held-out products to be predicted (split = \"holdout\" or \"temporal\"): customer_id, product",
        },
        Port {
            name: "probabilities",
            required: false,
            doc: "the propensity method's probability for every customer and every product they may be offered: customer_id, product, probability (needs features)",
        },
        Port {
            name: "model",
            required: false,
            doc: "the blend weights (tuned or configured), the tuning grid, the item–item similarities, popularity and eligibility rules (what export-sql needs), JSON",
        },
    ];
    type Params = RecommendParams;
    type Error = RecommendError;

    fn run(
        params: &RecommendParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, RecommendError> {
        check_params(params, io)?;
        let holdings_path = io
            .input("holdings")
            .ok_or(ParamError::MissingPort { port: "holdings" })?;
        let recommendations_path = io
            .output("recommendations")
            .ok_or(ParamError::MissingPort {
                port: "recommendations",
            })?;
        let mut report = StageReport::default();
        let (mut data, holdings) = read::read_inputs(params, io, holdings_path, ctx.parquet_key)?;
        let split = split::split(params, &holdings, &data.universe, holdings_path, ctx.seed)?;
        drop(holdings);
        report.notes.extend(split.notes.iter().cloned());
        let (n_customers, n_products) =
            (data.universe.customers.len(), data.universe.products.len());
        ctx.progress
            .step(&format!("{n_customers} customers × {n_products} products"));

        let settings = Settings {
            neighbours: params.neighbours,
            similarity: params.similarity,
            reference_sample: params.reference_sample,
            seed: ctx.seed,
            propensity_model: params.propensity_model,
            propensity_min_positives: params.propensity_min_positives,
            propensity_max_examples: params.propensity_max_examples,
            propensity_calibration: params.propensity_calibration,
            chosen: Chosen::new(params.methods.as_deref()),
        };
        let mut weights =
            check::resolve_weights(params, &data.available_methods(params.methods.as_deref()));
        let tuning = params
            .tune
            .then(|| tune::tune_blend(params, &mut data, &split, settings, &weights, ctx));
        // A panel's customers as they are at the scored snapshot.
        data.score_at(split.train_date);
        if let Some(tuned) = &tuning {
            if tuned.applied {
                weights = tuned.weights.clone();
                report.notes.push(format!(
                    "tuned the blend on the {} ({} validation customers): MAP@{} {:.4}",
                    tuned.validation, tuned.validation_customers, params.top_k, tuned.best_map
                ));
            } else {
                report.notes.push(format!(
                    "tuning found only {} validation customers on the {} (fewer than {}): the configured weights are kept",
                    tuned.validation_customers,
                    tuned.validation,
                    tune::MIN_VALIDATION_CUSTOMERS
                ));
            }
        }

        let fitted = Fitted::fit(&data.split_inputs(&split), settings, &|s| {
            ctx.progress.step(s)
        });
        let written = write::write_outputs(
            params,
            io,
            &data,
            &split,
            &fitted,
            &weights,
            tuning.as_ref(),
            recommendations_path,
            ctx,
        )?;

        report.notes.extend(fitted.notes.iter().cloned());
        report.rows = written.rows;
        let counts = [
            ("customers", n_customers as u64),
            ("products", n_products as u64),
            (
                "customers_without_recommendations",
                written.customers_without,
            ),
            ("distinct_baskets", fitted.distinct_baskets() as u64),
        ];
        for (name, count) in counts {
            report.counts.insert(name.into(), count);
        }
        if let Some(pairs) = written.test_pairs {
            report.counts.insert("test_pairs".into(), pairs);
        }
        report.notes.push(format!(
            "blend: {}",
            weights
                .iter()
                .filter(|(_, w)| **w > 0.0)
                .map(|(m, w)| format!("{m} {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(report)
    }
}
