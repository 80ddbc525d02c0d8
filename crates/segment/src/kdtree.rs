//! A KD-tree over the rows of a matrix, in any number of dimensions: radius counts,
//! radius queries and k nearest neighbours, behind linfa-nn's `NearestNeighbourIndex`.
//!
//! Written here because linfa-nn's `KdTree` (the `kdtree` crate) was measured far too
//! slow for DBSCAN: 177 s on 200,000 × 8 (`bench/run_segment.sh`), where scikit-learn's
//! KD-tree takes seconds. This one keeps the rows of each leaf contiguous, prunes with
//! each node's bounding box (a node wholly inside the radius is counted without a
//! distance), and counts without allocating. linfa-nn's tree stays the reference in the
//! tests.
//!
//! Distances are euclidean and compared squared: a row is within `eps` when
//! `Σ (a − b)² ≤ eps²`.

use linfa_nn::{NearestNeighbourIndex, NnError};
use ndarray::{ArrayView1, ArrayView2};

/// Rows per leaf.
const LEAF_ROWS: usize = 32;

pub struct KdTree<'a> {
    x: ArrayView2<'a, f64>,
    d: usize,
    /// The rows in tree order, contiguous, `d` values each.
    points: Vec<f64>,
    /// Original row of each position in tree order.
    rows: Vec<usize>,
    nodes: Vec<Node>,
    /// Bounding box of each node: `d` minima then `d` maxima.
    boxes: Vec<f64>,
}

struct Node {
    start: usize,
    end: usize,
    /// Children, or `None` for a leaf.
    children: Option<(usize, usize)>,
}

impl<'a> KdTree<'a> {
    pub fn new(x: ArrayView2<'a, f64>) -> Self {
        let (n, d) = x.dim();
        let mut tree = KdTree {
            x,
            d,
            points: Vec::new(),
            rows: (0..n).collect(),
            nodes: Vec::new(),
            boxes: Vec::new(),
        };
        if n > 0 {
            tree.build(0, n);
        }
        let mut points = Vec::with_capacity(n * d);
        for &r in &tree.rows {
            points.extend(x.row(r).iter());
        }
        tree.points = points;
        tree
    }

    /// Builds the node for tree positions `start..end`; returns its index.
    fn build(&mut self, start: usize, end: usize) -> usize {
        let d = self.d;
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for &r in &self.rows[start..end] {
            for (j, v) in self.x.row(r).iter().enumerate() {
                lo[j] = lo[j].min(*v);
                hi[j] = hi[j].max(*v);
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            start,
            end,
            children: None,
        });
        self.boxes.extend(&lo);
        self.boxes.extend(&hi);
        if end - start <= LEAF_ROWS {
            return id;
        }
        // Split the widest dimension at its median; ties in order of row, so that the
        // tree is the same on every run.
        let dim = (0..d)
            .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])).then(b.cmp(&a)))
            .unwrap_or(0);
        if hi[dim] <= lo[dim] {
            return id; // every row equal: a leaf, however large
        }
        let mid = start + (end - start) / 2;
        let x = self.x;
        self.rows[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            x[[a, dim]].total_cmp(&x[[b, dim]]).then(a.cmp(&b))
        });
        let left = self.build(start, mid);
        let right = self.build(mid, end);
        self.nodes[id].children = Some((left, right));
        id
    }

    fn point(&self, position: usize) -> &[f64] {
        &self.points[position * self.d..(position + 1) * self.d]
    }

    /// Smallest and largest squared distance from `q` to node `id`'s box.
    #[inline]
    fn box_distances(&self, id: usize, q: &[f64]) -> (f64, f64) {
        let b = &self.boxes[id * 2 * self.d..(id + 1) * 2 * self.d];
        let (lo, hi) = b.split_at(self.d);
        let mut near = 0.0;
        let mut far = 0.0;
        for ((&v, &l), &h) in q.iter().zip(lo).zip(hi) {
            let below = l - v;
            let above = v - h;
            let gap = below.max(above).max(0.0);
            near += gap * gap;
            let reach = (v - l).abs().max((h - v).abs());
            far += reach * reach;
        }
        (near, far)
    }

    /// Visits the tree positions from `from` on that lie within `eps` of `q`:
    /// `whole(start, end)` for the part of a node wholly inside, `one(position)` for a
    /// single row. Either returns `false` to end the visit.
    fn visit(
        &self,
        q: &[f64],
        eps: f64,
        from: usize,
        mut whole: impl FnMut(usize, usize) -> bool,
        mut one: impl FnMut(usize) -> bool,
    ) {
        if self.nodes.is_empty() {
            return;
        }
        let eps2 = eps * eps;
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id];
            if node.end <= from {
                continue;
            }
            let (near, far) = self.box_distances(id, q);
            if near > eps2 {
                continue;
            }
            if far <= eps2 {
                if !whole(node.start.max(from), node.end) {
                    return;
                }
                continue;
            }
            match node.children {
                Some((left, right)) => {
                    stack.push(right);
                    stack.push(left);
                }
                None => {
                    for p in node.start.max(from)..node.end {
                        if squared_distance(self.point(p), q) <= eps2 && !one(p) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// How many rows lie within `eps` of `q`.
    pub fn count_within(&self, q: &[f64], eps: f64) -> usize {
        self.count_within_capped(q, eps, usize::MAX)
    }

    /// How many rows lie within `eps` of `q`, counting no further than `cap`: whether a
    /// row is a core point of DBSCAN is known once `min_samples` are found.
    pub fn count_within_capped(&self, q: &[f64], eps: f64, cap: usize) -> usize {
        let count = std::cell::Cell::new(0usize);
        self.visit(
            q,
            eps,
            0,
            |s, e| {
                count.set(count.get() + (e - s));
                count.get() < cap
            },
            |_| {
                count.set(count.get() + 1);
                count.get() < cap
            },
        );
        count.get().min(cap)
    }

    /// The rows within `eps` of `q`, ascending.
    pub fn within(&self, q: &[f64], eps: f64) -> Vec<usize> {
        let mut found = self.within_from(q, eps, 0, |_| true);
        found.sort_unstable();
        found
    }

    /// The rows within `eps` of `q` at tree positions from `from` on (see
    /// [`KdTree::positions`]) for which `keep` holds, in no particular order.
    pub fn within_from(
        &self,
        q: &[f64],
        eps: f64,
        from: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        // Two closures cannot both borrow `found` mutably: collect rows in a cell.
        let found = std::cell::RefCell::new(Vec::new());
        self.visit(
            q,
            eps,
            from,
            |s, e| {
                let rows = self.rows[s..e].iter().copied().filter(|&r| keep(r));
                found.borrow_mut().extend(rows);
                true
            },
            |p| {
                if keep(self.rows[p]) {
                    found.borrow_mut().push(self.rows[p]);
                }
                true
            },
        );
        found.into_inner()
    }

    /// The tree position of each row.
    pub fn positions(&self) -> Vec<usize> {
        let mut position = vec![0; self.rows.len()];
        for (p, &r) in self.rows.iter().enumerate() {
            position[r] = p;
        }
        position
    }

    /// The `k` rows nearest to `q` with their squared distances, nearest first (the lower
    /// row on ties).
    pub fn nearest(&self, q: &[f64], k: usize) -> Vec<(f64, usize)> {
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
        if self.nodes.is_empty() || k == 0 {
            return best;
        }
        let worse = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            let (near, _) = self.box_distances(id, q);
            if best.len() == k && near > best[k - 1].0 {
                continue;
            }
            let node = &self.nodes[id];
            match node.children {
                Some((left, right)) => {
                    // Nearer child last, so that it is searched first.
                    let (dl, _) = self.box_distances(left, q);
                    let (dr, _) = self.box_distances(right, q);
                    if dl <= dr {
                        stack.push(right);
                        stack.push(left);
                    } else {
                        stack.push(left);
                        stack.push(right);
                    }
                }
                None => {
                    for p in node.start..node.end {
                        let candidate = (squared_distance(self.point(p), q), self.rows[p]);
                        if best.len() < k || worse(&candidate, &best[k - 1]).is_lt() {
                            let at = best.partition_point(|b| worse(b, &candidate).is_lt());
                            best.insert(at, candidate);
                            best.truncate(k);
                        }
                    }
                }
            }
        }
        best
    }
}

#[inline]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn check_dim(tree: &KdTree, q: &ArrayView1<f64>) -> Result<(), NnError> {
    if q.len() != tree.d {
        return Err(NnError::WrongDimension);
    }
    Ok(())
}

impl NearestNeighbourIndex<f64> for KdTree<'_> {
    fn k_nearest<'b>(
        &self,
        point: ArrayView1<'b, f64>,
        k: usize,
    ) -> Result<Vec<(ArrayView1<'_, f64>, usize)>, NnError> {
        check_dim(self, &point)?;
        let q = point.to_vec();
        Ok(self
            .nearest(&q, k)
            .into_iter()
            .map(|(_, r)| (self.x.row(r), r))
            .collect())
    }

    fn within_range<'b>(
        &self,
        point: ArrayView1<'b, f64>,
        range: f64,
    ) -> Result<Vec<(ArrayView1<'_, f64>, usize)>, NnError> {
        check_dim(self, &point)?;
        let q = point.to_vec();
        Ok(self
            .within(&q, range)
            .into_iter()
            .map(|r| (self.x.row(r), r))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa_nn::distance::L2Dist;
    use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Rounded to a grid so that equal coordinates and ties occur.
        Array2::from_shape_fn((n, d), |_| (rng.random::<f64>() * 20.0).round() / 4.0)
    }

    #[test]
    fn agrees_with_linfa_nn_and_brute_force() {
        for (n, d) in [(1, 1), (50, 1), (700, 3), (2000, 8)] {
            let x = random(n, d, n as u64);
            let ours = KdTree::new(x.view());
            let theirs = CommonNearestNeighbour::KdTree
                .from_batch(&x, L2Dist)
                .unwrap();
            for i in (0..n).step_by(7) {
                let q = x.row(i).to_vec();
                for eps in [0.0, 0.3, 1.0, 2.5] {
                    let mut expected: Vec<usize> = theirs
                        .within_range(x.row(i), eps)
                        .unwrap()
                        .into_iter()
                        .map(|(_, j)| j)
                        .collect();
                    expected.sort_unstable();
                    let brute: Vec<usize> = (0..n)
                        .filter(|&j| {
                            squared_distance(x.row(j).as_slice().unwrap(), &q) <= eps * eps
                        })
                        .collect();
                    assert_eq!(ours.within(&q, eps), brute, "n {n} d {d} eps {eps}");
                    assert_eq!(brute, expected, "linfa-nn, n {n} d {d} eps {eps}");
                    assert_eq!(ours.count_within(&q, eps), brute.len());
                    assert_eq!(ours.count_within_capped(&q, eps, 3), brute.len().min(3));
                    let positions = ours.positions();
                    let from = positions[i];
                    let mut after = ours.within_from(&q, eps, from, |j| j % 2 == 0);
                    after.sort_unstable();
                    let expected_after: Vec<usize> = brute
                        .iter()
                        .copied()
                        .filter(|&j| positions[j] >= from && j % 2 == 0)
                        .collect();
                    assert_eq!(after, expected_after, "from position {from}");
                }
                let k = 5.min(n);
                let mut brute: Vec<(f64, usize)> = (0..n)
                    .map(|j| (squared_distance(x.row(j).as_slice().unwrap(), &q), j))
                    .collect();
                brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                brute.truncate(k);
                assert_eq!(ours.nearest(&q, k), brute);
            }
        }
    }
}
