//! Helpers for the end-to-end tests: a scratch project directory and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// [`Project::quickstart_as_committed`] without its encryption at rest (its ids still
    /// pseudonymised, names and e-mails still dropped): for the tests that read its tables
    /// with DuckDB, Spark or pyarrow, or compare their bytes between runs (encrypted bytes
    /// differ on every write, by design: see README, Privacy). `tests/quickstart.rs`,
    /// `tests/privacy.rs` and `tests/encryption.rs` run it as committed.
    pub fn quickstart_copy() -> Self {
        let p = Project::quickstart_as_committed();
        let text = std::fs::read_to_string(p.path("pipelines/quickstart.toml")).unwrap();
        let section = "[pipeline.encryption]\nkey_file = \"../.keys/quickstart-parquet.key\"\ncreate = true\n";
        assert!(
            text.contains(section),
            "the quickstart's encryption section moved"
        );
        p.write("pipelines/quickstart.toml", text.replace(section, ""));
        p
    }

    /// The quickstart's key for its Parquet files, once a run created it.
    pub fn quickstart_parquet_key(&self) -> clientele_shared::encryption::ParquetKey {
        clientele_shared::encryption::ParquetKey::from_file(
            &self.path(".keys/quickstart-parquet.key"),
        )
        .unwrap()
    }

    /// A copy of the repository's `pipelines/` and `data/` in a scratch directory, so that a
    /// test runs the committed quickstart without writing into the checkout.
    pub fn quickstart_as_committed() -> Self {
        let p = Project::new();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for dir in ["pipelines", "data"] {
            for entry in std::fs::read_dir(repo.join(dir)).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                p.write(
                    &format!("{dir}/{name}"),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
        p
    }

    /// [`Project::quickstart_copy`], run whole.
    pub fn quickstart_run() -> Self {
        let p = Project::quickstart_copy();
        let run = p.run(&["run", "pipelines/quickstart.toml", "--quiet"]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        p
    }

    /// [`Project::quickstart_copy`], run up to `stage` (and the stages it depends on).
    pub fn quickstart_run_to(stage: &str) -> Self {
        let p = Project::quickstart_copy();
        p.run_quickstart_to(stage);
        p
    }

    /// Runs this copy's quickstart up to `stage`; asserts that it succeeds.
    pub fn run_quickstart_to(&self, stage: &str) {
        let run = self.run(&[
            "run",
            "pipelines/quickstart.toml",
            "--quiet",
            "--stage",
            stage,
        ]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clientele"));
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().unwrap())
    }
}

/// The pseudonym the quickstart gives a raw customer id: keyed by the sample's committed
/// key (`data/quickstart-pseudonyms.key`), so that a test can compare the raw sample with
/// the quickstart's outputs.
pub fn sample_pseudonym(id: &str) -> String {
    use clientele_ingest::pseudonym::{KeySource, Pseudonymiser};
    static SAMPLE: std::sync::OnceLock<Pseudonymiser> = std::sync::OnceLock::new();
    SAMPLE
        .get_or_init(|| {
            let key =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/quickstart-pseudonyms.key");
            Pseudonymiser::from_source(KeySource::File(&key)).unwrap()
        })
        .pseudonym(id)
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts success and returns the `--json` summary.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
        serde_json::from_str(&self.stdout()).unwrap()
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the pipeline text"))
        + 1
}

/// The status of each stage in a `--json` summary, by name.
pub fn statuses(summary: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn sha256(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The Python interpreter (`CLIENTELE_PYTHON`, else `python3`) if it can import every one
/// of `modules`. Otherwise `None` with the reason printed (the test may then skip), but
/// only outside CI: with CLIENTELE_REQUIRE_PYTHON set, a missing module fails the test.
pub fn python(modules: &[&str]) -> Option<String> {
    let python = std::env::var("CLIENTELE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else if std::env::var_os("CLIENTELE_REQUIRE_PYTHON").is_some() {
        panic!("CLIENTELE_REQUIRE_PYTHON is set but `{python}` cannot import {modules:?}");
    } else {
        eprintln!("skipped: `{python}` cannot import {modules:?} (pip install -r tests/python/requirements.txt)");
        None
    }
}

/// Whether a Java runtime answers; Spark needs one.
pub fn java() -> bool {
    Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An engine's (`duckdb`, `spark`) result of the SQL in `query` against the Parquet
/// `reference`, by `scale/check_query.py` with its `options` (`--key`, `--where`).
pub fn check_query(
    python: &str,
    engine: &str,
    query: &Path,
    reference: &Path,
    options: &[&str],
) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scale/check_query.py");
    let out = succeeded(
        Command::new(python)
            .arg(script)
            .arg(engine)
            .arg(query)
            .arg(reference)
            .args(options),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// The output of `command`, asserted to have succeeded (its stderr shown if not).
fn succeeded(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A `check_query` result of a query that writes probabilities (`customer_id`,
/// `product`, `probability`) against the stage's: every pair on both sides once, each
/// probability within `within`. Returns the number of probabilities.
pub fn assert_same_probabilities(result: &serde_json::Value, within: f64) -> u64 {
    let rows = result["reference_rows"].as_u64().unwrap();
    assert_eq!(result["query_rows"], rows, "{result}");
    for key in ["duplicate_ids", "missing_ids", "extra_ids"] {
        assert_eq!(result[key], 0, "{key}: {result}");
    }
    assert!(
        result["max_abs_diff"]["probability"].as_f64().unwrap() <= within,
        "{result}"
    );
    rows
}

/// `clientele export-sql PIPELINE --stage STAGE --dialect DIALECT --out OUT` with `extra`
/// arguments, run in `dir`; asserts that it succeeds and returns the query's path.
pub fn export_sql(
    dir: &Path,
    pipeline: &str,
    stage: &str,
    dialect: &str,
    out: &str,
    extra: &[&str],
) -> PathBuf {
    succeeded(
        Command::new(env!("CARGO_BIN_EXE_clientele"))
            .args([
                "export-sql",
                pipeline,
                "--stage",
                stage,
                "--dialect",
                dialect,
                "--out",
                out,
            ])
            .args(extra)
            .current_dir(dir),
    );
    dir.join(out)
}

/// Runs a script of `tests/python/` and returns the JSON objects it printed, one a line.
pub fn python_json(python: &str, script: &str, args: &[&Path]) -> Vec<serde_json::Value> {
    let out = Command::new(python)
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/python")
                .join(script),
        )
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `../shared` beside this checkout (real data and scikit-learn references), or `None`
/// with the reason printed; with CLIENTELE_REQUIRE_SHARED set (CI), its absence fails.
pub fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("golden/sklearn_cc_golden.json").is_file() {
        Some(std::path::absolute(dir).unwrap())
    } else if std::env::var_os("CLIENTELE_REQUIRE_SHARED").is_some() {
        panic!(
            "CLIENTELE_REQUIRE_SHARED is set but {} is missing",
            dir.display()
        );
    } else {
        eprintln!("skipped: {} is not beside this checkout", dir.display());
        None
    }
}

/// A committed pipeline of `tests/pipelines/` on the real data, copied as `NAME.toml` into
/// `CARGO_TARGET_TMPDIR/SCRATCH` (emptied first) with `../shared` made absolute, and run
/// there with `args` after `run NAME.toml --quiet`. Returns that directory; `None` when
/// `../shared` is missing (see [`shared`]).
pub fn run_committed_pipeline(name: &str, scratch: &str, args: &[&str]) -> Option<PathBuf> {
    let shared = shared()?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(scratch);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/pipelines/{name}.toml")),
    )
    .unwrap()
    .replace("../../../shared", &shared.display().to_string());
    let file = format!("{name}.toml");
    std::fs::write(dir.join(&file), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["run", file.as_str(), "--quiet"])
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir)
}
