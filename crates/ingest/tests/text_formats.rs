//! CSV as other tools write it: other encodings, compressed files, decimal commas and
//! thousands separators, local date orders, timestamps; and the rejects file keeping each
//! bad record as it was read. The fixtures are made by standard tools (`iconv`, `gzip`,
//! `zstd`: see `tests/fixtures/encodings/README.md`).

use std::path::{Path, PathBuf};

use arrow::array::{Array, Date32Array, Float64Array, RecordBatch, StringArray};
use clientele_ingest::{ingest, IngestError, IngestParams, OnError};
use clientele_shared::parquet_io::ParquetSource;
use clientele_shared::stage::{StageContext, StageReport};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/encodings")
        .join(name)
}

fn ctx() -> StageContext<'static> {
    StageContext::plain("test")
}

fn run(params: &IngestParams, source: &Path) -> Result<(StageReport, RecordBatch), IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("table.parquet");
    let report = ingest(params, source, &out, None, None, &ctx())?;
    let source = ParquetSource::open(&out, None).unwrap();
    let schema = source.schema().clone();
    let batches = source.read_all().unwrap();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    Ok((report, batch))
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch.column_by_name(name).unwrap();
    let array = column.as_any().downcast_ref::<StringArray>().unwrap();
    (0..array.len())
        .map(|i| array.value(i).to_string())
        .collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let column = batch.column_by_name(name).unwrap();
    let array = column.as_any().downcast_ref::<Float64Array>().unwrap();
    array.values().to_vec()
}

fn dates(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch.column_by_name(name).unwrap();
    let array = column.as_any().downcast_ref::<Date32Array>().unwrap();
    (0..array.len())
        .map(|i| array.value_as_date(i).unwrap().to_string())
        .collect()
}

/// A German-style export: `;`, decimal comma, `.` thousands, `DD.MM.YYYY`.
fn german(encoding: &str) -> IngestParams {
    IngestParams {
        id_column: Some("kunde".into()),
        decimal: ",".into(),
        thousands: Some(".".into()),
        date_format: Some("%d.%m.%Y".into()),
        encoding: encoding.into(),
        ..IngestParams::default()
    }
}

#[test]
fn one_export_reads_the_same_in_every_encoding_and_compression() {
    let (report, expected) = run(&german("utf-8"), &fixture("western.csv")).unwrap();
    assert_eq!(report.rows, 3);
    assert_eq!(
        strings(&expected, "name"),
        ["Müller", "Dupont; Marie", "Øster"]
    );
    assert_eq!(strings(&expected, "ort"), ["Zürich", "Besançon", "Ålesund"]);
    assert_eq!(floats(&expected, "saldo"), [1234.56, -50.0, 12_345_678.9]);
    assert_eq!(
        dates(&expected, "eroeffnet"),
        ["2019-10-31", "2020-02-01", "2021-06-15"]
    );
    // Timestamps are the dates they were written on, offsets and all.
    assert_eq!(
        dates(&expected, "letzte_buchung"),
        ["2026-10-31", "2026-10-30", "2026-10-29"]
    );
    let notes = report.notes.join("\n");
    assert!(notes.contains("delimiter: \";\""), "{notes}");
    assert!(
        notes.contains("column `letzte_buchung` read as dates: 2 of its values are timestamps"),
        "{notes}"
    );

    for (file, encoding) in [
        ("western_latin1.csv", "latin-1"),
        ("western_windows1252.csv", "windows-1252"),
        // A byte-order mark says UTF-16 whatever the setting, as Excel writes it.
        ("western_utf16le_bom.csv", "utf-8"),
        ("western_utf16be_bom.csv", "utf-8"),
        ("western.csv.gz", "utf-8"),
        ("western.csv.zst", "utf-8"),
    ] {
        let (report, batch) =
            run(&german(encoding), &fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(batch, expected, "{file}");
        assert_eq!(report.rows, 3, "{file}");
    }

    let (_, central) = run(
        &IngestParams {
            encoding: "windows-1250".into(),
            ..IngestParams::default()
        },
        &fixture("central_windows1250.csv"),
    )
    .unwrap();
    assert_eq!(strings(&central, "name"), ["Łukasz Żółw", "Věra Čermáková"]);
    assert_eq!(strings(&central, "city"), ["Łódź", "Brno"]);
}

#[test]
fn a_file_in_another_encoding_read_as_utf8_names_its_line_column_and_the_fix() {
    let err = run(&german("utf-8"), &fixture("western_latin1.csv"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("western_latin1.csv"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("column `name` is not valid UTF-8"), "{err}");
    assert!(err.contains("params.encoding"), "{err}");
}

#[test]
fn without_the_marks_declared_the_columns_stay_text_with_a_hint() {
    let params = IngestParams {
        id_column: Some("kunde".into()),
        ..IngestParams::default()
    };
    let (report, batch) = run(&params, &fixture("western.csv")).unwrap();
    // `1.234,56` is not a number in the default format, so the column is text...
    assert_eq!(strings(&batch, "saldo")[0], "1.234,56");
    // ...and the dates in a local order are text too, with a note that says what to set.
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("column `eroeffnet` read as text, but its values look like dates")
            && notes.contains("params.date_format"),
        "{notes}"
    );
}

#[test]
fn bad_marks_and_formats_are_parameter_errors_naming_the_key() {
    let io = clientele_shared::stage::StageIo::default();
    let check = |params: IngestParams| {
        clientele_ingest::check_params(&params, &io)
            .unwrap_err()
            .to_string()
    };
    let err = check(IngestParams {
        decimal: ";".into(),
        ..IngestParams::default()
    });
    assert!(err.starts_with("params.decimal:"), "{err}");
    let err = check(IngestParams {
        decimal: ",".into(),
        thousands: Some(",".into()),
        ..IngestParams::default()
    });
    assert!(err.starts_with("params.thousands:"), "{err}");
    let err = check(IngestParams {
        decimal: ",".into(),
        delimiter: ",".into(),
        ..IngestParams::default()
    });
    assert!(err.starts_with("params.decimal:"), "{err}");
    let err = check(IngestParams {
        date_format: Some("%d/%m".into()),
        ..IngestParams::default()
    });
    assert!(err.starts_with("params.date_format:"), "{err}");
    let err = check(IngestParams {
        encoding: "ebcdic-37".into(),
        ..IngestParams::default()
    });
    assert!(err.starts_with("params.encoding:"), "{err}");
}

#[test]
fn rejects_keep_each_bad_record_as_it_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("accounts.csv");
    let lines = [
        "id,name,amount",
        "1,\"Smith, John\",10.5",
        "2,\"Doe, \"\"JD\"\" Jane\",ten",
        "3,\"two\r\nlines\",x",
        "4,Short",
        "5,\"Roe, Ann\",2.5",
    ];
    std::fs::write(&source, lines.join("\r\n") + "\r\n").unwrap();
    let (table, rejects) = (dir.path().join("t.parquet"), dir.path().join("r.parquet"));
    let params = IngestParams {
        on_error: OnError::Quarantine,
        columns: [("amount".to_string(), clientele_ingest::ColumnType::Float)].into(),
        ..IngestParams::default()
    };
    let report = ingest(&params, &source, &table, Some(&rejects), None, &ctx()).unwrap();
    assert_eq!(report.rows, 2);
    let batches = ParquetSource::open(&rejects, None)
        .unwrap()
        .read_all()
        .unwrap();
    let records = strings(&batches[0], "record");
    // Quotes, doubled quotes and a line break inside a field, as in the file.
    assert_eq!(records, [lines[2], lines[3], lines[4]]);
}
