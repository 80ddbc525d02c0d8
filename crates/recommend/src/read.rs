//! Reading the stage's inputs onto one universe of customers and products: the
//! holdings, the catalogue, the features, the segments and their labels, and the
//! customer columns the eligibility rules read.

use std::collections::BTreeMap;
use std::path::Path;

use clientele_shared::encryption::ParquetKey;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::schema::{read_assignments, read_segment_labels};
use clientele_shared::stage::StageIo;

use crate::ages::CustomerDates;
use crate::catalogue::{read_attributes, read_catalogue_csv, rule_columns, Eligibility};
use crate::check::{available_methods, check_rules_have_inputs};
use crate::content::CustomerFeatures;
use crate::errors::RecommendError;
use crate::holdings::{read_holdings, Basket, Holdings};
use crate::methods::Inputs;
use crate::params::{Method, RecommendParams};
use crate::universe::Universe;

/// Everything the methods read besides the baskets, by universe customer and product.
pub struct StageData {
    pub universe: Universe,
    /// Display names of the products, for reasons.
    pub product_names: Vec<String>,
    pub features: Option<CustomerFeatures>,
    /// The segment of each customer, when assignments were given.
    pub segments: Option<Vec<Option<i32>>>,
    pub segment_labels: BTreeMap<i32, String>,
    pub eligibility: Eligibility,
    /// The `ages` columns of the customer table.
    pub dates: Option<CustomerDates>,
}

impl StageData {
    /// The methods' inputs, recommending from `train`, with the earlier snapshots
    /// `history` to learn transitions from, and the customers held out whole.
    pub fn inputs<'a>(
        &'a self,
        train: &'a [Basket],
        history: &'a [Vec<Basket>],
        held_out_customers: Option<&'a [bool]>,
    ) -> Inputs<'a> {
        Inputs {
            product_names: &self.product_names,
            train,
            history,
            held_out_customers,
            train_date: None,
            history_dates: &[],
            dates: self.dates.as_ref(),
            segments: self.segments.as_deref(),
            segment_labels: &self.segment_labels,
            features: self.features.as_ref(),
        }
    }

    /// The methods these inputs allow, in [`Method`] order (only `chosen` ones and
    /// `popularity`, when a choice is given).
    pub fn available_methods(&self, chosen: Option<&[Method]>) -> Vec<Method> {
        available_methods(self.segments.is_some(), self.features.is_some(), chosen)
    }
}

/// Reads every input; the holdings are returned whole, for the split.
pub fn read_inputs(
    params: &RecommendParams,
    io: &StageIo,
    holdings_path: &Path,
    key: Option<&ParquetKey>,
) -> Result<(StageData, Holdings), RecommendError> {
    let holdings = read_holdings(holdings_path, params.holdings_format, key)?;
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
        Some(path) => Some(read_feature_matrix(path, None, key)?),
        None => None,
    };
    let feature_ids = features.as_ref().map(|f| f.ids.as_slice()).unwrap_or(&[]);
    let universe = Universe::new(&holdings, catalogue.as_deref(), feature_ids)?;
    let features = features.map(|f| {
        let mut row_of = vec![None; universe.customers.len()];
        for (r, id) in f.ids.iter().enumerate() {
            if let Some(c) = universe.index(id) {
                row_of[c] = Some(r as u32);
            }
        }
        let unscale = f
            .names
            .iter()
            .map(|name| {
                f.origins
                    .iter()
                    .find(|o| &o.name == name)
                    .and_then(|o| o.unscale)
            })
            .collect();
        CustomerFeatures {
            d: f.names.len(),
            unscale,
            names: f.names,
            values: f.values,
            row_of,
        }
    });
    let segments = match io.input("assignments") {
        Some(path) => Some(read_segments(path, &universe.customers, key)?),
        None => None,
    };
    let segment_labels = match io.input("profiles") {
        Some(path) => read_segment_labels(path)?,
        None => BTreeMap::new(),
    };
    let attributes = match (&catalogue, io.input("customers")) {
        (Some(specs), Some(path)) => {
            let columns = rule_columns(specs);
            Some(read_attributes(path, &columns, &universe.customers, key)?)
        }
        _ => None,
    };
    let eligibility = Eligibility::new(&universe.products, catalogue.as_deref(), attributes);
    let dates = match io.input("customers") {
        Some(path) if !params.ages.is_empty() => Some(CustomerDates::read(
            path,
            &params.ages,
            &universe.customers,
            key,
        )?),
        _ => None,
    };
    let product_names = universe.display_names(catalogue.as_deref());
    Ok((
        StageData {
            universe,
            product_names,
            features,
            segments,
            segment_labels,
            eligibility,
            dates,
        },
        holdings,
    ))
}

/// The segment of each universe customer; `None` for those without one and DBSCAN
/// noise (-1).
fn read_segments(
    path: &Path,
    customers: &[String],
    key: Option<&ParquetKey>,
) -> Result<Vec<Option<i32>>, RecommendError> {
    let mut segments = vec![None; customers.len()];
    for (id, segment) in read_assignments(path, key)? {
        if let Ok(c) = customers.binary_search_by(|x| x.as_str().cmp(&id)) {
            segments[c] = (segment >= 0).then_some(segment);
        }
    }
    Ok(segments)
}
