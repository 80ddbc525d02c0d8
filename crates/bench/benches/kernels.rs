//! Criterion micro-benchmarks of clientele's kernels, each on seeded synthetic data made
//! here, so that `cargo bench -p clientele-bench` needs no file:
//! - `lloyd_pass`: one K-Means assignment pass (every row to its nearest centre, with the
//!   sums the update needs), reported as bytes of the matrix per second;
//! - `silhouette`: the exact silhouette of a partition;
//! - `dbscan_neighbourhoods`: DBSCAN's radius queries, every row against the KD-tree;
//! - `user_knn`: the recommend stage's exact user-based neighbour search;
//! - `parquet`: writing and reading a features table through `clientele_shared`.
//!
//! The side-by-side comparisons with scikit-learn are the scripts under `bench/`; the
//! Lloyd pass against the memory-bandwidth bound is `clientele-bandwidth`.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use clientele_bench::synthetic::{blobs, holdings};
use clientele_recommend::user_knn::UserKnn;
use clientele_recommend::Similarity;
use clientele_segment::k_means::{self, LloydPass};
use clientele_segment::kdtree::KdTree;
use clientele_segment::metrics;
use clientele_shared::parquet_io::{write_batches, ParquetSource};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::s;

fn lloyd_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("lloyd_pass");
    for &(rows, dims, k) in &[(200_000, 16, 8), (200_000, 37, 10)] {
        let x = blobs(rows, dims, k, 7);
        let centres = x.slice(s![..k, ..]).to_owned();
        let mut pass = LloydPass::new(x.view());
        group.throughput(Throughput::Bytes((rows * dims * 8) as u64));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{rows}x{dims}_k{k}")),
            |b| b.iter(|| black_box(pass.run(&centres))),
        );
    }
    group.finish();
}

fn silhouette(c: &mut Criterion) {
    let mut group = c.benchmark_group("silhouette");
    group.sample_size(10);
    let (rows, dims, k) = (5_000, 24, 8);
    let x = blobs(rows, dims, k, 7);
    let labels = k_means::fit(x.view(), &k_means::KMeansParams::new(k).n_init(1))
        .expect("K-Means on synthetic blobs")
        .labels;
    group.throughput(Throughput::Elements((rows * rows) as u64));
    group.bench_function(format!("{rows}x{dims}_k{k}"), |b| {
        b.iter(|| metrics::silhouette_score(black_box(x.view()), &labels).expect("silhouette"))
    });
    group.finish();
}

fn dbscan_neighbourhoods(c: &mut Criterion) {
    let mut group = c.benchmark_group("dbscan_neighbourhoods");
    group.sample_size(10);
    let (rows, dims) = (100_000, 4);
    let x = blobs(rows, dims, 12, 7);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(format!("build_{rows}x{dims}"), |b| {
        b.iter(|| KdTree::new(black_box(x.view())))
    });
    let tree = KdTree::new(x.view());
    group.bench_function(format!("count_within_{rows}x{dims}"), |b| {
        b.iter(|| {
            x.rows()
                .into_iter()
                .map(|row| tree.count_within(row.as_slice().expect("contiguous rows"), 0.25))
                .sum::<usize>()
        })
    });
    group.finish();
}

fn user_knn(c: &mut Criterion) {
    let mut group = c.benchmark_group("user_knn");
    group.sample_size(10);
    for &(customers, products) in &[(100_000, 20), (100_000, 24)] {
        let baskets = holdings(customers, products, 7);
        group.throughput(Throughput::Elements(customers as u64));
        group.bench_function(format!("{customers}_customers_{products}_products"), |b| {
            b.iter(|| UserKnn::fit(black_box(&baskets), products, 20, Similarity::Cosine))
        });
    }
    group.finish();
}

fn parquet(c: &mut Criterion) {
    let mut group = c.benchmark_group("parquet");
    group.sample_size(10);
    let (rows, dims) = (100_000, 37);
    let x = blobs(rows, dims, 8, 7);
    let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        (0..rows).map(|r| format!("C{r:08}")),
    ))];
    for j in 0..dims {
        fields.push(Field::new(format!("f{j}"), DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            x.column(j).iter().copied(),
        )));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("a consistent batch");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("features.parquet");
    group.throughput(Throughput::Bytes((rows * (dims * 8 + 9)) as u64));
    group.bench_function(format!("write_{rows}x{dims}"), |b| {
        b.iter(|| {
            write_batches(&path, schema.clone(), std::slice::from_ref(&batch), None).expect("write")
        })
    });
    group.bench_function(format!("read_{rows}x{dims}"), |b| {
        b.iter(|| {
            ParquetSource::open(&path, None)
                .expect("open")
                .read_all()
                .expect("read")
                .len()
        })
    });
    group.finish();
}

criterion_group!(
    kernels,
    lloyd_pass,
    silhouette,
    dbscan_neighbourhoods,
    user_knn,
    parquet
);
criterion_main!(kernels);
