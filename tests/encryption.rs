//! Encryption at rest: the quickstart with `[pipeline.encryption]` writes every Parquet
//! file encrypted (Parquet Modular Encryption, AES-GCM), reads its own files back, gives
//! the same tables as the plain run, is readable by pyarrow with the key and by nothing
//! without it; a missing or wrong key is a clear error.

mod common;
use common::Project;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use clientele_shared::encryption::{is_encrypted, ParquetKey};
use clientele_shared::parquet_io::ParquetSource;

const KEY_VAR: &str = "CLIENTELE_TEST_PARQUET_KEY";
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Adds `[pipeline.encryption]` (the key from `KEY_VAR`) to a pipeline of `p`, after the
/// line `last_line` of its `[pipeline]` table.
fn encrypt_pipeline(p: &Project, pipeline: &str, last_line: &str) {
    let text = std::fs::read_to_string(p.path(pipeline)).unwrap().replacen(
        &format!("{last_line}\n"),
        &format!("{last_line}\n\n[pipeline.encryption]\nkey_env = \"{KEY_VAR}\"\n"),
        1,
    );
    p.write(pipeline, text);
}

fn encrypted_quickstart() -> Project {
    let p = Project::quickstart_copy();
    encrypt_pipeline(&p, "pipelines/quickstart.toml", "seed = 42");
    p
}

/// Runs the binary in `p` with `args` and the key in `KEY_VAR`; asserts it succeeds.
fn run_with_key(p: &Project, args: &[&str]) {
    let out = p.command(args).env(KEY_VAR, KEY).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    out.sort();
    out
}

fn key(hex: &str) -> ParquetKey {
    ParquetKey::from_hex(hex, "test").unwrap()
}

fn read(path: &Path, key: &ParquetKey) -> Vec<RecordBatch> {
    ParquetSource::open(path, Some(key))
        .unwrap()
        .read_all()
        .unwrap()
}

#[test]
fn an_encrypted_run_writes_every_table_encrypted_and_reads_it_back() {
    let plain = Project::quickstart_run();
    let p = encrypted_quickstart();
    // The same tables as the plain run, so the same quality: the gate passes.
    run_with_key(&p, &["run", "pipelines/quickstart.toml", "--quiet"]);

    let files = parquet_files(&p.path("out/quickstart"));
    assert!(files.len() >= 10, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            bytes.starts_with(b"PARE") && bytes.ends_with(b"PARE"),
            "{} is not encrypted",
            file.display()
        );
        assert!(is_encrypted(file));
    }
    // Read back with the key: the same batches as the plain run's.
    for file in &files {
        let name = file.file_name().unwrap();
        let theirs = ParquetSource::open(&plain.path("out/quickstart").join(name), None)
            .unwrap()
            .read_all()
            .unwrap();
        let ours = read(file, &key(KEY));
        assert_eq!(ours, theirs, "{}", name.to_string_lossy());
    }
    let err = ParquetSource::open(&files[0], None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is encrypted, and this pipeline has no encryption key"),
        "{err}"
    );

    // pyarrow with the key reads the table; without it, or with another key, it fails.
    if let Some(python) = common::python(&["pyarrow"]) {
        let customers = p.path("out/quickstart/customers.parquet");
        let seen =
            &common::python_json(&python, "read_encrypted.py", &[&customers, Path::new(KEY)])[0];
        assert_eq!(seen["rows"], 3000, "{seen}");
        assert_eq!(seen["columns"][0], "customer_id");
        assert!(seen["without_key"].is_string(), "{seen}");
        assert!(seen["wrong_key"].is_string(), "{seen}");
    }
}

#[test]
fn a_missing_or_wrong_key_is_a_clear_error() {
    let p = encrypted_quickstart();
    let out = p
        .command(&["run", "pipelines/quickstart.toml", "--quiet"])
        .env_remove(KEY_VAR)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Before any stage runs, as an invalid configuration is.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the environment variable `CLIENTELE_TEST_PARQUET_KEY` is not set"),
        "{stderr}"
    );
    assert!(!p.path("out/quickstart/customers.parquet").exists());

    // Ingest under the key, then read its table from a pipeline with another key, and
    // from one with none.
    run_with_key(
        &p,
        &[
            "run",
            "pipelines/quickstart.toml",
            "--quiet",
            "--stage",
            "ingest_customers",
        ],
    );
    let reader = |encryption: &str| {
        format!(
            r#"
[pipeline]
name = "reader"
output_dir = "../out/reader"
{encryption}
[[stage]]
name = "features"
kind = "preprocess"
inputs = {{ table = "../out/quickstart/customers.parquet" }}
outputs = {{ features = "features.parquet", state = "state.json" }}
"#
        )
    };
    p.write(
        "pipelines/reader.toml",
        reader("\n[pipeline.encryption]\nkey_env = \"CLIENTELE_TEST_PARQUET_KEY\"\n"),
    );
    let out = p
        .command(&["run", "pipelines/reader.toml", "--quiet"])
        .env(KEY_VAR, "ff".repeat(32))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("customers.parquet` cannot be decrypted with the pipeline's key"),
        "{stderr}"
    );
    assert!(!stderr.contains(&"ff".repeat(32)), "the key was printed");

    p.write("pipelines/reader.toml", reader(""));
    let run = p.run(&["run", "pipelines/reader.toml", "--quiet"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("is encrypted, and this pipeline has no encryption key"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_key_is_named_once() {
    let p = encrypted_quickstart();
    let text = std::fs::read_to_string(p.path("pipelines/quickstart.toml"))
        .unwrap()
        .replacen(
            "key_env = \"CLIENTELE_TEST_PARQUET_KEY\"\n",
            "key_env = \"CLIENTELE_TEST_PARQUET_KEY\"\nkey_file = \"key.hex\"\n",
            1,
        );
    p.write("pipelines/quickstart.toml", text);
    let run = p.run(&["validate", "pipelines/quickstart.toml"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("key `encryption`: name the key's place once"),
        "{}",
        run.stderr()
    );
}

const NEW_KEY_VAR: &str = "CLIENTELE_TEST_NEW_PARQUET_KEY";
const NEW_KEY: &str = "f0e0d0c0b0a090807060504030201000f0e0d0c0b0a090807060504030201000";

#[test]
fn rekey_rotates_every_table_and_a_rerun_finishes_an_interrupted_rotation() {
    let p = encrypted_quickstart();
    let run = |key: &str, args: &[&str]| {
        p.command(args)
            .env(KEY_VAR, key)
            .env(NEW_KEY_VAR, NEW_KEY)
            .output()
            .unwrap()
    };
    let out = run(KEY, &["run", "pipelines/quickstart.toml", "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = parquet_files(&p.path("out/quickstart"));
    let before: Vec<Vec<RecordBatch>> = files.iter().map(|f| read(f, &key(KEY))).collect();
    let old_bytes = std::fs::read(&files[0]).unwrap();

    let rekey = [
        "rekey",
        "pipelines/quickstart.toml",
        "--new-key-env",
        NEW_KEY_VAR,
    ];
    let out = run(KEY, &rekey);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{} file(s) re-encrypted, 0 already", files.len())),
        "{stderr}"
    );

    // Every table opens under the new key only, with the same rows.
    for (file, batches) in files.iter().zip(&before) {
        assert!(
            ParquetSource::open(file, Some(&key(KEY))).is_err(),
            "{} opens under the old key",
            file.display()
        );
        assert_eq!(&read(file, &key(NEW_KEY)), batches, "{}", file.display());
    }
    // With the pipeline pointed at the new key, nothing needs to run again.
    let out = run(NEW_KEY, &["run", "pipelines/quickstart.toml", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        common::statuses(&summary).values().all(|s| s == "skipped"),
        "{summary}"
    );

    // An interrupted rotation: one file still under the old key, the rest under the new.
    std::fs::write(&files[0], &old_bytes).unwrap();
    let out = run(KEY, &rekey);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "1 file(s) re-encrypted, {} already",
            files.len() - 1
        )),
        "{stderr}"
    );
    assert_eq!(read(&files[0], &key(NEW_KEY)), before[0]);
}

/// Partitioned scoring of an encrypted pipeline: the partition's copy of the customer
/// table, every part and the merged tables are encrypted, and the merge reads the parts
/// with the pipeline's key.
#[test]
fn an_encrypted_pipeline_scores_in_partitions_and_merges_encrypted() {
    let p = encrypted_quickstart();
    run_with_key(
        &p,
        &[
            "run",
            "pipelines/quickstart.toml",
            "--quiet",
            "--stage",
            "segment_customers",
        ],
    );
    encrypt_pipeline(
        &p,
        "pipelines/scoring.toml",
        "output_dir = \"../out/scoring\"",
    );
    for part in ["0/2", "1/2"] {
        run_with_key(
            &p,
            &[
                "run",
                "pipelines/scoring.toml",
                "--quiet",
                "--partition",
                part,
            ],
        );
    }
    // Without the key the merge cannot read the parts, and says so.
    let merge = p.run(&["merge", "pipelines/scoring.toml", "--partitions", "2"]);
    assert_ne!(merge.code(), 0);
    assert!(merge.stderr().contains(KEY_VAR), "{}", merge.stderr());
    assert!(!p.path("out/scoring/segments.parquet").exists());
    run_with_key(
        &p,
        &["merge", "pipelines/scoring.toml", "--partitions", "2"],
    );
    let mut files = parquet_files(&p.path("out/scoring"));
    files.extend(parquet_files(&p.path("out/scoring/partition-inputs")));
    assert_eq!(files.len(), 2 + 2 * 2 + 2, "{files:?}");
    for file in &files {
        assert!(is_encrypted(file), "{} is not encrypted", file.display());
    }
    let rows: usize = read(&p.path("out/scoring/segments.parquet"), &key(KEY))
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(rows, 3000);
}
