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
