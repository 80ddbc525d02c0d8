//! The `propensity` method: per product, a classifier of the chance that a customer
//! takes it, from the customer's features, the other products they hold and their
//! segment; the products are then ranked by that probability.
//!
//! Training examples, as the holdings allow:
//! - **transitions** (with at least two snapshots before the one scored, none of them
//!   the test period): for each pair of consecutive snapshots `s₋₁ → s`, the customers
//!   who held something but not the product at `s₋₁`, labelled by whether they hold it
//!   at `s`, described by their holdings at `s₋₁`;
//! - **look-alike** otherwise: at the scored snapshot, the product's holders against
//!   everyone else (but the customers a `customers` split holds out, whose holdings are
//!   unknown).
//!
//! A product with fewer than `propensity_min_positives` takers (or as few non-takers)
//! among its examples is not learnt: it scores its popularity among them (the share of
//! its examples that took it, on the same scale as the models' probabilities), and the
//! stage notes say so.
//!
//! A product with more than `propensity_max_examples` examples learns from a seeded
//! sample of that many (drawn uniformly, so that the takers keep their share and the
//! probabilities their scale): the examples are listed first and only the sampled ones
//! become rows, so a stage over ten million customers holds a million rows per model.
//!
//! With `propensity_calibration` (the default), each model learns from a seeded,
//! stratified 80 % of its product's examples and its scores are mapped to probabilities
//! by Platt scaling fitted on the other 20 % ([`Platt`]).
//!
//! Point in time: with the `ages` parameter, date columns of the customer table (a birth
//! date, a customer-since date) enter as ages in years as of each transition's start,
//! and as of the scored snapshot when scoring; a customer with a date after a
//! transition's start is not among its examples. A features table with a `snapshot`
//! column (a panel: a row per customer and snapshot) is joined to each transition as of
//! its start, and to the scored snapshot when scoring; a customer without a row then is
//! not among its examples.
//!
//! The models are saved in the model file ([`Propensity::to_file`]), which
//! `clientele export-sql` writes as SQL.

use serde::{Deserialize, Serialize};

use super::bands::Bands;
use super::calibration::Platt;
use super::gbdt::{Gbdt, GbdtParams};
use super::logistic::{Logistic, LogisticParams};
use super::stratified_split;
use crate::ages::CustomerDates;
use crate::methods::Inputs;
use crate::model::{ProductPropensity, PropensityInput, PropensityModels};
use linfa::ParamGuard;
use ndarray::{ArrayView2, Axis};

/// The classifier family of the `propensity` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropensityModel {
    /// Gradient-boosted trees on histograms.
    #[default]
    Gbdt,
    /// L2-regularised logistic regression.
    Logistic,
}

/// How the method is set up.
#[derive(Debug, Clone, Copy)]
pub struct PropensitySettings {
    pub model: PropensityModel,
    pub min_positives: usize,
    /// Platt scaling on a held-out fifth of the examples.
    pub calibrate: bool,
    pub seed: u64,
    /// A product learns from a seeded sample of at most this many examples.
    pub max_examples: usize,
}

/// The seed of the examples' sample, apart from the model's.
const SAMPLE_SALT: u64 = 0x5a3b_1e00;

mod examples;

/// The share of each product's examples held out to calibrate its model.
const CALIBRATION_FRACTION: f64 = 0.2;
/// The seed of the calibration fold, apart from the model's.
const CALIBRATION_SALT: u64 = 0xca1b_7a7e;

/// Where the training examples came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Training {
    /// This many consecutive snapshot pairs.
    Transitions(usize),
    LookAlike,
}

enum ProductModel {
    Gbdt(Gbdt, Platt),
    Logistic(Logistic, Platt),
    /// Too few examples of one class: the share of the product's examples that took it.
    Popularity(f64),
}

/// The fitted method: one model per product.
pub struct Propensity {
    models: Vec<ProductModel>,
    pub training: Training,
    /// Segment numbers, in the order of their one-hot columns.
    segments: Vec<i32>,
    /// What each input column is, for reasons.
    columns: Vec<Column>,
    /// The bands of each feature (the first columns) with known units, for reasons.
    bands: Vec<Option<Bands>>,
    /// An unknown date gives the age of its column's mean date, not a missing value:
    /// logistic regression cannot take one (trees send it down a branch of its own).
    fill_missing_ages: bool,
    n_products: usize,
}

#[derive(Debug, Clone)]
enum Column {
    Feature(String),
    Holds(usize),
    Segment(i32),
    /// The age in years by the `ages` column of this index, as of the snapshot.
    Age(usize),
}

impl Propensity {
    /// Fits one model per product; returns the notes the stage should show.
    pub fn fit(inputs: &Inputs<'_>, settings: PropensitySettings) -> Option<(Self, Vec<String>)> {
        let features = inputs.features?;
        let n_products = inputs.product_names.len();
        let mut segments: Vec<i32> = inputs
            .segments
            .map(|s| s.iter().flatten().copied().collect())
            .unwrap_or_default();
        segments.sort_unstable();
        segments.dedup();
        let mut columns: Vec<Column> = features
            .names
            .iter()
            .cloned()
            .map(Column::Feature)
            .collect();
        columns.extend((0..n_products).map(Column::Holds));
        columns.extend(segments.iter().map(|&s| Column::Segment(s)));
        if let Some(dates) = inputs.dates {
            columns.extend((0..dates.names.len()).map(Column::Age));
        }
        let training = match inputs.history.len().saturating_sub(1) {
            0 => Training::LookAlike,
            transitions => Training::Transitions(transitions),
        };
        let mut method = Propensity {
            models: Vec::new(),
            training,
            segments,
            columns,
            bands: (0..features.d).map(|j| Bands::fit(features, j)).collect(),
            fill_missing_ages: settings.model == PropensityModel::Logistic,
            n_products,
        };
        let mut notes = Vec::new();
        let mut fallbacks = Vec::new();
        let width = method.columns.len();
        let mut models = Vec::with_capacity(n_products);
        let mut sampled = Vec::new();
        for p in 0..n_products {
            let seed = settings.seed ^ (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let (values, labels, listed) =
                method.examples(inputs, p, settings.max_examples, seed ^ SAMPLE_SALT);
            if listed > labels.len() {
                sampled.push(format!("{} ({listed})", inputs.product_names[p]));
            }
            let positives = labels.iter().filter(|&&l| l).count();
            let negatives = labels.len() - positives;
            let share = positives as f64 / labels.len().max(1) as f64;
            if positives < settings.min_positives || negatives < settings.min_positives {
                fallbacks.push(format!("{} ({positives} takers)", inputs.product_names[p]));
                models.push(ProductModel::Popularity(share));
                continue;
            }
            let model = ArrayView2::from_shape((labels.len(), width), &values)
                .map_err(|e| e.to_string())
                .and_then(|x| fit_product(settings, x, &labels, seed));
            match model {
                Ok(model) => models.push(model),
                Err(why) => {
                    fallbacks.push(format!(
                        "{} (the model did not fit: {why})",
                        inputs.product_names[p]
                    ));
                    models.push(ProductModel::Popularity(share));
                }
            }
        }
        method.models = models;
        notes.push(match method.training {
            Training::Transitions(n) => format!(
                "propensity: {n} snapshot transition(s) before the one scored, one {} model per product{}",
                settings.model.name(),
                if settings.calibrate { ", calibrated by Platt scaling on a held-out 20 %" } else { "" }
            ),
            Training::LookAlike => format!(
                "propensity: look-alike (holders against non-holders at the scored snapshot; one snapshot only), one {} model per product",
                settings.model.name()
            ),
        });
        if !sampled.is_empty() {
            notes.push(format!(
                "propensity: learnt from a seeded sample of {} examples where there were more: {}",
                settings.max_examples,
                sampled.join(", ")
            ));
        }
        if !fallbacks.is_empty() {
            notes.push(format!(
                "propensity: fewer than {} takers or non-takers to learn from, so ranked by popularity: {}",
                settings.min_positives,
                fallbacks.join(", ")
            ));
        }
        Some((method, notes))
    }

    /// The probability of each product not held; the take-up share for the products not
    /// learnt.
    pub fn scores(&self, inputs: &Inputs<'_>, c: usize, out: &mut [f64]) {
        let held = inputs.train[c];
        let mut row = Vec::with_capacity(self.columns.len());
        let has_row = self.row(inputs, c, held, inputs.train_date, &mut row);
        for (p, (score, model)) in out.iter_mut().zip(&self.models).enumerate() {
            if held & (1 << p) != 0 {
                continue;
            }
            *score = match model {
                ProductModel::Popularity(share) => *share,
                ProductModel::Gbdt(m, platt) if has_row => platt.probability(m.raw_score(&row)),
                ProductModel::Logistic(m, platt) if has_row => platt.probability(m.raw_score(&row)),
                _ => continue,
            };
        }
    }

    /// Why product `p` is recommended to customer `c`: its probability and the two
    /// inputs that raise it most for this customer.
    pub fn reason(&self, inputs: &Inputs<'_>, c: usize, p: usize, probability: f64) -> String {
        let percent = format!("{:.0}%", probability * 100.0);
        let mut row = Vec::with_capacity(self.columns.len());
        let model = &self.models[p];
        if let ProductModel::Popularity(_) = model {
            return format!(
                "taken by {percent} of the customers it was learnt from (too few takers for a model)"
            );
        }
        if !self.row(
            inputs,
            c,
            inputs.train[c] & !(1 << p),
            inputs.train_date,
            &mut row,
        ) {
            return String::new();
        }
        let mut contributions = vec![0.0; row.len()];
        match model {
            // Platt's curve rises with the raw score (when it does not, the largest terms
            // still say what moves the score most), so the raw contributions rank them.
            ProductModel::Gbdt(m, _) => {
                m.contributions(&row, &mut contributions);
            }
            ProductModel::Logistic(m, _) => {
                m.contributions(&row, &mut contributions);
            }
            ProductModel::Popularity(_) => {}
        }
        let mut order: Vec<usize> = (0..row.len()).filter(|&j| contributions[j] > 0.0).collect();
        order.sort_by(|&a, &b| {
            contributions[b]
                .total_cmp(&contributions[a])
                .then(a.cmp(&b))
        });
        let drivers: Vec<String> = order
            .iter()
            .take(2)
            .map(|&j| match &self.columns[j] {
                Column::Feature(name) => match self.bands.get(j).and_then(Option::as_ref) {
                    Some(bands) => bands.describe(row[j]),
                    None => describe_feature(name, row[j]),
                },
                Column::Holds(q) if row[j] > 0.0 => format!("holds {}", inputs.product_names[*q]),
                Column::Holds(q) => format!("no {} yet", inputs.product_names[*q]),
                Column::Segment(s) if row[j] > 0.0 => format!(
                    "segment '{}'",
                    inputs
                        .segment_labels
                        .get(s)
                        .cloned()
                        .unwrap_or_else(|| s.to_string())
                ),
                Column::Age(a) => {
                    let name = inputs
                        .dates
                        .and_then(|d| d.names.get(*a))
                        .map_or("age", |n| n);
                    if row[j].is_finite() {
                        format!("{name} {:.0}", row[j].floor())
                    } else {
                        format!("{name} unknown")
                    }
                }
                Column::Segment(s) => format!(
                    "not in segment '{}'",
                    inputs
                        .segment_labels
                        .get(s)
                        .cloned()
                        .unwrap_or_else(|| s.to_string())
                ),
            })
            .collect();
        let when = match self.training {
            Training::Transitions(_) => "to take it by the next snapshot",
            Training::LookAlike => "to hold it, by customers like you",
        };
        if drivers.is_empty() {
            format!("{percent} likely {when}")
        } else {
            format!("{percent} likely {when}: {}", drivers.join(", "))
        }
    }

    /// The models as the model file keeps them; `products` are the product ids,
    /// `scored_day` the scored snapshot's day and `panel` whether the features are one.
    pub fn to_file(
        &self,
        products: &[String],
        dates: Option<&CustomerDates>,
        scored_day: Option<i32>,
        panel: bool,
    ) -> PropensityModels {
        let inputs = self
            .columns
            .iter()
            .map(|column| match column {
                Column::Feature(name) => PropensityInput::Feature { name: name.clone() },
                Column::Holds(q) => PropensityInput::Holds {
                    product: products.get(*q).cloned().unwrap_or_default(),
                },
                Column::Segment(s) => PropensityInput::Segment { segment: *s },
                Column::Age(a) => PropensityInput::Age {
                    column: dates
                        .and_then(|d| d.columns.get(*a))
                        .cloned()
                        .unwrap_or_default(),
                    name: dates
                        .and_then(|d| d.names.get(*a))
                        .cloned()
                        .unwrap_or_default(),
                    missing_as_mean: self.fill_missing_ages,
                    mean_day: dates.and_then(|d| d.mean_day(*a)),
                },
            })
            .collect();
        let products = self
            .models
            .iter()
            .map(|model| match model {
                ProductModel::Gbdt(model, platt) => ProductPropensity::Gbdt {
                    model: model.clone(),
                    platt: *platt,
                },
                ProductModel::Logistic(model, platt) => ProductPropensity::Logistic {
                    model: model.clone(),
                    platt: *platt,
                },
                ProductModel::Popularity(share) => ProductPropensity::Popularity { share: *share },
            })
            .collect();
        PropensityModels {
            training: match self.training {
                Training::Transitions(n) => format!("transitions: {n}"),
                Training::LookAlike => "look_alike".into(),
            },
            inputs,
            products,
            scored_day,
            panel,
        }
    }

    /// Products with a model of their own.
    pub fn learnt(&self) -> usize {
        self.models
            .iter()
            .filter(|m| !matches!(m, ProductModel::Popularity(_)))
            .count()
    }
}

/// A feature and the customer's value of it in words, from the feature's origin as its
/// name records it (`COLUMN__transform__scale`, `COLUMN=category`, `COLUMN__missing`):
/// "income above average", "job management", "income missing".
fn describe_feature(name: &str, value: f64) -> String {
    let words = |text: &str| text.replace('_', " ");
    if let Some((column, category)) = name.split_once('=') {
        return if value > 0.5 {
            format!("{} {}", words(column), words(category))
        } else {
            format!("{} not {}", words(column), words(category))
        };
    }
    let source = words(name.split("__").next().unwrap_or(name));
    if name.ends_with("__missing") {
        return if value > 0.5 {
            format!("{source} missing")
        } else {
            format!("{source} known")
        };
    }
    // Standard and robust scaling centre a column on its mean or median, so the sign
    // says which side of it the customer is on; other scalings say only the column.
    let centre = if name.ends_with("__standard") {
        "average"
    } else if name.ends_with("__robust") {
        "median"
    } else {
        return source;
    };
    let side = if value >= 0.0 { "above" } else { "below" };
    format!("{source} {side} {centre}")
}

/// One product's model on its examples `x` and `labels`: fitted on all of them, or on
/// a seeded 80 % with Platt scaling fitted on the rest; the reason when it does not fit.
fn fit_product(
    settings: PropensitySettings,
    x: ArrayView2<f64>,
    labels: &[bool],
    seed: u64,
) -> Result<ProductModel, String> {
    let (fit_rows, calibration_rows) = if settings.calibrate {
        stratified_split(labels, CALIBRATION_FRACTION, seed ^ CALIBRATION_SALT)
    } else {
        ((0..labels.len()).collect(), Vec::new())
    };
    let x_fit = x.select(Axis(0), &fit_rows);
    let y_fit: Vec<bool> = fit_rows.iter().map(|&r| labels[r]).collect();
    let calibrate = |raw: &dyn Fn(&[f64]) -> f64| -> Platt {
        if calibration_rows.is_empty() {
            return Platt::IDENTITY;
        }
        let scores: Vec<f64> = calibration_rows
            .iter()
            .map(|&r| x.row(r).as_slice().map_or(0.0, raw))
            .collect();
        let y: Vec<bool> = calibration_rows.iter().map(|&r| labels[r]).collect();
        Platt::fit(&scores, &y)
    };
    match settings.model {
        PropensityModel::Gbdt => {
            let model = GbdtParams::new()
                .seed(seed)
                .check()
                .and_then(|params| params.fit_rows(x_fit.view(), &y_fit))
                .map_err(|e| e.to_string())?;
            let platt = calibrate(&|row| model.raw_score(row));
            Ok(ProductModel::Gbdt(model, platt))
        }
        PropensityModel::Logistic => {
            let model = LogisticParams::new()
                .check()
                .and_then(|params| params.fit_rows(x_fit.view(), &y_fit))
                .map_err(|e| e.to_string())?;
            let platt = calibrate(&|row| model.raw_score(row));
            Ok(ProductModel::Logistic(model, platt))
        }
    }
}

impl PropensityModel {
    pub fn name(self) -> &'static str {
        match self {
            PropensityModel::Gbdt => "gbdt",
            PropensityModel::Logistic => "logistic",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::content::CustomerFeatures;
    use crate::holdings::Basket;

    /// 400 customers with one noise feature; product 1 is taken (between the two
    /// snapshots) by exactly the holders of product 0.
    fn case() -> (CustomerFeatures, Vec<Vec<Basket>>, Vec<String>) {
        let n = 400;
        let features = CustomerFeatures {
            d: 1,
            names: vec!["income".into()],
            unscale: vec![None],
            values: (0..n).map(|c| ((c * 37) % 101) as f64 / 101.0).collect(),
            row_of: (0..n as u32).map(Some).collect(),
            panel: None,
        };
        // Customer c holds product 0 when c is even; product 2 (a current account) always.
        let before: Vec<Basket> = (0..n).map(|c| 0b100 | u128::from(c % 2 == 0)).collect();
        let after: Vec<Basket> = before.iter().map(|&b| b | ((b & 1) << 1)).collect();
        let names = vec!["Mortgage".into(), "Home insurance".into(), "Current".into()];
        (features, vec![before, after], names)
    }

    fn inputs<'a>(
        features: &'a CustomerFeatures,
        history: &'a [Vec<Basket>],
        names: &'a [String],
        labels: &'a BTreeMap<i32, String>,
    ) -> Inputs<'a> {
        Inputs {
            product_names: names,
            train: &history[history.len() - 1],
            history,
            held_out_customers: None,
            train_date: None,
            history_dates: &[],
            dates: None,
            segments: None,
            segment_labels: labels,
            features: Some(features),
        }
    }

    fn settings(model: PropensityModel) -> PropensitySettings {
        PropensitySettings {
            model,
            min_positives: 20,
            calibrate: true,
            seed: 1,
            max_examples: 1_000_000,
        }
    }

    /// A loyalty card taken in the month a customer's first year completes, over six
    /// monthly snapshots. Learnt from each transition's start, tenure says exactly who
    /// takes the card next; learnt from today's tenure (the scored snapshot's, for every
    /// transition, as a table of today's customers gives it), the earlier transitions'
    /// takers look a month, two, three older than the rule, and the model misses it.
    #[test]
    fn transitions_learn_from_the_customers_as_they_were_then() {
        let n = 1200;
        let day = |i: usize| 20_000 + 30 * i as i32;
        // Joined between two years before the first snapshot and the first snapshot.
        let since: Vec<Option<i32>> = (0..n)
            .map(|c| Some(day(0) - (c * 731 / n) as i32))
            .collect();
        let tenure = |c: usize, i: usize| f64::from(day(i) - since[c].unwrap()) / 365.25;
        let snapshots = 6;
        let takes = |c: usize, i: usize| (0.92..1.0).contains(&tenure(c, i));
        // Everyone holds a current account (product 0); the card (1) from the snapshot
        // after the first year completes, for good.
        let mut history: Vec<Vec<Basket>> = vec![vec![0b01; n]; snapshots];
        for i in 0..snapshots - 1 {
            let (before, after) = history.split_at_mut(i + 1);
            for (c, (held, next)) in before[i].iter().zip(after[0].iter_mut()).enumerate() {
                if takes(c, i) || held & 0b10 != 0 {
                    *next |= 0b10;
                }
            }
        }
        let features = CustomerFeatures {
            d: 1,
            names: vec!["noise".into()],
            unscale: vec![None],
            values: (0..n).map(|c| ((c * 37) % 101) as f64).collect(),
            row_of: (0..n as u32).map(Some).collect(),
            panel: None,
        };
        let dates =
            CustomerDates::from_days(vec!["years as a customer".into()], vec![since.clone()]);
        let names = vec!["Current".into(), "Loyalty card".into()];
        let labels = BTreeMap::new();
        // Learnt on the transitions up to the fifth snapshot, scored there.
        let scored_at = snapshots - 2;
        let then: Vec<Option<i32>> = (0..=scored_at).map(|i| Some(day(i))).collect();
        let today = vec![Some(day(scored_at)); scored_at + 1];
        fn fitted<'a>(
            inputs: Inputs<'a>,
            scored_at: usize,
            history: &[Vec<Basket>],
        ) -> (f64, Propensity) {
            let (method, _) = Propensity::fit(&inputs, settings(PropensityModel::Gbdt)).unwrap();
            let (mut scores, mut taken) = (Vec::new(), Vec::new());
            let mut out = vec![0.0; 2];
            for c in (0..history[0].len()).filter(|&c| history[scored_at][c] & 0b10 == 0) {
                method.scores(&inputs, c, &mut out);
                scores.push(out[1]);
                taken.push(history[scored_at + 1][c] & 0b10 != 0);
            }
            let auc = clientele_numeric::classification::roc_auc(&scores, &taken).unwrap();
            (auc, method)
        }
        let base = Inputs {
            dates: Some(&dates),
            ..inputs(&features, &history[..=scored_at], &names, &labels)
        };
        let point_in_time_inputs = base.dated(Some(day(scored_at)), &then);
        let (point_in_time, method) = fitted(point_in_time_inputs, scored_at, &history);
        let (todays, _) = fitted(
            base.dated(Some(day(scored_at)), &today),
            scored_at,
            &history,
        );
        let inputs = point_in_time_inputs;
        eprintln!("loyalty card AUC: as of each transition's start {point_in_time:.3}, today's {todays:.3}");
        assert!(
            point_in_time > 0.97 && point_in_time > todays + 0.1,
            "as of each transition's start {point_in_time}, today's {todays}"
        );
        let taker = (0..n).find(|&c| takes(c, scored_at)).unwrap();
        let mut out = vec![0.0; 2];
        method.scores(&inputs, taker, &mut out);
        let reason = method.reason(&inputs, taker, 1, out[1]);
        assert!(reason.contains("years as a customer 0"), "{reason}");

        // A customer who joined after a transition's start is not among its examples,
        // even when the holdings say otherwise.
        let mut late = dates.days().clone();
        late[0][0] = Some(day(2) + 1);
        let late = CustomerDates::from_days(vec!["years as a customer".into()], late);
        let with_late = Inputs {
            dates: Some(&late),
            ..inputs
        };
        let (_, all, _) = method.examples(&inputs, 1, usize::MAX, 0);
        let (_, fewer, _) = method.examples(&with_late, 1, usize::MAX, 0);
        assert_eq!(
            all.len() - fewer.len(),
            3,
            "left out of the three transitions that start before they joined"
        );
    }

    #[test]
    fn transitions_learn_what_holders_of_another_product_take_next() {
        let (features, history, names) = case();
        let labels = BTreeMap::new();
        // Scored at the later snapshot: a customer without the mortgage, and one with it
        // (who already took the insurance, so it is the customer before taking it that
        // is asked about: the earlier snapshot).
        let scored = inputs(&features, &history, &names, &labels);
        let (method, notes) = Propensity::fit(&scored, settings(PropensityModel::Gbdt)).unwrap();
        assert_eq!(method.training, Training::Transitions(1));
        // Product 1 learnt from the transition; products 0 and 2: nobody took them, so
        // popularity, and the notes say so.
        assert_eq!(method.learnt(), 1);
        assert!(
            notes.iter().any(|n| n.contains("Mortgage (0 takers)")),
            "{notes:?}"
        );
        let (values, labels_1, _) = method.examples(&scored, 1, usize::MAX, 0);
        // Every customer lacked product 1 before; the row's own flag is 0 and the
        // mortgage flag is the label.
        assert_eq!(labels_1.len(), 400);
        // Capped: a seeded sample of the rows, in their order, the same on every run.
        let (sample, sample_labels, listed) = method.examples(&scored, 1, 100, 9);
        assert_eq!((sample_labels.len(), listed), (100, 400));
        assert_eq!(method.examples(&scored, 1, 100, 9).0, sample);
        let width = method.columns.len();
        let all_rows: Vec<&[f64]> = values.chunks_exact(width).collect();
        let mut at = 0;
        for (row, &label) in sample.chunks_exact(width).zip(&sample_labels) {
            let found = all_rows[at..].iter().position(|r| *r == row).unwrap();
            at += found + 1;
            assert_eq!(labels_1[at - 1], label);
        }
        let capped = PropensitySettings {
            max_examples: 100,
            ..settings(PropensityModel::Gbdt)
        };
        let (_, notes) = Propensity::fit(&scored, capped).unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("sample of 100 examples") && n.contains("(400)")),
            "{notes:?}"
        );
        let width = method.columns.len();
        for (row, &label) in values.chunks_exact(width).zip(&labels_1) {
            assert_eq!(row[1 + 1], 0.0, "product 1's own flag is left out");
            assert_eq!(row[1] == 1.0, label);
        }
        let earlier = [history[0].clone()];
        let asked = inputs(&features, &earlier, &names, &labels);
        let mut out = vec![0.0; 3];
        method.scores(&asked, 0, &mut out);
        let with_mortgage = out[1];
        method.scores(&asked, 1, &mut out);
        let without = out[1];
        assert!(
            with_mortgage > 0.9 && without < 0.1,
            "{with_mortgage} {without}"
        );
        let reason = method.reason(&asked, 0, 1, with_mortgage);
        assert!(
            reason.contains("likely to take it by the next snapshot: holds Mortgage"),
            "{reason}"
        );
    }

    #[test]
    fn features_are_described_from_their_origins() {
        assert_eq!(
            describe_feature("income__log1p__standard", 0.7),
            "income above average"
        );
        assert_eq!(
            describe_feature("spend_travel__robust", -0.1),
            "spend travel below median"
        );
        assert_eq!(
            describe_feature("job=self_employed", 1.0),
            "job self employed"
        );
        assert_eq!(describe_feature("job=admin", 0.0), "job not admin");
        assert_eq!(describe_feature("income__missing", 1.0), "income missing");
        assert_eq!(describe_feature("age__minmax", 0.3), "age");
    }

    #[test]
    fn one_snapshot_gives_look_alike_and_logistic_learns_it_too() {
        let (features, history, names) = case();
        let labels = BTreeMap::new();
        let last = [history[1].clone()];
        let scored = inputs(&features, &last, &names, &labels);
        let (method, _) = Propensity::fit(&scored, settings(PropensityModel::Logistic)).unwrap();
        assert_eq!(method.training, Training::LookAlike);
        // Holders of 0 hold 1 and the other way round; product 2 is held by everyone.
        assert_eq!(method.learnt(), 2);
        let (_, labels_2, _) = method.examples(&scored, 2, usize::MAX, 0);
        assert!(labels_2.iter().all(|&l| l));
        // Customers held out whole are not examples: their holdings are unknown.
        let held_out: Vec<bool> = (0..last[0].len()).map(|c| c % 3 == 0).collect();
        let split = Inputs {
            held_out_customers: Some(&held_out),
            ..inputs(&features, &last, &names, &labels)
        };
        let (all, _, _) = method.examples(&scored, 2, usize::MAX, 0);
        let (kept, kept_labels, _) = method.examples(&split, 2, usize::MAX, 0);
        let kept_customers = held_out.iter().filter(|&&h| !h).count();
        assert_eq!(kept_labels.len(), kept_customers);
        assert_eq!(kept.len() * last[0].len(), all.len() * kept_customers);
        let without_features = Inputs {
            features: None,
            ..inputs(&features, &last, &names, &labels)
        };
        assert!(Propensity::fit(&without_features, settings(PropensityModel::Gbdt)).is_none());
    }
}
