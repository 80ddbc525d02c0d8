//! Exact k-nearest-neighbour search by brute force over a set of reference rows, with
//! the same neighbours and distances, bit for bit, on every CPU and thread count.
//!
//! Used by the recommend stage's `content_knn` (the customers who bank most like you).
//! The rows have tens of dimensions, where KD-trees and ball trees visit most leaves
//! anyway, and a pass over reference rows stored eight at a time (one SIMD lane per
//! reference) is what the hardware does fastest. Distances are sums in a fixed order;
//! equal distances keep the references' order.
//!
//! Two searches find the same lists: the plain one ([`nearest_references`], compiled
//! for AVX2 and the baseline) and, on CPUs with AVX-512, a filter that skips most exact
//! distances ([`filter`]). Written by hand because no crate offers a nearest-neighbour
//! search whose results are the same to the bit whatever the CPU.

mod filter;

/// References per block: one per f64 lane of two AVX2 registers, or one AVX-512 register.
const LANES: usize = 8;

/// Queries served by one pass of the plain search over the references. The reference
/// blocks do not fit in L1 (5,000 references × 36 features is 1.4 MB); each block is
/// read once for this many queries, every distance computed by the same operations in
/// the same order, so the neighbours are the same to the bit.
const QUERIES: usize = 4;

/// Queries of one call of [`References::nearest`] that share a pass over the
/// references: callers that gather this many queries at a time waste no pass.
pub const QUERIES_PER_PASS: usize = filter::FILTER_QUERIES;

/// Reference rows, each with an id (a customer), ready for the search.
pub struct References {
    d: usize,
    /// The rows, `LANES` at a time, transposed: `blocks[(b·d + j)·LANES + l]`.
    blocks: Vec<f64>,
    /// The id of each reference (padding lanes repeat the last one).
    ids: Vec<u32>,
    len: usize,
    /// The AVX-512 search, when the CPU has it and the values suit it.
    filter: Option<filter::NearestFilter>,
}

impl References {
    /// References of `d` features from `(row, id)` pairs, in the order given (equal
    /// distances keep it). Every row must have `d` values.
    pub fn new<'a>(d: usize, rows: impl IntoIterator<Item = (&'a [f64], u32)>) -> Self {
        let rows: Vec<(&[f64], u32)> = rows.into_iter().collect();
        assert!(rows.iter().all(|(row, _)| row.len() == d));
        let len = rows.len();
        let n_blocks = len.div_ceil(LANES);
        let mut blocks = vec![0.0; n_blocks * d * LANES];
        let mut ids: Vec<u32> = rows.iter().map(|&(_, id)| id).collect();
        let padding = rows.last().copied();
        for i in 0..n_blocks * LANES {
            let Some((row, _)) = rows.get(i).copied().or(padding) else {
                break;
            };
            let (b, l) = (i / LANES, i % LANES);
            for (j, &v) in row.iter().enumerate() {
                blocks[(b * d + j) * LANES + l] = v;
            }
        }
        if let Some(&last) = ids.last() {
            ids.resize(n_blocks * LANES, last);
        }
        let filter = filter::NearestFilter::new(&blocks, d);
        References {
            d,
            blocks,
            ids,
            len,
            filter,
        }
    }

    /// How many references there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k` nearest references of each `(row, excluded id)` of `queries` into the
    /// matching entry of `nearest`: `(squared distance, id)`, nearest first, the
    /// reference with the excluded id left out; equal distances in reference order.
    /// [`QUERIES_PER_PASS`] queries share each pass over the references.
    pub fn nearest(&self, k: usize, queries: &[(&[f64], u32)], nearest: &mut [Vec<(f64, u32)>]) {
        assert!(nearest.len() >= queries.len() && queries.iter().all(|(x, _)| x.len() == self.d));
        let ids = &self.ids[..self.len];
        for (group, lists) in queries
            .chunks(QUERIES_PER_PASS)
            .zip(nearest.chunks_mut(QUERIES_PER_PASS))
        {
            let mut xs: [&[f64]; QUERIES_PER_PASS] = [&[]; QUERIES_PER_PASS];
            let mut excludes = [u32::MAX; QUERIES_PER_PASS];
            for (q, &(x, exclude)) in group.iter().enumerate() {
                xs[q] = x;
                excludes[q] = exclude;
            }
            lists.iter_mut().for_each(Vec::clear);
            let (xs, excludes) = (&xs[..group.len()], &excludes[..group.len()]);
            let filtered = self.filter.as_ref().is_some_and(|filter| {
                filter.nearest(&self.blocks, self.d, xs, ids, excludes, k, lists)
            });
            if filtered {
                continue;
            }
            for ((xs, excludes), lists) in xs
                .chunks(QUERIES)
                .zip(excludes.chunks(QUERIES))
                .zip(lists.chunks_mut(QUERIES))
            {
                nearest_references(&self.blocks, self.d, xs, ids, excludes, k, lists);
            }
        }
    }

    /// The plain search alone, for tests that compare the two.
    #[cfg(test)]
    fn nearest_plain(&self, k: usize, queries: &[(&[f64], u32)], nearest: &mut [Vec<(f64, u32)>]) {
        let ids = &self.ids[..self.len];
        for (group, lists) in queries.chunks(QUERIES).zip(nearest.chunks_mut(QUERIES)) {
            let xs: Vec<&[f64]> = group.iter().map(|&(x, _)| x).collect();
            let excludes: Vec<u32> = group.iter().map(|&(_, e)| e).collect();
            lists.iter_mut().for_each(Vec::clear);
            nearest_references(&self.blocks, self.d, &xs, ids, &excludes, k, lists);
        }
    }
}

crate::multiversion! {
    /// Fills `nearest[q]` with the `k` nearest references to `xs[q]` (squared distance,
    /// id; the id `excludes[q]` left out), nearest first; equal distances keep reference
    /// order. Up to [`QUERIES`] queries share each pass over the reference blocks.
    fn nearest_references(
        blocks: &[f64],
        d: usize,
        xs: &[&[f64]],
        reference: &[u32],
        excludes: &[u32],
        k: usize,
        nearest: &mut [Vec<(f64, u32)>],
    ) {
        if k == 0 {
            return;
        }
        let queries = xs.len().min(QUERIES);
        let mut worst = [f64::INFINITY; QUERIES];
        for (b, block) in blocks.chunks_exact(d * LANES).enumerate() {
            let mut acc = [[0.0f64; LANES]; QUERIES];
            for (j, lanes) in block.chunks_exact(LANES).enumerate() {
                for q in 0..queries {
                    let xv = xs[q][j];
                    for l in 0..LANES {
                        let diff = lanes[l] - xv;
                        acc[q][l] += diff * diff;
                    }
                }
            }
            for q in 0..queries {
                for (l, &dist) in acc[q].iter().enumerate() {
                    let i = b * LANES + l;
                    if i < reference.len() {
                        insert_nearest(
                            &mut nearest[q],
                            &mut worst[q],
                            dist,
                            reference[i],
                            excludes[q],
                            k,
                        );
                    }
                }
            }
        }
    }
}

/// Puts reference `c` at squared distance `dist` into `nearest` (at most `k`,
/// nearest first) unless it is `exclude` or no nearer than the `k`-th; `worst` is the
/// `k`-th distance once there are `k`, infinity before.
#[inline(always)]
fn insert_nearest(
    nearest: &mut Vec<(f64, u32)>,
    worst: &mut f64,
    dist: f64,
    c: u32,
    exclude: u32,
    k: usize,
) {
    if !(dist < *worst || nearest.len() < k) || c == exclude || k == 0 {
        return;
    }
    // In place of the last (the k-th, which it beats) or after it, then moved towards
    // the front past every greater distance: strictly after every equal one, so
    // references keep their order. An entrant usually lands near the end, so this moves
    // a few entries where a binary search and an insertion called `memmove` each time.
    if nearest.len() < k {
        nearest.push((dist, c));
    }
    let mut at = nearest.len() - 1;
    // (A NaN distance goes to the front, where a search for the first entry not `<=` it
    // put it.)
    while at > 0
        && !matches!(
            nearest[at - 1].0.partial_cmp(&dist),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        )
    {
        nearest[at] = nearest[at - 1];
        at -= 1;
    }
    nearest[at] = (dist, c);
    if nearest.len() == k {
        *worst = nearest[k - 1].0;
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn bits(list: &[(f64, u32)]) -> Vec<(u64, u32)> {
        list.iter().map(|&(d, id)| (d.to_bits(), id)).collect()
    }

    /// Rows with what makes a search go wrong: exact duplicates (equal distances),
    /// values a hair apart (ties the filter's rounding must not break), a large offset
    /// (cancellation in `‖x‖² + ‖r‖² − 2 x·r`), and a row count no multiple of eight.
    fn awkward_rows(n: usize, d: usize, offset: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(n);
        for i in 0..n {
            let row = match i % 5 {
                0 if i > 0 => rows[rng.random_range(0..i)].clone(),
                1 if i > 0 => {
                    let mut row = rows[i - 1].clone();
                    row[i % d] += 1e-13 * (1.0 + row[i % d].abs());
                    row
                }
                _ => (0..d)
                    .map(|_| {
                        offset + (rng.random_range(-3i32..=3) as f64) * 0.5 + rng.random::<f64>()
                    })
                    .collect(),
            };
            rows.push(row);
        }
        rows
    }

    #[test]
    fn the_filter_finds_what_the_plain_search_finds_to_the_bit() {
        for (d, offset, k) in [
            (1, 0.0, 3),
            (7, 0.0, 20),
            (36, 0.0, 20),
            (36, 1e4, 5),
            (13, -50.0, 40),
        ] {
            let rows = awkward_rows(203, d, offset, d as u64);
            let references = References::new(d, rows.iter().map(Vec::as_slice).zip(0u32..));
            // Every row is also a query, itself excluded, plus queries not among them.
            let extra = awkward_rows(29, d, offset, 99);
            let queries: Vec<(&[f64], u32)> = rows
                .iter()
                .map(Vec::as_slice)
                .zip(0u32..)
                .chain(extra.iter().map(|row| (row.as_slice(), u32::MAX)))
                .collect();
            let mut found = vec![Vec::new(); queries.len()];
            let mut plain = vec![Vec::new(); queries.len()];
            references.nearest(k, &queries, &mut found);
            references.nearest_plain(k, &queries, &mut plain);
            for (q, (found, plain)) in found.iter().zip(&plain).enumerate() {
                assert_eq!(found.len(), k.min(203 - usize::from(q < 203)), "query {q}");
                assert_eq!(
                    bits(found),
                    bits(plain),
                    "d {d}, offset {offset}, query {q}"
                );
            }
        }
    }

    #[test]
    fn the_filter_runs_where_the_cpu_allows_it() {
        // Without this, the test above could pass by comparing the plain search to itself.
        let rows = [[0.0, 1.0], [2.0, 3.0]];
        let references = References::new(2, rows.iter().map(|r| r.as_slice()).zip(0u32..));
        assert_eq!(references.filter.is_some(), crate::simd::avx512_enabled());
    }

    #[test]
    fn values_the_bound_cannot_cover_take_the_plain_search() {
        let rows = [[0.0, 1e200], [2.0, 3.0], [1.0, 1.0]];
        let references = References::new(2, rows.iter().map(|r| r.as_slice()).zip(0u32..));
        assert!(references.filter.is_none());
        let small = [[0.0, 1.0], [2.0, 3.0], [1.0, 1.0]];
        let references = References::new(2, small.iter().map(|r| r.as_slice()).zip(0u32..));
        let far = [1e200, 0.0];
        let mut found = vec![Vec::new()];
        references.nearest(2, &[(&far, u32::MAX)], &mut found);
        let mut plain = vec![Vec::new()];
        references.nearest_plain(2, &[(&far, u32::MAX)], &mut plain);
        assert_eq!(bits(&found[0]), bits(&plain[0]));
        // Every squared distance overflows to infinity: a tie, in reference order.
        assert_eq!(found[0], [(f64::INFINITY, 0), (f64::INFINITY, 1)]);
    }

    #[test]
    fn ties_keep_reference_order_and_the_excluded_id_is_left_out() {
        // A 5 × 5 grid: many equal distances.
        let rows: Vec<[f64; 2]> = (0..25).map(|i| [(i % 5) as f64, (i / 5) as f64]).collect();
        let references = References::new(2, rows.iter().map(|r| r.as_slice()).zip(0u32..));
        for (c, row) in rows.iter().enumerate() {
            let mut brute: Vec<(f64, u32)> = (0..rows.len())
                .filter(|&o| o != c)
                .map(|o| {
                    let d2 = (rows[o][0] - row[0]).powi(2) + (rows[o][1] - row[1]).powi(2);
                    (d2, o as u32)
                })
                .collect();
            brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            brute.truncate(6);
            let mut found = vec![Vec::new()];
            references.nearest(6, &[(row.as_slice(), c as u32)], &mut found);
            assert_eq!(found[0], brute, "row {c}");
        }
    }
}
