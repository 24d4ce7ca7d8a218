//! Gradient-boosted trees for a non-linear NSF score, through the
//! `forust-ml` crate (a pure-Rust, XGBoost-style histogram GBM that builds on
//! stable Rust with rand 0.8, like nsfsim; `perpetual`, the other candidate,
//! needs nightly Rust). This module adapts nsfsim's design matrix to it and
//! keeps the fitted booster as its own JSON inside `model.json`; scoring goes
//! through [`flat::FlatForest`], built once when a booster is fitted or
//! loaded, which gives forust's predictions bit for bit.

pub mod flat;

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::models::family::{Capabilities, Family, FitData, ScoreModel};
use crate::sim::rng::sigmoid;
use flat::FlatForest;

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

/// The fitted booster: forust-ml's own JSON (stored as is in `model.json`,
/// the format of every earlier version), and its trees flattened for scoring.
#[derive(Debug, Clone)]
pub struct Booster {
    json: serde_json::Value,
    flat: FlatForest,
}

impl Booster {
    /// Reads forust's JSON and flattens its trees.
    pub fn from_json(json: serde_json::Value) -> Result<Booster> {
        let booster = forust_booster(&json)?;
        let flat = FlatForest::new(&booster)?;
        Ok(Booster { json, flat })
    }

    /// forust's JSON, as stored.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// Log-odds for every row of `x` (the fast path `predict_proba` uses).
    pub fn predict_margin(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        self.flat.predict_margin(x)
    }

    /// Log-odds for every row of `x` through forust's own predictor (JSON
    /// parse, column-major `f64` copy): the reference the fast path must
    /// equal, and the scoring path of earlier versions.
    pub fn predict_margin_forust(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        let booster = GradientBooster::from_json(&self.json.to_string())
            .map_err(|e| NsfError::param("model", format!("not a forust booster: {e}")))?;
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let data = column_major(x, &rows);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        Ok(booster.predict(&matrix, true))
    }
}

fn forust_booster(json: &serde_json::Value) -> Result<GradientBooster> {
    GradientBooster::deserialize(json)
        .map_err(|e| NsfError::param("model", format!("not a forust booster: {e}")))
}

impl PartialEq for Booster {
    fn eq(&self, other: &Booster) -> bool {
        self.json == other.json
    }
}

impl Serialize for Booster {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Booster {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Booster, D::Error> {
        let json = serde_json::Value::deserialize(d)?;
        Booster::from_json(json).map_err(serde::de::Error::custom)
    }
}

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
    let target: Vec<f64> = y.iter().map(|&v| v as u8 as f64).collect();
    fit_target(x, rows, &target, weights, params, seed)
}

/// Fits boosted trees on soft labels: `target` in [0, 1] per training row
/// (log loss, whose gradient p̂ − target needs no 0/1 label). The
/// attributes-only ceiling fits `nsf_prob` this way.
pub fn fit_soft(
    x: ArrayView2<f32>,
    rows: &[usize],
    target: &[f64],
    params: &GbdtParams,
    seed: u64,
) -> Result<Booster> {
    if target.len() != rows.len() || target.iter().any(|t| !(0.0..=1.0).contains(t)) {
        return Err(NsfError::param(
            "data",
            "soft labels must be one value in [0, 1] per training row",
        ));
    }
    fit_target(x, rows, target, None, params, seed)
}

fn fit_target(
    x: ArrayView2<f32>,
    rows: &[usize],
    target: &[f64],
    weights: Option<&[f64]>,
    params: &GbdtParams,
    seed: u64,
) -> Result<Booster> {
    let data = column_major(x, rows);
    let matrix = Matrix::new(&data, rows.len(), x.ncols());
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
        .set_num_threads(Some(rayon::current_num_threads()))
        // Row-wise fill over tiles of columns: about twice as fast on the
        // default population, and its sums do not depend on the thread count.
        .set_tiled_histograms(true);
    booster
        .fit(&matrix, target, &weights, None)
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
    Booster::from_json(value)
}

impl ScoreModel for Booster {
    /// P(nsf = 1) for every row of `x` (the booster predicts log-odds).
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        let mut p = self.predict_margin(x)?;
        p.iter_mut().for_each(|v| *v = sigmoid(*v));
        Ok(p)
    }
}

impl Family for GbdtParams {
    type Model = Booster;
    const CAPABILITIES: Capabilities = Capabilities {
        warm_start: false,
        soft_labels: false,
    };
    /// forust's default splitter (`create_missing_branch` off): NaN fills
    /// bin 0 of every histogram, and each split sends it to the side with
    /// the larger gain (XGBoost's and LightGBM's learned default direction).
    const NATIVE_MISSING: bool = true;

    fn check(&self) -> Result<()> {
        GbdtParams::check(self)
    }

    fn fit(&self, d: &FitData, _init: Option<&Booster>) -> Result<Booster> {
        fit(d.x, d.rows, d.y, d.weights, self, d.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Stream, normal, uniform, user_stream};
    use ndarray::Array2;

    /// `n` rows of `cols` continuous columns (column 1 NaN for about one row
    /// in eight) and an outcome that depends on the first three.
    fn synthetic(n: usize, cols: usize) -> (Array2<f32>, Vec<bool>) {
        let mut x = Array2::<f32>::zeros((n, cols));
        let mut y = vec![false; n];
        for i in 0..n {
            let mut rng = user_stream(11, i as u64, Stream::Attributes, 0);
            for j in 0..cols {
                x[[i, j]] = normal(&mut rng) as f32;
            }
            if uniform(&mut rng) < 0.125 {
                x[[i, 1]] = f32::NAN;
            }
            let x1 = if x[[i, 1]].is_nan() { 1.0 } else { x[[i, 1]] };
            let eta = -1.0 + 0.8 * x[[i, 0]] - 0.5 * x1 * x1 + 0.4 * x[[i, 2]].abs();
            y[i] = uniform(&mut rng) < sigmoid(eta as f64);
        }
        (x, y)
    }

    /// The rows of `x`, then for every split of the booster a row whose
    /// split column sits exactly on the threshold, and one with it NaN.
    fn probes(x: &Array2<f32>, json: &serde_json::Value) -> Array2<f32> {
        let mut rows: Vec<Vec<f32>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        let trees = json["trees"].as_array().unwrap();
        for (k, node) in trees
            .iter()
            .flat_map(|t| t["nodes"].as_array().unwrap())
            .enumerate()
        {
            if node["is_leaf"].as_bool().unwrap() {
                continue;
            }
            let f = node["split_feature"].as_u64().unwrap() as usize;
            let v = node["split_value"].as_f64().unwrap();
            let mut row = x.row(k % x.nrows()).to_vec();
            row[f] = v as f32;
            rows.push(row.clone());
            row[f] = f32::NAN;
            rows.push(row);
        }
        let cols = x.ncols();
        Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
    }

    fn assert_same_bits(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (u, v)) in a.iter().zip(b).enumerate() {
            assert_eq!(u.to_bits(), v.to_bits(), "row {i}: {u} vs {v}");
        }
    }

    fn small_params() -> GbdtParams {
        GbdtParams {
            iterations: 25,
            max_depth: 4,
            ..GbdtParams::default()
        }
    }

    #[test]
    fn fast_predictor_equals_forust_bit_for_bit() {
        let (x, y) = synthetic(3000, 4);
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let b = fit(x.view(), &rows, &y, None, &small_params(), 3).unwrap();
        let probe = probes(&x, b.json());
        assert!(probe.nrows() > x.nrows() + 100);
        let fast = b.predict_margin(probe.view()).unwrap();
        assert_same_bits(&fast, &b.predict_margin_forust(probe.view()).unwrap());
        // A column-major view (not standard layout) scores the same.
        let t = probe.t().to_owned();
        assert_same_bits(&fast, &b.predict_margin(t.t()).unwrap());
        // Too few columns is refused, not a panic.
        assert!(b.predict_margin(x.slice(ndarray::s![.., ..1])).is_err());
    }

    /// A booster fitted with the settings of earlier versions (column-wise
    /// histograms), saved without the later `tiled_histograms` key, loads
    /// and scores exactly as forust scores it.
    #[test]
    fn old_format_booster_loads_and_scores_identically() {
        let (x, y) = synthetic(2000, 3);
        let data = column_major(x.view(), &(0..x.nrows()).collect::<Vec<_>>());
        let target: Vec<f64> = y.iter().map(|&v| v as u8 as f64).collect();
        let mut old = GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(20)
            .set_max_depth(5);
        old.fit(
            &Matrix::new(&data, x.nrows(), x.ncols()),
            &target,
            &vec![1.0; y.len()],
            None,
        )
        .unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&old.json_dump().unwrap()).unwrap();
        json["num_threads"] = serde_json::Value::Null;
        json.as_object_mut().unwrap().remove("tiled_histograms");
        let text = json.to_string();
        let b: Booster = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), text, "stored as read");
        let probe = probes(&x, b.json());
        let fast = b.predict_margin(probe.view()).unwrap();
        let matrix_data = column_major(probe.view(), &(0..probe.nrows()).collect::<Vec<_>>());
        let reference = old.predict(
            &Matrix::new(&matrix_data, probe.nrows(), probe.ncols()),
            false,
        );
        assert_same_bits(&fast, &reference);
    }

    #[test]
    fn malformed_booster_is_refused() {
        let e = serde_json::from_str::<Booster>(r#"{"trees": 3}"#).unwrap_err();
        assert!(e.to_string().contains("not a forust booster"), "{e}");
    }

    /// Big enough for the tiled histogram fill (two column tiles, sixteen
    /// row segments at the root): same trees at 1, 2 and 8 threads.
    #[test]
    fn tiled_fit_is_identical_at_1_2_and_8_threads() {
        let (x, y) = synthetic(40_000, 35);
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let params = GbdtParams {
            iterations: 6,
            ..GbdtParams::default()
        };
        let fit_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let b = pool.install(|| fit(x.view(), &rows, &y, None, &params, 5).unwrap());
            serde_json::to_string(&b).unwrap()
        };
        let one = fit_with(1);
        assert!(one.contains(r#""tiled_histograms":true"#));
        assert_eq!(one, fit_with(2), "2 threads");
        assert_eq!(one, fit_with(8), "8 threads");
    }
}
