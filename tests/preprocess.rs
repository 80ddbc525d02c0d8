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

fn features(path: &std::path::Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let source = ParquetSource::open(path, None).unwrap();
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
    let Some(shared) = common::shared() else {
        return;
    };
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
    let (names, values) = features(&p.path("out/features.parquet"));
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
    let Some(shared) = common::shared() else {
        return;
    };
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

/// The committed bank_full pipeline, run in a scratch directory; returns the project and
/// the run summary.
fn run_bank_full(shared: &std::path::Path) -> (Project, serde_json::Value) {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/bank_full.toml"),
    )
    .unwrap();
    let p = Project::new();
    p.write(
        "bank_full.toml",
        text.replace("../../../shared", &shared.display().to_string()),
    );
    let summary = p
        .run(&["run", "bank_full.toml", "--quiet", "--json"])
        .json();
    (p, summary)
}

fn state_of(p: &Project, file: &str) -> Vec<serde_json::Value> {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path(&format!("out/{file}"))).unwrap())
            .unwrap();
    state["columns"].as_array().unwrap().clone()
}

fn fitted<'a>(columns: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    columns
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no state for {name}"))
}

#[test]
fn bank_full_encoders_and_scalers_equal_scikit_learn() {
    let Some(shared) = common::shared() else {
        return;
    };
    let golden_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sklearn_bank_golden.json");
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden_path).unwrap()).unwrap();
    let (p, summary) = run_bank_full(&shared);
    let numeric = [
        "age", "balance", "day", "duration", "campaign", "pdays", "previous",
    ];

    // RobustScaler, most-frequent imputation, OneHotEncoder(max_categories=5).
    let robust = state_of(&p, "robust_state.json");
    for column in numeric {
        let s = fitted(&robust, column);
        assert!(
            close(
                s["center"].as_f64().unwrap(),
                golden["robust_center"][column].as_f64().unwrap()
            ),
            "{column} center"
        );
        assert!(
            close(
                s["scale_value"].as_f64().unwrap(),
                golden["robust_scale"][column].as_f64().unwrap()
            ),
            "{column} scale"
        );
    }
    for (column, value) in golden["most_frequent"].as_object().unwrap() {
        assert_eq!(fitted(&robust, column)["impute_value"], *value, "{column}");
    }
    let stages = summary["stages"].as_array().unwrap();
    let counts = &stages.iter().find(|s| s["name"] == "robust").unwrap()["counts"];
    for (column, missing) in golden["categorical_missing"].as_object().unwrap() {
        assert_eq!(counts[format!("imputed.{column}")], *missing, "{column}");
    }
    let (names, values) = features(&p.path("out/robust.parquet"));
    let onehot: Vec<(String, f64)> = names
        .iter()
        .zip(&values)
        .filter(|(n, _)| n.contains('='))
        .map(|(n, v)| (n.replace("=__other__", "=other"), v.iter().sum()))
        .collect();
    let expected: Vec<(String, f64)> = golden["onehot_columns"]
        .as_array()
        .unwrap()
        .iter()
        .zip(golden["onehot_column_sums"].as_array().unwrap())
        .map(|(n, s)| (n.as_str().unwrap().to_string(), s.as_f64().unwrap()))
        .collect();
    assert_eq!(onehot, expected);

    // MinMaxScaler.
    let minmax = state_of(&p, "minmax_state.json");
    for column in numeric {
        let s = fitted(&minmax, column);
        assert!(
            close(
                s["center"].as_f64().unwrap(),
                golden["minmax_min"][column].as_f64().unwrap()
            ),
            "{column} min"
        );
        assert!(
            close(
                s["scale_value"].as_f64().unwrap(),
                golden["minmax_range"][column].as_f64().unwrap()
            ),
            "{column} range"
        );
    }

    // Winsorising at numpy's percentiles, signed log1p, StandardScaler.
    let winsor = state_of(&p, "winsor_state.json");
    let counts = &stages.iter().find(|s| s["name"] == "winsor").unwrap()["counts"];
    for column in ["balance", "duration"] {
        let (s, g) = (fitted(&winsor, column), &golden["winsor"][column]);
        assert!(
            close(
                s["outliers"]["low"].as_f64().unwrap(),
                g["low"].as_f64().unwrap()
            ),
            "{column} low fence"
        );
        assert!(
            close(
                s["outliers"]["high"].as_f64().unwrap(),
                g["high"].as_f64().unwrap()
            ),
            "{column} high fence"
        );
        assert!(
            close(s["center"].as_f64().unwrap(), g["mean"].as_f64().unwrap()),
            "{column} mean"
        );
        assert!(
            close(
                s["scale_value"].as_f64().unwrap(),
                g["scale"].as_f64().unwrap()
            ),
            "{column} scale"
        );
        assert_eq!(
            counts[format!("clipped.{column}")],
            g["clipped"],
            "{column} clipped count"
        );
    }
}

#[test]
fn every_output_value_equals_scikit_learn() {
    let Some(shared) = common::shared() else {
        return;
    };
    let Some(python) = common::python(&["pandas", "sklearn", "pyarrow"]) else {
        return;
    };
    let cc = run_cc_general(&shared);
    let (bank, _) = run_bank_full(&shared);
    let data = shared.join("data");
    let mut reports = common::python_json(
        &python,
        "sklearn_per_value.py",
        &[
            std::path::Path::new("cc"),
            &data.join("cc_general.csv"),
            &cc.path("out/features.parquet"),
        ],
    );
    reports.extend(common::python_json(
        &python,
        "sklearn_per_value.py",
        &[
            std::path::Path::new("bank"),
            &data.join("bank_full.csv"),
            &bank.path("out/robust.parquet"),
            &bank.path("out/minmax.parquet"),
            &bank.path("out/winsor.parquet"),
        ],
    ));
    assert_eq!(reports.len(), 4);
    for r in &reports {
        assert_eq!(r["missing"], serde_json::json!([]), "{r}");
        assert_eq!(r["extra"], serde_json::json!([]), "{r}");
        assert!(r["values"].as_u64().unwrap() > 100_000, "{r}");
        assert!(r["max_abs_diff"].as_f64().unwrap() <= 1e-9, "{r}");
        eprintln!("{r}");
    }
}
