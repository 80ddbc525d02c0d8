//! The recommend stage: for each customer, the top-k products they do not hold yet, and
//! why.
//!
//! - [`holdings`]: holdings (long or wide) read into one bit set of products per
//!   customer and snapshot.
//! - [`catalogue`]: the catalogue (CSV or TOML) and eligibility rules.
//! - [`user_knn`]: user-based collaborative filtering, exact, over distinct baskets.
//! - [`methods`]: popularity (global and per segment), item-based collaborative
//!   filtering, and the fitted set of methods with their explanations.
//! - [`content`]: content-based filtering in the preprocessed feature space.
//! - [`blend`]: normalising, blending, ranking and tuning the blend.
//! - [`model`]: the model file, which `clientele export-sql` reads.
//!
//! It also splits the holdings for evaluation (a seeded holdout, or one snapshot
//! predicting the next) and writes the split, so that the evaluate stage scores exactly
//! what was held out. It does not compute the evaluation metrics (beyond the MAP@k that
//! tunes the blend) and it never reads another stage's crate, only its files.

pub mod blend;
pub mod catalogue;
pub mod content;
pub mod holdings;
pub mod methods;
pub mod model;
mod params;
pub mod user_knn;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use clientele_shared::features::read_feature_matrix;
use clientele_shared::parquet_io::ParquetSink;
use clientele_shared::sample::sample_rows;
use clientele_shared::schema::{
    method_recommendations_schema, pairs_schema, read_segment_labels, recommendations_schema,
};
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use clientele_shared::SharedError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blend::{blend, normalise, top_k, ValidationCase};
use crate::catalogue::{read_attributes, read_catalogue_csv, rule_columns, Eligibility};
use crate::content::CustomerFeatures;
use crate::holdings::{format_date, parse_date, products_of, read_holdings, Basket, Holdings};
use crate::methods::{Fitted, Inputs, Settings};
use crate::model::RecommendModel;

pub use params::*;

/// Why a recommend stage failed. Messages name the file, the row and the column, never
/// a value.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("`{path}` row {row}: column `{column}` {why}")]
    BadValue {
        path: PathBuf,
        row: usize,
        column: String,
        why: String,
    },
    #[error("`{path}` holds more than 128 distinct products; the recommend stage is made for catalogues of tens of products")]
    TooManyProducts { path: PathBuf },
    #[error("catalogue `{path}` line {line}, column `{column}`: {why}")]
    Catalogue {
        path: PathBuf,
        line: u64,
        column: String,
        why: String,
    },
    #[error("params: {0}")]
    Params(String),
    #[error("recommend model `{path}`: {message}")]
    Model { path: PathBuf, message: String },
}

/// The recommend stage, as the runner sees it.
pub struct Recommend;

impl Stage for Recommend {
    const KIND: &'static str = "recommend";
    const INPUTS: &'static [Port] = &[
        Port {
            name: "holdings",
            required: true,
            doc: "product holdings: `customer_id, product[, snapshot]`, or one 0/1 column per product with holdings_format = \"wide\"",
        },
        Port {
            name: "features",
            required: false,
            doc: "the features table from preprocess, for content_knn and product_profile",
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
        let (Some(holdings_path), Some(recommendations_path)) =
            (io.input("holdings"), io.output("recommendations"))
        else {
            return Err(RecommendError::Params(
                "the runner passed no `holdings` input or no `recommendations` output".into(),
            ));
        };
        let mut report = StageReport::default();
        let holdings = read_holdings(holdings_path, params.holdings_format)?;
        let catalogue = match (io.input("catalogue"), &params.products) {
            (Some(path), _) => {
                let specs = read_catalogue_csv(path)?;
                check_rules_have_inputs(&specs, io)?;
                Some(specs)
            }
            (None, Some(products)) => Some(products.clone()),
            (None, None) => None,
        };
        let features = match io.input("features") {
            Some(path) => Some(read_feature_matrix(path, None)?),
            None => None,
        };
        let feature_ids = features.as_ref().map(|f| f.ids.as_slice()).unwrap_or(&[]);
        let universe = Universe::new(&holdings, catalogue.as_deref(), feature_ids);
        let split = split(params, &holdings, &universe, holdings_path, ctx.seed)?;
        report.notes.extend(split.notes.iter().cloned());
        ctx.progress.step(&format!(
            "{} customers × {} products",
            universe.customers.len(),
            universe.products.len()
        ));

        let customer_features = features.map(|f| {
            let mut row_of = vec![None; universe.customers.len()];
            for (r, id) in f.ids.iter().enumerate() {
                if let Some(c) = universe.index(id) {
                    row_of[c] = Some(r as u32);
                }
            }
            CustomerFeatures {
                d: f.names.len(),
                values: f.values,
                row_of,
            }
        });
        let segments = match io.input("assignments") {
            Some(path) => Some(read_segments(path, &universe.customers)?),
            None => None,
        };
        let labels = match io.input("profiles") {
            Some(path) => read_segment_labels(path)?,
            None => BTreeMap::new(),
        };
        let attributes = match (&catalogue, io.input("customers")) {
            (Some(specs), Some(path)) => {
                let columns = rule_columns(specs);
                Some(read_attributes(path, &columns, &universe.customers)?)
            }
            _ => None,
        };
        let eligibility = Eligibility::new(&universe.products, catalogue.as_deref(), attributes);
        let product_names = universe.display_names(catalogue.as_deref());
        let settings = Settings {
            neighbours: params.neighbours,
            similarity: params.similarity,
            reference_sample: params.reference_sample,
            seed: ctx.seed,
        };
        let available = available_methods(segments.is_some(), customer_features.is_some());
        let mut weights = resolve_weights(params, &available)?;
        let tuning = if params.tune {
            ctx.progress.step("tuning the blend on a validation split");
            let validation = holdout(
                &split.train,
                params.validation_fraction,
                ctx.seed ^ 0x7475_6e65,
            );
            let inputs = Inputs {
                product_names: &product_names,
                train: &validation.train,
                segments: segments.as_deref(),
                segment_labels: &labels,
                features: customer_features.as_ref(),
            };
            let fitted = Fitted::fit(&inputs, settings, &|s| ctx.progress.step(s));
            let tuned = tune(
                params,
                &fitted,
                &inputs,
                &eligibility,
                &validation.test,
                &weights,
                ctx.seed,
            );
            weights = tuned.weights.clone();
            report.notes.push(format!(
                "tuned the blend on {} validation customers: MAP@{} {:.4}",
                tuned.validation_customers, params.top_k, tuned.best_map
            ));
            Some(tuned)
        } else {
            None
        };

        let inputs = Inputs {
            product_names: &product_names,
            train: &split.train,
            segments: segments.as_deref(),
            segment_labels: &labels,
            features: customer_features.as_ref(),
        };
        let fitted = Fitted::fit(&inputs, settings, &|s| ctx.progress.step(s));
        let weight_vector: Vec<f64> = fitted
            .methods
            .iter()
            .map(|m| weights.get(m).copied().unwrap_or(0.0))
            .collect();
        let written = write_recommendations(
            params,
            io,
            &universe,
            &fitted,
            &inputs,
            &eligibility,
            &weight_vector,
            recommendations_path,
            ctx,
        )?;
        report.rows = written.rows;
        report
            .counts
            .insert("customers".into(), universe.customers.len() as u64);
        report
            .counts
            .insert("products".into(), universe.products.len() as u64);
        report.counts.insert(
            "customers_without_recommendations".into(),
            written.customers_without,
        );
        report
            .counts
            .insert("distinct_baskets".into(), fitted.distinct_baskets() as u64);
        if let Some(path) = io.output("train") {
            write_pairs(path, &universe, &split.train)?;
        }
        if let (Some(path), Some(test)) = (io.output("test"), &split.test) {
            let rows = write_pairs(path, &universe, test)?;
            report.counts.insert("test_pairs".into(), rows);
        }
        if let Some(path) = io.output("model") {
            write_model(
                path,
                &universe,
                &fitted,
                &eligibility,
                &weights,
                tuning.as_ref(),
                params,
            )?;
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

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &RecommendParams, io: &StageIo) -> Result<(), RecommendError> {
    let bad = |m: String| Err(RecommendError::Params(m));
    if params.top_k == 0 {
        return bad("top_k must be at least 1".into());
    }
    if params.neighbours == 0 || params.reference_sample == 0 {
        return bad("neighbours and reference_sample must be at least 1".into());
    }
    for (key, value) in [
        ("holdout_fraction", params.holdout_fraction),
        ("validation_fraction", params.validation_fraction),
    ] {
        if !(value > 0.0 && value < 1.0) {
            return bad(format!("{key} must be between 0 and 1 (exclusive)"));
        }
    }
    if !(params.tune_step > 0.0 && params.tune_step <= 1.0) {
        return bad("tune_step must be in (0, 1]".into());
    }
    if params.tune && params.tune_customers == 0 {
        return bad("tune_customers must be at least 1".into());
    }
    for (key, value) in [
        ("snapshot", &params.snapshot),
        ("test_snapshot", &params.test_snapshot),
    ] {
        if let Some(text) = value {
            if parse_date(text).is_none() {
                return bad(format!("{key} must be a date written YYYY-MM-DD"));
            }
        }
    }
    if params.test_snapshot.is_some() && params.split != SplitKind::Temporal {
        return bad("test_snapshot is only read with split = \"temporal\"".into());
    }
    match (params.split, io.output("test")) {
        (SplitKind::None, Some(_)) => {
            return bad("an output `test` needs split = \"holdout\" or \"temporal\"".into())
        }
        (SplitKind::Holdout | SplitKind::Temporal, None) => {
            return bad(
                "with a split, name an output `test`: the held-out products that evaluate scores"
                    .into(),
            )
        }
        _ => {}
    }
    if io.input("catalogue").is_some() && params.products.is_some() {
        return bad(
            "give the catalogue either as an input `catalogue` or as `products`, not both".into(),
        );
    }
    if let Some(products) = &params.products {
        check_rules_have_inputs(products, io)?;
    }
    if let Some(weights) = &params.weights {
        for (method, w) in weights {
            if !(w.is_finite() && *w >= 0.0) {
                return bad(format!("weights.{method} must be a finite number ≥ 0"));
            }
            if *w > 0.0 {
                if let Some(input) = method.needs() {
                    if io.input(input).is_none() {
                        return bad(format!(
                            "weights.{method} is above 0, but {method} needs an input `{input}`"
                        ));
                    }
                }
            }
        }
        if weights.values().all(|w| *w == 0.0) {
            return bad("weights: at least one method needs a weight above 0".into());
        }
    }
    Ok(())
}

fn check_rules_have_inputs(
    products: &[params::ProductSpec],
    io: &StageIo,
) -> Result<(), RecommendError> {
    if !rule_columns(products).is_empty() && io.input("customers").is_none() {
        return Err(RecommendError::Params(format!(
            "the catalogue's eligibility rules read the customer columns {}; name an input `customers` (the customer table)",
            rule_columns(products).join(", ")
        )));
    }
    if products.iter().any(|p| !p.excluded_segments.is_empty()) && io.input("assignments").is_none()
    {
        return Err(RecommendError::Params(
            "the catalogue excludes segments; name an input `assignments`".into(),
        ));
    }
    Ok(())
}

/// The methods the inputs allow, in [`Method`] order.
pub fn available_methods(segments: bool, features: bool) -> Vec<Method> {
    Method::ALL
        .into_iter()
        .filter(|m| match m.needs() {
            Some("assignments") => segments,
            Some(_) => features,
            None => true,
        })
        .collect()
}

fn resolve_weights(
    params: &RecommendParams,
    available: &[Method],
) -> Result<BTreeMap<Method, f64>, RecommendError> {
    Ok(match &params.weights {
        Some(weights) => available
            .iter()
            .map(|m| (*m, weights.get(m).copied().unwrap_or(0.0)))
            .collect(),
        None => available.iter().map(|m| (*m, m.default_weight())).collect(),
    })
}

/// The customers (every one with holdings or features, sorted by id) and products
/// (every one held or in the catalogue, sorted by id) of the run.
pub struct Universe {
    pub customers: Vec<String>,
    pub products: Vec<String>,
    /// The universe index of each customer of the holdings.
    holdings_customer: Vec<usize>,
    /// The universe product of each product of the holdings.
    holdings_product: Vec<usize>,
}

impl Universe {
    fn new(
        holdings: &Holdings,
        catalogue: Option<&[params::ProductSpec]>,
        feature_ids: &[String],
    ) -> Self {
        let mut customers: Vec<String> = holdings.customers.clone();
        let known: BTreeSet<&str> = holdings.customers.iter().map(String::as_str).collect();
        let extra: BTreeSet<&String> = feature_ids
            .iter()
            .filter(|id| !known.contains(id.as_str()))
            .collect();
        customers.extend(extra.into_iter().cloned());
        customers.sort_unstable();
        let mut products: BTreeSet<String> = holdings.products.iter().cloned().collect();
        if let Some(catalogue) = catalogue {
            products.extend(catalogue.iter().map(|p| p.id.clone()));
        }
        let products: Vec<String> = products.into_iter().collect();
        let index_in = |list: &[String], id: &String| list.binary_search(id).unwrap_or(0);
        Universe {
            holdings_customer: holdings
                .customers
                .iter()
                .map(|id| index_in(&customers, id))
                .collect(),
            holdings_product: holdings
                .products
                .iter()
                .map(|id| index_in(&products, id))
                .collect(),
            customers,
            products,
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.customers.binary_search_by(|c| c.as_str().cmp(id)).ok()
    }

    /// A holdings snapshot's baskets, by universe customer and product.
    fn baskets(&self, by_holdings_customer: &[Basket]) -> Vec<Basket> {
        let mut baskets = vec![0; self.customers.len()];
        for (h, &basket) in by_holdings_customer.iter().enumerate() {
            baskets[self.holdings_customer[h]] =
                products_of(basket).fold(0, |acc, p| acc | 1 << self.holdings_product[p]);
        }
        baskets
    }

    /// Product names for reasons: the catalogue's `name`, else the id.
    fn display_names(&self, catalogue: Option<&[params::ProductSpec]>) -> Vec<String> {
        self.products
            .iter()
            .map(|id| {
                catalogue
                    .and_then(|c| c.iter().find(|p| &p.id == id))
                    .and_then(|p| p.name.clone())
                    .unwrap_or_else(|| id.replace('_', " "))
            })
            .collect()
    }
}

/// What is recommended from, and what is held out.
struct Split {
    train: Vec<Basket>,
    test: Option<Vec<Basket>>,
    notes: Vec<String>,
}

fn split(
    params: &RecommendParams,
    holdings: &Holdings,
    universe: &Universe,
    path: &Path,
    seed: u64,
) -> Result<Split, RecommendError> {
    let dates: Vec<Option<i32>> = holdings.snapshots.iter().map(|(d, _)| *d).collect();
    let find = |key: &str, text: &str| -> Result<usize, RecommendError> {
        let day = parse_date(text);
        dates
            .iter()
            .position(|d| *d == day && day.is_some())
            .ok_or_else(|| {
                RecommendError::Params(format!(
                    "{key}: `{}` has no snapshot {text}; its snapshots are {}",
                    path.display(),
                    describe_snapshots(&dates)
                ))
            })
    };
    if dates.is_empty() {
        return Ok(Split {
            train: vec![0; universe.customers.len()],
            test: (params.split != SplitKind::None).then(|| vec![0; universe.customers.len()]),
            notes: vec!["the holdings table is empty".into()],
        });
    }
    let (train_at, test_at) = match params.split {
        SplitKind::Temporal => {
            if dates.len() < 2 {
                return Err(RecommendError::Params(format!(
                    "split = \"temporal\" needs two snapshots, but `{}` has {}",
                    path.display(),
                    describe_snapshots(&dates)
                )));
            }
            let train_at = match &params.snapshot {
                Some(text) => find("snapshot", text)?,
                None => dates.len() - 2,
            };
            let test_at = match &params.test_snapshot {
                Some(text) => find("test_snapshot", text)?,
                None => train_at + 1,
            };
            if test_at <= train_at || test_at >= dates.len() {
                return Err(RecommendError::Params(
                    "split = \"temporal\": the test snapshot must come after the training snapshot"
                        .into(),
                ));
            }
            (train_at, Some(test_at))
        }
        _ => match &params.snapshot {
            Some(text) => (find("snapshot", text)?, None),
            None => (dates.len() - 1, None),
        },
    };
    let train = universe.baskets(&holdings.snapshots[train_at].1);
    let snapshot_note = |i: usize| match dates[i] {
        Some(d) => format!("snapshot {}", format_date(d)),
        None => "the holdings".to_string(),
    };
    Ok(match (params.split, test_at) {
        (SplitKind::Temporal, Some(test_at)) => {
            let later = universe.baskets(&holdings.snapshots[test_at].1);
            let test: Vec<Basket> = later.iter().zip(&train).map(|(l, t)| l & !t).collect();
            let new: u32 = test.iter().map(|b| b.count_ones()).sum();
            Split {
                notes: vec![format!(
                    "temporal split: {} predicts {}, {new} products newly held",
                    snapshot_note(train_at),
                    snapshot_note(test_at)
                )],
                train,
                test: Some(test),
            }
        }
        (SplitKind::Holdout, _) => {
            let held = holdout(&train, params.holdout_fraction, seed);
            let out: u32 = held.test.iter().map(|b| b.count_ones()).sum();
            Split {
                notes: vec![format!(
                    "holdout split of {}: {out} products held out",
                    snapshot_note(train_at)
                )],
                train: held.train,
                test: Some(held.test),
            }
        }
        _ => Split {
            notes: vec![format!("recommending from {}", snapshot_note(train_at))],
            train,
            test: None,
        },
    })
}

fn describe_snapshots(dates: &[Option<i32>]) -> String {
    let named: Vec<String> = dates.iter().flatten().map(|d| format_date(*d)).collect();
    if named.is_empty() {
        "none (no snapshot column)".into()
    } else {
        named.join(", ")
    }
}

/// Baskets split into what is kept and what is held out.
struct Holdout {
    train: Vec<Basket>,
    test: Vec<Basket>,
}

/// Holds out `round(fraction × n)` of each customer's `n` products, at least one and
/// never all (customers with one product keep it), chosen with the seed, customer by
/// customer in id order.
fn holdout(baskets: &[Basket], fraction: f64, seed: u64) -> Holdout {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(baskets.len());
    let mut test = Vec::with_capacity(baskets.len());
    for &basket in baskets {
        let mut products: Vec<usize> = products_of(basket).collect();
        let n = products.len();
        if n < 2 {
            train.push(basket);
            test.push(0);
            continue;
        }
        let out = ((fraction * n as f64).round() as usize).clamp(1, n - 1);
        let mut held_out: Basket = 0;
        for i in 0..out {
            let j = rng.random_range(i..n);
            products.swap(i, j);
            held_out |= 1 << products[i];
        }
        train.push(basket & !held_out);
        test.push(held_out);
    }
    Holdout { train, test }
}

/// The segment of each universe customer; `None` for those without one and DBSCAN
/// noise (-1).
fn read_segments(path: &Path, customers: &[String]) -> Result<Vec<Option<i32>>, RecommendError> {
    let mut segments = vec![None; customers.len()];
    for (id, segment) in clientele_shared::schema::read_assignments(path)? {
        if let Ok(c) = customers.binary_search_by(|x| x.as_str().cmp(&id)) {
            segments[c] = (segment >= 0).then_some(segment);
        }
    }
    Ok(segments)
}

/// The result of tuning the blend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    pub validation_customers: usize,
    pub best_map: f64,
    pub weights: BTreeMap<Method, f64>,
    pub grid: Vec<GridPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridPoint {
    pub weights: BTreeMap<Method, f64>,
    pub map_at_k: f64,
}

#[allow(clippy::too_many_arguments)]
fn tune(
    params: &RecommendParams,
    fitted: &Fitted,
    inputs: &Inputs<'_>,
    eligibility: &Eligibility,
    held_out: &[Basket],
    configured: &BTreeMap<Method, f64>,
    seed: u64,
) -> Tuning {
    let blended: Vec<usize> = fitted
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| configured.get(m).is_some_and(|w| *w > 0.0))
        .map(|(i, _)| i)
        .collect();
    let with_held_out: Vec<usize> = (0..held_out.len()).filter(|&c| held_out[c] != 0).collect();
    let sample: Vec<usize> = sample_rows(with_held_out.len(), params.tune_customers, seed ^ 0x5a)
        .into_iter()
        .map(|i| with_held_out[i])
        .collect();
    let np = inputs.product_names.len();
    let cases: Vec<ValidationCase> = sample
        .par_iter()
        .map(|&c| {
            let mut scores = fitted.scratch();
            fitted.score(inputs, c, &mut scores);
            let candidates = candidates(eligibility, inputs, c);
            let mut normalised = vec![0.0; blended.len() * np];
            for (j, &m) in blended.iter().enumerate() {
                normalise(
                    &scores.raw[m * np..(m + 1) * np],
                    candidates,
                    &mut normalised[j * np..(j + 1) * np],
                );
            }
            ValidationCase {
                candidates,
                normalised,
                held_out: held_out[c],
            }
        })
        .collect();
    let grid = blend::weight_grid(blended.len(), params.tune_step);
    let maps = blend::grid_map(&cases, &grid, fitted.popularity(), params.top_k);
    let as_map = |weights: &[f64]| -> BTreeMap<Method, f64> {
        fitted
            .methods
            .iter()
            .map(|m| {
                let w = blended
                    .iter()
                    .position(|&i| fitted.methods[i] == *m)
                    .map_or(0.0, |j| weights[j]);
                (*m, w)
            })
            .collect()
    };
    let mut best = 0;
    for (i, &map) in maps.iter().enumerate() {
        if map > maps[best] {
            best = i;
        }
    }
    Tuning {
        validation_customers: cases.len(),
        best_map: maps.get(best).copied().unwrap_or(0.0),
        weights: grid
            .get(best)
            .map_or_else(|| configured.clone(), |w| as_map(w)),
        grid: grid
            .iter()
            .zip(&maps)
            .map(|(w, &map_at_k)| GridPoint {
                weights: as_map(w),
                map_at_k,
            })
            .collect(),
    }
}

/// The products customer `c` may be recommended: eligible and not held.
fn candidates(eligibility: &Eligibility, inputs: &Inputs<'_>, c: usize) -> Basket {
    let segment = inputs.segments.and_then(|s| s[c]);
    eligibility.for_customer(c, segment) & !inputs.train[c]
}

/// One recommendation of the blended list.
struct Row {
    customer: u32,
    rank: i32,
    product: u16,
    score: f64,
    method: String,
    reason: String,
}

/// One recommendation of a single method's list.
struct MethodRow {
    method: u8,
    customer: u32,
    rank: i32,
    product: u16,
    score: f64,
}

struct Written {
    rows: u64,
    customers_without: u64,
}

/// Customers scored per block; each block's rows are written before the next is
/// scored, so memory does not grow with the customers.
const BLOCK: usize = 64 * 1024;

#[allow(clippy::too_many_arguments)]
fn write_recommendations(
    params: &RecommendParams,
    io: &StageIo,
    universe: &Universe,
    fitted: &Fitted,
    inputs: &Inputs<'_>,
    eligibility: &Eligibility,
    weights: &[f64],
    path: &Path,
    ctx: &StageContext<'_>,
) -> Result<Written, RecommendError> {
    let mut sink = ParquetSink::create(path, recommendations_schema())?;
    let mut by_method = match io.output("by_method") {
        Some(p) => Some(ParquetSink::create(p, method_recommendations_schema())?),
        None => None,
    };
    let n = universe.customers.len();
    let np = universe.products.len();
    let k = params.top_k;
    let popularity = fitted.popularity();
    let mut customers_without = 0u64;
    let with_method_lists = by_method.is_some();
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let chunks: Vec<(Vec<Row>, Vec<MethodRow>, u64)> = (start..end)
            .collect::<Vec<_>>()
            .par_chunks(1024)
            .map(|chunk| {
                let mut scores = fitted.scratch();
                let mut normalised = vec![0.0; fitted.methods.len() * np];
                let mut blended = vec![0.0; np];
                let mut list = Vec::with_capacity(np);
                let (mut rows, mut method_rows, mut without) = (Vec::new(), Vec::new(), 0u64);
                for &c in chunk {
                    fitted.score(inputs, c, &mut scores);
                    let allowed = candidates(eligibility, inputs, c);
                    for m in 0..fitted.methods.len() {
                        normalise(
                            &scores.raw[m * np..(m + 1) * np],
                            allowed,
                            &mut normalised[m * np..(m + 1) * np],
                        );
                    }
                    if with_method_lists {
                        for m in 0..fitted.methods.len() {
                            top_k(
                                &normalised[m * np..(m + 1) * np],
                                allowed,
                                popularity,
                                k,
                                &mut list,
                            );
                            for (i, &p) in list.iter().enumerate() {
                                method_rows.push(MethodRow {
                                    method: m as u8,
                                    customer: c as u32,
                                    rank: i as i32 + 1,
                                    product: p as u16,
                                    score: scores.raw[m * np + p],
                                });
                            }
                        }
                    }
                    blend(&normalised, weights, &mut blended);
                    top_k(&blended, allowed, popularity, k, &mut list);
                    if list.is_empty() {
                        without += 1;
                    }
                    for (i, &p) in list.iter().enumerate() {
                        let mut contributions: Vec<(f64, usize)> = (0..fitted.methods.len())
                            .map(|m| (weights[m] * normalised[m * np + p], m))
                            .filter(|(v, _)| *v > 0.0)
                            .collect();
                        contributions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                        let method = contributions
                            .iter()
                            .map(|(_, m)| fitted.methods[*m].name())
                            .collect::<Vec<_>>()
                            .join("+");
                        let reason = fitted.reason(inputs, c, contributions[0].1, p, &scores);
                        rows.push(Row {
                            customer: c as u32,
                            rank: i as i32 + 1,
                            product: p as u16,
                            score: blended[p],
                            method,
                            reason,
                        });
                    }
                }
                (rows, method_rows, without)
            })
            .collect();
        for (rows, method_rows, without) in chunks {
            customers_without += without;
            if !rows.is_empty() {
                sink.write(&recommendation_batch(universe, &rows)?)?;
            }
            if let (Some(s), false) = (by_method.as_mut(), method_rows.is_empty()) {
                s.write(&method_batch(universe, fitted, &method_rows)?)?;
            }
        }
        ctx.progress.rows(end as u64, Some(n as u64));
    }
    let rows = sink.finish()?;
    if let Some(s) = by_method {
        s.finish()?;
    }
    Ok(Written {
        rows,
        customers_without,
    })
}

fn batch_error(e: arrow::error::ArrowError) -> RecommendError {
    RecommendError::Params(format!("building an output batch failed: {e}"))
}

fn recommendation_batch(universe: &Universe, rows: &[Row]) -> Result<RecordBatch, RecommendError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|r| &universe.customers[r.customer as usize]),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.rank))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &universe.products[r.product as usize]),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.score))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.method),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.reason),
        )),
    ];
    RecordBatch::try_new(recommendations_schema(), columns).map_err(batch_error)
}

fn method_batch(
    universe: &Universe,
    fitted: &Fitted,
    rows: &[MethodRow],
) -> Result<RecordBatch, RecommendError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|r| fitted.methods[r.method as usize].name()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|r| &universe.customers[r.customer as usize]),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.rank))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &universe.products[r.product as usize]),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.score))),
    ];
    RecordBatch::try_new(method_recommendations_schema(), columns).map_err(batch_error)
}

/// Writes `(customer, product)` for every product of every basket.
fn write_pairs(
    path: &Path,
    universe: &Universe,
    baskets: &[Basket],
) -> Result<u64, RecommendError> {
    let mut sink = ParquetSink::create(path, pairs_schema())?;
    for start in (0..baskets.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(baskets.len());
        let pairs: Vec<(usize, usize)> = (start..end)
            .flat_map(|c| products_of(baskets[c]).map(move |p| (c, p)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                pairs.iter().map(|(c, _)| &universe.customers[*c]),
            )),
            Arc::new(StringArray::from_iter_values(
                pairs.iter().map(|(_, p)| &universe.products[*p]),
            )),
        ];
        sink.write(&RecordBatch::try_new(pairs_schema(), columns).map_err(batch_error)?)?;
    }
    Ok(sink.finish()?)
}

/// Writes the model file (see [`model`]).
fn write_model(
    path: &Path,
    universe: &Universe,
    fitted: &Fitted,
    eligibility: &Eligibility,
    weights: &BTreeMap<Method, f64>,
    tuning: Option<&Tuning>,
    params: &RecommendParams,
) -> Result<(), RecommendError> {
    let np = universe.products.len();
    let similarity = fitted
        .item_similarity()
        .chunks(np.max(1))
        .map(<[f64]>::to_vec)
        .collect();
    let model = RecommendModel {
        format: model::MODEL_FORMAT,
        methods: fitted.methods.clone(),
        weights: weights.clone(),
        tuned: tuning.is_some(),
        top_k: params.top_k,
        neighbours: params.neighbours,
        similarity: params.similarity,
        distinct_baskets: fitted.distinct_baskets(),
        content_references: fitted.content_references(),
        tuning: tuning.cloned(),
        products: universe.products.clone(),
        popularity: fitted.popularity().to_vec(),
        eligibility: eligibility.rules(&universe.products),
        item_similarity: similarity,
    };
    let mut json = serde_json::to_string_pretty(&model).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())?;
    Ok(())
}
