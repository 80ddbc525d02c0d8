//! One tree grown best split first on gradient histograms (LightGBM's leaf-wise growth,
//! as scikit-learn's `TreeGrower`): each node's histogram of gradient and hessian sums
//! per bin, the smaller child's built from its rows and its sibling's as the parent's
//! minus it, and the split of largest loss reduction taken until the tree has its leaves.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::binning::{BinMapper, Binned, MISSING_BIN};
use super::hyperparams::GbdtValidParams;
use super::model::{Node, Tree};

/// scikit-learn's `min_hessian_to_split`: a child needs this much hessian.
const MIN_HESSIAN: f64 = 1e-3;
const BINS: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

/// A split of a node: rows with bin `<= bin` (and missing ones when `missing_left`) left.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    missing_left: bool,
}

/// A node while the tree grows: its rows are `rows[start..end]` of the grower's index.
struct Growing {
    start: usize,
    end: usize,
    g: f64,
    h: f64,
    depth: usize,
    histogram: Option<Vec<Bin>>,
    split: Option<Split>,
}

/// Candidates by gain, the first node first among equals, so growth is the same on
/// every run.
#[derive(PartialEq)]
struct Candidate(f64, usize);
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

/// What a grown tree gives back: the tree, and each leaf's rows of the index.
pub(super) struct Grown {
    pub tree: Tree,
    /// (node, start, end) of each leaf in `rows`.
    pub leaves: Vec<(usize, usize, usize)>,
}

/// Grows one tree on the rows listed in `rows` (reordered in place, leaf by leaf).
pub(super) fn grow(
    params: &GbdtValidParams,
    mapper: &BinMapper,
    binned: &Binned,
    gradients: &[f64],
    hessians: &[f64],
    rows: &mut [u32],
) -> Grown {
    let lambda = params.l2_regularization;
    let lr = params.learning_rate;
    let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &r| {
        (g + gradients[r as usize], h + hessians[r as usize])
    });
    let mut nodes = vec![Growing {
        start: 0,
        end: rows.len(),
        g,
        h,
        depth: 0,
        histogram: None,
        split: None,
    }];
    let root_histogram = histogram(binned, gradients, hessians, rows);
    let mut heap = BinaryHeap::new();
    consider(params, mapper, &mut nodes[0], root_histogram, &mut heap, 0);
    let mut tree_nodes = vec![leaf_node(&nodes[0], lr, lambda)];
    let mut leaves = 1;
    let mut scratch = Vec::with_capacity(rows.len());
    while leaves < params.max_leaf_nodes {
        let Some(Candidate(_, id)) = heap.pop() else {
            break;
        };
        let (start, end, depth) = (nodes[id].start, nodes[id].end, nodes[id].depth);
        let Some(split) = nodes[id].split else {
            continue;
        };
        let parent_histogram = nodes[id].histogram.take().unwrap_or_default();
        let column = binned.column(split.feature);
        let goes_left = |r: u32| {
            let b = column[r as usize];
            if b == MISSING_BIN {
                split.missing_left
            } else {
                b <= split.bin
            }
        };
        let middle = stable_partition(&mut rows[start..end], &mut scratch, goes_left) + start;
        let sums = |part: &[u32]| {
            part.iter().fold((0.0, 0.0), |(g, h), &r| {
                (g + gradients[r as usize], h + hessians[r as usize])
            })
        };
        let (lg, lh) = sums(&rows[start..middle]);
        let (rg, rh) = sums(&rows[middle..end]);
        let left_id = nodes.len();
        let right_id = left_id + 1;
        for (s, e, g, h) in [(start, middle, lg, lh), (middle, end, rg, rh)] {
            nodes.push(Growing {
                start: s,
                end: e,
                g,
                h,
                depth: depth + 1,
                histogram: None,
                split: None,
            });
        }
        // The smaller child's histogram from its rows; the larger's by subtraction.
        let left_smaller = middle - start <= end - middle;
        let (small_id, large_id) = if left_smaller {
            (left_id, right_id)
        } else {
            (right_id, left_id)
        };
        let small = histogram(
            binned,
            gradients,
            hessians,
            &rows[nodes[small_id].start..nodes[small_id].end],
        );
        let large: Vec<Bin> = parent_histogram
            .iter()
            .zip(&small)
            .map(|(p, s)| Bin {
                g: p.g - s.g,
                h: p.h - s.h,
                n: p.n - s.n,
            })
            .collect();
        consider(
            params,
            mapper,
            &mut nodes[small_id],
            small,
            &mut heap,
            small_id,
        );
        consider(
            params,
            mapper,
            &mut nodes[large_id],
            large,
            &mut heap,
            large_id,
        );
        let feature = split.feature;
        let threshold = mapper.thresholds[feature]
            .get(split.bin as usize)
            .copied()
            .unwrap_or(f64::MAX);
        let at = tree_nodes.len() as u32;
        // Grower ids and tree indices are the same numbers: both add two nodes a split.
        let parent = &mut tree_nodes[id];
        parent.feature = feature as u32;
        parent.threshold = threshold;
        parent.missing_left = split.missing_left;
        parent.left = at;
        parent.right = at + 1;
        tree_nodes.push(leaf_node(&nodes[left_id], lr, lambda));
        tree_nodes.push(leaf_node(&nodes[right_id], lr, lambda));
        leaves += 1;
        debug_assert_eq!(tree_nodes.len(), nodes.len());
    }
    let leaves = tree_nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_leaf())
        .map(|(i, _)| (i, nodes[i].start, nodes[i].end))
        .collect();
    Grown {
        tree: Tree { nodes: tree_nodes },
        leaves,
    }
}

fn leaf_node(node: &Growing, lr: f64, lambda: f64) -> Node {
    Node {
        value: -lr * node.g / (node.h + lambda),
        rows: (node.end - node.start) as u32,
        feature: 0,
        threshold: 0.0,
        missing_left: false,
        left: 0,
        right: 0,
    }
}

/// Keeps the histogram of a node that may split, and queues it by its best gain.
fn consider(
    params: &GbdtValidParams,
    mapper: &BinMapper,
    node: &mut Growing,
    histogram: Vec<Bin>,
    heap: &mut BinaryHeap<Candidate>,
    id: usize,
) {
    let rows = node.end - node.start;
    if rows < 2 * params.min_samples_leaf
        || node.h < 2.0 * MIN_HESSIAN
        || params.max_depth.is_some_and(|d| node.depth >= d)
    {
        return;
    }
    let best = (0..mapper.thresholds.len())
        .into_par_iter()
        .map(|f| {
            best_split_of_feature(
                params,
                &histogram[f * BINS..(f + 1) * BINS],
                mapper.bins_present(f),
                (node.g, node.h, rows as u32),
                f,
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .fold(None::<Split>, |best, s| match best {
            Some(b) if b.gain >= s.gain => Some(b),
            _ => Some(s),
        });
    if let Some(split) = best {
        node.split = Some(split);
        node.histogram = Some(histogram);
        heap.push(Candidate(split.gain, id));
    }
}

/// The best split of one feature: every threshold with the missing values right, then
/// (when there are some) with them left.
fn best_split_of_feature(
    params: &GbdtValidParams,
    bins: &[Bin],
    present: usize,
    (g, h, n): (f64, f64, u32),
    feature: usize,
) -> Option<Split> {
    let lambda = params.l2_regularization;
    let min_leaf = params.min_samples_leaf as u32;
    let parent_loss = g * g / (h + lambda);
    let missing = bins[MISSING_BIN as usize];
    let has_missing = missing.n > 0;
    let mut best: Option<Split> = None;
    let mut consider = |lg: f64, lh: f64, ln: u32, bin: usize, missing_left: bool| {
        let (rg, rh, rn) = (g - lg, h - lh, n - ln);
        if ln < min_leaf || rn < min_leaf || lh < MIN_HESSIAN || rh < MIN_HESSIAN {
            return;
        }
        let gain = lg * lg / (lh + lambda) + rg * rg / (rh + lambda) - parent_loss;
        if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
            best = Some(Split {
                gain,
                feature,
                bin: bin as u8,
                missing_left,
            });
        }
    };
    // Missing values right: with them, the last present bin is a threshold too (every
    // present value left, the missing ones right).
    let (mut lg, mut lh, mut ln) = (0.0, 0.0, 0u32);
    for (b, bin) in bins
        .iter()
        .enumerate()
        .take(present - 1 + usize::from(has_missing))
    {
        lg += bin.g;
        lh += bin.h;
        ln += bin.n;
        consider(lg, lh, ln, b, false);
    }
    if has_missing {
        let (mut lg, mut lh, mut ln) = (missing.g, missing.h, missing.n);
        for (b, bin) in bins.iter().enumerate().take(present - 1) {
            lg += bin.g;
            lh += bin.h;
            ln += bin.n;
            consider(lg, lh, ln, b, true);
        }
    }
    best
}

/// The gradient and hessian sums per feature and bin of `rows`, features side by side.
fn histogram(binned: &Binned, gradients: &[f64], hessians: &[f64], rows: &[u32]) -> Vec<Bin> {
    // Gathered once in the rows' order, so that each feature's pass reads them in
    // sequence.
    let ordered: Vec<(f64, f64)> = rows
        .iter()
        .map(|&r| (gradients[r as usize], hessians[r as usize]))
        .collect();
    let mut out = vec![Bin::default(); binned.features * BINS];
    out.par_chunks_mut(BINS).enumerate().for_each(|(f, hist)| {
        let column = binned.column(f);
        for (&r, &(g, h)) in rows.iter().zip(&ordered) {
            let bin = &mut hist[column[r as usize] as usize];
            bin.g += g;
            bin.h += h;
            bin.n += 1;
        }
    });
    out
}

/// Moves the rows for which `left` holds to the front, both sides in their order;
/// returns how many went left.
fn stable_partition(rows: &mut [u32], scratch: &mut Vec<u32>, left: impl Fn(u32) -> bool) -> usize {
    scratch.clear();
    let mut kept = 0;
    for i in 0..rows.len() {
        let r = rows[i];
        if left(r) {
            rows[kept] = r;
            kept += 1;
        } else {
            scratch.push(r);
        }
    }
    rows[kept..].copy_from_slice(scratch);
    kept
}

#[cfg(test)]
mod tests {
    use linfa::ParamGuard;

    use super::*;

    #[test]
    fn stable_partition_keeps_each_side_in_order() {
        let mut rows = [5, 2, 8, 1, 9, 4];
        let mut scratch = Vec::new();
        let left = stable_partition(&mut rows, &mut scratch, |r| r % 2 == 0);
        assert_eq!(left, 3);
        assert_eq!(rows, [2, 8, 4, 5, 1, 9]);
    }

    #[test]
    fn the_best_split_separates_the_gradients_and_may_send_missing_left() {
        let params = super::super::GbdtParams::new()
            .min_samples_leaf(1)
            .check_unwrap();
        // Bins 0 and 1 pull down, bin 2 up; the missing rows pull up too.
        let mut bins = vec![Bin::default(); BINS];
        bins[0] = Bin {
            g: -2.0,
            h: 1.0,
            n: 2,
        };
        bins[1] = Bin {
            g: -2.0,
            h: 1.0,
            n: 2,
        };
        bins[2] = Bin {
            g: 3.0,
            h: 1.0,
            n: 2,
        };
        bins[MISSING_BIN as usize] = Bin {
            g: 3.0,
            h: 1.0,
            n: 2,
        };
        let total = bins
            .iter()
            .fold((0.0, 0.0, 0), |(g, h, n), b| (g + b.g, h + b.h, n + b.n));
        let split = best_split_of_feature(&params, &bins, 3, total, 4).unwrap();
        assert_eq!(
            (split.feature, split.bin, split.missing_left),
            (4, 1, false)
        );
        // (-4)²/2 + 6²/2 - 2²/4 = 8 + 18 - 1.
        assert!((split.gain - 25.0).abs() < 1e-12);
        bins[MISSING_BIN as usize].g = -3.0;
        let total = bins
            .iter()
            .fold((0.0, 0.0, 0), |(g, h, n), b| (g + b.g, h + b.h, n + b.n));
        let split = best_split_of_feature(&params, &bins, 3, total, 0).unwrap();
        assert_eq!((split.bin, split.missing_left), (1, true));
    }
}
