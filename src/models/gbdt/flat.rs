//! A fitted forust booster flattened into one array of nodes, built once
//! when a model is fitted or loaded, and evaluated row by row straight from
//! the `f32` design matrix (no column-major `f64` copy, no JSON parse per
//! call). It follows forust's own prediction step for step, so its margins
//! are bit-identical to `GradientBooster::predict`: the same comparisons
//! (`value as f64 < split_value`, missing first), the same leaf weights
//! (`f32` widened to `f64`) added to the base score in tree order.

use forust_ml::GradientBooster;
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{NsfError, Result};

/// `feature` of a leaf.
const LEAF: u32 = u32::MAX;
/// Rows per parallel task (results do not depend on it: rows are independent).
const CHUNK_ROWS: usize = 2048;

/// One node: a split (`feature < LEAF`) or a leaf whose weight is `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FlatNode {
    /// Split threshold, or the leaf's weight.
    value: f64,
    feature: u32,
    left: u32,
    right: u32,
    missing: u32,
}

/// Every prediction tree of a booster, nodes of all trees in one array
/// (children as absolute indices).
#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    base_score: f64,
    /// forust's missing-value marker (NaN unless set otherwise).
    missing: f64,
    roots: Vec<u32>,
    nodes: Vec<FlatNode>,
    /// Columns a row needs (largest split feature + 1).
    n_features: usize,
}

fn index(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|&i| i != LEAF)
        .ok_or_else(|| NsfError::param("model", format!("booster too large: {what} {v}")))
}

impl FlatForest {
    /// Flattens the trees forust would predict with (all of them, or the
    /// first `prediction_iteration`).
    pub fn new(booster: &GradientBooster) -> Result<FlatForest> {
        let n_trees = booster
            .prediction_iteration
            .unwrap_or(booster.trees.len())
            .min(booster.trees.len());
        let mut f = FlatForest {
            base_score: booster.base_score,
            missing: booster.missing,
            roots: Vec::with_capacity(n_trees),
            nodes: Vec::new(),
            n_features: 0,
        };
        for tree in &booster.trees[..n_trees] {
            let first = f.nodes.len();
            let n = tree.nodes.len();
            if n == 0 {
                return Err(NsfError::param("model", "booster has an empty tree"));
            }
            f.roots.push(index(first, "node")?);
            for node in &tree.nodes {
                let child = |c: usize| -> Result<u32> {
                    if c >= n {
                        return Err(NsfError::param("model", "booster node has no such child"));
                    }
                    index(first + c, "node")
                };
                f.nodes.push(if node.is_leaf {
                    FlatNode {
                        value: node.weight_value as f64,
                        feature: LEAF,
                        left: 0,
                        right: 0,
                        missing: 0,
                    }
                } else {
                    f.n_features = f.n_features.max(node.split_feature + 1);
                    FlatNode {
                        value: node.split_value,
                        feature: index(node.split_feature, "feature")?,
                        left: child(node.left_child)?,
                        right: child(node.right_child)?,
                        missing: child(node.missing_node)?,
                    }
                });
            }
        }
        f.check_acyclic()?;
        Ok(f)
    }

    /// Children always come after their parent within a tree in forust's
    /// numbering; anything else (a hand-edited file) could loop forever.
    fn check_acyclic(&self) -> Result<()> {
        for (i, n) in self.nodes.iter().enumerate() {
            if n.feature != LEAF
                && [n.left, n.right, n.missing]
                    .iter()
                    .any(|&c| c as usize <= i)
            {
                return Err(NsfError::param("model", "booster tree is not a tree"));
            }
        }
        Ok(())
    }

    /// The log-odds of one row (`row.len() >= n_features`).
    #[inline]
    fn margin(&self, row: &[f32], missing_nan: bool) -> f64 {
        let mut acc = self.base_score;
        for &root in &self.roots {
            let mut i = root as usize;
            loop {
                let n = &self.nodes[i];
                if n.feature == LEAF {
                    acc += n.value;
                    break;
                }
                let v = row[n.feature as usize] as f64;
                let is_missing = if missing_nan {
                    v.is_nan()
                } else {
                    v == self.missing
                };
                i = if is_missing {
                    n.missing
                } else if v < n.value {
                    n.left
                } else {
                    n.right
                } as usize;
            }
        }
        acc
    }

    /// Log-odds for every row of `x`, in row order.
    pub fn predict_margin(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        if x.ncols() < self.n_features {
            return Err(NsfError::param(
                "model",
                format!(
                    "gbdt model splits on {} columns, data has {}",
                    self.n_features,
                    x.ncols()
                ),
            ));
        }
        let missing_nan = self.missing.is_nan();
        // forust refuses (panics on) NaN when another value marks missing.
        if !missing_nan && x.iter().any(|v| v.is_nan()) {
            return Err(NsfError::param(
                "model",
                "data has NaN but this booster marks missing values otherwise",
            ));
        }
        let x = x.as_standard_layout();
        let cols = x.ncols();
        let flat = x.as_slice().expect("standard layout");
        let mut out = vec![0.0; x.nrows()];
        out.par_chunks_mut(CHUNK_ROWS)
            .enumerate()
            .for_each(|(c, out)| {
                for (k, o) in out.iter_mut().enumerate() {
                    let r = c * CHUNK_ROWS + k;
                    *o = self.margin(&flat[r * cols..(r + 1) * cols], missing_nan);
                }
            });
        Ok(out)
    }
}
