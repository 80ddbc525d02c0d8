//! Reading the stage's inputs onto one universe of customers and products: the
//! holdings, the catalogue, the features, the segments and their labels, and the
//! customer columns the eligibility rules read.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Date32Array};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::schema::{read_assignments, read_segment_labels, SNAPSHOT};
use clientele_shared::stage::StageIo;
use clientele_shared::SharedError;

use crate::ages::CustomerDates;
use crate::catalogue::{read_attributes, read_catalogue_csv, rule_columns, Eligibility};
use crate::check::{available_methods, check_rules_have_inputs};
use crate::content::CustomerFeatures;
use crate::errors::RecommendError;
use crate::holdings::{read_holdings, Basket, Holdings};
use crate::methods::Inputs;
use crate::params::{Method, RecommendParams};
use crate::split::Split;
use crate::universe::{find_from, Universe};

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

    /// The methods' inputs for `split`: recommending from its training baskets, with
    /// its earlier snapshots and their dates, and its customers held out whole.
    pub fn split_inputs<'a>(&'a self, split: &'a Split) -> Inputs<'a> {
        self.inputs(
            &split.train,
            &split.history,
            split.held_out_customers.as_deref(),
        )
        .dated(split.train_date, &split.history_dates)
    }

    /// With a panel of features, every method but `propensity` (which takes each
    /// transition's own snapshot) sees the customers as of day `as_of`.
    pub fn score_at(&mut self, as_of: Option<i32>) {
        if let Some(features) = self.features.as_mut() {
            features.score_at(as_of);
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
    // The two large inputs are independent: read side by side.
    let (holdings, features) = rayon::join(
        || read_holdings(holdings_path, params.holdings_format, key),
        || {
            io.input("features")
                .map(|path| read_feature_matrix(path, None, key))
                .transpose()
        },
    );
    let holdings = holdings?;
    let catalogue = match (io.input("catalogue"), &params.products) {
        (Some(path), _) => {
            let specs = read_catalogue_csv(path)?;
            check_rules_have_inputs(&specs, io)?;
            Some(specs)
        }
        (None, Some(products)) => Some(products.clone()),
        (None, None) => None,
    };
    let features = features?;
    let feature_ids = features.as_ref().map(|f| f.ids.as_slice()).unwrap_or(&[]);
    let universe = Universe::new(&holdings, catalogue.as_deref(), feature_ids)?;
    let panel_days = match io.input("features") {
        Some(path) => read_panel_days(path, key)?,
        None => None,
    };
    let features = features.map(|f| {
        let mut row_of = vec![None; universe.customers.len()];
        let mut panel = panel_days
            .as_ref()
            .map(|_| vec![Vec::new(); universe.customers.len()]);
        let mut next = 0;
        for (r, id) in f.ids.iter().enumerate() {
            if let Some(c) = universe.index_from(id, next) {
                next = c + 1;
                row_of[c] = Some(r as u32);
                if let (Some(panel), Some(days)) = (panel.as_mut(), &panel_days) {
                    panel[c].push((days[r], r as u32));
                }
            }
        }
        if let Some(panel) = panel.as_mut() {
            for rows in panel.iter_mut() {
                // By day; a day given twice keeps its later row.
                rows.sort_by_key(|&(day, r)| (day, r));
                rows.dedup_by(|later, earlier| {
                    let same = later.0 == earlier.0;
                    if same {
                        earlier.1 = later.1;
                    }
                    same
                });
            }
            for (row, rows) in row_of.iter_mut().zip(panel.iter()) {
                *row = rows.last().map(|&(_, r)| r);
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
            panel,
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

/// The `snapshot` day of each row of a features table that has one (a panel: a row per
/// customer and snapshot), in file order; `None` without the column.
fn read_panel_days(
    path: &Path,
    key: Option<&ParquetKey>,
) -> Result<Option<Vec<i32>>, RecommendError> {
    let source = ParquetSource::open(path, key)?;
    if source.schema().index_of(SNAPSHOT).is_err() {
        return Ok(None);
    }
    let mut source = ParquetSource::open_named(path, &[SNAPSHOT], "a panel of features has", key)?;
    let mut days = Vec::new();
    while let Some(batch) = source.next_batch()? {
        let column = batch.column(0);
        let dates = column
            .as_any()
            .downcast_ref::<Date32Array>()
            .ok_or_else(|| SharedError::ColumnType {
                path: path.to_path_buf(),
                column: SNAPSHOT.to_string(),
                expected: "a date (Date32), the snapshot of each row of a panel",
                found: column.data_type().clone(),
            })?;
        for r in 0..dates.len() {
            if dates.is_null(r) {
                return Err(RecommendError::BadValue {
                    path: path.to_path_buf(),
                    row: days.len() + 1,
                    column: SNAPSHOT.to_string(),
                    why: "is empty; each row of a panel names its snapshot".into(),
                });
            }
            days.push(dates.value(r));
        }
    }
    Ok(Some(days))
}

/// The segment of each universe customer; `None` for those without one and DBSCAN
/// noise (-1).
fn read_segments(
    path: &Path,
    customers: &[String],
    key: Option<&ParquetKey>,
) -> Result<Vec<Option<i32>>, RecommendError> {
    let mut segments = vec![None; customers.len()];
    let mut next = 0;
    for (id, segment) in read_assignments(path, key)? {
        if let Some(c) = find_from(customers, &id, next) {
            next = c + 1;
            segments[c] = (segment >= 0).then_some(segment);
        }
    }
    Ok(segments)
}
