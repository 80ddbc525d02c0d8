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

impl Universe {
    pub fn new(
        holdings: &Holdings,
        catalogue: Option<&[ProductSpec]>,
        feature_ids: &[String],
    ) -> Result<Self, RecommendError> {
        let mut customers: Vec<String> = holdings.customers.clone();
        let known: BTreeSet<&str> = holdings.customers.iter().map(String::as_str).collect();
        let extra: BTreeSet<&String> = feature_ids
            .iter()
            .filter(|id| !known.contains(id.as_str()))
            .collect();
        customers.extend(extra.into_iter().cloned());
        customers.sort_unstable();
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
            holdings_customer: holdings
                .customers
                .iter()
                .map(|id| index_in(&customers, id))
                .collect(),
            holdings_product: holdings
                .products
                .iter()
                .map(|id| index_in(&products, id))
                .collect(),
            customers,
            products,
        })
    }

    /// The universe index of a customer id.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.customers.binary_search_by(|c| c.as_str().cmp(id)).ok()
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
        assert_eq!(universe.index("c2"), Some(1));
        assert_eq!(universe.index("c9"), None);
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
