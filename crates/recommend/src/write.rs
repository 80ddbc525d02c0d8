//! Writing the stage's outputs: the blended lists with their reasons, each method's own
//! list, the split's train and test pairs, and the model file. Customers are scored in
//! blocks and each block is written before the next is scored, so memory does not grow
//! with the customers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::ParquetSink;
use clientele_shared::schema::{
    method_recommendations_schema, pairs_schema, probabilities_schema, recommendations_schema,
};
use clientele_shared::stage::{StageContext, StageIo};
use clientele_shared::SharedError;
use rayon::prelude::*;

use crate::blend::{blend, candidates, normalise, top_k};
use crate::catalogue::Eligibility;
use crate::errors::{ParamError, RecommendError};
use crate::holdings::{products_of, Basket};
use crate::methods::{Fitted, Inputs};
use crate::model::{self, RecommendModel};
use crate::params::{Method, RecommendParams};
use crate::read::StageData;
use crate::split::Split;
use crate::tune::Tuning;
use crate::universe::Universe;

/// What the outputs hold, for the stage report.
pub struct Written {
    /// Rows of the blended lists.
    pub rows: u64,
    pub customers_without: u64,
    /// Held-out pairs, when a test output was written.
    pub test_pairs: Option<u64>,
}

/// Writes every output the ports name; the recommendations are always written.
#[allow(clippy::too_many_arguments)]
pub fn write_outputs(
    params: &RecommendParams,
    io: &StageIo,
    data: &StageData,
    split: &Split,
    fitted: &Fitted,
    weights: &BTreeMap<Method, f64>,
    tuning: Option<&Tuning>,
    recommendations_path: &Path,
    ctx: &StageContext<'_>,
) -> Result<Written, RecommendError> {
    let weight_vector: Vec<f64> = fitted
        .methods
        .iter()
        .map(|m| weights.get(m).copied().unwrap_or(0.0))
        .collect();
    let inputs = data.split_inputs(split);
    let lists = write_recommendations(
        params,
        io,
        &data.universe,
        fitted,
        &inputs,
        &data.eligibility,
        &weight_vector,
        recommendations_path,
        ctx,
    )?;
    if let Some(path) = io.output("train") {
        write_pairs(path, &data.universe, &split.train, ctx.parquet_key)?;
    }
    let mut test_pairs = None;
    if let (Some(path), Some(test)) = (io.output("test"), &split.test) {
        test_pairs = Some(write_pairs(path, &data.universe, test, ctx.parquet_key)?);
    }
    if let Some(path) = io.output("model") {
        write_model(path, data, split, fitted, weights, tuning, params)?;
    }
    Ok(Written {
        rows: lists.rows,
        customers_without: lists.customers_without,
        test_pairs,
    })
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

/// Rows of the blended lists, and the customers left without any.
struct Lists {
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
) -> Result<Lists, RecommendError> {
    let mut sink = ParquetSink::create(path, recommendations_schema(), ctx.parquet_key)?;
    let mut by_method = match io.output("by_method") {
        Some(p) => Some(ParquetSink::create(
            p,
            method_recommendations_schema(),
            ctx.parquet_key,
        )?),
        None => None,
    };
    let propensity = fitted.methods.iter().position(|m| *m == Method::Propensity);
    let mut probabilities = match (io.output("probabilities"), propensity) {
        (Some(p), Some(_)) => Some(ParquetSink::create(
            p,
            probabilities_schema(),
            ctx.parquet_key,
        )?),
        (Some(_), None) => return Err(ParamError::ProbabilitiesWithoutPropensity.into()),
        (None, _) => None,
    };
    let with_probabilities = probabilities.is_some();
    let n = universe.customers.len();
    let np = universe.products.len();
    let k = params.top_k;
    let popularity = fitted.popularity();
    let mut customers_without = 0u64;
    let with_method_lists = by_method.is_some();
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let chunks: Vec<Chunk> = (start..end)
            .collect::<Vec<_>>()
            .par_chunks(1024)
            .map(|chunk| {
                let mut scores = fitted.scratch();
                let mut normalised = vec![0.0; fitted.methods.len() * np];
                let mut blended = vec![0.0; np];
                let mut list = Vec::with_capacity(np);
                let (mut rows, mut method_rows, mut without) = (Vec::new(), Vec::new(), 0u64);
                let mut probability_rows = Vec::new();
                fitted.prepare(inputs, chunk, &mut scores);
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
                    // With a customer split, only the held-out customers' probabilities:
                    // the others were learnt from, and would flatter the evaluation.
                    let learnt_from = inputs.held_out_customers.is_some_and(|h| !h[c]);
                    if let (true, Some(m), false) = (with_probabilities, propensity, learnt_from) {
                        for p in products_of(allowed) {
                            probability_rows.push((c as u32, p as u16, scores.raw[m * np + p]));
                        }
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
                (rows, method_rows, probability_rows, without)
            })
            .collect();
        for (rows, method_rows, probability_rows, without) in chunks {
            if let (Some(s), false) = (probabilities.as_mut(), probability_rows.is_empty()) {
                s.write(&probability_batch(universe, &probability_rows)?)?;
            }
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
    if let Some(s) = probabilities {
        s.finish()?;
    }
    Ok(Lists {
        rows,
        customers_without,
    })
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
    RecordBatch::try_new(recommendations_schema(), columns).map_err(RecommendError::from)
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
    RecordBatch::try_new(method_recommendations_schema(), columns).map_err(RecommendError::from)
}

/// One chunk's lists, method lists, probabilities and customers without a list.
type Chunk = (Vec<Row>, Vec<MethodRow>, Vec<ProbabilityRow>, u64);
/// (customer, product, probability) by universe index.
type ProbabilityRow = (u32, u16, f64);

fn probability_batch(
    universe: &Universe,
    rows: &[ProbabilityRow],
) -> Result<RecordBatch, RecommendError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &universe.customers[r.0 as usize]),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &universe.products[r.1 as usize]),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
    ];
    RecordBatch::try_new(probabilities_schema(), columns).map_err(RecommendError::from)
}

/// Writes `(customer, product)` for every product of every basket.
fn write_pairs(
    path: &Path,
    universe: &Universe,
    baskets: &[Basket],
    key: Option<&ParquetKey>,
) -> Result<u64, RecommendError> {
    let mut sink = ParquetSink::create(path, pairs_schema(), key)?;
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
        sink.write(&RecordBatch::try_new(pairs_schema(), columns).map_err(RecommendError::from)?)?;
    }
    Ok(sink.finish()?)
}

/// Writes the model file (see [`model`]).
fn write_model(
    path: &Path,
    data: &StageData,
    split: &Split,
    fitted: &Fitted,
    weights: &BTreeMap<Method, f64>,
    tuning: Option<&Tuning>,
    params: &RecommendParams,
) -> Result<(), RecommendError> {
    let universe = &data.universe;
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
        tuned: tuning.is_some_and(|t| t.applied),
        top_k: params.top_k,
        neighbours: params.neighbours,
        similarity: params.similarity,
        distinct_baskets: fitted.distinct_baskets(),
        content_references: fitted.content_references(),
        tuning: tuning.cloned(),
        products: universe.products.clone(),
        popularity: fitted.popularity().to_vec(),
        eligibility: data.eligibility.rules(&universe.products),
        item_similarity: similarity,
        propensity: fitted.propensity_models(
            &universe.products,
            data.dates.as_ref(),
            split.train_date,
            data.features.as_ref().is_some_and(|f| f.panel.is_some()),
        ),
    };
    // Compact: the propensity trees are tens of thousands of numbers, one per line when
    // pretty-printed (`jq . recommend_model.json` shows it laid out).
    let mut json = serde_json::to_string(&model).map_err(|e| SharedError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    json.push('\n');
    clientele_shared::atomic::write_file(path, json.as_bytes())?;
    Ok(())
}
