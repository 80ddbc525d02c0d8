//! `clientele export-sql`: the exported query, run in DuckDB, gives the stage's own
//! output: every segment label equal, every feature and distance within 1e-9, on the
//! real credit-card and bank-marketing data (`../shared/data/`) and on generated data.

mod common;
use common::Project;
use std::path::{Path, PathBuf};

/// An engine's result of `query` against `reference` (see scale/check_query.py).
fn compare(python: &str, engine: &str, query: &Path, reference: &Path) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scale/check_query.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(engine)
        .arg(query)
        .arg(reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Every row and column there, labels equal, doubles within 1e-9.
fn assert_same(result: &serde_json::Value, rows: u64) {
    assert_eq!(result["reference_rows"], rows, "{result}");
    assert_eq!(result["query_rows"], rows, "{result}");
    assert_eq!(result["missing_ids"], 0, "{result}");
    assert_eq!(result["extra_ids"], 0, "{result}");
    assert_eq!(
        result["missing_columns"].as_array().unwrap().len(),
        0,
        "{result}"
    );
    for (column, n) in result["mismatches"].as_object().unwrap() {
        assert_eq!(n, 0, "column {column}: {result}");
    }
    let diffs = result["max_abs_diff"].as_object().unwrap();
    assert!(!diffs.is_empty(), "{result}");
    for (column, d) in diffs {
        assert!(d.as_f64().unwrap() <= 1e-9, "column {column}: {result}");
    }
}

fn export(dir: &Path, pipeline: &str, stage: &str, dialect: &str, out: &str) -> PathBuf {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
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
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir.join(out)
}

/// The quickstart copied and run up to its segments: the state files export-sql reads.
fn quickstart_segmented() -> Project {
    Project::quickstart_run_to("segment_customers")
}

#[test]
fn the_quickstart_exported_to_sql_gives_the_same_features_and_segments_in_duckdb() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let p = quickstart_segmented();
    let dir = p.path("");
    let features = export(
        &dir,
        "pipelines/quickstart.toml",
        "preprocess_customers",
        "duckdb",
        "features.sql",
    );
    assert_same(
        &compare(
            &python,
            "duckdb",
            &features,
            &p.path("out/quickstart/features.parquet"),
        ),
        3000,
    );
    let segments = export(
        &dir,
        "pipelines/quickstart.toml",
        "segment_customers",
        "duckdb",
        "segments.sql",
    );
    let result = compare(
        &python,
        "duckdb",
        &segments,
        &p.path("out/quickstart/segments.parquet"),
    );
    assert_same(&result, 3000);
    assert!(result["mismatches"].get("segment").is_some(), "{result}");
    // The query names nothing it was not given: the fitted file's path, and no other.
    let text = std::fs::read_to_string(&segments).unwrap();
    assert!(text.contains("read_parquet("), "{text}");
    assert!(text.contains("customers.parquet"), "{text}");
}

#[test]
fn real_credit_card_data_segments_equal_in_duckdb() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let Some(dir) = common::run_committed_pipeline("cc_general", "sql_cc_general", &[]) else {
        return;
    };
    let features = export(
        &dir,
        "cc_general.toml",
        "preprocess",
        "duckdb",
        "features.sql",
    );
    assert_same(
        &compare(
            &python,
            "duckdb",
            &features,
            &dir.join("out/features.parquet"),
        ),
        8950,
    );
    let segments = export(&dir, "cc_general.toml", "segment", "duckdb", "segments.sql");
    assert_same(
        &compare(
            &python,
            "duckdb",
            &segments,
            &dir.join("out/segments.parquet"),
        ),
        8950,
    );
}

#[test]
fn real_bank_marketing_preprocessing_equals_in_duckdb() {
    // Robust and min-max scaling, one-hot with rare categories pooled into `other`,
    // ordinal codes, winsorising with signed log1p: every rule the state can hold.
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let Some(dir) = common::run_committed_pipeline("bank_full", "sql_bank_full", &[]) else {
        return;
    };
    for stage in ["robust", "minmax", "winsor"] {
        let query = export(
            &dir,
            "bank_full.toml",
            stage,
            "duckdb",
            &format!("{stage}.sql"),
        );
        assert_same(
            &compare(
                &python,
                "duckdb",
                &query,
                &dir.join(format!("out/{stage}.parquet")),
            ),
            45211,
        );
    }
}

#[test]
fn export_errors_name_the_stage_and_ansi_needs_a_table() {
    let p = Project::quickstart_copy();
    // Runs `export-sql` on the quickstart with `args`; asserts the exit code and that the
    // output (stderr on failure, the query on success) contains `needle`.
    let export = |args: &[&str], code: i32, needle: &str| {
        let run = p.run(&[&["export-sql", "pipelines/quickstart.toml"], args].concat());
        assert_eq!(run.code(), code, "{}", run.stderr());
        let out = if code == 0 {
            run.stdout()
        } else {
            run.stderr()
        };
        assert!(out.contains(needle), "{out}");
    };
    export(&["--stage", "nope"], 1, "no stage named `nope`");
    export(
        &["--stage", "evaluate"],
        1,
        "export-sql writes preprocess and K-Means segment stages",
    );
    // Not fitted yet: the state file is missing, and the message names it.
    export(
        &["--stage", "preprocess_customers"],
        1,
        "preprocess_state.json",
    );
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--quiet",
        "--stage",
        "preprocess_customers",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let preprocess = ["--stage", "preprocess_customers", "--dialect"];
    export(
        &[&preprocess[..], &["ansi"]].concat(),
        1,
        "give a table name",
    );
    export(
        &[&preprocess[..], &["ansi", "--from", "bank.customers"]].concat(),
        0,
        "FROM bank.customers",
    );
    export(&[&preprocess[..], &["spark"]].concat(), 0, "parquet.`");
}

/// Whether a Java runtime answers; Spark needs one.
fn java() -> bool {
    std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_quickstart_exported_for_spark_gives_the_same_segments_on_spark() {
    if !java() {
        eprintln!("skipped: no Java runtime (`java -version` failed); Spark needs Java 17");
        return;
    }
    let Some(python) = common::python(&["pyspark", "pyarrow"]) else {
        return;
    };
    let p = quickstart_segmented();
    let dir = p.path("");
    for (stage, reference, rows) in [
        (
            "preprocess_customers",
            "out/quickstart/features.parquet",
            3000,
        ),
        ("segment_customers", "out/quickstart/segments.parquet", 3000),
    ] {
        let query = export(
            &dir,
            "pipelines/quickstart.toml",
            stage,
            "spark",
            &format!("{stage}.sql"),
        );
        assert_same(&compare(&python, "spark", &query, &p.path(reference)), rows);
    }
}
