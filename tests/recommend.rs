//! End-to-end tests of the recommend stage: hand-made holdings where each method's right
//! answer is known, then the quickstart (split, eligibility, determinism, quality
//! against the popularity baseline), then bad input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use clientele_numeric::ranking::ranking_metrics;
use clientele_recommend::model::PropensityInput;
use common::Project;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Every row of a Parquet file, as column name → value text.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let options = FormatOptions::default();
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            out.push(
                batch
                    .schema()
                    .fields()
                    .iter()
                    .zip(&formatters)
                    .map(|(f, fmt)| (f.name().clone(), fmt.value(r).to_string()))
                    .collect(),
            );
        }
    }
    out
}

/// Ranked lists by customer, from rows with `customer_id`, `rank`, `product`.
fn lists(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, Vec<String>> {
    let mut ranked: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for r in rows {
        ranked
            .entry(r["customer_id"].clone())
            .or_default()
            .push((r["rank"].parse().unwrap(), r["product"].clone()));
    }
    ranked
        .into_iter()
        .map(|(c, mut l)| {
            l.sort();
            (c, l.into_iter().map(|(_, p)| p).collect())
        })
        .collect()
}

/// Each method's lists, from the `by_method` output.
fn method_lists(path: &Path) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut by: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for r in rows(path) {
        by.entry(r["method"].clone()).or_default().push(r);
    }
    by.into_iter().map(|(m, r)| (m, lists(&r))).collect()
}

/// Products by customer, from rows with `customer_id`, `product`.
fn pairs(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r["customer_id"].clone())
            .or_default()
            .insert(r["product"].clone());
    }
    out
}

/// Customers and what they hold, with the answer of each method known for `q` and `r`:
/// - `u1..u5` hold a, b, c, x; `q` and `r` hold a, b; `z1..z8` hold d only.
/// - Segment 0 is the u's, q and r; segment 1 the z's.
/// - In feature space q sits with the z's, r with the u's.
/// - x needs age ≥ 30 (q is 25, r is 40); c is never offered to segment 1.
fn hand_made() -> Project {
    let p = Project::new();
    let mut holdings = String::from("customer_id,product\n");
    let mut segments = String::from("customer_id,segment\n");
    let mut features = String::from("customer_id,f1,f2\n");
    let mut customers = String::from("customer_id,age,income\n");
    for i in 1..=5 {
        for product in ["a", "b", "c", "x"] {
            holdings += &format!("u{i},{product}\n");
        }
        segments += &format!("u{i},0\n");
        features += &format!("u{i},10.0,10.{i}\n");
        customers += &format!("u{i},45,50000\n");
    }
    for i in 1..=8 {
        holdings += &format!("z{i},d\n");
        segments += &format!("z{i},1\n");
        features += &format!("z{i},0.0,0.0\n");
        customers += &format!("z{i},35,30000\n");
    }
    for (id, age, f) in [("q", 25, "0.0,0.0"), ("r", 40, "10.0,10.0")] {
        holdings += &format!("{id},a\n{id},b\n");
        segments += &format!("{id},0\n");
        features += &format!("{id},{f}\n");
        customers += &format!("{id},{age},20000\n");
    }
    p.write("data/holdings.csv", holdings);
    p.write("data/segments.csv", segments);
    p.write("data/features.csv", features);
    p.write("data/customers.csv", customers);
    p.write(
        "data/products.csv",
        "product_id,name,min_age,excluded_segments\na,Product A,,\nb,Product B,,\nc,Product C,,1\nd,Product D,,\nx,Product X,30,\n",
    );
    let ingest = |name: &str, columns: &str, one_row: bool| {
        ingest_stage(&format!("ingest_{name}"), name, name, columns, one_row)
    };
    let mut text = String::from("[pipeline]\nname = \"hand\"\noutput_dir = \"../out\"\nseed = 7\n");
    text += &ingest("holdings", "product = \"string\"", false);
    text += &ingest("segments", "segment = \"int\"", true);
    text += &ingest("features", "f1 = \"float\", f2 = \"float\"", true);
    text += &ingest("customers", "age = \"int\", income = \"float\"", true);
    text += r#"
[[stage]]
name = "recommend"
kind = "recommend"
inputs = { holdings = "holdings.parquet", features = "features.parquet", assignments = "segments.parquet", customers = "customers.parquet", catalogue = "../data/products.csv" }
outputs = { recommendations = "recommendations.parquet", by_method = "by_method.parquet", model = "model.json" }
[stage.params]
top_k = 3
neighbours = 5
"#;
    p.write("pipelines/hand.toml", text);
    let run = p.run(&["run", "pipelines/hand.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    p
}

#[test]
fn each_method_finds_the_known_answer_on_hand_made_holdings() {
    let p = hand_made();
    let by = method_lists(&p.path("out/by_method.parquet"));
    let first = |method: &str, customer: &str| by[method][customer][0].clone();
    // d is held by 8 of 15 customers, c by 5.
    assert_eq!(first("popularity", "q"), "d");
    // In q's segment, c is held by 5 of 7 and d by none.
    assert_eq!(first("segment_popularity", "q"), "c");
    assert!(!by["segment_popularity"]["q"].contains(&"d".to_string()));
    // q's only neighbours by holdings (sharing a product, holding one q lacks) are the
    // u's, who all hold c and x; x needs age 30 and q is 25.
    assert_eq!(by["user_knn"]["q"], vec!["c"]);
    // r is 40: x is allowed; c and x tie on votes and on popularity: product order.
    assert_eq!(by["user_knn"]["r"], vec!["c", "x"]);
    // c is held with a and b; d never is.
    assert_eq!(by["item_knn"]["q"], vec!["c"]);
    // In feature space q sits with the z's, who hold d.
    assert_eq!(first("content_knn", "q"), "d");
    assert_eq!(first("content_knn", "r"), "c");
    assert_eq!(first("product_profile", "q"), "d");
    assert_eq!(first("product_profile", "r"), "c");

    let recommendations = rows(&p.path("out/recommendations.parquet"));
    let blended = lists(&recommendations);
    let held: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("q", vec!["a", "b", "x"]),
        ("r", vec!["a", "b"]),
        ("z1", vec!["d", "c"]),
    ]);
    for (customer, never) in &held {
        for list in by
            .values()
            .filter_map(|l| l.get(*customer))
            .chain([&blended[*customer]])
        {
            for product in never {
                assert!(
                    !list.contains(&product.to_string()),
                    "{customer} was offered {product}: {list:?}"
                );
            }
        }
    }
    // Reasons say who voted, with counts only.
    let reason = |customer: &str, product: &str| {
        recommendations
            .iter()
            .find(|r| r["customer_id"] == customer && r["product"] == product)
            .map(|r| (r["method"].clone(), r["reason"].clone()))
            .unwrap()
    };
    let (method, text) = reason("r", "x");
    assert!(method.contains("user_knn"), "{method}");
    assert!(!text.is_empty());
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("out/model.json")).unwrap()).unwrap();
    assert_eq!(model["products"].as_array().unwrap().len(), 5);
    assert_eq!(model["tuned"], false);
}

#[test]
fn methods_chooses_what_is_fitted_and_listed() {
    let p = hand_made();
    let all = method_lists(&p.path("out/by_method.parquet"));
    let run = p.run(&[
        "run",
        "pipelines/hand.toml",
        "--quiet",
        "--set",
        r#"recommend.methods=["item_knn", "content_knn"]"#,
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let chosen = method_lists(&p.path("out/by_method.parquet"));
    // Popularity always: the baseline and the fallback.
    assert_eq!(
        chosen.keys().collect::<Vec<_>>(),
        ["content_knn", "item_knn", "popularity"]
    );
    for method in ["content_knn", "item_knn", "popularity"] {
        assert_eq!(chosen[method], all[method], "{method}");
    }
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("out/model.json")).unwrap()).unwrap();
    let text = model.to_string();
    assert!(
        !text.contains("user_knn") && !text.contains("propensity"),
        "{text}"
    );

    // A weight for a method left out, and a method whose input is missing: refused, by key.
    let run = p.run(&[
        "run",
        "pipelines/hand.toml",
        "--quiet",
        "--set",
        r#"recommend.methods=["item_knn"]"#,
        "--set",
        "recommend.weights={user_knn = 1.0}",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("weights: `user_knn` has a weight but is not in `methods`"),
        "{}",
        run.stderr()
    );
    let text = std::fs::read_to_string(p.path("pipelines/hand.toml")).unwrap();
    p.write(
        "pipelines/no_features.toml",
        text.replace("features = \"features.parquet\", ", ""),
    );
    let run = p.run(&[
        "run",
        "pipelines/no_features.toml",
        "--quiet",
        "--set",
        r#"recommend.methods=["content_knn"]"#,
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("methods: `content_knn` needs an input `features`"),
        "{}",
        run.stderr()
    );
}

#[test]
fn reasons_name_the_evidence() {
    let p = hand_made();
    let mut weights = std::fs::read_to_string(p.path("pipelines/hand.toml")).unwrap();
    weights += "weights = { user_knn = 1.0 }\n";
    p.write("pipelines/hand.toml", weights);
    let run = p.run(&["run", "pipelines/hand.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let recommendations = rows(&p.path("out/recommendations.parquet"));
    let q: Vec<_> = recommendations
        .iter()
        .filter(|r| r["customer_id"] == "q")
        .collect();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["product"], "c");
    assert_eq!(q[0]["method"], "user_knn");
    assert_eq!(q[0]["reason"], "held by 5 of your 5 most similar customers");
}

/// An ingest stage of `../data/FILE.csv` into `TABLE.parquet`, with its declared columns.
fn ingest_stage(name: &str, file: &str, table: &str, columns: &str, one_row: bool) -> String {
    format!(
        r#"
[[stage]]
name = "{name}"
kind = "ingest"
inputs = {{ source = "../data/{file}.csv" }}
outputs = {{ table = "{table}.parquet" }}
[stage.params]
one_row_per_customer = {one_row}
columns = {{ {columns} }}
"#
    )
}

/// The recommend stage `recommend` of `pipeline` exported by `export-sql --probabilities`
/// and run in DuckDB (and Spark, where Java is) gives the stage's `probabilities`
/// (within 1e-12: `EXP` may differ from Rust's in the last bit).
fn assert_exported_probabilities(p: &Project, pipeline: &str, probabilities: &str) {
    let mut engines = Vec::new();
    if let Some(python) = common::python(&["duckdb", "pyarrow"]) {
        engines.push(("duckdb", python));
    }
    if common::java() {
        if let Some(python) = common::python(&["pyspark", "pyarrow"]) {
            engines.push(("spark", python));
        }
    }
    for (engine, python) in engines {
        let query = common::export_sql(
            &p.path(""),
            pipeline,
            "recommend",
            engine,
            &format!("probabilities_{engine}.sql"),
            &["--probabilities"],
        );
        let result = common::check_query(
            &python,
            engine,
            &query,
            &p.path(probabilities),
            &["--key", "customer_id,product"],
        );
        eprintln!("{pipeline} exported, in {engine}: {result}");
        let rows = common::assert_same_probabilities(&result, 1e-12);
        assert!(rows > 100, "{engine}: {result}");
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (the proleptic Gregorian calendar).
fn iso_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A loyalty card taken in the month a customer's first year completes, over five
/// monthly snapshots: with `ages`, the recommend stage reads the customer table's
/// `customer_since` dates, learns each transition from the tenure at its start and
/// scores at the scored snapshot's, and ranks next month's takers first.
#[test]
fn ages_are_taken_as_of_each_snapshot() {
    let p = Project::new();
    let n = 600;
    let first = 20_454; // 2026-01-01
    let day = |i: i64| first + 30 * i;
    let mut customers = String::from("customer_id,customer_since\n");
    let mut features = String::from("customer_id,noise\n");
    let mut holdings = String::from("customer_id,product,snapshot\n");
    for c in 0..n {
        let since = day(0) - c * 731 / n;
        customers += &format!("c{c},{}\n", iso_day(since));
        features += &format!("c{c},{}\n", (c * 37) % 101);
        let mut card = false;
        for i in 0..5 {
            holdings += &format!("c{c},current,{}\n", iso_day(day(i)));
            // A second product, never newly taken, so that each list has two
            // candidates to rank.
            if c % 7 == 0 {
                holdings += &format!("c{c},savings,{}\n", iso_day(day(i)));
            }
            if card {
                holdings += &format!("c{c},loyalty_card,{}\n", iso_day(day(i)));
            }
            let tenure = (day(i) - since) as f64 / 365.25;
            card |= (0.92..1.0).contains(&tenure);
        }
    }
    p.write("data/customers.csv", customers);
    p.write("data/features.csv", features);
    p.write("data/holdings.csv", holdings);
    let pipeline = |ages: &str, customers_input: &str| {
        let ingest = [
            ingest_stage(
                "ingest_customers",
                "customers",
                "customers",
                r#"customer_since = "date""#,
                true,
            ),
            ingest_stage(
                "ingest_features",
                "features",
                "features",
                r#"noise = "float""#,
                true,
            ),
            ingest_stage(
                "ingest_holdings",
                "holdings",
                "holdings",
                r#"product = "string", snapshot = "date""#,
                false,
            ),
        ]
        .concat();
        format!(
            r#"[pipeline]
name = "ages"
output_dir = "../out"
seed = 3
{ingest}
[[stage]]
name = "recommend"
kind = "recommend"
inputs = {{ holdings = "holdings.parquet", features = "features.parquet"{customers_input} }}
outputs = {{ recommendations = "recommendations.parquet", test = "test.parquet", probabilities = "probabilities.parquet", model = "model.json", train = "train.parquet" }}
[stage.params]
split = "temporal"
methods = ["propensity"]
top_k = 1
{ages}
"#
        )
    };
    let with_customers = r#", customers = "customers.parquet""#;
    p.write(
        "pipelines/ages.toml",
        pipeline(
            r#"ages = { customer_since = "years as a customer" }"#,
            with_customers,
        ),
    );
    let run = p.run(&["run", "pipelines/ages.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let taken: BTreeSet<String> = rows(&p.path("out/test.parquet"))
        .into_iter()
        .map(|r| r["customer_id"].clone())
        .collect();
    assert!(taken.len() > 10, "{} takers", taken.len());
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for row in rows(&p.path("out/probabilities.parquet")) {
        if row["product"] == "loyalty_card" {
            scores.push(row["probability"].parse::<f64>().unwrap());
            labels.push(taken.contains(&row["customer_id"]));
        }
    }
    let auc = clientele_numeric::classification::roc_auc(&scores, &labels).unwrap();
    assert!(auc > 0.97, "AUC {auc}");
    let reasons = rows(&p.path("out/recommendations.parquet"));
    let first_taker = reasons
        .iter()
        .find(|r| taken.contains(&r["customer_id"]))
        .unwrap();
    assert!(
        first_taker["reason"].contains("years as a customer 0"),
        "{}",
        first_taker["reason"]
    );

    // The model file's propensity models give every probability again, to the bit, from
    // the inputs they list: the features, what is held at the scored snapshot, the ages.
    let model = clientele_recommend::model::read(&p.path("out/model.json")).unwrap();
    let propensity = model.propensity.as_ref().unwrap();
    let card = model.product_index("loyalty_card").unwrap();
    let scored = day(3);
    let mut checked = 0;
    for row in rows(&p.path("out/probabilities.parquet")) {
        if row["product"] != "loyalty_card" {
            continue;
        }
        let c: i64 = row["customer_id"][1..].parse().unwrap();
        let since = day(0) - c * 731 / n;
        let inputs: Vec<f64> = propensity
            .inputs
            .iter()
            .map(|input| match input {
                PropensityInput::Feature { name } => {
                    assert_eq!(name, "noise");
                    ((c * 37) % 101) as f64
                }
                PropensityInput::Holds { product } => match product.as_str() {
                    "current" => 1.0,
                    "savings" => f64::from(u8::from(c % 7 == 0)),
                    _ => 0.0,
                },
                PropensityInput::Age { column, .. } => {
                    assert_eq!(column, "customer_since");
                    (scored - since) as f64 / 365.25
                }
                PropensityInput::Segment { .. } => unreachable!("no segments given"),
            })
            .collect();
        let probability: f64 = row["probability"].parse().unwrap();
        assert_eq!(
            propensity.products[card].probability(&inputs).to_bits(),
            probability.to_bits(),
            "{}",
            row["customer_id"]
        );
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
    // Exported as SQL, the models give the same probabilities in DuckDB, the ages
    // computed there from the customer table's dates.
    assert_exported_probabilities(&p, "pipelines/ages.toml", "out/probabilities.parquet");
    // And logistic regression's terms (on an unscaled feature: Newton's method stops at
    // the precision of its sums rather than failing).
    p.write(
        "pipelines/ages.toml",
        pipeline(
            "ages = { customer_since = \"years as a customer\" }\npropensity_model = \"logistic\"",
            with_customers,
        ),
    );
    let run = p.run(&["run", "pipelines/ages.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let model = std::fs::read_to_string(p.path("out/model.json")).unwrap();
    assert!(model.contains(r#""kind":"logistic""#), "{}", run.stderr());
    assert_exported_probabilities(&p, "pipelines/ages.toml", "out/probabilities.parquet");

    // Without the customer table to read the dates from, the configuration is refused.
    p.write(
        "pipelines/ages.toml",
        pipeline(r#"ages = { customer_since = "years as a customer" }"#, ""),
    );
    let run = p.run(&["run", "pipelines/ages.toml", "--quiet"]);
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr().contains("`ages` reads date columns"),
        "{}",
        run.stderr()
    );
}

/// A panel of customer snapshots against today's table, where today's would leak: a
/// term deposit taken the month after a customer's `signal` rises, and a deposit balance
/// that is 0 before the deposit and high after. Learnt from today's table (the scored
/// snapshot's rows for every transition), the earlier transitions' takers show today's
/// balance, the consequence of taking the deposit, which the model learns instead of the
/// signal: every customer still to take it has no balance, and the model ranks them no
/// better than chance (AUC 0.500). With the panel, each transition joins its own
/// snapshot's rows, and the model learns the signal (AUC 1.000).
#[test]
fn a_panel_of_features_is_joined_to_each_transition_as_it_was_then() {
    let p = Project::new();
    let n = 600;
    let snapshots = [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
    ];
    // Customer c takes the deposit at transition c % 10 (from snapshot c % 10 to the next).
    let takes_at = |c: usize| c % 10;
    let holds_deposit = |c: usize, i: usize| i > takes_at(c);
    let noise = |c: usize, i: usize| ((c * 37 + i * 11) % 100) as f64 / 100.0;
    let row = |c: usize, i: usize| {
        let signal = if takes_at(c) == i { 1.0 } else { 0.0 } + 0.6 * noise(c, i);
        let balance = if holds_deposit(c, i) { 5_000.0 } else { 0.0 } + 100.0 * noise(c, i + 1);
        format!("c{c},{},{signal},{balance}\n", snapshots[i])
    };
    let mut panel = String::from("customer_id,snapshot,signal,deposit_balance\n");
    let mut today = String::from("customer_id,snapshot,signal,deposit_balance\n");
    let mut holdings = String::from("customer_id,product,snapshot\n");
    for c in 0..n {
        for (i, day) in snapshots.iter().enumerate() {
            holdings += &format!("c{c},current,{day}\n");
            if c % 7 == 0 {
                holdings += &format!("c{c},savings,{day}\n");
            }
            if holds_deposit(c, i) {
                holdings += &format!("c{c},deposit,{day}\n");
            }
            if i <= 3 {
                panel += &row(c, i);
            }
        }
        today += &row(c, 3);
    }
    p.write("data/panel.csv", panel);
    p.write("data/today.csv", today);
    p.write("data/holdings.csv", holdings);
    let auc_with = |customers: &str| {
        let ingest_customers = ingest_stage(
            "ingest_customers",
            customers,
            "customers",
            r#"snapshot = "date""#,
            false,
        );
        let ingest_holdings = ingest_stage(
            "ingest_holdings",
            "holdings",
            "holdings",
            r#"product = "string", snapshot = "date""#,
            false,
        );
        let text = format!(
            r#"[pipeline]
name = "panel"
output_dir = "../out/{customers}"
seed = 3
{ingest_customers}
[[stage]]
name = "preprocess"
kind = "preprocess"
inputs = {{ table = "customers.parquet" }}
outputs = {{ features = "features.parquet", state = "state.json" }}
[stage.params]
passthrough = ["snapshot"]

{ingest_holdings}
[[stage]]
name = "recommend"
kind = "recommend"
inputs = {{ holdings = "holdings.parquet", features = "features.parquet" }}
outputs = {{ recommendations = "recommendations.parquet", test = "test.parquet", probabilities = "probabilities.parquet", model = "model.json", train = "train.parquet" }}
[stage.params]
split = "temporal"
snapshot = "2026-04-30"
methods = ["propensity"]
top_k = 1
"#
        );
        p.write(&format!("pipelines/{customers}.toml"), text);
        let run = p.run(&["run", &format!("pipelines/{customers}.toml"), "--quiet"]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        let out = p.path(&format!("out/{customers}"));
        let taken: BTreeSet<String> = rows(&out.join("test.parquet"))
            .into_iter()
            .map(|r| r["customer_id"].clone())
            .collect();
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for row in rows(&out.join("probabilities.parquet")) {
            if row["product"] == "deposit" {
                scores.push(row["probability"].parse::<f64>().unwrap());
                labels.push(taken.contains(&row["customer_id"]));
            }
        }
        assert_eq!(labels.iter().filter(|&&l| l).count(), n / 10);
        // Exported as SQL, the models read each customer's row as of the scored
        // snapshot from the panel, as the stage did.
        assert_exported_probabilities(
            &p,
            &format!("pipelines/{customers}.toml"),
            &format!("out/{customers}/probabilities.parquet"),
        );
        clientele_numeric::classification::roc_auc(&scores, &labels).unwrap()
    };
    let panel = auc_with("panel");
    let today = auc_with("today");
    eprintln!(
        "deposit AUC: a panel joined to each transition {panel:.3}, today's table {today:.3}"
    );
    assert!(
        panel > 0.95 && today < 0.6,
        "panel {panel}, today's table {today}"
    );
}

/// The quickstart run once, up to its recommend stage.
fn quickstart() -> &'static Project {
    static RUN: std::sync::OnceLock<Project> = std::sync::OnceLock::new();
    RUN.get_or_init(|| Project::quickstart_run_to("recommend_products"))
}

/// The rows of a file of the raw sample, its customer ids as the quickstart's outputs
/// hold them: pseudonymised under the sample's key.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rows = raw_csv_rows(path);
    for row in &mut rows {
        if let Some(id) = row.get_mut("customer_id") {
            *id = common::sample_pseudonym(id);
        }
    }
    rows
}

fn raw_csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn quickstart_temporal_split_is_the_next_snapshots_new_products() {
    let p = quickstart();
    let holdings = csv_rows(&p.path("data/holdings.csv"));
    let at = |snapshot: &str| {
        pairs(
            &holdings
                .iter()
                .filter(|r| r["snapshot"] == snapshot)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    let (september, october) = (at("2026-09-30"), at("2026-10-31"));
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (customer, products) in &october {
        let before = september.get(customer).cloned().unwrap_or_default();
        let new: BTreeSet<String> = products.difference(&before).cloned().collect();
        if !new.is_empty() {
            expected.insert(customer.clone(), new);
        }
    }
    let test = pairs(&rows(&p.path("out/quickstart/split_test.parquet")));
    assert_eq!(test, expected);
    let train = pairs(&rows(&p.path("out/quickstart/split_train.parquet")));
    assert_eq!(train, september);
}

#[test]
fn quickstart_never_recommends_what_is_held_or_not_allowed() {
    let p = quickstart();
    let recommendations = rows(&p.path("out/quickstart/recommendations.parquet"));
    let train = pairs(&rows(&p.path("out/quickstart/split_train.parquet")));
    let customers: BTreeMap<String, BTreeMap<String, String>> =
        csv_rows(&p.path("data/customers.csv"))
            .into_iter()
            .map(|r| (r["customer_id"].clone(), r))
            .collect();
    let products: BTreeMap<String, (f64, f64)> = csv_rows(&p.path("data/products.csv"))
        .into_iter()
        .map(|r| {
            (
                r["product_id"].clone(),
                (
                    r["min_age"].parse().unwrap(),
                    r["min_income"].parse().unwrap(),
                ),
            )
        })
        .collect();
    let mut per_customer: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &recommendations {
        let customer = r["customer_id"].as_str();
        let product = &r["product"];
        *per_customer.entry(customer).or_default() += 1;
        assert!(
            !train.get(customer).is_some_and(|t| t.contains(product)),
            "{customer} already holds {product}"
        );
        let (min_age, min_income) = products[product];
        let number = |column: &str| customers[customer][column].parse::<f64>().ok();
        assert!(
            number("age").is_some_and(|a| a >= min_age),
            "{customer}: {product} needs age {min_age}"
        );
        assert!(
            number("income").is_some_and(|i| i >= min_income),
            "{customer}: {product} needs income {min_income}"
        );
        assert!(!r["reason"].is_empty() && !r["method"].is_empty());
    }
    assert!(per_customer.values().all(|&n| n <= 5));
    assert!(
        per_customer.len() > 2850,
        "{} customers",
        per_customer.len()
    );
    // A customer without a list has no product left that they may be offered.
    for (customer, values) in &customers {
        if per_customer.contains_key(customer.as_str()) {
            continue;
        }
        let number = |column: &str| values[column].parse::<f64>().ok();
        for (product, &(min_age, min_income)) in &products {
            let held = train
                .get(customer.as_str())
                .is_some_and(|t| t.contains(product));
            let allowed = number("age").is_some_and(|a| a >= min_age)
                && number("income").is_some_and(|i| i >= min_income);
            assert!(
                held || !allowed,
                "{customer} could have been offered {product}"
            );
        }
    }
}

#[test]
fn quickstart_blend_beats_the_popularity_baseline() {
    let p = quickstart();
    let relevant = pairs(&rows(&p.path("out/quickstart/split_test.parquet")));
    let hybrid = lists(&rows(&p.path("out/quickstart/recommendations.parquet")));
    let by = method_lists(&p.path("out/quickstart/recommendations_by_method.parquet"));
    let map = |l: &BTreeMap<String, Vec<String>>| ranking_metrics(l, &relevant, 5).map;
    let (ours, popularity) = (map(&hybrid), map(&by["popularity"]));
    assert!(
        ours > popularity * 1.1,
        "MAP@5: blend {ours:.4}, popularity {popularity:.4}"
    );
    // Tuned on the last transition before the test period, the blend never scores below
    // its best single method there: every method alone is a point of the grid.
    let model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("out/quickstart/recommend_model.json")).unwrap(),
    )
    .unwrap();
    let tuning = &model["tuning"];
    assert_eq!(tuning["validation"], "last transition");
    assert_eq!(tuning["applied"], true);
    let best = tuning["best_map"].as_f64().unwrap();
    let mut alone = 0;
    for point in tuning["grid"].as_array().unwrap() {
        let weights = point["weights"].as_object().unwrap();
        if weights.values().any(|w| w.as_f64() == Some(1.0)) {
            alone += 1;
            assert!(best >= point["map_at_k"].as_f64().unwrap(), "{point}");
        }
    }
    assert!(alone >= 5, "{alone} single-method points in the grid");
    // On the test period each method's own list is there to compare with.
    assert!(by.contains_key("propensity"));
}

#[test]
fn same_seed_same_bytes_on_any_number_of_threads() {
    let p = quickstart();
    let outputs = [
        "recommendations.parquet",
        "recommendations_by_method.parquet",
        "split_test.parquet",
        "recommend_model.json",
    ];
    let before: Vec<Vec<u8>> = outputs
        .iter()
        .map(|f| std::fs::read(p.path(&format!("out/quickstart/{f}"))).unwrap())
        .collect();
    let again = Project::quickstart_copy();
    let run = again
        .command(&[
            "run",
            "pipelines/quickstart.toml",
            "--quiet",
            "--stage",
            "recommend_products",
        ])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(run.status.success());
    for (f, bytes) in outputs.iter().zip(&before) {
        assert!(
            &std::fs::read(again.path(&format!("out/quickstart/{f}"))).unwrap() == bytes,
            "{f} differs"
        );
    }
}

#[test]
fn bad_input_names_the_file_and_the_key() {
    let p = hand_made();
    let base = std::fs::read_to_string(p.path("pipelines/hand.toml")).unwrap();
    let cases: [(&str, &str, &str); 4] = [
        (
            "split = \"temporal\"\n",
            "",
            "split = \"temporal\" needs two snapshots",
        ),
        (
            "weights = { content_knn = 1.0 }\n",
            "features = \"features.parquet\", ",
            "weights.content_knn is above 0, but content_knn needs an input `features`",
        ),
        (
            "holdout_fraction = 1.5\n",
            "",
            "holdout_fraction must be between 0 and 1",
        ),
        (
            "",
            "customers = \"customers.parquet\", ",
            "name an input `customers`",
        ),
    ];
    for (extra, removed_input, message) in cases {
        let mut text = base.replace(removed_input, "") + extra;
        if extra.starts_with("split") {
            text = text.replace(
                "outputs = { recommendations",
                "outputs = { test = \"test.parquet\", recommendations",
            );
        }
        p.write("pipelines/bad.toml", text);
        let run = p.run(&["run", "pipelines/bad.toml", "--quiet"]);
        assert_ne!(run.code(), 0);
        assert!(
            run.stderr().contains(message),
            "{message}: {}",
            run.stderr()
        );
        assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    }
    // A catalogue value that is not a number names the line and column.
    p.write("data/products.csv", "product_id,min_age\na,18\nb,old\n");
    let run = p.run(&["run", "pipelines/hand.toml", "--quiet"]);
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr()
            .contains("products.csv` line 3, column `min_age`: is not a number"),
        "{}",
        run.stderr()
    );
}

#[test]
fn wide_holdings_give_the_same_recommendations_as_long_ones() {
    let p = hand_made();
    let long = std::fs::read(p.path("out/recommendations.parquet")).unwrap();
    let held = pairs(&raw_csv_rows(&p.path("data/holdings.csv")));
    let products = ["a", "b", "c", "d", "x"];
    let mut wide = format!("customer_id,{}\n", products.join(","));
    for (customer, set) in &held {
        let flags: Vec<&str> = products
            .iter()
            .map(|q| if set.contains(*q) { "1" } else { "0" })
            .collect();
        wide += &format!("{customer},{}\n", flags.join(","));
    }
    p.write("data/holdings.csv", wide);
    let text = std::fs::read_to_string(p.path("pipelines/hand.toml"))
        .unwrap()
        .replace(
            "one_row_per_customer = false\ncolumns = { product = \"string\" }",
            "one_row_per_customer = true\ncolumns = { a = \"int\", b = \"int\", c = \"int\", d = \"int\", x = \"int\" }",
        )
        .replace("top_k = 3\n", "top_k = 3\nholdings_format = \"wide\"\n");
    p.write("pipelines/hand.toml", text);
    let run = p.run(&["run", "pipelines/hand.toml", "--quiet"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(std::fs::read(p.path("out/recommendations.parquet")).unwrap() == long);
}

#[test]
fn holdout_split_hides_a_fifth_of_each_customers_products() {
    let p = Project::quickstart_copy();
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--quiet",
        "--stage",
        "recommend_products",
        "--set",
        "recommend_products.split=holdout",
        "--set",
        "recommend_products.tune=false",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let october: BTreeMap<String, BTreeSet<String>> = pairs(
        &csv_rows(&p.path("data/holdings.csv"))
            .into_iter()
            .filter(|r| r["snapshot"] == "2026-10-31")
            .collect::<Vec<_>>(),
    );
    let train = pairs(&rows(&p.path("out/quickstart/split_train.parquet")));
    let test = pairs(&rows(&p.path("out/quickstart/split_test.parquet")));
    let recommendations = lists(&rows(&p.path("out/quickstart/recommendations.parquet")));
    let empty = BTreeSet::new();
    for (customer, held) in &october {
        let kept = train.get(customer).unwrap_or(&empty);
        let out = test.get(customer).unwrap_or(&empty);
        assert!(kept.is_disjoint(out));
        assert_eq!(&kept.union(out).cloned().collect::<BTreeSet<_>>(), held);
        let n = held.len();
        let expected = if n < 2 {
            0
        } else {
            ((0.2 * n as f64).round() as usize).clamp(1, n - 1)
        };
        assert_eq!(out.len(), expected, "{customer} holds {n}");
        // What is held out may be recommended; what is kept may not.
        for product in recommendations.get(customer).into_iter().flatten() {
            assert!(!kept.contains(product));
        }
    }
}

/// A pipeline over `products` distinct products in the holdings and `extra` more that
/// only the catalogue names.
fn many_products(products: usize, extra: usize) -> common::Run {
    let p = Project::new();
    let mut holdings = String::from("customer_id,product\n");
    for c in 0..60 {
        for k in 0..4 {
            holdings += &format!("c{c:03},p{:03}\n", (c * 7 + k * 13) % products);
        }
    }
    // Every product held at least once.
    for product in 0..products {
        holdings += &format!("h{product:03},p{product:03}\n");
    }
    p.write("holdings.csv", holdings);
    let mut catalogue = String::from("product_id,name,category\n");
    for product in 0..products + extra {
        catalogue += &format!("p{product:03},Product {product},family\n");
    }
    p.write("products.csv", catalogue);
    p.write(
        "p.toml",
        r#"[pipeline]
name = "many_products"
output_dir = "out"

[[stage]]
name = "ingest"
kind = "ingest"
inputs = { source = "holdings.csv" }
outputs = { table = "holdings.parquet" }

[stage.params]
one_row_per_customer = false
columns = { product = "categorical" }

[[stage]]
name = "recommend"
kind = "recommend"
inputs = { holdings = "holdings.parquet", catalogue = "products.csv" }
outputs = { recommendations = "recommendations.parquet" }
"#,
    );
    p.run(&["run", "p.toml", "--quiet"])
}

#[test]
fn more_products_than_a_basket_holds_is_a_clear_error_not_a_wrap() {
    // 128 products: the most a customer's 128-bit set holds.
    let run = many_products(128, 0);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = many_products(100, 28);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    // 129 with the catalogue's own products, and 300 in the holdings alone.
    let run = many_products(100, 29);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("the holdings and the catalogue name 129 distinct products together; the recommend stage handles at most 128"),
        "{}",
        run.stderr()
    );
    let run = many_products(300, 0);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("holdings.parquet` holds more than 128 distinct products"),
        "{}",
        run.stderr()
    );
}
