//! Ages as of a snapshot, from date columns of the customer table (the `ages`
//! parameter): the `propensity` method learns each snapshot transition from the
//! customers as they were at its start, and scores them as they are at the scored
//! snapshot, never with today's ages for every transition.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Date32Array};
use clientele_shared::encryption::ParquetKey;
use clientele_shared::parquet_io::string_column;
use clientele_shared::schema::CUSTOMER_ID;
use clientele_shared::SharedError;

use crate::catalogue::open_customer_columns;
use crate::errors::RecommendError;
use crate::universe::find_from;

/// Days per year, for ages in years.
const DAYS_PER_YEAR: f64 = 365.25;

/// Each universe customer's dates, one column per entry of `ages`.
#[derive(Debug, Clone, Default)]
pub struct CustomerDates {
    /// The date columns of the customer table.
    pub columns: Vec<String>,
    /// The name each column's age goes by in reasons ("age", "years as a customer").
    pub names: Vec<String>,
    /// `days[j][c]`: customer `c`'s date in column `j`, days since 1970-01-01.
    days: Vec<Vec<Option<i32>>>,
    /// The mean known date of each column: what a customer without one is taken to
    /// have where the model cannot take a missing value (logistic regression).
    mean_days: Vec<Option<f64>>,
}

impl CustomerDates {
    /// Reads the `ages` columns of the customer table at `path` for the universe's
    /// `customers` (sorted ids); columns must be dates, as ingest types a column
    /// declared `date`.
    pub fn read(
        path: &Path,
        ages: &BTreeMap<String, String>,
        customers: &[String],
        key: Option<&ParquetKey>,
    ) -> Result<CustomerDates, RecommendError> {
        let columns: Vec<String> = ages.keys().cloned().collect();
        let mut source = open_customer_columns(path, &columns, "the `ages` parameter names", key)?;
        let mut days = vec![vec![None; customers.len()]; ages.len()];
        let mut next = 0;
        while let Some(batch) = source.next_batch()? {
            let ids = string_column(path, batch.column(0), CUSTOMER_ID)?;
            let columns: Vec<&Date32Array> = ages
                .keys()
                .enumerate()
                .map(|(j, column)| {
                    let array = batch.column(j + 1);
                    array.as_any().downcast_ref::<Date32Array>().ok_or_else(|| {
                        SharedError::ColumnType {
                            path: path.to_path_buf(),
                            column: column.clone(),
                            expected: "a date (declare it `date` in the ingest stage's `columns`), as `ages` reads it",
                            found: array.data_type().clone(),
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                let Some(c) = ids(r).and_then(|id| find_from(customers, id, next)) else {
                    continue;
                };
                next = c + 1;
                for (j, column) in columns.iter().enumerate() {
                    days[j][c] = column.is_valid(r).then(|| column.value(r));
                }
            }
        }
        let mean_days = mean_days(&days);
        Ok(CustomerDates {
            columns: ages.keys().cloned().collect(),
            names: ages.values().cloned().collect(),
            days,
            mean_days,
        })
    }

    /// Customer `c`'s age in years by each column as of day `as_of`, appended to `out`:
    /// NaN where the date or the snapshot's date is unknown, or, with `fill`, the age of
    /// the column's mean date.
    pub fn ages(&self, c: usize, as_of: Option<i32>, fill: bool, out: &mut Vec<f64>) {
        for (column, mean) in self.days.iter().zip(&self.mean_days) {
            let day = match (column[c], fill) {
                (Some(day), _) => Some(f64::from(day)),
                (None, true) => *mean,
                (None, false) => None,
            };
            out.push(match (day, as_of) {
                (Some(day), Some(as_of)) => (f64::from(as_of) - day) / DAYS_PER_YEAR,
                _ => f64::NAN,
            });
        }
    }

    /// The mean known date of column `j`, days since 1970-01-01.
    pub fn mean_day(&self, j: usize) -> Option<f64> {
        self.mean_days.get(j).copied().flatten()
    }

    /// Whether customer `c` has a date after day `as_of`: one who joined later was not
    /// a customer then.
    pub fn after(&self, c: usize, as_of: Option<i32>) -> bool {
        as_of.is_some_and(|as_of| {
            self.days
                .iter()
                .any(|column| column[c].is_some_and(|d| d > as_of))
        })
    }

    /// The dates, for tests: `days[j][c]`.
    #[cfg(test)]
    pub fn days(&self) -> &Vec<Vec<Option<i32>>> {
        &self.days
    }

    /// Dates for tests: `days[j][c]`.
    #[cfg(test)]
    pub fn from_days(names: Vec<String>, days: Vec<Vec<Option<i32>>>) -> CustomerDates {
        let mean_days = mean_days(&days);
        CustomerDates {
            columns: names.clone(),
            names,
            days,
            mean_days,
        }
    }
}

/// The mean known day of each column.
fn mean_days(days: &[Vec<Option<i32>>]) -> Vec<Option<f64>> {
    days.iter()
        .map(|column| {
            let known: Vec<f64> = column.iter().flatten().map(|&d| f64::from(d)).collect();
            (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
        })
        .collect()
}
