//! `clientele export-sql`: finds a stage's saved state files through the pipeline and
//! writes them as one SQL query ([`clientele_sql`]).

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use clientele_sql::{Dialect, Source};

use crate::config::Pipeline;
use crate::kinds::Kind;

/// A table named on the command line: a `.parquet` path or an existing path is read as
/// Parquet, anything else is a table name.
fn given(table: &str) -> Source {
    if table.ends_with(".parquet") || Path::new(table).exists() {
        Source::Parquet(table.to_string())
    } else {
        Source::Table(table.to_string())
    }
}

/// Where the query reads from: `--from`, else the Parquet file the stages were fitted on.
fn source(from: Option<&str>, default: &Path) -> Source {
    from.map_or_else(|| Source::Parquet(default.display().to_string()), given)
}

/// What a recommend stage's query writes, and the tables it reads besides `--from`: the
/// customer table, the segment assignments and the features.
#[derive(Debug, Default)]
pub struct RecommendExport<'a> {
    /// The propensity lists rather than the item-based ones.
    pub propensity: bool,
    /// The propensity probabilities of every candidate rather than lists.
    pub probabilities: bool,
    /// With `probabilities`: only these products' (all when empty).
    pub products: &'a [String],
    /// With `propensity`: the lists from this table of probabilities rather than from
    /// the models.
    pub from_probabilities: Option<&'a str>,
    pub customers: Option<&'a str>,
    pub segments: Option<&'a str>,
    pub features: Option<&'a str>,
}

/// The query of stage `name`: a preprocess stage's features, a K-Means segment stage's
/// assignments (with the preprocessing of the features it was fitted on), or a recommend
/// stage's item-based or propensity lists, or its propensity probabilities.
pub fn export_sql(
    pipeline: &Pipeline,
    name: &str,
    dialect: Dialect,
    from: Option<&str>,
    other: &RecommendExport<'_>,
) -> anyhow::Result<String> {
    let index = pipeline
        .stage_index(name)
        .ok_or_else(|| anyhow!("the pipeline has no stage named `{name}`"))?;
    let stage = &pipeline.stages[index];
    // A state file is the fit's output, or the apply's input of the same name.
    let saved = |stage: &crate::config::StageSpec, port: &str| {
        stage
            .io
            .output(port)
            .or_else(|| stage.io.input(port))
            .map(Path::to_path_buf)
    };
    // The preprocess stage behind a stage's features: its saved state, read, and the
    // table it read.
    let preprocess_of =
        |index: usize| -> anyhow::Result<(clientele_preprocess::FittedState, &Path)> {
            let stage = &pipeline.stages[index];
            let state = saved(stage, "state")
                .ok_or_else(|| anyhow!("stage `{}` names no `state` file", stage.name))?;
            let table = stage
                .io
                .input("table")
                .ok_or_else(|| anyhow!("stage `{}` names no input `table`", stage.name))?;
            Ok((clientele_preprocess::read_state(&state)?, table))
        };
    let recommend_only = other.customers.is_some()
        || other.segments.is_some()
        || other.features.is_some()
        || other.propensity
        || other.probabilities
        || !other.products.is_empty()
        || other.from_probabilities.is_some();
    if stage.kind != Kind::Recommend && recommend_only {
        bail!("--customers, --segments, --features, --method, --probabilities, --product and --from-probabilities are for a recommend stage; stage `{name}` is a {:?} stage", stage.kind);
    }
    if !other.products.is_empty() && !other.probabilities {
        bail!("--product needs --probabilities: a list is normalised over every candidate product, so lists cannot be exported one product at a time");
    }
    if other.from_probabilities.is_some() && (!other.propensity || other.probabilities) {
        bail!("--from-probabilities writes the propensity lists: give it with --method propensity, without --probabilities");
    }
    match stage.kind {
        Kind::Preprocess => {
            let (state, table) = preprocess_of(index)?;
            Ok(clientele_sql::preprocess(dialect, &state, &source(from, table))?)
        }
        Kind::Segment => {
            let model_path = saved(stage, "model").ok_or_else(|| {
                anyhow!("stage `{name}` names no `model` file: add outputs.model and run it")
            })?;
            let producer = stage.producers.get("features").copied().ok_or_else(|| {
                anyhow!("the features of stage `{name}` come from no preprocess stage of this pipeline")
            })?;
            if pipeline.stages[producer].kind != Kind::Preprocess {
                bail!("the features of stage `{name}` do not come from a preprocess stage");
            }
            let (state, table) = preprocess_of(producer)?;
            let model = clientele_segment::model::read(&model_path)?;
            Ok(clientele_sql::segment(dialect, &state, &model, &source(from, table))?)
        }
        Kind::Recommend => {
            let model_path = stage.io.output("model").ok_or_else(|| {
                anyhow!("stage `{name}` names no `model` file: add outputs.model and run it")
            })?;
            let model = clientele_recommend::model::read(model_path)?;
            if let Some(table) = other.from_probabilities {
                return Ok(clientele_sql::propensity_lists(
                    dialect,
                    &model,
                    &given(table),
                )?);
            }
            // By default the customers the stage scored: its training holdings.
            let holdings = match (from, stage.io.output("train")) {
                (Some(from), _) => given(from),
                (None, Some(train)) => source(None, train),
                (None, None) => bail!(
                    "stage `{name}` writes no `train` holdings: give the holdings to score with --from"
                ),
            };
            // A table given on the command line, else the stage's own input.
            let table = |named: Option<&str>, port: &str| match (named, stage.io.input(port)) {
                (Some(table), _) => Some(given(table)),
                (None, Some(path)) => Some(source(None, path)),
                (None, None) => None,
            };
            let sources = clientele_sql::RecommendSources {
                holdings,
                customers: table(other.customers, "customers"),
                segments: table(other.segments, "assignments"),
                features: table(other.features, "features"),
            };
            let query = match (other.propensity, other.probabilities) {
                (_, true) => clientele_sql::RecommendQuery::Probabilities {
                    products: other.products,
                },
                (true, false) => clientele_sql::RecommendQuery::Propensity,
                (false, false) => clientele_sql::RecommendQuery::ItemKnn,
            };
            Ok(clientele_sql::recommend(dialect, &model, &sources, query)?)
        }
        other => bail!(
            "stage `{name}` is a {other:?} stage; export-sql writes preprocess, K-Means segment and recommend stages"
        ),
    }
}

/// Writes the query to `out` (whole or not at all) or to stdout.
pub fn write(query: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => clientele_shared::atomic::write_file(path, query.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(query.as_bytes())
                .context("cannot write the query to stdout")
        }
    }
}
