//! Applying a fitted state, batch by batch: rows dropped for missing values and beyond
//! `drop` fences, then each column imputed, clipped, transformed, scaled or encoded.
//! Fitting's own output goes through here too, so fit and apply give the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array};
use arrow::compute::filter;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use clientele_shared::parquet_io::{ParquetSink, ParquetSource};
use clientele_shared::schema::feature_origins_metadata;
use clientele_shared::stage::StageContext;

use crate::errors::PreprocessError;
use crate::io::{column, internal, is_categorical, is_numeric, numbers, texts};
use crate::rules::{clip, transform};
use crate::{
    CategoricalImpute, CategoricalState, ColumnState, Encode, FittedState, NumericImpute,
    NumericState, OutlierAction,
};

/// Applies `state` to the table at `table`, batch by batch, into the features file;
/// returns its rows and what each rule touched.
pub(crate) fn apply_file(
    state: &FittedState,
    table: &Path,
    features: &Path,
    ctx: &StageContext<'_>,
) -> Result<(u64, BTreeMap<String, u64>), PreprocessError> {
    let mut source = ParquetSource::open(table, ctx.parquet_key)?;
    let total = source.rows();
    let empty = RecordBatch::new_empty(source.schema().clone());
    let (empty, mut counts) = apply(state, &empty, table)?;
    let mut sink = ParquetSink::create(features, empty.schema(), ctx.parquet_key)?;
    let mut first_row = 0usize;
    while let Some(batch) = source.next_batch()? {
        let (out, batch_counts) = apply_rows(state, &batch, table, first_row)?;
        for (key, n) in batch_counts {
            *counts.entry(key).or_default() += n;
        }
        sink.write(&out)?;
        first_row += batch.num_rows();
        ctx.progress.rows(first_row as u64, Some(total));
    }
    if sink.rows() == 0 && total > 0 {
        return Err(PreprocessError::NoRowsLeft {
            path: table.to_path_buf(),
        });
    }
    Ok((sink.finish()?, counts))
}

/// Transforms `batch` with a fitted state; returns the output and what each rule touched.
pub fn apply(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
) -> Result<(RecordBatch, BTreeMap<String, u64>), PreprocessError> {
    apply_rows(state, batch, path, 0)
}

/// [`apply`] to a batch whose first row is row `first_row` (0-based) of its file, so that
/// errors name the row in the file.
pub fn apply_rows(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
    first_row: usize,
) -> Result<(RecordBatch, BTreeMap<String, u64>), PreprocessError> {
    check_types(state, batch, path)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let values = read_values(state, batch, path)?;
    let keep = kept_rows(state, batch.num_rows(), &values, &mut counts);
    // A batch may lose every row; the stage checks that the whole output is not empty.
    let kept: Vec<usize> = (0..keep.len()).filter(|&r| keep[r]).collect();
    let mask = BooleanArray::from(keep);
    let mut out = Columns::default();
    for c in &state.columns {
        match c {
            ColumnState::Dropped { .. } => {}
            ColumnState::Passthrough { column: name } => {
                let array = column(batch, path, name, "the fitted state passes through")?;
                let index = batch
                    .schema()
                    .index_of(name)
                    .map_err(|e| internal(path, e))?;
                out.fields.push(batch.schema().field(index).clone());
                out.arrays
                    .push(filter(&array, &mask).map_err(|e| internal(path, e))?);
            }
            ColumnState::Numeric(s) => {
                let values = &values.numbers[s.column.as_str()];
                let at = Rows {
                    kept: &kept,
                    first_row,
                    path,
                };
                numeric_features(c, s, values, at, &mut counts, &mut out)?;
            }
            ColumnState::Categorical(s) => {
                let values = &values.texts[s.column.as_str()];
                categorical_features(c, s, values, &kept, &mut counts, &mut out);
            }
        }
    }
    // The features say where they come from, for the stages not given the state.
    let schema =
        Arc::new(Schema::new(out.fields).with_metadata(feature_origins_metadata(&state.outputs)));
    let batch = RecordBatch::try_new(schema, out.arrays).map_err(|e| internal(path, e))?;
    Ok((batch, counts))
}

/// Each numeric and categorical column's values in a batch, by column name.
struct Values<'s> {
    numbers: HashMap<&'s str, Vec<Option<f64>>>,
    texts: HashMap<&'s str, Vec<Option<String>>>,
}

/// The output columns built so far.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    /// Adds one Float64 feature column.
    fn push(&mut self, name: String, values: Vec<f64>) {
        self.fields.push(Field::new(name, DataType::Float64, false));
        self.arrays.push(Arc::new(Float64Array::from(values)));
    }
}

/// Where a column's kept rows are: their indices in the batch, and the batch's first
/// row in its file (for errors).
#[derive(Clone, Copy)]
struct Rows<'a> {
    kept: &'a [usize],
    first_row: usize,
    path: &'a Path,
}

/// Reads every column the state transforms, and checks that the passed-through ones
/// are there.
fn read_values<'s>(
    state: &'s FittedState,
    batch: &RecordBatch,
    path: &Path,
) -> Result<Values<'s>, PreprocessError> {
    let mut values = Values {
        numbers: HashMap::new(),
        texts: HashMap::new(),
    };
    for c in &state.columns {
        match c {
            ColumnState::Numeric(s) => {
                let array = column(batch, path, &s.column, "the fitted state needs")?;
                values.numbers.insert(&s.column, numbers(&array, path)?);
            }
            ColumnState::Categorical(s) => {
                let array = column(batch, path, &s.column, "the fitted state needs")?;
                values.texts.insert(&s.column, texts(&array, path)?);
            }
            ColumnState::Passthrough { column: name } => {
                column(batch, path, name, "the fitted state passes through")?;
            }
            ColumnState::Dropped { .. } => {}
        }
    }
    Ok(values)
}

/// Which rows survive: those missing no value of a column imputed by `drop`, then those
/// within every `drop` fence; counted in `counts`.
fn kept_rows(
    state: &FittedState,
    n: usize,
    values: &Values<'_>,
    counts: &mut BTreeMap<String, u64>,
) -> Vec<bool> {
    let mut keep = vec![true; n];
    let mut dropped_missing = 0u64;
    for c in &state.columns {
        match c {
            ColumnState::Numeric(s) if s.impute == NumericImpute::Drop => {
                let column = &values.numbers[s.column.as_str()];
                mark_missing(column, &mut keep, &mut dropped_missing);
            }
            ColumnState::Categorical(s) if s.impute == CategoricalImpute::Drop => {
                let column = &values.texts[s.column.as_str()];
                mark_missing(column, &mut keep, &mut dropped_missing);
            }
            _ => {}
        }
    }
    counts.insert("rows_dropped_missing".to_string(), dropped_missing);
    let mut dropped_outliers = 0u64;
    for c in &state.columns {
        let ColumnState::Numeric(s) = c else { continue };
        let Some(o) = s
            .outliers
            .as_ref()
            .filter(|o| o.action == OutlierAction::Drop)
        else {
            continue;
        };
        for (row, v) in values.numbers[s.column.as_str()].iter().enumerate() {
            let v = v.or(s.impute_value).unwrap_or(0.0);
            if keep[row] && (v < o.low || v > o.high) {
                keep[row] = false;
                dropped_outliers += 1;
            }
        }
    }
    counts.insert("rows_dropped_outliers".to_string(), dropped_outliers);
    keep
}

/// A numeric column's outputs over the kept rows: the value imputed, clipped,
/// transformed and scaled; its missing indicator and outlier flag when the state has
/// them.
fn numeric_features(
    c: &ColumnState,
    s: &NumericState,
    values: &[Option<f64>],
    at: Rows<'_>,
    counts: &mut BTreeMap<String, u64>,
    outputs: &mut Columns,
) -> Result<(), PreprocessError> {
    let Rows {
        kept: kept_rows,
        first_row,
        path,
    } = at;
    let (mut out, mut missing, mut flags) =
        (Vec::with_capacity(kept_rows.len()), Vec::new(), Vec::new());
    let (mut imputed, mut clipped) = (0u64, 0u64);
    for &row in kept_rows {
        let raw = values[row];
        if raw.is_none() {
            imputed += 1;
        }
        let v = raw.or(s.impute_value).unwrap_or(0.0);
        let beyond = s.outliers.as_ref().is_some_and(|o| v < o.low || v > o.high);
        if beyond
            && s.outliers
                .as_ref()
                .is_some_and(|o| o.action == OutlierAction::Clip)
        {
            clipped += 1;
        }
        let x = transform(s, clip(s, v), path, first_row + row)?;
        out.push((x - s.center) / s.scale_value);
        missing.push(if raw.is_none() { 1.0 } else { 0.0 });
        flags.push(if beyond { 1.0 } else { 0.0 });
    }
    counts.insert(format!("imputed.{}", s.column), imputed);
    if let Some(o) = &s.outliers {
        let touched = match o.action {
            OutlierAction::Clip => clipped,
            OutlierAction::Flag => flags.iter().filter(|f| **f > 0.0).count() as u64,
            OutlierAction::Drop => 0,
        };
        let verb = match o.action {
            OutlierAction::Clip => "clipped",
            OutlierAction::Flag => "flagged",
            OutlierAction::Drop => "outliers_dropped",
        };
        counts.insert(format!("{verb}.{}", s.column), touched);
    }
    let names = c.output_names();
    let mut names = names.into_iter();
    outputs.push(names.next().unwrap_or_default(), out);
    if s.indicator {
        outputs.push(names.next().unwrap_or_default(), missing);
    }
    if matches!(&s.outliers, Some(o) if o.action == OutlierAction::Flag) {
        outputs.push(names.next().unwrap_or_default(), flags);
    }
    Ok(())
}

/// A categorical column's outputs over the kept rows: its ordinal code, or one-hot
/// columns and `other`.
fn categorical_features(
    c: &ColumnState,
    s: &CategoricalState,
    values: &[Option<String>],
    kept_rows: &[usize],
    counts: &mut BTreeMap<String, u64>,
    outputs: &mut Columns,
) {
    let index: HashMap<&str, usize> = s
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let (mut unknown, mut imputed) = (0u64, 0u64);
    let codes: Vec<Option<usize>> = kept_rows
        .iter()
        .map(|&row| {
            if values[row].is_none() {
                imputed += 1;
            }
            let v = values[row].as_deref().or(s.impute_value.as_deref());
            let code = v.and_then(|v| index.get(v).copied());
            if code.is_none()
                && v.is_some_and(|v| !s.categories.is_empty() && !index.contains_key(v))
            {
                unknown += 1;
            }
            code
        })
        .collect();
    counts.insert(format!("imputed.{}", s.column), imputed);
    counts.insert(format!("other_or_unknown.{}", s.column), unknown);
    let names = c.output_names();
    match s.encode {
        Encode::Ordinal => {
            let values = codes.iter().map(|c| c.map_or(-1.0, |c| c as f64)).collect();
            outputs.push(names[0].clone(), values);
        }
        Encode::Onehot => {
            for (i, name) in names.iter().enumerate().take(s.categories.len()) {
                let values = codes
                    .iter()
                    .map(|c| if *c == Some(i) { 1.0 } else { 0.0 })
                    .collect();
                outputs.push(name.clone(), values);
            }
            // The names come from the state, so that fit, apply and the
            // recorded outputs cannot disagree.
            if let Some(name) = names.get(s.categories.len()).filter(|_| s.other) {
                let values = codes
                    .iter()
                    .map(|c| if c.is_none() { 1.0 } else { 0.0 })
                    .collect();
                outputs.push(name.clone(), values);
            }
        }
    }
}

/// A state applied to a table of another schema must fail, naming the column, rather
/// than cast text to missing numbers and impute them.
fn check_types(
    state: &FittedState,
    batch: &RecordBatch,
    path: &Path,
) -> Result<(), PreprocessError> {
    for c in &state.columns {
        let (name, ok, expected) = match c {
            ColumnState::Numeric(s) => (&s.column, is_numeric as fn(&DataType) -> bool, "numeric"),
            ColumnState::Categorical(s) => (
                &s.column,
                is_categorical as fn(&DataType) -> bool,
                "categorical",
            ),
            ColumnState::Passthrough { .. } | ColumnState::Dropped { .. } => continue,
        };
        if let Some(field) = batch.schema().fields().iter().find(|f| f.name() == name) {
            if !ok(field.data_type()) {
                return Err(PreprocessError::StateMismatch {
                    path: path.to_path_buf(),
                    column: name.clone(),
                    found: field.data_type().to_string(),
                    expected,
                });
            }
        }
    }
    Ok(())
}

fn mark_missing<T>(values: &[Option<T>], keep: &mut [bool], dropped: &mut u64) {
    for (row, v) in values.iter().enumerate() {
        if v.is_none() && keep[row] {
            keep[row] = false;
            *dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::StringArray;

    use super::*;
    use crate::PreprocessParams;

    fn batch(ids: &[&str], balance: &[Option<f64>], city: &[Option<&str>]) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "customer_id",
                Arc::new(StringArray::from(ids.to_vec())) as ArrayRef,
            ),
            (
                "balance",
                Arc::new(Float64Array::from(balance.to_vec())) as ArrayRef,
            ),
            (
                "city",
                Arc::new(StringArray::from(city.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn fitted() -> (FittedState, RecordBatch) {
        let table = batch(
            &["a", "b", "c", "d", "e"],
            &[Some(1.0), None, Some(4.0), Some(9.0), Some(2.0)],
            &[Some("Oslo"), Some("Rome"), None, Some("Oslo"), Some("Rome")],
        );
        let state = crate::fit::fit(
            &PreprocessParams::default(),
            &table,
            Path::new("t.parquet"),
            &mut Vec::new(),
        )
        .unwrap();
        (state, table)
    }

    #[test]
    fn batch_by_batch_gives_the_rows_of_one_pass() {
        let (state, table) = fitted();
        let path = Path::new("t.parquet");
        let (whole, whole_counts) = apply(&state, &table, path).unwrap();
        let (first, mut counts) = apply_rows(&state, &table.slice(0, 2), path, 0).unwrap();
        let (second, more) = apply_rows(&state, &table.slice(2, 3), path, 2).unwrap();
        for (key, n) in more {
            *counts.entry(key).or_default() += n;
        }
        let joined = arrow::compute::concat_batches(&whole.schema(), [&first, &second]).unwrap();
        assert_eq!(joined, whole);
        assert_eq!(counts, whole_counts);
    }

    #[test]
    fn an_unseen_category_is_counted_and_gets_no_column_of_its_own() {
        let (state, _) = fitted();
        let new = batch(&["z"], &[Some(3.0)], &[Some("Lima")]);
        let (out, counts) = apply(&state, &new, Path::new("new.parquet")).unwrap();
        assert_eq!(out.num_rows(), 1);
        assert!(out
            .schema()
            .fields()
            .iter()
            .all(|f| !f.name().contains("Lima")));
        assert_eq!(counts.get("other_or_unknown.city"), Some(&1));
    }

    #[test]
    fn a_column_of_another_type_is_an_error_naming_it() {
        let (state, _) = fitted();
        let text_balance = RecordBatch::try_from_iter([
            (
                "customer_id",
                Arc::new(StringArray::from(vec!["z"])) as ArrayRef,
            ),
            (
                "balance",
                Arc::new(StringArray::from(vec!["12"])) as ArrayRef,
            ),
            (
                "city",
                Arc::new(StringArray::from(vec!["Oslo"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let err = apply(&state, &text_balance, Path::new("new.parquet"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("balance") && err.contains("new.parquet"),
            "{err}"
        );
    }
}
