//! Fitting: every statistic learnt from the table, one whole column at a time, in the
//! order the crate's documentation gives. [`fit`] calls each step in turn.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow::datatypes::Schema;
use clientele_shared::schema::{Unscale, CUSTOMER_ID};

use crate::errors::PreprocessError;
use crate::io::{column, is_numeric, is_text, numbers, texts, ColumnSource};
use crate::rules::{clip, keep_categories, scaler, transform};
use crate::{
    stats, CategoricalImpute, CategoricalRule, CategoricalState, ColumnRule, ColumnState, Encode,
    FittedOutliers, FittedState, NumericImpute, NumericRule, NumericState, OutlierAction,
    OutlierMethod, OutputColumn, PreprocessParams, Unknown, STATE_FORMAT,
};

/// What happens to each input column before anything is learnt.
enum Plan<'a> {
    Passthrough,
    Dropped,
    Numeric(&'a NumericRule),
    Categorical(&'a CategoricalRule),
}

/// Learns every statistic from the columns of `source` (see [`ColumnSource`]).
pub fn fit(
    params: &PreprocessParams,
    source: &dyn ColumnSource,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<FittedState, PreprocessError> {
    let plans = plan_columns(params, &source.schema(), path, notes)?;
    let n = source.num_rows();
    if n == 0 {
        return Err(PreprocessError::EmptyTable {
            path: path.to_path_buf(),
        });
    }
    // 1. Rows dropped for a missing value.
    let mut keep = rows_with_values(source, path, &plans, n)?;
    // 2. Imputation values and outlier fences, from the rows left.
    let (mut numeric, beyond_drop_fences) = fit_numeric(source, path, &plans, &keep)?;
    // 3. Rows beyond a `drop` fence.
    for (k, d) in keep.iter_mut().zip(&beyond_drop_fences) {
        *k &= !d;
    }
    let rows_fitted = keep.iter().filter(|k| **k).count();
    if rows_fitted == 0 {
        return Err(PreprocessError::NoRowsLeft {
            path: path.to_path_buf(),
        });
    }
    // 4. Scalers and categories, from the rows that survive every drop.
    let mut columns = Vec::new();
    for (name, plan) in &plans {
        columns.push(match plan {
            Plan::Passthrough => ColumnState::Passthrough {
                column: name.clone(),
            },
            Plan::Dropped => ColumnState::Dropped {
                column: name.clone(),
            },
            Plan::Numeric(_) => {
                let Some(state) = numeric.remove(name.as_str()) else {
                    continue;
                };
                ColumnState::Numeric(fit_scale(source, path, state, &keep, rows_fitted)?)
            }
            Plan::Categorical(rule) => {
                let values = texts(&column(source, path, name, "the plan names")?, path)?;
                ColumnState::Categorical(fit_categories(name, rule, &values, &keep, path, notes)?)
            }
        });
    }
    let outputs = output_columns(&columns);
    Ok(FittedState {
        format: STATE_FORMAT,
        rows_fitted: rows_fitted as u64,
        columns,
        outputs,
    })
}

/// Each column's plan, in the table's order; a column the params name but the table
/// lacks is an error, and a column no rule takes is left out with a note.
fn plan_columns<'a>(
    params: &'a PreprocessParams,
    schema: &Schema,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, Plan<'a>)>, PreprocessError> {
    for (names, what) in [
        (
            params.columns.keys().collect::<Vec<_>>(),
            "params.columns names",
        ),
        (
            params.passthrough.iter().collect(),
            "params.passthrough names",
        ),
        (params.drop.iter().collect(), "params.drop names"),
    ] {
        for name in names {
            if schema.index_of(name).is_err() {
                return Err(PreprocessError::MissingColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    what,
                });
            }
        }
    }
    let mut plans = Vec::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        let plan = if name == CUSTOMER_ID || params.passthrough.iter().any(|p| p == name) {
            Plan::Passthrough
        } else if params.drop.iter().any(|d| d == name) {
            Plan::Dropped
        } else if let Some(rule) = params.columns.get(name) {
            match rule {
                ColumnRule::Numeric(r) if is_numeric(field.data_type()) => Plan::Numeric(r),
                ColumnRule::Categorical(r)
                    if is_text(field.data_type()) || is_numeric(field.data_type()) =>
                {
                    Plan::Categorical(r)
                }
                _ => {
                    return Err(PreprocessError::Unsupported {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        found: field.data_type().to_string(),
                    })
                }
            }
        } else if is_numeric(field.data_type()) {
            Plan::Numeric(&params.numeric)
        } else if is_text(field.data_type()) {
            Plan::Categorical(&params.categorical)
        } else {
            notes.push(format!(
                "column `{name}` ({}) left out; list it in params.passthrough to keep it",
                field.data_type()
            ));
            Plan::Dropped
        };
        plans.push((name.to_string(), plan));
    }
    Ok(plans)
}

/// Step 1: `false` for each row missing a value in a column imputed by `drop`.
fn rows_with_values(
    source: &dyn ColumnSource,
    path: &Path,
    plans: &[(String, Plan<'_>)],
    n: usize,
) -> Result<Vec<bool>, PreprocessError> {
    let mut keep = vec![true; n];
    for (name, plan) in plans {
        let drops = match plan {
            Plan::Numeric(r) => r.impute == NumericImpute::Drop,
            Plan::Categorical(r) => r.impute == CategoricalImpute::Drop,
            _ => false,
        };
        if drops {
            let array = column(source, path, name, "the plan names")?;
            for (row, k) in keep.iter_mut().enumerate() {
                if array.is_null(row) {
                    *k = false;
                }
            }
        }
    }
    Ok(keep)
}

/// Step 2: each numeric column's imputation value and outlier fences, learnt from the
/// rows `keep`s; and, for each row, whether it lies beyond a `drop` fence.
fn fit_numeric<'p>(
    source: &dyn ColumnSource,
    path: &Path,
    plans: &'p [(String, Plan<'_>)],
    keep: &[bool],
) -> Result<(HashMap<&'p str, NumericState>, Vec<bool>), PreprocessError> {
    let mut numeric = HashMap::new();
    let mut beyond_drop_fences = vec![false; keep.len()];
    for (name, plan) in plans {
        let Plan::Numeric(rule) = plan else { continue };
        let values = numbers(&column(source, path, name, "the plan names")?, path)?;
        let state = fit_numeric_column(name, rule, &values, keep, path)?;
        if let Some(o) = state
            .outliers
            .as_ref()
            .filter(|o| o.action == OutlierAction::Drop)
        {
            for (row, v) in values.iter().enumerate() {
                let v = v.or(state.impute_value).unwrap_or(0.0);
                if v < o.low || v > o.high {
                    beyond_drop_fences[row] = true;
                }
            }
        }
        numeric.insert(name.as_str(), state);
    }
    Ok((numeric, beyond_drop_fences))
}

/// One numeric column's imputation value and fences, from the rows `keep`s; its scaler
/// is fitted in step 4.
fn fit_numeric_column(
    name: &str,
    rule: &NumericRule,
    values: &[Option<f64>],
    keep: &[bool],
    path: &Path,
) -> Result<NumericState, PreprocessError> {
    let no_values = |what| PreprocessError::NoValues {
        path: path.to_path_buf(),
        column: name.to_string(),
        what,
    };
    let present: Vec<f64> = values
        .iter()
        .zip(keep)
        .filter_map(|(v, k)| v.filter(|_| *k))
        .collect();
    let sorted = stats::sorted(&present);
    let impute_value = match rule.impute {
        NumericImpute::Mean => Some(stats::mean(&present).ok_or_else(|| no_values("a mean"))?),
        NumericImpute::Median => Some(stats::median(&sorted).ok_or_else(|| no_values("a median"))?),
        NumericImpute::MostFrequent => {
            Some(stats::most_frequent(&sorted).ok_or_else(|| no_values("a most frequent value"))?)
        }
        NumericImpute::Constant => Some(rule.fill_value),
        NumericImpute::Drop => None,
    };
    let outliers = match &rule.outliers {
        None => None,
        Some(o) => {
            let kept: Vec<f64> = values
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v.or(impute_value).unwrap_or(0.0))
                .collect();
            let (low, high) =
                outlier_fences(o, &kept).ok_or_else(|| no_values("outlier fences"))?;
            Some(FittedOutliers {
                method: o.method,
                action: o.action,
                low,
                high,
            })
        }
    };
    Ok(NumericState {
        column: name.to_string(),
        impute: rule.impute,
        impute_value,
        // As scikit-learn's add_indicator (features="missing-only"): only columns with
        // missing values at fit time get one.
        indicator: rule.indicator && values.iter().zip(keep).any(|(v, k)| *k && v.is_none()),
        outliers,
        transform: rule.transform,
        scale: rule.scale,
        center: 0.0,
        scale_value: 1.0,
    })
}

/// The low and high fences of a column's kept values; `None` when there are none.
fn outlier_fences(o: &crate::OutlierRule, kept: &[f64]) -> Option<(f64, f64)> {
    let sorted = stats::sorted(kept);
    Some(match o.method {
        OutlierMethod::Iqr => {
            let q1 = stats::quantile(&sorted, 0.25)?;
            let q3 = stats::quantile(&sorted, 0.75)?;
            (q1 - o.factor * (q3 - q1), q3 + o.factor * (q3 - q1))
        }
        OutlierMethod::Zscore => {
            let mean = stats::mean(kept)?;
            let sd = stats::std_dev(kept, mean);
            (mean - o.z * sd, mean + o.z * sd)
        }
        OutlierMethod::Quantile => (
            stats::quantile(&sorted, o.low)?,
            stats::quantile(&sorted, o.high)?,
        ),
    })
}

/// Step 4, numeric: the scaler's centre and scale, from the kept rows imputed, clipped
/// and transformed as `apply` will.
fn fit_scale(
    source: &dyn ColumnSource,
    path: &Path,
    mut state: NumericState,
    keep: &[bool],
    rows_fitted: usize,
) -> Result<NumericState, PreprocessError> {
    // Read again rather than kept from step 2: memory holds one column.
    let raw = numbers(
        &column(source, path, &state.column, "the plan names")?,
        path,
    )?;
    let mut values = Vec::with_capacity(rows_fitted);
    for (row, v) in raw.iter().enumerate().filter(|(row, _)| keep[*row]) {
        let v = v.or(state.impute_value).unwrap_or(0.0);
        values.push(transform(&state, clip(&state, v), path, row)?);
    }
    (state.center, state.scale_value) = scaler(state.scale, &values);
    Ok(state)
}

/// Step 4, categorical: the imputation value and the categories kept, from the kept
/// rows.
fn fit_categories(
    name: &str,
    rule: &CategoricalRule,
    values: &[Option<String>],
    keep: &[bool],
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<CategoricalState, PreprocessError> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut present = 0usize;
    for (v, _) in values.iter().zip(keep).filter(|(_, k)| **k) {
        if let Some(v) = v {
            *counts.entry(v.as_str()).or_default() += 1;
            present += 1;
        }
    }
    // A distinct value in nearly every row is an identifier (an id, an e-mail, a name)
    // or free text, not a category: one-hot encoding it would be a column per customer.
    if let Some(max) = rule.max_categories {
        if counts.len() > max && present >= 20 && counts.len() * 10 >= present * 9 {
            return Err(PreprocessError::IdentifierLike {
                path: path.to_path_buf(),
                column: name.to_string(),
                distinct: counts.len(),
                values: present,
            });
        }
    }
    let impute_value = match rule.impute {
        // BTreeMap order: among equally frequent categories the smallest wins, as in scikit-learn.
        CategoricalImpute::MostFrequent => {
            let best = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(v, _)| v.to_string());
            Some(best.ok_or_else(|| PreprocessError::NoValues {
                path: path.to_path_buf(),
                column: name.to_string(),
                what: "a most frequent category",
            })?)
        }
        CategoricalImpute::Constant => Some(rule.fill_value.clone()),
        CategoricalImpute::Drop => None,
    };
    if let Some(fill) = &impute_value {
        let missing = values
            .iter()
            .zip(keep)
            .filter(|(v, k)| **k && v.is_none())
            .count();
        if missing > 0 {
            *counts.entry(fill.as_str()).or_default() += missing;
        }
    }
    let (categories, pooled) = keep_categories(&counts, rule.max_categories);
    if pooled {
        notes.push(format!(
            "column `{name}`: {} categories; the {} most frequent kept, the rest pooled into `{name}=other` (max_categories = {})",
            counts.len(),
            categories.len(),
            rule.max_categories.unwrap_or(0)
        ));
    }
    Ok(CategoricalState {
        column: name.to_string(),
        impute: rule.impute,
        impute_value,
        encode: rule.encode,
        categories,
        other: rule.encode == Encode::Onehot && (pooled || rule.unknown == Unknown::Other),
        unknown: rule.unknown,
    })
}

/// Every output column, with its input column and, for a numeric column's value, how
/// to undo the scaling.
fn output_columns(columns: &[ColumnState]) -> Vec<OutputColumn> {
    columns
        .iter()
        .filter(|c| c.column() != CUSTOMER_ID)
        .flat_map(|c| {
            let unscale = match c {
                ColumnState::Numeric(n) => Some(Unscale {
                    transform: n.transform,
                    center: n.center,
                    scale: n.scale_value,
                }),
                _ => None,
            };
            // The first output of a numeric column is its value; the others are flags.
            c.output_names()
                .into_iter()
                .enumerate()
                .map(move |(i, name)| OutputColumn {
                    name,
                    source: c.column().to_string(),
                    unscale: unscale.filter(|_| i == 0),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutlierRule;

    fn rule(method: OutlierMethod) -> OutlierRule {
        OutlierRule {
            method,
            factor: 1.5,
            z: 2.0,
            low: 0.1,
            high: 0.9,
            action: OutlierAction::Clip,
        }
    }

    #[test]
    fn fences_follow_each_method() {
        // 1..=9: q1 = 3, q3 = 7 (numpy's linear quantiles), mean 5.
        let values: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(
            outlier_fences(&rule(OutlierMethod::Iqr), &values),
            Some((3.0 - 6.0, 7.0 + 6.0))
        );
        let (low, high) = outlier_fences(&rule(OutlierMethod::Zscore), &values).unwrap();
        let sd = (60.0f64 / 9.0).sqrt();
        assert!((low - (5.0 - 2.0 * sd)).abs() < 1e-12 && (high - (5.0 + 2.0 * sd)).abs() < 1e-12);
        let (low, high) = outlier_fences(&rule(OutlierMethod::Quantile), &values).unwrap();
        assert!(
            (low - 1.8).abs() < 1e-12 && (high - 8.2).abs() < 1e-12,
            "{low} {high}"
        );
        assert_eq!(outlier_fences(&rule(OutlierMethod::Iqr), &[]), None);
    }

    #[test]
    fn a_numeric_column_learns_from_the_kept_rows_only() {
        let numeric = NumericRule {
            impute: NumericImpute::Median,
            indicator: true,
            ..NumericRule::default()
        };
        // The third row is dropped (say, missing elsewhere): its 100 must not count.
        let values = [Some(1.0), None, Some(100.0), Some(3.0)];
        let keep = [true, true, false, true];
        let state = fit_numeric_column("balance", &numeric, &values, &keep, Path::new("t.parquet"))
            .unwrap();
        assert_eq!(state.impute_value, Some(2.0));
        assert!(state.indicator, "a kept row is missing a value");
        let all_missing = [None, None];
        let Err(e) = fit_numeric_column(
            "balance",
            &numeric,
            &all_missing,
            &[true, true],
            Path::new("t.parquet"),
        ) else {
            panic!("a column without values has no median");
        };
        assert!(e
            .to_string()
            .contains("column `balance` has no value to learn a median"));
    }
}
