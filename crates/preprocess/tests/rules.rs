//! Each rule on small tables whose right answers can be checked by hand.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use clientele_preprocess::*;

fn table(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let n = columns[0].1.len();
    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("C{i}")),
    ));
    let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
    let mut arrays = vec![ids];
    for (name, array) in columns {
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn num(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn column(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let array = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no output column {name}"));
    array
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

fn names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn fit_apply(
    params: &PreprocessParams,
    train: &RecordBatch,
    test: &RecordBatch,
) -> (
    FittedState,
    RecordBatch,
    std::collections::BTreeMap<String, u64>,
) {
    let path = Path::new("t.parquet");
    let state = fit(params, train, path, &mut Vec::new()).unwrap();
    let (out, counts) = apply(&state, test, path).unwrap();
    (state, out, counts)
}

#[test]
fn unknown_categories_become_zeros_or_other() {
    let train = table(vec![(
        "job",
        text(&[Some("admin"), Some("admin"), Some("retired"), None]),
    )]);
    let test = table(vec![("job", text(&[Some("pilot"), Some("retired"), None]))]);
    let mut params = PreprocessParams::default();
    let (_, out, counts) = fit_apply(&params, &train, &test);
    assert_eq!(names(&out), ["customer_id", "job=admin", "job=retired"]);
    assert_eq!(
        column(&out, "job=admin"),
        [0.0, 0.0, 1.0],
        "missing → most frequent (admin)"
    );
    assert_eq!(
        column(&out, "job=retired"),
        [0.0, 1.0, 0.0],
        "unknown pilot → all zeros"
    );
    assert_eq!(counts["other_or_unknown.job"], 1);
    assert_eq!(counts["imputed.job"], 1);

    params.categorical.unknown = Unknown::Other;
    let (_, out, _) = fit_apply(&params, &train, &test);
    assert_eq!(column(&out, "job=other"), [1.0, 0.0, 0.0]);

    params.categorical.encode = Encode::Ordinal;
    let (_, out, _) = fit_apply(&params, &train, &test);
    assert_eq!(column(&out, "job__ordinal"), [-1.0, 1.0, 0.0]);
}

#[test]
fn rare_categories_pool_into_other_without_clashing_with_a_real_other() {
    let values = [
        Some("a"),
        Some("a"),
        Some("a"),
        Some("b"),
        Some("b"),
        Some("other"),
        Some("other"),
        Some("c"),
    ];
    let train = table(vec![("x", text(&values))]);
    let mut params = PreprocessParams::default();
    params.categorical.max_categories = Some(3);
    let (state, out, _) = fit_apply(&params, &train, &train);
    assert_eq!(
        names(&out),
        ["customer_id", "x=a", "x=other", "x=__other__"]
    );
    assert_eq!(
        column(&out, "x=__other__"),
        [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
        "b and c pooled"
    );
    assert_eq!(
        state
            .outputs
            .iter()
            .map(|o| o.source.as_str())
            .collect::<Vec<_>>(),
        ["x", "x", "x"]
    );
}

#[test]
fn outliers_are_clipped_flagged_or_dropped_and_counted() {
    // Quartiles of 1..=8 and 100: q1 = 3, q3 = 7, IQR = 4, fences -3 and 13.
    let values: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0]
        .map(Some)
        .to_vec();
    let train = table(vec![("v", num(&values))]);
    let rule = |action| NumericRule {
        outliers: Some(OutlierRule {
            method: OutlierMethod::Iqr,
            factor: 1.5,
            z: 3.0,
            low: 0.01,
            high: 0.99,
            action,
        }),
        scale: Scale::None,
        ..NumericRule::default()
    };
    let mut params = PreprocessParams {
        numeric: rule(OutlierAction::Clip),
        ..PreprocessParams::default()
    };
    let (state, out, counts) = fit_apply(&params, &train, &train);
    let ColumnState::Numeric(v) = &state.columns[1] else {
        panic!("numeric")
    };
    assert_eq!(
        v.outliers.as_ref().map(|o| (o.low, o.high)),
        Some((-3.0, 13.0))
    );
    assert_eq!(column(&out, "v")[8], 13.0);
    assert_eq!(counts["clipped.v"], 1);

    params.numeric = rule(OutlierAction::Flag);
    let (_, out, counts) = fit_apply(&params, &train, &train);
    assert_eq!(
        column(&out, "v__outlier"),
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(column(&out, "v")[8], 100.0);
    assert_eq!(counts["flagged.v"], 1);

    params.numeric = rule(OutlierAction::Drop);
    let (state, out, counts) = fit_apply(&params, &train, &train);
    assert_eq!(out.num_rows(), 8);
    assert_eq!(state.rows_fitted, 8);
    assert_eq!(counts["rows_dropped_outliers"], 1);
}

#[test]
fn imputation_strategies_indicators_and_dropped_rows() {
    let train = table(vec![(
        "v",
        num(&[Some(1.0), Some(3.0), Some(3.0), Some(10.0), None]),
    )]);
    let impute = |impute| PreprocessParams {
        numeric: NumericRule {
            impute,
            fill_value: -1.0,
            indicator: true,
            scale: Scale::None,
            ..NumericRule::default()
        },
        ..PreprocessParams::default()
    };
    for (strategy, expected) in [
        (NumericImpute::Mean, 4.25),
        (NumericImpute::Median, 3.0),
        (NumericImpute::MostFrequent, 3.0),
        (NumericImpute::Constant, -1.0),
    ] {
        let (_, out, counts) = fit_apply(&impute(strategy), &train, &train);
        assert_eq!(column(&out, "v")[4], expected, "{strategy:?}");
        assert_eq!(column(&out, "v__missing"), [0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(counts["imputed.v"], 1);
    }
    let complete = table(vec![("v", num(&[Some(1.0), Some(2.0)]))]);
    let (_, out, _) = fit_apply(&impute(NumericImpute::Median), &complete, &complete);
    assert_eq!(
        names(&out),
        ["customer_id", "v"],
        "no indicator for a column with nothing missing"
    );
    let (state, out, counts) = fit_apply(&impute(NumericImpute::Drop), &train, &train);
    assert_eq!(out.num_rows(), 4);
    assert_eq!(state.rows_fitted, 4);
    assert_eq!(counts["rows_dropped_missing"], 1);
}

#[test]
fn transforms_and_scalers() {
    let train = table(vec![
        ("v", num(&[Some(0.0), Some(1.0), Some(3.0)])),
        ("w", num(&[Some(-2.0), Some(0.0), Some(2.0)])),
    ]);
    let mut params = PreprocessParams::default();
    params.columns.insert(
        "v".into(),
        ColumnRule::Numeric(NumericRule {
            transform: Transform::Log1p,
            scale: Scale::MinMax,
            ..NumericRule::default()
        }),
    );
    params.columns.insert(
        "w".into(),
        ColumnRule::Numeric(NumericRule {
            transform: Transform::SignedLog1p,
            scale: Scale::Robust,
            ..NumericRule::default()
        }),
    );
    let (_, out, _) = fit_apply(&params, &train, &train);
    assert_eq!(
        names(&out),
        ["customer_id", "v__log1p__minmax", "w__signed_log1p__robust"]
    );
    let v = column(&out, "v__log1p__minmax");
    assert_eq!(v[0], 0.0);
    assert!((v[1] - 2f64.ln() / 4f64.ln()).abs() < 1e-15);
    assert_eq!(v[2], 1.0);
    // signed log1p: -ln 3, 0, ln 3; median 0; quartiles ∓ln(3)/2 → IQR ln 3.
    let w = column(&out, "w__signed_log1p__robust");
    assert!(
        (w[0] + 1.0).abs() < 1e-15 && w[1] == 0.0 && (w[2] - 1.0).abs() < 1e-15,
        "{w:?}"
    );

    // A constant column scales by 1, as in scikit-learn.
    let constant = table(vec![("c", num(&[Some(5.0), Some(5.0)]))]);
    let (_, out, _) = fit_apply(&PreprocessParams::default(), &constant, &constant);
    assert_eq!(column(&out, "c__standard"), [0.0, 0.0]);
}

#[test]
fn log1p_of_a_negative_value_names_row_and_column() {
    let train = table(vec![("v", num(&[Some(1.0), Some(-5.0)]))]);
    let mut params = PreprocessParams::default();
    params.numeric.transform = Transform::Log1p;
    let err = fit(&params, &train, Path::new("t.parquet"), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "`t.parquet` row 2: column `v` is negative, which log1p cannot take; use transform = \"signed_log1p\"");
}

#[test]
fn passthrough_drop_and_a_missing_column_at_apply_time() {
    let train = table(vec![
        ("v", num(&[Some(1.0), Some(2.0)])),
        ("note", text(&[Some("a"), Some("b")])),
        ("email", text(&[Some("x@example.com"), None])),
    ]);
    let params = PreprocessParams {
        passthrough: vec!["note".into()],
        drop: vec!["email".into()],
        ..PreprocessParams::default()
    };
    let (_, out, _) = fit_apply(&params, &train, &train);
    assert_eq!(names(&out), ["customer_id", "v__standard", "note"]);
    let state = fit(&params, &train, Path::new("t.parquet"), &mut Vec::new()).unwrap();
    let next_month = table(vec![("note", text(&[Some("a")]))]);
    let err = apply(&state, &next_month, Path::new("next.parquet"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "`next.parquet` has no column `v`, which the fitted state needs"
    );
}

#[test]
fn streaming_over_batches_equals_one_pass_in_memory_and_names_rows_in_the_file() {
    use clientele_shared::parquet_io::{write_batches, ParquetSource};
    use clientele_shared::stage::{Stage, StageContext, StageIo};

    // More rows than one read batch (64 Ki), so that apply runs on several batches.
    let n = 150_000;
    let values: Vec<Option<f64>> = (0..n)
        .map(|i| {
            if i % 97 == 0 {
                None
            } else {
                Some((i % 1013) as f64)
            }
        })
        .collect();
    let cats: Vec<Option<&str>> = (0..n).map(|i| Some(["a", "b", "c", "d"][i % 4])).collect();
    let batch = table(vec![("v", num(&values)), ("k", text(&cats))]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    write_batches(&input, batch.schema(), std::slice::from_ref(&batch), None).unwrap();
    let mut io = StageIo::default();
    io.inputs.insert("table".into(), input.clone());
    io.outputs
        .insert("features".into(), dir.path().join("f.parquet"));
    io.outputs.insert("state".into(), dir.path().join("s.json"));
    let mut params = PreprocessParams::default();
    params.numeric.indicator = true;
    let ctx = StageContext::plain("t");
    let report = Preprocess::run(&params, &io, &ctx).unwrap();
    assert_eq!(report.rows, n as u64);
    assert_eq!(
        report.counts["imputed.v"],
        values.iter().filter(|v| v.is_none()).count() as u64
    );

    let streamed = ParquetSource::open(&dir.path().join("f.parquet"), None)
        .unwrap()
        .read_all()
        .unwrap();
    assert!(
        streamed.len() > 1,
        "the output came in one batch; the test needs several"
    );
    let streamed = arrow::compute::concat_batches(&streamed[0].schema(), &streamed).unwrap();
    let (_, in_memory, _) = fit_apply(&params, &batch, &batch);
    // Compared by fields and columns: the schema metadata (the feature origins) is the
    // file's, not each batch's read back.
    assert_eq!(streamed.schema().fields(), in_memory.schema().fields());
    assert_eq!(streamed.columns(), in_memory.columns());

    // A negative value in the third batch is reported by its row in the file.
    let mut values = values;
    values[140_000] = Some(-1.0);
    let batch = table(vec![("v", num(&values))]);
    write_batches(&input, batch.schema(), std::slice::from_ref(&batch), None).unwrap();
    params.numeric.transform = Transform::SignedLog1p;
    let state = fit(&params, &batch, Path::new("in.parquet"), &mut Vec::new()).unwrap();
    let mut bad = state.clone();
    if let ColumnState::Numeric(v) = &mut bad.columns[1] {
        v.transform = Transform::Log1p;
    }
    std::fs::write(
        dir.path().join("s.json"),
        serde_json::to_string(&bad).unwrap(),
    )
    .unwrap();
    io.inputs.insert("state".into(), dir.path().join("s.json"));
    io.outputs.remove("state");
    params.mode = Mode::Apply;
    let err = Preprocess::run(&params, &io, &ctx).unwrap_err().to_string();
    assert!(err.contains("row 140001: column `v` is negative"), "{err}");
    assert!(
        !dir.path().join("f.parquet").exists()
            || ParquetSource::open(&dir.path().join("f.parquet"), None)
                .unwrap()
                .rows()
                == n as u64,
        "a failed apply replaced the earlier output"
    );
}

#[test]
fn edge_cases_have_defined_behaviour() {
    let path = Path::new("t.parquet");
    // A single row: every scale is 1 (nothing varies), so every feature is 0.
    let one = table(vec![("v", num(&[Some(4.0)])), ("k", text(&[Some("a")]))]);
    for scale in [Scale::Standard, Scale::MinMax, Scale::Robust] {
        let mut params = PreprocessParams::default();
        params.numeric.scale = scale;
        let (_, out, _) = fit_apply(&params, &one, &one);
        assert_eq!(out.num_rows(), 1);
        assert_eq!(
            out.column(1)
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .value(0),
            0.0,
            "{scale:?}"
        );
        assert_eq!(column(&out, "k=a"), [1.0]);
    }

    // An empty table cannot be fitted; applying a state to one gives an empty output.
    let empty = one.slice(0, 0);
    let err = fit(&PreprocessParams::default(), &empty, path, &mut Vec::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`t.parquet` has no rows: there is nothing to fit a state on"
    );
    let state = fit(&PreprocessParams::default(), &one, path, &mut Vec::new()).unwrap();
    let (out, _) = apply(&state, &empty, path).unwrap();
    assert_eq!(
        (out.num_rows(), names(&out)),
        (
            0,
            vec![
                "customer_id".to_string(),
                "v__standard".into(),
                "k=a".into()
            ]
        )
    );

    // An all-missing column cannot give a median; a constant works.
    let missing = table(vec![("v", num(&[None, None]))]);
    let err = fit(
        &PreprocessParams::default(),
        &missing,
        path,
        &mut Vec::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("column `v` has no value to learn a median from (every value is missing); drop it with params.drop, or impute a constant"), "{err}");
    let mut params = PreprocessParams::default();
    params.numeric.impute = NumericImpute::Constant;
    let (_, out, _) = fit_apply(&params, &missing, &missing);
    assert_eq!(column(&out, "v__standard"), [0.0, 0.0]);

    // A state from another schema: a column of another type is an error naming it.
    let other = table(vec![("v", text(&[Some("4")])), ("k", text(&[Some("a")]))]);
    let err = apply(&state, &other, Path::new("other.parquet"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "`other.parquet`: column `v` has type Utf8, but the fitted state treats it as numeric; was the state fitted on another table?");
}

#[test]
fn zscore_fences_are_mean_plus_minus_z_population_deviations() {
    let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0];
    let train = table(vec![("v", num(&data.map(Some)))]);
    let mean = data.iter().sum::<f64>() / 9.0;
    let sd = (data.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 9.0).sqrt();
    let params = PreprocessParams {
        numeric: NumericRule {
            outliers: Some(OutlierRule {
                method: OutlierMethod::Zscore,
                factor: 1.5,
                z: 2.0,
                low: 0.01,
                high: 0.99,
                action: OutlierAction::Flag,
            }),
            scale: Scale::None,
            ..NumericRule::default()
        },
        ..PreprocessParams::default()
    };
    let (state, out, counts) = fit_apply(&params, &train, &train);
    let ColumnState::Numeric(v) = &state.columns[1] else {
        panic!("numeric")
    };
    let fences = v.outliers.as_ref().map(|o| (o.low, o.high)).unwrap();
    assert!(
        (fences.0 - (mean - 2.0 * sd)).abs() < 1e-12
            && (fences.1 - (mean + 2.0 * sd)).abs() < 1e-12,
        "{fences:?}"
    );
    assert_eq!(
        column(&out, "v__outlier"),
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(counts["flagged.v"], 1);
}

#[test]
fn many_categories_are_capped_by_default_and_an_identifier_is_refused() {
    // 60 categories over 600 rows: the default cap of 50 pools the rarest, with a note.
    let values: Vec<String> = (0..600).map(|i| format!("branch {}", i % 60)).collect();
    let train = table(vec![(
        "branch",
        text(&values.iter().map(|v| Some(v.as_str())).collect::<Vec<_>>()),
    )]);
    let params = PreprocessParams::default();
    let mut notes = Vec::new();
    let state = fit(&params, &train, Path::new("t.parquet"), &mut notes).unwrap();
    assert_eq!(state.outputs.len(), 50, "49 kept and `other`");
    assert!(
        notes.iter().any(|n| n
            == "column `branch`: 60 categories; the 49 most frequent kept, the rest pooled into `branch=other` (max_categories = 50)"),
        "{notes:?}"
    );
    // An e-mail column left in: a distinct value in every row.
    let emails: Vec<String> = (0..100).map(|i| format!("c{i}@example.com")).collect();
    let train = table(vec![(
        "email",
        text(&emails.iter().map(|v| Some(v.as_str())).collect::<Vec<_>>()),
    )]);
    let err = fit(&params, &train, Path::new("t.parquet"), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "column `email` has 100 distinct values in 100 rows: it looks like an identifier"
        ),
        "{err}"
    );
}
