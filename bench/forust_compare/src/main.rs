//! forust-ml 0.4.8 on the real bank clients, scikit-learn's split (tests/golden/), against
//! the figures of clientele's gbdt and scikit-learn's HistGradientBoostingClassifier
//! (README: AUC 0.7996 / 0.8008, average precision 0.4629 / 0.4602, takers in the top
//! tenth 0.520 / 0.516). Run from the repository root after `prepare.py`:
//! `cargo run --release --manifest-path bench/forust_compare/Cargo.toml`.
use forust_ml::gradientbooster::{GradientBooster, GrowPolicy};
use forust_ml::metric::Metric;
use forust_ml::Matrix;
use std::time::Instant;

fn read(path: &str) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}
fn auc(s: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
    // rank with ties averaged
    let mut ranks = vec![0.0; s.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && s[idx[j + 1]] == s[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos: f64 = y.iter().sum();
    let neg = y.len() as f64 - pos;
    let sum: f64 = ranks
        .iter()
        .zip(y)
        .filter(|&(_, &l)| l > 0.5)
        .map(|(r, _)| r)
        .sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}
fn ap(s: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let pos: f64 = y.iter().sum();
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && s[idx[j]] == s[idx[i]] {
            if y[idx[j]] > 0.5 {
                tp += 1.0
            } else {
                fp += 1.0
            }
            j += 1;
        }
        let recall = tp / pos;
        ap += (recall - last_recall) * tp / (tp + fp);
        last_recall = recall;
        i = j;
    }
    ap
}
fn top(s: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let k = (0.1 * s.len() as f64).ceil() as usize;
    idx[..k].iter().map(|&i| y[i]).sum::<f64>() / k as f64
}
fn main() {
    let (xtr, ytr, xte, yte) = (
        read("bench/work/forust/xtrain.bin"),
        read("bench/work/forust/ytrain.bin"),
        read("bench/work/forust/xtest.bin"),
        read("bench/work/forust/ytest.bin"),
    );
    let cols = 50;
    let (ntr, nte) = (ytr.len(), yte.len());
    assert_eq!(xtr.len(), ntr * cols);
    let train = Matrix::new(&xtr, ntr, cols);
    let test = Matrix::new(&xte, nte, cols);
    for (name, leafwise, early) in [
        ("forust defaults but 100 iterations at 0.1", false, false),
        ("forust leaf-wise 31 leaves, 255 bins", true, false),
        (
            "forust leaf-wise 31 leaves, early stopping on the last 10 % of the training rows",
            true,
            true,
        ),
    ] {
        let mut model = GradientBooster::default()
            .set_iterations(100)
            .set_learning_rate(0.1)
            .set_parallel(true);
        if leafwise {
            model = model
                .set_max_leaves(31)
                .set_max_depth(usize::MAX)
                .set_nbins(255);
            model.grow_policy = GrowPolicy::LossGuide;
        }
        let started = Instant::now();
        if early {
            // The last 10 % of the training rows as the validation fold.
            let cut = ntr - ntr / 10;
            let fit_x: Vec<f64> = (0..cols)
                .flat_map(|c| xtr[c * ntr..c * ntr + cut].to_vec())
                .collect();
            let val_x: Vec<f64> = (0..cols)
                .flat_map(|c| xtr[c * ntr + cut..(c + 1) * ntr].to_vec())
                .collect();
            let fit = Matrix::new(&fit_x, cut, cols);
            let val = Matrix::new(&val_x, ntr - cut, cols);
            let w = vec![1.0; ntr - cut];
            model = model
                .set_evaluation_metric(Some(Metric::LogLoss))
                .set_early_stopping_rounds(Some(10));
            model
                .fit_unweighted(&fit, &ytr[..cut], Some(vec![(val, &ytr[cut..], &w)]))
                .unwrap();
        } else {
            model.fit_unweighted(&train, &ytr, None).unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let s = model.predict(&test, true);
        println!(
            "{name}: AUC {:.4} AP {:.4} top decile {:.4}; {} trees, fit {:.2} s",
            auc(&s, &yte),
            ap(&s, &yte),
            top(&s, &yte),
            model.trees.len(),
            secs
        );
    }
}
