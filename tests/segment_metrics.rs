//! Silhouette, Davies–Bouldin and Calinski–Harabasz equal scikit-learn's for the same
//! labels: scikit-learn's K-Means labels for k = 2…10 on the preprocessed real
//! credit-card data (`../shared/golden/sklearn_cc_labels.csv`), to 1e-9 relative.

mod common;
use common::Project;
use std::path::PathBuf;

use arrow::array::{Array, Float64Array, StringArray};
use clientele_segment::metrics::{calinski_harabasz, davies_bouldin, silhouette_score};
use clientele_shared::parquet_io::ParquetSource;
use ndarray::Array2;

#[test]
fn metrics_equal_scikit_learn_on_its_own_labels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/cc_general.toml"),
    )
    .unwrap();
    let p = Project::new();
    p.write(
        "cc.toml",
        text.replace("../../../shared", &shared.display().to_string()),
    );
    assert_eq!(p.run(&["run", "cc.toml", "--quiet"]).code(), 0);

    let batches = ParquetSource::open(&p.path("out/features.parquet"))
        .unwrap()
        .read_all()
        .unwrap();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let (rows, cols) = (batch.num_rows(), batch.num_columns() - 1);
    let mut x = Array2::<f64>::zeros((rows, cols));
    for c in 0..cols {
        let column = batch
            .column(c + 1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        x.column_mut(c)
            .iter_mut()
            .zip(column.values())
            .for_each(|(a, b)| *a = *b);
    }
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();

    let mut labels = csv::Reader::from_path(shared.join("golden/sklearn_cc_labels.csv")).unwrap();
    let header = labels.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = labels.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows);
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| &r[0] == ids.value(i)),
        "row order differs"
    );
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("golden/sklearn_cc_golden.json")).unwrap(),
    )
    .unwrap();

    let close = |ours: f64, theirs: f64| (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0);
    for k in 2..=10 {
        let column = header
            .iter()
            .position(|h| h == format!("kmeans_k{k}"))
            .unwrap();
        let labels: Vec<usize> = records.iter().map(|r| r[column].parse().unwrap()).collect();
        let reference = &golden["kmeans"][k.to_string()];
        let checks = [
            ("silhouette", silhouette_score(x.view(), &labels).unwrap()),
            ("davies_bouldin", davies_bouldin(x.view(), &labels).unwrap()),
            (
                "calinski_harabasz",
                calinski_harabasz(x.view(), &labels).unwrap(),
            ),
        ];
        for (metric, ours) in checks {
            let theirs = reference[metric].as_f64().unwrap();
            assert!(
                close(ours, theirs),
                "k = {k}, {metric}: ours {ours}, scikit-learn {theirs}"
            );
        }
    }
}
