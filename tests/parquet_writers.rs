//! Parquet exactly as the tools around clientele write it: pyarrow with each codec,
//! pandas, DuckDB, polars, a pyarrow dataset and Spark (`local[2]`) with Hive-style
//! partition folders and INT96 timestamps (`tests/python/write_parquet_variants.py`).
//! Each is ingested and compared value by value with the ingest of the uncompressed
//! pyarrow file, which is itself checked against the values the script wrote.

mod common;
use clientele_shared::parquet_io::ParquetSource;
use common::Project;
use std::path::{Path, PathBuf};

const PIPELINE: &str = r#"[pipeline]
name = "writers"
output_dir = "out"

[[stage]]
name = "read"
kind = "ingest"
inputs = { source = "SOURCE" }
outputs = { table = "table.parquet" }

[stage.params]
id_column = "customer_id"
"#;

struct Ingested {
    types: Vec<(String, String)>,
    /// Rows sorted by `customer_id`, each cell as text (numbers in one form, so that a
    /// writer that stores an integer column as floats compares equal).
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

fn cell(text: String) -> String {
    match text.parse::<f64>() {
        Ok(x) => format!("{x}"),
        Err(_) => text,
    }
}

fn ingest(source: &Path) -> Ingested {
    let p = Project::new();
    p.write(
        "p.toml",
        PIPELINE.replace("SOURCE", &source.display().to_string()),
    );
    let run = p.run(&["run", "p.toml", "--json", "--quiet"]);
    assert_eq!(run.code(), 0, "{}: {}", source.display(), run.stderr());
    let summary = run.json();
    let notes = summary["stages"][0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let batches = ParquetSource::open(&p.path("out/table.parquet"), None)
        .unwrap()
        .read_all()
        .unwrap();
    let schema = batches[0].schema();
    let types = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    let mut rows = Vec::new();
    let options = arrow::util::display::FormatOptions::default();
    for batch in &batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| cell(f.value(r).to_string()))
                    .collect(),
            );
        }
    }
    rows.sort();
    Ingested { types, rows, notes }
}

/// Text columns compare equal whether a writer kept the dictionary or not.
fn plain(types: &[(String, String)]) -> Vec<(String, String)> {
    types
        .iter()
        .map(|(n, t)| {
            let t = if t.starts_with("Dictionary(") && t.ends_with("Utf8)") {
                "Utf8".to_string()
            } else {
                t.clone()
            };
            (n.clone(), t)
        })
        .collect()
}

#[test]
fn parquet_from_every_writer_ingests_to_the_same_values() {
    let Some(python) = common::python(&["pyarrow", "duckdb", "polars", "pandas", "pyspark"]) else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("parquet_writers");
    let _ = std::fs::remove_dir_all(&dir);
    let written = common::python_json(
        &python,
        "write_parquet_variants.py",
        &[&dir, Path::new("--spark")],
    );
    assert_eq!(written.len(), 12, "{written:?}");

    let baseline = ingest(&dir.join("pyarrow_none.parquet"));
    let expected_types: Vec<(String, String)> = [
        ("customer_id", "Utf8"),
        ("age", "Int64"),
        ("balance", "Float64"),
        ("score", "Float64"),
        ("active", "Boolean"),
        ("opened", "Date32"),
        ("last_login", "Date32"),
        ("segment", "Dictionary(Int32, Utf8)"),
        ("snapshot", "Date32"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect();
    assert_eq!(baseline.types, expected_types);
    // The values the script wrote for C0003 (i = 3) and C0007 (no age).
    assert_eq!(
        baseline.rows[3],
        [
            "C0003",
            "23",
            "-1296.32",
            &format!("{}", 3.0 / 7.0),
            "true",
            "2010-10-19",
            "2026-10-04",
            "retail",
            "2026-09-30"
        ]
    );
    assert_eq!(baseline.rows[7][1], "");
    assert_eq!(baseline.rows.len(), 40);
    assert!(
        baseline
            .notes
            .iter()
            .any(|n| n.contains("decimal column(s) read as 64-bit floats")
                && n.contains("`balance`")),
        "{:?}",
        baseline.notes
    );
    assert!(
        baseline
            .notes
            .iter()
            .any(|n| n.contains("timestamp column(s) read as dates") && n.contains("`last_login`")),
        "{:?}",
        baseline.notes
    );

    for source in [
        "pyarrow_snappy.parquet",
        "pyarrow_gzip.parquet",
        "pyarrow_lz4.parquet",
        "pyarrow_brotli.parquet",
        "pyarrow_zstd.parquet",
        "pandas.parquet",
        "duckdb.parquet",
        "polars.parquet",
        "pyarrow_hive",
        "spark_hive",
    ] {
        let ingested = ingest(&dir.join(source));
        let mut types = plain(&baseline.types);
        if source == "pandas.parquet" {
            // pandas holds an integer column with a missing value as float64, and writes
            // it so: the file has doubles.
            types[1].1 = "Float64".to_string();
        }
        assert_eq!(plain(&ingested.types), types, "{source}");
        assert_eq!(ingested.rows, baseline.rows, "{source}");
        if source.ends_with("_hive") {
            assert!(
                ingested
                    .notes
                    .iter()
                    .any(|n| n.contains("partition folders as columns `snapshot`")),
                "{source}: {:?}",
                ingested.notes
            );
        }
    }

    // A nested column: a clear error naming it, nothing written.
    let p = Project::new();
    p.write(
        "p.toml",
        PIPELINE.replace("SOURCE", &dir.join("nested.parquet").display().to_string()),
    );
    let run = p.run(&["run", "p.toml", "--quiet"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("column `products` has Arrow type List"),
        "{}",
        run.stderr()
    );
    assert!(!p.path("out/table.parquet").exists());
}
