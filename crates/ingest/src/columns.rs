//! Typed columns: parsing text cells, inferring types, building Arrow arrays.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::{DataType, Date32Type, Int32Type};

use crate::params::ColumnType;

pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Categorical => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
    }
}

/// One parsed cell, borrowing its text from the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
}

/// Parses a non-null cell as `ty`; `None` when it does not parse.
pub fn parse_cell(ty: ColumnType, text: &str) -> Option<Cell<'_>> {
    match ty {
        ColumnType::String | ColumnType::Categorical => Some(Cell::Text(text)),
        ColumnType::Int => parse_int(text.trim()).map(Cell::Int),
        ColumnType::Float => parse_float(text.trim()).map(Cell::Float),
        ColumnType::Bool => parse_bool(text.trim()).map(Cell::Bool),
        ColumnType::Date => parse_date(text.trim()).map(Cell::Date),
    }
}

fn parse_int(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// Finite numbers only: `NaN` and `inf` in a bank extract are data errors, not values.
fn parse_float(text: &str) -> Option<f64> {
    let first = text.bytes().next()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["true", "yes", "y", "1", "t"];
    const FALSE: [&str; 5] = ["false", "no", "n", "0", "f"];
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(false)
    } else {
        None
    }
}

fn parse_date(text: &str) -> Option<i32> {
    // Only the ISO form: Arrow's parser also takes timestamps, which are not dates.
    if text.len() != 10 {
        return None;
    }
    Date32Type::parse(text)
}

/// The share of a column's values that must parse as a number (or date) for the column to
/// be read as one when the others do not: the few that do not are then bad rows (an error,
/// or quarantined), not a reason to read a number column as text.
pub const TOLERANCE_PERCENT: u64 = 99;

/// Counts, over a whole file, how many non-null values of a column fit each type.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    values: u64,
    int: u64,
    float: u64,
    boolean: u64,
    date: u64,
}

impl Inference {
    pub fn observe(&mut self, text: &str) {
        self.values += 1;
        let t = text.trim();
        let int = parse_int(t).is_some();
        self.int += u64::from(int);
        // Every integer is a float: no need to parse it twice.
        self.float += u64::from(int || parse_float(t).is_some());
        // Only the words true/false are inferred as booleans; Y/N and 1/0 must be declared,
        // since they are as often codes or counts.
        self.boolean +=
            u64::from(t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false"));
        self.date += u64::from(parse_date(t).is_some());
    }

    /// A value that is not valid text rules out every type but text.
    pub fn observe_unparsable(&mut self) {
        self.values += 1;
    }

    /// The type of the column: the first of bool, int, float, date that every value
    /// fits; else the first of int, float, date that all but a small share fit (at least
    /// [`TOLERANCE_PERCENT`] %, and for int only when the misfits are not floats either);
    /// else text.
    pub fn result(&self) -> ColumnType {
        let all = |n: u64| n == self.values;
        let most = |n: u64| n * 100 >= self.values * TOLERANCE_PERCENT;
        if self.values == 0 {
            ColumnType::String
        } else if all(self.boolean) {
            ColumnType::Bool
        } else if all(self.int) {
            ColumnType::Int
        } else if all(self.float) {
            ColumnType::Float
        } else if all(self.date) {
            ColumnType::Date
        } else if most(self.int) && self.int == self.float {
            ColumnType::Int
        } else if most(self.float) {
            ColumnType::Float
        } else if most(self.date) {
            ColumnType::Date
        } else {
            ColumnType::String
        }
    }

    /// How many values do not fit the inferred type (0 unless it was chosen by tolerance).
    pub fn misfits(&self) -> u64 {
        let fit = match self.result() {
            ColumnType::Int => self.int,
            ColumnType::Float => self.float,
            ColumnType::Date => self.date,
            ColumnType::Bool => self.boolean,
            ColumnType::String | ColumnType::Categorical => self.values,
        };
        self.values - fit
    }

    pub fn values(&self) -> u64 {
        self.values
    }
}

/// An Arrow builder for one output column.
pub enum ColumnBuilder {
    Text(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Categorical(StringDictionaryBuilder<Int32Type>),
}

impl ColumnBuilder {
    pub fn new(ty: ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::String => ColumnBuilder::Text(StringBuilder::with_capacity(capacity, 0)),
            ColumnType::Int => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            ColumnType::Float => ColumnBuilder::Float(Float64Builder::with_capacity(capacity)),
            ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Categorical => {
                ColumnBuilder::Categorical(StringDictionaryBuilder::<Int32Type>::new())
            }
        }
    }

    /// Appends a cell parsed for this builder's type (see [`parse_cell`]).
    pub fn append(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (ColumnBuilder::Text(b), Cell::Text(t)) => b.append_value(t),
            (ColumnBuilder::Text(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Categorical(b), Cell::Text(t)) => {
                b.append_value(t);
            }
            (ColumnBuilder::Categorical(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(v),
            (ColumnBuilder::Int(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Float(b), Cell::Float(v)) => b.append_value(v),
            (ColumnBuilder::Float(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (ColumnBuilder::Bool(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Date(b), Cell::Date(v)) => b.append_value(v),
            (ColumnBuilder::Date(b), Cell::Null) => b.append_null(),
            // parse_cell produces the cell for the column's own type, so this cannot happen;
            // appending null keeps the column's length right if it ever did.
            (b, _) => b.append_null_any(),
        }
    }

    fn append_null_any(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Float(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Categorical(b) => b.append_null(),
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Categorical(b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> Inference {
        let mut inference = Inference::default();
        for v in values {
            inference.observe(v);
        }
        inference
    }

    #[test]
    fn a_few_misfits_do_not_make_a_number_column_text() {
        let mut values = vec!["42"; 199];
        values.push("forty");
        let i = infer(&values);
        assert_eq!((i.result(), i.misfits()), (ColumnType::Int, 1));
        // Floats among the misfits: a float column, with the word its only misfit.
        let mut values = vec!["42"; 198];
        values.extend(["4.5", "forty"]);
        let i = infer(&values);
        assert_eq!((i.result(), i.misfits()), (ColumnType::Float, 1));
        // Two misfits in a hundred is more than the tolerance: text.
        let mut values = vec!["42"; 98];
        values.extend(["forty", "fifty"]);
        assert_eq!(infer(&values).result(), ColumnType::String);
        // Exact fits are unchanged.
        assert_eq!(infer(&["true", "FALSE"]).result(), ColumnType::Bool);
        assert_eq!(
            infer(&["2026-10-31", "2026-09-30"]).result(),
            ColumnType::Date
        );
        assert_eq!(infer(&[]).result(), ColumnType::String);
    }

    #[test]
    fn cells_parse_by_type() {
        assert_eq!(parse_cell(ColumnType::Int, " 42 "), Some(Cell::Int(42)));
        assert_eq!(parse_cell(ColumnType::Int, "4.2"), None);
        assert_eq!(
            parse_cell(ColumnType::Float, "-1e3"),
            Some(Cell::Float(-1000.0))
        );
        assert_eq!(parse_cell(ColumnType::Float, "NaN"), None);
        assert_eq!(parse_cell(ColumnType::Float, "inf"), None);
        assert_eq!(parse_cell(ColumnType::Bool, "Y"), Some(Cell::Bool(true)));
        assert_eq!(parse_cell(ColumnType::Bool, "no"), Some(Cell::Bool(false)));
        assert_eq!(parse_cell(ColumnType::Bool, "maybe"), None);
        assert_eq!(
            parse_cell(ColumnType::Date, "1970-01-02"),
            Some(Cell::Date(1))
        );
        assert_eq!(parse_cell(ColumnType::Date, "2026-02-30"), None);
        assert_eq!(parse_cell(ColumnType::Date, "2026-01-01T00:00:00"), None);
    }

    #[test]
    fn inference_takes_the_narrowest_type_every_value_fits() {
        let infer = |values: &[&str]| {
            let mut i = Inference::default();
            values.iter().for_each(|v| i.observe(v));
            i.result()
        };
        assert_eq!(infer(&["1", "2", "-3"]), ColumnType::Int);
        assert_eq!(infer(&["1", "2.5"]), ColumnType::Float);
        assert_eq!(infer(&["true", "FALSE"]), ColumnType::Bool);
        assert_eq!(infer(&["Y", "N"]), ColumnType::String);
        assert_eq!(infer(&["2026-01-31", "2025-12-01"]), ColumnType::Date);
        assert_eq!(infer(&["1", "x"]), ColumnType::String);
        assert_eq!(infer(&[]), ColumnType::String);
    }
}
