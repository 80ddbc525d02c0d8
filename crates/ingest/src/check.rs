//! The parameters checked against each other and the ports before anything is read.

use clientele_shared::stage::StageIo;

use crate::error::{IngestError, ParamError};
use crate::params::{ColumnType, IngestParams, OnError};
use crate::read::format_of;

/// The largest batch: 4 Mi rows, enough for the fastest scans and small enough that
/// memory stays bounded by it.
pub const MAX_BATCH_ROWS: usize = 1 << 22;

/// The marks of numbers, dates and text: each valid, and no mark used for two things.
fn check_text_format(params: &IngestParams) -> Result<(), IngestError> {
    if !matches!(params.decimal.as_str(), "." | ",") {
        return Err(ParamError::Decimal.into());
    }
    if let Some(thousands) = &params.thousands {
        if !matches!(thousands.as_str(), "," | "." | "'" | "_" | " ") {
            return Err(ParamError::Thousands.into());
        }
        if *thousands == params.decimal {
            return Err(ParamError::SameMark {
                first: "decimal",
                second: "thousands",
            }
            .into());
        }
    }
    for (key, mark) in [
        ("decimal", Some(&params.decimal)),
        ("thousands", params.thousands.as_ref()),
    ] {
        if mark.is_some_and(|m| *m == params.delimiter) {
            return Err(ParamError::SameMark {
                first: "delimiter",
                second: key,
            }
            .into());
        }
    }
    if let Some(format) = &params.date_format {
        if !crate::columns::is_date_format(format) {
            return Err(ParamError::DateFormat {
                format: format.clone(),
            }
            .into());
        }
    }
    if crate::source::encoding_of(&params.encoding).is_none() {
        return Err(ParamError::Encoding {
            label: params.encoding.clone(),
        }
        .into());
    }
    Ok(())
}

/// Checks the parameters that the runner cannot check by type alone.
pub fn check_params(params: &IngestParams, io: &StageIo) -> Result<(), IngestError> {
    if params.on_error == OnError::Quarantine && io.output("rejects").is_none() {
        return Err(ParamError::QuarantineWithoutRejects.into());
    }
    if params.batch_rows == 0 || params.batch_rows > MAX_BATCH_ROWS {
        return Err(ParamError::BatchRows.into());
    }
    if params.max_line_bytes == 0 {
        return Err(ParamError::MaxLineBytes.into());
    }
    for (key, value) in [("delimiter", &params.delimiter), ("quote", &params.quote)] {
        if key == "delimiter" && value == "auto" {
            continue;
        }
        if !matches!(value.as_bytes(), [b] if b.is_ascii()) {
            return Err(ParamError::NotOneCharacter { key }.into());
        }
    }
    check_text_format(params)?;
    if let Some(source) = io.input("source") {
        format_of(params, source)?;
    }
    let has_key = io.input("key").is_some() || params.key_env.is_some();
    if !params.pseudonymise.is_empty() && !has_key {
        return Err(ParamError::PseudonymiseWithoutKey.into());
    }
    if io.input("key").is_some() && params.key_env.is_some() {
        return Err(ParamError::TwoKeys.into());
    }
    if params.pseudonymise.is_empty() && has_key {
        return Err(ParamError::KeyWithoutColumns.into());
    }
    if let Some(column) = params.drop.iter().find(|c| params.pseudonymise.contains(c)) {
        return Err(ParamError::DroppedAndPseudonymised {
            column: column.clone(),
        }
        .into());
    }
    if let Some(column) = params.drop.iter().find(|c| params.columns.contains_key(*c)) {
        return Err(ParamError::DroppedAndDeclared {
            column: column.clone(),
        }
        .into());
    }
    if let Some(column) = params
        .pseudonymise
        .iter()
        .find(|c| matches!(params.columns.get(*c), Some(ty) if *ty != ColumnType::String))
    {
        return Err(ParamError::PseudonymTyped {
            column: column.clone(),
        }
        .into());
    }
    Ok(())
}
