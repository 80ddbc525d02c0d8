//! The parameters checked against each other and the ports before anything is read.

use clientele_shared::stage::StageIo;

use crate::errors::{ParamError, PreprocessError};
use crate::{CategoricalRule, ColumnRule, Mode, NumericRule, OutlierMethod, PreprocessParams};

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &PreprocessParams, io: &StageIo) -> Result<(), PreprocessError> {
    match params.mode {
        Mode::Fit if io.output("state").is_none() => {
            return Err(ParamError::FitWithoutStateOutput.into())
        }
        Mode::Apply if io.input("state").is_none() => {
            return Err(ParamError::ApplyWithoutStateInput.into())
        }
        _ => {}
    }
    for column in &params.passthrough {
        if params.drop.contains(column) {
            return Err(ParamError::DroppedAndPassedThrough {
                column: column.clone(),
            }
            .into());
        }
    }
    let mut rules: Vec<(String, &NumericRule)> = vec![("numeric".to_string(), &params.numeric)];
    let mut categorical: Vec<(String, &CategoricalRule)> =
        vec![("categorical".to_string(), &params.categorical)];
    for (column, rule) in &params.columns {
        match rule {
            ColumnRule::Numeric(r) => rules.push((format!("columns.{column}"), r)),
            ColumnRule::Categorical(r) => categorical.push((format!("columns.{column}"), r)),
        }
    }
    for (key, rule) in rules {
        if let Some(o) = &rule.outliers {
            let ok = match o.method {
                OutlierMethod::Iqr => o.factor > 0.0,
                OutlierMethod::Zscore => o.z > 0.0,
                OutlierMethod::Quantile => {
                    (0.0..1.0).contains(&o.low) && o.low < o.high && o.high <= 1.0
                }
            };
            if !ok {
                return Err(ParamError::Outliers { key }.into());
            }
        }
    }
    for (key, rule) in categorical {
        if matches!(rule.max_categories, Some(n) if n < 2) {
            return Err(ParamError::MaxCategories { key }.into());
        }
    }
    Ok(())
}
