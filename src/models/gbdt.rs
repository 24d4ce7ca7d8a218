//! Gradient-boosted trees for a non-linear NSF score, through the
//! `forust-ml` crate (a pure-Rust, XGBoost-style histogram GBM that builds on
//! stable Rust with rand 0.8, like nsfsim; `perpetual`, the other candidate,
//! needs nightly Rust). This module adapts nsfsim's design matrix to it and
//! keeps the fitted booster as its own JSON inside `model.json`.

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::models::family::{Capabilities, Family, FitData, ScoreModel};
use crate::sim::rng::sigmoid;

/// Hyperparameters (defaults match the LightGBM reference run: 200 trees,
/// learning rate 0.1, at most 32 leaves).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GbdtParams {
    /// Boosting rounds.
    pub iterations: usize,
    /// Shrinkage.
    pub learning_rate: f32,
    /// Depth of each tree.
    pub max_depth: usize,
    /// Histogram bins per feature.
    pub nbins: u16,
    /// L2 on leaf weights.
    pub l2: f32,
    /// Smallest hessian sum in a leaf (forust's `min_leaf_weight`).
    #[serde(default = "default_min_leaf_weight")]
    pub min_leaf_weight: f32,
}

fn default_min_leaf_weight() -> f32 {
    1.0
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            iterations: 200,
            learning_rate: 0.1,
            max_depth: 5,
            nbins: 255,
            l2: 1.0,
            min_leaf_weight: 1.0,
        }
    }
}

fn column_major(x: ArrayView2<f32>, rows: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * x.ncols());
    for j in 0..x.ncols() {
        let col = x.column(j);
        out.extend(rows.iter().map(|&r| col[r] as f64));
    }
    out
}

/// The fitted booster: forust-ml's own JSON (stored as is in `model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Booster(pub serde_json::Value);

impl GbdtParams {
    /// Validates the parameters.
    pub fn check(&self) -> Result<()> {
        if self.iterations == 0
            || self.learning_rate <= 0.0
            || self.max_depth == 0
            || self.nbins < 2
        {
            return Err(NsfError::param(
                "gbdt",
                "iterations, learning_rate, max_depth > 0 and nbins >= 2",
            ));
        }
        Ok(())
    }
}

/// Fits boosted trees on rows `rows` of `x` with labels `y` and optional
/// sample weights (per training row); returns the booster's JSON.
pub fn fit(
    x: ArrayView2<f32>,
    rows: &[usize],
    y: &[bool],
    weights: Option<&[f64]>,
    params: &GbdtParams,
    seed: u64,
) -> Result<Booster> {
    if y.len() != rows.len() || weights.is_some_and(|w| w.len() != rows.len()) {
        return Err(NsfError::param(
            "data",
            "features, labels and weights differ in length",
        ));
    }
    let data = column_major(x, rows);
    let matrix = Matrix::new(&data, rows.len(), x.ncols());
    let target: Vec<f64> = y.iter().map(|&v| v as u8 as f64).collect();
    let weights = weights.map_or_else(|| vec![1.0; rows.len()], <[f64]>::to_vec);
    let mut booster = GradientBooster::default()
        .set_objective_type(ObjectiveType::LogLoss)
        .set_iterations(params.iterations)
        .set_learning_rate(params.learning_rate)
        .set_max_depth(params.max_depth)
        .set_nbins(params.nbins)
        .set_l2(params.l2)
        .set_min_leaf_weight(params.min_leaf_weight)
        .set_seed(seed)
        .set_num_threads(Some(rayon::current_num_threads()));
    booster
        .fit(&matrix, &target, &weights, None)
        .map_err(|e| NsfError::param("gbdt", format!("fit failed: {e}")))?;
    let json = booster
        .json_dump()
        .map_err(|e| NsfError::param("gbdt", e.to_string()))?;
    let mut value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| NsfError::param("gbdt", e.to_string()))?;
    // The trees do not depend on the thread count (checked: 1 and 2 threads
    // give identical trees); the recorded count would make the model file
    // differ, so it is not kept.
    value["num_threads"] = serde_json::Value::Null;
    Ok(Booster(value))
}

impl ScoreModel for Booster {
    /// P(nsf = 1) for every row of `x` (the booster predicts log-odds).
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        let booster = GradientBooster::from_json(&self.0.to_string())
            .map_err(|e| NsfError::param("model", format!("not a forust booster: {e}")))?;
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let data = column_major(x, &rows);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        Ok(booster
            .predict(&matrix, true)
            .into_iter()
            .map(sigmoid)
            .collect())
    }
}

impl Family for GbdtParams {
    type Model = Booster;
    const CAPABILITIES: Capabilities = Capabilities {
        warm_start: false,
        soft_labels: false,
    };

    fn check(&self) -> Result<()> {
        GbdtParams::check(self)
    }

    fn fit(&self, d: &FitData, _init: Option<&Booster>) -> Result<Booster> {
        fit(d.x, d.rows, d.y, d.weights, self, d.seed)
    }
}
