//! The pipeline TOML: parsing, `--set` overrides (each parsed and applied by
//! [`crate::overrides`]), and every check that can be made before anything runs.
//!
//! Parsing is two passes over the same text. The first reads `[pipeline]` and each
//! `[[stage]]`'s name, kind and ports, keeping their spans. The second reads each stage's
//! `[stage.params]` as the parameter type of its kind (known only after the first pass),
//! straight from the document, so that toml itself reports unknown keys, missing keys and
//! wrong types with their line.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use clientele_shared::stage::StageIo;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

pub use crate::keys::{KeyLocation, KeySection};
use crate::kinds::{Kind, ParamsSeed, StageParams};
pub use crate::overrides::Override;

/// A problem with a pipeline file, found before anything ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub stage: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match (&self.stage, &self.key) {
            (Some(stage), Some(key)) => write!(f, "stage `{stage}`, key `{key}`: ")?,
            (Some(stage), None) => write!(f, "stage `{stage}`: ")?,
            (None, Some(key)) => write!(f, "key `{key}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a pipeline file.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    pipeline: Spanned<PipelineSection>,
    #[serde(default)]
    stage: Vec<Spanned<RawStage>>,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    pub name: String,
    /// Where outputs go, relative to the TOML file.
    #[serde(default = "default_output_dir")]
    pub output_dir: String,
    /// Seed of every random choice a stage makes.
    #[serde(default)]
    pub seed: u64,
    /// Encryption at rest of every Parquet file the pipeline writes.
    #[serde(default)]
    pub encryption: Option<KeySection>,
    /// The key of every ingest stage that pseudonymises and names no key of its own.
    #[serde(default)]
    pub pseudonyms: Option<KeySection>,
}

fn default_output_dir() -> String {
    "out".to_string()
}

type Ports = BTreeMap<Spanned<String>, Spanned<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    inputs: Ports,
    #[serde(default)]
    outputs: Ports,
    /// Read in the second pass, by [`ParamsSeed`].
    #[serde(default, rename = "params")]
    _params: Option<IgnoredAny>,
}

/// A stage, checked and resolved.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub kind: Kind,
    pub params: StageParams,
    /// Absolute paths of the stage's ports.
    pub io: StageIo,
    /// For each input port, the index of the stage producing it, if any.
    pub producers: BTreeMap<String, usize>,
}

/// A checked pipeline, with its stages in run order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub output_dir: PathBuf,
    pub seed: u64,
    /// Set: every Parquet file is written encrypted and read with this key.
    pub encryption: Option<KeyLocation>,
    /// Key files a run creates when they are missing (`create = true`).
    pub keys_to_create: Vec<PathBuf>,
    pub stages: Vec<StageSpec>,
    /// Indices into `stages`, each stage after every stage it reads from.
    pub order: Vec<usize>,
    /// Set by `run --partition`: the rows this run scores (see `crate::partition`).
    pub partition: Option<crate::partition::PartitionPlan>,
}

impl Pipeline {
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }
}

struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(
        &self,
        span: Option<&Range<usize>>,
        stage: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: span.map(|s| self.line(s)),
            stage: stage.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    /// The key whose value starts at `span`, read from the source line (`key = value`,
    /// also inside an inline table): toml's type errors point at the value only.
    fn key_at(&self, span: &Range<usize>) -> Option<String> {
        let before = self.text.get(..span.start)?;
        let line = before.rsplit('\n').next()?;
        let line = line.trim_end().strip_suffix('=')?.trim_end();
        let key: String = line
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
            .collect();
        let key: String = key.chars().rev().filter(|&c| c != '"').collect();
        (!key.is_empty()).then_some(key)
    }

    fn toml_error(&self, e: &toml::de::Error, stage: Option<&str>) -> ConfigError {
        // toml's message can span lines ("... \nin `key`"); keep it on one.
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let message = message.replace("unknown field", "unknown key");
        let message = message.replace("missing field", "missing required key");
        let key = e.span().and_then(|span| self.key_at(&span));
        self.error(e.span().as_ref(), stage, key.as_deref(), message)
    }
}

/// Reads and checks the pipeline at `file`, applying `overrides`.
pub fn load(file: &Path, overrides: &[Override]) -> Result<Pipeline, ConfigErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.to_path_buf(),
            line: None,
            stage: None,
            key: None,
            message: format!("cannot read the pipeline file: {e}"),
        }])
    })?;
    parse(file, &text, overrides)
}

/// Parses and checks pipeline `text`, as if read from `file`.
pub fn parse(file: &Path, text: &str, overrides: &[Override]) -> Result<Pipeline, ConfigErrors> {
    let src = Source { file, text };
    let one = |e: ConfigError| ConfigErrors(vec![e]);

    let raw: RawPipeline = toml::from_str(text).map_err(|e| {
        let stage = loose_stage_at(text, e.span());
        one(src.toml_error(&e, stage.as_deref()))
    })?;

    let mut errors = Vec::new();
    let mut kinds = Vec::with_capacity(raw.stage.len());
    let mut names: HashMap<&str, usize> = HashMap::new();
    for stage in &raw.stage {
        let s = stage.get_ref();
        let name = s.name.get_ref().as_str();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            errors.push(src.error(
                Some(&s.name.span()),
                Some(name),
                Some("name"),
                "a stage name is made of letters, digits, `_` and `-`",
            ));
        }
        if let Some(first) = names.insert(name, src.line(&s.name.span())) {
            errors.push(src.error(
                Some(&s.name.span()),
                Some(name),
                Some("name"),
                format!("another stage has this name, on line {first}"),
            ));
        }
        match Kind::parse(s.kind.get_ref()) {
            Some(kind) => kinds.push(kind),
            None => {
                errors.push(src.error(
                    Some(&s.kind.span()),
                    Some(name),
                    Some("kind"),
                    format!(
                        "unknown kind `{}`; expected one of: {}",
                        s.kind.get_ref(),
                        Kind::ALL.map(Kind::name).join(", ")
                    ),
                ));
                kinds.push(Kind::Ingest);
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    // Second pass: the parameters, typed by kind.
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|e| one(src.toml_error(&e, None)))?;
    let params = DocumentSeed { kinds: &kinds }
        .deserialize(deserializer)
        .map_err(|e| {
            let stage = stage_at(&raw, e.span());
            one(src.toml_error(&e, stage))
        })?;
    let mut params: Vec<StageParams> = params
        .into_iter()
        .zip(&kinds)
        .enumerate()
        .map(|(i, (p, kind))| match p {
            Some(p) => Ok(p),
            None => StageParams::defaults_for(*kind).map_err(|e| {
                let s = raw.stage[i].get_ref();
                let message = src.toml_error(&e, None).message;
                src.error(
                    Some(&raw.stage[i].span()),
                    Some(s.name.get_ref()),
                    Some("params"),
                    format!("{message} (the stage has no [stage.params] table)"),
                )
            }),
        })
        .collect::<Result<_, _>>()
        .map_err(one)?;

    for o in overrides {
        let Some(i) = raw
            .stage
            .iter()
            .position(|s| s.get_ref().name.get_ref() == &o.stage)
        else {
            return Err(one(ConfigError {
                file: file.to_path_buf(),
                line: None,
                stage: Some(o.stage.clone()),
                key: None,
                message: format!("--set {}: the pipeline has no stage of this name", o.text),
            }));
        };
        params[i] = crate::overrides::apply(&params[i], kinds[i], o).map_err(|message| {
            one(ConfigError {
                file: file.to_path_buf(),
                line: None,
                stage: Some(o.stage.clone()),
                key: Some(format!("params.{}", o.path.join("."))),
                message: format!("--set {}: {message}", o.text),
            })
        })?;
    }

    let section = raw.pipeline.get_ref();
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = absolute(base);
    let output_dir = normalize(&base.join(&section.output_dir));
    let mut keys_to_create = Vec::new();
    let mut locate = |table, section| {
        crate::keys::locate(table, section, &base, &output_dir, &mut keys_to_create)
    };
    let keys = locate("encryption", &section.encryption)
        .and_then(|encryption| locate("pseudonyms", &section.pseudonyms).map(|p| (encryption, p)));
    let (encryption, pseudonym_key) = match keys {
        Ok(keys) => keys,
        Err((key, message)) => {
            return Err(one(src.error(
                Some(&raw.pipeline.span()),
                None,
                Some(&key),
                message,
            )))
        }
    };
    let stages = resolve_stages(
        &src,
        &raw,
        kinds,
        params,
        &base,
        &output_dir,
        pseudonym_key.as_ref(),
    )?;
    let order = run_order(&src, &raw, &stages)?;
    Ok(Pipeline {
        name: section.name.clone(),
        output_dir,
        seed: section.seed,
        encryption,
        keys_to_create,
        stages,
        order,
        partition: None,
    })
}

/// The stage whose table contains `span`, for error messages.
fn stage_at(raw: &RawPipeline, span: Option<Range<usize>>) -> Option<&str> {
    let at = span?.start;
    raw.stage
        .iter()
        .rev()
        .find(|s| s.span().start <= at)
        .map(|s| s.get_ref().name.get_ref().as_str())
}

/// The stage at `span` when the strict first pass failed: read loosely (names only), so
/// that an unknown key inside a stage is still reported with the stage's name.
fn loose_stage_at(text: &str, span: Option<Range<usize>>) -> Option<String> {
    #[derive(Deserialize)]
    struct Loose {
        #[serde(default)]
        stage: Vec<Spanned<LooseStage>>,
    }
    #[derive(Deserialize)]
    struct LooseStage {
        name: Option<String>,
    }
    let at = span?.start;
    let loose: Loose = toml::from_str(text).ok()?;
    loose
        .stage
        .iter()
        .rev()
        .find(|s| s.span().start <= at)
        .and_then(|s| s.get_ref().name.clone())
}

fn resolve_stages(
    src: &Source<'_>,
    raw: &RawPipeline,
    kinds: Vec<Kind>,
    params: Vec<StageParams>,
    base: &Path,
    output_dir: &Path,
    pseudonym_key: Option<&KeyLocation>,
) -> Result<Vec<StageSpec>, ConfigErrors> {
    let mut errors = Vec::new();
    // Outputs first: every output path, and who writes it.
    let mut writers: HashMap<PathBuf, (usize, usize)> = HashMap::new();
    let mut stages: Vec<StageSpec> = Vec::new();
    for (i, ((stage, kind), params)) in raw.stage.iter().zip(kinds).zip(params).enumerate() {
        let s = stage.get_ref();
        let name = s.name.get_ref().as_str();
        let line = src.line(&stage.span());
        check_ports(
            src,
            name,
            line,
            "inputs",
            &s.inputs,
            kind.inputs(),
            &mut errors,
        );
        check_ports(
            src,
            name,
            line,
            "outputs",
            &s.outputs,
            kind.outputs(),
            &mut errors,
        );
        let mut io = StageIo::default();
        for (port, path) in &s.outputs {
            let resolved = normalize(&output_dir.join(path.get_ref()));
            let here = src.line(&path.span());
            let inside = resolved
                .strip_prefix(output_dir)
                .map_err(|_| {
                    "an output must be a path inside the pipeline's output_dir".to_string()
                })
                .and_then(crate::outdir::check_output_path);
            if let Err(why) = inside {
                errors.push(src.error(
                    Some(&path.span()),
                    Some(name),
                    Some(&format!("outputs.{}", port.get_ref())),
                    format!("`{}`: {why}", path.get_ref()),
                ));
            }
            if let Some((other, other_line)) = writers.insert(resolved.clone(), (i, here)) {
                let other_name = raw.stage[other].get_ref().name.get_ref();
                errors.push(src.error(Some(&path.span()), Some(name), Some(&format!("outputs.{}", port.get_ref())),
                    format!("`{}` is also written by stage `{other_name}` (line {other_line}); two stages cannot write one file",
                        path.get_ref())));
            }
            io.outputs.insert(port.get_ref().clone(), resolved);
        }
        stages.push(StageSpec {
            name: name.to_string(),
            kind,
            params,
            io,
            producers: BTreeMap::new(),
        });
    }
    // Then inputs: another stage's output (named as that stage names it, or by its path
    // from the TOML file), else an existing file relative to the TOML file.
    for (i, stage) in raw.stage.iter().enumerate() {
        let s = stage.get_ref();
        for (port, path) in &s.inputs {
            let as_output = normalize(&output_dir.join(path.get_ref()));
            let as_file = normalize(&base.join(path.get_ref()));
            let producer = writers
                .get(&as_output)
                .map(|w| (w.0, as_output.clone()))
                .or_else(|| writers.get(&as_file).map(|w| (w.0, as_file.clone())));
            let resolved = match producer {
                Some((p, resolved)) => {
                    stages[i].producers.insert(port.get_ref().clone(), p);
                    resolved
                }
                None if as_file.exists() => as_file,
                None => {
                    errors.push(src.error(
                        Some(&path.span()),
                        Some(s.name.get_ref()),
                        Some(&format!("inputs.{}", port.get_ref())),
                        format!(
                            "no stage writes `{}` and there is no such file (looked for `{}`)",
                            path.get_ref(),
                            as_file.display()
                        ),
                    ));
                    as_file
                }
            };
            stages[i].io.inputs.insert(port.get_ref().clone(), resolved);
        }
    }
    // An ingest stage that pseudonymises with no key of its own takes the pipeline's: the
    // variable as its `key_env`, a file as its `key` input (so that the key's content is
    // part of the stage's fingerprint, as its own would be).
    for stage in &mut stages {
        let StageParams::Ingest(params) = &mut stage.params else {
            continue;
        };
        if params.pseudonymise.is_empty()
            || params.key_env.is_some()
            || stage.io.input("key").is_some()
        {
            continue;
        }
        match pseudonym_key {
            Some(KeyLocation::Env(name)) => params.key_env = Some(name.clone()),
            Some(KeyLocation::File(path)) => {
                stage.io.inputs.insert("key".to_string(), path.clone());
            }
            None => {}
        }
    }
    if errors.is_empty() {
        for (stage, raw_stage) in stages.iter().zip(&raw.stage) {
            // No parameter of any stage takes an infinity or NaN (a factor, a fraction, a
            // weight): refused here once for all, naming the key.
            if let Some(key) = stage.params.non_finite_key() {
                errors.push(src.error(
                    Some(&raw_stage.span()),
                    Some(&stage.name),
                    Some(&key),
                    "infinity and NaN are not values a parameter can take; give a finite number"
                        .to_string(),
                ));
                continue;
            }
            if let Err(message) = stage.params.check(&stage.io) {
                errors.push(src.error(Some(&raw_stage.span()), Some(&stage.name), None, message));
            }
        }
    }
    if errors.is_empty() {
        Ok(stages)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn check_ports(
    src: &Source<'_>,
    stage: &str,
    line: usize,
    table: &str,
    given: &Ports,
    declared: &[clientele_shared::stage::Port],
    errors: &mut Vec<ConfigError>,
) {
    for port in given.keys() {
        if !declared.iter().any(|d| d.name == port.get_ref()) {
            let names: Vec<&str> = declared.iter().map(|d| d.name).collect();
            errors.push(src.error(
                Some(&port.span()),
                Some(stage),
                Some(&format!("{table}.{}", port.get_ref())),
                format!(
                    "unknown {} `{}`; this kind has: {}",
                    &table[..table.len() - 1],
                    port.get_ref(),
                    names.join(", ")
                ),
            ));
        }
    }
    for port in declared.iter().filter(|d| d.required) {
        if !given.keys().any(|k| k.get_ref() == port.name) {
            errors.push(ConfigError {
                file: src.file.to_path_buf(),
                line: Some(line),
                stage: Some(stage.to_string()),
                key: Some(format!("{table}.{}", port.name)),
                message: format!(
                    "missing required {} `{}` ({})",
                    &table[..table.len() - 1],
                    port.name,
                    port.doc
                ),
            });
        }
    }
}

/// Orders stages so that each comes after the stages it reads from; among stages that
/// could run next, the one written first in the file goes first.
fn run_order(
    src: &Source<'_>,
    raw: &RawPipeline,
    stages: &[StageSpec],
) -> Result<Vec<usize>, ConfigErrors> {
    let n = stages.len();
    let mut waiting: Vec<usize> = stages
        .iter()
        .map(|s| {
            s.producers
                .values()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while order.len() < n {
        let Some(next) = (0..n).find(|&i| !done[i] && waiting[i] == 0) else {
            let cycle: Vec<&str> = (0..n)
                .filter(|&i| !done[i])
                .map(|i| stages[i].name.as_str())
                .collect();
            let first = (0..n).find(|&i| !done[i]).unwrap_or(0);
            return Err(ConfigErrors(vec![src.error(
                Some(&raw.stage[first].span()),
                Some(&stages[first].name),
                Some("inputs"),
                format!(
                    "the stages {} read each other's outputs in a cycle, so none can run first",
                    cycle
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )]));
        };
        done[next] = true;
        order.push(next);
        for (j, stage) in stages.iter().enumerate() {
            if !done[j] && stage.producers.values().any(|&p| p == next) {
                waiting[j] -= 1;
            }
        }
    }
    Ok(order)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Removes `.` and resolves `..` lexically: outputs need not exist yet.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads the whole document, handing each `[[stage]]`'s `params` to [`ParamsSeed`].
struct DocumentSeed<'a> {
    kinds: &'a [Kind],
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Vec<Option<StageParams>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Vec<Option<StageParams>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pipeline document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut params = vec![None; self.kinds.len()];
        while let Some(key) = map.next_key::<String>()? {
            if key == "stage" {
                params = map.next_value_seed(StagesSeed { kinds: self.kinds })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(params)
    }
}

struct StagesSeed<'a> {
    kinds: &'a [Kind],
}

impl<'de> DeserializeSeed<'de> for StagesSeed<'_> {
    type Value = Vec<Option<StageParams>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StagesSeed<'_> {
    type Value = Vec<Option<StageParams>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of [[stage]] tables")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.kinds.len());
        for &kind in self.kinds {
            match seq.next_element_seed(StageSeed { kind })? {
                Some(params) => out.push(params),
                None => break,
            }
        }
        Ok(out)
    }
}

struct StageSeed {
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for StageSeed {
    type Value = Option<StageParams>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StageSeed {
    type Value = Option<StageParams>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [[stage]] table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut params = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "params" {
                params = Some(map.next_value_seed(ParamsSeed(self.kind))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(params)
    }
}
