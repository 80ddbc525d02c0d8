//! A stage's outputs change only with its `ALGORITHM_VERSION`.
//!
//! The fingerprint that decides whether a stage is up to date holds each stage kind's
//! algorithm version, not the build (see `src/state.rs`), so outputs written by older code
//! are reused unless the version says the code changed. This test keeps that honest: it
//! runs the quickstart and compares each stage's inputs and outputs with
//! `tests/golden/stage_outputs.json`. A stage that reads the same inputs as recorded, under
//! the same algorithm version, must write the same bytes. After a deliberate change, bump
//! the version of the kinds whose outputs changed, then record the new outputs with
//! `CLIENTELE_BLESS=1 cargo test --test stage_versions`.
//!
//! The run uses `CLIENTELE_SIMD=portable`, so the bytes do not depend on the CPU.

mod common;
use common::Project;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct StageOutputs {
    kind: String,
    algorithm_version: u32,
    inputs_sha256: BTreeMap<String, String>,
    outputs_sha256: BTreeMap<String, String>,
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stage_outputs.json")
}

#[test]
fn outputs_change_only_with_the_algorithm_version() {
    let p = Project::quickstart_copy();
    let run = p
        .command(&["run", "pipelines/quickstart.toml", "--json", "--quiet"])
        .env("CLIENTELE_SIMD", "portable")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let mut now = BTreeMap::new();
    for stage in summary["stages"].as_array().unwrap() {
        let name = stage["name"].as_str().unwrap().to_string();
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(p.path(&format!(
                "out/quickstart/.clientele/current/state/{name}.json"
            )))
            .unwrap(),
        )
        .unwrap();
        now.insert(
            name,
            StageOutputs {
                kind: stage["kind"].as_str().unwrap().to_string(),
                algorithm_version: serde_json::from_value(record["algorithm_version"].clone())
                    .unwrap(),
                inputs_sha256: serde_json::from_value(record["inputs_sha256"].clone()).unwrap(),
                outputs_sha256: serde_json::from_value(record["outputs_sha256"].clone()).unwrap(),
            },
        );
    }
    if std::env::var_os("CLIENTELE_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&now).unwrap() + "\n";
        std::fs::write(golden_path(), text).unwrap();
        eprintln!("recorded {}", golden_path().display());
        return;
    }
    let golden: BTreeMap<String, StageOutputs> =
        serde_json::from_str(&std::fs::read_to_string(golden_path()).unwrap()).unwrap();
    let mut problems = Vec::new();
    for (name, stage) in &now {
        let Some(recorded) = golden.get(name) else {
            problems.push(format!("stage `{name}` is not recorded"));
            continue;
        };
        if recorded == stage {
            continue;
        }
        if recorded.inputs_sha256 == stage.inputs_sha256
            && recorded.algorithm_version == stage.algorithm_version
            && recorded.outputs_sha256 != stage.outputs_sha256
        {
            let changed: Vec<&String> = stage
                .outputs_sha256
                .iter()
                .filter(|(port, sha)| recorded.outputs_sha256.get(*port) != Some(sha))
                .map(|(port, _)| port)
                .collect();
            problems.push(format!(
                "stage `{name}` writes other bytes ({changed:?}) from the same inputs under the same algorithm version {}: bump `ALGORITHM_VERSION` of the {} stage (crates/{}/src/lib.rs), then record with CLIENTELE_BLESS=1",
                stage.algorithm_version, stage.kind, stage.kind
            ));
        } else {
            problems.push(format!(
                "stage `{name}`: its inputs or algorithm version changed since the outputs were recorded; if that is meant, record them again with CLIENTELE_BLESS=1 cargo test --test stage_versions"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
