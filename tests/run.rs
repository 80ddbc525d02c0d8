//! `clientele run` and `plan`: what runs, what is skipped, what a failure leaves behind.

mod common;
use common::{statuses, Project};

/// `typed` reads `raw`'s output; `other` is independent of both.
const PIPELINE: &str = r#"[pipeline]
name = "test"
output_dir = "out"
seed = 7

[[stage]]
name = "raw"
kind = "ingest"
inputs = { source = "customers.csv" }
outputs = { table = "raw.parquet" }

[stage.params]
id_column = "id"
null_markers = [""]

[[stage]]
name = "typed"
kind = "ingest"
inputs = { source = "raw.parquet" }
outputs = { table = "typed.parquet" }

[stage.params]
columns = { segment = "categorical" }

[[stage]]
name = "other"
kind = "ingest"
inputs = { source = "products.ndjson" }
outputs = { table = "products.parquet" }
"#;

fn project() -> Project {
    let p = Project::new();
    p.write(
        "customers.csv",
        "id,balance,segment\nA1,1.5,x\nA2,-,y\nA3,3,z\n",
    );
    p.write(
        "products.ndjson",
        "{\"product\":\"mortgage\",\"min_age\":21}\n{\"product\":\"savings\",\"min_age\":16}\n",
    );
    p.write("p.toml", PIPELINE);
    p
}

fn run_json(p: &Project, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut args = vec!["run", "p.toml", "--json", "--quiet"];
    args.extend_from_slice(extra);
    statuses(&p.run(&args).json())
}

fn expect(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn unchanged_pipeline_skips_everything_and_a_parameter_change_reruns_only_downstream() {
    let p = project();
    assert_eq!(
        run_json(&p, &[]),
        expect(&[("raw", "ran"), ("typed", "ran"), ("other", "ran")])
    );
    assert_eq!(
        run_json(&p, &[]),
        expect(&[
            ("raw", "skipped"),
            ("typed", "skipped"),
            ("other", "skipped")
        ])
    );

    // A parameter of the downstream stage: only it reruns.
    let text = PIPELINE.replace(
        "columns = { segment = \"categorical\" }",
        "columns = { segment = \"string\" }",
    );
    p.write("p.toml", &text);
    assert_eq!(
        run_json(&p, &[]),
        expect(&[("raw", "skipped"), ("typed", "ran"), ("other", "skipped")])
    );

    // A parameter of the upstream stage that changes its output (with `-` missing,
    // `balance` is inferred as a number, not text): it and its downstream rerun, the
    // independent stage does not.
    // `typed`'s own parameters are unchanged here: it reruns because its input changed.
    p.write(
        "p.toml",
        text.replace("null_markers = [\"\"]", "null_markers = [\"\", \"-\"]"),
    );
    assert_eq!(
        run_json(&p, &[]),
        expect(&[("raw", "ran"), ("typed", "ran"), ("other", "skipped")])
    );
    assert_eq!(
        run_json(&p, &[]),
        expect(&[
            ("raw", "skipped"),
            ("typed", "skipped"),
            ("other", "skipped")
        ])
    );

    // An input file's content.
    p.write(
        "products.ndjson",
        "{\"product\":\"mortgage\",\"min_age\":21}\n",
    );
    assert_eq!(
        run_json(&p, &[]),
        expect(&[("raw", "skipped"), ("typed", "skipped"), ("other", "ran")])
    );

    // --set is a parameter change for this run; --force runs everything.
    assert_eq!(
        run_json(&p, &["--set", "other.batch_rows=1"]),
        expect(&[("raw", "skipped"), ("typed", "skipped"), ("other", "ran")])
    );
    assert_eq!(
        run_json(&p, &["--force"]),
        expect(&[("raw", "ran"), ("typed", "ran"), ("other", "ran")])
    );

    // An output changed or removed behind the runner's back.
    std::fs::write(p.path("out/typed.parquet"), b"tampered").unwrap();
    std::fs::remove_file(p.path("out/products.parquet")).unwrap();
    assert_eq!(
        run_json(&p, &[]),
        expect(&[("raw", "skipped"), ("typed", "ran"), ("other", "ran")])
    );
}

#[test]
fn stage_selection_runs_the_stage_and_what_it_depends_on() {
    let p = project();
    assert_eq!(
        run_json(&p, &["--stage", "typed"]),
        expect(&[("raw", "ran"), ("typed", "ran")])
    );
    assert!(!p.path("out/products.parquet").exists());
    let run = p.run(&["run", "p.toml", "--json", "--set", "raw.batch_rows=x"]);
    assert_eq!(run.code(), 2);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(summary["ok"], false);
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("key `params.batch_rows`"),
        "{summary}"
    );
    let run = p.run(&["run", "p.toml", "--stage", "nope"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("--stage nope: the pipeline has no stage of this name"),
        "{}",
        run.stderr()
    );
}

#[test]
fn json_summary_has_rows_seconds_and_outputs() {
    let p = project();
    let summary = p.run(&["run", "p.toml", "--json", "--quiet"]).json();
    assert_eq!(summary["pipeline"], "test");
    assert_eq!(summary["ok"], true);
    let raw = &summary["stages"][0];
    assert_eq!(raw["name"], "raw");
    assert_eq!(raw["kind"], "ingest");
    assert_eq!(raw["rows"], 3);
    assert!(raw["seconds"].as_f64().unwrap() >= 0.0);
    assert!(raw["outputs"]["table"]
        .as_str()
        .unwrap()
        .ends_with("raw.parquet"));
    assert_eq!(raw["counts"]["rows_rejected"], 0);
}

#[test]
fn quiet_prints_nothing_and_progress_goes_to_stderr() {
    let p = project();
    let run = p.run(&["run", "p.toml", "--quiet"]);
    assert_eq!(run.code(), 0);
    assert_eq!(run.stderr(), "");
    assert_eq!(run.stdout(), "");
    let run = p.run(&["run", "p.toml", "--force"]);
    assert_eq!(run.stdout(), "", "without --json nothing goes to stdout");
    assert!(
        run.stderr().contains("[1/3] raw (ingest): done in"),
        "{}",
        run.stderr()
    );
}

#[test]
fn same_config_same_data_same_bytes() {
    let (a, b) = (project(), project());
    a.run(&["run", "p.toml", "--quiet"]).json_ok();
    b.run(&["run", "p.toml", "--quiet"]).json_ok();
    for file in ["raw.parquet", "typed.parquet", "products.parquet"] {
        let read = |p: &Project| std::fs::read(p.path(&format!("out/{file}"))).unwrap();
        assert_eq!(
            read(&a),
            read(&b),
            "{file} differs between two identical runs"
        );
    }
}

#[test]
fn a_failing_stage_exits_1_names_the_problem_and_keeps_earlier_outputs() {
    let p = project();
    assert_eq!(run_json(&p, &[]).len(), 3);
    let before = std::fs::read(p.path("out/raw.parquet")).unwrap();
    p.write("customers.csv", "id,balance,segment\nA1,1.5,x\nA2,2\n");
    let run = p.run(&["run", "p.toml", "--json"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("stage `raw` failed: `"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("customers.csv` line 3: expected 3 fields but found 2"),
        "{}",
        run.stderr()
    );
    let summary: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(summary["ok"], false);
    assert_eq!(
        statuses(&summary),
        expect(&[
            ("raw", "failed"),
            ("typed", "not_run"),
            ("other", "not_run")
        ])
    );
    assert_eq!(
        std::fs::read(p.path("out/raw.parquet")).unwrap(),
        before,
        "the earlier output was touched"
    );
    let names: Vec<String> = std::fs::read_dir(p.path("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("clientele-tmp")),
        "temporary files left: {names:?}"
    );
}

#[test]
fn plan_shows_order_ports_and_what_is_up_to_date() {
    let p = project();
    let run = p.run(&["plan", "p.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let text = run.stdout();
    assert!(
        text.contains("1. raw (ingest): will run: never run"),
        "{text}"
    );
    assert!(
        text.contains("2. typed (ingest): will run if `raw` changes its outputs"),
        "{text}"
    );
    assert!(
        text.contains("in  source:") && text.contains("raw.parquet (from `raw`)"),
        "{text}"
    );
    p.run(&["run", "p.toml", "--quiet"]).json_ok();
    let text = p.run(&["plan", "p.toml"]).stdout();
    assert!(text.contains("1. raw (ingest): up to date"), "{text}");
    assert!(text.contains("2. typed (ingest): up to date"), "{text}");
    p.write(
        "p.toml",
        PIPELINE.replace("id_column = \"id\"", "id_column = \"id\"\nbatch_rows = 2"),
    );
    let text = p.run(&["plan", "p.toml"]).stdout();
    assert!(
        text.contains("1. raw (ingest): will run: parameters changed"),
        "{text}"
    );
}

trait JsonOk {
    fn json_ok(&self);
}
impl JsonOk for common::Run {
    fn json_ok(&self) {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
    }
}

#[test]
fn a_copied_or_restored_project_is_up_to_date() {
    let p = project();
    run_json(&p, &[]);
    // As a CI cache restores it: the whole project in another directory, links kept
    // (`-a`), or followed so that every output is a plain file (`-rL`).
    for how in ["-a", "-rL"] {
        let copy = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("cp")
            .arg(how)
            .arg(format!("{}/.", p.dir.path().display()))
            .arg(copy.path())
            .status()
            .unwrap();
        assert!(status.success());
        let moved = Project { dir: copy };
        assert_eq!(
            run_json(&moved, &[]),
            expect(&[
                ("raw", "skipped"),
                ("typed", "skipped"),
                ("other", "skipped")
            ]),
            "a copy made with cp {how}"
        );
        // And it is a working output directory again: a change reruns what it should.
        assert_eq!(
            run_json(&moved, &["--set", "other.batch_rows=1"]),
            expect(&[("raw", "skipped"), ("typed", "skipped"), ("other", "ran")]),
            "a copy made with cp {how}"
        );
    }
}

#[test]
fn a_record_of_another_algorithm_version_reruns_the_stage() {
    let p = project();
    run_json(&p, &[]);
    let record = p.path("out/.clientele/current/state/other.json");
    let text = std::fs::read_to_string(&record).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["algorithm_version"] = serde_json::json!(0);
    // Records live in the committed generation: replace, never edit in place.
    std::fs::remove_file(&record).unwrap();
    std::fs::write(&record, state.to_string()).unwrap();
    let run = p.run(&["run", "p.toml", "--json", "--quiet"]);
    let summary = run.json();
    assert_eq!(
        statuses(&summary),
        expect(&[("raw", "skipped"), ("typed", "skipped"), ("other", "ran")])
    );
    let other = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "other")
        .unwrap();
    use clientele_shared::stage::Stage;
    assert_eq!(
        other["reason"],
        format!(
            "the ingest algorithm changed (version 0 then, {} now)",
            clientele_ingest::Ingest::ALGORITHM_VERSION
        )
    );
}
