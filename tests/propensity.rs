//! The propensity models against scikit-learn 1.9.1 (`tests/golden/`, made by
//! `make_propensity_golden.py`):
//!
//! - gradient boosting on the real UCI bank-marketing clients (`../shared/data/
//!   bank_full.csv`, the term deposit as the product), on scikit-learn's very split: ROC
//!   AUC and average precision at most 0.005 below `HistGradientBoostingClassifier`'s,
//!   takers among the top 10 % at most 0.01 below;
//! - the same trees calibrated by Platt scaling on a fifth of the training rows: on the
//!   test rows, within each tenth of the scores the mean probability is within 0.02 of
//!   the share of takers on average (expected calibration error);
//! - logistic regression on a fixed small case: the coefficients and intercept of
//!   `LogisticRegression` (same C, lbfgs at tol 1e-12) to 1e-6.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clientele_numeric::classification::{average_precision, roc_auc, top_share};
use clientele_recommend::propensity::calibration::Platt;
use clientele_recommend::propensity::gbdt::GbdtParams;
use clientele_recommend::propensity::logistic::LogisticParams;
use linfa::ParamGuard;
use ndarray::{Array2, Axis};

fn golden() -> serde_json::Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sklearn_bank_propensity.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// bank_full.csv as the golden script encodes it: the numeric columns as they are, each
/// text column one-hot in sorted value order, `duration` and `y` left out; and `y`.
fn bank_matrix(path: &std::path::Path) -> (Vec<String>, Array2<f64>, Vec<bool>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let y_at = header.iter().position(|h| h == "y").unwrap();
    let labels = records.iter().map(|r| &r[y_at] == "Y").collect();
    let mut names = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for (c, name) in header.iter().enumerate() {
        if name == "y" || name == "duration" {
            continue;
        }
        let numbers: Option<Vec<f64>> = records.iter().map(|r| r[c].parse().ok()).collect();
        match numbers {
            Some(values) => {
                names.push(name.clone());
                columns.push(values);
            }
            None => {
                let values: BTreeMap<&str, ()> = records.iter().map(|r| (&r[c], ())).collect();
                for value in values.keys() {
                    names.push(format!("{name}={value}"));
                    columns.push(
                        records
                            .iter()
                            .map(|r| f64::from(u8::from(&r[c] == *value)))
                            .collect(),
                    );
                }
            }
        }
    }
    let x = Array2::from_shape_fn((records.len(), columns.len()), |(r, c)| columns[c][r]);
    (names, x, labels)
}

/// The golden script's split: (training rows, test rows), both ascending.
fn golden_split(golden: &serde_json::Value, rows: usize) -> (Vec<usize>, Vec<usize>) {
    let test: Vec<usize> = serde_json::from_value(golden["test_rows"].clone()).unwrap();
    let mut is_test = vec![false; rows];
    test.iter().for_each(|&r| is_test[r] = true);
    let train = (0..rows).filter(|&r| !is_test[r]).collect();
    (train, test)
}

#[test]
fn gradient_boosting_reaches_scikit_learn_on_the_real_bank_clients() {
    let Some(shared) = common::shared() else {
        return;
    };
    let golden = golden();
    let (names, x, labels) = bank_matrix(&shared.join("data/bank_full.csv"));
    let expected_names: Vec<String> = serde_json::from_value(golden["features"].clone()).unwrap();
    assert_eq!(names, expected_names, "the matrix is the golden script's");
    let (train, test) = golden_split(&golden, labels.len());
    let train_labels: Vec<bool> = train.iter().map(|&r| labels[r]).collect();
    let test_labels: Vec<bool> = test.iter().map(|&r| labels[r]).collect();

    let model = GbdtParams::new()
        .seed(0)
        .check_unwrap()
        .fit_rows(x.select(Axis(0), &train).view(), &train_labels)
        .unwrap();
    let scores = model.predict_proba(x.select(Axis(0), &test).view());
    let auc = roc_auc(&scores, &test_labels).unwrap();
    let ap = average_precision(&scores, &test_labels).unwrap();
    let top = top_share(&scores, &test_labels, 0.1).unwrap();
    let reference = &golden["hist_gradient_boosting"];
    eprintln!(
        "bank_full, {} test clients: clientele gbdt AUC {auc:.4} AP {ap:.4} top decile {top:.4} ({} trees); \
         scikit-learn {:.4} {:.4} {:.4} ({} trees)",
        test.len(),
        model.trees.len(),
        reference["auc"].as_f64().unwrap(),
        reference["average_precision"].as_f64().unwrap(),
        reference["top_decile_takers"].as_f64().unwrap(),
        reference["iterations"],
    );
    assert!(
        auc >= reference["auc"].as_f64().unwrap() - 0.005,
        "AUC {auc}"
    );
    assert!(
        ap >= reference["average_precision"].as_f64().unwrap() - 0.005,
        "AP {ap}"
    );
    assert!(
        top >= reference["top_decile_takers"].as_f64().unwrap() - 0.01,
        "top decile {top}"
    );
}

/// The mean over ten equal-count bins of the scores of |mean probability − share of
/// positives|, weighted by the bins' sizes.
fn expected_calibration_error(probabilities: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    order
        .chunks(labels.len().div_ceil(10))
        .map(|bin| {
            let p: f64 = bin.iter().map(|&i| probabilities[i]).sum();
            let y = bin.iter().filter(|&&i| labels[i]).count() as f64;
            (p - y).abs()
        })
        .sum::<f64>()
        / labels.len() as f64
}

#[test]
fn calibrated_probabilities_match_the_share_of_takers_on_the_real_bank_clients() {
    let Some(shared) = common::shared() else {
        return;
    };
    let golden = golden();
    let (_, x, labels) = bank_matrix(&shared.join("data/bank_full.csv"));
    let (train, test) = golden_split(&golden, labels.len());
    // Every fifth training row calibrates; the others fit.
    let (calibration, fit): (Vec<usize>, Vec<usize>) = train.iter().partition(|&&r| r % 5 == 0);
    let pick = |rows: &[usize]| -> Vec<bool> { rows.iter().map(|&r| labels[r]).collect() };
    let model = GbdtParams::new()
        .seed(0)
        .check_unwrap()
        .fit_rows(x.select(Axis(0), &fit).view(), &pick(&fit))
        .unwrap();
    let raw = |rows: &[usize]| -> Vec<f64> {
        rows.iter()
            .map(|&r| model.raw_score(x.row(r).as_slice().unwrap()))
            .collect()
    };
    let platt = Platt::fit(&raw(&calibration), &pick(&calibration));
    let calibrated: Vec<f64> = raw(&test).iter().map(|&r| platt.probability(r)).collect();
    let error = expected_calibration_error(&calibrated, &pick(&test));
    eprintln!("bank_full test clients: expected calibration error {error:.4} ({platt:?})");
    assert!(error < 0.02, "expected calibration error {error}");
    // Calibration keeps the order of the scores: the AUC is the trees' own.
    let auc = roc_auc(&calibrated, &pick(&test)).unwrap();
    assert!(auc > 0.79, "AUC {auc}");
}

#[test]
fn logistic_regression_has_scikit_learns_coefficients() {
    let golden = golden();
    let case = &golden["logistic_case"];
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/logistic_case.csv");
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        for v in record.iter().take(5) {
            values.push(v.parse::<f64>().unwrap());
        }
        labels.push(&record[5] == "1");
    }
    let x = Array2::from_shape_vec((labels.len(), 5), values).unwrap();
    let model = LogisticParams::new()
        .c(case["c"].as_f64().unwrap())
        .check_unwrap()
        .fit_rows(x.view(), &labels)
        .unwrap();
    let expected: Vec<f64> = serde_json::from_value(case["coefficients"].clone()).unwrap();
    for (got, want) in model.coefficients.iter().zip(&expected) {
        assert!(
            (got - want).abs() < 1e-6,
            "{:?} against {expected:?}",
            model.coefficients
        );
    }
    let intercept = case["intercept"].as_f64().unwrap();
    assert!(
        (model.intercept - intercept).abs() < 1e-6,
        "{} against {intercept}",
        model.intercept
    );
}

/// `tests/pipelines/bank_propensity.toml` through the stages: the real bank clients
/// ingested, preprocessed, a fifth held out whole by the recommend stage, the propensity
/// model trained on the rest, and the evaluate stage's figures on the held-out clients
/// against scikit-learn's `HistGradientBoostingClassifier` trained and scored on the very
/// same clients (`tests/python/sklearn_propensity_holdout.py`). Tolerances: AUC and
/// average precision at most 0.01 below, the top decile at most 0.02 below: the stage
/// calibrates, so its trees learn from four fifths of the training clients (the learner
/// alone is held to 0.005 above), and tied probabilities at the decile's edge are taken
/// in another order.
#[test]
fn the_stages_reach_scikit_learn_on_the_held_out_bank_clients() {
    let Some(dir) = common::run_committed_pipeline("bank_propensity", "bank_propensity", &[])
    else {
        return;
    };
    let out = dir.join("out");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let metric = |name: &str| {
        metrics["metrics"][format!("propensity.y.{name}")]
            .as_f64()
            .unwrap_or_else(|| panic!("propensity.y.{name} in {}", metrics["metrics"]))
    };
    let (auc, ap, top) = (
        metric("auc"),
        metric("average_precision"),
        metric("top_decile_share"),
    );
    // A fifth of 45,211 clients, as many takers in proportion (5,289 in all).
    let probabilities: usize =
        clientele_shared::parquet_io::ParquetSource::open(&out.join("probabilities.parquet"), None)
            .and_then(|source| source.read_all())
            .unwrap()
            .iter()
            .map(|batch| batch.num_rows())
            .sum();
    assert_eq!(probabilities, 9042);
    let Some(python) = common::python(&["sklearn", "pyarrow", "pandas"]) else {
        return;
    };
    let reference = &common::python_json(
        &python,
        "sklearn_propensity_holdout.py",
        &[
            &out.join("clients.parquet"),
            &out.join("probabilities.parquet"),
        ],
    )[0];
    let sklearn = |name: &str| reference[name].as_f64().unwrap();
    eprintln!(
        "bank_propensity, {} held-out clients: clientele AUC {auc:.4} AP {ap:.4} top decile {top:.4}; \
         scikit-learn {:.4} {:.4} {:.4}",
        reference["n"],
        sklearn("auc"),
        sklearn("average_precision"),
        sklearn("top_decile_share"),
    );
    assert_eq!(reference["n"].as_u64(), Some(9042));
    assert!(auc >= sklearn("auc") - 0.01, "AUC {auc}");
    assert!(ap >= sklearn("average_precision") - 0.01, "AP {ap}");
    assert!(
        top >= sklearn("top_decile_share") - 0.02,
        "top decile {top}"
    );
}
