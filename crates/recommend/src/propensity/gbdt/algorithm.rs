//! Boosting: from the log-odds of the positive share, each iteration fits a tree to the
//! log-loss gradients and hessians of the current scores and adds it, shrunk by the
//! learning rate; with early stopping, a stratified, seeded validation fold is held out
//! and boosting stops when its loss has not improved by `tol` in `n_iter_no_change`
//! iterations (scikit-learn's rule, trees kept up to the stop).

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2, ShapeBuilder};
use rayon::prelude::*;

use super::binning::{BinMapper, Binned};
use super::errors::GbdtError;
use super::grower::{grow, Buffers, GradientPair, Grown};
use super::hyperparams::GbdtValidParams;
use super::model::{Gbdt, Tree, Walk};
use crate::propensity::{sigmoid, softplus, stratified_split};

/// The seed of the validation fold, apart from the binning's.
const VALIDATION_SALT: u64 = 0x7661_6c69_6461_7465;

impl GbdtValidParams {
    /// Fits on the rows of `x` (NaN: missing) and their labels.
    pub fn fit_rows(&self, x: ArrayView2<f64>, labels: &[bool]) -> Result<Gbdt, GbdtError> {
        let (n, d) = x.dim();
        if n == 0 || d == 0 || labels.len() != n {
            return Err(GbdtError::Shape {
                rows: n,
                labels: labels.len(),
            });
        }
        let (train, validation) = if self.stops_early(n) {
            stratified_split(
                labels,
                self.validation_fraction,
                self.seed ^ VALIDATION_SALT,
            )
        } else {
            ((0..n).collect(), Vec::new())
        };
        let y: Vec<f64> = train
            .iter()
            .map(|&r| f64::from(u8::from(labels[r])))
            .collect();
        let positives = y.iter().sum::<f64>();
        if positives == 0.0 || positives == y.len() as f64 {
            return Err(GbdtError::OneClass);
        }
        let x_train = columns_of(x, &train);
        let mapper = BinMapper::fit(x_train.view(), self.max_bins, self.seed);
        let binned = mapper.transform(x_train.view());
        drop(x_train);
        let share = positives / y.len() as f64;
        let baseline = (share / (1.0 - share)).ln();
        let mut raw = vec![baseline; y.len()];
        let mut gradients = vec![GradientPair::default(); y.len()];
        let mut rows: Vec<u32> = (0..y.len() as u32).collect();

        let x_validation = columns_of(x, &validation);
        let binned_validation = mapper.transform(x_validation.view());
        let y_validation: Vec<f64> = validation
            .iter()
            .map(|&r| f64::from(u8::from(labels[r])))
            .collect();
        let mut raw_validation = vec![baseline; validation.len()];
        let mut validation_loss = Vec::new();
        if !validation.is_empty() {
            validation_loss.push(log_loss(&raw_validation, &y_validation));
        }

        let mut trees = Vec::new();
        let mut pool = Buffers::default();
        for _ in 0..self.max_iter {
            gradients
                .par_iter_mut()
                .zip(raw.par_iter().zip(&y))
                .for_each(|(pair, (&f, &y))| {
                    let p = sigmoid(f);
                    pair.g = (p - y) as f32;
                    pair.h = (p * (1.0 - p)) as f32;
                });
            // Every tree starts from the rows in order: the partitions are stable, so each
            // node's rows stay ascending, and its histogram and partition read memory
            // forwards (after the first tree, the last tree's leaf order made them jump).
            rows.par_iter_mut()
                .enumerate()
                .for_each(|(i, r)| *r = i as u32);
            let grown = grow(self, &mapper, &binned, &gradients, &mut rows, &mut pool);
            add_leaf_values(&grown, &rows, &mut raw);
            let splits = grown.tree.nodes.len() > 1;
            if !validation.is_empty() {
                add_binned(
                    &grown.tree,
                    &mapper,
                    &binned_validation,
                    &mut raw_validation,
                );
                validation_loss.push(log_loss(&raw_validation, &y_validation));
            }
            trees.push(grown.tree);
            if !splits || (!validation.is_empty() && self.should_stop(&validation_loss)) {
                break;
            }
        }
        Ok(Gbdt {
            features: d,
            baseline,
            trees,
            validation_loss,
            walk: Walk::default(),
        })
    }

    /// scikit-learn's `_should_stop`: no loss among the last `n_iter_no_change` below the
    /// one before them by more than `tol`.
    fn should_stop(&self, losses: &[f64]) -> bool {
        let reference = self.n_iter_no_change + 1;
        if losses.len() < reference {
            return false;
        }
        let before = losses[losses.len() - reference] - self.tol;
        !losses[losses.len() - reference + 1..]
            .iter()
            .any(|&l| l < before)
    }
}

impl<D: Data<Elem = f64>> Fit<ArrayBase<D, Ix2>, Array1<bool>, GbdtError> for GbdtValidParams {
    type Object = Gbdt;

    fn fit(
        &self,
        dataset: &DatasetBase<ArrayBase<D, Ix2>, Array1<bool>>,
    ) -> Result<Gbdt, GbdtError> {
        let labels: Vec<bool> = dataset.targets.iter().copied().collect();
        self.fit_rows(dataset.records.view(), &labels)
    }
}

/// Adds each leaf's value to the raw scores of its rows. Each thread takes a range of
/// the rows and finds each leaf's rows in it by bisection (a leaf's rows are ascending:
/// the tree started from the rows in order and its partitions are stable).
fn add_leaf_values(grown: &Grown, rows: &[u32], raw: &mut [f64]) {
    let piece = raw
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    raw.par_chunks_mut(piece)
        .enumerate()
        .for_each(|(c, scores)| {
            let first = (c * piece) as u32;
            let last = first + scores.len() as u32;
            for &(leaf, start, end) in &grown.leaves {
                let value = grown.tree.nodes[leaf].value;
                let leaf_rows = &rows[start..end];
                let from = leaf_rows.partition_point(|&r| r < first);
                let to = leaf_rows.partition_point(|&r| r < last);
                for &r in &leaf_rows[from..to] {
                    scores[(r - first) as usize] += value;
                }
            }
        });
}

/// Adds a tree's values to the raw scores of binned rows (the bins decide as the
/// thresholds would: a bin at or below the split's bin is at or below its threshold).
fn add_binned(tree: &Tree, mapper: &BinMapper, binned: &Binned, raw: &mut [f64]) {
    // The split bin of each node, recovered from its threshold.
    let split_bins: Vec<u8> = tree
        .nodes
        .iter()
        .map(|node| {
            if node.is_leaf() {
                0
            } else {
                mapper.bin(node.feature as usize, node.threshold)
            }
        })
        .collect();
    raw.par_iter_mut().enumerate().for_each(|(r, score)| {
        let mut at = 0;
        while !tree.nodes[at].is_leaf() {
            let node = &tree.nodes[at];
            let left =
                binned.goes_left(r, node.feature as usize, split_bins[at], node.missing_left);
            at = if left { node.left } else { node.right } as usize;
        }
        *score += tree.nodes[at].value;
    });
}

/// The rows `rows` of `x`, column-major: binning reads a feature at a time, and a column
/// of a row-major matrix would cost a cache line per value (half the binning's time).
/// Copied a block of rows at a time, in parallel: each block reads its rows in order and
/// writes a run of every column.
fn columns_of(x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
    const BLOCK: usize = 1 << 12;
    let (n, d) = (rows.len(), x.ncols());
    let mut data = vec![0.0; n * d];
    let mut blocks: Vec<Vec<&mut [f64]>> = (0..n.div_ceil(BLOCK)).map(|_| Vec::new()).collect();
    for column in data.chunks_mut(n.max(1)) {
        for (block, run) in blocks.iter_mut().zip(column.chunks_mut(BLOCK)) {
            block.push(run);
        }
    }
    blocks
        .into_par_iter()
        .zip(rows.par_chunks(BLOCK))
        .for_each(|(mut runs, block_rows)| {
            for (i, &r) in block_rows.iter().enumerate() {
                for (run, &v) in runs.iter_mut().zip(x.row(r)) {
                    run[i] = v;
                }
            }
        });
    Array2::from_shape_vec((n, d).f(), data).expect("n × d values make an n × d matrix")
}

/// The mean log-loss of raw scores against 0/1 labels, computed without overflow.
pub(crate) fn log_loss(raw: &[f64], y: &[f64]) -> f64 {
    let total: f64 = raw.iter().zip(y).map(|(&f, &y)| softplus(f) - y * f).sum();
    total / raw.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use linfa::ParamGuard;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::super::{EarlyStopping, GbdtParams};
    use super::*;

    /// P(label) rises with feature 0 past 0.5 and when feature 1 is missing; feature 2 is
    /// noise.
    fn case(n: usize) -> (Array2<f64>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        use rand::RngExt;
        let x = Array2::from_shape_fn((n, 3), |(_, j)| match j {
            1 if rng.random::<f64>() < 0.3 => f64::NAN,
            _ => rng.random::<f64>(),
        });
        let labels = (0..n)
            .map(|r| {
                let p = 0.1
                    + 0.6 * f64::from(u8::from(x[[r, 0]] > 0.5))
                    + 0.2 * f64::from(u8::from(x[[r, 1]].is_nan()));
                rng.random::<f64>() < p
            })
            .collect();
        (x, labels)
    }

    #[test]
    fn boosting_finds_the_signal_and_the_missing_values() {
        let (x, labels) = case(4000);
        let model = GbdtParams::new().max_iter(100).check_unwrap();
        let model = model.fit_rows(x.view(), &labels).unwrap();
        assert_eq!(model.trees.len(), 100);
        // Boosting fits the groups the label depends on: each group's mean probability
        // is its share of positives, the noise feature averaged out.
        let mut groups = [[0.0f64; 3]; 4];
        for (r, row) in x.rows().into_iter().enumerate() {
            let g = usize::from(row[0] > 0.5) * 2 + usize::from(row[1].is_nan());
            groups[g][0] += 1.0;
            groups[g][1] += f64::from(u8::from(labels[r]));
            groups[g][2] += model.probability(row.as_slice().unwrap());
        }
        for [n, positives, probability] in groups {
            assert!((positives / n - probability / n).abs() < 0.01, "{groups:?}");
        }
        let p = |a: f64, b: f64| model.probability(&[a, b, 0.5]);
        assert!(p(0.1, 0.5) < 0.2 && p(0.9, 0.5) > 0.6 && p(0.1, f64::NAN) > p(0.1, 0.5));
        // The training loss falls below the baseline's.
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        let raw: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| model.raw_score(r.as_slice().unwrap()))
            .collect();
        assert!(log_loss(&raw, &y) < log_loss(&vec![model.baseline; y.len()], &y) - 0.1);
    }

    #[test]
    fn same_seed_same_trees_and_early_stopping_stops() {
        let (x, labels) = case(3000);
        let params = GbdtParams::new()
            .max_iter(500)
            .learning_rate(0.5)
            .early_stopping(EarlyStopping::On)
            .seed(11)
            .check_unwrap();
        let a = params.fit_rows(x.view(), &labels).unwrap();
        let b = params.fit_rows(x.view(), &labels).unwrap();
        assert_eq!(a, b);
        assert!(a.trees.len() < 500, "{} trees", a.trees.len());
        assert_eq!(a.validation_loss.len(), a.trees.len() + 1);
        assert!(params.should_stop(&a.validation_loss));
    }

    #[test]
    fn one_class_and_bad_shapes_are_errors() {
        let params = GbdtParams::new().check_unwrap();
        let x = Array2::zeros((4, 2));
        let e = params.fit_rows(x.view(), &[true; 4]).unwrap_err();
        assert!(matches!(e, GbdtError::OneClass));
        let e = params.fit_rows(x.view(), &[true; 3]).unwrap_err();
        assert!(e.to_string().contains("4 rows, 3 labels"), "{e}");
    }

    #[test]
    fn the_stratified_split_holds_out_each_class_in_proportion() {
        let labels: Vec<bool> = (0..100).map(|i| i % 4 == 0).collect();
        let (train, validation) = stratified_split(&labels, 0.1, 1);
        assert_eq!(train.len() + validation.len(), 100);
        assert_eq!(validation.iter().filter(|&&r| labels[r]).count(), 3);
        assert_eq!(validation.len(), 3 + 8);
    }
}
