//! Recommendation lists and held-out products, read with customers and products as
//! small integers.
//!
//! Kept as maps of strings, the lists of a million customers (the blend and six methods,
//! five products each) took 4.9 GB and 76 s to score (`bench/run_e2e.sh`); ten million
//! would not fit in memory. Here every customer id and product name is stored once, the
//! integers are renumbered so that their order is the names' order (the metrics then sum
//! customers in the same order as before, to the same bits), and each list is a sorted
//! run of (customer, products) in compressed-row form.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, ArrayRef, Int32Array};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::hashing::{fast_map, FastMap};
use clientele_shared::parquet_io::{string_column, ParquetSource, TextColumn};
use clientele_shared::schema::{CUSTOMER_ID, METHOD, PRODUCT, RANK};
use clientele_shared::SharedError;

use crate::EvaluateError;

/// Names given integers in the order they are first seen.
#[derive(Debug)]
pub struct Names {
    index: FastMap<String, u32>,
    /// Every name in id order: name `i` is `text[ends[i - 1]..ends[i]]`.
    text: String,
    ends: Vec<usize>,
    /// The id of the last name looked up: a list's rows come customer by customer, and
    /// products repeat, so most lookups are the one before.
    last: Option<u32>,
    /// For each id, the id looked up after it the last time: the lists of a table come
    /// one after the other in the same customer order, so the next name is most often
    /// the one that followed last time, found without hashing it.
    next: Vec<u32>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            // The ids never depend on the hash, only on the order of the names.
            index: fast_map(),
            text: String::new(),
            ends: Vec::new(),
            last: None,
            next: Vec::new(),
        }
    }
}

impl Names {
    fn name(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(last) = self.last {
            if self.name(last) == name {
                return last;
            }
            let predicted = self.next[last as usize];
            if predicted != u32::MAX && self.name(predicted) == name {
                self.last = Some(predicted);
                return predicted;
            }
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let i = self.ends.len() as u32;
                self.index.insert(name.to_string(), i);
                self.text.push_str(name);
                self.ends.push(self.text.len());
                self.next.push(u32::MAX);
                i
            }
        };
        if let Some(last) = self.last {
            self.next[last as usize] = i;
        }
        self.last = Some(i);
        i
    }

    /// The names in id order.
    pub fn names(&self) -> Vec<String> {
        (0..self.ends.len() as u32)
            .map(|i| self.name(i).to_string())
            .collect()
    }

    /// The names in sorted order, and for each id its position in that order.
    pub fn into_sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut pairs: Vec<(String, u32)> = self.index.into_iter().collect();
        pairs.sort_unstable();
        let mut position = vec![0u32; pairs.len()];
        for (p, (_, i)) in pairs.iter().enumerate() {
            position[*i as usize] = p as u32;
        }
        (pairs.into_iter().map(|(name, _)| name).collect(), position)
    }
}

/// (customer, order key, product): the rank in a list, 0 in a set.
type Triple = (u32, i32, u32);

/// Products by customer, customers ascending, each customer's products in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub customers: Vec<u32>,
    /// Customer `i`'s products are `products[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    products: Vec<u32>,
}

impl Rows {
    /// From (customer, order key, product) triples, already renumbered: sorted by
    /// customer, then by the key (the rank; 0 for a set), then by product.
    pub(crate) fn from_triples(mut triples: Vec<Triple>, dedup: bool) -> Self {
        triples.sort_unstable();
        if dedup {
            triples.dedup();
        }
        let mut rows = Rows {
            offsets: vec![0],
            ..Rows::default()
        };
        for (customer, _, product) in triples {
            if rows.customers.last() != Some(&customer) {
                if !rows.customers.is_empty() {
                    rows.offsets.push(rows.products.len());
                }
                rows.customers.push(customer);
            }
            rows.products.push(product);
        }
        if !rows.customers.is_empty() {
            rows.offsets.push(rows.products.len());
        }
        rows
    }

    pub fn products_of(&self, i: usize) -> &[u32] {
        &self.products[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Everything the ranking metrics read: the held-out products, every list, and the
/// names behind the integers.
#[derive(Debug, Default)]
pub struct Ranked {
    /// Customer ids, sorted: customer `c` is `customers[c]`.
    pub customers: Vec<String>,
    /// Product names, sorted: products seen held out, in training or in a list.
    pub products: Vec<String>,
    /// Held-out products by customer, each customer's products sorted.
    pub relevant: Rows,
    /// By list name (`blend`, then each method): products by customer, best first.
    pub lists: BTreeMap<String, Rows>,
}

/// Reads what the ranking metrics need: the test split, the blended lists, the lists by
/// method, and the training split's products (for catalogue coverage only).
pub fn read(
    test: &Path,
    recommendations: Option<&Path>,
    by_method: Option<&Path>,
    train: Option<&Path>,
    key: Option<&ParquetKey>,
) -> Result<Ranked, EvaluateError> {
    let mut customers = Names::default();
    let mut products = Names::default();
    // Held-out pairs carry the order key 0, so that a customer's products sort by product.
    let mut relevant = Vec::new();
    read_pairs(test, key, |c, p| {
        relevant.push((customers.id(c), 0, products.id(p)));
    })?;
    if let Some(train) = train {
        read_pairs(train, key, |_, p| {
            products.id(p);
        })?;
    }
    // Lists by method, numbered in the order met (the method column is read as a
    // dictionary, so a row's method is a number, never a string compared per row).
    let mut methods = Names::default();
    let mut lists: Vec<Vec<Triple>> = Vec::new();
    for (path, with_method) in [(recommendations, false), (by_method, true)] {
        let Some(path) = path else { continue };
        read_lists(
            path,
            with_method,
            key,
            &mut products,
            &mut methods,
            |method, c, rank, p| {
                let method = method as usize;
                if method >= lists.len() {
                    lists.resize_with(method + 1, Vec::new);
                }
                lists[method].push((customers.id(c), rank, p));
            },
        )?;
    }
    let method_names = methods.names();
    let (customers, customer_position) = customers.into_sorted();
    let (products, product_position) = products.into_sorted();
    // In name order: a list then sorts by rank, then product name, as it always did.
    let renumber = |triples: Vec<Triple>| -> Vec<Triple> {
        triples
            .into_iter()
            .map(|(c, key, p)| {
                (
                    customer_position[c as usize],
                    key,
                    product_position[p as usize],
                )
            })
            .collect()
    };
    let relevant = Rows::from_triples(renumber(relevant), true);
    let lists = method_names
        .into_iter()
        .zip(lists)
        .map(|(name, triples)| (name, Rows::from_triples(renumber(triples), false)))
        .collect();
    Ok(Ranked {
        customers,
        products,
        relevant,
        lists,
    })
}

/// A text column of a batch whose values are numbered by a [`Names`]: read as a
/// dictionary, each distinct value is looked up once per batch, not once per row.
struct NamedColumn<'a> {
    text: TextColumn<'a>,
    /// The number of each distinct value of a dictionary column, `u32::MAX` until met.
    ids: Vec<u32>,
}

impl<'a> NamedColumn<'a> {
    fn of(path: &Path, column: &'a ArrayRef, name: &str) -> Result<Self, EvaluateError> {
        let text = TextColumn::of(path, column, name)?;
        let ids = vec![u32::MAX; text.distinct_values().unwrap_or(0)];
        Ok(NamedColumn { text, ids })
    }

    /// The number of row `r`'s value, `None` where it is missing.
    fn id(&mut self, r: usize, names: &mut Names) -> Option<u32> {
        let Some(k) = self.text.value_index(r) else {
            return self.text.get(r).map(|s| names.id(s));
        };
        if self.ids[k] == u32::MAX {
            self.ids[k] = names.id(self.text.get(r)?);
        }
        Some(self.ids[k])
    }
}

/// Calls `each(method, customer, rank, product)` for every row of a recommendations
/// table (`method` is `blend` without a method column), the method numbered by
/// `methods` and the product by `products`.
fn read_lists(
    path: &Path,
    with_method: bool,
    key: Option<&ParquetKey>,
    products: &mut Names,
    methods: &mut Names,
    mut each: impl FnMut(u32, &str, i32, u32),
) -> Result<(), EvaluateError> {
    // `blend` is numbered at its first row, as every method is: a method has a number
    // only once it has a list.
    let mut blend = None;
    let mut names = vec![CUSTOMER_ID, RANK, PRODUCT];
    if with_method {
        names.push(METHOD);
    }
    let mut source = ParquetSource::open_named_with_dictionaries(
        path,
        &names,
        "recommendations have",
        key,
        &[PRODUCT, METHOD],
    )?;
    let mut first = 1;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        let mut product_ids = NamedColumn::of(path, batch.column(2), PRODUCT)?;
        let mut method_ids = if with_method {
            Some(NamedColumn::of(path, batch.column(3), METHOD)?)
        } else {
            None
        };
        let rank_column = batch.column(1);
        let ranks = rank_column
            .as_any()
            .downcast_ref::<Int32Array>()
            .ok_or_else(|| SharedError::ColumnType {
                path: path.to_path_buf(),
                column: RANK.into(),
                expected: "Int32, as recommend writes it",
                found: rank_column.data_type().clone(),
            })?;
        for r in 0..batch.num_rows() {
            let bad = |column: &str| EvaluateError::BadValue {
                path: path.to_path_buf(),
                row: first + r,
                column: column.into(),
                why: "is empty".into(),
            };
            let id = ids(r).ok_or_else(|| bad(CUSTOMER_ID))?;
            let product = product_ids.id(r, products).ok_or_else(|| bad(PRODUCT))?;
            let method = match &mut method_ids {
                Some(m) => m.id(r, methods).ok_or_else(|| bad(METHOD))?,
                None => *blend.get_or_insert_with(|| methods.id("blend")),
            };
            if ranks.is_null(r) {
                return Err(bad(RANK));
            }
            each(method, id, ranks.value(r), product);
        }
        first += batch.num_rows();
    }
    Ok(())
}

/// Calls `each(customer, product)` for every complete row of a split file.
pub(crate) fn read_pairs(
    path: &Path,
    key: Option<&ParquetKey>,
    mut each: impl FnMut(&str, &str),
) -> Result<(), EvaluateError> {
    let mut source =
        ParquetSource::open_named(path, &[CUSTOMER_ID, PRODUCT], "a split file has", key)?;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        let products = string_column(path, batch.column(1), PRODUCT)?;
        for r in 0..batch.num_rows() {
            if let (Some(c), Some(p)) = (ids(r), products(r)) {
                each(c, p);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_names_give_positions_in_name_order() {
        let mut names = Names::default();
        for n in ["c", "a", "b", "a"] {
            names.id(n);
        }
        let (sorted, position) = names.into_sorted();
        assert_eq!(sorted, ["a", "b", "c"]);
        // "c" was id 0, "a" id 1, "b" id 2.
        assert_eq!(position, [2, 0, 1]);
    }

    #[test]
    fn names_repeated_in_the_same_order_keep_their_ids() {
        let mut names = Names::default();
        let first: Vec<u32> = ["b", "b", "a", "c"].iter().map(|n| names.id(n)).collect();
        assert_eq!(first, [0, 0, 1, 2]);
        // The same sequence again (found by the successors), then another order.
        let again: Vec<u32> = ["b", "a", "c", "a", "b", "d", "c"]
            .iter()
            .map(|n| names.id(n))
            .collect();
        assert_eq!(again, [0, 1, 2, 1, 0, 3, 2]);
        let (sorted, position) = names.into_sorted();
        assert_eq!(sorted, ["a", "b", "c", "d"]);
        assert_eq!(position, [1, 0, 2, 3]);
    }

    #[test]
    fn rows_group_by_customer_in_key_order() {
        let rows = Rows::from_triples(vec![(2, 1, 7), (0, 2, 5), (0, 1, 9), (2, 1, 7)], false);
        assert_eq!(rows.customers, [0, 2]);
        assert_eq!(rows.products_of(0), [9, 5]);
        assert_eq!(rows.products_of(1), [7, 7]);
        let set = Rows::from_triples(vec![(1, 3, 3), (1, 3, 3), (1, 1, 1)], true);
        assert_eq!(set.products_of(0), [1, 3]);
        assert_eq!(set.customers, [1]);
        assert_eq!(Rows::from_triples(Vec::new(), true).customers.len(), 0);
    }
}
