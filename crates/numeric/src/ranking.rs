//! Ranking metrics at k, with the definitions of Microsoft Recommenders'
//! `python_evaluation` (binary relevance, `relevancy_method = "top_k"`):
//!
//! - precision@k = hits in the top k / k, even when fewer than k were recommended;
//! - recall@k = hits in the top k / relevant products;
//! - MAP@k = Σ over hits of (hits so far / rank), / min(k, relevant products), as in
//!   Kaggle's Santander MAP@7;
//! - NDCG@k = Σ over hits of 1 / log2(1 + rank), / the same for an ideal list of
//!   min(k, relevant) hits;
//! - hit rate@k = customers with at least one hit / customers;
//! - F1@k = the harmonic mean of the averaged precision@k and recall@k.
//!
//! Who the averages are over is an [`Averaging`]:
//! - [`Averaging::HeldOut`] (what the evaluate stage does by default): every customer
//!   with something relevant; a customer a list recommends nothing to scores 0 in every
//!   metric, so that lists that cover different customers compare on the same ones;
//! - [`Averaging::Recommended`], Microsoft Recommenders' convention: precision, recall,
//!   MAP and hit rate over the customers who have both recommendations and something
//!   relevant, the others left out and counted; NDCG, as the peer computes it, over every
//!   customer with something relevant (`make_rec_metrics_golden.py` says otherwise in its
//!   header, but Microsoft Recommenders' values have this denominator, and the test holds
//!   us to its values).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Which customers the metrics average over (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Averaging {
    /// Every customer with something relevant; no list counts as 0.
    #[default]
    HeldOut,
    /// Microsoft Recommenders': the customers with both a list and something relevant.
    Recommended,
}

/// Metrics at one k, averaged over the customers counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingMetrics {
    pub k: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub map: f64,
    pub ndcg: f64,
    pub hit_rate: f64,
    /// Customers with recommendations and at least one relevant product.
    pub customers_counted: u64,
    /// Customers with recommendations but nothing relevant: left out.
    pub customers_without_relevant: u64,
    /// Customers with something relevant but no recommendation: left out.
    pub customers_without_recommendations: u64,
}

/// The scores of one customer's ranked list at k.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListScores {
    pub hits: usize,
    pub precision: f64,
    pub recall: f64,
    /// AP@k: Σ over hits of (hits so far / rank), / min(k, relevant).
    pub average_precision: f64,
    pub ndcg: f64,
}

/// Scores one ranked list: `is_relevant` says, best first, whether each recommended
/// product is relevant; `relevant` is how many products are (at least 1).
pub fn list_scores(
    is_relevant: impl IntoIterator<Item = bool>,
    relevant: usize,
    k: usize,
) -> ListScores {
    let mut hits = 0usize;
    let mut average_precision = 0.0;
    let mut dcg = 0.0;
    for (i, hit) in is_relevant.into_iter().take(k).enumerate() {
        if hit {
            hits += 1;
            average_precision += hits as f64 / (i + 1) as f64;
            dcg += 1.0 / ((i + 2) as f64).log2();
        }
    }
    let ideal = relevant.min(k).max(1);
    let idcg: f64 = (0..ideal).map(|i| 1.0 / ((i + 2) as f64).log2()).sum();
    ListScores {
        hits,
        precision: hits as f64 / k as f64,
        recall: hits as f64 / relevant.max(1) as f64,
        average_precision: average_precision / ideal as f64,
        ndcg: dcg / idcg,
    }
}

/// Sums of per-customer scores at one k, added customer by customer: what
/// [`ranking_metrics`] averages, for callers that keep lists in their own layout (the
/// evaluate stage keeps customers and products as integers). Customers must be added in
/// the same order to give the same bits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankingSums {
    /// precision, recall, AP, NDCG, hit.
    sums: [f64; 5],
    counted: u64,
    without_relevant: u64,
    without_recommendations: u64,
}

impl RankingSums {
    /// A customer with recommendations: `is_relevant` says, best first, whether each
    /// recommended product is relevant; `relevant` is how many are (0: left out).
    pub fn add_list(
        &mut self,
        is_relevant: impl IntoIterator<Item = bool>,
        relevant: usize,
        k: usize,
    ) {
        if relevant == 0 {
            self.without_relevant += 1;
            return;
        }
        self.counted += 1;
        let scores = list_scores(is_relevant, relevant, k);
        self.sums[0] += scores.precision;
        self.sums[1] += scores.recall;
        self.sums[2] += scores.average_precision;
        self.sums[3] += scores.ndcg;
        self.sums[4] += if scores.hits > 0 { 1.0 } else { 0.0 };
    }

    /// A customer with something relevant but no recommendation.
    pub fn add_unrecommended(&mut self) {
        self.without_recommendations += 1;
    }

    /// The metrics with Microsoft Recommenders' averaging ([`Averaging::Recommended`]).
    pub fn metrics(&self, k: usize) -> RankingMetrics {
        self.metrics_with(k, Averaging::Recommended)
    }

    pub fn metrics_with(&self, k: usize, averaging: Averaging) -> RankingMetrics {
        let with_relevant = self.counted + self.without_recommendations;
        let counted = match averaging {
            Averaging::HeldOut => with_relevant,
            Averaging::Recommended => self.counted,
        };
        let mean = |s: f64| if counted > 0 { s / counted as f64 } else { 0.0 };
        let (precision, recall) = (mean(self.sums[0]), mean(self.sums[1]));
        RankingMetrics {
            k,
            precision,
            recall,
            f1: if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            },
            map: mean(self.sums[2]),
            ndcg: if with_relevant > 0 {
                self.sums[3] / with_relevant as f64
            } else {
                0.0
            },
            hit_rate: mean(self.sums[4]),
            customers_counted: self.counted,
            customers_without_relevant: self.without_relevant,
            customers_without_recommendations: self.without_recommendations,
        }
    }
}

/// The metrics at `k` of ranked lists (best first) against relevant sets, by customer,
/// with Microsoft Recommenders' averaging.
pub fn ranking_metrics(
    recommended: &BTreeMap<String, Vec<String>>,
    relevant: &BTreeMap<String, BTreeSet<String>>,
    k: usize,
) -> RankingMetrics {
    ranking_metrics_with(recommended, relevant, k, Averaging::Recommended)
}

/// [`ranking_metrics`] with the averaging given.
pub fn ranking_metrics_with(
    recommended: &BTreeMap<String, Vec<String>>,
    relevant: &BTreeMap<String, BTreeSet<String>>,
    k: usize,
    averaging: Averaging,
) -> RankingMetrics {
    let mut sums = RankingSums::default();
    for (customer, list) in recommended {
        match relevant.get(customer).filter(|t| !t.is_empty()) {
            Some(truth) => sums.add_list(list.iter().map(|p| truth.contains(p)), truth.len(), k),
            None => sums.add_list(std::iter::empty(), 0, k),
        }
    }
    for (c, t) in relevant {
        if !t.is_empty() && !recommended.contains_key(c) {
            sums.add_unrecommended();
        }
    }
    sums.metrics_with(k, averaging)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_by_hand() {
        // One customer: recommended a, b, c, d; relevant b and d and e.
        let recommended = BTreeMap::from([(
            "c1".to_string(),
            ["a", "b", "c", "d"].map(String::from).to_vec(),
        )]);
        let relevant = BTreeMap::from([
            ("c1".to_string(), ["b", "d", "e"].map(String::from).into()),
            ("c2".to_string(), ["a"].map(String::from).into()),
        ]);
        let m = ranking_metrics(&recommended, &relevant, 4);
        assert_eq!(m.precision, 2.0 / 4.0);
        assert_eq!(m.recall, 2.0 / 3.0);
        // Hits at ranks 2 and 4: (1/2 + 2/4) / min(4, 3).
        assert_eq!(m.map, (0.5 + 0.5) / 3.0);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        // c2 has something relevant but no recommendation: 0 in NDCG's average.
        assert!((m.ndcg - dcg / idcg / 2.0).abs() < 1e-15);
        assert_eq!(m.hit_rate, 1.0);
        assert_eq!(m.customers_counted, 1);
        assert_eq!(m.customers_without_recommendations, 1);
    }

    #[test]
    fn held_out_averaging_counts_a_customer_without_a_list_as_zero() {
        let mut sums = RankingSums::default();
        sums.add_list([true, false], 1, 2);
        sums.add_unrecommended();
        sums.add_list([true], 0, 2);
        let all = sums.metrics_with(2, Averaging::HeldOut);
        let peer = sums.metrics_with(2, Averaging::Recommended);
        assert_eq!((all.map, peer.map), (0.5, 1.0));
        assert_eq!((all.precision, peer.precision), (0.25, 0.5));
        assert_eq!((all.hit_rate, peer.hit_rate), (0.5, 1.0));
        assert_eq!(all.ndcg, peer.ndcg);
        assert_eq!(all.customers_counted, 1);
        assert_eq!(sums.metrics(2), peer);
    }
}
