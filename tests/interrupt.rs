//! A run killed while writing leaves no partial file under a final name: the previous
//! output stays whole, the stage is not recorded as up to date, and the next run
//! completes and cleans up the killed run's temporary file.

mod common;
use common::Project;
use std::time::{Duration, Instant};

const PIPELINE: &str = r#"[pipeline]
name = "interrupt"
output_dir = "out"

[[stage]]
name = "customers"
kind = "ingest"
inputs = { source = "data/customers.csv" }
outputs = { table = "customers.parquet" }

[stage.params]
batch_rows = 4096
"#;

fn generate(p: &Project, customers: &str, seed: &str) {
    let run = p.run(&[
        "generate",
        "--customers",
        customers,
        "--seed",
        seed,
        "--out",
        "data",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

fn temp_files(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.path("out"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.contains(".clientele-tmp-"))
        .collect()
}

#[test]
fn killed_run_leaves_the_previous_output_whole() {
    let p = Project::new();
    p.write("p.toml", PIPELINE);
    generate(&p, "300", "1");
    assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let output = p.path("out/customers.parquet");
    let state = p.path("out/.clientele/customers.json");
    let (before, state_before) = (
        std::fs::read(&output).unwrap(),
        std::fs::read(&state).unwrap(),
    );

    generate(&p, "250000", "2");
    let mut child = p.command(&["run", "p.toml", "--quiet"]).spawn().unwrap();
    let started = Instant::now();
    while temp_files(&p).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no temporary file appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed; use more data"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50)); // let it write some batches
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed; use more data"
    );
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    assert_eq!(
        std::fs::read(&output).unwrap(),
        before,
        "the final file changed"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        state_before,
        "the killed stage was recorded"
    );
    assert_eq!(
        temp_files(&p).len(),
        1,
        "the killed run's temporary file, under its temporary name"
    );

    let run = p.run(&["run", "p.toml", "--json", "--quiet"]);
    let summary = run.json();
    assert_eq!(summary["stages"][0]["status"], "ran");
    assert_eq!(summary["stages"][0]["rows"], 250000);
    assert!(
        temp_files(&p).is_empty(),
        "stale temporary files were not removed"
    );
}
