//! Typed columns: parsing text cells, inferring types, building Arrow arrays.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Int32Type};

use crate::params::{ColumnType, IngestParams};

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

/// How a text source writes numbers and dates: `params.decimal`, `params.thousands` and
/// `params.date_format`. The default reads `1234.5` and ISO dates only.
#[derive(Debug, Clone)]
pub struct CellFormat {
    decimal: u8,
    thousands: Option<u8>,
    date_format: Option<String>,
}

impl Default for CellFormat {
    fn default() -> Self {
        CellFormat {
            decimal: b'.',
            thousands: None,
            date_format: None,
        }
    }
}

/// The longest number text read: longer ones are not numbers a bank file holds.
const MAX_NUMBER_BYTES: usize = 64;

impl CellFormat {
    /// The format of `params` (already checked: one-character marks, a valid format).
    pub fn of(params: &IngestParams) -> Self {
        CellFormat {
            decimal: params.decimal.as_bytes().first().copied().unwrap_or(b'.'),
            thousands: params
                .thousands
                .as_ref()
                .and_then(|t| t.as_bytes().first().copied()),
            date_format: params.date_format.clone(),
        }
    }

    /// The format of a JSON source: its numbers are JSON numbers, whatever `decimal`
    /// says; `date_format` holds.
    pub fn of_json(params: &IngestParams) -> Self {
        CellFormat {
            date_format: params.date_format.clone(),
            ..CellFormat::default()
        }
    }

    /// Parses a non-null cell as `ty`; `None` when it does not parse.
    pub fn parse<'a>(&self, ty: ColumnType, text: &'a str) -> Option<Cell<'a>> {
        match ty {
            ColumnType::String | ColumnType::Categorical => Some(Cell::Text(text)),
            ColumnType::Int => self.with_number(trim(text), parse_int).map(Cell::Int),
            ColumnType::Float => self.with_number(trim(text), parse_float).map(Cell::Float),
            ColumnType::Bool => parse_bool(trim(text)).map(Cell::Bool),
            ColumnType::Date => self.date(trim(text)).map(|(day, _)| Cell::Date(day)),
        }
    }

    /// `parse` applied to `text` as Rust writes numbers; the plain format costs nothing.
    fn with_number<T>(&self, text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        if self.decimal == b'.' && self.thousands.is_none() {
            return parse(text);
        }
        let mut buf = [0u8; MAX_NUMBER_BYTES];
        parse(self.number(text, &mut buf)?)
    }

    /// `text` as Rust parses numbers: the decimal mark made `.`, thousands separators
    /// removed where they group the whole part by threes (`1.234.567,8`), so that `1.5`
    /// in a decimal-comma file is not read as fifteen. `None` when the text mixes marks
    /// in a way the format does not allow.
    fn number<'a>(&self, text: &'a str, buf: &'a mut [u8; MAX_NUMBER_BYTES]) -> Option<&'a str> {
        let bytes = text.as_bytes();
        if bytes.len() > buf.len() {
            return None;
        }
        let mut len = 0;
        let mut whole_part = true;
        let (mut group, mut groups) = (0usize, 0usize);
        for &b in bytes {
            if whole_part && Some(b) == self.thousands {
                // The first group has 1 to 3 digits, every later one exactly 3.
                if group == 0 || group > 3 || (groups > 0 && group != 3) {
                    return None;
                }
                groups += 1;
                group = 0;
                continue;
            }
            let out = if b == self.decimal {
                if !whole_part {
                    return None;
                }
                whole_part = false;
                b'.'
            } else if b == b'.' || b == b',' || Some(b) == self.thousands {
                // The other mark, where the format does not allow it: ambiguous.
                return None;
            } else {
                if whole_part && b.is_ascii_digit() {
                    group += 1;
                } else if matches!(b, b'e' | b'E') {
                    if groups > 0 && whole_part && group != 3 {
                        return None;
                    }
                    whole_part = false;
                }
                b
            };
            buf[len] = out;
            len += 1;
        }
        if groups > 0 && whole_part && group != 3 {
            return None;
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    /// A date: ISO (`2026-10-31`), an ISO timestamp (`2026-10-31T09:30:00+01:00`, read as
    /// the date it was written on), or `date_format`. The flag says a time was dropped.
    pub fn date(&self, text: &str) -> Option<(i32, bool)> {
        if let Some(found) = parse_iso_date(text) {
            return Some(found);
        }
        let format = self.date_format.as_deref()?;
        let day = match chrono::NaiveDate::parse_from_str(text, format) {
            Ok(day) => day,
            // A format with a time of day: the date it falls on.
            Err(_) => chrono::NaiveDateTime::parse_from_str(text, format)
                .ok()?
                .date(),
        };
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
        i32::try_from((day - epoch).num_days())
            .ok()
            .map(|d| (d, false))
    }
}

/// `text` without leading and trailing whitespace, as `str::trim` has it; a value that
/// starts and ends with a visible ASCII character (nearly all) is returned as it is,
/// without `trim`'s decoding of characters at both ends.
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Whether `format` is a strftime format that reads a whole date (year, month, day).
pub fn is_date_format(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return false;
    }
    // The check that it names a full date: it must read back a known day.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 31);
    let written = day
        .map(|d| d.and_hms_opt(9, 30, 0))
        .and_then(|d| d)
        .map(|d| d.format(format).to_string());
    written.is_some_and(|w| {
        chrono::NaiveDate::parse_from_str(&w, format)
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(&w, format).map(|t| t.date()))
            .ok()
            == day
    })
}

/// Parses a non-null cell as `ty` in the default format (see [`CellFormat::parse`]).
#[cfg(test)]
pub fn parse_cell(ty: ColumnType, text: &str) -> Option<Cell<'_>> {
    CellFormat::default().parse(ty, text)
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

/// `YYYY-MM-DD`, optionally followed by `T` or a space and a time of day
/// (`HH:MM[:SS[.fraction]]`, then `Z` or an offset `±HH[:MM]`): the day, and whether a
/// time was there.
fn parse_iso_date(text: &str) -> Option<(i32, bool)> {
    // Most values of a file are not dates: they are ruled out before the date parser.
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let day = iso_day(&bytes[..10])?;
    match text.as_bytes().get(10) {
        None => Some((day, false)),
        Some(b'T' | b' ') if is_iso_time(&text.as_bytes()[11..]) => Some((day, true)),
        Some(_) => None,
    }
}

/// The day of `YYYY-MM-DD` (digits only, a real calendar day) counted from 1970-01-01.
/// Arrow's parser gives the same days but was a tenth of the holdings' ingest, most of
/// it in generic date handling that ten fixed bytes do not need.
fn iso_day(date: &[u8]) -> Option<i32> {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        date[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if date.len() != 10 || date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm), with years from March on so
    // that the leap day ends a year; years are 0..=9999, so the era is never negative.
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year / 400, year % 400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era)
        .ok()
        .map(|d| d - 719_468)
}

fn is_iso_time(t: &[u8]) -> bool {
    let two_digits = |at: usize, max: u8| -> bool {
        match (t.get(at), t.get(at + 1)) {
            (Some(a), Some(b)) if a.is_ascii_digit() && b.is_ascii_digit() => {
                (a - b'0') * 10 + (b - b'0') <= max
            }
            _ => false,
        }
    };
    if !(two_digits(0, 23) && t.get(2) == Some(&b':') && two_digits(3, 59)) {
        return false;
    }
    let mut at = 5;
    if t.get(at) == Some(&b':') {
        if !two_digits(at + 1, 60) {
            return false;
        }
        at += 3;
        if t.get(at) == Some(&b'.') {
            at += 1;
            let digits = t[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            at += digits;
        }
    }
    match t.get(at) {
        None => true,
        Some(b'Z' | b'z') => at + 1 == t.len(),
        Some(b'+' | b'-') => {
            let offset = &t[at + 1..];
            match offset.len() {
                2 => two_digits(at + 1, 23),
                4 => two_digits(at + 1, 23) && two_digits(at + 3, 59),
                5 => two_digits(at + 1, 23) && offset[2] == b':' && two_digits(at + 4, 59),
                _ => false,
            }
        }
        Some(_) => false,
    }
}

/// Whether a value looks like a date in an order that must be stated: `31/10/2026`,
/// `10.31.26` (two groups of one or two digits, then two or four, split by `/` `.` `-`).
fn looks_like_local_date(text: &str) -> bool {
    let mut groups = [0usize; 3];
    let mut group = 0;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            groups[group] += 1;
        } else if matches!(b, b'/' | b'.' | b'-') && group < 2 {
            group += 1;
        } else {
            return false;
        }
    }
    group == 2
        && (1..=2).contains(&groups[0])
        && (1..=2).contains(&groups[1])
        && matches!(groups[2], 2 | 4)
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
    /// Dates written with a time of day (read as their date).
    timestamps: u64,
    /// Values that look like dates in an order that `date_format` must state.
    local_dates: u64,
}

impl Inference {
    pub fn observe(&mut self, text: &str, format: &CellFormat) {
        self.values += 1;
        let t = trim(text);
        let int = format.with_number(t, parse_int).is_some();
        self.int += u64::from(int);
        // Every integer is a float: no need to parse it twice.
        self.float += u64::from(int || format.with_number(t, parse_float).is_some());
        // Only the words true/false are inferred as booleans; Y/N and 1/0 must be declared,
        // since they are as often codes or counts.
        self.boolean +=
            u64::from(t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false"));
        match format.date(t) {
            Some((_, timestamp)) => {
                self.date += 1;
                self.timestamps += u64::from(timestamp);
            }
            None => self.local_dates += u64::from(looks_like_local_date(t)),
        }
    }

    /// Adds the counts of another part of the same column.
    pub fn add(&mut self, other: &Inference) {
        self.values += other.values;
        self.int += other.int;
        self.float += other.float;
        self.boolean += other.boolean;
        self.date += other.date;
        self.timestamps += other.timestamps;
        self.local_dates += other.local_dates;
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

    /// How many of the values read as dates had a time of day, dropped.
    pub fn timestamps(&self) -> u64 {
        if self.result() == ColumnType::Date {
            self.timestamps
        } else {
            0
        }
    }

    /// Whether a column read as text holds dates in an order `date_format` must state
    /// (all but the tolerated share look like `31/10/2026`).
    pub fn needs_date_format(&self) -> bool {
        self.result() == ColumnType::String
            && self.values > 0
            && self.local_dates * 100 >= self.values * TOLERANCE_PERCENT
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
            inference.observe(v, &CellFormat::default());
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
    fn trim_is_strs_trim() {
        for text in [
            "",
            " ",
            "a",
            " a ",
            "\u{a0}1\u{a0}",
            "1\t",
            "\u{2003}x",
            "é",
            " é",
            "x\r",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn iso_days_are_arrows_days() {
        use arrow::compute::kernels::cast_utils::Parser;
        use arrow::datatypes::Date32Type;
        use chrono::Datelike;
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        let mut day = chrono::NaiveDate::from_ymd_opt(1600, 1, 1).expect("start");
        while day.year() < 2400 {
            let text = day.format("%Y-%m-%d").to_string();
            let expected = i32::try_from((day - epoch).num_days()).expect("fits");
            assert_eq!(iso_day(text.as_bytes()), Some(expected), "{text}");
            assert_eq!(Date32Type::parse(&text), Some(expected), "{text}");
            day = day.succ_opt().expect("next day");
        }
        for bad in [
            "2026-02-29",
            "2100-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-01-00",
            "2026-1-011",
            "20x6-01-01",
            "2026/01/01",
            "+026-01-01",
            "2026-01-1 ",
        ] {
            assert_eq!(iso_day(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(iso_day(b"2000-02-29"), Date32Type::parse("2000-02-29"));
        assert_eq!(iso_day(b"0001-01-01"), Date32Type::parse("0001-01-01"));
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
        // A timestamp is the date it was written on; a broken time is not a date.
        assert_eq!(
            parse_cell(ColumnType::Date, "1970-01-02T23:59:59+05:00"),
            Some(Cell::Date(1))
        );
        assert_eq!(
            parse_cell(ColumnType::Date, "1970-01-02 08:00"),
            Some(Cell::Date(1))
        );
        assert_eq!(parse_cell(ColumnType::Date, "1970-01-02T25:00:00"), None);
        assert_eq!(parse_cell(ColumnType::Date, "1970-01-02T08:00:00+5"), None);
        assert_eq!(parse_cell(ColumnType::Date, "1970-01-02x"), None);
    }

    #[test]
    fn inference_takes_the_narrowest_type_every_value_fits() {
        let infer = |values: &[&str]| {
            let mut i = Inference::default();
            values
                .iter()
                .for_each(|v| i.observe(v, &CellFormat::default()));
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

    fn format(decimal: &str, thousands: Option<&str>, date_format: Option<&str>) -> CellFormat {
        CellFormat::of(&IngestParams {
            decimal: decimal.to_string(),
            thousands: thousands.map(String::from),
            date_format: date_format.map(String::from),
            ..IngestParams::default()
        })
    }

    #[test]
    fn decimal_comma_and_thousands_separators() {
        let comma = format(",", None, None);
        assert_eq!(
            comma.parse(ColumnType::Float, "1234,56"),
            Some(Cell::Float(1234.56))
        );
        assert_eq!(
            comma.parse(ColumnType::Float, "-0,5"),
            Some(Cell::Float(-0.5))
        );
        assert_eq!(comma.parse(ColumnType::Int, "1234"), Some(Cell::Int(1234)));
        // The point is no mark of this format: not read as 1.5 nor as 15.
        assert_eq!(comma.parse(ColumnType::Float, "1.5"), None);
        let european = format(",", Some("."), None);
        assert_eq!(
            european.parse(ColumnType::Float, "1.234.567,89"),
            Some(Cell::Float(1234567.89))
        );
        assert_eq!(
            european.parse(ColumnType::Int, "12.345"),
            Some(Cell::Int(12345))
        );
        // Groups of three only: `1.5` is not fifteen.
        assert_eq!(european.parse(ColumnType::Float, "1.5"), None);
        assert_eq!(european.parse(ColumnType::Float, "1234.567"), None);
        assert_eq!(european.parse(ColumnType::Float, "1.2345"), None);
        let english = format(".", Some(","), None);
        assert_eq!(
            english.parse(ColumnType::Float, "1,234.5"),
            Some(Cell::Float(1234.5))
        );
        assert_eq!(english.parse(ColumnType::Float, "1,2"), None);
        let swiss = format(".", Some("'"), None);
        assert_eq!(
            swiss.parse(ColumnType::Int, "-1'000'000"),
            Some(Cell::Int(-1_000_000))
        );
        // Inference uses the format: a decimal-comma column is a float column.
        let mut i = Inference::default();
        for v in ["1234,56", "7,5", "12"] {
            i.observe(v, &comma);
        }
        assert_eq!(i.result(), ColumnType::Float);
    }

    #[test]
    fn date_format_reads_local_dates_and_inference_hints_at_it() {
        let dmy = format(".", None, Some("%d/%m/%Y"));
        let day = |y, m, d| {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            (date - epoch).num_days() as i32
        };
        assert_eq!(
            dmy.parse(ColumnType::Date, "31/10/2026"),
            Some(Cell::Date(day(2026, 10, 31)))
        );
        assert_eq!(
            dmy.parse(ColumnType::Date, "2026-10-31"),
            Some(Cell::Date(day(2026, 10, 31)))
        );
        assert_eq!(dmy.parse(ColumnType::Date, "10/31/2026"), None);
        let with_time = format(".", None, Some("%d.%m.%Y %H:%M"));
        assert_eq!(
            with_time.parse(ColumnType::Date, "31.10.2026 23:15"),
            Some(Cell::Date(day(2026, 10, 31)))
        );
        assert!(is_date_format("%d/%m/%Y"));
        assert!(is_date_format("%d.%m.%Y %H:%M"));
        assert!(!is_date_format("%d/%m"));
        assert!(!is_date_format("%Q"));
        // Without the format such a column is text, with a hint.
        let mut i = Inference::default();
        for v in ["31/10/2026", "01/02/2025"] {
            i.observe(v, &CellFormat::default());
        }
        assert_eq!(i.result(), ColumnType::String);
        assert!(i.needs_date_format());
        // Timestamps are counted, for the note.
        let mut i = Inference::default();
        for v in ["2026-10-31T09:30:00Z", "2026-10-30"] {
            i.observe(v, &CellFormat::default());
        }
        assert_eq!((i.result(), i.timestamps()), (ColumnType::Date, 1));
    }
}
