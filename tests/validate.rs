//! `clientele validate` rejects each kind of malformed pipeline before running anything,
//! with a message naming the file, the line, the stage and the key, and exit code 2.

mod common;
use common::{line_of, Project};

/// A valid pipeline: `typed` reads what `raw` writes, and is written first on purpose.
const VALID: &str = r#"[pipeline]
name = "test"
output_dir = "out"
seed = 7

[[stage]]
name = "typed"
kind = "ingest"
inputs = { source = "raw.parquet" }
outputs = { table = "typed.parquet" }

[stage.params]
columns = { balance = "float" }

[[stage]]
name = "raw"
kind = "ingest"
inputs = { source = "customers.csv" }
outputs = { table = "raw.parquet" }

[stage.params]
id_column = "id"
batch_rows = 100
"#;

fn project(pipeline: &str) -> Project {
    let p = Project::new();
    p.write("customers.csv", "id,balance\nA1,1.5\nA2,2\n");
    p.write("p.toml", pipeline);
    p
}

/// Validates `pipeline` and returns stderr, asserting exit code 2.
fn rejected(pipeline: &str, extra: &[&str]) -> String {
    let p = project(pipeline);
    let mut args = vec!["validate", "p.toml"];
    args.extend_from_slice(extra);
    let run = p.run(&args);
    assert_eq!(
        run.code(),
        2,
        "stdout: {} stderr: {}",
        run.stdout(),
        run.stderr()
    );
    assert!(!p.path("out").exists(), "validate wrote outputs");
    run.stderr()
}

fn assert_has(stderr: &str, expected: &str) {
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

#[test]
fn a_valid_pipeline_is_ordered_by_its_inputs_not_by_file_order() {
    let p = project(VALID);
    let run = p.run(&["validate", "p.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_has(&run.stdout(), "run order: raw → typed");
}

#[test]
fn unknown_key_in_a_stage() {
    let text = VALID.replace(
        "outputs = { table = \"raw.parquet\" }",
        "outputs = { table = \"raw.parquet\" }\noutput = \"x\"",
    );
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!(
            "p.toml:{}: stage `raw`: unknown key `output`",
            line_of(&text, "output = \"x\"")
        ),
    );
}

#[test]
fn unknown_key_in_params() {
    let text = VALID.replace("batch_rows = 100", "batch_rows = 100\ndelimter = \";\"");
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!(
            "p.toml:{}: stage `raw`: unknown key `delimter`",
            line_of(&text, "delimter")
        ),
    );
}

#[test]
fn unknown_key_in_pipeline_section() {
    let text = VALID.replace("seed = 7", "seed = 7\nsed = 1");
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!("p.toml:{}: unknown key `sed`", line_of(&text, "sed = 1")),
    );
}

#[test]
fn unknown_kind() {
    let text = VALID.replace(
        "name = \"raw\"\nkind = \"ingest\"",
        "name = \"raw\"\nkind = \"ingets\"",
    );
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!("p.toml:{}: stage `raw`, key `kind`: unknown kind `ingets`; expected one of: ingest, preprocess, segment, recommend, evaluate, report", line_of(&text, "ingets")),
    );
}

#[test]
fn missing_required_keys() {
    let text = VALID.replace("name = \"test\"\n", "");
    assert_has(
        &rejected(&text, &[]),
        "p.toml:1: missing required key `name`",
    );

    let text = VALID.replace("name = \"raw\"\nkind = \"ingest\"\n", "name = \"raw\"\n");
    let err = rejected(&text, &[]);
    assert_has(&err, "missing required key `kind`");
    assert_has(&err, "stage `raw`");

    let text = VALID.replace(
        "outputs = { table = \"raw.parquet\" }",
        "outputs = { rejects = \"raw.parquet\" }",
    );
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!(
            "p.toml:{}: stage `raw`, key `outputs.table`: missing required output `table`",
            line_of(&text, "name = \"raw\"") - 1
        ),
    );
}

#[test]
fn wrong_types() {
    let text = VALID.replace("batch_rows = 100", "batch_rows = \"many\"");
    let err = rejected(&text, &[]);
    assert_has(&err, &format!("p.toml:{}: stage `raw`, key `batch_rows`: invalid type: string \"many\", expected usize", line_of(&text, "many")));

    let text = VALID.replace("seed = 7", "seed = \"seven\"");
    assert_has(
        &rejected(&text, &[]),
        &format!(
            "p.toml:{}: key `seed`: invalid type",
            line_of(&text, "seven")
        ),
    );

    let text = VALID.replace(
        "columns = { balance = \"float\" }",
        "columns = { balance = \"money\" }",
    );
    let err = rejected(&text, &[]);
    assert_has(
        &err,
        &format!(
            "p.toml:{}: stage `typed`, key `balance`: unknown variant `money`",
            line_of(&text, "money")
        ),
    );
}

#[test]
fn input_that_nothing_provides() {
    let text = VALID.replace("source = \"raw.parquet\"", "source = \"rwa.parquet\"");
    let err = rejected(&text, &[]);
    assert_has(&err, &format!("p.toml:{}: stage `typed`, key `inputs.source`: no stage writes `rwa.parquet` and there is no such file", line_of(&text, "rwa.parquet")));
}

#[test]
fn two_stages_writing_one_file() {
    let text = VALID.replace(
        "outputs = { table = \"typed.parquet\" }",
        "outputs = { table = \"raw.parquet\" }",
    );
    let err = rejected(&text, &[]);
    assert_has(&err, "`raw.parquet` is also written by stage");
    assert_has(&err, "two stages cannot write one file");
    assert_has(
        &err,
        &format!(
            "p.toml:{}: stage `raw`, key `outputs.table`",
            line_of(&text, "name = \"raw\"") + 3
        ),
    );
}

#[test]
fn a_cycle() {
    let text = VALID.replace(
        "inputs = { source = \"customers.csv\" }",
        "inputs = { source = \"typed.parquet\" }",
    );
    let err = rejected(&text, &[]);
    assert_has(&err, &format!("p.toml:{}: stage `typed`, key `inputs`: the stages `typed`, `raw` read each other's outputs in a cycle", line_of(&text, "[[stage]]")));
}

#[test]
fn unknown_port_and_duplicate_stage_names() {
    let text = VALID.replace(
        "outputs = { table = \"typed.parquet\" }",
        "outputs = { tabel = \"typed.parquet\" }",
    );
    assert_has(&rejected(&text, &[]), &format!("p.toml:{}: stage `typed`, key `outputs.tabel`: unknown output `tabel`; this kind has: table, rejects", line_of(&text, "tabel")));

    let text = VALID.replace("name = \"typed\"", "name = \"raw\"");
    assert_has(
        &rejected(&text, &[]),
        &format!(
            "p.toml:{}: stage `raw`, key `name`: another stage has this name, on line {}",
            line_of(VALID, "name = \"raw\""),
            line_of(&text, "name = \"raw\"")
        ),
    );
}

#[test]
fn quarantine_without_a_rejects_output() {
    let text = VALID.replace(
        "batch_rows = 100",
        "batch_rows = 100\non_error = \"quarantine\"",
    );
    assert_has(
        &rejected(&text, &[]),
        "stage `raw`: params.on_error: \"quarantine\" needs an output named `rejects`",
    );
}

#[test]
fn invalid_toml_syntax_names_the_line() {
    let text = VALID.replace("batch_rows = 100", "batch_rows = ");
    assert_has(
        &rejected(&text, &[]),
        &format!("p.toml:{}:", line_of(&text, "batch_rows =")),
    );
}

#[test]
fn set_overrides_are_checked_like_the_file() {
    assert_has(&rejected(VALID, &["--set", "raw.batch_rows=many"]), "stage `raw`, key `params.batch_rows`: --set raw.batch_rows=many: invalid type: string \"many\", expected usize");
    assert_has(
        &rejected(VALID, &["--set", "raw.bach_rows=5"]),
        "--set raw.bach_rows=5: unknown parameter `bach_rows`",
    );
    assert_has(
        &rejected(VALID, &["--set", "rwa.batch_rows=5"]),
        "stage `rwa`: --set rwa.batch_rows=5: the pipeline has no stage of this name",
    );
    assert_has(
        &rejected(VALID, &["--set", "raw.on_error=quarantine"]),
        "needs an output named `rejects`",
    );

    let p = project(VALID);
    let run = p.run(&[
        "validate",
        "p.toml",
        "--set",
        "raw.batch_rows=5",
        "--set",
        "typed.columns.balance=int",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = p.run(&["validate", "p.toml", "--set", "raw.batch_rows"]);
    assert_eq!(run.code(), 2);
    assert_has(&run.stderr(), "is not STAGE.PARAM=VALUE");
}

#[test]
fn an_output_outside_the_output_directory_or_inside_its_clientele_folder() {
    let outside = VALID.replace(
        "outputs = { table = \"raw.parquet\" }",
        "outputs = { table = \"../raw.parquet\" }",
    );
    let stderr = rejected(&outside, &[]);
    assert_has(
        &stderr,
        "stage `raw`, key `outputs.table`: `../raw.parquet`: an output must be a path inside the pipeline's output_dir",
    );
    let own = VALID.replace(
        "outputs = { table = \"raw.parquet\" }",
        "outputs = { table = \".clientele/raw.parquet\" }",
    );
    let stderr = rejected(&own, &[]);
    assert_has(
        &stderr,
        "`.clientele` inside the output directory is clientele's own",
    );
}

#[test]
fn ranges_are_checked_before_anything_runs() {
    // A huge batch.
    let stderr = rejected(VALID, &["--set", "raw.batch_rows=100000000"]);
    assert_has(&stderr, "batch_rows: must be between 1 and 4194304");
    // Infinity or NaN anywhere in a stage's parameters.
    let with_prep = format!(
        "{VALID}
[[stage]]
name = \"prep\"
kind = \"preprocess\"
inputs = {{ table = \"typed.parquet\" }}
outputs = {{ features = \"features.parquet\", state = \"state.json\" }}

[stage.params.columns.balance]
as = \"numeric\"
outliers = {{ method = \"iqr\", factor = inf, action = \"clip\" }}
"
    );
    let stderr = rejected(&with_prep, &[]);
    assert_has(
        &stderr,
        "stage `prep`, key `params.columns.balance.outliers.factor`: infinity and NaN are not values a parameter can take",
    );
    // A tuning grid of billions of weight vectors.
    let with_recommend = format!(
        "{VALID}
[[stage]]
name = \"recommend\"
kind = \"recommend\"
inputs = {{ holdings = \"typed.parquet\" }}
outputs = {{ recommendations = \"recommendations.parquet\" }}

[stage.params]
tune = true
tune_step = 0.000001
"
    );
    let stderr = rejected(&with_recommend, &[]);
    assert_has(&stderr, "tune_step gives a grid of");
}

#[test]
fn validate_warns_about_direct_identifiers_left_in_clear() {
    // The committed quickstart drops and pseudonymises them: no warning.
    let p = common::Project::quickstart_as_committed();
    let run = p.run(&["validate", "pipelines/quickstart.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!run.stderr().contains("warning:"), "{}", run.stderr());
    // With its privacy settings taken out, both are named.
    let text = std::fs::read_to_string(p.path("pipelines/quickstart.toml")).unwrap();
    let settings = "drop = [\"name\", \"email\"]\n";
    assert!(text.contains(settings));
    p.write("pipelines/quickstart.toml", text.replace(settings, ""));
    let run = p.run(&["validate", "pipelines/quickstart.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let stderr = run.stderr();
    for (column, what) in [("name", "a name"), ("email", "e-mail addresses")] {
        assert_has(
            &stderr,
            &format!("warning: stage `ingest_customers`: column `{column}` looks like a direct identifier ({what}) and is neither dropped nor pseudonymised at ingestion"),
        );
    }
    assert_eq!(stderr.matches("warning:").count(), 2, "{stderr}");
}

#[test]
fn key_files_are_created_only_where_asked_and_never_inside_the_outputs() {
    let p = common::Project::quickstart_as_committed();
    let text = std::fs::read_to_string(p.path("pipelines/quickstart.toml")).unwrap();
    let section =
        "[pipeline.encryption]\nkey_file = \"../.keys/quickstart-parquet.key\"\ncreate = true\n";
    assert!(text.contains(section));
    let with = |replacement: &str| {
        p.write(
            "pipelines/quickstart.toml",
            text.replace(section, replacement),
        );
        p.run(&["validate", "pipelines/quickstart.toml"])
    };
    let run = with(
        "[pipeline.encryption]\nkey_file = \"../out/quickstart/parquet.key\"\ncreate = true\n",
    );
    assert_eq!(run.code(), 2);
    assert_has(&run.stderr(), "key `encryption.key_file`: `");
    assert_has(&run.stderr(), "is inside the output directory");
    let run = with("[pipeline.encryption]\nkey_env = \"SOME_VAR\"\ncreate = true\n");
    assert_eq!(run.code(), 2);
    assert_has(
        &run.stderr(),
        "key `encryption.create`: only a `key_file` can be created",
    );
    // Validate creates nothing, and says what a run will create; a run does, once.
    let run = with(section);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!p.path(".keys").exists());
    assert_has(
        &run.stderr(),
        "note: the first run will create the key file `",
    );
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--stage",
        "ingest_customers",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_has(&run.stderr(), "created the key file `");
    assert_has(&run.stderr(), "quickstart-parquet.key` (mode 0600)");
    let key = std::fs::read(p.path(".keys/quickstart-parquet.key")).unwrap();
    let run = p.run(&[
        "run",
        "pipelines/quickstart.toml",
        "--stage",
        "ingest_customers",
        "--force",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!run.stderr().contains("created the key file"));
    assert_eq!(
        std::fs::read(p.path(".keys/quickstart-parquet.key")).unwrap(),
        key
    );
}
