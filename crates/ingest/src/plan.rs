//! The output columns decided from the source header: the key column, and each other
//! column with its declared type or the one inference finds.

use std::collections::HashSet;
use std::path::Path;

use clientele_shared::schema::CUSTOMER_ID;

use crate::error::{IngestError, ParamError};
use crate::params::{ColumnType, IngestParams};
use crate::table::{IdSource, OutputPlan};

/// Decides the output columns from the source header: the key column, and each other
/// column with its declared type or the one `infer` finds.
pub(crate) fn plan_columns(
    params: &IngestParams,
    path: &Path,
    header: &[String],
    infer: impl FnOnce(&[usize]) -> Result<Vec<ColumnType>, IngestError>,
) -> Result<OutputPlan, IngestError> {
    let mut seen = HashSet::new();
    for name in header {
        if !seen.insert(name.as_str()) {
            return Err(IngestError::DuplicateHeader {
                path: path.to_path_buf(),
                column: name.clone(),
            });
        }
    }
    let missing = |column: &str, hint: &str| IngestError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        hint: hint.to_string(),
    };
    for column in params.columns.keys() {
        if !seen.contains(column.as_str()) {
            return Err(missing(column, " in params.columns"));
        }
    }
    for column in &params.drop {
        if !seen.contains(column.as_str()) {
            return Err(missing(column, " in params.drop"));
        }
    }
    let id_name = match &params.id_column {
        Some(name) if !seen.contains(name.as_str()) => {
            return Err(missing(name, " as params.id_column"))
        }
        Some(name) => Some(name.clone()),
        None => seen.contains(CUSTOMER_ID).then(|| CUSTOMER_ID.to_string()),
    };
    if let Some(id) = &id_name {
        if matches!(params.columns.get(id), Some(ty) if *ty != ColumnType::String) {
            return Err(ParamError::KeyColumnTyped { column: id.clone() }.into());
        }
    }
    let id_index = id_name
        .as_ref()
        .and_then(|id| header.iter().position(|h| h == id));
    if let Some(id) = &id_name {
        if params.drop.contains(id) {
            return Err(ParamError::KeyColumnDropped { column: id.clone() }.into());
        }
    }
    let column_index: Vec<usize> = (0..header.len())
        .filter(|&c| Some(c) != id_index && !params.drop.contains(&header[c]))
        .collect();
    let undeclared: Vec<usize> = column_index
        .iter()
        .copied()
        .filter(|&c| !params.columns.contains_key(&header[c]))
        .collect();
    let inferred = if undeclared.is_empty() {
        Vec::new()
    } else {
        infer(&undeclared)?
    };
    let columns = column_index
        .iter()
        .map(|&c| {
            let ty = match params.columns.get(&header[c]) {
                Some(ty) => *ty,
                None => {
                    let k = undeclared.iter().position(|&u| u == c).unwrap_or(0);
                    inferred.get(k).copied().unwrap_or(ColumnType::String)
                }
            };
            (header[c].clone(), ty)
        })
        .collect();
    let columns: Vec<(String, ColumnType)> = columns;
    let mut pseudonymised = Vec::new();
    for name in &params.pseudonymise {
        if name == CUSTOMER_ID || Some(name) == id_name.as_ref() {
            pseudonymised.push(0);
        } else if let Some(out) = columns.iter().position(|(n, _)| n == name) {
            if columns[out].1 != ColumnType::String {
                return Err(ParamError::PseudonymOfNonText {
                    column: name.clone(),
                    read_as: columns[out].1.describe().to_string(),
                }
                .into());
            }
            pseudonymised.push(out + 1);
        } else {
            return Err(missing(name, " in params.pseudonymise"));
        }
    }
    pseudonymised.sort_unstable();
    pseudonymised.dedup();
    Ok(OutputPlan {
        id: id_name.map_or(IdSource::RowNumber, IdSource::Column),
        id_index,
        columns,
        source_index: column_index,
        pseudonymised,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn plan(params: &IngestParams, names: &[&str]) -> Result<OutputPlan, IngestError> {
        // Inference reads every undeclared column as a float, so a declared type shows.
        plan_columns(params, Path::new("in.csv"), &header(names), |undeclared| {
            Ok(vec![ColumnType::Float; undeclared.len()])
        })
    }

    #[test]
    fn key_column_leaves_the_columns_and_declared_types_win_over_inference() {
        let mut params = IngestParams::default();
        params.columns.insert("city".into(), ColumnType::String);
        params.drop.push("email".into());
        let plan = plan(&params, &["income", "customer_id", "email", "city"]).unwrap();
        assert!(matches!(plan.id, IdSource::Column(ref c) if c == CUSTOMER_ID));
        assert_eq!(plan.id_index, Some(1));
        assert_eq!(
            plan.columns,
            [
                ("income".to_string(), ColumnType::Float),
                ("city".to_string(), ColumnType::String)
            ]
        );
        assert_eq!(plan.source_index, [0, 3]);
    }

    #[test]
    fn without_a_key_column_rows_are_numbered_and_inference_is_asked_only_for_undeclared() {
        let mut params = IngestParams::default();
        params.columns.insert("a".into(), ColumnType::Int);
        let plan = plan_columns(&params, Path::new("in.csv"), &header(&["a", "b"]), |u| {
            assert_eq!(u, [1]);
            Ok(vec![ColumnType::Bool])
        })
        .unwrap();
        assert!(matches!(plan.id, IdSource::RowNumber));
        assert_eq!(plan.id_index, None);
        assert_eq!(plan.columns[0].1, ColumnType::Int);
        assert_eq!(plan.columns[1].1, ColumnType::Bool);
    }

    #[test]
    fn header_problems_name_the_column_and_the_key() {
        let params = IngestParams::default();
        let err = plan(&params, &["a", "b", "a"]).unwrap_err();
        assert!(matches!(err, IngestError::DuplicateHeader { ref column, .. } if column == "a"));

        let mut params = IngestParams::default();
        params.drop.push("phone".into());
        let err = plan(&params, &["a"]).unwrap_err().to_string();
        assert!(
            err.contains("phone") && err.contains("params.drop"),
            "{err}"
        );

        let params = IngestParams {
            id_column: Some("id".into()),
            drop: vec!["id".into()],
            ..IngestParams::default()
        };
        let err = plan(&params, &["id", "a"]).unwrap_err().to_string();
        assert!(err.contains("cannot be dropped"), "{err}");
    }

    #[test]
    fn pseudonymised_columns_are_output_positions_and_must_be_text() {
        let mut params = IngestParams {
            pseudonymise: vec!["iban".into(), CUSTOMER_ID.into()],
            ..IngestParams::default()
        };
        params.columns.insert("iban".into(), ColumnType::String);
        let plan_ok = plan(&params, &[CUSTOMER_ID, "income", "iban"]).unwrap();
        // customer_id is output 0; iban the second column after it.
        assert_eq!(plan_ok.pseudonymised, [0, 2]);

        params.columns.clear();
        let err = plan(&params, &[CUSTOMER_ID, "iban"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("iban") && err.contains("declare it `string`"),
            "{err}"
        );
    }
}
