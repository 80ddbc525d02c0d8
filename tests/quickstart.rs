//! The quickstart pipeline, exactly as committed (private: identifiers dropped or
//! pseudonymised, Parquet encrypted under keys its first run creates), on the bundled
//! sample; and its encrypted Parquet files read by pyarrow and DuckDB with the key, as the
//! README shows.

mod common;
use clientele_shared::parquet_io::ParquetSource;
use common::{statuses, Project};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data_rows(file: &Path) -> u64 {
    std::fs::read_to_string(file).unwrap().lines().count() as u64 - 1
}

#[test]
fn quickstart_runs_end_to_end_then_is_up_to_date() {
    let p = Project::quickstart_as_committed();
    let summary = p
        .run(&["run", "pipelines/quickstart.toml", "--json", "--quiet"])
        .json();
    // The first run created the encryption key, outside the output directory, readable
    // by no one else; the summary names it for CI to store. (The sample's pseudonym key
    // is committed with the sample, in data/.)
    let created = summary["keys_created"].as_array().unwrap();
    let key_path = p.path(".keys/quickstart-parquet.key");
    assert_eq!(created, &[serde_json::json!(key_path)], "{summary}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(statuses(&summary).values().all(|s| s == "ran"), "{summary}");
    let stages = summary["stages"].as_array().unwrap();
    let rows = |name: &str| {
        stages.iter().find(|s| s["name"] == name).unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        rows("ingest_customers"),
        data_rows(&p.path("data/customers.csv"))
    );
    assert_eq!(
        rows("ingest_holdings"),
        data_rows(&p.path("data/holdings.csv"))
    );
    assert_eq!(rows("preprocess_customers"), rows("ingest_customers"));
    // Every table is encrypted: unreadable without the key.
    let features_path = p.path("out/quickstart/features.parquet");
    assert!(ParquetSource::open(&features_path, None).is_err());
    let key = p.quickstart_parquet_key();
    let features = ParquetSource::open(&features_path, Some(&key)).unwrap();
    let columns: Vec<String> = features
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(columns[0], "customer_id");
    for identifier in ["name", "email"] {
        let leaked = columns
            .iter()
            .any(|c| c == identifier || c.starts_with(&format!("{identifier}=")));
        assert!(!leaked, "{identifier} reached the features: {columns:?}");
    }
    assert!(
        columns.contains(&"income__log1p__standard".to_string()),
        "{columns:?}"
    );
    for output in [
        "customers.parquet",
        "customers_rejects.parquet",
        "holdings.parquet",
        "features.parquet",
        "preprocess_state.json",
    ] {
        assert!(
            p.path(&format!("out/quickstart/{output}")).is_file(),
            "{output} missing"
        );
    }
    let again = p
        .run(&["run", "pipelines/quickstart.toml", "--json", "--quiet"])
        .json();
    assert!(statuses(&again).values().all(|s| s == "skipped"), "{again}");
    assert!(again.get("keys_created").is_none(), "{again}");
}

#[test]
fn parquet_outputs_are_standard_for_pyarrow_and_duckdb() {
    let Some(python) = common::python(&["pyarrow", "duckdb"]) else {
        return;
    };
    let p = Project::quickstart_as_committed();
    assert_eq!(
        p.run(&["run", "pipelines/quickstart.toml", "--quiet"])
            .code(),
        0
    );
    let key = std::fs::read_to_string(p.path(".keys/quickstart-parquet.key")).unwrap();
    let files = [
        "customers.parquet",
        "holdings.parquet",
        "customers_rejects.parquet",
    ]
    .map(|f| p.path(&format!("out/quickstart/{f}")).display().to_string());
    let out = Command::new(&python)
        .arg(repo().join("tests/python/check_parquet.py"))
        .args(["--key", key.trim()])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert_eq!(r["rows"], r["duckdb_rows"], "{r}");
        // An empty file (no rejects) has no row groups, hence no codec to check.
        let expected = if r["rows"] == 0 {
            serde_json::json!([])
        } else {
            serde_json::json!(["ZSTD"])
        };
        assert_eq!(r["codecs"], expected, "{r}");
    }
    let customers = &reports[0];
    assert_eq!(
        customers["rows"].as_u64().unwrap(),
        data_rows(&p.path("data/customers.csv"))
    );
    assert_eq!(customers["first_column"], "customer_id");
    assert_eq!(customers["first_column_nulls"], 0);
    assert_eq!(customers["first_column_distinct"], customers["rows"]);
    let types = &customers["types"];
    assert_eq!(types["customer_id"], "string");
    assert_eq!(types["age"], "int64");
    assert_eq!(types["income"], "double");
    assert_eq!(types["has_children"], "bool");
    assert_eq!(types["last_contact_date"], "date32[day]");
    for dropped in ["name", "email"] {
        assert!(types.get(dropped).is_none(), "{types}");
    }
    assert_eq!(
        types["region"],
        "dictionary<values=string, indices=int32, ordered=0>"
    );
    let holdings = &reports[1];
    assert_eq!(holdings["types"]["snapshot"], "date32[day]");
    assert_eq!(
        holdings["rows"].as_u64().unwrap(),
        data_rows(&p.path("data/holdings.csv"))
    );
}
