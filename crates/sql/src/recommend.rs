//! The recommend stage's lists of one method as one query over a holdings table: the
//! item-based lists (`method = 'item_knn'` of `recommendations_by_method.parquet`), or the
//! propensity models' lists and probabilities (`method = 'propensity'`, and the stage's
//! `probabilities` output).
//!
//! Why the similarities and trees are written into the arithmetic rather than joined
//! from a `VALUES` table: a `SUM` over a join adds in whatever order the engine likes,
//! and a last-bit difference between two products' scores turns an exact tie (which goes
//! to the more popular product) into a strict order. The query adds the similarities of
//! the held products in product order, and each model's trees in tree order, as the Rust
//! code does, so the scores have the same bits. The products themselves (index, id,
//! popularity) are a `VALUES` list.

use std::fmt::Write;

use clientele_recommend::model::{PropensityInput, RecommendModel};

use crate::propensity::{input_expression, product_score};
use crate::{number, text, Dialect, Source, SqlError};

/// The tables the query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendSources {
    /// One row per customer and held product: `customer_id`, `product`. Other columns
    /// are ignored; filter a table of several snapshots to one first.
    pub holdings: Source,
    /// The customer table with the columns the eligibility rules and the propensity
    /// models' ages read, by `customer_id`.
    pub customers: Option<Source>,
    /// Segment assignments (`customer_id`, `segment`), when products exclude segments
    /// or the propensity models read them.
    pub segments: Option<Source>,
    /// The features table the propensity models read (the preprocess stage's output).
    pub features: Option<Source>,
}

/// What the query writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecommendQuery<'a> {
    /// The item-based lists: `method` (`item_knn`), `customer_id`, `rank`, `product`,
    /// `score` (the summed similarity).
    ItemKnn,
    /// The propensity lists: `method` (`propensity`), `customer_id`, `rank`, `product`,
    /// `score` (the probability).
    Propensity,
    /// The propensity models' probability of every candidate product: `customer_id`,
    /// `product`, `probability`, as the stage's `probabilities` output. With `products`
    /// named, only theirs: a query an engine can plan when the whole model is too large
    /// for it (lists cannot be cut so, since each is normalised over every candidate).
    Probabilities { products: &'a [String] },
}

impl RecommendQuery<'_> {
    fn method(self) -> &'static str {
        match self {
            RecommendQuery::ItemKnn => "item_knn",
            RecommendQuery::Propensity | RecommendQuery::Probabilities { .. } => "propensity",
        }
    }
}

/// The lists (or probabilities) of the recommend model for the customers of `holdings`
/// (and, for the propensity models, of `features`): best first, at most `top_k` per
/// customer.
///
/// As in the stage: the candidates are the recommendable products the customer does not
/// hold and may be offered; scores are min-max normalised over the candidates; a
/// product is listed only if its normalised score is above 0; ties go to the more
/// popular product, then to the first in product order. Products the model does not know
/// are ignored. A customer without a features row scores 0 for every product with a
/// model (the popularity of those without), as in the stage.
pub fn recommend(
    dialect: Dialect,
    model: &RecommendModel,
    sources: &RecommendSources,
    query: RecommendQuery<'_>,
) -> Result<String, SqlError> {
    let np = model.products.len();
    if model.eligibility.recommendable.is_empty() {
        return Err(SqlError::NothingToRecommend);
    }
    let propensity = match query {
        RecommendQuery::ItemKnn => None,
        RecommendQuery::Propensity | RecommendQuery::Probabilities { .. } => {
            Some(model.propensity.as_ref().ok_or(SqlError::NoPropensity)?)
        }
    };
    let q = |name: &str| dialect.quote(name);
    let id = q("customer_id");

    // Which products are candidates at all, and each one's eligibility condition.
    let mut conditions: Vec<Option<String>> = vec![None; np];
    let mut customer_columns: Vec<&str> = Vec::new();
    let mut reads_segments = false;
    for rules in &model.eligibility.rules {
        let Some(p) = model.product_index(&rules.product) else {
            continue;
        };
        let mut bounds: Vec<String> = Vec::new();
        for (column, least) in &rules.at_least {
            bounds.push(format!(
                "CAST(c.{} AS DOUBLE) >= {}",
                q(column),
                number(*least)
            ));
            customer_columns.push(column);
        }
        for (column, most) in &rules.at_most {
            bounds.push(format!(
                "CAST(c.{} AS DOUBLE) <= {}",
                q(column),
                number(*most)
            ));
            customer_columns.push(column);
        }
        let mut parts = Vec::new();
        if !bounds.is_empty() {
            // An unknown value fails the rule: NULL >= x is NULL, and NULL is not TRUE.
            parts.push(format!("COALESCE({}, FALSE)", bounds.join(" AND ")));
        }
        // Customers without a segment and DBSCAN noise (-1) are never excluded.
        let excluded: Vec<String> = rules
            .excluded_segments
            .iter()
            .filter(|s| **s >= 0)
            .map(i32::to_string)
            .collect();
        if !excluded.is_empty() {
            parts.push(format!(
                "COALESCE(g.{} NOT IN ({}), TRUE)",
                q("segment"),
                excluded.join(", ")
            ));
            reads_segments = true;
        }
        if !parts.is_empty() {
            conditions[p] = Some(parts.join(" AND "));
        }
    }
    let mut why_customers = "the catalogue's eligibility rules read the customer columns";
    let mut why_segments = "the catalogue excludes products from segments";
    if let Some(models) = propensity {
        for input in &models.inputs {
            match input {
                PropensityInput::Age { column, .. } if models.scored_day.is_some() => {
                    if customer_columns.is_empty() {
                        why_customers = "the propensity models read ages from the columns";
                    }
                    customer_columns.push(column);
                }
                PropensityInput::Segment { .. } if !reads_segments => {
                    reads_segments = true;
                    why_segments = "the propensity models read the segments";
                }
                _ => {}
            }
        }
    }
    customer_columns.sort_unstable();
    customer_columns.dedup();

    let holdings = dialect.from(&sources.holdings)?;
    let mut joins = String::new();
    if !customer_columns.is_empty() {
        let customers = sources
            .customers
            .as_ref()
            .ok_or_else(|| SqlError::MissingSource {
                table: "customers",
                why: format!("{why_customers} {}", customer_columns.join(", ")),
            })?;
        let _ = write!(
            joins,
            "\n  LEFT JOIN {} AS c ON c.{id} = d.{id}",
            dialect.from(customers)?
        );
    }
    if reads_segments {
        let segments = sources
            .segments
            .as_ref()
            .ok_or_else(|| SqlError::MissingSource {
                table: "segments",
                why: why_segments.into(),
            })?;
        let _ = write!(
            joins,
            "\n  LEFT JOIN {} AS g ON g.{id} = d.{id}",
            dialect.from(segments)?
        );
    }

    let held: Vec<String> = model
        .products
        .iter()
        .enumerate()
        .map(|(h, product)| {
            format!(
                "MAX(CASE WHEN {} = {} THEN 1E0 ELSE 0E0 END) AS h{h}",
                q("product"),
                text(product)
            )
        })
        .collect();
    let mut candidates = recommendable(model);
    if let RecommendQuery::Probabilities { products } = query {
        if !products.is_empty() {
            candidates = chosen(model, &candidates, products)?;
        }
    }

    let mut query_text = String::new();
    let _ = write!(
        query_text,
        "WITH held AS (\n  SELECT\n    {id},\n    {}\n  FROM {holdings}\n  GROUP BY {id}\n),\n",
        held.join(",\n    ")
    );
    // `base`: per customer, the held flags, the eligibility conditions and (propensity)
    // the models' inputs; `scored` adds each candidate's score `s{p}`.
    let mut base: Vec<String> = vec![format!("d.{id} AS {id}")];
    // Each candidate: propensity's sum of trees or terms (`u{p}`) when it has one, and
    // its score expression.
    let mut scores: Vec<(usize, Option<String>, String)> = Vec::new();
    match propensity {
        None => {
            base.extend((0..np).map(|h| format!("d.h{h} AS h{h}")));
            for &p in &candidates {
                // The held products' similarities added in product order from 0, as the
                // Rust code adds them. Zero terms are left out: adding +0 to a sum that
                // started at +0 and only grew changes no bit.
                let mut sum = "0E0".to_string();
                for (h, row) in model.item_similarity.iter().enumerate() {
                    if row[p] != 0.0 {
                        sum = format!("({sum} + h{h} * {})", number(row[p]));
                    }
                }
                scores.push((p, None, sum));
            }
        }
        Some(models) => {
            let features = sources
                .features
                .as_ref()
                .ok_or_else(|| SqlError::MissingSource {
                    table: "features",
                    why: "the propensity models read the customers' features".into(),
                })?;
            let features = dialect.from(features)?;
            // A panel: each customer's latest row on or before the scored snapshot, as
            // the stage scores it (none when the stage knew no snapshot date).
            let rows = match (models.panel, models.scored_day) {
                (false, _) => format!("SELECT * FROM {features}"),
                (true, Some(day)) => format!(
                    "SELECT * FROM (\n    SELECT *, ROW_NUMBER() OVER (PARTITION BY {id} ORDER BY {snapshot} DESC) AS latest\n    FROM {features}\n    WHERE {} <= {day}\n  ) AS dated\n  WHERE latest = 1",
                    dialect.days_since_1970(&q("snapshot")),
                    snapshot = q("snapshot"),
                ),
                (true, None) => format!("SELECT * FROM {features} WHERE 1 = 0"),
            };
            let _ = write!(query_text, "features AS (\n  {rows}\n),\n");
            // The customers of the holdings and of the features, as the stage's.
            let _ = write!(
                query_text,
                "people AS (\n  SELECT {id} FROM held\n  UNION\n  SELECT {id} FROM features\n),\n"
            );
            let _ = write!(
                joins,
                "\n  LEFT JOIN held AS k ON k.{id} = d.{id}\n  LEFT JOIN features AS f ON f.{id} = d.{id}"
            );
            base.extend((0..np).map(|h| format!("COALESCE(k.h{h}, 0E0) AS h{h}")));
            base.push(format!("f.{id} IS NOT NULL AS has_row"));
            let product_index = |name: &str| model.product_index(name);
            for (j, input) in models.inputs.iter().enumerate() {
                let expression = input_expression(dialect, models, input, &product_index)?;
                base.push(format!("{expression} AS i{j}"));
            }
            let width = models.inputs.len();
            for &p in &candidates {
                let product = models.products.get(p).ok_or_else(|| {
                    SqlError::PropensityModel(format!(
                        "no model for product `{}`",
                        model.products[p]
                    ))
                })?;
                let (sum, probability) = product_score(product, p, width)?;
                scores.push((p, sum, probability));
            }
        }
    }
    for (p, condition) in conditions.iter().enumerate() {
        if let Some(condition) = condition {
            base.push(format!("{condition} AS e{p}"));
        }
    }
    let driver = if propensity.is_some() {
        "people"
    } else {
        "held"
    };
    let _ = write!(
        query_text,
        "base AS (\n  SELECT\n    {}\n  FROM {driver} AS d{joins}\n),\n",
        base.join(",\n    ")
    );
    let mut kept: Vec<String> = vec![id.clone()];
    kept.extend((0..np).map(|h| format!("h{h}")));
    kept.extend(
        conditions
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| format!("e{p}")),
    );
    let eligible = |p: usize| {
        if conditions[p].is_some() {
            format!(" AND e{p}")
        } else {
            String::new()
        }
    };
    if propensity.is_some() {
        // One `SELECT` per product, joined by `UNION ALL`, each over a table of its own
        // sum of trees: no engine then compiles one projection of every product's trees
        // (Spark ran out of 4 GB on the quickstart's 2,000 trees in one projection, and
        // it inlines a table read by several `SELECT`s into each).
        let mut branches: Vec<String> = Vec::new();
        for (p, sum, score) in &scores {
            let from = match sum {
                Some(sum) => {
                    let _ = write!(
                        query_text,
                        "u{p} AS (\n  SELECT\n    {}\n  FROM base\n),\n",
                        kept.iter()
                            .map(String::as_str)
                            .chain(["has_row", &format!("{sum} AS u{p}")])
                            .collect::<Vec<_>>()
                            .join(",\n    ")
                    );
                    format!("u{p}")
                }
                None => "base".to_string(),
            };
            branches.push(format!(
                "  SELECT\n    {id},\n    {p} AS product_index,\n    {} AS product_id,\n    {} AS popularity,\n    {score} AS score\n  FROM {from}\n  WHERE h{p} = 0E0{}",
                text(&model.products[*p]),
                number(model.popularity[*p]),
                eligible(*p)
            ));
        }
        let _ = write!(
            query_text,
            "candidates AS (\n{}\n)",
            branches.join("\n  UNION ALL\n")
        );
    } else {
        kept.extend(
            scores
                .iter()
                .map(|(p, _, score)| format!("{score} AS s{p}")),
        );
        let _ = write!(
            query_text,
            "scored AS (\n  SELECT\n    {}\n  FROM base\n),\n",
            kept.join(",\n    ")
        );
        let mut score = String::from("CASE p.product_index");
        let mut allowed = String::from("CASE p.product_index");
        for &p in &candidates {
            let _ = write!(score, " WHEN {p} THEN s{p}");
            let _ = write!(allowed, "\n      WHEN {p} THEN h{p} = 0E0{}", eligible(p));
        }
        score.push_str(" END");
        allowed.push_str("\n    END");
        let _ = write!(
            query_text,
            "candidates AS (\n  SELECT\n    scored.{id} AS {id},\n    p.product_index,\n    p.product_id,\n    p.popularity,\n    {score} AS score\n  FROM scored\n  CROSS JOIN (VALUES\n    {}\n  ) AS p(product_index, product_id, popularity)\n  WHERE {allowed}\n)",
            product_values(model, &candidates)
        );
    }
    if matches!(query, RecommendQuery::Probabilities { .. }) {
        let _ = write!(
            query_text,
            "\nSELECT\n  {id},\n  product_id AS {},\n  score AS {}\nFROM candidates\n",
            q("product"),
            q("probability")
        );
        return Ok(query_text);
    }
    query_text.push_str(",\n");
    lists(&mut query_text, dialect, query.method(), model.top_k);
    Ok(query_text)
}

/// Appends to `query_text` (a `WITH` list ending in `candidates`: `customer_id`,
/// `product_index`, `product_id`, `popularity`, `score`, and a comma) the lists of
/// `method` as the stage writes them: scores min-max normalised over each customer's
/// candidates, those above 0 ranked, ties to the more popular product, then product
/// order; at most `top_k` per customer.
fn lists(query_text: &mut String, dialect: Dialect, method: &str, top_k: usize) {
    let q = |name: &str| dialect.quote(name);
    let id = q("customer_id");
    let _ = write!(
        query_text,
        "spans AS (\n  SELECT\n    {id},\n    product_index,\n    product_id,\n    popularity,\n    score,\n    MIN(score) OVER (PARTITION BY {id}) AS low,\n    MAX(score) OVER (PARTITION BY {id}) AS high\n  FROM candidates\n),\n"
    );
    // Guarded division: a customer whose candidates all score the same gets no list.
    let _ = write!(
        query_text,
        "normalised AS (\n  SELECT\n    {id},\n    product_index,\n    product_id,\n    popularity,\n    score,\n    CASE WHEN high > low THEN (score - low) / (high - low) ELSE 0E0 END AS normalised\n  FROM spans\n),\n"
    );
    let _ = write!(
        query_text,
        "ranked AS (\n  SELECT\n    {id},\n    product_id,\n    score,\n    ROW_NUMBER() OVER (PARTITION BY {id} ORDER BY normalised DESC, popularity DESC, product_index) AS position\n  FROM normalised\n  WHERE normalised > 0E0\n)\n"
    );
    let _ = write!(
        query_text,
        "SELECT\n  '{}' AS {},\n  {id},\n  CAST(position AS {}) AS {},\n  product_id AS {},\n  score AS {}\nFROM ranked\nWHERE position <= {}\n",
        method,
        q("method"),
        dialect.integer_type(),
        q("rank"),
        q("product"),
        q("score"),
        top_k
    );
}

/// The propensity lists from a table of the propensity probabilities (`customer_id`,
/// `product`, `probability`, as `RecommendQuery::Probabilities` writes them, or the
/// stage's `probabilities` output): the same lists as `RecommendQuery::Propensity`.
/// For engines that plan every product's trees in one query poorly: they run the
/// probabilities one product at a time into a table, then this query over it.
pub fn propensity_lists(
    dialect: Dialect,
    model: &RecommendModel,
    probabilities: &Source,
) -> Result<String, SqlError> {
    if model.propensity.is_none() {
        return Err(SqlError::NoPropensity);
    }
    let candidates = recommendable(model);
    if candidates.is_empty() {
        return Err(SqlError::NothingToRecommend);
    }
    let q = |name: &str| dialect.quote(name);
    let id = q("customer_id");
    // The probabilities table holds each customer's candidates only (held and
    // ineligible products are not in it), so the lists need no holdings.
    let mut query_text = format!(
        "WITH candidates AS (\n  SELECT\n    r.{id} AS {id},\n    p.product_index,\n    p.product_id,\n    p.popularity,\n    CAST(r.{probability} AS DOUBLE) AS score\n  FROM {table} AS r\n  JOIN (VALUES\n    {}\n  ) AS p(product_index, product_id, popularity)\n    ON r.{product} = p.product_id\n),\n",
        product_values(model, &candidates),
        probability = q("probability"),
        product = q("product"),
        table = dialect.from(probabilities)?,
    );
    lists(&mut query_text, dialect, "propensity", model.top_k);
    Ok(query_text)
}

/// The products the model may recommend, by index, in product order.
fn recommendable(model: &RecommendModel) -> Vec<usize> {
    model
        .eligibility
        .recommendable
        .iter()
        .filter_map(|p| model.product_index(p))
        .collect()
}

/// The rows of the `VALUES` table of `candidates`: (index, id, popularity).
fn product_values(model: &RecommendModel, candidates: &[usize]) -> String {
    candidates
        .iter()
        .map(|&p| {
            format!(
                "({p}, {}, {})",
                text(&model.products[p]),
                number(model.popularity[p])
            )
        })
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// The candidates among `products` (named by id), in product order; an error names a
/// product the model does not know or never recommends.
fn chosen(
    model: &RecommendModel,
    candidates: &[usize],
    products: &[String],
) -> Result<Vec<usize>, SqlError> {
    for product in products {
        match model.product_index(product) {
            None => {
                return Err(SqlError::UnknownProduct {
                    product: product.clone(),
                    known: model.products.join(", "),
                })
            }
            Some(p) if !candidates.contains(&p) => {
                return Err(SqlError::NotRecommended(product.clone()))
            }
            Some(_) => {}
        }
    }
    Ok(candidates
        .iter()
        .copied()
        .filter(|&p| products.contains(&model.products[p]))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clientele_recommend::model::{EligibilityRules, ProductRules, MODEL_FORMAT};
    use clientele_recommend::{Method, Similarity};

    use super::*;

    fn model(rules: Vec<ProductRules>) -> RecommendModel {
        RecommendModel {
            format: MODEL_FORMAT,
            methods: vec![Method::Popularity, Method::ItemKnn],
            weights: BTreeMap::from([(Method::ItemKnn, 1.0)]),
            tuned: false,
            top_k: 2,
            neighbours: 20,
            similarity: Similarity::Cosine,
            distinct_baskets: 2,
            content_references: None,
            tuning: None,
            products: vec!["card".into(), "loan".into(), "legacy".into()],
            popularity: vec![0.5, 0.25, 0.125],
            eligibility: EligibilityRules {
                recommendable: vec!["card".into(), "loan".into()],
                rules,
            },
            item_similarity: vec![
                vec![0.0, 0.5, 0.25],
                vec![0.5, 0.0, 0.0],
                vec![0.25, 0.0, 0.0],
            ],
            propensity: None,
        }
    }

    fn sources() -> RecommendSources {
        RecommendSources {
            holdings: Source::Table("holdings".into()),
            customers: None,
            segments: None,
            features: None,
        }
    }

    #[test]
    fn scores_add_the_held_products_in_product_order_and_leave_out_zeros() {
        let query = recommend(
            Dialect::Duckdb,
            &model(vec![]),
            &sources(),
            RecommendQuery::ItemKnn,
        )
        .unwrap();
        assert!(
            query.contains("((0E0 + h1 * 5E-1) + h2 * 2.5E-1) AS s0"),
            "{query}"
        );
        assert!(query.contains("(0E0 + h0 * 5E-1) AS s1"), "{query}");
        // `legacy` is held (it scores the others) but is never recommended.
        assert!(!query.contains("AS s2"), "{query}");
        assert!(
            query.contains("(0, 'card', 5E-1),\n    (1, 'loan', 2.5E-1)\n"),
            "{query}"
        );
        assert!(query.contains("WHERE position <= 2"), "{query}");
        assert!(!query.contains("JOIN read_parquet"), "{query}");
    }

    #[test]
    fn rules_join_the_tables_they_read_and_say_which_is_missing() {
        let rules = vec![ProductRules {
            product: "loan".into(),
            at_least: BTreeMap::from([("income".into(), 15_000.0)]),
            at_most: BTreeMap::new(),
            excluded_segments: vec![-1, 3],
        }];
        let err = recommend(
            Dialect::Duckdb,
            &model(rules.clone()),
            &sources(),
            RecommendQuery::ItemKnn,
        )
        .unwrap_err();
        assert!(err.to_string().contains("income"), "{err}");
        let with = RecommendSources {
            customers: Some(Source::Parquet("customers.parquet".into())),
            ..sources()
        };
        let err = recommend(
            Dialect::Duckdb,
            &model(rules.clone()),
            &with,
            RecommendQuery::ItemKnn,
        )
        .unwrap_err();
        assert!(err.to_string().contains("segments"), "{err}");
        let all = RecommendSources {
            segments: Some(Source::Table("segments".into())),
            ..with
        };
        let query =
            recommend(Dialect::Spark, &model(rules), &all, RecommendQuery::ItemKnn).unwrap();
        assert!(
            query.contains("COALESCE(CAST(c.`income` AS DOUBLE) >= 1.5E4, FALSE) AND COALESCE(g.`segment` NOT IN (3), TRUE) AS e1"),
            "{query}"
        );
        assert!(query.contains("WHEN 1 THEN h1 = 0E0 AND e1"), "{query}");
        assert!(
            query.contains("LEFT JOIN parquet.`customers.parquet` AS c"),
            "{query}"
        );
        assert!(query.contains("LEFT JOIN segments AS g"), "{query}");
    }

    #[test]
    fn propensity_needs_its_models_and_the_tables_its_inputs_come_from() {
        use clientele_recommend::model::{ProductPropensity, PropensityInput, PropensityModels};
        let mut m = model(vec![]);
        assert_eq!(
            recommend(Dialect::Duckdb, &m, &sources(), RecommendQuery::Propensity),
            Err(SqlError::NoPropensity)
        );
        m.propensity = Some(PropensityModels {
            training: "look_alike".into(),
            inputs: vec![
                PropensityInput::Feature {
                    name: "income".into(),
                },
                PropensityInput::Segment { segment: 2 },
            ],
            products: vec![ProductPropensity::Popularity { share: 0.5 }; 3],
            scored_day: None,
            panel: false,
        });
        let err = recommend(
            Dialect::Duckdb,
            &m,
            &sources(),
            RecommendQuery::Probabilities { products: &[] },
        )
        .unwrap_err();
        assert!(err.to_string().contains("the segments table"), "{err}");
        let with = RecommendSources {
            segments: Some(Source::Table("segments".into())),
            ..sources()
        };
        let err = recommend(
            Dialect::Duckdb,
            &m,
            &with,
            RecommendQuery::Probabilities { products: &[] },
        )
        .unwrap_err();
        assert!(err.to_string().contains("the features table"), "{err}");
        let all = RecommendSources {
            features: Some(Source::Parquet("features.parquet".into())),
            ..with
        };
        let query = recommend(
            Dialect::Duckdb,
            &m,
            &all,
            RecommendQuery::Probabilities { products: &[] },
        )
        .unwrap();
        // Popularity-only products need no sum of their own; one SELECT per candidate.
        assert!(!query.contains("u0 AS ("), "{query}");
        assert_eq!(query.matches("UNION ALL").count(), 1, "{query}");
        assert!(
            query.contains("CASE WHEN g.\"segment\" = 2 THEN 1E0 ELSE 0E0 END AS i1"),
            "{query}"
        );
        assert!(query.ends_with("FROM candidates\n"), "{query}");

        let loan = ["loan".to_string()];
        let query = recommend(
            Dialect::Duckdb,
            &m,
            &all,
            RecommendQuery::Probabilities { products: &loan },
        )
        .unwrap();
        assert_eq!(query.matches("UNION ALL").count(), 0, "{query}");
        assert!(query.contains("'loan' AS product_id"), "{query}");
        assert!(!query.contains("'card' AS product_id"), "{query}");
        for (named, says) in [
            ("legacy", "never recommends"),
            ("gold", "card, loan, legacy"),
        ] {
            let named = [named.to_string()];
            let err = recommend(
                Dialect::Duckdb,
                &m,
                &all,
                RecommendQuery::Probabilities { products: &named },
            )
            .unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn a_model_that_recommends_nothing_is_refused() {
        let mut m = model(vec![]);
        m.eligibility.recommendable.clear();
        assert_eq!(
            recommend(Dialect::Duckdb, &m, &sources(), RecommendQuery::ItemKnn),
            Err(SqlError::NothingToRecommend)
        );
    }
}
