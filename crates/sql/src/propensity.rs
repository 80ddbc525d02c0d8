//! The recommend stage's propensity models as SQL expressions: each product's
//! probability of one customer's row of inputs.
//!
//! - an input is a column `i{j}` of the query's `base` table: a feature (NaN read as
//!   NULL, the missing value trees route), a held-product flag, a segment flag or an age
//!   in years as of the scored snapshot;
//! - a tree is nested `CASE WHEN i{j} <= threshold [OR i{j} IS NULL]` (`IS NULL` where
//!   missing values go left, as the Rust code sends NaN); its leaves are the saved
//!   values;
//! - the raw score adds the trees' values in tree order, then the baseline, as
//!   `Gbdt::raw_score` adds them; logistic regression adds its terms in input order, then
//!   the intercept ([`product_score`]);
//! - the probability is Platt's curve `1 / (1 + EXP(-(a × raw + b)))`, written as the Rust
//!   code computes it. Additions, products and comparisons give the same bits in every
//!   engine; `EXP` may differ from Rust's in the last bit (Java's), which the tests allow
//!   for (1e-12).

use std::fmt::Write;

use clientele_recommend::model::{ProductPropensity, PropensityInput, PropensityModels};
use clientele_recommend::propensity::gbdt::model::Tree;

use crate::{number, Dialect, SqlError};

/// Days per year, as the recommend stage's ages divide by them.
const DAYS_PER_YEAR: f64 = 365.25;

/// The expression of input `input` over the joined tables: features as `f`, the
/// customer table as `c`, segments as `g`, the held-product flags `h{q}` as `k` (a
/// customer without holdings holds nothing).
pub(crate) fn input_expression(
    dialect: Dialect,
    models: &PropensityModels,
    input: &PropensityInput,
    product_index: &dyn Fn(&str) -> Option<usize>,
) -> Result<String, SqlError> {
    let q = |name: &str| dialect.quote(name);
    Ok(match input {
        // NaN is the models' missing value; in SQL, NULL is: `NaN <= t` is false in
        // DuckDB and Spark (NaN sorts above every number), while a tree sends NaN down
        // its missing-value side.
        PropensityInput::Feature { name } => format!(
            "NULLIF(CAST(f.{} AS DOUBLE), CAST('NaN' AS DOUBLE))",
            q(name)
        ),
        PropensityInput::Holds { product } => {
            let p = product_index(product).ok_or_else(|| {
                SqlError::PropensityModel(format!(
                    "an input is the holding of `{product}`, which the model's products do not list"
                ))
            })?;
            format!("COALESCE(k.h{p}, 0E0)")
        }
        PropensityInput::Segment { segment } => format!(
            "CASE WHEN g.{} = {segment} THEN 1E0 ELSE 0E0 END",
            q("segment")
        ),
        PropensityInput::Age {
            column,
            missing_as_mean,
            mean_day,
            ..
        } => {
            let Some(as_of) = models.scored_day else {
                // The stage scored without a snapshot date: every age is unknown.
                return Ok("CAST(NULL AS DOUBLE)".into());
            };
            let day = dialect.days_since_1970(&format!("c.{}", q(column)));
            let day = match (missing_as_mean, mean_day) {
                (true, Some(mean)) => format!("COALESCE({day}, {})", number(*mean)),
                _ => day,
            };
            format!(
                "({} - {day}) / {}",
                number(f64::from(as_of)),
                number(DAYS_PER_YEAR)
            )
        }
    })
}

/// Product `p`'s score in two steps: the sum of its trees (or logistic terms) over the
/// inputs `i0 … i{n-1}`, as the column `u{p}`, when it has one; and its probability
/// from `u{p}` and the flag `has_row` (the customer has a features row; without one, a
/// learnt product scores 0, as in the stage).
///
/// Why two steps: Spark's parser looks ahead to the closing parenthesis to tell a
/// parenthesised expression from a subquery or a lambda, so a sum of a hundred trees in
/// parentheses took it minutes; a bare `t0 + t1 + …` adds left to right, as Rust does,
/// and the baseline is added to the sum's column after.
pub(crate) fn product_score(
    model: &ProductPropensity,
    p: usize,
    inputs: usize,
) -> Result<(Option<String>, String), SqlError> {
    let (sum, offset, platt) = match model {
        ProductPropensity::Popularity { share } => return Ok((None, number(*share))),
        ProductPropensity::Gbdt { model, platt } => {
            let mut trees = String::new();
            for (t, tree) in model.trees.iter().enumerate() {
                if t > 0 {
                    trees.push_str(" + ");
                }
                write_tree(tree, 0, inputs, &mut trees)?;
            }
            (trees, model.baseline, platt)
        }
        ProductPropensity::Logistic { model, platt } => {
            if model.coefficients.len() != inputs {
                return Err(SqlError::PropensityModel(format!(
                    "a logistic model has {} coefficients for {inputs} inputs",
                    model.coefficients.len()
                )));
            }
            let terms: Vec<String> = model
                .coefficients
                .iter()
                .enumerate()
                .map(|(j, w)| format!("{} * i{j}", number(*w)))
                .collect();
            (terms.join(" + "), model.intercept, platt)
        }
    };
    let (sum, raw) = if sum.is_empty() {
        (None, number(offset))
    } else {
        (Some(sum), format!("{} + u{p}", number(offset)))
    };
    Ok((
        sum,
        format!(
            "CASE WHEN has_row THEN 1E0 / (1E0 + EXP(-({} * ({raw}) + {}))) ELSE 0E0 END",
            number(platt.a),
            number(platt.b)
        ),
    ))
}

/// Node `at` of `tree` and everything below it, as nested `CASE`.
fn write_tree(tree: &Tree, at: usize, inputs: usize, out: &mut String) -> Result<(), SqlError> {
    let node = tree.nodes.get(at).ok_or_else(|| {
        SqlError::PropensityModel(format!("a tree names node {at}, which it does not have"))
    })?;
    if node.is_leaf() {
        out.push_str(&number(node.value));
        return Ok(());
    }
    let j = node.feature as usize;
    if j >= inputs || !node.threshold.is_finite() {
        return Err(SqlError::PropensityModel(format!(
            "a tree splits on input {j} at {} (the models read {inputs} inputs)",
            node.threshold
        )));
    }
    let missing = if node.missing_left {
        format!(" OR i{j} IS NULL")
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "CASE WHEN i{j} <= {}{missing} THEN ",
        number(node.threshold)
    );
    write_tree(tree, node.left as usize, inputs, out)?;
    out.push_str(" ELSE ");
    write_tree(tree, node.right as usize, inputs, out)?;
    out.push_str(" END");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clientele_recommend::propensity::calibration::Platt;
    use clientele_recommend::propensity::gbdt::model::Node;
    use clientele_recommend::propensity::gbdt::Gbdt;
    use clientele_recommend::propensity::logistic::Logistic;

    use super::*;

    fn split(feature: u32, threshold: f64, missing_left: bool, left: u32, right: u32) -> Node {
        Node {
            value: 0.0,
            rows: 10,
            feature,
            threshold,
            missing_left,
            left,
            right,
        }
    }

    fn leaf(value: f64) -> Node {
        Node {
            value,
            rows: 5,
            feature: 0,
            threshold: 0.0,
            missing_left: false,
            left: 0,
            right: 0,
        }
    }

    #[test]
    fn trees_are_nested_cases_added_in_order_then_the_baseline() {
        let tree = Tree {
            nodes: vec![
                split(1, 0.5, true, 1, 2),
                leaf(-0.25),
                split(0, 2.0, false, 3, 4),
                leaf(0.125),
                leaf(1.0),
            ],
        };
        let model = ProductPropensity::Gbdt {
            model: Gbdt {
                features: 2,
                baseline: -2.0,
                trees: vec![
                    tree.clone(),
                    Tree {
                        nodes: vec![leaf(0.5)],
                    },
                ],
                validation_loss: Vec::new(),
                walk: Default::default(),
            },
            platt: Platt { a: 0.5, b: -1.0 },
        };
        let (sum, probability) = product_score(&model, 4, 2).unwrap();
        assert_eq!(
            sum.unwrap(),
            "CASE WHEN i1 <= 5E-1 OR i1 IS NULL THEN (-2.5E-1) ELSE CASE WHEN i0 <= 2E0 THEN 1.25E-1 ELSE 1E0 END END + 5E-1"
        );
        assert_eq!(
            probability,
            "CASE WHEN has_row THEN 1E0 / (1E0 + EXP(-(5E-1 * ((-2E0) + u4) + (-1E0)))) ELSE 0E0 END"
        );
        // A split on an input the models do not read is refused, not written.
        let err = product_score(&model, 4, 1).unwrap_err();
        assert!(err.to_string().contains("input 1"), "{err}");
    }

    #[test]
    fn logistic_terms_follow_the_inputs_and_popularity_is_its_share() {
        let model = ProductPropensity::Logistic {
            model: Logistic {
                coefficients: vec![0.5, -1.5],
                intercept: 0.25,
                iterations: 3,
            },
            platt: Platt::IDENTITY,
        };
        let (sum, probability) = product_score(&model, 0, 2).unwrap();
        assert_eq!(sum.unwrap(), "5E-1 * i0 + (-1.5E0) * i1");
        assert_eq!(
            probability,
            "CASE WHEN has_row THEN 1E0 / (1E0 + EXP(-(1E0 * (2.5E-1 + u0) + 0E0))) ELSE 0E0 END"
        );
        assert!(product_score(&model, 0, 3).is_err());
        assert_eq!(
            product_score(&ProductPropensity::Popularity { share: 0.125 }, 0, 2).unwrap(),
            (None, "1.25E-1".to_string())
        );
    }

    #[test]
    fn ages_are_years_to_the_scored_day_and_need_it() {
        let mut models = PropensityModels {
            training: "transitions: 2".into(),
            inputs: Vec::new(),
            products: Vec::new(),
            scored_day: Some(20_000),
            panel: false,
        };
        let age = PropensityInput::Age {
            column: "customer_since".into(),
            name: "years as a customer".into(),
            missing_as_mean: true,
            mean_day: Some(15_000.5),
        };
        let none = |_: &str| None;
        assert_eq!(
            input_expression(Dialect::Spark, &models, &age, &none).unwrap(),
            "(2E4 - COALESCE(CAST(DATEDIFF(CAST(c.`customer_since` AS DATE), DATE '1970-01-01') AS DOUBLE), 1.50005E4)) / 3.6525E2"
        );
        models.scored_day = None;
        assert_eq!(
            input_expression(Dialect::Duckdb, &models, &age, &none).unwrap(),
            "CAST(NULL AS DOUBLE)"
        );
        let holds = PropensityInput::Holds {
            product: "loan".into(),
        };
        assert!(input_expression(Dialect::Duckdb, &models, &holds, &none).is_err());
        assert_eq!(
            input_expression(Dialect::Duckdb, &models, &holds, &|_| Some(3)).unwrap(),
            "COALESCE(k.h3, 0E0)"
        );
    }
}
