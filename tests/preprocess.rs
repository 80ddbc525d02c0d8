//! The preprocess stage against scikit-learn, and fit/apply equality.
//!
//! `tests/pipelines/cc_general.toml` preprocesses the real credit-card data as
//! `../shared/golden/make_sklearn_golden.py` does (SimpleImputer(strategy="median"),
//! StandardScaler); its fitted state and output must equal scikit-learn 1.9.1's to 1e-9
//! (relative to the value's size, at least 1).

mod common;
use common::Project;
use std::path::PathBuf;

use arrow::array::{Array, Float64Array};
use clientele_shared::parquet_io::ParquetSource;

fn shared() -> Option<PathBuf> {
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

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0)
}

/// The committed cc_general pipeline, run in a scratch directory.
fn run_cc_general(shared: &std::path::Path) -> Project {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/cc_general.toml"),
    )
    .unwrap();
    let text = text.replace("../../../shared", &shared.display().to_string());
    let p = Project::new();
    p.write("cc_general.toml", text);
    let run = p.run(&["run", "cc_general.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    p
}

fn features(p: &Project) -> (Vec<String>, Vec<Vec<f64>>) {
    let source = ParquetSource::open(&p.path("out/features.parquet")).unwrap();
    let names = source
        .schema()
        .fields()
        .iter()
        .skip(1)
        .map(|f| f.name().clone())
        .collect();
    let batches = source.read_all().unwrap();
    let columns = (1..batches[0].num_columns())
        .map(|c| {
            batches
                .iter()
                .flat_map(|b| {
                    b.column(c)
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .unwrap()
                        .values()
                        .to_vec()
                })
                .collect()
        })
        .collect();
    (names, columns)
}

#[test]
fn cc_general_state_and_output_equal_scikit_learn() {
    let Some(shared) = shared() else { return };
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("golden/sklearn_cc_golden.json")).unwrap(),
    )
    .unwrap();
    let p = run_cc_general(&shared);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("out/preprocess_state.json")).unwrap(),
    )
    .unwrap();
    let columns: Vec<&str> = golden["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let numeric: Vec<&serde_json::Value> = state["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "numeric")
        .collect();
    assert_eq!(numeric.len(), columns.len());
    for (column, fitted) in columns.iter().zip(&numeric) {
        assert_eq!(fitted["column"], *column);
        for (ours, theirs) in [
            ("impute_value", "imputer_medians"),
            ("center", "scaler_mean"),
            ("scale_value", "scaler_scale"),
        ] {
            let (o, t) = (
                fitted[ours].as_f64().unwrap(),
                golden[theirs][column].as_f64().unwrap(),
            );
            assert!(close(o, t), "{column} {ours}: ours {o}, scikit-learn {t}");
        }
    }
    let (names, values) = features(&p);
    assert_eq!(names.len(), 17);
    assert_eq!(names[0], "BALANCE__standard");
    for (c, column) in values.iter().enumerate() {
        assert_eq!(column.len(), 8950);
        let first = golden["scaled_first_row"][c].as_f64().unwrap();
        assert!(
            close(column[0], first),
            "{}: first row {} vs {first}",
            names[c],
            column[0]
        );
        let sum: f64 = column.iter().sum();
        let golden_sum = golden["scaled_column_sums"][c].as_f64().unwrap();
        assert!(
            (sum - golden_sum).abs() <= 1e-9,
            "{}: column sum {sum} vs {golden_sum}",
            names[c]
        );
    }
}

#[test]
fn applying_the_fitted_state_to_the_same_data_gives_the_same_bytes() {
    let Some(shared) = shared() else { return };
    let p = run_cc_general(&shared);
    let apply = r#"
[pipeline]
name = "apply"
output_dir = "applied"

[[stage]]
name = "score"
kind = "preprocess"
inputs = { table = "out/cc_general.parquet", state = "out/preprocess_state.json" }
outputs = { features = "features.parquet" }

[stage.params]
mode = "apply"
"#;
    p.write("apply.toml", apply);
    let run = p.run(&["run", "apply.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let applied = std::fs::read(p.path("applied/features.parquet")).unwrap();
    let fitted = std::fs::read(p.path("out/features.parquet")).unwrap();
    assert!(applied == fitted, "apply and fit outputs differ");
}

#[test]
fn mode_and_ports_must_agree() {
    let p = Project::new();
    p.write("t.csv", "customer_id,x\nA,1\n");
    let base = r#"
[pipeline]
name = "ports"

[[stage]]
name = "ingest"
kind = "ingest"
inputs = { source = "t.csv" }
outputs = { table = "t.parquet" }

[[stage]]
name = "prep"
kind = "preprocess"
inputs = { table = "t.parquet" }
outputs = { features = "f.parquet" }
"#;
    p.write("p.toml", base);
    let run = p.run(&["validate", "p.toml"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("stage `prep`: params.mode: \"fit\" needs an output named `state`"),
        "{}",
        run.stderr()
    );
    p.write(
        "p.toml",
        format!("{base}\n[stage.params]\nmode = \"apply\"\n"),
    );
    let run = p.run(&["validate", "p.toml"]);
    assert!(
        run.stderr()
            .contains("params.mode: \"apply\" needs an input named `state`"),
        "{}",
        run.stderr()
    );
}
