//! Writes a fitted pipeline as one SQL query, so that customers are scored where their
//! data lives (a warehouse, DuckDB, Spark) with the models fitted here.
//!
//! From the saved state files it writes:
//! - [`preprocess`]: the fitted preprocess state as expressions: imputation constants,
//!   clipping fences, `log1p`, one-hot `CASE` columns (an unknown category as `apply`
//!   handles it), scaling, and the rows `apply` drops as a `WHERE`;
//! - [`segment`]: over those features, the nearest K-Means centre and the distance to it.
//!   Squared distances are summed feature by feature in the order the Rust kernel sums
//!   them, and ties go to the lower centre, as in the Rust code;
//! - [`recommend()`]: the recommend stage's item-based lists from its model file: the
//!   saved item–item similarities summed over the held products, held and ineligible
//!   products removed, min-max normalised, top-k by `ROW_NUMBER()`; or its propensity
//!   lists and probabilities: each product's trees as nested `CASE WHEN` (or its logistic
//!   terms) over the features, held products, segments and ages, through its Platt curve.
//!
//! Every number is written in exponent form with the shortest digits that read back to
//! the same f64 (`1.7019995583302855E1`): an exponent makes it a DOUBLE literal in
//! DuckDB, Spark and ANSI SQL alike, where `0.1` would be an exact DECIMAL.
//!
//! It reads no data and runs no query; the tests run the queries in DuckDB and Spark.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write;

use clientele_preprocess::{
    CategoricalImpute, CategoricalState, ColumnState, Encode, FittedState, NumericImpute,
    NumericState, OutlierAction, Scale, Transform,
};
use clientele_segment::model::{Fitted, SegmentModel};

mod propensity;
mod recommend;
pub use recommend::{propensity_lists, recommend, RecommendQuery, RecommendSources};

/// The SQL dialect: how a Parquet path is read and how names are quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Standard SQL over a table; names in double quotes.
    Ansi,
    /// Spark SQL: names in backquotes, a Parquet path read as ``parquet.`PATH` ``.
    Spark,
    /// DuckDB: names in double quotes, a Parquet path read by `read_parquet('PATH')`.
    Duckdb,
}

/// Where the query reads the customer table from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A table (or view) name, written as given.
    Table(String),
    /// A Parquet file or directory.
    Parquet(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SqlError {
    #[error("standard SQL cannot read a Parquet path: give a table name, or choose --dialect duckdb or spark")]
    AnsiParquet,
    #[error(
        "the segment model names the feature `{0}`, which the preprocess state does not write"
    )]
    UnknownFeature(String),
    #[error(
        "a DBSCAN model cannot be exported yet: only K-Means assigns by nearest centre in SQL"
    )]
    Dbscan,
    #[error("the segment model has no centres")]
    NoCentres,
    #[error("the model's centre {centre} has {found} values for {expected} features")]
    CentreWidth {
        centre: usize,
        found: usize,
        expected: usize,
    },
    #[error("the recommend model has no product that may be recommended")]
    NothingToRecommend,
    #[error("the recommend model has no propensity models: add `propensity` to the stage's methods, give it features, and rerun it")]
    NoPropensity,
    #[error("the recommend model's propensity models do not fit together: {0}; rerun the recommend stage")]
    PropensityModel(String),
    #[error("the recommend model knows no product `{product}`; its products are: {known}")]
    UnknownProduct { product: String, known: String },
    #[error("the recommend model never recommends `{0}` (it is not in the catalogue, or not recommendable): it has no probabilities to export")]
    NotRecommended(String),
    #[error("the query needs the {table} table, because {why}: name it")]
    MissingSource { table: &'static str, why: String },
}

impl Dialect {
    fn quote(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::Ansi | Dialect::Duckdb => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    fn from(self, source: &Source) -> Result<String, SqlError> {
        match (self, source) {
            (_, Source::Table(name)) => Ok(name.clone()),
            (Dialect::Duckdb, Source::Parquet(path)) => Ok(format!("read_parquet({})", text(path))),
            (Dialect::Spark, Source::Parquet(path)) => {
                Ok(format!("parquet.`{}`", path.replace('`', "``")))
            }
            (Dialect::Ansi, Source::Parquet(_)) => Err(SqlError::AnsiParquet),
        }
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            Dialect::Ansi | Dialect::Duckdb => "VARCHAR",
        }
    }

    fn integer_type(self) -> &'static str {
        match self {
            Dialect::Spark => "INT",
            Dialect::Ansi | Dialect::Duckdb => "INTEGER",
        }
    }

    /// Days from 1970-01-01 to the date `x`, as a DOUBLE (NULL for NULL).
    fn days_since_1970(self, x: &str) -> String {
        match self {
            Dialect::Spark => {
                format!("CAST(DATEDIFF(CAST({x} AS DATE), DATE '1970-01-01') AS DOUBLE)")
            }
            // DuckDB, and most warehouses (PostgreSQL, Snowflake), subtract dates to days.
            Dialect::Ansi | Dialect::Duckdb => {
                format!("CAST(CAST({x} AS DATE) - DATE '1970-01-01' AS DOUBLE)")
            }
        }
    }

    fn log1p(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("LOG1P({x})"),
            // DuckDB and standard SQL have no log1p; LN(1 + x) differs from it in the
            // last bits only, far inside the tests' 1e-9.
            Dialect::Ansi | Dialect::Duckdb => format!("LN(1E0 + {x})"),
        }
    }
}

/// An f64 as a DOUBLE literal that reads back to the same bits.
pub fn number(v: f64) -> String {
    if v.is_finite() && v.is_sign_negative() {
        // In parentheses, so that no minus sign ever follows another: `--` starts a
        // comment.
        format!("({v:E})")
    } else if v.is_finite() {
        format!("{v:E}")
    } else if v.is_nan() {
        "CAST('NaN' AS DOUBLE)".into()
    } else if v > 0.0 {
        "CAST('Infinity' AS DOUBLE)".into()
    } else {
        "CAST('-Infinity' AS DOUBLE)".into()
    }
}

/// A string literal.
fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One output column of the features: its expression over the customer table.
struct Feature {
    name: String,
    expression: String,
}

/// The expressions of one numeric column's outputs, and its drop condition if any.
fn numeric(dialect: Dialect, s: &NumericState, out: &mut Vec<Feature>, drops: &mut Vec<String>) {
    let raw = format!("CAST({} AS DOUBLE)", dialect.quote(&s.column));
    let imputed = match (s.impute, s.impute_value) {
        (NumericImpute::Drop, _) | (_, None) => raw.clone(),
        (_, Some(v)) => format!("COALESCE({raw}, {})", number(v)),
    };
    if s.impute == NumericImpute::Drop {
        drops.push(format!("{raw} IS NULL"));
    }
    let beyond = s.outliers.as_ref().map(|o| {
        format!(
            "({imputed} < {} OR {imputed} > {})",
            number(o.low),
            number(o.high)
        )
    });
    let clipped = match &s.outliers {
        Some(o) if o.action == OutlierAction::Clip => format!(
            "CASE WHEN {imputed} < {low} THEN {low} WHEN {imputed} > {high} THEN {high} ELSE {imputed} END",
            low = number(o.low),
            high = number(o.high)
        ),
        Some(o) if o.action == OutlierAction::Drop => {
            if let Some(b) = &beyond {
                drops.push(b.clone());
            }
            imputed.clone()
        }
        _ => imputed.clone(),
    };
    let transformed = match s.transform {
        Transform::None => clipped,
        Transform::Log1p => dialect.log1p(&format!("({clipped})")),
        // Rust's signum is 1 at +0; the product with log1p(0) = 0 is 0 either way.
        Transform::SignedLog1p => format!(
            "(SIGN({clipped}) * {})",
            dialect.log1p(&format!("ABS({clipped})"))
        ),
    };
    let scaled = match s.scale {
        Scale::None if s.center == 0.0 && s.scale_value == 1.0 => transformed,
        _ => format!(
            "(({transformed}) - {}) / {}",
            number(s.center),
            number(s.scale_value)
        ),
    };
    let state = ColumnState::Numeric(s.clone());
    let mut names = state.output_names().into_iter();
    if let Some(name) = names.next() {
        out.push(Feature {
            name,
            expression: scaled,
        });
    }
    if s.indicator {
        if let Some(name) = names.next() {
            out.push(Feature {
                name,
                expression: format!("CASE WHEN {raw} IS NULL THEN 1E0 ELSE 0E0 END"),
            });
        }
    }
    if let (Some(o), Some(b)) = (&s.outliers, &beyond) {
        if o.action == OutlierAction::Flag {
            if let Some(name) = names.next() {
                out.push(Feature {
                    name,
                    expression: format!("CASE WHEN {b} THEN 1E0 ELSE 0E0 END"),
                });
            }
        }
    }
}

fn categorical(
    dialect: Dialect,
    s: &CategoricalState,
    out: &mut Vec<Feature>,
    drops: &mut Vec<String>,
) {
    let raw = format!(
        "CAST({} AS {})",
        dialect.quote(&s.column),
        dialect.text_type()
    );
    let value = match (&s.impute, &s.impute_value) {
        (CategoricalImpute::Drop, _) | (_, None) => raw.clone(),
        (_, Some(v)) => format!("COALESCE({raw}, {})", text(v)),
    };
    if s.impute == CategoricalImpute::Drop {
        drops.push(format!("{raw} IS NULL"));
    }
    let names = ColumnState::Categorical(s.clone()).output_names();
    match s.encode {
        Encode::Ordinal => {
            let mut case = String::from("CASE");
            for (i, c) in s.categories.iter().enumerate() {
                let _ = write!(
                    case,
                    " WHEN {value} = {} THEN {}",
                    text(c),
                    number(i as f64)
                );
            }
            case.push_str(" ELSE (-1E0) END");
            if let Some(name) = names.into_iter().next() {
                out.push(Feature {
                    name,
                    expression: case,
                });
            }
        }
        Encode::Onehot => {
            for (name, c) in names.iter().zip(&s.categories) {
                out.push(Feature {
                    name: name.clone(),
                    expression: format!("CASE WHEN {value} = {} THEN 1E0 ELSE 0E0 END", text(c)),
                });
            }
            if let Some(name) = names.get(s.categories.len()).filter(|_| s.other) {
                // `apply` sets it for every value without a column of its own, a
                // missing one without an imputation value included.
                let listed: Vec<String> = s.categories.iter().map(|c| text(c)).collect();
                let known = if listed.is_empty() {
                    "FALSE".to_string()
                } else {
                    format!("{value} IN ({})", listed.join(", "))
                };
                out.push(Feature {
                    name: name.clone(),
                    expression: format!(
                        "CASE WHEN {value} IS NOT NULL AND {known} THEN 0E0 ELSE 1E0 END"
                    ),
                });
            }
        }
    }
}

/// The expression of every feature a preprocess state writes, by name, and the
/// conditions of the rows it drops.
fn features(dialect: Dialect, state: &FittedState) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out = Vec::new();
    let mut drops = Vec::new();
    for c in &state.columns {
        match c {
            ColumnState::Numeric(s) => numeric(dialect, s, &mut out, &mut drops),
            ColumnState::Categorical(s) => categorical(dialect, s, &mut out, &mut drops),
            ColumnState::Passthrough { .. } | ColumnState::Dropped { .. } => {}
        }
    }
    let by_name = out.into_iter().map(|f| (f.name, f.expression)).collect();
    (by_name, drops)
}

fn where_clause(drops: &[String]) -> String {
    if drops.is_empty() {
        String::new()
    } else {
        format!(
            "\nWHERE NOT ({})",
            drops
                .iter()
                .map(|d| format!("({d})"))
                .collect::<Vec<_>>()
                .join(" OR ")
        )
    }
}

/// The preprocess stage as a query: `customer_id`, the passed-through columns, then
/// every feature, in the order the stage writes them.
pub fn preprocess(
    dialect: Dialect,
    state: &FittedState,
    source: &Source,
) -> Result<String, SqlError> {
    let from = dialect.from(source)?;
    let (features, drops) = features(dialect, state);
    let mut columns: Vec<String> = Vec::new();
    for c in &state.columns {
        if let ColumnState::Passthrough { column } = c {
            columns.push(dialect.quote(column));
        }
    }
    for output in &state.outputs {
        if let Some(expression) = features.get(&output.name) {
            columns.push(format!("{expression} AS {}", dialect.quote(&output.name)));
        }
    }
    Ok(format!(
        "SELECT\n  {}\nFROM {from}{}\n",
        columns.join(",\n  "),
        where_clause(&drops)
    ))
}

/// The segment stage's `apply` over the preprocess state's features: `customer_id`,
/// `segment` (the nearest centre, the lower on ties) and `distance_to_centroid`.
pub fn segment(
    dialect: Dialect,
    state: &FittedState,
    model: &SegmentModel,
    source: &Source,
) -> Result<String, SqlError> {
    let Fitted::Kmeans { centroids } = &model.fitted else {
        return Err(SqlError::Dbscan);
    };
    if centroids.is_empty() {
        return Err(SqlError::NoCentres);
    }
    let d = model.features.len();
    if let Some((centre, c)) = centroids.iter().enumerate().find(|(_, c)| c.len() != d) {
        return Err(SqlError::CentreWidth {
            centre,
            found: c.len(),
            expected: d,
        });
    }
    let from = dialect.from(source)?;
    let (features, drops) = features(dialect, state);
    let mut feature_columns = vec![dialect.quote("customer_id")];
    for (j, name) in model.features.iter().enumerate() {
        let expression = features
            .get(name)
            .ok_or_else(|| SqlError::UnknownFeature(name.clone()))?;
        feature_columns.push(format!("{expression} AS f{j}"));
    }
    // Squared distances summed in feature order, as the Rust kernel sums them.
    let distance_columns: Vec<String> = centroids
        .iter()
        .enumerate()
        .map(|(c, centre)| {
            let terms: Vec<String> = centre
                .iter()
                .enumerate()
                .map(|(j, v)| format!("((f{j} - {v}) * (f{j} - {v}))", v = number(*v)))
                .collect();
            format!("{} AS d{c}", terms.join(" + "))
        })
        .collect();
    let k = centroids.len();
    // The first centre at the minimum, as the Rust code keeps the first on ties.
    let mut case = String::from("CASE");
    for c in 0..k.saturating_sub(1) {
        let conditions: Vec<String> = (c + 1..k).map(|o| format!("d{c} <= d{o}")).collect();
        let _ = write!(case, " WHEN {} THEN {c}", conditions.join(" AND "));
    }
    let _ = write!(case, " ELSE {} END", k - 1);
    let nearest = if k == 1 {
        "d0".to_string()
    } else {
        format!(
            "LEAST({})",
            (0..k)
                .map(|c| format!("d{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let integer = dialect.integer_type();
    Ok(format!(
        "WITH features AS (\n  SELECT\n    {}\n  FROM {from}{}\n),\ndistances AS (\n  SELECT\n    {},\n    {}\n  FROM features\n)\nSELECT\n  {},\n  CAST({case} AS {integer}) AS {},\n  SQRT({nearest}) AS {}\nFROM distances\n",
        feature_columns.join(",\n    "),
        where_clause(&drops).replace('\n', "\n  "),
        dialect.quote("customer_id"),
        distance_columns.join(",\n    "),
        dialect.quote("customer_id"),
        dialect.quote("segment"),
        dialect.quote("distance_to_centroid"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_to_the_same_bits_as_doubles() {
        for v in [
            0.1,
            1.0 / 3.0,
            -2.5e-300,
            17.019995583302855,
            0.0,
            1e22,
            123456.0,
        ] {
            let s = number(v);
            assert!(s.contains('E'), "{s}");
            let digits = s.trim_start_matches('(').trim_end_matches(')');
            assert_eq!(digits.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
    }

    #[test]
    fn names_and_text_are_quoted_for_each_dialect() {
        assert_eq!(Dialect::Duckdb.quote("job=admin."), "\"job=admin.\"");
        assert_eq!(Dialect::Spark.quote("a`b"), "`a``b`");
        assert_eq!(text("o'neil"), "'o''neil'");
        assert_eq!(
            Dialect::Duckdb
                .from(&Source::Parquet("a'b.parquet".into()))
                .unwrap(),
            "read_parquet('a''b.parquet')"
        );
        assert_eq!(
            Dialect::Ansi.from(&Source::Parquet("x.parquet".into())),
            Err(SqlError::AnsiParquet)
        );
    }
}
