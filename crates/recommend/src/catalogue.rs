//! The product catalogue and who may be offered what.
//!
//! A product can carry eligibility rules on the customer table's columns (`min_age`,
//! `min_income`, `max_age`, …) and segments it is never offered to. A customer whose
//! value is missing fails the rule: a bank does not offer credit on an unknown income.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, ArrayRef, Float64Array, Int32Array, Int64Array};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::schema::CUSTOMER_ID;

use crate::holdings::{products_of, string_column, Basket};
use crate::model::{EligibilityRules, ProductRules};
use crate::params::ProductSpec;
use crate::universe::find_from;
use clientele_shared::SharedError;

use crate::RecommendError;

/// Reads a catalogue CSV: `product_id` (or `id`), then optionally `name`, `category`,
/// `min_<column>` and `max_<column>` rules, and `excluded_segments` (numbers separated
/// by `;`). Other columns are descriptive attributes and are kept out of the rules.
pub fn read_catalogue_csv(path: &Path) -> Result<Vec<ProductSpec>, RecommendError> {
    let bad = |line: u64, column: &str, why: String| RecommendError::Catalogue {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        why,
    };
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| bad(1, "", e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, "", e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let id_column = headers
        .iter()
        .position(|h| h == "product_id" || h == "id")
        .ok_or_else(|| {
            bad(
                1,
                "product_id",
                "the header has no `product_id` (or `id`) column".into(),
            )
        })?;
    let mut products = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| bad(line, "", e.to_string()))?;
        let mut spec = ProductSpec {
            id: String::new(),
            name: None,
            category: None,
            min: BTreeMap::new(),
            max: BTreeMap::new(),
            excluded_segments: Vec::new(),
        };
        for (c, header) in headers.iter().enumerate() {
            let value = record.get(c).unwrap_or("").trim();
            if c == id_column {
                spec.id = value.to_string();
                continue;
            }
            if value.is_empty() {
                continue;
            }
            let number = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(line, header, "is not a number".into()))
            };
            if header == "name" {
                spec.name = Some(value.to_string());
            } else if header == "category" {
                spec.category = Some(value.to_string());
            } else if let Some(column) = header.strip_prefix("min_") {
                spec.min.insert(column.to_string(), number()?);
            } else if let Some(column) = header.strip_prefix("max_") {
                spec.max.insert(column.to_string(), number()?);
            } else if header == "excluded_segments" {
                for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    let segment = part.parse::<i32>().map_err(|_| {
                        bad(
                            line,
                            header,
                            "holds something that is not a segment number".into(),
                        )
                    })?;
                    spec.excluded_segments.push(segment);
                }
            }
        }
        if spec.id.is_empty() {
            return Err(bad(line, &headers[id_column], "is empty".into()));
        }
        if !seen.insert(spec.id.clone()) {
            return Err(bad(
                line,
                &headers[id_column],
                "repeats a product listed above".into(),
            ));
        }
        products.push(spec);
    }
    Ok(products)
}

/// The customer columns the rules of a catalogue read, sorted.
pub fn rule_columns(products: &[ProductSpec]) -> Vec<String> {
    let columns: BTreeSet<&String> = products
        .iter()
        .flat_map(|p| p.min.keys().chain(p.max.keys()))
        .collect();
    columns.into_iter().cloned().collect()
}

/// Values of the rule columns for each customer of the universe; NaN where unknown.
pub struct CustomerAttributes {
    pub columns: Vec<String>,
    /// Column-major: `values[column][customer]`.
    pub values: Vec<Vec<f64>>,
}

fn numeric_value(column: &ArrayRef, r: usize) -> Option<Option<f64>> {
    if column.is_null(r) {
        return Some(None);
    }
    let any = column.as_any();
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        Some(Some(a.value(r)))
    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
        Some(Some(a.value(r) as f64))
    } else {
        any.downcast_ref::<Int32Array>()
            .map(|a| Some(a.value(r) as f64))
    }
}

/// Reads the rule columns of the customers table for the customers of the universe
/// (`customers`, sorted). Customers absent from the table have unknown values.
pub fn read_attributes(
    path: &Path,
    columns: &[String],
    customers: &[String],
    key: Option<&ParquetKey>,
) -> Result<CustomerAttributes, RecommendError> {
    let mut source = open_customer_columns(
        path,
        columns,
        "an eligibility rule of the catalogue reads",
        key,
    )?;
    let mut values = vec![vec![f64::NAN; customers.len()]; columns.len()];
    let mut next = 0;
    while let Some(batch) = source.next_batch()? {
        let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
        for r in 0..batch.num_rows() {
            let Some(c) = ids(r).and_then(|id| find_from(customers, id, next)) else {
                continue;
            };
            next = c + 1;
            for (j, column) in columns.iter().enumerate() {
                let array = batch.column(j + 1);
                let v = numeric_value(array, r).ok_or_else(|| SharedError::ColumnType {
                    path: path.to_path_buf(),
                    column: column.clone(),
                    expected: "a number, as an eligibility rule compares it",
                    found: array.data_type().clone(),
                })?;
                values[j][c] = v.unwrap_or(f64::NAN);
            }
        }
    }
    Ok(CustomerAttributes {
        columns: columns.to_vec(),
        values,
    })
}

/// The customer table at `path`, read as `customer_id` then `columns` in that order;
/// a missing column is an error that names it and says who reads it (`what`).
pub(crate) fn open_customer_columns(
    path: &Path,
    columns: &[String],
    what: &str,
    key: Option<&ParquetKey>,
) -> Result<ParquetSource, RecommendError> {
    let source = ParquetSource::open(path, key)?;
    let schema = source.schema().clone();
    let missing = |column: &str, what: &str| SharedError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        what: what.to_string(),
    };
    let mut indices = vec![schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| missing(CUSTOMER_ID, "every customer table has"))?];
    for column in columns {
        indices.push(schema.index_of(column).map_err(|_| missing(column, what))?);
    }
    Ok(ParquetSource::open_columns(path, Some(&indices), key)?)
}

/// A product's rules, with columns as indices into [`CustomerAttributes`].
#[derive(Debug, Clone, Default)]
struct Rules {
    at_least: Vec<(usize, f64)>,
    at_most: Vec<(usize, f64)>,
    excluded_segments: Vec<i32>,
}

/// Who may be offered what.
pub struct Eligibility {
    /// Products that may be recommended at all (those of the catalogue, or every
    /// product held when there is no catalogue).
    pub recommendable: Basket,
    rules: Vec<(usize, Rules)>,
    attributes: Option<CustomerAttributes>,
}

impl Eligibility {
    /// `products` is the stage's product list; `catalogue` the specs, if any.
    pub fn new(
        products: &[String],
        catalogue: Option<&[ProductSpec]>,
        attributes: Option<CustomerAttributes>,
    ) -> Self {
        let Some(catalogue) = catalogue else {
            return Eligibility {
                recommendable: full(products.len()),
                rules: Vec::new(),
                attributes,
            };
        };
        let column_index = |name: &String| {
            attributes
                .as_ref()
                .and_then(|a| a.columns.iter().position(|c| c == name))
        };
        let mut recommendable = 0;
        let mut rules = Vec::new();
        for spec in catalogue {
            let Some(p) = products.iter().position(|x| x == &spec.id) else {
                continue;
            };
            recommendable |= 1 << p;
            let r = Rules {
                at_least: spec
                    .min
                    .iter()
                    .filter_map(|(c, v)| column_index(c).map(|i| (i, *v)))
                    .collect(),
                at_most: spec
                    .max
                    .iter()
                    .filter_map(|(c, v)| column_index(c).map(|i| (i, *v)))
                    .collect(),
                excluded_segments: spec.excluded_segments.clone(),
            };
            if !r.at_least.is_empty() || !r.at_most.is_empty() || !r.excluded_segments.is_empty() {
                rules.push((p, r));
            }
        }
        Eligibility {
            recommendable,
            rules,
            attributes,
        }
    }

    /// The rules as the model file writes them: by product and column name.
    pub fn rules(&self, products: &[String]) -> EligibilityRules {
        let column = |i: usize| {
            self.attributes
                .as_ref()
                .map_or_else(String::new, |a| a.columns[i].clone())
        };
        EligibilityRules {
            recommendable: products_of(self.recommendable)
                .filter_map(|p| products.get(p).cloned())
                .collect(),
            rules: self
                .rules
                .iter()
                .filter_map(|(p, r)| {
                    Some(ProductRules {
                        product: products.get(*p)?.clone(),
                        at_least: r.at_least.iter().map(|&(i, v)| (column(i), v)).collect(),
                        at_most: r.at_most.iter().map(|&(i, v)| (column(i), v)).collect(),
                        excluded_segments: r.excluded_segments.clone(),
                    })
                })
                .collect(),
        }
    }

    /// The products customer `c` (in segment `segment`) may be offered.
    pub fn for_customer(&self, c: usize, segment: Option<i32>) -> Basket {
        let mut allowed = self.recommendable;
        for (p, rules) in &self.rules {
            let value = |i: usize| {
                self.attributes
                    .as_ref()
                    .map_or(f64::NAN, |a| a.values[i][c])
            };
            // NaN compares false: an unknown value fails every rule.
            let ok = rules.at_least.iter().all(|&(i, min)| value(i) >= min)
                && rules.at_most.iter().all(|&(i, max)| value(i) <= max)
                && !segment.is_some_and(|s| rules.excluded_segments.contains(&s));
            if !ok {
                allowed &= !(1 << p);
            }
        }
        allowed
    }
}

/// The basket holding each of the first `n` products.
pub fn full(n: usize) -> Basket {
    if n >= 128 {
        Basket::MAX
    } else {
        (1 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str) -> ProductSpec {
        ProductSpec {
            id: id.into(),
            name: None,
            category: None,
            min: BTreeMap::new(),
            max: BTreeMap::new(),
            excluded_segments: vec![],
        }
    }

    #[test]
    fn rules_and_unknown_values() {
        let products: Vec<String> = ["card", "loan", "legacy"].map(String::from).to_vec();
        let mut loan = spec("loan");
        loan.min.insert("income".into(), 15_000.0);
        let mut card = spec("card");
        card.excluded_segments = vec![2];
        let catalogue = vec![card, loan];
        let attributes = CustomerAttributes {
            columns: vec!["income".into()],
            values: vec![vec![20_000.0, 10_000.0, f64::NAN]],
        };
        let e = Eligibility::new(&products, Some(&catalogue), Some(attributes));
        // `legacy` is held by someone but is not in the catalogue: never recommended.
        assert_eq!(e.recommendable, 0b011);
        assert_eq!(e.for_customer(0, Some(1)), 0b011);
        assert_eq!(e.for_customer(1, Some(1)), 0b001);
        assert_eq!(e.for_customer(2, Some(2)), 0b000);
        assert_eq!(e.for_customer(0, None), 0b011);
        let rules = e.rules(&products);
        assert_eq!(rules.recommendable, vec!["card", "loan"]);
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.rules[0].excluded_segments, vec![2]);
        assert_eq!(rules.rules[1].product, "loan");
        assert_eq!(rules.rules[1].at_least["income"], 15_000.0);
    }

    #[test]
    fn catalogue_csv_errors_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("products.csv");
        std::fs::write(&path, "product_id,min_age\ncard,18\nloan,eighteen\n").unwrap();
        let err = read_catalogue_csv(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("`min_age`"), "{err}");
        std::fs::write(&path, "product_id,min_age,excluded_segments\ncard,18,1;3\n").unwrap();
        let specs = read_catalogue_csv(&path).unwrap();
        assert_eq!(specs[0].min["age"], 18.0);
        assert_eq!(specs[0].excluded_segments, vec![1, 3]);
    }
}
