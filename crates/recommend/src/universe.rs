//! The customers and products of a run, numbered once: every table the stage reads is
//! mapped onto these indices, and every list it writes is named from them.

use std::collections::BTreeSet;

use crate::errors::RecommendError;
use crate::holdings::{products_of, Basket, Holdings, MAX_PRODUCTS};
use crate::params::ProductSpec;

/// The customers (every one with holdings or features, sorted by id) and products
/// (every one held or in the catalogue, sorted by id) of the run.
pub struct Universe {
    pub customers: Vec<String>,
    pub products: Vec<String>,
    /// The universe index of each customer of the holdings.
    holdings_customer: Vec<usize>,
    /// The universe product of each product of the holdings.
    holdings_product: Vec<usize>,
}

/// Where `id` is in the sorted `ids`, trying `guess` first: a table sorted by id, as the
/// stages write them, finds each customer right after the previous one.
pub(crate) fn find_from(ids: &[String], id: &str, guess: usize) -> Option<usize> {
    match ids.get(guess) {
        Some(c) if c == id => Some(guess),
        _ => ids.binary_search_by(|c| c.as_str().cmp(id)).ok(),
    }
}

impl Universe {
    pub fn new(
        holdings: &Holdings,
        catalogue: Option<&[ProductSpec]>,
        feature_ids: &[String],
    ) -> Result<Self, RecommendError> {
        // The holdings' customers (each once) and the features' merged in id order: one
        // comparison per customer rather than tree and binary searches over a million
        // ids. Both are usually sorted already (the stages write tables in id order).
        let mut held: Vec<(&str, usize)> = holdings
            .customers
            .iter()
            .enumerate()
            .map(|(h, id)| (id.as_str(), h))
            .collect();
        if !held.is_sorted() {
            held.sort_unstable();
        }
        let mut feature_ids: Vec<&str> = feature_ids.iter().map(String::as_str).collect();
        if !feature_ids.is_sorted() {
            feature_ids.sort_unstable();
        }
        feature_ids.dedup();
        let mut customers: Vec<String> = Vec::with_capacity(held.len().max(feature_ids.len()));
        let mut holdings_customer = vec![0; held.len()];
        let (mut held, mut featured) = (
            held.into_iter().peekable(),
            feature_ids.into_iter().peekable(),
        );
        loop {
            let order = match (held.peek(), featured.peek()) {
                (Some((h, _)), Some(f)) => h.cmp(f),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => break,
            };
            if order.is_ge() {
                if let Some(f) = featured.next() {
                    if order.is_gt() {
                        customers.push(f.to_string());
                    }
                }
            }
            if order.is_le() {
                if let Some((id, h)) = held.next() {
                    holdings_customer[h] = customers.len();
                    customers.push(id.to_string());
                }
            }
        }
        let mut products: BTreeSet<String> = holdings.products.iter().cloned().collect();
        if let Some(catalogue) = catalogue {
            products.extend(catalogue.iter().map(|p| p.id.clone()));
        }
        let products: Vec<String> = products.into_iter().collect();
        // A customer's products are the bits of one `Basket`: more would wrap.
        if products.len() > MAX_PRODUCTS {
            return Err(RecommendError::TooManyUniverseProducts {
                count: products.len(),
            });
        }
        let index_in = |list: &[String], id: &String| list.binary_search(id).unwrap_or(0);
        Ok(Universe {
            holdings_customer,
            holdings_product: holdings
                .products
                .iter()
                .map(|id| index_in(&products, id))
                .collect(),
            customers,
            products,
        })
    }

    /// The universe index of a customer id, trying `guess` first ([`find_from`]).
    pub fn index_from(&self, id: &str, guess: usize) -> Option<usize> {
        find_from(&self.customers, id, guess)
    }

    /// A holdings snapshot's baskets, by universe customer and product.
    pub fn baskets(&self, by_holdings_customer: &[Basket]) -> Vec<Basket> {
        let mut baskets = vec![0; self.customers.len()];
        for (h, &basket) in by_holdings_customer.iter().enumerate() {
            baskets[self.holdings_customer[h]] =
                products_of(basket).fold(0, |acc, p| acc | 1 << self.holdings_product[p]);
        }
        baskets
    }

    /// Product names for reasons: the catalogue's `name`, else the id.
    pub fn display_names(&self, catalogue: Option<&[ProductSpec]>) -> Vec<String> {
        self.products
            .iter()
            .map(|id| {
                catalogue
                    .and_then(|c| c.iter().find(|p| &p.id == id))
                    .and_then(|p| p.name.clone())
                    .unwrap_or_else(|| id.replace('_', " "))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_and_products_are_numbered_in_id_order_across_every_table() {
        let holdings = Holdings {
            customers: vec!["c3".into(), "c1".into()],
            products: vec!["savings".into(), "card".into()],
            snapshots: vec![(None, vec![0b01, 0b10])],
        };
        let catalogue = [ProductSpec {
            id: "mortgage_loan".into(),
            name: None,
            category: None,
            min: Default::default(),
            max: Default::default(),
            excluded_segments: Vec::new(),
        }];
        let universe =
            Universe::new(&holdings, Some(&catalogue), &["c2".into(), "c1".into()]).unwrap();
        assert_eq!(universe.customers, ["c1", "c2", "c3"]);
        assert_eq!(universe.products, ["card", "mortgage_loan", "savings"]);
        assert_eq!(universe.index_from("c2", 0), Some(1));
        assert_eq!(universe.index_from("c9", 1), None);
        // c3 holds savings (holdings product 0), c1 holds card (holdings product 1);
        // c2, with features only, holds nothing.
        assert_eq!(
            universe.baskets(&holdings.snapshots[0].1),
            vec![0b001, 0, 0b100]
        );
        assert_eq!(
            universe.display_names(Some(&catalogue)),
            ["card", "mortgage loan", "savings"]
        );
    }
}
