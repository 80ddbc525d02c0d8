//! A fitted gradient-boosting model: its trees, how it scores a row, and what each
//! feature contributed to a score.

use std::sync::OnceLock;

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::propensity::sigmoid;

/// One node of a tree. A leaf has `left == right == 0` (the root is never a child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The node's own raw-score value (shrinkage applied): the leaf's output, and for
    /// an inner node what the contributions are measured from.
    pub value: f64,
    /// Training rows that reached the node.
    pub rows: u32,
    pub feature: u32,
    /// Values `<= threshold` go left.
    pub threshold: f64,
    /// Where a missing value (NaN) goes.
    pub missing_left: bool,
    pub left: u32,
    pub right: u32,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.left == 0
    }

    /// The child a row with value `v` of this node's feature goes to.
    pub fn child(&self, v: f64) -> usize {
        let left = if v.is_nan() {
            self.missing_left
        } else {
            v <= self.threshold
        };
        if left {
            self.left as usize
        } else {
            self.right as usize
        }
    }
}

/// One regression tree on the raw (log-odds) scale. Saved column by column (one array
/// per node field, [`TreeColumns`]): a list of node objects repeated every field name
/// and made the quickstart's model file 35 MB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "TreeColumns", try_from = "TreeColumns")]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// A tree as the model file keeps it: node `i` is the `i`-th value of every array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeColumns {
    pub value: Vec<f64>,
    pub rows: Vec<u32>,
    pub feature: Vec<u32>,
    pub threshold: Vec<f64>,
    pub missing_left: Vec<bool>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
}

impl From<Tree> for TreeColumns {
    fn from(tree: Tree) -> Self {
        let nodes = &tree.nodes;
        TreeColumns {
            value: nodes.iter().map(|n| n.value).collect(),
            rows: nodes.iter().map(|n| n.rows).collect(),
            feature: nodes.iter().map(|n| n.feature).collect(),
            threshold: nodes.iter().map(|n| n.threshold).collect(),
            missing_left: nodes.iter().map(|n| n.missing_left).collect(),
            left: nodes.iter().map(|n| n.left).collect(),
            right: nodes.iter().map(|n| n.right).collect(),
        }
    }
}

impl TryFrom<TreeColumns> for Tree {
    type Error = String;

    /// Checks that the arrays are as long as each other and that every child is a
    /// later node, so that walking the tree ends.
    fn try_from(c: TreeColumns) -> Result<Self, String> {
        let n = c.value.len();
        let lengths = [
            c.rows.len(),
            c.feature.len(),
            c.threshold.len(),
            c.missing_left.len(),
            c.left.len(),
            c.right.len(),
        ];
        if n == 0 || lengths.iter().any(|&l| l != n) {
            return Err(format!(
                "a tree's node arrays have lengths {n} and {lengths:?}; they must be equal and not empty"
            ));
        }
        let nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                value: c.value[i],
                rows: c.rows[i],
                feature: c.feature[i],
                threshold: c.threshold[i],
                missing_left: c.missing_left[i],
                left: c.left[i],
                right: c.right[i],
            })
            .collect();
        for (i, node) in nodes.iter().enumerate() {
            let children = [node.left as usize, node.right as usize];
            let leaf = node.left == 0 && node.right == 0;
            if !leaf && children.iter().any(|&child| child <= i || child >= n) {
                return Err(format!(
                    "node {i} of a tree has children {children:?}, which are not later nodes of its {n}"
                ));
            }
        }
        Ok(Tree { nodes })
    }
}

/// Trees walked side by side by [`Gbdt::raw_score`].
const LANES: usize = 8;

/// The trees as scoring walks them, built from [`Gbdt::trees`] on first use and not
/// saved. Walked one by one, each level's branch is a coin toss the CPU mispredicts half
/// the time; [`LANES`] trees are walked side by side instead, a level at a time, the next
/// node chosen without a branch and the walks overlapping. Every tree's nodes are in one
/// array, each with only what a step reads, and a leaf is its own child: a step needs no
/// test for leaves, and a walk ends when no tree moved (half the time of walking the
/// trees' own nodes on the benchmark's models).
#[derive(Debug, Clone, Default)]
pub struct Walk(OnceLock<WalkNodes>);

/// Derived from the trees, so equal whenever they are.
impl PartialEq for Walk {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone)]
struct WalkNodes {
    /// Node 0 is a leaf of value 0 for the lanes past the last tree; each tree's nodes
    /// follow, in order, at `roots[t]` onwards.
    steps: Vec<Step>,
    values: Vec<f64>,
    roots: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    threshold: f64,
    feature: u32,
    missing_left: bool,
    left: u32,
    right: u32,
}

impl WalkNodes {
    fn of(trees: &[Tree]) -> Self {
        let leaf = |at: u32| Step {
            threshold: 0.0,
            feature: 0,
            missing_left: false,
            left: at,
            right: at,
        };
        let mut walk = WalkNodes {
            steps: vec![leaf(0)],
            values: vec![0.0],
            roots: Vec::with_capacity(trees.len()),
        };
        for tree in trees {
            let root = walk.steps.len() as u32;
            walk.roots.push(root);
            for (i, node) in tree.nodes.iter().enumerate() {
                walk.steps.push(if node.is_leaf() {
                    leaf(root + i as u32)
                } else {
                    Step {
                        threshold: node.threshold,
                        feature: node.feature,
                        missing_left: node.missing_left,
                        left: root + node.left,
                        right: root + node.right,
                    }
                });
                walk.values.push(node.value);
            }
        }
        walk
    }
}

/// Gradient-boosted trees for a binary label: P(label) = sigmoid(baseline + Σ trees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    pub features: usize,
    /// The log-odds of the training rows' positive share.
    pub baseline: f64,
    pub trees: Vec<Tree>,
    /// The validation loss after each iteration (the first before any tree), when
    /// boosting stopped early on a validation fold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_loss: Vec<f64>,
    #[serde(skip)]
    pub walk: Walk,
}

impl Gbdt {
    /// The raw score (log-odds) of one row of `features` values: the trees' values
    /// added in order, then the baseline.
    pub fn raw_score(&self, row: &[f64]) -> f64 {
        let walk = self.walk.0.get_or_init(|| WalkNodes::of(&self.trees));
        // From -0.0, as `Iterator::sum` adds: the same bits as adding the trees' values.
        let mut sum = -0.0;
        for roots in walk.roots.chunks(LANES) {
            let mut at = [0u32; LANES];
            at[..roots.len()].copy_from_slice(roots);
            loop {
                let mut moved = false;
                for at in &mut at {
                    let step = &walk.steps[*at as usize];
                    let v = row[step.feature as usize];
                    let left = (v <= step.threshold) | (v.is_nan() & step.missing_left);
                    let next = if left { step.left } else { step.right };
                    moved |= next != *at;
                    *at = next;
                }
                if !moved {
                    break;
                }
            }
            for &at in &at[..roots.len()] {
                sum += walk.values[at as usize];
            }
        }
        self.baseline + sum
    }

    /// P(label) for one row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.raw_score(row))
    }

    /// P(label) for each row of `x`.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let x = x.as_standard_layout();
        let d = x.ncols().max(1);
        match x.as_slice() {
            Some(values) => values
                .par_chunks(d)
                .map(|row| self.probability(row))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Each feature's contribution to the raw score of `row` (the Saabas attribution:
    /// along each tree's path, the change of node value at a split is credited to the
    /// split's feature), added to `out`; returns the bias, the raw score of a row that
    /// goes nowhere (baseline and the trees' roots). bias + Σ out = raw score.
    pub fn contributions(&self, row: &[f64], out: &mut [f64]) -> f64 {
        let mut bias = self.baseline;
        for tree in &self.trees {
            let mut at = 0;
            bias += tree.nodes[0].value;
            while !tree.nodes[at].is_leaf() {
                let node = &tree.nodes[at];
                let next = node.child(row[node.feature as usize]);
                out[node.feature as usize] += tree.nodes[next].value - node.value;
                at = next;
            }
        }
        bias
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Gbdt {
        let node = |value, feature, threshold, left, right| Node {
            value,
            rows: 10,
            feature,
            threshold,
            missing_left: true,
            left,
            right,
        };
        Gbdt {
            features: 2,
            baseline: -1.0,
            trees: vec![Tree {
                nodes: vec![
                    node(0.1, 1, 0.5, 1, 2),
                    node(-0.2, 0, 0.0, 0, 0),
                    node(0.4, 0, 0.0, 0, 0),
                ],
            }],
            validation_loss: Vec::new(),
            walk: Walk::default(),
        }
    }

    #[test]
    fn a_row_follows_its_threshold_and_missing_values_their_side() {
        let model = stump();
        assert_eq!(model.raw_score(&[9.0, 0.5]), -1.2);
        assert_eq!(model.raw_score(&[9.0, 0.6]), -0.6);
        assert_eq!(model.raw_score(&[9.0, f64::NAN]), -1.2);
        assert!((model.probability(&[0.0, 1.0]) - 1.0 / (1.0 + 0.6f64.exp())).abs() < 1e-15);
    }

    #[test]
    fn contributions_and_bias_add_up_to_the_raw_score() {
        let model = stump();
        let mut out = [0.0; 2];
        let bias = model.contributions(&[9.0, 0.6], &mut out);
        assert!((bias - (-0.9)).abs() < 1e-15);
        assert_eq!(out[0], 0.0);
        assert!((out[1] - 0.3).abs() < 1e-15);
        assert!((bias + out.iter().sum::<f64>() - model.raw_score(&[9.0, 0.6])).abs() < 1e-15);
    }

    #[test]
    fn trees_are_saved_column_by_column_and_read_back_checked() {
        let model = stump();
        let json = serde_json::to_string(&model).unwrap();
        assert!(json.contains(r#""threshold":[0.5,0.0,0.0]"#), "{json}");
        let back: Gbdt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, model);
        // A child that points back up would loop: refused, as are arrays of unequal length.
        let looping = json
            .replace(r#""left":[1,0,0]"#, r#""left":[0,0,0]"#)
            .replace(r#""right":[2,0,0]"#, r#""right":[0,0,1]"#);
        assert_ne!(looping, json);
        let message = serde_json::from_str::<Gbdt>(&looping)
            .unwrap_err()
            .to_string();
        assert!(message.contains("not later nodes"), "{message}");
        let short = json.replace(r#""rows":[10,10,10]"#, r#""rows":[10,10]"#);
        assert_ne!(short, json);
        let message = serde_json::from_str::<Gbdt>(&short)
            .unwrap_err()
            .to_string();
        assert!(message.contains("must be equal"), "{message}");
    }
}
