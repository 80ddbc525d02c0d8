//! `[stage.params]` of a recommend stage.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::propensity::method::PropensityModel;

/// `[stage.params]` of a recommend stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendParams {
    /// Products recommended per customer.
    #[serde(default = "top_k")]
    pub top_k: usize,
    /// `long`: one row per (customer, product[, snapshot]); `wide`: one row per customer,
    /// one 0/1 or boolean column per product.
    #[serde(default)]
    pub holdings_format: HoldingsFormat,
    /// The snapshot whose holdings are "what the customer holds" (`YYYY-MM-DD`); the
    /// latest when left out. With `split = "temporal"`, the training snapshot.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// How held-out products are chosen for evaluation.
    #[serde(default)]
    pub split: SplitKind,
    /// `split = "holdout"`: the share of each customer's products held out;
    /// `split = "customers"`: the share of customers held out whole.
    #[serde(default = "holdout_fraction")]
    pub holdout_fraction: f64,
    /// `split = "temporal"`: the snapshot whose new products are to be predicted; the
    /// one after `snapshot` when left out.
    #[serde(default)]
    pub test_snapshot: Option<String>,
    /// The methods fitted, listed and blended, besides `popularity` (the baseline and
    /// the fallback, always fitted); the default is every method the inputs allow.
    #[serde(default)]
    pub methods: Option<Vec<Method>>,
    /// Blend weights by method; the default blends every method the inputs allow.
    #[serde(default)]
    pub weights: Option<BTreeMap<Method, f64>>,
    /// Neighbours that vote, for `user_knn` and `content_knn`.
    #[serde(default = "neighbours")]
    pub neighbours: usize,
    /// How `user_knn` compares two customers' holdings.
    #[serde(default)]
    pub similarity: Similarity,
    /// `content_knn` looks for neighbours among a seeded sample of this many customers
    /// (all of them when there are fewer).
    #[serde(default = "reference_sample")]
    pub reference_sample: usize,
    /// Tune the blend weights by grid search on a validation split's MAP@k.
    #[serde(default)]
    pub tune: bool,
    /// The grid step of each weight when tuning.
    #[serde(default = "tune_step")]
    pub tune_step: f64,
    /// The share of each customer's training products held out for tuning.
    #[serde(default = "holdout_fraction")]
    pub validation_fraction: f64,
    /// Tuning scores at most this many customers (a seeded sample).
    #[serde(default = "tune_customers")]
    pub tune_customers: usize,
    /// The catalogue, when it is not given as a `catalogue` CSV input.
    #[serde(default)]
    pub products: Option<Vec<ProductSpec>>,
    /// The classifier of the `propensity` method: `gbdt` (gradient-boosted trees) or
    /// `logistic`.
    #[serde(default)]
    pub propensity_model: PropensityModel,
    /// A product is learnt by `propensity` only with at least this many takers, and as
    /// many non-takers, among its training examples; otherwise it scores its popularity.
    #[serde(default = "propensity_min_positives")]
    pub propensity_min_positives: usize,
    /// A product with more training examples learns from a seeded sample of this many:
    /// what bounds the stage's memory, and its time, at millions of customers.
    #[serde(default = "propensity_max_examples")]
    pub propensity_max_examples: usize,
    /// `propensity` scores as calibrated probabilities: each model fitted on a seeded
    /// 80 % of its examples, Platt scaling on the other 20 %.
    #[serde(default = "yes")]
    pub propensity_calibration: bool,
    /// Date columns of the `customers` input that `propensity` reads as ages in years as
    /// of each snapshot, by the name its reasons give them: `{ birth_date = "age",
    /// customer_since = "years as a customer" }`. A transition learns from each
    /// customer's age at its start, and a customer with a date after it (one who joined
    /// later) is not among its examples.
    #[serde(default)]
    pub ages: BTreeMap<String, String>,
}

impl Default for RecommendParams {
    fn default() -> Self {
        RecommendParams {
            top_k: top_k(),
            holdings_format: HoldingsFormat::default(),
            snapshot: None,
            split: SplitKind::default(),
            holdout_fraction: holdout_fraction(),
            test_snapshot: None,
            methods: None,
            weights: None,
            neighbours: neighbours(),
            similarity: Similarity::default(),
            reference_sample: reference_sample(),
            tune: false,
            tune_step: tune_step(),
            validation_fraction: holdout_fraction(),
            tune_customers: tune_customers(),
            products: None,
            propensity_model: PropensityModel::default(),
            propensity_min_positives: propensity_min_positives(),
            propensity_max_examples: propensity_max_examples(),
            propensity_calibration: true,
            ages: BTreeMap::new(),
        }
    }
}

fn top_k() -> usize {
    5
}
fn holdout_fraction() -> f64 {
    0.2
}
fn neighbours() -> usize {
    20
}
fn reference_sample() -> usize {
    5_000
}
fn tune_step() -> f64 {
    0.25
}
fn yes() -> bool {
    true
}

fn propensity_min_positives() -> usize {
    20
}

fn propensity_max_examples() -> usize {
    1_000_000
}

fn tune_customers() -> usize {
    20_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldingsFormat {
    #[default]
    Long,
    Wide,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitKind {
    /// Recommend from all of the snapshot's holdings; nothing is held out.
    #[default]
    None,
    /// Hold out a seeded random share of each customer's products.
    Holdout,
    /// Holdings at one snapshot predict the products newly held at the next.
    Temporal,
    /// Hold out every product of a seeded share of the customers (as many of those who
    /// hold something as of those who hold nothing, in proportion): they are scored as
    /// customers whose holdings are unknown, and `propensity` learns from the others
    /// only. With one product (will a client take the term deposit?) this is the split
    /// a classifier is evaluated on.
    Customers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    #[default]
    Cosine,
    Jaccard,
}

/// A recommendation method. Each makes its own list (a baseline for evaluation) and can
/// be blended into the hybrid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The share of all customers who hold the product.
    Popularity,
    /// The share of the customer's segment who hold the product.
    SegmentPopularity,
    /// Votes of the customers with the most similar holdings.
    UserKnn,
    /// Summed item–item cosine similarity of the product to the products held.
    ItemKnn,
    /// Votes of the customers nearest in the preprocessed feature space.
    ContentKnn,
    /// How far the customer's features lean towards the product's holders' mean.
    ProductProfile,
    /// A classifier per product of the chance the customer takes it, from their
    /// features, holdings and segment.
    Propensity,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Popularity,
        Method::SegmentPopularity,
        Method::UserKnn,
        Method::ItemKnn,
        Method::ContentKnn,
        Method::ProductProfile,
        Method::Propensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Popularity => "popularity",
            Method::SegmentPopularity => "segment_popularity",
            Method::UserKnn => "user_knn",
            Method::ItemKnn => "item_knn",
            Method::ContentKnn => "content_knn",
            Method::ProductProfile => "product_profile",
            Method::Propensity => "propensity",
        }
    }

    /// The input a method needs besides the holdings.
    pub fn needs(self) -> Option<&'static str> {
        match self {
            Method::SegmentPopularity => Some("assignments"),
            Method::ContentKnn | Method::ProductProfile | Method::Propensity => Some("features"),
            _ => None,
        }
    }

    /// The weight of the method in the default blend, when its input is there.
    pub fn default_weight(self) -> f64 {
        match self {
            Method::Popularity => 0.0,
            Method::SegmentPopularity => 0.1,
            Method::UserKnn => 0.3,
            Method::ItemKnn => 0.3,
            Method::ContentKnn => 0.2,
            Method::ProductProfile => 0.1,
            Method::Propensity => 0.3,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A product of the catalogue, as written in the TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// Eligibility: the customer's column must be at least this (`min = { age = 18 }`).
    #[serde(default)]
    pub min: BTreeMap<String, f64>,
    /// Eligibility: the customer's column must be at most this.
    #[serde(default)]
    pub max: BTreeMap<String, f64>,
    /// Segments whose customers are never offered the product.
    #[serde(default)]
    pub excluded_segments: Vec<i32>,
}
