//! `--set STAGE.PARAM=VALUE`: parsing an override, and applying it to a stage's typed
//! parameters.

use crate::kinds::{Kind, StageParams};

/// One `--set STAGE.PARAM=VALUE`.
#[derive(Debug, Clone)]
pub struct Override {
    pub stage: String,
    pub path: Vec<String>,
    pub value: toml::Value,
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (target, value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not STAGE.PARAM=VALUE"))?;
        let mut parts = target.trim().split('.');
        let stage = parts.next().unwrap_or_default().to_string();
        let path: Vec<String> = parts.map(str::to_string).collect();
        if stage.is_empty() || path.is_empty() || path.iter().any(String::is_empty) {
            return Err(format!("`{text}` is not STAGE.PARAM=VALUE"));
        }
        // A TOML value if it is one (3, 0.5, true, ["a"]), else the text itself.
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override {
            stage,
            path,
            value,
            text: text.to_string(),
        })
    }
}

/// `params` with the override `o` applied, checked again as the kind's parameter type.
pub fn apply(params: &StageParams, kind: Kind, o: &Override) -> Result<StageParams, String> {
    let mut table = params.to_table();
    let (last, parents) = o.path.split_last().ok_or("no parameter named")?;
    let mut cursor = &mut table;
    for key in parents {
        cursor = cursor
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a table"))?;
    }
    cursor.insert(last.clone(), o.value.clone());
    StageParams::from_table(kind, table).map_err(|e| {
        e.message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .replace("unknown field", "unknown parameter")
    })
}
