//! Every kind of bad input names its file, line (or row) and column, never panics, and
//! never leaves a partial table; in quarantine mode bad rows are counted and kept aside.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, StringArray, UInt64Array};
use clientele_ingest::{ingest, ColumnType, IngestError, IngestParams, OnError};
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::stage::{StageContext, StageReport};

fn ctx() -> StageContext<'static> {
    StageContext::plain("test")
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
    fn table(&self) -> PathBuf {
        self.dir.path().join("out/table.parquet")
    }
    fn rejects(&self) -> PathBuf {
        self.dir.path().join("out/rejects.parquet")
    }
    fn run(&self, params: &IngestParams, source: &Path) -> Result<StageReport, IngestError> {
        let rejects = self.rejects();
        let rejects = (params.on_error == OnError::Quarantine).then_some(rejects.as_path());
        ingest(params, source, &self.table(), rejects, None, &ctx())
    }
    /// Runs expecting failure: returns the message, having checked no table was written.
    fn fail(&self, params: &IngestParams, source: &Path) -> String {
        let message = match self.run(params, source) {
            Ok(_) => panic!("ingest of {} succeeded", source.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            !self.table().exists(),
            "a failed ingest left a table: {message}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.path().join("out"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            leftovers.is_empty(),
            "a failed ingest left files: {leftovers:?}"
        );
        message
    }
}

fn params(id: &str) -> IngestParams {
    IngestParams {
        id_column: Some(id.to_string()),
        ..IngestParams::default()
    }
}

fn with_types(mut p: IngestParams, types: &[(&str, ColumnType)]) -> IngestParams {
    p.columns = types
        .iter()
        .map(|(c, t)| (c.to_string(), *t))
        .collect::<BTreeMap<_, _>>();
    p
}

fn quarantine(mut p: IngestParams) -> IngestParams {
    p.on_error = OnError::Quarantine;
    p
}

fn rejects_of(case: &Case) -> Vec<(u64, Option<String>, String)> {
    let batches = ParquetSource::open(&case.rejects(), None)
        .unwrap()
        .read_all()
        .unwrap();
    let mut out = Vec::new();
    for b in batches {
        let line = b.column(1).as_any().downcast_ref::<UInt64Array>().unwrap();
        let column = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        let reason = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            let col = (!column.is_null(i)).then(|| column.value(i).to_string());
            out.push((line.value(i), col, reason.value(i).to_string()));
        }
    }
    out
}

const GOOD: &str = "id,balance,segment\nA1,10.5,x\nA2,20,y\n";

#[test]
fn wrong_number_of_fields_names_the_line() {
    let case = Case::new();
    let src = case.file(
        "c.csv",
        "id,balance,segment\nA1,10.5,x\nA2,20\nA3,1,z,extra\n",
    );
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("c.csv` line 3: expected 3 fields but found 2"),
        "{message}"
    );
}

#[test]
fn unparsable_value_names_line_and_column_but_not_the_value() {
    let case = Case::new();
    let src = case.file(
        "c.csv",
        "id,balance,segment\nA1,10.5,x\nA2,secret-value,y\n",
    );
    let p = with_types(params("id"), &[("balance", ColumnType::Float)]);
    let message = case.fail(&p, &src);
    assert!(
        message.contains("c.csv` line 3: column `balance` does not hold a finite number"),
        "{message}"
    );
    assert!(
        !message.contains("secret-value"),
        "a data value leaked: {message}"
    );
}

#[test]
fn declared_column_missing_is_named() {
    let case = Case::new();
    let src = case.file("c.csv", GOOD);
    let p = with_types(params("id"), &[("income", ColumnType::Float)]);
    let message = case.fail(&p, &src);
    assert!(
        message.contains("has no column `income`, which the config declares in params.columns"),
        "{message}"
    );
    let message = case.fail(&params("CUST_ID"), &src);
    assert!(message.contains("has no column `CUST_ID`"), "{message}");
}

#[test]
fn duplicate_customer_id_names_both_lines() {
    let case = Case::new();
    let src = case.file("c.csv", "id,balance\nA1,1\nA2,2\nA1,3\n");
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("line 4: the customer id in column `id` was already seen at line 2"),
        "{message}"
    );
}

#[test]
fn missing_customer_id_is_an_error() {
    let case = Case::new();
    let src = case.file("c.csv", "id,balance\nA1,1\n,2\n");
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("line 3: the customer id in column `id` is missing"),
        "{message}"
    );
}

#[test]
fn empty_files_are_errors() {
    let case = Case::new();
    for (name, bytes) in [
        ("e.csv", &b""[..]),
        ("b.csv", b"\xEF\xBB\xBF\n \n"),
        ("e.ndjson", b"\n\n"),
    ] {
        let src = case.file(name, bytes);
        let message = case.fail(&IngestParams::default(), &src);
        assert!(message.contains(&format!("{name}` is empty")), "{message}");
    }
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let case = Case::new();
    let src = case.file("c.csv", b"id,name\nA1,ok\nA2,caf\xE9\n");
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("line 3: column `name` is not valid UTF-8"),
        "{message}"
    );
    let src = case.file("h.csv", b"id,n\xE9me\nA1,ok\n");
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("line 1: column `#2` is not valid UTF-8"),
        "{message}"
    );
}

#[test]
fn truncated_and_corrupt_parquet_are_clear_errors() {
    let case = Case::new();
    let csv = case.file("c.csv", GOOD);
    case.run(&params("id"), &csv).unwrap();
    let good = std::fs::read(case.table()).unwrap();
    std::fs::remove_file(case.table()).unwrap();

    let truncated = case.file("truncated.parquet", &good[..good.len() / 2]);
    let message = case.fail(&IngestParams::default(), &truncated);
    assert!(
        message.contains("truncated.parquet` is not a readable Parquet file"),
        "{message}"
    );

    // Overwrite the footer's Thrift metadata (just before the 8-byte tail) with junk.
    let mut corrupt = good.clone();
    let n = corrupt.len();
    for b in &mut corrupt[n - 60..n - 8] {
        *b = 0xFF;
    }
    let corrupt = case.file("corrupt.parquet", corrupt);
    let message = case.fail(&IngestParams::default(), &corrupt);
    assert!(
        message.contains("corrupt.parquet` is not a readable Parquet file"),
        "{message}"
    );

    let text = case.file("text.parquet", GOOD);
    let message = case.fail(&IngestParams::default(), &text);
    assert!(
        message.contains("text.parquet` is not a readable Parquet file"),
        "{message}"
    );
}

#[test]
fn parquet_value_that_does_not_cast_names_the_row() {
    let case = Case::new();
    let csv = case.file("c.csv", "id,code\nA1,12\nA2,x7\nA3,9\n");
    let staged = case.dir.path().join("staged.parquet");
    ingest(&params("id"), &csv, &staged, None, None, &ctx()).unwrap();
    let p = with_types(IngestParams::default(), &[("code", ColumnType::Int)]);
    let message = case.fail(&p, &staged);
    assert!(
        message.contains("staged.parquet` row 2: column `code` does not hold a whole number"),
        "{message}"
    );

    let report = case.run(&quarantine(p), &staged).unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(report.counts["rows_rejected"], 1);
    assert_eq!(
        rejects_of(&case),
        vec![(
            2,
            Some("code".to_string()),
            "column `code` does not hold a whole number".to_string()
        )]
    );
}

#[test]
fn ndjson_bad_lines_are_named() {
    let case = Case::new();
    let src = case.file(
        "c.ndjson",
        "{\"id\":\"A1\",\"v\":1}\n{\"id\":\"A2\",\"v\":\n{\"id\":\"A3\",\"v\":[1]}\n",
    );
    let message = case.fail(&params("id"), &src);
    assert!(
        message.contains("c.ndjson` line 2: the line is not a JSON object"),
        "{message}"
    );
    let report = case.run(&quarantine(params("id")), &src).unwrap();
    assert_eq!(report.rows, 1);
    let rejects = rejects_of(&case);
    assert_eq!(rejects.len(), 2);
    assert_eq!(
        rejects[1],
        (
            3,
            Some("v".to_string()),
            "column `v` holds a nested JSON value; only scalars can be ingested".to_string()
        )
    );
}

#[test]
fn quarantine_counts_every_bad_row_and_keeps_the_good_ones() {
    let case = Case::new();
    let src = case.file(
        "c.csv",
        b"id,balance,joined\nA1,1.5,2024-01-31\nA2,x,2024-02-01\nA3,2\nA1,3,2024-03-01\n,4,2024-03-02\nA6,5,2024-13-01\nA7,caf\xE9,2024-01-01\nA8,6,\n".as_slice(),
    );
    let p = quarantine(with_types(
        params("id"),
        &[("balance", ColumnType::Float), ("joined", ColumnType::Date)],
    ));
    let report = case.run(&p, &src).unwrap();
    assert_eq!(report.rows, 2, "A1 and A8 are good");
    assert_eq!(report.counts["rows_rejected"], 6);
    let rejects = rejects_of(&case);
    let lines: Vec<u64> = rejects.iter().map(|r| r.0).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(
        rejects[2].2,
        "the customer id in column `id` was already seen at line 2"
    );
    let table = ParquetSource::open(&case.table(), None)
        .unwrap()
        .read_all()
        .unwrap();
    let ids = table[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(ids.iter().flatten().collect::<Vec<_>>(), vec!["A1", "A8"]);
    assert!(
        table[0].column(2).is_null(1),
        "an empty date is missing, not an error"
    );
}

#[test]
fn quarantine_without_a_rejects_output_is_refused() {
    let case = Case::new();
    let src = case.file("c.csv", GOOD);
    let err = ingest(
        &quarantine(params("id")),
        &src,
        &case.table(),
        None,
        None,
        &ctx(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("params.on_error"), "{err}");
}

#[test]
fn a_bad_row_after_many_good_batches_leaves_no_partial_table() {
    let case = Case::new();
    let mut text = String::from("id,v\n");
    for i in 0..50_000 {
        text.push_str(&format!("C{i},{i}\n"));
    }
    text.push_str("C-last,not-a-number\n");
    let src = case.file("big.csv", text);
    let mut p = with_types(params("id"), &[("v", ColumnType::Int)]);
    p.batch_rows = 1000;
    let message = case.fail(&p, &src);
    assert!(message.contains("line 50002: column `v`"), "{message}");
}

#[test]
fn csv_dialect_options_delimiter_quote_and_no_header() {
    let case = Case::new();
    let src = case.file("c.txt", "A1;'Smith; J.';3\nA2;'Doe';4\n");
    let mut p = with_types(IngestParams::default(), &[("column_3", ColumnType::Int)]);
    p.format = Some(clientele_ingest::Format::Csv);
    p.delimiter = ";".to_string();
    p.quote = "'".to_string();
    p.header = false;
    p.id_column = Some("column_1".to_string());
    let report = case.run(&p, &src).unwrap();
    assert_eq!(report.rows, 2);
    let batches = ParquetSource::open(&case.table(), None)
        .unwrap()
        .read_all()
        .unwrap();
    let names: Vec<&String> = batches[0]
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name())
        .collect();
    assert_eq!(names, ["customer_id", "column_2", "column_3"]);
    let quoted = batches[0]
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(
        quoted.value(0),
        "Smith; J.",
        "the quoted delimiter stays in the field"
    );

    p.delimiter = ";;".to_string();
    let message = Case::new().fail(&p, &src);
    assert!(
        message.contains("params.delimiter: must be exactly one ASCII character"),
        "{message}"
    );
}

fn column_names(path: &Path) -> Vec<String> {
    ParquetSource::open(path, None)
        .unwrap()
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn the_delimiter_is_sniffed_by_default_and_reported() {
    // The UCI bank-marketing file in its original form: `;`, every text quoted, and a
    // `;` inside a quoted value on one line.
    let case = Case::new();
    let uci = "\"age\";\"job\";\"marital\";\"balance\"\n58;\"management\";\"married\";2143\n44;\"technician; senior\";\"single\";29\n33;\"entrepreneur\";\"married\";2\n";
    let src = case.file("bank.csv", uci);
    let report = case.run(&IngestParams::default(), &src).unwrap();
    assert_eq!(report.rows, 3);
    assert_eq!(
        column_names(&case.table()),
        ["customer_id", "age", "job", "marital", "balance"]
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "delimiter: \";\" (chosen from the first lines)"),
        "{:?}",
        report.notes
    );
    for (name, text, chosen, columns) in [
        ("tab.csv", "id\tx\ty\n1\t2\t3\n4\t5\t6\n", "tab", 4),
        ("pipe.csv", "id|x\n1|a,b\n2|c,d\n", "\"|\"", 3),
        ("comma.csv", "id,x\n1,\"a;b\"\n2,c\n", "\",\"", 3),
    ] {
        let case = Case::new();
        let src = case.file(name, text);
        let report = case.run(&IngestParams::default(), &src).unwrap();
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with(&format!("delimiter: {chosen}"))),
            "{name}: {:?}",
            report.notes
        );
        // A row key is generated (no `customer_id` column), then every column.
        assert_eq!(column_names(&case.table()).len(), columns, "{name}");
    }
}

#[test]
fn a_one_column_header_holding_a_delimiter_is_an_error_with_a_hint() {
    let case = Case::new();
    let src = case.file("bank.csv", "\"age\";\"job\"\n58;\"management\"\n");
    let p = IngestParams {
        delimiter: ",".to_string(),
        ..IngestParams::default()
    };
    let message = case.fail(&p, &src);
    assert!(
        message.contains("line 1: the header is one column whose name holds \";\"; the file is likely delimited by \";\", not \",\""),
        "{message}"
    );
}

#[test]
fn a_line_longer_than_the_cap_is_an_error_naming_it() {
    let case = Case::new();
    let mut text = String::from("id,note\n1,short\n2,");
    text += &"x".repeat(5_000);
    text += "\n3,short\n";
    let src = case.file("long.csv", &text);
    let p = IngestParams {
        max_line_bytes: 1_000,
        ..IngestParams::default()
    };
    let message = case.fail(&p, &src);
    assert!(
        message.contains("line 3 is longer than 1000 bytes (params.max_line_bytes)"),
        "{message}"
    );
    // A header with no line break at all.
    let src = case.file("no_newline.csv", "x".repeat(5_000));
    let message = case.fail(&p, &src);
    assert!(
        message.contains("line 1 is longer than 1000 bytes"),
        "{message}"
    );
}
