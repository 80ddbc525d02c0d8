//! Reading product holdings into one bit set of products per customer and snapshot.
//!
//! A bank's catalogue is small (tens of products), so a customer's holdings are a
//! `u128`: set operations and similarity counts are a few instructions, and a million
//! customers' holdings take 16 MB per snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
};
use arrow::datatypes::DataType;
use clientele_shared::encryption::ParquetKey;
use clientele_shared::hashing::{fast_map, FastMap};
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::schema::{CUSTOMER_ID, PRODUCT, SNAPSHOT};

use crate::params::HoldingsFormat;
use clientele_shared::SharedError;

use crate::RecommendError;

/// The products a customer holds, bit `p` for product `p`.
pub type Basket = u128;
/// The most products a catalogue can have.
pub const MAX_PRODUCTS: usize = Basket::BITS as usize;

/// Holdings as read: customers sorted by id, products sorted by id, and per snapshot
/// (in date order) each customer's basket.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdings {
    pub customers: Vec<String>,
    pub products: Vec<String>,
    /// `(date as days since 1970-01-01, baskets by customer)`; one entry with `None`
    /// when the table has no snapshot column.
    pub snapshots: Vec<(Option<i32>, Vec<Basket>)>,
}

/// Number of products in a basket.
pub fn count(basket: Basket) -> u32 {
    basket.count_ones()
}

/// The products of a basket, in product order.
pub fn products_of(basket: Basket) -> impl Iterator<Item = usize> {
    let mut rest = basket;
    std::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let p = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        Some(p)
    })
}

/// Reads a string column of a batch, with an error naming the file and column.
pub(crate) fn string_column<'a>(
    path: &Path,
    column: &'a ArrayRef,
    name: &str,
) -> Result<impl Fn(usize) -> Option<&'a str> + 'a, RecommendError> {
    Ok(clientele_shared::parquet_io::string_column(
        path, column, name,
    )?)
}

/// Builds baskets while reading, in order of first appearance, then sorts.
struct Builder {
    customer_index: FastMap<String, u32>,
    customers: Vec<String>,
    /// The customer of the previous row: a table's rows come grouped by customer, so
    /// most rows are found by one comparison instead of a hash and a comparison.
    last_customer: Option<usize>,
    product_index: FastMap<String, u8>,
    products: Vec<String>,
    snapshots: BTreeMap<Option<i32>, Vec<Basket>>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            customer_index: fast_map(),
            customers: Vec::new(),
            last_customer: None,
            product_index: fast_map(),
            products: Vec::new(),
            snapshots: BTreeMap::new(),
        }
    }
}

impl Builder {
    fn customer(&mut self, id: &str) -> usize {
        if let Some(last) = self.last_customer.filter(|&c| self.customers[c] == id) {
            return last;
        }
        let i = match self.customer_index.get(id) {
            Some(&i) => i as usize,
            None => {
                let i = self.customers.len();
                self.customer_index.insert(id.to_string(), i as u32);
                self.customers.push(id.to_string());
                i
            }
        };
        self.last_customer = Some(i);
        i
    }

    fn product(&mut self, id: &str, path: &Path) -> Result<usize, RecommendError> {
        if let Some(&p) = self.product_index.get(id) {
            return Ok(p as usize);
        }
        let p = self.products.len();
        if p == MAX_PRODUCTS {
            return Err(RecommendError::TooManyProducts {
                path: path.to_path_buf(),
            });
        }
        self.product_index.insert(id.to_string(), p as u8);
        self.products.push(id.to_string());
        Ok(p)
    }

    fn hold(&mut self, snapshot: Option<i32>, customer: usize, product: usize) {
        let baskets = self.snapshots.entry(snapshot).or_default();
        if baskets.len() <= customer {
            baskets.resize(customer + 1, 0);
        }
        baskets[customer] |= 1 << product;
    }

    /// Sorts customers and products by id, so that the result does not depend on the
    /// order of the rows.
    fn finish(self) -> Holdings {
        let n = self.customers.len();
        let mut customer_order: Vec<usize> = (0..n).collect();
        customer_order.sort_by(|&a, &b| self.customers[a].cmp(&self.customers[b]));
        let mut product_order: Vec<usize> = (0..self.products.len()).collect();
        product_order.sort_by(|&a, &b| self.products[a].cmp(&self.products[b]));
        let mut new_bit = vec![0usize; self.products.len()];
        for (new, &old) in product_order.iter().enumerate() {
            new_bit[old] = new;
        }
        let remap = |basket: Basket| -> Basket {
            products_of(basket).fold(0, |acc, p| acc | 1 << new_bit[p])
        };
        let snapshots = self
            .snapshots
            .into_iter()
            .map(|(date, baskets)| {
                let sorted = customer_order
                    .iter()
                    .map(|&c| remap(baskets.get(c).copied().unwrap_or(0)))
                    .collect();
                (date, sorted)
            })
            .collect();
        Holdings {
            customers: customer_order
                .iter()
                .map(|&c| self.customers[c].clone())
                .collect(),
            products: product_order
                .iter()
                .map(|&p| self.products[p].clone())
                .collect(),
            snapshots,
        }
    }
}

/// Reads a holdings table in the given format.
/// An encrypted file is decrypted with `key`.
pub fn read_holdings(
    path: &Path,
    format: HoldingsFormat,
    key: Option<&ParquetKey>,
) -> Result<Holdings, RecommendError> {
    match format {
        HoldingsFormat::Long => read_long(path, key),
        HoldingsFormat::Wide => read_wide(path, key),
    }
}

fn missing_column(path: &Path, column: &str, what: &str) -> RecommendError {
    RecommendError::Shared(SharedError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        what: what.to_string(),
    })
}

fn dates<'a>(path: &Path, column: &'a ArrayRef) -> Result<&'a Date32Array, SharedError> {
    column
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| SharedError::ColumnType {
            path: path.to_path_buf(),
            column: SNAPSHOT.to_string(),
            expected: "a date (Date32)",
            found: column.data_type().clone(),
        })
}

fn null_at(path: &Path, row: usize, column: &str) -> RecommendError {
    RecommendError::BadValue {
        path: path.to_path_buf(),
        row,
        column: column.to_string(),
        why: "is empty".into(),
    }
}

fn read_long(path: &Path, key: Option<&ParquetKey>) -> Result<Holdings, RecommendError> {
    let source = ParquetSource::open(path, key)?;
    let schema = source.schema().clone();
    let id_index = schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| missing_column(path, CUSTOMER_ID, "every holdings table has"))?;
    let product_index = schema.index_of(PRODUCT).map_err(|_| {
        missing_column(
            path,
            PRODUCT,
            "a long holdings table has (set holdings_format = \"wide\" for one column per product)",
        )
    })?;
    let snapshot_index = schema.index_of(SNAPSHOT).ok();
    let mut columns = vec![id_index, product_index];
    columns.extend(snapshot_index);
    let mut source = ParquetSource::open_columns(path, Some(&columns), key)?;
    let mut builder = Builder::default();
    let mut first_row = 1usize;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        let products = string_column(path, batch.column(1), PRODUCT)?;
        let snapshots = match snapshot_index {
            Some(_) => Some(dates(path, batch.column(2))?),
            None => None,
        };
        for r in 0..batch.num_rows() {
            let row = first_row + r;
            let id = ids(r).ok_or_else(|| null_at(path, row, CUSTOMER_ID))?;
            let product = products(r).ok_or_else(|| null_at(path, row, PRODUCT))?;
            let snapshot = match snapshots {
                Some(s) if s.is_null(r) => return Err(null_at(path, row, SNAPSHOT)),
                Some(s) => Some(s.value(r)),
                None => None,
            };
            let c = builder.customer(id);
            let p = builder.product(product, path)?;
            builder.hold(snapshot, c, p);
        }
        first_row += batch.num_rows();
    }
    Ok(builder.finish())
}

/// Whether row `r` of a wide product column says "held".
fn held_flag(column: &ArrayRef, r: usize) -> Option<Option<bool>> {
    if column.is_null(r) {
        return Some(None);
    }
    let any = column.as_any();
    let v = if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Some(Some(a.value(r)));
    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
        a.value(r) as f64
    } else if let Some(a) = any.downcast_ref::<Int32Array>() {
        a.value(r) as f64
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        a.value(r)
    } else {
        return None;
    };
    Some(if v == 0.0 {
        Some(false)
    } else if v == 1.0 {
        Some(true)
    } else {
        None
    })
}

fn read_wide(path: &Path, key: Option<&ParquetKey>) -> Result<Holdings, RecommendError> {
    let mut source = ParquetSource::open(path, key)?;
    let schema = source.schema().clone();
    let id_index = schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| missing_column(path, CUSTOMER_ID, "every holdings table has"))?;
    let snapshot_index = schema.index_of(SNAPSHOT).ok();
    let product_columns: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| i != id_index && Some(i) != snapshot_index)
        .collect();
    let mut builder = Builder::default();
    for &i in &product_columns {
        let field = schema.field(i);
        match field.data_type() {
            DataType::Boolean | DataType::Int32 | DataType::Int64 | DataType::Float64 => {}
            other => {
                return Err(RecommendError::Shared(SharedError::ColumnType {
                    path: path.to_path_buf(),
                    column: field.name().clone(),
                    expected:
                        "0/1 or true/false (a wide holdings table has one such column per product)",
                    found: other.clone(),
                }))
            }
        }
        builder.product(field.name(), path)?;
    }
    let mut first_row = 1usize;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(id_index), CUSTOMER_ID)?;
        let snapshots = match snapshot_index {
            Some(s) => Some(dates(path, batch.column(s))?),
            None => None,
        };
        for r in 0..batch.num_rows() {
            let row = first_row + r;
            let id = ids(r).ok_or_else(|| null_at(path, row, CUSTOMER_ID))?;
            let snapshot = match snapshots {
                Some(s) if s.is_null(r) => return Err(null_at(path, row, SNAPSHOT)),
                Some(s) => Some(s.value(r)),
                None => None,
            };
            let c = builder.customer(id);
            // A customer who holds nothing still exists in this snapshot.
            builder.snapshots.entry(snapshot).or_default();
            for (p, &i) in product_columns.iter().enumerate() {
                let name = schema.field(i).name();
                match held_flag(batch.column(i), r) {
                    Some(Some(true)) => builder.hold(snapshot, c, p),
                    Some(Some(false)) => {}
                    _ => {
                        return Err(RecommendError::BadValue {
                            path: path.to_path_buf(),
                            row,
                            column: name.clone(),
                            why: "is not 0, 1, true or false".into(),
                        })
                    }
                }
            }
        }
        first_row += batch.num_rows();
    }
    Ok(builder.finish())
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i32> {
    use arrow::array::types::Date32Type;
    use arrow::compute::kernels::cast_utils::Parser;
    if text.len() != 10 {
        return None;
    }
    Date32Type::parse(text)
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    match arrow::temporal_conversions::date32_to_datetime(days) {
        Some(t) => t.date().to_string(),
        None => format!("day {days}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_lists_set_bits_in_order() {
        let basket: Basket = (1 << 0) | (1 << 5) | (1 << 127);
        assert_eq!(products_of(basket).collect::<Vec<_>>(), vec![0, 5, 127]);
        assert_eq!(count(basket), 3);
    }

    #[test]
    fn dates_round_trip() {
        let d = parse_date("2026-09-30").unwrap();
        assert_eq!(format_date(d), "2026-09-30");
        assert_eq!(parse_date("2026-9-30"), None);
    }
}
