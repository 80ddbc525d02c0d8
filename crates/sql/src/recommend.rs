//! The recommend stage's item-based lists (`method = 'item_knn'` of
//! `recommendations_by_method.parquet`) as one query over a holdings table.
//!
//! Why the similarities are written into the arithmetic rather than joined from a
//! `VALUES` table: a `SUM` over a join adds in whatever order the engine likes, and a
//! last-bit difference between two products' scores turns an exact tie (which goes to
//! the more popular product) into a strict order. The query adds the similarities of
//! the held products in product order, as the Rust code does, so the scores have the
//! same bits and the lists are the same. The products themselves (index, id,
//! popularity) are a `VALUES` list.

use std::fmt::Write;

use clientele_recommend::model::RecommendModel;

use crate::{number, text, Dialect, Source, SqlError};

/// The tables the query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendSources {
    /// One row per customer and held product: `customer_id`, `product`. Other columns
    /// are ignored; filter a table of several snapshots to one first.
    pub holdings: Source,
    /// The customer table with the columns the eligibility rules read, by `customer_id`.
    pub customers: Option<Source>,
    /// Segment assignments (`customer_id`, `segment`), when products exclude segments.
    pub segments: Option<Source>,
}

/// The item-based lists of the recommend model for the customers of `holdings`:
/// `method` (`item_knn`), `customer_id`, `rank`, `product`, `score` (the summed
/// similarity, as the stage writes it), best first, at most `top_k` per customer.
///
/// As in the stage: the candidates are the recommendable products the customer does not
/// hold and may be offered; scores are min-max normalised over the candidates; a
/// product is listed only if its normalised score is above 0; ties go to the more
/// popular product, then to the first in product order. Products the model does not know
/// are ignored.
pub fn recommend(
    dialect: Dialect,
    model: &RecommendModel,
    sources: &RecommendSources,
) -> Result<String, SqlError> {
    let np = model.products.len();
    if model.eligibility.recommendable.is_empty() {
        return Err(SqlError::NothingToRecommend);
    }
    let q = |name: &str| dialect.quote(name);
    let id = q("customer_id");

    // Which products are candidates at all, and each one's eligibility condition.
    let mut conditions: Vec<Option<String>> = vec![None; np];
    let mut rule_columns: Vec<&str> = Vec::new();
    let mut excludes_segments = false;
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
            rule_columns.push(column);
        }
        for (column, most) in &rules.at_most {
            bounds.push(format!(
                "CAST(c.{} AS DOUBLE) <= {}",
                q(column),
                number(*most)
            ));
            rule_columns.push(column);
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
            excludes_segments = true;
        }
        if !parts.is_empty() {
            conditions[p] = Some(parts.join(" AND "));
        }
    }
    rule_columns.sort_unstable();
    rule_columns.dedup();

    let holdings = dialect.from(&sources.holdings)?;
    let mut joins = String::new();
    if !rule_columns.is_empty() {
        let customers = sources
            .customers
            .as_ref()
            .ok_or_else(|| SqlError::MissingSource {
                table: "customers",
                why: format!(
                    "the catalogue's eligibility rules read the customer columns {}",
                    rule_columns.join(", ")
                ),
            })?;
        let _ = write!(
            joins,
            "\n  LEFT JOIN {} AS c ON c.{id} = held.{id}",
            dialect.from(customers)?
        );
    }
    if excludes_segments {
        let segments = sources
            .segments
            .as_ref()
            .ok_or_else(|| SqlError::MissingSource {
                table: "segments",
                why: "the catalogue excludes products from segments".into(),
            })?;
        let _ = write!(
            joins,
            "\n  LEFT JOIN {} AS g ON g.{id} = held.{id}",
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
    let candidates: Vec<usize> = model
        .eligibility
        .recommendable
        .iter()
        .filter_map(|p| model.product_index(p))
        .collect();
    let mut scored: Vec<String> = vec![format!("held.{id} AS {id}")];
    scored.extend((0..np).map(|h| format!("h{h}")));
    for &p in &candidates {
        // The held products' similarities added in product order from 0, as the Rust
        // code adds them. Zero terms are left out: adding +0 to a sum that started at
        // +0 and only grew changes no bit.
        let mut sum = "0E0".to_string();
        for (h, row) in model.item_similarity.iter().enumerate() {
            if row[p] != 0.0 {
                sum = format!("({sum} + h{h} * {})", number(row[p]));
            }
        }
        scored.push(format!("{sum} AS s{p}"));
        if let Some(condition) = &conditions[p] {
            scored.push(format!("{condition} AS e{p}"));
        }
    }
    let mut score = String::from("CASE p.product_index");
    let mut allowed = String::from("CASE p.product_index");
    for &p in &candidates {
        let _ = write!(score, " WHEN {p} THEN s{p}");
        let eligible = if conditions[p].is_some() {
            format!(" AND e{p}")
        } else {
            String::new()
        };
        let _ = write!(allowed, "\n      WHEN {p} THEN h{p} = 0E0{eligible}");
    }
    score.push_str(" END");
    allowed.push_str("\n    END");
    let products: Vec<String> = candidates
        .iter()
        .map(|&p| {
            format!(
                "({p}, {}, {})",
                text(&model.products[p]),
                number(model.popularity[p])
            )
        })
        .collect();

    let mut query = String::new();
    let _ = write!(
        query,
        "WITH held AS (\n  SELECT\n    {id},\n    {}\n  FROM {holdings}\n  GROUP BY {id}\n),\n",
        held.join(",\n    ")
    );
    let _ = write!(
        query,
        "scored AS (\n  SELECT\n    {}\n  FROM held{joins}\n),\n",
        scored.join(",\n    ")
    );
    let _ = write!(
        query,
        "candidates AS (\n  SELECT\n    scored.{id} AS {id},\n    p.product_index,\n    p.product_id,\n    p.popularity,\n    {score} AS score\n  FROM scored\n  CROSS JOIN (VALUES\n    {}\n  ) AS p(product_index, product_id, popularity)\n  WHERE {allowed}\n),\n",
        products.join(",\n    ")
    );
    let _ = write!(
        query,
        "spans AS (\n  SELECT\n    {id},\n    product_index,\n    product_id,\n    popularity,\n    score,\n    MIN(score) OVER (PARTITION BY {id}) AS low,\n    MAX(score) OVER (PARTITION BY {id}) AS high\n  FROM candidates\n),\n"
    );
    // Guarded division: a customer whose candidates all score the same gets no list.
    let _ = write!(
        query,
        "normalised AS (\n  SELECT\n    {id},\n    product_index,\n    product_id,\n    popularity,\n    score,\n    CASE WHEN high > low THEN (score - low) / (high - low) ELSE 0E0 END AS normalised\n  FROM spans\n),\n"
    );
    let _ = write!(
        query,
        "ranked AS (\n  SELECT\n    {id},\n    product_id,\n    score,\n    ROW_NUMBER() OVER (PARTITION BY {id} ORDER BY normalised DESC, popularity DESC, product_index) AS position\n  FROM normalised\n  WHERE normalised > 0E0\n)\n"
    );
    let _ = write!(
        query,
        "SELECT\n  'item_knn' AS {},\n  {id},\n  CAST(position AS {}) AS {},\n  product_id AS {},\n  score AS {}\nFROM ranked\nWHERE position <= {}\n",
        q("method"),
        dialect.integer_type(),
        q("rank"),
        q("product"),
        q("score"),
        model.top_k
    );
    Ok(query)
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
        }
    }

    #[test]
    fn scores_add_the_held_products_in_product_order_and_leave_out_zeros() {
        let query = recommend(Dialect::Duckdb, &model(vec![]), &sources()).unwrap();
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
        let err = recommend(Dialect::Duckdb, &model(rules.clone()), &sources()).unwrap_err();
        assert!(err.to_string().contains("income"), "{err}");
        let with = RecommendSources {
            customers: Some(Source::Parquet("customers.parquet".into())),
            ..sources()
        };
        let err = recommend(Dialect::Duckdb, &model(rules.clone()), &with).unwrap_err();
        assert!(err.to_string().contains("segments"), "{err}");
        let all = RecommendSources {
            segments: Some(Source::Table("segments".into())),
            ..with
        };
        let query = recommend(Dialect::Spark, &model(rules), &all).unwrap();
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
    fn a_model_that_recommends_nothing_is_refused() {
        let mut m = model(vec![]);
        m.eligibility.recommendable.clear();
        assert_eq!(
            recommend(Dialect::Duckdb, &m, &sources()),
            Err(SqlError::NothingToRecommend)
        );
    }
}
