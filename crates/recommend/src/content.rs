//! Content-based filtering in the preprocessed feature space: what the customers who
//! bank most like you hold (`content_knn`), and how far your features lean towards each
//! product's holders (`product_profile`).
//!
//! `content_knn` searches exactly over a seeded reference sample of customers
//! ([`clientele_numeric::nearest`]), so the neighbours do not depend on the CPU or the
//! thread count.

use clientele_numeric::nearest::References;
use clientele_numeric::sample::sample_rows;
use clientele_shared::schema::Unscale;

use crate::holdings::{products_of, Basket};

/// Features by customer of the universe: the row of each customer, if it has one.
pub struct CustomerFeatures {
    pub d: usize,
    /// The feature columns' names, for reasons.
    pub names: Vec<String>,
    /// How to turn each feature back into its source column's units, when the features
    /// file's origins say (numeric features), for reasons in those units.
    pub unscale: Vec<Option<Unscale>>,
    /// Row-major, one row per customer with features (per customer and snapshot in a
    /// panel).
    pub values: Vec<f64>,
    /// The row of each customer of the universe: in a panel, its row at the scored
    /// snapshot ([`CustomerFeatures::score_at`]).
    pub row_of: Vec<Option<u32>>,
    /// A panel (a features table with a `snapshot` column): each customer's rows as
    /// `(snapshot day, row)`, by day.
    pub panel: Option<Vec<Vec<(i32, u32)>>>,
}

impl CustomerFeatures {
    pub fn row(&self, customer: usize) -> Option<&[f64]> {
        self.row_of[customer].map(|r| self.values_of(r))
    }

    fn values_of(&self, r: u32) -> &[f64] {
        let r = r as usize;
        &self.values[r * self.d..(r + 1) * self.d]
    }

    /// The customer as of day `as_of`: in a panel, the row of the latest snapshot on or
    /// before it (none when the customer has none yet, or the day is unknown); else the
    /// customer's one row.
    pub fn row_at(&self, customer: usize, as_of: Option<i32>) -> Option<&[f64]> {
        match &self.panel {
            None => self.row(customer),
            Some(panel) => latest_on_or_before(&panel[customer], as_of?).map(|r| self.values_of(r)),
        }
    }

    /// In a panel, makes every customer's row the one as of day `as_of`, for the methods
    /// that score the customers as they are at one snapshot.
    pub fn score_at(&mut self, as_of: Option<i32>) {
        if let Some(panel) = &self.panel {
            self.row_of = panel
                .iter()
                .map(|rows| as_of.and_then(|day| latest_on_or_before(rows, day)))
                .collect();
        }
    }
}

/// The row of the latest `(day, row)` on or before `day`.
fn latest_on_or_before(rows: &[(i32, u32)], day: i32) -> Option<u32> {
    let at = rows.partition_point(|&(d, _)| d <= day);
    at.checked_sub(1).map(|i| rows[i].1)
}

/// Votes of the nearest customers in feature space, among a reference sample.
pub struct ContentKnn {
    neighbours: usize,
    /// The reference customers' rows, each with its customer.
    references: References,
}

impl ContentKnn {
    /// References: every customer with features when there are at most `sample_size`,
    /// else a seeded sample of that many, in customer order.
    pub fn new(
        features: &CustomerFeatures,
        neighbours: usize,
        sample_size: usize,
        seed: u64,
    ) -> Self {
        let with_features: Vec<u32> = (0..features.row_of.len() as u32)
            .filter(|&c| features.row_of[c as usize].is_some())
            .collect();
        let rows = sample_rows(with_features.len(), sample_size, seed)
            .into_iter()
            .map(|i| with_features[i])
            .filter_map(|c| features.row(c as usize).map(|row| (row, c)));
        ContentKnn {
            neighbours,
            references: References::new(features.d, rows),
        }
    }

    /// The reference customers.
    pub fn references(&self) -> usize {
        self.references.len()
    }

    /// Votes of the nearest references to `x` (customer `customer` excluded), and how
    /// many there were. `nearest` is scratch space.
    pub fn votes(
        &self,
        x: &[f64],
        customer: usize,
        train: &[Basket],
        nearest: &mut Vec<(f64, u32)>,
        votes: &mut [f64],
    ) -> u32 {
        self.nearest(&[(x, customer)], std::slice::from_mut(nearest));
        Self::votes_of(nearest, train, votes)
    }

    /// The nearest references of each `(features, customer)` of `queries` (the customer
    /// itself excluded) into the matching entry of `nearest`, nearest first, several
    /// customers per pass over the references.
    pub fn nearest(&self, queries: &[(&[f64], usize)], nearest: &mut [Vec<(f64, u32)>]) {
        let queries: Vec<(&[f64], u32)> = queries.iter().map(|&(x, c)| (x, c as u32)).collect();
        self.references.nearest(self.neighbours, &queries, nearest);
    }

    /// The votes of a customer's nearest references, and how many there were.
    pub fn votes_of(nearest: &[(f64, u32)], train: &[Basket], votes: &mut [f64]) -> u32 {
        votes.iter_mut().for_each(|v| *v = 0.0);
        for &(_, c) in nearest {
            for p in products_of(train[c as usize]) {
                votes[p] += 1.0;
            }
        }
        nearest.len() as u32
    }
}

/// For each product, the unit direction from the mean customer to the mean holder.
pub struct ProductProfile {
    d: usize,
    mean: Vec<f64>,
    /// `directions[p]`: `None` when no customer with features holds `p`, or its
    /// holders' mean is the overall mean.
    directions: Vec<Option<Vec<f64>>>,
}

impl ProductProfile {
    pub fn fit(features: &CustomerFeatures, train: &[Basket], n_products: usize) -> Self {
        let d = features.d;
        let mut total = vec![0.0; d];
        let mut rows = 0usize;
        let mut sums = vec![vec![0.0; d]; n_products];
        let mut holders = vec![0usize; n_products];
        for (c, &basket) in train.iter().enumerate() {
            let Some(x) = features.row(c) else { continue };
            rows += 1;
            for (t, v) in total.iter_mut().zip(x) {
                *t += v;
            }
            for p in products_of(basket) {
                holders[p] += 1;
                for (s, v) in sums[p].iter_mut().zip(x) {
                    *s += v;
                }
            }
        }
        let mean: Vec<f64> = total.iter().map(|t| t / rows.max(1) as f64).collect();
        let directions = (0..n_products)
            .map(|p| {
                if holders[p] == 0 {
                    return None;
                }
                let diff: Vec<f64> = sums[p]
                    .iter()
                    .zip(&mean)
                    .map(|(s, m)| s / holders[p] as f64 - m)
                    .collect();
                let norm = diff.iter().map(|v| v * v).sum::<f64>().sqrt();
                (norm > 0.0).then(|| diff.iter().map(|v| v / norm).collect())
            })
            .collect();
        ProductProfile {
            d,
            mean,
            directions,
        }
    }

    /// The projection of the customer's features, from the mean customer, on each
    /// product's direction; `NEG_INFINITY` for a product without one.
    pub fn scores(&self, x: &[f64], out: &mut [f64]) {
        for (o, direction) in out.iter_mut().zip(&self.directions) {
            *o = match direction {
                Some(u) => (0..self.d).map(|j| (x[j] - self.mean[j]) * u[j]).sum(),
                None => f64::NEG_INFINITY,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(rows: &[[f64; 2]]) -> CustomerFeatures {
        CustomerFeatures {
            d: 2,
            names: vec!["a".into(), "b".into()],
            unscale: vec![None; 2],
            panel: None,
            values: rows.iter().flatten().copied().collect(),
            row_of: (0..rows.len() as u32).map(Some).collect(),
        }
    }

    #[test]
    fn nearest_equal_brute_force_with_ties_in_reference_order() {
        // 21 customers on a grid, many at equal distances; all are references.
        let rows: Vec<[f64; 2]> = (0..21).map(|i| [(i % 5) as f64, (i / 5) as f64]).collect();
        let f = features(&rows);
        let knn = ContentKnn::new(&f, 6, 100, 0);
        let train = vec![0 as Basket; rows.len()];
        for c in 0..rows.len() {
            let mut brute: Vec<(f64, u32)> = (0..rows.len())
                .filter(|&o| o != c)
                .map(|o| {
                    let d2 = (rows[o][0] - rows[c][0]).powi(2) + (rows[o][1] - rows[c][1]).powi(2);
                    (d2, o as u32)
                })
                .collect();
            brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            brute.truncate(6);
            let mut nearest = Vec::new();
            let mut votes = vec![0.0; 1];
            let found = knn.votes(f.row(c).unwrap(), c, &train, &mut nearest, &mut votes);
            assert_eq!(found, 6);
            assert_eq!(nearest, brute, "customer {c}");
        }
    }

    #[test]
    fn several_customers_per_pass_find_what_each_finds_alone() {
        // Ties on purpose (a grid), more customers than a pass serves, a group left short.
        let rows: Vec<[f64; 2]> = (0..61)
            .map(|i| {
                [
                    (i % 7) as f64 * 0.5,
                    (i / 7) as f64 * 0.25 + (i % 3) as f64 * 1e-9,
                ]
            })
            .collect();
        let f = features(&rows);
        let knn = ContentKnn::new(&f, 5, 40, 3);
        let queries: Vec<(&[f64], usize)> =
            (0..rows.len()).map(|c| (f.row(c).unwrap(), c)).collect();
        let mut together = vec![Vec::new(); queries.len()];
        knn.nearest(&queries, &mut together);
        for (c, list) in together.iter().enumerate() {
            let mut alone = vec![Vec::new()];
            knn.nearest(&queries[c..=c], &mut alone);
            assert_eq!(list.len(), 5);
            // The same distances to the bit, the same references in the same order.
            let bits =
                |l: &[(f64, u32)]| l.iter().map(|(d, r)| (d.to_bits(), *r)).collect::<Vec<_>>();
            assert_eq!(bits(list), bits(&alone[0]), "customer {c}");
            assert!(list.iter().all(|&(_, r)| r as usize != c));
        }
    }

    #[test]
    fn customers_who_bank_like_you_vote() {
        // Two groups far apart; group A holds product 0, group B product 1.
        let rows = [
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [9.0, 9.0],
            [9.1, 9.0],
            [9.0, 9.1],
        ];
        let f = features(&rows);
        let train: Vec<Basket> = vec![0b01, 0b01, 0b00, 0b10, 0b10, 0b10];
        let knn = ContentKnn::new(&f, 2, 100, 0);
        let (mut nearest, mut votes) = (Vec::new(), vec![0.0; 2]);
        knn.votes(f.row(2).unwrap(), 2, &train, &mut nearest, &mut votes);
        assert_eq!(votes, vec![2.0, 0.0]);
        let profile = ProductProfile::fit(&f, &train, 2);
        let mut scores = vec![0.0; 2];
        profile.scores(f.row(2).unwrap(), &mut scores);
        assert!(scores[0] > scores[1], "{scores:?}");
    }
}
