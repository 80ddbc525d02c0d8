//! One tree grown best split first on gradient histograms (LightGBM's leaf-wise growth,
//! as scikit-learn's `TreeGrower`): each node's histogram of gradient and hessian sums
//! per bin, the smaller child's built from its rows and its sibling's as the parent's
//! minus it, and the split of largest loss reduction taken until the tree has its leaves.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use clientele_numeric::simd::prefetch_lines;
use rayon::prelude::*;

use super::binning::{BinMapper, Binned, RowSlots, Slot, Slots};
use super::hyperparams::GbdtValidParams;
use super::model::{Node, Tree};

/// scikit-learn's `min_hessian_to_split`: a child needs this much hessian.
const MIN_HESSIAN: f64 = 1e-3;

/// A row's log-loss gradient and hessian. Single precision, as scikit-learn keeps them
/// (`G_H_DTYPE`): half the bytes to gather per row, and the sums stay in `f64`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct GradientPair {
    pub g: f32,
    pub h: f32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

/// Histogram buffers kept from tree to tree, two or three per split: a histogram holds
/// every bin of every feature (24 bytes each: 60 KB for the benchmark's 36 features,
/// megabytes for hundreds), and a fresh one is zeroed, when large mapped page by page,
/// which cost more than the subtraction it is made for (measured at 256 bins a feature).
#[derive(Default)]
pub(super) struct HistogramPool {
    free: Vec<Vec<Bin>>,
}

impl HistogramPool {
    /// A buffer of `len` bins, not zeroed: its user overwrites every bin.
    fn take(&mut self, len: usize) -> Vec<Bin> {
        match self.free.pop() {
            Some(buffer) if buffer.len() == len => buffer,
            _ => vec![Bin::default(); len],
        }
    }

    fn give(&mut self, buffer: Vec<Bin>) {
        self.free.push(buffer);
    }
}

/// A split of a node: rows with bin `<= bin` (and missing ones when `missing_left`) left;
/// the left child's sums, read off the histogram.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    missing_left: bool,
    left_g: f64,
    left_h: f64,
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

/// Grows one tree on every row: `rows` lists them in order on entry and is reordered in
/// place, leaf by leaf.
pub(super) fn grow(
    params: &GbdtValidParams,
    mapper: &BinMapper,
    binned: &Binned,
    gradients: &[GradientPair],
    rows: &mut [u32],
    pool: &mut HistogramPool,
) -> Grown {
    debug_assert!(
        rows.len() == binned.rows && rows.iter().enumerate().all(|(i, &r)| r as usize == i)
    );
    let lambda = params.l2_regularization;
    let lr = params.learning_rate;
    // Summed in fixed pieces, then the pieces in order: the same bits on any number of
    // threads.
    let (g, h) = gradients
        .par_chunks(PARALLEL_ROWS)
        .map(|piece| {
            piece.iter().fold((0.0, 0.0), |(g, h), p| {
                (g + f64::from(p.g), h + f64::from(p.h))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold((0.0, 0.0), |(g, h), (pg, ph)| (g + pg, h + ph));
    let root_histogram = histogram(
        binned,
        gradients,
        Rows::All,
        pool.take(binned.offsets[binned.features]),
    );
    let mut nodes = vec![Growing {
        start: 0,
        end: rows.len(),
        g,
        h,
        depth: 0,
        histogram: None,
        split: None,
    }];
    let mut heap = BinaryHeap::new();
    consider(
        params,
        &binned.offsets,
        &mut nodes[0],
        root_histogram,
        &mut heap,
        0,
        pool,
    );
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
        let Some(mut parent_histogram) = nodes[id].histogram.take() else {
            continue;
        };
        let goes_left =
            |r: u32| binned.goes_left(r as usize, split.feature, split.bin, split.missing_left);
        let middle = stable_partition(&mut rows[start..end], &mut scratch, goes_left) + start;
        let (lg, lh) = (split.left_g, split.left_h);
        let (rg, rh) = (nodes[id].g - lg, nodes[id].h - lh);
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
        let small_node = &nodes[small_id];
        let small = histogram(
            binned,
            gradients,
            Rows::Listed(&rows[small_node.start..small_node.end]),
            pool.take(binned.offsets[binned.features]),
        );
        for (p, s) in parent_histogram.iter_mut().zip(&small) {
            p.g -= s.g;
            p.h -= s.h;
            p.n -= s.n;
        }
        let large = parent_histogram;
        consider(
            params,
            &binned.offsets,
            &mut nodes[small_id],
            small,
            &mut heap,
            small_id,
            pool,
        );
        consider(
            params,
            &binned.offsets,
            &mut nodes[large_id],
            large,
            &mut heap,
            large_id,
            pool,
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
    for node in &mut nodes {
        if let Some(histogram) = node.histogram.take() {
            pool.give(histogram);
        }
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
    offsets: &[usize],
    node: &mut Growing,
    histogram: Vec<Bin>,
    heap: &mut BinaryHeap<Candidate>,
    id: usize,
    pool: &mut HistogramPool,
) {
    let rows = node.end - node.start;
    if rows < 2 * params.min_samples_leaf
        || node.h < 2.0 * MIN_HESSIAN
        || params.max_depth.is_some_and(|d| node.depth >= d)
    {
        pool.give(histogram);
        return;
    }
    let best = (0..offsets.len() - 1)
        .into_par_iter()
        .map(|f| {
            best_split_of_feature(
                params,
                &histogram[offsets[f]..offsets[f + 1]],
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
    } else {
        pool.give(histogram);
    }
}

/// The best split of one feature, whose bins are the present ones then the missing one:
/// every threshold with the missing values right, then (when there are some) with them
/// left.
fn best_split_of_feature(
    params: &GbdtValidParams,
    bins: &[Bin],
    (g, h, n): (f64, f64, u32),
    feature: usize,
) -> Option<Split> {
    let lambda = params.l2_regularization;
    let min_leaf = params.min_samples_leaf as u32;
    let parent_loss = g * g / (h + lambda);
    let (missing, bins) = bins.split_last()?;
    let missing = *missing;
    let present = bins.len();
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
                left_g: lg,
                left_h: lh,
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

/// Nodes with fewer rows are partitioned on one thread: below this, the threads'
/// start-up costs more than the work.
const PARALLEL_ROWS: usize = 1 << 16;

/// Rows per partial histogram: a node's rows are cut into pieces of this many, each
/// piece's histogram built on its own (by whichever thread is free), and the pieces'
/// histograms added in order, so that the sums have the same bits on any number of
/// threads.
const PIECE_ROWS: usize = 1 << 14;

/// How many rows ahead a histogram asks for the rows it will read.
const AHEAD: usize = 8;

/// The rows a histogram is built from.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Every row (the root): no index to read.
    All,
    Listed(&'a [u32]),
}

/// The gradient and hessian sums per feature and bin of `rows`, features side by side
/// (`binned.offsets`), written into `out`.
fn histogram(
    binned: &Binned,
    gradients: &[GradientPair],
    rows: Rows<'_>,
    mut out: Vec<Bin>,
) -> Vec<Bin> {
    out.fill(Bin::default());
    let totals = match &binned.slots {
        Slots::Narrow(slots) => fill(binned.rows, slots, gradients, rows, &mut out),
        Slots::Wide(slots) => fill(binned.rows, slots, gradients, rows, &mut out),
    };
    // Each feature's common bin holds what its other bins leave of the totals.
    for (f, bins) in binned.offsets.windows(2).enumerate() {
        let bins = &mut out[bins[0]..bins[1]];
        let common = usize::from(binned.common[f]);
        let mut rest = totals;
        for (b, bin) in bins.iter().enumerate() {
            if b != common {
                rest.g -= bin.g;
                rest.h -= bin.h;
                rest.n -= bin.n;
            }
        }
        bins[common] = rest;
    }
    out
}

/// Adds each row's gradients to its listed bins; returns the rows' totals.
fn fill<S: Slot>(
    all: usize,
    slots: &RowSlots<S>,
    gradients: &[GradientPair],
    rows: Rows<'_>,
    out: &mut [Bin],
) -> Bin {
    let n = match rows {
        Rows::All => all,
        Rows::Listed(rows) => rows.len(),
    };
    // A piece's histogram, and its totals.
    let piece = |start: usize, hist: &mut [Bin]| {
        let end = (start + PIECE_ROWS).min(n);
        let mut totals = Bin::default();
        match rows {
            Rows::All => {
                for (r, pair) in gradients.iter().enumerate().take(end).skip(start) {
                    add_row(hist, slots.row(r), pair, &mut totals);
                }
            }
            Rows::Listed(rows) => {
                // A deep node's rows are far apart: each one's slots and gradients are
                // asked for a few rows ahead, and where its slots start further ahead.
                for i in start..end {
                    if let Some(&ahead) = rows.get(i + 2 * AHEAD) {
                        prefetch_lines(&slots.starts[ahead as usize..ahead as usize + 1]);
                    }
                    if let Some(&ahead) = rows.get(i + AHEAD) {
                        let ahead = ahead as usize;
                        prefetch_lines(slots.row(ahead));
                        prefetch_lines(&gradients[ahead..ahead + 1]);
                    }
                    let r = rows[i] as usize;
                    add_row(hist, slots.row(r), &gradients[r], &mut totals);
                }
            }
        }
        totals
    };
    if n <= PIECE_ROWS {
        return piece(0, out);
    }
    let partials: Vec<(Vec<Bin>, Bin)> = (0..n.div_ceil(PIECE_ROWS))
        .into_par_iter()
        .map(|p| {
            let mut hist = vec![Bin::default(); out.len()];
            let totals = piece(p * PIECE_ROWS, &mut hist);
            (hist, totals)
        })
        .collect();
    let mut totals = Bin::default();
    for (partial, piece_totals) in &partials {
        for (bin, part) in out.iter_mut().zip(partial) {
            add_bin(bin, part);
        }
        add_bin(&mut totals, piece_totals);
    }
    totals
}

fn add_bin(total: &mut Bin, bin: &Bin) {
    total.g += bin.g;
    total.h += bin.h;
    total.n += bin.n;
}

/// Adds one row's gradients to each of its listed bins, and to the totals.
#[inline(always)]
fn add_row<S: Slot>(hist: &mut [Bin], slots: &[S], pair: &GradientPair, totals: &mut Bin) {
    let (g, h) = (f64::from(pair.g), f64::from(pair.h));
    totals.g += g;
    totals.h += h;
    totals.n += 1;
    for &slot in slots {
        let bin = &mut hist[slot.index()];
        bin.g += g;
        bin.h += h;
        bin.n += 1;
    }
}

/// Moves the rows for which `left` holds to the front, both sides in their order;
/// returns how many went left. Large nodes are cut into one piece per thread, each
/// partitioned apart, then the left parts and the right parts laid end to end.
fn stable_partition(
    rows: &mut [u32],
    scratch: &mut Vec<u32>,
    left: impl Fn(u32) -> bool + Sync,
) -> usize {
    if rows.len() < PARALLEL_ROWS {
        return partition_piece(rows, scratch, &left);
    }
    let piece = rows.len().div_ceil(rayon::current_num_threads().max(1));
    let lefts: Vec<usize> = rows
        .par_chunks_mut(piece)
        .map(|chunk| partition_piece(chunk, &mut Vec::with_capacity(chunk.len()), &left))
        .collect();
    // Each piece is now its left rows then its right rows; lay them out again.
    scratch.clear();
    scratch.extend_from_slice(rows);
    let mut at = 0;
    for (chunk, &l) in scratch.chunks(piece).zip(&lefts) {
        rows[at..at + l].copy_from_slice(&chunk[..l]);
        at += l;
    }
    let kept = at;
    for (chunk, &l) in scratch.chunks(piece).zip(&lefts) {
        rows[at..at + chunk.len() - l].copy_from_slice(&chunk[l..]);
        at += chunk.len() - l;
    }
    kept
}

fn partition_piece(rows: &mut [u32], scratch: &mut Vec<u32>, left: impl Fn(u32) -> bool) -> usize {
    // Every row is written to both sides and only its side's count moves on: no branch
    // on the split's outcome, which is a coin toss for the rows of a good split.
    scratch.clear();
    scratch.resize(rows.len(), 0);
    let (mut kept, mut moved) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        let l = left(r);
        rows[kept] = r;
        scratch[moved] = r;
        kept += usize::from(l);
        moved += usize::from(!l);
    }
    rows[kept..].copy_from_slice(&scratch[..moved]);
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
    fn histograms_equal_the_sums_of_their_rows_common_bins_included() {
        use ndarray::Array2;
        // Pieces in parallel (more rows than a piece), a one-hot column, a column with
        // missing values, and one of many values.
        let n = 2 * PIECE_ROWS + 123;
        let x = Array2::from_shape_fn((n, 3), |(r, f)| match f {
            0 => f64::from(u8::from(r.is_multiple_of(7))),
            1 if r.is_multiple_of(5) => f64::NAN,
            1 => (r % 3) as f64,
            _ => ((r * 7919) % 1000) as f64,
        });
        let mapper = BinMapper::fit(x.view(), 255, 0);
        let binned = mapper.transform(x.view());
        let gradients: Vec<GradientPair> = (0..n)
            .map(|r| GradientPair {
                g: ((r % 11) as f32 - 5.0) / 7.0,
                h: 0.1 + (r % 13) as f32 / 20.0,
            })
            .collect();
        let listed: Vec<u32> = (0..n as u32).filter(|r| r % 4 != 1).collect();
        for rows in [Rows::All, Rows::Listed(&listed)] {
            let all: Vec<u32> = (0..n as u32).collect();
            let chosen = match rows {
                Rows::All => &all,
                Rows::Listed(rows) => rows,
            };
            let out = vec![Bin::default(); binned.offsets[3]];
            let hist = histogram(&binned, &gradients, rows, out);
            let mut expected = vec![Bin::default(); binned.offsets[3]];
            for &r in chosen {
                for f in 0..3 {
                    let bin = &mut expected
                        [binned.offsets[f] + usize::from(binned.column(f)[r as usize])];
                    bin.g += f64::from(gradients[r as usize].g);
                    bin.h += f64::from(gradients[r as usize].h);
                    bin.n += 1;
                }
            }
            for (got, want) in hist.iter().zip(&expected) {
                assert_eq!(got.n, want.n);
                assert!((got.g - want.g).abs() < 1e-9 && (got.h - want.h).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_large_node_is_partitioned_in_pieces_in_order() {
        let n = 3 * PARALLEL_ROWS + 17;
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let left = |r: u32| r.is_multiple_of(3) || r > 2 * PARALLEL_ROWS as u32;
        let kept = stable_partition(&mut rows, &mut Vec::new(), left);
        let (lefts, rights): (Vec<u32>, Vec<u32>) = (0..n as u32).partition(|&r| left(r));
        assert_eq!(kept, lefts.len());
        assert_eq!(rows[..kept], lefts[..]);
        assert_eq!(rows[kept..], rights[..]);
    }

    #[test]
    fn the_best_split_separates_the_gradients_and_may_send_missing_left() {
        let params = super::super::GbdtParams::new()
            .min_samples_leaf(1)
            .check_unwrap();
        // Three present bins, then the missing one. Bins 0 and 1 pull down, bin 2 up;
        // the missing rows pull up too.
        let bin = |g: f64| Bin { g, h: 1.0, n: 2 };
        let mut bins = vec![bin(-2.0), bin(-2.0), bin(3.0), bin(3.0)];
        let total = |bins: &[Bin]| {
            bins.iter()
                .fold((0.0, 0.0, 0), |(g, h, n), b| (g + b.g, h + b.h, n + b.n))
        };
        let split = best_split_of_feature(&params, &bins, total(&bins), 4).unwrap();
        assert_eq!(
            (split.feature, split.bin, split.missing_left),
            (4, 1, false)
        );
        // (-4)²/2 + 6²/2 - 2²/4 = 8 + 18 - 1.
        assert!((split.gain - 25.0).abs() < 1e-12);
        assert_eq!((split.left_g, split.left_h), (-4.0, 2.0));
        bins[3].g = -3.0;
        let split = best_split_of_feature(&params, &bins, total(&bins), 0).unwrap();
        assert_eq!((split.bin, split.missing_left), (1, true));
    }
}
