//! The fitted state: every statistic `fit` learnt, written as JSON beside the output so
//! that `apply` transforms new data identically. Numbers are written with the shortest
//! representation that reads back to the same f64.

use serde::{Deserialize, Serialize};

use crate::params::{
    CategoricalImpute, Encode, NumericImpute, OutlierAction, OutlierMethod, Scale, Transform,
    Unknown,
};

pub const STATE_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedState {
    pub format: u32,
    /// Rows the statistics were learnt from (after drops).
    pub rows_fitted: u64,
    /// Every input column, in input order, with what happens to it.
    pub columns: Vec<ColumnState>,
    /// Every output column after `customer_id`, with the input column it comes from.
    pub outputs: Vec<OutputColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ColumnState {
    Passthrough { column: String },
    Dropped { column: String },
    Numeric(NumericState),
    Categorical(CategoricalState),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericState {
    pub column: String,
    pub impute: NumericImpute,
    /// The value missing entries get (none for `drop`).
    pub impute_value: Option<f64>,
    pub indicator: bool,
    pub outliers: Option<FittedOutliers>,
    pub transform: Transform,
    pub scale: Scale,
    /// Output = (transformed value − center) / scale.
    pub center: f64,
    pub scale_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedOutliers {
    pub method: OutlierMethod,
    pub action: OutlierAction,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalState {
    pub column: String,
    pub impute: CategoricalImpute,
    /// The category missing entries get (none for `drop`).
    pub impute_value: Option<String>,
    pub encode: Encode,
    /// Categories with their own column (one-hot) or code (ordinal), sorted.
    pub categories: Vec<String>,
    /// Whether a `COLUMN=other` column exists (rare categories pooled, or unknown = other).
    pub other: bool,
    pub unknown: Unknown,
}

/// An output column and the input column it comes from (with, for a numeric feature,
/// how to undo its scaling): the part of the state that later stages read.
pub use clientele_shared::schema::FeatureOrigin as OutputColumn;

impl NumericState {
    pub fn output_name(&self) -> String {
        let mut name = self.column.clone();
        match self.transform {
            Transform::None => {}
            Transform::Log1p => name.push_str("__log1p"),
            Transform::SignedLog1p => name.push_str("__signed_log1p"),
        }
        match self.scale {
            Scale::None => {}
            Scale::Standard => name.push_str("__standard"),
            Scale::MinMax => name.push_str("__minmax"),
            Scale::Robust => name.push_str("__robust"),
        }
        name
    }
}

impl CategoricalState {
    /// `COLUMN=other`, or `COLUMN=__other__` if a real category is called `other`.
    pub fn other_name(&self) -> String {
        if self.categories.iter().any(|c| c == "other") {
            format!("{}=__other__", self.column)
        } else {
            format!("{}=other", self.column)
        }
    }
}

impl ColumnState {
    /// The output columns this input column produces, in order.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            ColumnState::Passthrough { column } => vec![column.clone()],
            ColumnState::Dropped { .. } => Vec::new(),
            ColumnState::Numeric(n) => {
                let mut names = vec![n.output_name()];
                if n.indicator {
                    names.push(format!("{}__missing", n.column));
                }
                if matches!(&n.outliers, Some(o) if o.action == OutlierAction::Flag) {
                    names.push(format!("{}__outlier", n.column));
                }
                names
            }
            ColumnState::Categorical(c) => match c.encode {
                Encode::Ordinal => vec![format!("{}__ordinal", c.column)],
                Encode::Onehot => {
                    let mut names: Vec<String> = c
                        .categories
                        .iter()
                        .map(|v| format!("{}={v}", c.column))
                        .collect();
                    if c.other {
                        names.push(c.other_name());
                    }
                    names
                }
            },
        }
    }

    pub fn column(&self) -> &str {
        match self {
            ColumnState::Passthrough { column } | ColumnState::Dropped { column } => column,
            ColumnState::Numeric(n) => &n.column,
            ColumnState::Categorical(c) => &c.column,
        }
    }
}
