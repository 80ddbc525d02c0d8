//! The ranking metrics of every list (the blend and each method) at each k, overall
//! and per segment, against the held-out products.

use std::collections::BTreeMap;
use std::path::Path;

use clientele_numeric::ranking::{RankingMetrics, RankingSums};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::stage::StageIo;

use crate::clustering_section::Segments;
use crate::errors::EvaluateError;
use crate::lists::{self, Rows};
use crate::metrics_file::{MetricsFile, RankingDetails};
use crate::EvaluateParams;

/// The flat name of a metric of a list: the blend's own name, or `METHOD.name`.
pub(crate) fn flat(prefix: &str, list: &str, name: &str) -> String {
    let list = if list == "blend" {
        String::new()
    } else {
        format!("{list}.")
    };
    format!("{prefix}{list}{name}")
}

/// The metrics of one list at `k`, overall and by segment, in one pass over the
/// customers in id order (the order the sums were always taken in).
pub(crate) fn score_list(
    list: &Rows,
    relevant: &Rows,
    segment_of: Option<&[Option<i64>]>,
    k: usize,
) -> (RankingSums, BTreeMap<i64, RankingSums>) {
    let mut overall = RankingSums::default();
    let mut by_segment: BTreeMap<i64, RankingSums> = BTreeMap::new();
    let segment = |c: u32| segment_of.and_then(|s| s[c as usize]);
    // Both sides are sorted by customer: walked side by side rather than searched.
    let mut r = 0;
    for (i, &customer) in list.customers.iter().enumerate() {
        while relevant.customers.get(r).is_some_and(|&c| c < customer) {
            r += 1;
        }
        let truth = if relevant.customers.get(r) == Some(&customer) {
            relevant.products_of(r)
        } else {
            &[][..]
        };
        let add = |sums: &mut RankingSums| {
            sums.add_list(
                list.products_of(i)
                    .iter()
                    .map(|p| truth.binary_search(p).is_ok()),
                truth.len(),
                k,
            )
        };
        add(&mut overall);
        if let Some(s) = segment(customer) {
            add(by_segment.entry(s).or_default());
        }
    }
    let mut i = 0;
    for &customer in &relevant.customers {
        while list.customers.get(i).is_some_and(|&c| c < customer) {
            i += 1;
        }
        if list.customers.get(i) != Some(&customer) {
            overall.add_unrecommended();
            if let Some(s) = segment(customer) {
                by_segment.entry(s).or_default().add_unrecommended();
            }
        }
    }
    (overall, by_segment)
}

/// The metrics averaged over customers, by their names in metrics.json.
fn per_customer(m: &RankingMetrics) -> [(&'static str, f64); 6] {
    [
        ("precision", m.precision),
        ("recall", m.recall),
        ("f1", m.f1),
        ("map", m.map),
        ("ndcg", m.ndcg),
        ("hit_rate", m.hit_rate),
    ]
}

pub(crate) fn ranking_section(
    params: &EvaluateParams,
    io: &StageIo,
    test: &Path,
    segments: Option<&Segments>,
    file: &mut MetricsFile,
    key: Option<&ParquetKey>,
) -> Result<(), EvaluateError> {
    let ranked = lists::read(
        test,
        io.input("recommendations"),
        io.input("by_method"),
        io.input("train"),
        key,
    )?;
    let mut details = RankingDetails {
        averaging: params.averaging,
        products: ranked.products.len(),
        customers_with_held_out_products: ranked.relevant.customers.len() as u64,
        ..RankingDetails::default()
    };
    let segment_of: Option<Vec<Option<i64>>> =
        segments.filter(|_| params.per_segment).map(|segments| {
            ranked
                .customers
                .iter()
                .map(|c| segments.get(c).copied())
                .collect()
        });
    // The blend first, then the methods in name order.
    let mut order: Vec<&String> = ranked.lists.keys().filter(|m| *m == "blend").collect();
    order.extend(ranked.lists.keys().filter(|m| *m != "blend"));
    for name in order {
        let list = &ranked.lists[name];
        details.lists.push(name.clone());
        for &k in &params.k {
            let (overall, by_segment) =
                score_list(list, &ranked.relevant, segment_of.as_deref(), k);
            let m = overall.metrics_with(k, params.averaging);
            let mut covered = vec![false; ranked.products.len()];
            for i in 0..list.customers.len() {
                for &p in list.products_of(i).iter().take(k) {
                    covered[p as usize] = true;
                }
            }
            let covered = covered.iter().filter(|&&c| c).count();
            let coverage = covered as f64 / ranked.products.len().max(1) as f64;
            for (metric, value) in per_customer(&m).into_iter().chain([("coverage", coverage)]) {
                file.metrics
                    .insert(flat("", name, &format!("{metric}_at_{k}")), value);
            }
            if k == params.k[0] {
                details
                    .customers_counted
                    .insert(name.clone(), m.customers_counted);
                details
                    .customers_without_relevant
                    .insert(name.clone(), m.customers_without_relevant);
                details
                    .customers_without_recommendations
                    .insert(name.clone(), m.customers_without_recommendations);
            }
            for (segment, sums) in &by_segment {
                let m = sums.metrics_with(k, params.averaging);
                for (metric, value) in per_customer(&m) {
                    file.metrics.insert(
                        flat(
                            &format!("segment.{segment}."),
                            name,
                            &format!("{metric}_at_{k}"),
                        ),
                        value,
                    );
                }
            }
        }
    }
    file.ranking = Some(details);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_names_keep_the_blend_unprefixed() {
        assert_eq!(flat("", "blend", "map_at_3"), "map_at_3");
        assert_eq!(flat("", "popularity", "map_at_3"), "popularity.map_at_3");
        assert_eq!(
            flat("segment.2.", "item_knn", "ndcg_at_5"),
            "segment.2.item_knn.ndcg_at_5"
        );
    }

    #[test]
    fn every_customer_with_something_held_out_is_scored_by_segment() {
        // Customer 0 gets product 1 first (a hit at rank 1); customer 1 gets nothing
        // relevant; customer 2 has something held out but no list; customer 3 has a list
        // but nothing held out.
        let list = Rows::from_triples(vec![(0, 1, 1), (0, 2, 4), (1, 1, 3), (3, 1, 2)], false);
        let relevant = Rows::from_triples(vec![(0, 0, 1), (1, 0, 2), (2, 0, 0)], true);
        let segments = [Some(7), Some(7), Some(8), None];
        let (overall, by_segment) = score_list(&list, &relevant, Some(&segments), 2);
        let m = overall.metrics(2);
        assert_eq!(m.customers_counted, 2);
        assert_eq!(m.customers_without_relevant, 1);
        assert_eq!(m.customers_without_recommendations, 1);
        // Precision at 2: (1/2 + 0) / 2; MAP: (1 + 0) / 2 over the customers counted.
        assert!((m.precision - 0.25).abs() < 1e-12);
        assert!((m.map - 0.5).abs() < 1e-12);
        // NDCG counts the customer without a list as 0: (1 + 0 + 0) / 3.
        assert!((m.ndcg - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(by_segment[&7].metrics(2).customers_counted, 2);
        let eight = by_segment[&8].metrics(2);
        assert_eq!(
            (
                eight.customers_counted,
                eight.customers_without_recommendations
            ),
            (0, 1)
        );
        assert!(!by_segment.contains_key(&9));
    }
}
