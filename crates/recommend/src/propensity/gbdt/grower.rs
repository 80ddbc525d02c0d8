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

/// Buffers kept from tree to tree. Histograms, two or three per split: a histogram holds
/// every bin of every feature (24 bytes each: 60 KB for the benchmark's 36 features,
/// megabytes for hundreds), and a fresh one is zeroed, when large mapped page by page,
/// which cost more than the subtraction it is made for (measured at 256 bins a feature).
/// And the partitions' scratch rows.
#[derive(Default)]
pub(super) struct Buffers {
    free: Vec<Vec<Bin>>,
    /// The partial histograms of a node's pieces after its first (which is built in the
    /// node's own buffer).
    partials: Vec<Vec<Bin>>,
    scratch: Vec<u32>,
}

impl Buffers {
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
    pool: &mut Buffers,
) -> Grown {
    debug_assert!(
        rows.len() == binned.rows && rows.iter().enumerate().all(|(i, &r)| r as usize == i)
    );
    let lambda = params.l2_regularization;
    let lr = params.learning_rate;
    // The root's sums are its histogram's totals.
    let (root_histogram, totals) = histogram(binned, gradients, Rows::All, pool);
    let (g, h) = (totals.g, totals.h);
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
        let middle = stable_partition(&mut rows[start..end], &mut pool.scratch, goes_left) + start;
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
        let (small, _) = histogram(
            binned,
            gradients,
            Rows::Listed(&rows[small_node.start..small_node.end]),
            pool,
        );
        parent_histogram
            .par_chunks_mut(MERGE_BINS)
            .zip(small.par_chunks(MERGE_BINS))
            .for_each(|(parent, small)| {
                for (p, s) in parent.iter_mut().zip(small) {
                    p.g -= s.g;
                    p.h -= s.h;
                    p.n -= s.n;
                }
            });
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
    pool: &mut Buffers,
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

/// Nodes with fewer rows are partitioned on one thread: below this, handing half of the
/// work to the other thread costs more than it saves.
const PARALLEL_ROWS: usize = 1 << 14;

/// A node's histogram is built in pieces of at least this many rows, each by whichever
/// thread is free into a histogram of its own, ...
const MIN_PIECE_ROWS: usize = 1 << 12;

/// ... and of at most this many pieces: each piece's histogram is zeroed and added in.
const MAX_PIECES: usize = 16;

/// Bins added at a time when the pieces' histograms are added up.
const MERGE_BINS: usize = 1 << 11;

/// How many pieces a node of `n` rows is cut into: a function of `n` alone, and the
/// pieces' histograms are added in order, so that the sums have the same bits on any
/// number of threads. Small nodes are cut too: a tree's deep nodes are most of its
/// splits, and on one thread they left the other idle.
fn pieces(n: usize) -> usize {
    (n / MIN_PIECE_ROWS).clamp(1, MAX_PIECES)
}

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
/// (`binned.offsets`), in a buffer from `pool`; and the rows' totals.
fn histogram(
    binned: &Binned,
    gradients: &[GradientPair],
    rows: Rows<'_>,
    pool: &mut Buffers,
) -> (Vec<Bin>, Bin) {
    let mut out = pool.take(binned.offsets[binned.features]);
    let partials = &mut pool.partials;
    let totals = match &binned.slots {
        Slots::Narrow(slots) => fill(binned.rows, slots, gradients, rows, &mut out, partials),
        Slots::Wide(slots) => fill(binned.rows, slots, gradients, rows, &mut out, partials),
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
    (out, totals)
}

/// Writes into `out` the sums of each row's gradients in its listed bins (the first
/// piece's rows directly, the others' in `partials`, then added in); returns the rows'
/// totals.
fn fill<S: Slot>(
    all: usize,
    slots: &RowSlots<S>,
    gradients: &[GradientPair],
    rows: Rows<'_>,
    out: &mut [Bin],
    partials: &mut Vec<Vec<Bin>>,
) -> Bin {
    let n = match rows {
        Rows::All => all,
        Rows::Listed(rows) => rows.len(),
    };
    let count = pieces(n);
    // Piece `p`'s histogram, and its totals.
    let piece = |p: usize, hist: &mut [Bin]| {
        hist.fill(Bin::default());
        let (start, end) = (p * n / count, (p + 1) * n / count);
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
    if count == 1 {
        return piece(0, out);
    }
    if partials.len() < count - 1 {
        partials.resize_with(count - 1, Vec::new);
    }
    let partials = &mut partials[..count - 1];
    for partial in partials.iter_mut() {
        if partial.len() != out.len() {
            *partial = vec![Bin::default(); out.len()];
        }
    }
    let buffers: Vec<&mut [Bin]> = std::iter::once(&mut *out)
        .chain(partials.iter_mut().map(Vec::as_mut_slice))
        .collect();
    let piece_totals: Vec<Bin> = buffers
        .into_par_iter()
        .enumerate()
        .map(|(p, hist)| piece(p, hist))
        .collect();
    // Each bin adds the pieces in their order.
    let partials = &*partials;
    out.par_chunks_mut(MERGE_BINS)
        .enumerate()
        .for_each(|(c, chunk)| {
            for partial in partials {
                for (bin, part) in chunk.iter_mut().zip(&partial[c * MERGE_BINS..]) {
                    add_bin(bin, part);
                }
            }
        });
    piece_totals
        .iter()
        .fold(Bin::default(), |mut totals, piece| {
            add_bin(&mut totals, piece);
            totals
        })
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
/// returns how many went left. A large node is cut into one piece per thread, each
/// piece's rows split into its two lists in `scratch`, then every list copied to its
/// place: the left lists end to end, then the right lists.
fn stable_partition(
    rows: &mut [u32],
    scratch: &mut Vec<u32>,
    left: impl Fn(u32) -> bool + Sync,
) -> usize {
    if rows.len() < PARALLEL_ROWS {
        return partition_piece(rows, scratch, &left);
    }
    let n = rows.len();
    let piece = n.div_ceil(rayon::current_num_threads().max(1));
    let scratch = room(scratch, 2 * n);
    let kepts: Vec<usize> = scratch
        .par_chunks_mut(2 * piece)
        .zip(rows.par_chunks(piece))
        .map(|(lists, chunk)| {
            let (lefts, rights) = lists.split_at_mut(chunk.len());
            split_piece(chunk, lefts, rights, &left)
        })
        .collect();
    let kept: usize = kepts.iter().sum();
    let (mut lefts, mut rights) = rows.split_at_mut(kept);
    let mut moves = Vec::with_capacity(kepts.len());
    let lengths = (0..n.div_ceil(piece)).map(|c| piece.min(n - c * piece));
    for ((lists, chunk), &l) in scratch.chunks(2 * piece).zip(lengths).zip(&kepts) {
        let (here, rest) = std::mem::take(&mut lefts).split_at_mut(l);
        lefts = rest;
        let (there, rest) = std::mem::take(&mut rights).split_at_mut(chunk - l);
        rights = rest;
        moves.push((here, there, &lists[..l], &lists[chunk..2 * chunk - l]));
    }
    moves.into_par_iter().for_each(|(here, there, l, r)| {
        here.copy_from_slice(l);
        there.copy_from_slice(r);
    });
    kept
}

/// Writes the rows of `chunk` that go left to the front of `lefts`, the others to the
/// front of `rights`, each in order; returns how many went left.
fn split_piece(
    chunk: &[u32],
    lefts: &mut [u32],
    rights: &mut [u32],
    left: impl Fn(u32) -> bool,
) -> usize {
    // Every row is written to both lists and only its list's count moves on: no branch
    // on the split's outcome, which is a coin toss for the rows of a good split.
    let (mut kept, mut moved) = (0, 0);
    for &r in chunk {
        let l = left(r);
        lefts[kept] = r;
        rights[moved] = r;
        kept += usize::from(l);
        moved += usize::from(!l);
    }
    kept
}

/// The first `len` items of `scratch`, grown when short: what they hold is left over
/// from earlier partitions, and every partition writes before it reads (zeroing them at
/// each split cost more than a tenth of the partitions' time).
fn room(scratch: &mut Vec<u32>, len: usize) -> &mut [u32] {
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
    &mut scratch[..len]
}

/// [`split_piece`] in place: the left rows move to the front of `rows`, the right ones
/// through `scratch` to the back.
fn partition_piece(rows: &mut [u32], scratch: &mut Vec<u32>, left: impl Fn(u32) -> bool) -> usize {
    let scratch = room(scratch, rows.len());
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
        let n = MAX_PIECES * MIN_PIECE_ROWS + 123;
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
        // One pool for all: its buffers are reused at other piece counts.
        let mut pool = Buffers::default();
        for rows in [
            Rows::All,
            Rows::Listed(&listed),
            Rows::Listed(&listed[..1000]),
        ] {
            let all: Vec<u32> = (0..n as u32).collect();
            let chosen = match rows {
                Rows::All => &all,
                Rows::Listed(rows) => rows,
            };
            let (hist, totals) = histogram(&binned, &gradients, rows, &mut pool);
            assert_eq!(totals.n as usize, chosen.len());
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
    fn histograms_have_the_same_bits_on_any_number_of_threads() {
        use ndarray::Array2;
        let n = 5 * MIN_PIECE_ROWS + 7;
        let x = Array2::from_shape_fn((n, 2), |(r, f)| ((r * (7919 + f)) % 300) as f64);
        let binned = BinMapper::fit(x.view(), 255, 0).transform(x.view());
        let gradients: Vec<GradientPair> = (0..n)
            .map(|r| GradientPair {
                g: ((r % 17) as f32 - 8.0) / 3.0,
                h: 0.3 + (r % 5) as f32 / 7.0,
            })
            .collect();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (hist, totals) =
                pool.install(|| histogram(&binned, &gradients, Rows::All, &mut Buffers::default()));
            let bits = |b: &Bin| (b.g.to_bits(), b.h.to_bits(), b.n);
            (hist.iter().map(bits).collect::<Vec<_>>(), bits(&totals))
        };
        assert_eq!(on(1), on(3));
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
