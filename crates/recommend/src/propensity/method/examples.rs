//! What each product's model learns from and scores: the training examples
//! (transitions or look-alike, sampled down to `propensity_max_examples`), and a
//! customer's input row.

use clientele_numeric::sample::sample_rows;

use super::{Propensity, Training};
use crate::holdings::Basket;
use crate::methods::Inputs;

impl Propensity {
    /// The training examples of product `p`, row-major, and their labels: all of them, or
    /// a sample of `max_examples` drawn with `seed` when there are more; and how many
    /// there were.
    pub(super) fn examples(
        &self,
        inputs: &Inputs<'_>,
        p: usize,
        max_examples: usize,
        seed: u64,
    ) -> (Vec<f64>, Vec<bool>, usize) {
        let bit: Basket = 1 << p;
        // Each example as (transition, customer); look-alike has one "transition".
        let mut listed: Vec<(u32, u32)> = Vec::new();
        let has_row = |c: usize, as_of| inputs.features.and_then(|f| f.row_at(c, as_of)).is_some();
        match self.training {
            Training::Transitions(_) => {
                for (i, pair) in inputs.history.windows(2).enumerate() {
                    // The customers as they were at the transition's start.
                    let as_of = inputs.history_dates.get(i).copied().flatten();
                    for (c, &basket) in pair[0].iter().enumerate() {
                        // Customers who held nothing yet, or joined later, were not
                        // customers then.
                        if basket == 0
                            || basket & bit != 0
                            || inputs.dates.is_some_and(|d| d.after(c, as_of))
                            || !has_row(c, as_of)
                        {
                            continue;
                        }
                        listed.push((i as u32, c as u32));
                    }
                }
            }
            Training::LookAlike => {
                for c in 0..inputs.train.len() {
                    if inputs.held_out_customers.is_some_and(|h| h[c])
                        || !has_row(c, inputs.train_date)
                    {
                        continue;
                    }
                    listed.push((0, c as u32));
                }
            }
        }
        let count = listed.len();
        if count > max_examples {
            listed = sample_rows(count, max_examples, seed)
                .into_iter()
                .map(|e| listed[e])
                .collect();
        }
        let mut values = Vec::with_capacity(listed.len() * self.columns.len());
        let mut labels = Vec::with_capacity(listed.len());
        let mut row = Vec::with_capacity(self.columns.len());
        for (i, c) in listed {
            let (i, c) = (i as usize, c as usize);
            let (basket, as_of, label) = match self.training {
                Training::Transitions(_) => {
                    let basket = inputs.history[i][c];
                    let after = inputs.history[i + 1].get(c);
                    (
                        basket,
                        inputs.history_dates.get(i).copied().flatten(),
                        after.is_some_and(|a| a & bit != 0),
                    )
                }
                // The label is the product's own flag: it is left out of the row.
                Training::LookAlike => {
                    let basket = inputs.train[c];
                    (basket & !bit, inputs.train_date, basket & bit != 0)
                }
            };
            if self.row(inputs, c, basket, as_of, &mut row) {
                values.extend_from_slice(&row);
                labels.push(label);
            }
        }
        (values, labels, count)
    }

    /// Customer `c`'s input row with holdings `basket`; false when the customer has no
    /// features. A product's model sees rows without its own flag: its examples lack
    /// the product (transitions) or have it cleared (look-alike), and it scores only
    /// customers who do not hold it, so one row serves every product of a customer.
    pub(super) fn row(
        &self,
        inputs: &Inputs<'_>,
        c: usize,
        basket: Basket,
        as_of: Option<i32>,
        row: &mut Vec<f64>,
    ) -> bool {
        let Some(features) = inputs.features.and_then(|f| f.row_at(c, as_of)) else {
            return false;
        };
        row.clear();
        row.extend_from_slice(features);
        row.extend((0..self.n_products).map(|q| f64::from(u8::from(basket & (1 << q) != 0))));
        let segment = inputs.segments.and_then(|s| s[c]);
        row.extend(
            self.segments
                .iter()
                .map(|&s| f64::from(u8::from(segment == Some(s)))),
        );
        if let Some(dates) = inputs.dates {
            dates.ages(c, as_of, self.fill_missing_ages, row);
        }
        true
    }
}
