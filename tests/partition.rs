//! Partitioned scoring: `run --partition I/N` on each of N hash partitions, then `merge`,
//! gives what one run over every customer gives.

mod common;

use std::path::Path;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
use common::Project;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A Parquet table, its rows sorted by `customer_id`.
fn sorted_table(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let all = concat_batches(&schema, &batches).unwrap();
    let ids = all.column_by_name("customer_id").unwrap();
    let order = sort_to_indices(ids, None, None).unwrap();
    take_record_batch(&all, &order).unwrap()
}

/// The quickstart run up to its segments, which writes the models the scoring applies.
fn quickstart_fitted() -> Project {
    Project::quickstart_run_to("segment_customers")
}

#[test]
fn four_partitions_merged_equal_one_run_over_every_customer() {
    let p = quickstart_fitted();
    let run = p.run(&["run", "pipelines/scoring.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let outputs = [
        "out/scoring/features.parquet",
        "out/scoring/segments.parquet",
    ];
    let whole: Vec<RecordBatch> = outputs.iter().map(|o| sorted_table(&p.path(o))).collect();
    assert_eq!(whole[1].num_rows(), 3000);
    for o in outputs {
        std::fs::remove_file(p.path(o)).unwrap();
    }

    let mut sizes = Vec::new();
    for i in 0..4 {
        let part = format!("{i}/4");
        let run = p.run(&[
            "run",
            "pipelines/scoring.toml",
            "--partition",
            &part,
            "--json",
        ]);
        let summary = run.json();
        assert_eq!(summary["ok"], true);
        let part_file = p.path(&format!("out/scoring/segments.part-{i}-of-4.parquet"));
        sizes.push(sorted_table(&part_file).num_rows());
    }
    // The hash spreads the 3,000 customers: no part is empty or holds most of them.
    assert_eq!(sizes.iter().sum::<usize>(), 3000);
    assert!(
        sizes.iter().all(|&s| (500..=1000).contains(&s)),
        "{sizes:?}"
    );

    let run = p.run(&[
        "merge",
        "pipelines/scoring.toml",
        "--partitions",
        "4",
        "--json",
    ]);
    let summary = run.json();
    assert!(
        run.stderr().contains("3000 customer(s) from 4 part(s)"),
        "{}",
        run.stderr()
    );
    let merged = summary["outputs"].as_array().unwrap();
    assert_eq!(merged.len(), 2);
    for output in merged {
        assert_eq!(output["customers"], 3000);
        let parts: Vec<usize> = output["rows_per_part"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(parts, sizes);
    }
    for (o, whole) in outputs.iter().zip(&whole) {
        let merged = sorted_table(&p.path(o));
        assert_eq!(merged.schema(), whole.schema(), "{o}");
        // Arrow compares the values' bytes: the same bits, row for row, column for column.
        assert!(
            merged == *whole,
            "{o}: the merged parts differ from the whole run"
        );
    }

    // A second partitioned run finds its outputs up to date, per partition.
    let run = p.run(&[
        "run",
        "pipelines/scoring.toml",
        "--partition",
        "2/4",
        "--json",
    ]);
    let summary = run.json();
    for stage in summary["stages"].as_array().unwrap() {
        assert_eq!(stage["status"], "skipped", "{stage}");
    }

    // A missing part: the merge names it and writes nothing.
    std::fs::remove_file(p.path(outputs[1])).unwrap();
    std::fs::remove_file(p.path("out/scoring/segments.part-3-of-4.parquet")).unwrap();
    let run = p.run(&[
        "merge",
        "pipelines/scoring.toml",
        "--partitions",
        "4",
        "--stage",
        "segments",
        "--json",
    ]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("part 3 of 4 is missing"),
        "{}",
        run.stderr()
    );
    let summary: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(summary["ok"], false);
    assert!(summary["error"]
        .as_str()
        .unwrap()
        .contains("part 3 of 4 is missing"));
    assert!(!p.path(outputs[1]).exists());
    // Parts of another partitioning: part 0 of 4 is no part of 2.
    let run = p.run(&[
        "merge",
        "pipelines/scoring.toml",
        "--partitions",
        "2",
        "--stage",
        "features",
    ]);
    assert_ne!(run.code(), 0);
}

#[test]
fn only_stages_that_apply_a_model_row_by_row_run_on_a_partition() {
    let p = quickstart_fitted();
    // The quickstart fits: refused before anything runs, naming the stage.
    let run = p.run(&["run", "pipelines/quickstart.toml", "--partition", "0/2"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("stage `ingest_customers`"),
        "{}",
        run.stderr()
    );
    assert!(!p
        .path("out/quickstart/customers.part-0-of-2.parquet")
        .exists());
    // A preprocess stage that fits.
    let scoring = std::fs::read_to_string(p.path("pipelines/scoring.toml")).unwrap();
    p.write(
        "pipelines/fit.toml",
        scoring
            .replacen("mode = \"apply\"", "mode = \"fit\"", 1)
            .replace(", state = \"../out/quickstart/preprocess_state.json\"", "")
            .replace(
                "outputs = { features = \"features.parquet\" }",
                "outputs = { features = \"features.parquet\", state = \"state.json\" }",
            ),
    );
    let run = p.run(&["run", "pipelines/fit.toml", "--partition", "0/2"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("stage `features` fits a model"),
        "{}",
        run.stderr()
    );

    // A segment stage in apply mode that also writes profiles: they describe the whole
    // population, so a partition cannot write them.
    p.write(
        "pipelines/profiles.toml",
        scoring.replace(
            "outputs = { assignments = \"segments.parquet\" }",
            "outputs = { assignments = \"segments.parquet\", profiles = \"profiles.json\" }",
        ),
    );
    let run = p.run(&["run", "pipelines/profiles.toml", "--partition", "1/3"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("output `profiles` describes the whole population"),
        "{}",
        run.stderr()
    );

    // Not a partition.
    for bad in ["3/3", "1/0", "one/two"] {
        let run = p.run(&["run", "pipelines/scoring.toml", "--partition", bad]);
        assert_eq!(run.code(), 2, "{bad}");
        assert!(run.stderr().contains("I/N"), "{}", run.stderr());
    }
}
