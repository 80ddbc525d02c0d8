//! The real public bank files in `../shared/data/` ingest cleanly, with the counts that
//! an independent reader (Python's csv module) finds in them.

use std::path::PathBuf;

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::datatypes::DataType;
use clientele_ingest::{ingest, ColumnType, IngestParams};
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::stage::StageContext;

fn shared(file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file);
    if path.is_file() {
        Some(path)
    } else if std::env::var_os("CLIENTELE_REQUIRE_SHARED").is_some() {
        panic!(
            "CLIENTELE_REQUIRE_SHARED is set but {} is missing",
            path.display()
        );
    } else {
        eprintln!("skipped: {} is not beside this checkout", path.display());
        None
    }
}

fn ctx() -> StageContext<'static> {
    StageContext::plain("test")
}

#[test]
fn cc_general_ingests_with_its_missing_values() {
    let Some(src) = shared("cc_general.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cc.parquet");
    let params = IngestParams {
        id_column: Some("CUST_ID".into()),
        ..IngestParams::default()
    };
    let report = ingest(&params, &src, &out, None, None, &ctx()).unwrap();
    assert_eq!(report.rows, 8950);
    let source = ParquetSource::open(&out, None).unwrap();
    let schema = source.schema().clone();
    assert_eq!(schema.fields().len(), 18, "customer_id and 17 features");
    assert_eq!(schema.field(0).name(), "customer_id");
    for field in schema.fields().iter().skip(1) {
        let numeric = matches!(field.data_type(), DataType::Float64 | DataType::Int64);
        assert!(
            numeric,
            "{} inferred as {}",
            field.name(),
            field.data_type()
        );
    }
    let batches = source.read_all().unwrap();
    let nulls = |name: &str| -> usize {
        let i = schema.index_of(name).unwrap();
        batches.iter().map(|b| b.column(i).null_count()).sum()
    };
    assert_eq!(nulls("MINIMUM_PAYMENTS"), 313);
    assert_eq!(nulls("CREDIT_LIMIT"), 1);
    assert_eq!(nulls("BALANCE"), 0);
    let ids = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(ids.value(0), "C10001");
}

#[test]
fn bank_full_ingests_with_bom_generated_keys_and_y_n_booleans() {
    let Some(src) = shared("bank_full.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bank.parquet");
    let mut params = IngestParams::default();
    for column in ["default", "housing", "loan", "y"] {
        params.columns.insert(column.to_string(), ColumnType::Bool);
    }
    params
        .columns
        .insert("job".to_string(), ColumnType::Categorical);
    let report = ingest(&params, &src, &out, None, None, &ctx()).unwrap();
    assert_eq!(report.rows, 45211);
    let source = ParquetSource::open(&out, None).unwrap();
    let schema = source.schema().clone();
    assert_eq!(schema.field(0).name(), "customer_id");
    assert_eq!(
        schema.field(1).name(),
        "age",
        "the byte-order mark is not part of the first name"
    );
    assert_eq!(
        schema.field_with_name("age").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name("y").unwrap().data_type(),
        &DataType::Boolean
    );
    assert!(matches!(
        schema.field_with_name("job").unwrap().data_type(),
        DataType::Dictionary(..)
    ));
    let batches = source.read_all().unwrap();
    let trues = |name: &str| -> usize {
        let i = schema.index_of(name).unwrap();
        batches
            .iter()
            .map(|b| {
                b.column(i)
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .unwrap()
                    .true_count()
            })
            .sum()
    };
    assert_eq!(trues("y"), 5289);
    assert_eq!(trues("housing"), 25130);
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            a.iter().flatten().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(ids.first().map(String::as_str), Some("1"));
    assert_eq!(ids.last().map(String::as_str), Some("45211"));
}

/// The UCI file with 40 faults injected: 21 ages written as words and 19 ragged rows. With
/// nothing declared and `on_error = "quarantine"`, `age` is still read as an integer (all
/// but 0.05 % of its values are), and the rejected rows are exactly the 40 faulty lines.
#[test]
fn bank_full_with_injected_faults_rejects_exactly_the_faulty_rows() {
    let Some(src) = shared("bank_full.csv") else {
        return;
    };
    let text = std::fs::read_to_string(&src).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut faulty = std::collections::BTreeSet::new();
    // Line numbers are 1-based with the header as line 1.
    for k in 0..21u64 {
        let line = 2 + k * 2_011;
        let row = &mut lines[line as usize - 1];
        let (_, rest) = row.split_once(',').unwrap();
        *row = format!("forty,{rest}");
        faulty.insert(line);
    }
    for k in 0..19u64 {
        let line = 1_000 + k * 2_203;
        assert!(!faulty.contains(&line));
        let row = &mut lines[line as usize - 1];
        let cut = row.rfind(',').unwrap();
        row.truncate(cut);
        faulty.insert(line);
    }
    let dir = tempfile::tempdir().unwrap();
    let faulted = dir.path().join("bank_faulted.csv");
    std::fs::write(&faulted, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("bank.parquet");
    let rejects = dir.path().join("rejects.parquet");
    let params = IngestParams {
        on_error: clientele_ingest::OnError::Quarantine,
        ..IngestParams::default()
    };
    let report = ingest(&params, &faulted, &out, Some(&rejects), None, &ctx()).unwrap();
    assert_eq!(report.counts["rows_rejected"], 40);
    assert_eq!(report.rows, 45_211 - 40);
    let age = ParquetSource::open(&out, None)
        .unwrap()
        .schema()
        .field_with_name("age")
        .unwrap()
        .data_type()
        .clone();
    assert_eq!(age, DataType::Int64);
    assert!(
        report.notes.iter().any(|n| n.starts_with(
            "column `age` read as a whole number: 21 of 45211 values (0.05 %) are not"
        )),
        "{:?}",
        report.notes
    );
    let batches = ParquetSource::open(&rejects, None)
        .unwrap()
        .read_all()
        .unwrap();
    let mut rejected = std::collections::BTreeSet::new();
    for batch in &batches {
        let column = batch.column_by_name("line").unwrap();
        let lines = column
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .unwrap();
        rejected.extend(lines.values().iter().copied());
    }
    assert_eq!(rejected, faulty);
}
