//! The model file (`outputs.model`): what was blended and how it was tuned, and what
//! scores a customer by item-based filtering without refitting: the item–item
//! similarities, the products' popularity (the tie-break of every list) and who may be
//! offered what; and the `propensity` method's models, one per product, with the inputs
//! they read. `clientele export-sql` writes a query from it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Method, RecommendError, Similarity, Tuning};

/// 2: the propensity models; 3: the scored snapshot's day and whether the features
/// are a panel, which the models' SQL needs.
pub const MODEL_FORMAT: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendModel {
    pub format: u32,
    /// The methods fitted, in the order the stage scores them.
    pub methods: Vec<Method>,
    pub weights: BTreeMap<Method, f64>,
    /// Whether the weights came from tuning (tuning that found too few validation
    /// customers keeps the configured weights; its grid is still under `tuning`).
    pub tuned: bool,
    pub top_k: usize,
    pub neighbours: usize,
    pub similarity: Similarity,
    pub distinct_baskets: usize,
    pub content_references: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
    /// Every product, in the order of the indices below.
    pub products: Vec<String>,
    /// The share of the training customers who hold each product. Equal scores go to
    /// the more popular product, then to the first in product order.
    pub popularity: Vec<f64>,
    pub eligibility: EligibilityRules,
    /// Row `i`, column `j`: the cosine similarity of products `i` and `j` by co-holding
    /// (zero on the diagonal).
    pub item_similarity: Vec<Vec<f64>>,
    /// The `propensity` method's models, when it was fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propensity: Option<PropensityModels>,
}

/// The `propensity` method's models: one per product, each reading the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropensityModels {
    /// How the examples were chosen: `transitions` (this many snapshot pairs) or
    /// `look_alike`.
    pub training: String,
    /// What every product's model reads, in order: a row of these values is scored.
    pub inputs: Vec<PropensityInput>,
    /// One per product, in [`RecommendModel::products`] order.
    pub products: Vec<ProductPropensity>,
    /// The scored snapshot (days since 1970-01-01), when the holdings have dates: what
    /// ages are measured to, and which row of a panel is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored_day: Option<i32>,
    /// Whether the features table is a panel (a `snapshot` column): each customer is
    /// scored by their latest row on or before `scored_day`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub panel: bool,
}

/// One input of the propensity models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PropensityInput {
    /// A column of the features table, as it is there.
    Feature { name: String },
    /// 1 when the customer holds the product, else 0 (a product's own flag is always 0
    /// in the rows its model scores: it scores only customers who lack the product).
    Holds { product: String },
    /// 1 when the customer is in the segment, else 0.
    Segment { segment: i32 },
    /// Years from the customer table's date `column` to the scored snapshot; missing
    /// when the date is unknown, or, with `missing_as_mean`, the years from the column's
    /// mean date (`mean_day`, days since 1970-01-01).
    Age {
        column: String,
        name: String,
        missing_as_mean: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mean_day: Option<f64>,
    },
}

/// One product's propensity model: its probability of a row is Platt's curve
/// `1 / (1 + exp(−(a·raw + b)))` of the model's raw score (log-odds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProductPropensity {
    /// Raw score: `baseline` plus the leaf value each tree sends the row to.
    Gbdt {
        model: crate::propensity::gbdt::Gbdt,
        platt: crate::propensity::calibration::Platt,
    },
    /// Raw score: `intercept + Σ coefficients · row`.
    Logistic {
        model: crate::propensity::logistic::Logistic,
        platt: crate::propensity::calibration::Platt,
    },
    /// Too few takers or non-takers to learn: every customer scores `share`.
    Popularity { share: f64 },
}

impl ProductPropensity {
    /// The probability of one row of the models' inputs.
    pub fn probability(&self, row: &[f64]) -> f64 {
        match self {
            ProductPropensity::Gbdt { model, platt } => platt.probability(model.raw_score(row)),
            ProductPropensity::Logistic { model, platt } => platt.probability(model.raw_score(row)),
            ProductPropensity::Popularity { share } => *share,
        }
    }
}

/// Who may be offered what, as the stage applied it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRules {
    /// The products that may be recommended at all: those of the catalogue, or every
    /// product when there is none.
    pub recommendable: Vec<String>,
    /// The products with rules. A customer whose value is unknown fails a rule; a
    /// customer without a segment (or DBSCAN noise) is never excluded by segment.
    pub rules: Vec<ProductRules>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRules {
    pub product: String,
    /// Customer column → the least value allowed.
    pub at_least: BTreeMap<String, f64>,
    /// Customer column → the greatest value allowed.
    pub at_most: BTreeMap<String, f64>,
    pub excluded_segments: Vec<i32>,
}

impl RecommendModel {
    /// The index of `product` in [`RecommendModel::products`].
    pub fn product_index(&self, product: &str) -> Option<usize> {
        self.products.iter().position(|p| p == product)
    }

    /// Checks that the parts describe the same products; the message says which does not.
    fn check(&self) -> Result<(), String> {
        let n = self.products.len();
        if self.popularity.len() != n {
            return Err(format!(
                "`popularity` has {} values for {n} products",
                self.popularity.len()
            ));
        }
        if self.item_similarity.len() != n {
            return Err(format!(
                "`item_similarity` has {} rows for {n} products",
                self.item_similarity.len()
            ));
        }
        if let Some((i, row)) = self
            .item_similarity
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != n)
        {
            return Err(format!(
                "`item_similarity` row {i} has {} values for {n} products",
                row.len()
            ));
        }
        let values = self
            .popularity
            .iter()
            .chain(self.item_similarity.iter().flatten());
        if let Some(propensity) = &self.propensity {
            if propensity.products.len() != n {
                return Err(format!(
                    "`propensity` has {} models for {n} products",
                    propensity.products.len()
                ));
            }
        }
        if values.into_iter().any(|v| !v.is_finite()) {
            return Err(
                "`popularity` or `item_similarity` holds a value that is not a finite number"
                    .into(),
            );
        }
        let named = self
            .eligibility
            .recommendable
            .iter()
            .chain(self.eligibility.rules.iter().map(|r| &r.product));
        for product in named {
            if self.product_index(product).is_none() {
                return Err(format!(
                    "`eligibility` names the product `{product}`, which `products` does not list"
                ));
            }
        }
        Ok(())
    }
}

pub fn read(path: &Path) -> Result<RecommendModel, RecommendError> {
    let model_error = |message: String| RecommendError::Model {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| model_error(e.to_string()))?;
    let model: RecommendModel =
        serde_json::from_str(&text).map_err(|e| model_error(e.to_string()))?;
    if model.format != MODEL_FORMAT {
        return Err(model_error(format!(
            "model format {} is not the format {MODEL_FORMAT} this version reads; rerun the recommend stage",
            model.format
        )));
    }
    model.check().map_err(model_error)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> RecommendModel {
        RecommendModel {
            format: MODEL_FORMAT,
            methods: vec![Method::Popularity, Method::ItemKnn],
            weights: BTreeMap::from([(Method::ItemKnn, 1.0)]),
            tuned: false,
            top_k: 3,
            neighbours: 20,
            similarity: Similarity::Cosine,
            distinct_baskets: 2,
            content_references: None,
            tuning: None,
            products: vec!["card".into(), "loan".into()],
            popularity: vec![0.5, 0.25],
            eligibility: EligibilityRules {
                recommendable: vec!["card".into(), "loan".into()],
                rules: vec![ProductRules {
                    product: "loan".into(),
                    at_least: BTreeMap::from([("income".into(), 15_000.0)]),
                    ..ProductRules::default()
                }],
            },
            item_similarity: vec![vec![0.0, 0.5], vec![0.5, 0.0]],
            propensity: None,
        }
    }

    #[test]
    fn reads_back_what_it_writes_and_names_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        std::fs::write(&path, serde_json::to_string(&model()).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap(), model());

        let mut bad = model();
        bad.item_similarity[1].pop();
        std::fs::write(&path, serde_json::to_string(&bad).unwrap()).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("row 1 has 1 values for 2 products"), "{err}");

        let mut bad = model();
        bad.eligibility.rules[0].product = "mortgage".into();
        std::fs::write(&path, serde_json::to_string(&bad).unwrap()).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("`mortgage`"), "{err}");

        let text = serde_json::to_string(&model())
            .unwrap()
            .replace(&format!("\"format\":{MODEL_FORMAT}"), "\"format\":0");
        std::fs::write(&path, text).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("rerun the recommend stage"), "{err}");
    }
}
