use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[stage.params]` of a preprocess stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessParams {
    /// `fit` learns every statistic and writes the `state` output; `apply` reads the
    /// `state` input and transforms new data identically.
    #[serde(default)]
    pub mode: Mode,
    /// Rules for every numeric (and boolean) column, unless overridden in `columns`.
    #[serde(default)]
    pub numeric: NumericRule,
    /// Rules for every text or categorical column, unless overridden in `columns`.
    #[serde(default)]
    pub categorical: CategoricalRule,
    /// Per-column rules, replacing the defaults above for that column.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
    /// Columns copied to the output untouched (`customer_id` always is).
    #[serde(default)]
    pub passthrough: Vec<String>,
    /// Columns left out of the output.
    #[serde(default)]
    pub drop: Vec<String>,
}

pub use clientele_shared::stage::Mode;

/// A per-column rule: numeric or categorical, whatever the column's stored type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "as", rename_all = "lowercase")]
pub enum ColumnRule {
    Numeric(NumericRule),
    Categorical(CategoricalRule),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericRule {
    #[serde(default = "median")]
    pub impute: NumericImpute,
    /// The value for `impute = "constant"`.
    #[serde(default)]
    pub fill_value: f64,
    /// Adds a `COLUMN__missing` column (1 where the value was missing) if the column has
    /// missing values at fit time, as scikit-learn's `SimpleImputer(add_indicator=True)`.
    #[serde(default)]
    pub indicator: bool,
    #[serde(default)]
    pub outliers: Option<OutlierRule>,
    #[serde(default)]
    pub transform: Transform,
    #[serde(default)]
    pub scale: Scale,
}

impl Default for NumericRule {
    fn default() -> Self {
        NumericRule {
            impute: NumericImpute::Median,
            fill_value: 0.0,
            indicator: false,
            outliers: None,
            transform: Transform::None,
            scale: Scale::Standard,
        }
    }
}

fn median() -> NumericImpute {
    NumericImpute::Median
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericImpute {
    Mean,
    Median,
    MostFrequent,
    Constant,
    /// Drop rows where the value is missing.
    Drop,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierRule {
    pub method: OutlierMethod,
    /// IQR fences: `q1 - factor·IQR`, `q3 + factor·IQR`.
    #[serde(default = "iqr_factor")]
    pub factor: f64,
    /// z-score fences: `mean ± z·std`.
    #[serde(default = "z_limit")]
    pub z: f64,
    /// Quantile fences (winsorising): the `low` and `high` quantiles.
    #[serde(default = "low_quantile")]
    pub low: f64,
    #[serde(default = "high_quantile")]
    pub high: f64,
    pub action: OutlierAction,
}

fn iqr_factor() -> f64 {
    1.5
}
fn z_limit() -> f64 {
    3.0
}
fn low_quantile() -> f64 {
    0.01
}
fn high_quantile() -> f64 {
    0.99
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierMethod {
    Iqr,
    Zscore,
    Quantile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierAction {
    /// Values beyond a fence become the fence.
    Clip,
    /// Rows with a value beyond a fence are dropped.
    Drop,
    /// A `COLUMN__outlier` column is added (1 beyond a fence); values are kept.
    Flag,
}

pub use clientele_shared::schema::Transform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Standard,
    #[serde(rename = "minmax")]
    MinMax,
    Robust,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalRule {
    #[serde(default)]
    pub impute: CategoricalImpute,
    /// The category given to missing values with `impute = "constant"`.
    #[serde(default = "missing_category")]
    pub fill_value: String,
    #[serde(default)]
    pub encode: Encode,
    /// At most this many one-hot columns: the rarest categories are pooled into
    /// `COLUMN=other`, as scikit-learn's `OneHotEncoder(max_categories=…)`. On by default
    /// (50), so that a mistyped number or a forgotten free-text column cannot become
    /// thousands of columns; set a larger number to keep more.
    #[serde(default = "default_max_categories")]
    pub max_categories: Option<usize>,
    /// What a category unseen at fit time becomes at apply time.
    #[serde(default)]
    pub unknown: Unknown,
}

impl Default for CategoricalRule {
    fn default() -> Self {
        CategoricalRule {
            impute: CategoricalImpute::default(),
            fill_value: missing_category(),
            encode: Encode::default(),
            max_categories: default_max_categories(),
            unknown: Unknown::default(),
        }
    }
}

fn default_max_categories() -> Option<usize> {
    Some(50)
}

fn missing_category() -> String {
    "missing".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalImpute {
    #[default]
    MostFrequent,
    Constant,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encode {
    #[default]
    Onehot,
    Ordinal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    /// All one-hot columns 0 (scikit-learn's `handle_unknown="ignore"`); ordinal -1.
    #[default]
    Zeros,
    /// The `COLUMN=other` column (always created with this choice).
    Other,
}
