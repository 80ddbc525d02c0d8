//! `clientele export-sql`: the exported query, run in DuckDB (and Spark, where Java is),
//! gives the stage's own output: every segment label equal, every feature and distance
//! within 1e-9, and every item-based recommendation list equal with the same score bits,
//! on the real credit-card and bank-marketing data (`../shared/data/`) and on generated
//! data.

mod common;
use common::Project;
use std::path::{Path, PathBuf};

use common::{check_query as compare_by, export_sql};

/// An engine's result of `query` against `reference` (see scale/check_query.py).
fn compare(python: &str, engine: &str, query: &Path, reference: &Path) -> serde_json::Value {
    compare_by(python, engine, query, reference, &[])
}

/// Every row and column there, labels equal, doubles within 1e-9.
fn assert_same(result: &serde_json::Value, rows: u64) {
    assert_eq!(result["reference_rows"], rows, "{result}");
    assert_eq!(result["query_rows"], rows, "{result}");
    assert_eq!(result["missing_ids"], 0, "{result}");
    assert_eq!(result["extra_ids"], 0, "{result}");
    assert_eq!(
        result["missing_columns"].as_array().unwrap().len(),
        0,
        "{result}"
    );
    for (column, n) in result["mismatches"].as_object().unwrap() {
        assert_eq!(n, 0, "column {column}: {result}");
    }
    let diffs = result["max_abs_diff"].as_object().unwrap();
    assert!(!diffs.is_empty(), "{result}");
    for (column, d) in diffs {
        assert!(d.as_f64().unwrap() <= 1e-9, "column {column}: {result}");
    }
}

/// An engine's item-based lists from `query` against the stage's `item_knn` lists in
/// `by_method`, matched by customer and rank.
fn compare_lists(python: &str, engine: &str, query: &Path, by_method: &Path) -> serde_json::Value {
    compare_method_lists(python, engine, query, by_method, "item_knn")
}

/// An engine's lists from `query` against the stage's lists of `method` in `by_method`.
fn compare_method_lists(
    python: &str,
    engine: &str,
    query: &Path,
    by_method: &Path,
    method: &str,
) -> serde_json::Value {
    compare_by(
        python,
        engine,
        query,
        by_method,
        &[
            "--key",
            "customer_id,rank",
            "--where",
            &format!("method={method}"),
        ],
    )
}

/// The same lists: every (customer, rank) on both sides once, the same product, and the
/// score with the same bits. Returns the number of recommendations.
fn assert_same_lists(result: &serde_json::Value) -> u64 {
    assert_same_lists_within(result, 0.0)
}

/// The same lists, scores within `tolerance`.
fn assert_same_lists_within(result: &serde_json::Value, tolerance: f64) -> u64 {
    let rows = result["reference_rows"].as_u64().unwrap();
    assert_eq!(result["query_rows"], rows, "{result}");
    for key in ["duplicate_ids", "missing_ids", "extra_ids"] {
        assert_eq!(result[key], 0, "{key}: {result}");
    }
    assert_eq!(result["missing_columns"], serde_json::json!([]), "{result}");
    assert_eq!(result["mismatches"]["product"], 0, "{result}");
    assert_eq!(result["mismatches"]["method"], 0, "{result}");
    assert!(
        result["max_abs_diff"]["score"].as_f64().unwrap() <= tolerance,
        "{result}"
    );
    rows
}

/// The quickstart's propensity models exported for `engine` (`dialect`) give the stage's
/// propensity lists (the same products in the same order, probabilities within 1e-12:
/// `EXP` may differ in its last bit from Rust's) and every candidate's probability
/// within 1e-12. Returns the number of list rows and of probabilities.
fn assert_propensity_exports(python: &str, engine: &str, p: &Project) -> (u64, u64) {
    let dir = p.path("");
    let pipeline = "pipelines/quickstart.toml";
    let stage = "recommend_products";
    let lists = export_sql(
        &dir,
        pipeline,
        stage,
        engine,
        "propensity.sql",
        &["--method", "propensity"],
    );
    let by_method = p.path("out/quickstart/recommendations_by_method.parquet");
    let result = compare_method_lists(python, engine, &lists, &by_method, "propensity");
    eprintln!("{engine} propensity lists: {result}");
    let list_rows = assert_same_lists_within(&result, 1e-12);
    let probabilities = export_sql(
        &dir,
        pipeline,
        stage,
        engine,
        "probabilities.sql",
        &["--probabilities"],
    );
    let reference = p.path("out/quickstart/propensity_probabilities.parquet");
    let result = compare_by(
        python,
        engine,
        &probabilities,
        &reference,
        &["--key", "customer_id,product"],
    );
    eprintln!("{engine} propensity probabilities: {result}");
    (list_rows, common::assert_same_probabilities(&result, 1e-12))
}

/// The quickstart's propensity models exported one product at a time (`--probabilities
/// --product ID`), run on `engine` in one session into one table of probabilities, give
/// every candidate's probability within 1e-12; the lists written from that table
/// (`--method propensity --from-probabilities`) are the stage's. This is how an engine
/// that cannot plan all 20 products' trees in one query (Spark) runs them. Returns the
/// number of list rows and of probabilities.
fn assert_propensity_exports_by_product(python: &str, engine: &str, p: &Project) -> (u64, u64) {
    let dir = p.path("");
    let pipeline = "pipelines/quickstart.toml";
    let stage = "recommend_products";
    let model: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path("out/quickstart/recommend_model.json")).unwrap(),
    )
    .unwrap();
    let products: Vec<&str> = model["eligibility"]["recommendable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|product| product.as_str().unwrap())
        .collect();
    assert!(products.len() >= 10, "{products:?}");
    let queries: Vec<PathBuf> = products
        .iter()
        .map(|product| {
            export_sql(
                &dir,
                pipeline,
                stage,
                engine,
                &format!("{engine}_{product}.sql"),
                &["--probabilities", "--product", product],
            )
        })
        .collect();
    let one = std::fs::read_to_string(&queries[0]).unwrap();
    assert!(!one.contains("UNION ALL"), "one product, one SELECT: {one}");
    let written = p.path(&format!("{engine}_probabilities.parquet"));
    let mut extra: Vec<&str> = vec!["--key", "customer_id,product"];
    for query in &queries[1..] {
        extra.extend(["--union", query.to_str().unwrap()]);
    }
    extra.extend(["--write", written.to_str().unwrap()]);
    let reference = p.path("out/quickstart/propensity_probabilities.parquet");
    let result = compare_by(python, engine, &queries[0], &reference, &extra);
    eprintln!("{engine} propensity probabilities, product by product: {result}");
    let probabilities = common::assert_same_probabilities(&result, 1e-12);
    let lists = export_sql(
        &dir,
        pipeline,
        stage,
        engine,
        &format!("{engine}_lists.sql"),
        &[
            "--method",
            "propensity",
            "--from-probabilities",
            written.to_str().unwrap(),
        ],
    );
    let by_method = p.path("out/quickstart/recommendations_by_method.parquet");
    let result = compare_method_lists(python, engine, &lists, &by_method, "propensity");
    eprintln!("{engine} propensity lists from its probabilities: {result}");
    (assert_same_lists_within(&result, 1e-12), probabilities)
}

fn export(dir: &Path, pipeline: &str, stage: &str, dialect: &str, out: &str) -> PathBuf {
    export_sql(dir, pipeline, stage, dialect, out, &[])
}

/// The quickstart copied and run up to its segments: the state files export-sql reads.
fn quickstart_segmented() -> Project {
    Project::quickstart_run_to("segment_customers")
}

/// The quickstart with every kind of eligibility rule (its catalogue's age and income
/// minimums, plus age maximums and segment exclusions), run through its recommend stage.
fn quickstart_with_rules() -> Project {
    let p = Project::quickstart_copy();
    let catalogue = std::fs::read_to_string(p.path("data/products.csv")).unwrap();
    let mut lines = catalogue.lines();
    let mut text = format!("{},max_age,excluded_segments\n", lines.next().unwrap());
    for line in lines {
        let extra = match line.split(',').next().unwrap() {
            "mortgage" => "60,",
            "personal_loan" => "70,1",
            "premium_card" => ",0",
            "investment_funds" => ",1;2",
            _ => ",",
        };
        text.push_str(&format!("{line},{extra}\n"));
    }
    p.write("data/products.csv", text);
    p.run_quickstart_to("recommend_products");
    p
}

#[test]
fn quickstart_recommendations_exported_to_sql_give_the_same_lists_in_duckdb() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let p = quickstart_with_rules();
    let model: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path("out/quickstart/recommend_model.json")).unwrap(),
    )
    .unwrap();
    let rules = model["eligibility"]["rules"].to_string();
    assert!(rules.contains(r#""at_most":{"age":60.0}"#), "{rules}");
    assert!(rules.contains(r#""excluded_segments":[1,2]"#), "{rules}");
    let query = export(
        &p.path(""),
        "pipelines/quickstart.toml",
        "recommend_products",
        "duckdb",
        "recommend.sql",
    );
    let by_method = p.path("out/quickstart/recommendations_by_method.parquet");
    let rows = assert_same_lists(&compare_lists(&python, "duckdb", &query, &by_method));
    assert!(rows > 10_000, "{rows} recommendations");
    // The query joins the tables the rules read: the customers and the segments.
    let text = std::fs::read_to_string(&query).unwrap();
    for table in [
        "split_train.parquet",
        "customers.parquet",
        "segments.parquet",
    ] {
        assert!(text.contains(table), "{table}: {text}");
    }
    // The propensity models: their trees as nested CASE, through the Platt curves.
    let (lists, probabilities) = assert_propensity_exports(&python, "duckdb", &p);
    assert!(
        lists > 10_000 && probabilities > 20_000,
        "{lists} list rows, {probabilities} probabilities"
    );
    // The same one product at a time, and the lists from the probabilities' table.
    assert_eq!(
        assert_propensity_exports_by_product(&python, "duckdb", &p),
        (lists, probabilities)
    );
}

#[test]
fn real_bank_marketing_recommendations_give_the_same_lists_in_duckdb() {
    // Three real products (housing loan, personal loan, term deposit) under age, balance
    // and segment rules on the 45,211 clients.
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let Some(dir) = common::run_committed_pipeline("bank_recommend", "sql_bank_recommend", &[])
    else {
        return;
    };
    let query = export(
        &dir,
        "bank_recommend.toml",
        "recommend",
        "duckdb",
        "recommend.sql",
    );
    let result = compare_lists(
        &python,
        "duckdb",
        &query,
        &dir.join("out/by_method.parquet"),
    );
    assert!(assert_same_lists(&result) > 5_000, "{result}");
}

#[test]
fn exact_ties_go_to_the_more_popular_product_in_sql_as_in_the_stage() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let p = Project::new();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/item_knn_ties");
    for file in ["holdings.csv", "pipeline.toml"] {
        p.write(file, std::fs::read(fixture.join(file)).unwrap());
    }
    let run = p.run(&["run", "pipeline.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let query = export(
        &p.path(""),
        "pipeline.toml",
        "recommend",
        "duckdb",
        "ties.sql",
    );
    let by_method = p.path("out/by_method.parquet");
    assert_eq!(
        assert_same_lists(&compare_lists(&python, "duckdb", &query, &by_method)),
        7
    );
    // The tie the fixture is made for, in the stage's own list.
    let script = "import sys, duckdb; print(duckdb.sql(f\"SELECT product FROM '{sys.argv[1]}' WHERE method = 'item_knn' AND customer_id = 'T6' ORDER BY rank\").fetchall())";
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(&by_method)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listed.trim(),
        "[('b_common',), ('a_rare',)]",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_quickstart_exported_to_sql_gives_the_same_features_and_segments_in_duckdb() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let p = quickstart_segmented();
    let dir = p.path("");
    let features = export(
        &dir,
        "pipelines/quickstart.toml",
        "preprocess_customers",
        "duckdb",
        "features.sql",
    );
    assert_same(
        &compare(
            &python,
            "duckdb",
            &features,
            &p.path("out/quickstart/features.parquet"),
        ),
        3000,
    );
    let segments = export(
        &dir,
        "pipelines/quickstart.toml",
        "segment_customers",
        "duckdb",
        "segments.sql",
    );
    let result = compare(
        &python,
        "duckdb",
        &segments,
        &p.path("out/quickstart/segments.parquet"),
    );
    assert_same(&result, 3000);
    assert!(result["mismatches"].get("segment").is_some(), "{result}");
    // The query names nothing it was not given: the fitted file's path, and no other.
    let text = std::fs::read_to_string(&segments).unwrap();
    assert!(text.contains("read_parquet("), "{text}");
    assert!(text.contains("customers.parquet"), "{text}");
}

#[test]
fn real_credit_card_data_segments_equal_in_duckdb() {
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let Some(dir) = common::run_committed_pipeline("cc_general", "sql_cc_general", &[]) else {
        return;
    };
    let features = export(
        &dir,
        "cc_general.toml",
        "preprocess",
        "duckdb",
        "features.sql",
    );
    assert_same(
        &compare(
            &python,
            "duckdb",
            &features,
            &dir.join("out/features.parquet"),
        ),
        8950,
    );
    let segments = export(&dir, "cc_general.toml", "segment", "duckdb", "segments.sql");
    assert_same(
        &compare(
            &python,
            "duckdb",
            &segments,
            &dir.join("out/segments.parquet"),
        ),
        8950,
    );
}

#[test]
fn real_bank_marketing_preprocessing_equals_in_duckdb() {
    // Robust and min-max scaling, one-hot with rare categories pooled into `other`,
    // ordinal codes, winsorising with signed log1p: every rule the state can hold.
    let Some(python) = common::python(&["duckdb", "pyarrow"]) else {
        return;
    };
    let Some(dir) = common::run_committed_pipeline("bank_full", "sql_bank_full", &[]) else {
        return;
    };
    for stage in ["robust", "minmax", "winsor"] {
        let query = export(
            &dir,
            "bank_full.toml",
            stage,
            "duckdb",
            &format!("{stage}.sql"),
        );
        assert_same(
            &compare(
                &python,
                "duckdb",
                &query,
                &dir.join(format!("out/{stage}.parquet")),
            ),
            45211,
        );
    }
}

#[test]
fn export_errors_name_the_stage_and_ansi_needs_a_table() {
    let p = Project::quickstart_copy();
    // Runs `export-sql` on the quickstart with `args`; asserts the exit code and that the
    // output (stderr on failure, the query on success) contains `needle`.
    let export = |args: &[&str], code: i32, needle: &str| {
        let run = p.run(&[&["export-sql", "pipelines/quickstart.toml"], args].concat());
        assert_eq!(run.code(), code, "{}", run.stderr());
        let out = if code == 0 {
            run.stdout()
        } else {
            run.stderr()
        };
        assert!(out.contains(needle), "{out}");
    };
    export(&["--stage", "nope"], 1, "no stage named `nope`");
    export(
        &["--stage", "evaluate"],
        1,
        "export-sql writes preprocess, K-Means segment and recommend stages",
    );
    // Not fitted yet: the model file is missing, and the message names it.
    export(
        &["--stage", "recommend_products"],
        1,
        "recommend_model.json",
    );
    export(
        &[
            "--stage",
            "segment_customers",
            "--customers",
            "bank.customers",
        ],
        1,
        "are for a recommend stage; stage `segment_customers` is a Segment stage",
    );
    export(
        &["--stage", "segment_customers", "--method", "propensity"],
        1,
        "are for a recommend stage",
    );
    // Lists are normalised over every candidate: one product's is a probability only.
    export(
        &["--stage", "recommend_products", "--product", "mortgage"],
        1,
        "--product needs --probabilities",
    );
    export(
        &[
            "--stage",
            "recommend_products",
            "--from-probabilities",
            "probabilities.parquet",
        ],
        1,
        "give it with --method propensity, without --probabilities",
    );
    // Not fitted yet: the state file is missing, and the message names it.
    export(
        &["--stage", "preprocess_customers"],
        1,
        "preprocess_state.json",
    );
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--quiet",
        "--stage",
        "preprocess_customers",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let preprocess = ["--stage", "preprocess_customers", "--dialect"];
    export(
        &[&preprocess[..], &["ansi"]].concat(),
        1,
        "give a table name",
    );
    export(
        &[&preprocess[..], &["ansi", "--from", "bank.customers"]].concat(),
        0,
        "FROM bank.customers",
    );
    export(&[&preprocess[..], &["spark"]].concat(), 0, "parquet.`");
}

#[test]
fn the_quickstart_exported_for_spark_gives_the_same_segments_and_lists_on_spark() {
    if !common::java() {
        eprintln!("skipped: no Java runtime (`java -version` failed); Spark needs Java 17");
        return;
    }
    let Some(python) = common::python(&["pyspark", "pyarrow"]) else {
        return;
    };
    let p = quickstart_with_rules();
    let dir = p.path("");
    for (stage, reference, rows) in [
        (
            "preprocess_customers",
            "out/quickstart/features.parquet",
            3000,
        ),
        ("segment_customers", "out/quickstart/segments.parquet", 3000),
    ] {
        let query = export(
            &dir,
            "pipelines/quickstart.toml",
            stage,
            "spark",
            &format!("{stage}.sql"),
        );
        assert_same(&compare(&python, "spark", &query, &p.path(reference)), rows);
    }
    let query = export(
        &dir,
        "pipelines/quickstart.toml",
        "recommend_products",
        "spark",
        "recommend.sql",
    );
    let by_method = p.path("out/quickstart/recommendations_by_method.parquet");
    let rows = assert_same_lists(&compare_lists(&python, "spark", &query, &by_method));
    assert!(rows > 10_000, "{rows} recommendations");
    // The propensity models, one product at a time (Spark cannot plan the 2,000 trees
    // of all 20 in one query), then the lists from the probabilities Spark wrote.
    let (lists, probabilities) = assert_propensity_exports_by_product(&python, "spark", &p);
    assert!(
        lists > 10_000 && probabilities > 20_000,
        "{lists} list rows, {probabilities} probabilities"
    );
}
