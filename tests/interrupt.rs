//! What a run killed at any instant leaves (README, "Nothing lost"; ARCHITECTURE.md,
//! "The output directory"): every set of outputs a reader can see is one that a single
//! run wrote, the next run completes the work and removes what the killed run left, and
//! two runs never write one directory at once.

mod common;
use common::Project;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const ONE_STAGE: &str = r#"[pipeline]
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

/// Two stages of two outputs each, so that a commit publishes a set.
const TWO_STAGES: &str = r#"[pipeline]
name = "sets"
output_dir = "out"

[[stage]]
name = "ingest"
kind = "ingest"
inputs = { source = "data/customers.csv" }
outputs = { table = "customers.parquet", rejects = "rejects.parquet" }

[stage.params]
id_column = "customer_id"
on_error = "quarantine"
columns = { region = "categorical", job = "categorical", marital_status = "categorical", has_children = "bool", last_contact_date = "date" }

[[stage]]
name = "prep"
kind = "preprocess"
inputs = { table = "customers.parquet" }
outputs = { features = "model/features.parquet", state = "model/state.json" }

[stage.params]
drop = ["name", "email", "last_contact_date"]
"#;

fn generate(p: &Project, customers: &str, seed: &str) {
    let run = p.run(&[
        "generate",
        "--customers",
        customers,
        "--seed",
        seed,
        "--snapshots",
        "2",
        "--out",
        "data",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

/// Names of files under `dir` (recursively) that carry the temporary-file marker, or
/// that sit in a staging area.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_link = std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink();
        if name.contains(".clientele-tmp-") {
            found.push(path.display().to_string());
        } else if path.is_dir() && !is_link {
            if name == "staging" {
                for staged in std::fs::read_dir(&path).unwrap().flatten() {
                    found.push(staged.path().display().to_string());
                }
            } else {
                found.extend(leftovers(&path));
            }
        }
    }
    found
}

/// Whether a file being written (named with the temporary-file marker) is under `dir`.
fn writing(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name().to_string_lossy().contains(".clientele-tmp-")
                || (e.file_type().is_ok_and(|t| t.is_dir()) && writing(&e.path()))
        })
    })
}

fn kill_when<F: Fn() -> bool>(child: &mut std::process::Child, ready: F) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the moment to kill never came"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed; use more data"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
}

#[test]
fn killed_run_leaves_the_previous_output_whole() {
    let p = Project::new();
    p.write("p.toml", ONE_STAGE);
    generate(&p, "300", "1");
    assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let output = p.path("out/customers.parquet");
    let state = p.path("out/.clientele/current/state/customers.json");
    let (before, state_before) = (
        std::fs::read(&output).unwrap(),
        std::fs::read(&state).unwrap(),
    );

    generate(&p, "250000", "2");
    let mut child = p.command(&["run", "p.toml", "--quiet"]).spawn().unwrap();
    let out = p.path("out");
    kill_when(&mut child, || writing(&out));
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

    let run = p.run(&["run", "p.toml", "--json", "--quiet"]);
    let summary = run.json();
    assert_eq!(summary["stages"][0]["status"], "ran");
    assert_eq!(summary["stages"][0]["rows"], 250000);
    assert!(
        leftovers(&out).is_empty(),
        "stale temporary files were not removed: {:?}",
        leftovers(&out)
    );
}

/// Per stage: the SHA-256 of each output as a reader finds it under its final name
/// ("absent" if there is none), and of the stage's record.
type Sets = BTreeMap<&'static str, Vec<String>>;

fn sets(p: &Project) -> Sets {
    let hash = |rel: &str| {
        std::fs::read(p.path(rel))
            .map(|bytes| {
                use sha2::Digest;
                sha2::Sha256::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            })
            .unwrap_or_else(|_| "absent".to_string())
    };
    let mut sets = Sets::new();
    sets.insert(
        "ingest",
        vec![hash("out/customers.parquet"), hash("out/rejects.parquet")],
    );
    sets.insert(
        "prep",
        vec![
            hash("out/model/features.parquet"),
            hash("out/model/state.json"),
        ],
    );
    sets
}

/// The outputs' hashes that a stage's record holds, in the order of [`sets`].
fn recorded(p: &Project, stage: &str, ports: &[&str]) -> Option<Vec<String>> {
    let text =
        std::fs::read_to_string(p.path(&format!("out/.clientele/current/state/{stage}.json")))
            .ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(
        ports
            .iter()
            .map(|port| {
                record["outputs_sha256"][port]
                    .as_str()
                    .unwrap_or("absent")
                    .to_string()
            })
            .collect(),
    )
}

/// For each stage, whether it shows the set A or the set B (panicking on a set no run
/// wrote, or on a record that does not describe the outputs shown); `when` names the
/// moment in messages.
fn which_sets(
    p: &Project,
    set_a: &Sets,
    set_b: &Sets,
    when: &str,
) -> Vec<(&'static str, &'static str)> {
    let seen = sets(p);
    let mut labels = Vec::new();
    for (stage, ports) in [
        ("ingest", ["table", "rejects"]),
        ("prep", ["features", "state"]),
    ] {
        let label = if seen[stage] == set_a[stage] {
            "A"
        } else if seen[stage] == set_b[stage] {
            "B"
        } else {
            panic!(
                "{when}: stage `{stage}` shows a set no run wrote: {:?}",
                seen[stage]
            )
        };
        assert_eq!(
            recorded(p, stage, &ports).as_ref(),
            Some(&seen[stage]),
            "{when}: stage `{stage}`'s record does not describe its outputs"
        );
        labels.push((stage, label));
    }
    labels
}

#[test]
fn a_kill_at_any_step_of_any_commit_leaves_only_sets_one_run_wrote() {
    // The sets a whole run writes on the first data (A) and on the second (B).
    let reference = Project::new();
    reference.write("p.toml", TWO_STAGES);
    generate(&reference, "400", "1");
    assert_eq!(reference.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let set_a = sets(&reference);
    generate(&reference, "400", "2");
    assert_eq!(reference.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let set_b = sets(&reference);
    for stage in ["ingest", "prep"] {
        assert_ne!(set_a[stage], set_b[stage], "the two runs must differ");
    }

    // Eight steps per commit, two commits: every step of each.
    let mut outcomes = BTreeMap::new();
    for step in 1..=16 {
        let p = Project::new();
        p.write("p.toml", TWO_STAGES);
        generate(&p, "400", "1");
        assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
        generate(&p, "400", "2");
        let killed = p
            .command(&["run", "p.toml", "--quiet"])
            .env("CLIENTELE_TEST_STOP_AT_COMMIT_STEP", step.to_string())
            .output()
            .unwrap();
        assert!(
            !killed.status.success(),
            "step {step}: the run was not stopped"
        );

        let labels = which_sets(&p, &set_a, &set_b, &format!("step {step}"));
        outcomes.insert(step, labels.iter().map(|(_, l)| *l).collect::<String>());

        // The next run finishes the work, and leaves nothing behind.
        let rerun = p.run(&["run", "p.toml", "--quiet"]);
        assert_eq!(rerun.code(), 0, "step {step}: {}", rerun.stderr());
        assert_eq!(sets(&p), set_b, "step {step}: the rerun did not give B");
        assert!(
            leftovers(&p.path("out")).is_empty(),
            "step {step}: left behind: {:?}",
            leftovers(&p.path("out"))
        );
        let generations = std::fs::read_dir(p.path("out/.clientele/generations"))
            .unwrap()
            .count();
        assert_eq!(generations, 1, "step {step}: old generations left");
    }
    // Before the first switch (step 7) a reader sees A; from it on, the ingest stage's B.
    eprintln!("sets seen after a kill at each commit step: {outcomes:?}");
    assert_eq!(outcomes[&6], "AA");
    assert_eq!(outcomes[&7], "BA");
    assert_eq!(outcomes[&14], "BA");
    assert_eq!(outcomes[&15], "BB");
}

#[test]
fn a_second_run_is_refused_and_a_dead_runs_lock_is_taken_over() {
    let p = Project::new();
    p.write("p.toml", ONE_STAGE);
    generate(&p, "250000", "2");
    let mut first = p.command(&["run", "p.toml", "--quiet"]).spawn().unwrap();
    let pid = first.id();
    let out = p.path("out");
    let started = Instant::now();
    while !writing(&out) {
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = p.run(&["run", "p.toml", "--quiet"]);
    assert_eq!(second.code(), 2, "{}", second.stderr());
    assert!(
        second
            .stderr()
            .contains(&format!("is in use by run {pid} (started")),
        "{}",
        second.stderr()
    );
    kill_when(&mut first, || true);

    let third = p.run(&["run", "p.toml"]);
    assert_eq!(third.code(), 0, "{}", third.stderr());
    assert!(
        third
            .stderr()
            .contains(&format!("took over the lock of run {pid} (started")),
        "{}",
        third.stderr()
    );
    assert!(
        third
            .stderr()
            .contains("temporary file(s) left by a run that was stopped"),
        "{}",
        third.stderr()
    );
    // A clean end leaves no holder: the next run takes no lock over.
    let fourth = p.run(&["run", "p.toml"]);
    assert!(
        !fourth.stderr().contains("took over"),
        "{}",
        fourth.stderr()
    );
}

#[test]
fn leftovers_of_dead_runs_go_whatever_the_run_skips_and_a_live_runs_stay() {
    let p = Project::new();
    p.write("p.toml", TWO_STAGES);
    generate(&p, "300", "1");
    assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
    // Process ids above the kernel's pid_max (at most 2^22) are never running; process 1
    // always is.
    let dead_temp = p.write("out/model/.features.parquet.clientele-tmp-4999999", "x");
    let live_temp = p.write("out/.rejects.parquet.clientele-tmp-1", "x");
    let dead_staging = p.write("out/.clientele/staging/4999999/out/customers.parquet", "x");
    p.write("out/.clientele/staging/4999999/lock", "");
    let orphan_generation = p.write("out/.clientele/generations/999999/out/x", "x");

    let run = p.run(&["run", "p.toml", "--json", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let summary = run.json();
    assert!(
        common::statuses(&summary).values().all(|s| s == "skipped"),
        "{summary}"
    );
    assert!(!dead_temp.exists(), "a dead run's temporary file stayed");
    assert!(!dead_staging.exists(), "a dead run's staging area stayed");
    assert!(!orphan_generation.exists(), "an unused generation stayed");
    if Path::new("/proc/self").exists() {
        assert!(
            live_temp.exists(),
            "a live process's temporary file was removed"
        );
    }
}

#[test]
fn kill_9_at_instants_spread_over_runs_leaves_only_sets_one_run_wrote() {
    // Two data sets, each run once whole: the sets A and B.
    let reference = Project::new();
    reference.write("p.toml", TWO_STAGES);
    generate(&reference, "20000", "1");
    let data_a = std::fs::read(reference.path("data/customers.csv")).unwrap();
    assert_eq!(reference.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let set_a = sets(&reference);
    generate(&reference, "20000", "2");
    let data_b = std::fs::read(reference.path("data/customers.csv")).unwrap();
    let started = Instant::now();
    assert_eq!(reference.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let whole_run = started.elapsed();
    let set_b = sets(&reference);

    // Each run heads for the other data set and is killed part way: after every kill,
    // each stage shows A or B, with the record of what it shows.
    let p = Project::new();
    p.write("p.toml", TWO_STAGES);
    p.write("data/customers.csv", &data_a);
    assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
    const KILLS: u32 = 24;
    let mut seen_labels = std::collections::BTreeSet::new();
    for kill in 0..KILLS {
        let data = if kill % 2 == 0 { &data_b } else { &data_a };
        p.write("data/customers.csv", data);
        let mut child = p.command(&["run", "p.toml", "--quiet"]).spawn().unwrap();
        std::thread::sleep(whole_run * (kill + 1) / (KILLS + 1));
        let _ = child.kill();
        child.wait().unwrap();
        for (stage, label) in which_sets(&p, &set_a, &set_b, &format!("kill {kill}")) {
            seen_labels.insert(format!("{stage}={label}"));
        }
    }
    eprintln!("{KILLS} kills over runs of {whole_run:?}; stages seen: {seen_labels:?}");
    let rerun = p.run(&["run", "p.toml", "--quiet"]);
    assert_eq!(rerun.code(), 0, "{}", rerun.stderr());
    assert!(leftovers(&p.path("out")).is_empty());
}

#[test]
fn a_panic_in_a_stage_is_an_error_naming_it_and_publishes_nothing() {
    let p = Project::new();
    p.write("p.toml", TWO_STAGES);
    generate(&p, "300", "1");
    assert_eq!(p.run(&["run", "p.toml", "--quiet"]).code(), 0);
    let before = sets(&p);
    generate(&p, "300", "2");
    let run = p
        .command(&["run", "p.toml", "--quiet"])
        .env("CLIENTELE_TEST_PANIC_IN_STAGE", "prep")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("internal error in stage `prep`: the test hook CLIENTELE_TEST_PANIC_IN_STAGE at src/kinds.rs"),
        "{stderr}"
    );
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    let after = sets(&p);
    assert_ne!(
        after["ingest"], before["ingest"],
        "the stage before ran and published"
    );
    assert_eq!(
        after["prep"], before["prep"],
        "the panicking stage published"
    );
    assert_eq!(
        recorded(&p, "prep", &["features", "state"]).as_ref(),
        Some(&before["prep"])
    );
    let rerun = p.run(&["run", "p.toml", "--quiet"]);
    assert_eq!(rerun.code(), 0, "{}", rerun.stderr());
}
