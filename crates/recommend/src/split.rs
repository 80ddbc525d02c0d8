//! What is recommended from, and what is held out for evaluation: a seeded holdout of
//! each customer's products, or one snapshot predicting the products newly held at a
//! later one.

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::errors::{ParamError, RecommendError};
use crate::holdings::{format_date, parse_date, products_of, Basket, Holdings};
use crate::params::{RecommendParams, SplitKind};
use crate::universe::Universe;

/// What is recommended from, and what is held out.
pub struct Split {
    pub train: Vec<Basket>,
    /// Baskets of the snapshots that transitions may be learnt from, oldest first: up
    /// to the scored one with a temporal split or none, strictly before it with a
    /// holdout (whose held-out products are in the scored snapshot).
    pub history: Vec<Vec<Basket>>,
    pub test: Option<Vec<Basket>>,
    /// With `split = "customers"`, whether each customer is held out whole.
    pub held_out_customers: Option<Vec<bool>>,
    /// The date of the snapshot `train` comes from, and of each of `history`'s.
    pub train_date: Option<i32>,
    pub history_dates: Vec<Option<i32>>,
    pub notes: Vec<String>,
}

/// Splits the holdings as `params.split` says, by universe customer.
pub fn split(
    params: &RecommendParams,
    holdings: &Holdings,
    universe: &Universe,
    path: &Path,
    seed: u64,
) -> Result<Split, RecommendError> {
    let dates: Vec<Option<i32>> = holdings.snapshots.iter().map(|(d, _)| *d).collect();
    let find = |key: &'static str, text: &str| -> Result<usize, ParamError> {
        let day = parse_date(text);
        dates
            .iter()
            .position(|d| *d == day && day.is_some())
            .ok_or_else(|| ParamError::NoSuchSnapshot {
                key,
                path: path.to_path_buf(),
                date: text.to_string(),
                snapshots: describe_snapshots(&dates),
            })
    };
    if dates.is_empty() {
        return Ok(Split {
            train: vec![0; universe.customers.len()],
            history: Vec::new(),
            test: (params.split != SplitKind::None).then(|| vec![0; universe.customers.len()]),
            held_out_customers: None,
            train_date: None,
            history_dates: Vec::new(),
            notes: vec!["the holdings table is empty".into()],
        });
    }
    let (train_at, test_at) = match params.split {
        SplitKind::Temporal => {
            if dates.len() < 2 {
                return Err(ParamError::TemporalNeedsTwoSnapshots {
                    path: path.to_path_buf(),
                    snapshots: describe_snapshots(&dates),
                }
                .into());
            }
            let train_at = match &params.snapshot {
                Some(text) => find("snapshot", text)?,
                None => dates.len() - 2,
            };
            let test_at = match &params.test_snapshot {
                Some(text) => find("test_snapshot", text)?,
                None => train_at + 1,
            };
            if test_at <= train_at || test_at >= dates.len() {
                return Err(ParamError::TestSnapshotNotAfterTraining.into());
            }
            (train_at, Some(test_at))
        }
        _ => match &params.snapshot {
            Some(text) => (find("snapshot", text)?, None),
            None => (dates.len() - 1, None),
        },
    };
    let train = universe.baskets(&holdings.snapshots[train_at].1);
    let history_until = |end: usize| -> Vec<Vec<Basket>> {
        holdings.snapshots[..end]
            .iter()
            .map(|(_, baskets)| universe.baskets(baskets))
            .collect()
    };
    let snapshot_note = |i: usize| match dates[i] {
        Some(d) => format!("snapshot {}", format_date(d)),
        None => "the holdings".to_string(),
    };
    Ok(match (params.split, test_at) {
        (SplitKind::Temporal, Some(test_at)) => {
            let later = universe.baskets(&holdings.snapshots[test_at].1);
            let test: Vec<Basket> = later.iter().zip(&train).map(|(l, t)| l & !t).collect();
            let new: u32 = test.iter().map(|b| b.count_ones()).sum();
            Split {
                notes: vec![format!(
                    "temporal split: {} predicts {}, {new} products newly held",
                    snapshot_note(train_at),
                    snapshot_note(test_at)
                )],
                history: history_until(train_at + 1),
                history_dates: dates[..=train_at].to_vec(),
                train_date: dates[train_at],
                train,
                test: Some(test),
                held_out_customers: None,
            }
        }
        (SplitKind::Holdout, _) => {
            let held = holdout(&train, params.holdout_fraction, seed);
            let out: u32 = held.test.iter().map(|b| b.count_ones()).sum();
            Split {
                notes: vec![format!(
                    "holdout split of {}: {out} products held out",
                    snapshot_note(train_at)
                )],
                train: held.train,
                history: history_until(train_at),
                history_dates: dates[..train_at].to_vec(),
                train_date: dates[train_at],
                test: Some(held.test),
                held_out_customers: None,
            }
        }
        (SplitKind::Customers, _) => {
            let (held, customers) = customer_holdout(&train, params.holdout_fraction, seed);
            let out: u32 = held.test.iter().map(|b| b.count_ones()).sum();
            let whole = customers.iter().filter(|&&h| h).count();
            Split {
                notes: vec![format!(
                    "customer split of {}: {whole} of {} customers held out whole, {out} products",
                    snapshot_note(train_at),
                    customers.len()
                )],
                train: held.train,
                history: history_until(train_at),
                history_dates: dates[..train_at].to_vec(),
                train_date: dates[train_at],
                test: Some(held.test),
                held_out_customers: Some(customers),
            }
        }
        _ => Split {
            notes: vec![format!("recommending from {}", snapshot_note(train_at))],
            history: history_until(train_at + 1),
            history_dates: dates[..=train_at].to_vec(),
            train_date: dates[train_at],
            train,
            test: None,
            held_out_customers: None,
        },
    })
}

fn describe_snapshots(dates: &[Option<i32>]) -> String {
    let named: Vec<String> = dates.iter().flatten().map(|d| format_date(*d)).collect();
    if named.is_empty() {
        "none (no snapshot column)".into()
    } else {
        named.join(", ")
    }
}

/// Baskets split into what is kept and what is held out.
pub struct Holdout {
    pub train: Vec<Basket>,
    pub test: Vec<Basket>,
}

/// Holds out `round(fraction × n)` of each customer's `n` products, at least one and
/// never all (customers with one product keep it), chosen with the seed, customer by
/// customer in id order.
pub fn holdout(baskets: &[Basket], fraction: f64, seed: u64) -> Holdout {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(baskets.len());
    let mut test = Vec::with_capacity(baskets.len());
    for &basket in baskets {
        let mut products: Vec<usize> = products_of(basket).collect();
        let n = products.len();
        if n < 2 {
            train.push(basket);
            test.push(0);
            continue;
        }
        let out = ((fraction * n as f64).round() as usize).clamp(1, n - 1);
        let mut held_out: Basket = 0;
        for i in 0..out {
            let j = rng.random_range(i..n);
            products.swap(i, j);
            held_out |= 1 << products[i];
        }
        train.push(basket & !held_out);
        test.push(held_out);
    }
    Holdout { train, test }
}

/// Holds out every product of `round(fraction × n)` of the `n` customers who hold
/// something, and of `round(fraction × m)` of the `m` who hold nothing, chosen with the
/// seed; returns the split and whether each customer is held out.
pub fn customer_holdout(baskets: &[Basket], fraction: f64, seed: u64) -> (Holdout, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut held_out = vec![false; baskets.len()];
    for holds_something in [true, false] {
        let mut group: Vec<usize> = (0..baskets.len())
            .filter(|&c| (baskets[c] != 0) == holds_something)
            .collect();
        let out = ((fraction * group.len() as f64).round() as usize).min(group.len());
        for i in 0..out {
            let j = rng.random_range(i..group.len());
            group.swap(i, j);
            held_out[group[i]] = true;
        }
    }
    let (train, test) = baskets
        .iter()
        .zip(&held_out)
        .map(|(&b, &h)| if h { (0, b) } else { (b, 0) })
        .unzip();
    (Holdout { train, test }, held_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holdings(snapshots: Vec<(Option<i32>, Vec<Basket>)>) -> Holdings {
        Holdings {
            customers: vec!["a".into(), "b".into()],
            products: vec!["p0".into(), "p1".into(), "p2".into(), "p3".into()],
            snapshots,
        }
    }

    #[test]
    fn holdout_keeps_at_least_one_and_holds_out_at_least_one() {
        let baskets: Vec<Basket> = vec![0b1, 0b11, 0b1111, 0, 0b1010];
        let held = holdout(&baskets, 0.2, 7);
        for ((all, kept), out) in baskets.iter().zip(&held.train).zip(&held.test) {
            assert_eq!(kept | out, *all, "kept and held out make the basket");
            assert_eq!(kept & out, 0, "nothing is both kept and held out");
            if all.count_ones() >= 2 {
                assert!(kept.count_ones() >= 1 && out.count_ones() >= 1);
            } else {
                assert_eq!(*out, 0);
            }
        }
        assert_eq!(held.test[2].count_ones(), 1, "round(0.2 × 4) = 1");
        let again = holdout(&baskets, 0.2, 7);
        assert_eq!(again.test, held.test, "the same seed holds out the same");
    }

    #[test]
    fn a_customer_split_holds_out_whole_customers_in_proportion() {
        // 40 holders and 60 customers holding nothing.
        let baskets: Vec<Basket> = (0..100)
            .map(|c| if c % 5 < 2 { 0b101 } else { 0 })
            .collect();
        let (held, customers) = customer_holdout(&baskets, 0.2, 3);
        let holders_out = (0..100)
            .filter(|&c| customers[c] && baskets[c] != 0)
            .count();
        let others_out = (0..100)
            .filter(|&c| customers[c] && baskets[c] == 0)
            .count();
        assert_eq!((holders_out, others_out), (8, 12));
        for c in 0..100 {
            if customers[c] {
                assert_eq!((held.train[c], held.test[c]), (0, baskets[c]));
            } else {
                assert_eq!((held.train[c], held.test[c]), (baskets[c], 0));
            }
        }
        assert_eq!(customer_holdout(&baskets, 0.2, 3).1, customers, "seeded");
        assert_ne!(customer_holdout(&baskets, 0.2, 4).1, customers);
    }

    #[test]
    fn temporal_split_holds_out_the_newly_held_products() {
        let h = holdings(vec![
            (Some(100), vec![0b0001, 0b0010]),
            (Some(130), vec![0b0101, 0b0010]),
        ]);
        let universe = Universe::new(&h, None, &[]).unwrap();
        let params = RecommendParams {
            split: SplitKind::Temporal,
            ..RecommendParams::default()
        };
        let s = split(&params, &h, &universe, Path::new("h.parquet"), 1).unwrap();
        assert_eq!(s.train, vec![0b0001, 0b0010]);
        assert_eq!(s.test, Some(vec![0b0100, 0]));
    }

    #[test]
    fn a_snapshot_that_is_not_there_is_named_with_the_ones_that_are() {
        let h = holdings(vec![(Some(0), vec![1, 2]), (Some(31), vec![1, 2])]);
        let universe = Universe::new(&h, None, &[]).unwrap();
        let params = RecommendParams {
            snapshot: Some("1999-01-01".into()),
            ..RecommendParams::default()
        };
        let Err(e) = split(&params, &h, &universe, Path::new("h.parquet"), 1) else {
            panic!("a missing snapshot must be an error");
        };
        let message = e.to_string();
        assert!(message.contains("snapshot: `h.parquet` has no snapshot 1999-01-01"));
        assert!(message.contains("1970-01-01, 1970-02-01"), "{message}");
    }
}
