//! Differentially private L2-regularized logistic regression by objective
//! perturbation: Chaudhuri, Monteleoni & Sarwate (2011), "Differentially
//! private empirical risk minimization", JMLR 12:1069–1109, Algorithm 2 —
//! the mechanism IBM's diffprivlib uses (`LogisticRegression` with its
//! `Vector` mechanism). Pure ε-DP: δ = 0.
//!
//! **Features, public scaling.** Each design column is mapped to [0, 1] by a
//! range fixed in advance from the schema, never from the data (a range
//! computed on the training rows would itself leak): `log1p` of a KRW amount
//! over [0, ln(1 + 10⁷)], `log1p` of a count over [0, ln(1 + 300)],
//! `age_years` over [14, 80], `account_age_days` over [0, 4,000], flags and
//! one-hot columns as they are (0/1); values outside are clamped. The row
//! `z` is clipped to ‖z‖ ≤ R (`data_norm`) and the model sees
//! x = (z, 1) / √(R² + 1), so ‖x‖ ≤ 1 as the theorem needs; the constant
//! column is the intercept, penalized like every coefficient (strong
//! convexity of the whole objective is what the proof uses).
//!
//! **Mechanism** (n training rows, Λ = 1/(C·n), c = 1/4 bounds the
//! logistic loss' second derivative, w = the largest sample weight, 1
//! without weights, taken as public):
//! 1. ε′ = ε − 2·ln(1 + c·w/(n·Λ)) = ε − 2·ln(1 + c·w·C).
//! 2. If ε′ ≥ ε/2, Δ = 0; else Δ = c·w / (n·(e^{ε/4} − 1)) − Λ (> 0
//!    exactly then) and ε′ = ε/2.
//! 3. Draw b ∈ ℝᵏ with density ∝ exp(−β‖b‖), β = ε′ / (2·w): its norm is
//!    Gamma(k, 1/β), its direction uniform (k normal draws, normalized).
//! 4. f = argmin (1/n)·Σ wᵢ·ℓ(yᵢ, fᵀxᵢ) + (Λ/2)‖f‖² + (1/n)·bᵀf + (Δ/2)‖f‖²,
//!    solved here in the equivalent sum form (× n) by Newton's method to
//!    convergence (the guarantee is for the exact minimizer).
//!
//! **Step 2's switch.** Algorithm 2 as printed (and diffprivlib's `Vector`
//! mechanism, `if epsilon_p <= 0`) switches to Δ only when ε′ ≤ 0, so just
//! above 2·ln(1 + c·w·C) (0.446 at C = 1) ε′ is tiny, the noise ‖b‖ ~ 2k/ε′
//! huge and ε = 0.5 gave a worse model than ε = 0.1. Here the Δ branch is
//! taken whenever ε′ would fall below ε/2, i.e. ε′ = max(ε − 2·ln(1 +
//! c·w/(nΛ)), ε/2). Both branches are ε-DP by the same proof (Chaudhuri et
//! al. 2011, Theorem 9): the output's density ratio between neighbouring
//! data sets is at most e^{ε′} (noise) × (1 + c·w/(n(Λ + Δ)))² (Jacobian),
//! and each branch sets ε′ + 2·ln(1 + c·w/(n(Λ + Δ))) ≤ ε; the switch reads
//! only public quantities (ε, n, C, c, w). ε′ and Λ + Δ are then monotone
//! in ε, so a larger ε never means more noise or more regularization.
//!
//! With weights the row's gradient is bounded by w and its curvature by
//! c·w, hence w in steps 1–3 (Chaudhuri et al.'s proof with ℓ scaled by w).
//! Weights computed from other users' data (IPW) would break the
//! one-row-changes argument: the compare arms `dp-all` use none.
//!
//! **Determinism.** b comes from the keyed stream `Stream::DpNoise` of the
//! fit seed, and the Newton sums are reduced over fixed blocks in block
//! order: byte-identical at any thread count. In a deployment b must come
//! from a secret source: whoever knows it can remove it.

use linfa_linalg::cholesky::SolveCInplace;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand_distr::Distribution;
use rayon::prelude::ParallelSliceMut;
use serde::{Deserialize, Serialize};

use crate::data::features::transform_names;
use crate::error::{NsfError, Result};
use crate::models::family::{Capabilities, Family, FitData, ScoreModel};
use crate::sim::rng::{Stream, normal, sigmoid, user_stream};
use crate::sim::schema::ATTRIBUTES;

/// Rows per block of the parallel sums (fixed: part of determinism).
const BLOCK_ROWS: usize = 16_384;

/// Bound on the logistic loss' second derivative (Chaudhuri et al.'s c).
const LOSS_CURVATURE: f64 = 0.25;

/// Hyperparameters (validated by `check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DpLogisticParams {
    /// Privacy budget ε (pure ε-DP, δ = 0).
    pub epsilon: f64,
    /// Inverse L2 strength (scikit-learn's C): Λ = 1/(C·n).
    pub c: f64,
    /// R: rows of the publicly scaled features are clipped to ‖z‖ ≤ R.
    pub data_norm: f64,
    /// Newton iterations at most.
    pub max_iter: u32,
    /// Stop when the largest coefficient step is below this.
    pub tol: f64,
}

impl Default for DpLogisticParams {
    fn default() -> Self {
        DpLogisticParams {
            epsilon: 1.0,
            c: 1.0,
            data_norm: 3.0,
            max_iter: 100,
            tol: 1e-9,
        }
    }
}

/// A fitted model: the public scaling and the coefficients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DpLogisticModel {
    /// Lower end of each column's public range.
    pub low: Vec<f64>,
    /// Width of each column's public range.
    pub width: Vec<f64>,
    /// R, the clipping norm of the scaled row.
    pub data_norm: f64,
    /// Coefficients on x = (z, 1) / √(R² + 1); the last is the intercept's.
    pub coef: Vec<f64>,
    /// The privacy budget ε spent.
    pub epsilon: f64,
    /// ε′ of step 1–2 (the part spent on the noise vector).
    pub epsilon_noise: f64,
    /// Δ of step 2 (extra L2 strength, 0 when ε − 2·ln(1 + c·w·C) ≥ ε/2).
    pub extra_l2: f64,
    /// ‖b‖ drawn.
    pub noise_norm: f64,
    /// Newton iterations used.
    pub iterations: u32,
}

impl DpLogisticParams {
    /// Validates the parameters.
    pub fn check(&self) -> Result<()> {
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(NsfError::param("dp-logistic.epsilon", "must be > 0"));
        }
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(NsfError::param("dp-logistic.c", "must be > 0"));
        }
        if !(self.data_norm.is_finite() && self.data_norm > 0.0) {
            return Err(NsfError::param("dp-logistic.data_norm", "must be > 0"));
        }
        if self.max_iter == 0 {
            return Err(NsfError::param(
                "dp-logistic.max_iter",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The public range (low, width) of each design column of `attributes`,
/// from the schema (see the module documentation).
pub fn public_ranges(attributes: &[String]) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut low, mut width) = (Vec::new(), Vec::new());
    for a in attributes {
        let unit = ATTRIBUTES
            .iter()
            .find(|c| c.name == a)
            .map(|c| c.unit)
            .ok_or_else(|| {
                NsfError::param(
                    "dp-logistic",
                    format!("`{a}` has no public range (the DP model reads the simulator's attributes only)"),
                )
            })?;
        let (lo, w) = match (a.as_str(), unit) {
            ("age_years", _) => (14.0, 66.0),
            ("account_age_days", _) => (0.0, 4000.0),
            ("auto_topup" | "region" | "device_os", _) => (0.0, 1.0),
            (_, "KRW") => (0.0, 1e7f64.ln_1p()),
            _ => (0.0, 300f64.ln_1p()),
        };
        for _ in transform_names(a) {
            low.push(lo);
            width.push(w);
        }
    }
    Ok((low, width))
}

/// Writes x = (clip_R(z), 1) / √(R² + 1) of design row `xr` into `out`.
fn scaled_row(xr: ArrayView1<f32>, low: &[f64], width: &[f64], r: f64, out: &mut [f64]) {
    let d = low.len();
    let mut norm2 = 0.0;
    for j in 0..d {
        let z = ((xr[j] as f64 - low[j]) / width[j]).clamp(0.0, 1.0);
        out[j] = z;
        norm2 += z * z;
    }
    let clip = if norm2 > r * r { r / norm2.sqrt() } else { 1.0 };
    let s = 1.0 / (r * r + 1.0).sqrt();
    for v in out.iter_mut().take(d) {
        *v *= clip * s;
    }
    out[d] = s;
}

/// The noise of steps 1–3: (ε′, Δ, b) for `n` rows, `k` coefficients and
/// largest weight `w`, drawn from `Stream::DpNoise` of `seed`.
fn noise(p: &DpLogisticParams, n: usize, k: usize, w: f64, seed: u64) -> (f64, f64, Vec<f64>) {
    let nf = n as f64;
    let lambda = 1.0 / (p.c * nf);
    let cw = LOSS_CURVATURE * w;
    let mut eps_noise = p.epsilon - 2.0 * (cw / (nf * lambda)).ln_1p();
    let mut extra = 0.0;
    if eps_noise < p.epsilon / 2.0 {
        // Step 2 (module documentation: taken whenever ε′ < ε/2, not only
        // at ε′ ≤ 0): Λ + Δ reaches c·w/(n(e^{ε/4} − 1)), which is > Λ
        // exactly when ε′ < ε/2 (the max guards rounding at the boundary).
        extra = (cw / (nf * (p.epsilon / 4.0).exp_m1()) - lambda).max(0.0);
        eps_noise = p.epsilon / 2.0;
    }
    let beta = eps_noise / (2.0 * w);
    let mut rng = user_stream(seed, 0, Stream::DpNoise, 0);
    let mut dir: Vec<f64> = (0..k).map(|_| normal(&mut rng)).collect();
    let len = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
    let gamma = rand_distr::Gamma::new(k as f64, 1.0 / beta).expect("k >= 1 and beta > 0");
    let norm = gamma.sample(&mut rng);
    for v in dir.iter_mut() {
        *v *= norm / len;
    }
    (eps_noise, extra, dir)
}

/// What one Newton pass reads.
struct Pass<'x, 'a> {
    x: ArrayView2<'x, f32>,
    rows: &'a [usize],
    y: &'a [bool],
    weights: Option<&'a [f64]>,
    low: &'a [f64],
    width: &'a [f64],
    r: f64,
}

/// Gradient and Hessian of the summed weighted log loss at `f`, over fixed
/// blocks of rows, added in block order.
fn loss_derivatives(ctx: &Pass, f: &Array1<f64>) -> (Array1<f64>, Array2<f64>) {
    let k = f.len();
    let n = ctx.rows.len();
    let blocks: Vec<(usize, usize)> = (0..n.div_ceil(BLOCK_ROWS))
        .map(|b| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)))
        .collect();
    let parts: Vec<(Array1<f64>, Array2<f64>)> = blocks
        .par_iter()
        .map(|&(a, b)| {
            let mut zw = Array2::<f64>::zeros((b - a, k));
            let mut g = Array1::<f64>::zeros(k);
            for (i, mut zr) in zw.rows_mut().into_iter().enumerate() {
                let row = zr.as_slice_mut().expect("standard layout");
                scaled_row(ctx.x.row(ctx.rows[a + i]), ctx.low, ctx.width, ctx.r, row);
                let eta: f64 = row.iter().zip(f.iter()).map(|(x, c)| x * c).sum();
                let p = sigmoid(eta);
                let w = ctx.weights.map_or(1.0, |w| w[a + i]);
                let resid = w * (p - ctx.y[a + i] as u8 as f64);
                g.scaled_add(resid, &zr);
                let h = (w * p * (1.0 - p)).sqrt();
                zr.mapv_inplace(|t| t * h);
            }
            let hb = zw.t().dot(&zw);
            (g, hb)
        })
        .collect();
    let mut grad = Array1::<f64>::zeros(k);
    let mut hess = Array2::<f64>::zeros((k, k));
    for (g, h) in &parts {
        grad += g;
        hess += h;
    }
    (grad, hess)
}

/// Newton's method on the perturbed objective (sum form): Σ wᵢℓᵢ +
/// (ridge/2)‖f‖² + bᵀf, ridge = 1/C + n·Δ. Returns the iterations used.
fn newton(
    ctx: &Pass,
    f: &mut Array1<f64>,
    ridge: f64,
    b: &[f64],
    p: &DpLogisticParams,
) -> Result<u32> {
    for it in 0..p.max_iter {
        let (mut grad, mut hess) = loss_derivatives(ctx, f);
        for j in 0..f.len() {
            grad[j] += ridge * f[j] + b[j];
            hess[[j, j]] += ridge;
        }
        let mut step = grad.insert_axis(Axis(1));
        hess.solvec_inplace(&mut step)
            .map_err(|e| NsfError::param("data", format!("Newton step failed: {e}")))?;
        let mut step = step.index_axis(Axis(1), 0).to_owned();
        if step.iter().any(|v| !v.is_finite()) {
            return Err(NsfError::param("data", "Newton step is not finite"));
        }
        // Damped: cap the first steps (rare outcomes, large noise).
        let largest = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if largest > 10.0 {
            step *= 10.0 / largest;
        }
        *f -= &step;
        if largest < p.tol {
            return Ok(it + 1);
        }
    }
    Ok(p.max_iter)
}

/// Fits the DP model on `d` (see the module documentation).
pub fn fit(p: &DpLogisticParams, d: &FitData) -> Result<DpLogisticModel> {
    let n = d.rows.len();
    if n != d.y.len() || d.weights.is_some_and(|w| w.len() != n) {
        return Err(NsfError::param(
            "data",
            "features, labels and weights differ in length",
        ));
    }
    if n == 0 || !d.y.iter().any(|&v| v) || d.y.iter().all(|&v| v) {
        return Err(NsfError::param(
            "data",
            "training needs both NSF and non-NSF users",
        ));
    }
    let (low, width) = public_ranges(d.attributes)?;
    if low.len() != d.x.ncols() {
        return Err(NsfError::param(
            "dp-logistic",
            "the design's columns are not the attributes' (the DP model needs the simulator's columns)",
        ));
    }
    let w_max = d
        .weights
        .map_or(1.0, |w| w.iter().fold(1.0f64, |m, &v| m.max(v)));
    let k = low.len() + 1;
    let (epsilon_noise, extra_l2, b) = noise(p, n, k, w_max, d.seed);
    let ctx = Pass {
        x: d.x,
        rows: d.rows,
        y: d.y,
        weights: d.weights,
        low: &low,
        width: &width,
        r: p.data_norm,
    };
    let mut f = Array1::<f64>::zeros(k);
    let iterations = newton(&ctx, &mut f, 1.0 / p.c + n as f64 * extra_l2, &b, p)?;
    Ok(DpLogisticModel {
        low,
        width,
        data_norm: p.data_norm,
        coef: f.to_vec(),
        epsilon: p.epsilon,
        epsilon_noise,
        extra_l2,
        noise_norm: b.iter().map(|v| v * v).sum::<f64>().sqrt(),
        iterations,
    })
}

impl ScoreModel for DpLogisticModel {
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        let d = self.low.len();
        if x.ncols() != d || self.coef.len() != d + 1 {
            return Err(NsfError::param(
                "data",
                "the design has another number of feature columns than the model",
            ));
        }
        let mut out = vec![0.0; x.nrows()];
        out.par_chunks_mut(BLOCK_ROWS)
            .zip(x.axis_chunks_iter(Axis(0), BLOCK_ROWS).into_par_iter())
            .for_each(|(o, xb)| {
                let mut row = vec![0.0; d + 1];
                for (oi, xr) in o.iter_mut().zip(xb.rows()) {
                    scaled_row(xr, &self.low, &self.width, self.data_norm, &mut row);
                    *oi = sigmoid(row.iter().zip(&self.coef).map(|(a, b)| a * b).sum());
                }
            });
        Ok(out)
    }
}

impl Family for DpLogisticParams {
    type Model = DpLogisticModel;
    // Soft labels are two weighted copies of each row: one user would be
    // two rows, twice the sensitivity. Warm starts change nothing here.
    const CAPABILITIES: Capabilities = Capabilities {
        warm_start: false,
        soft_labels: false,
    };

    fn check(&self) -> Result<()> {
        DpLogisticParams::check(self)
    }

    fn fit(&self, d: &FitData, _init: Option<&DpLogisticModel>) -> Result<DpLogisticModel> {
        fit(self, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::uniform;

    /// Columns age_years, account_age_days, auto_topup, log1p(balance_krw)
    /// and an NSF outcome that falls with each.
    fn synthetic(n: usize) -> (Vec<String>, Array2<f32>, Vec<bool>) {
        let attrs = ["age_years", "account_age_days", "auto_topup", "balance_krw"]
            .map(String::from)
            .to_vec();
        let mut x = Array2::<f32>::zeros((n, 4));
        let mut y = vec![false; n];
        let mut rng = user_stream(9, 0, Stream::Attributes, 0);
        for (i, yi) in y.iter_mut().enumerate() {
            let age = 20.0 + 50.0 * uniform(&mut rng);
            let tenure = 3000.0 * uniform(&mut rng);
            let topup = (uniform(&mut rng) < 0.4) as u8 as f64;
            let bal = (13.0 * uniform(&mut rng)) as f32;
            x.row_mut(i).assign(&ndarray::arr1(&[
                age as f32,
                tenure as f32,
                topup as f32,
                bal,
            ]));
            let eta =
                -1.0 - 0.04 * (age - 40.0) - 0.0005 * tenure - topup - 0.2 * (bal as f64 - 6.0);
            *yi = uniform(&mut rng) < sigmoid(eta);
        }
        (attrs, x, y)
    }

    fn fit_at(eps: f64, n: usize, seed: u64) -> (DpLogisticModel, Array2<f32>, Vec<bool>) {
        let (attrs, x, y) = synthetic(n);
        let rows: Vec<usize> = (0..n).collect();
        let data = FitData {
            x: x.view(),
            attributes: &attrs,
            rows: &rows,
            y: &y,
            weights: None,
            seed,
        };
        let p = DpLogisticParams {
            epsilon: eps,
            ..Default::default()
        };
        (fit(&p, &data).unwrap(), x, y)
    }

    #[test]
    fn noise_follows_chaudhuri_steps_1_and_2() {
        let p = |epsilon| DpLogisticParams {
            epsilon,
            ..Default::default()
        };
        // C = 1, w = 1: ε′ = ε − 2 ln 1.25.
        let (e, delta, b) = noise(&p(1.0), 1000, 5, 1.0, 1);
        assert!((e - (1.0 - 2.0 * 1.25f64.ln())).abs() < 1e-12);
        assert_eq!(delta, 0.0);
        assert_eq!(b.len(), 5);
        // ε = 0.1 and 0.5: ε − 2 ln 1.25 < ε/2 (at 0.5 it is 0.054 > 0,
        // where Algorithm 2 as printed would keep Δ = 0): ε′ = ε/2 and
        // Δ = c/(n(e^{ε/4} − 1)) − 1/(Cn).
        for eps in [0.1, 0.5] {
            let (e, delta, _) = noise(&p(eps), 1000, 5, 1.0, 1);
            assert_eq!(e, eps / 2.0);
            let want = 0.25 / (1000.0 * (eps / 4.0f64).exp_m1()) - 1.0 / 1000.0;
            assert!(
                delta > 0.0 && (delta - want).abs() < 1e-15,
                "{delta} vs {want}"
            );
        }
        // The switch is at ε − 2 ln 1.25 = ε/2, ε = 4 ln 1.25.
        let at = 4.0 * 1.25f64.ln();
        let (below, d_below, _) = noise(&p(at - 1e-6), 1000, 5, 1.0, 1);
        let (above, d_above, _) = noise(&p(at + 1e-6), 1000, 5, 1.0, 1);
        assert!(d_below > 0.0 && d_above == 0.0, "{d_below} {d_above}");
        assert!((below - at / 2.0).abs() < 2e-6 && (above - at / 2.0).abs() < 2e-6);
    }

    #[test]
    fn noise_budget_and_ridge_are_monotone_in_epsilon() {
        // ε′ never falls and Λ + Δ never rises as ε grows (the old switch at
        // ε′ ≤ 0 made ε′ drop from 0.22 at ε = 0.44 to 0.01 at 0.45).
        let mut last = (0.0, f64::INFINITY);
        for i in 1..=400 {
            let p = DpLogisticParams {
                epsilon: 0.01 * i as f64,
                ..Default::default()
            };
            let (e, delta, _) = noise(&p, 1000, 5, 1.0, 1);
            let ridge = 1.0 / 1000.0 + delta;
            assert!(e >= last.0 && ridge <= last.1 + 1e-18, "ε = {}", p.epsilon);
            last = (e, ridge);
        }
    }

    #[test]
    fn auc_is_non_decreasing_in_epsilon_over_the_sweep() {
        // Regression: ε = 0.5 fitted a worse model than ε = 0.1. Mean AUC
        // over four noise seeds on one data set, at the default sweep.
        let (attrs, x, y) = synthetic(20_000);
        let rows: Vec<usize> = (0..y.len()).collect();
        let mean_auc = |eps: f64| {
            (1..=4)
                .map(|seed| {
                    let data = FitData {
                        x: x.view(),
                        attributes: &attrs,
                        rows: &rows,
                        y: &y,
                        weights: None,
                        seed,
                    };
                    let p = DpLogisticParams {
                        epsilon: eps,
                        ..Default::default()
                    };
                    let m = fit(&p, &data).unwrap();
                    crate::stats::metrics::auc(&m.predict_proba(x.view()).unwrap(), &y)
                })
                .sum::<f64>()
                / 4.0
        };
        let aucs: Vec<f64> = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|&e| mean_auc(e))
            .collect();
        for w in aucs.windows(2) {
            assert!(w[1] >= w[0] - 0.002, "AUC by ε: {aucs:?}");
        }
    }

    #[test]
    fn noise_norm_is_gamma_k_over_beta_on_average() {
        // E‖b‖ = k/β = 2k/ε′ (Gamma(k, 1/β)): checked over 2,000 seeds.
        let p = DpLogisticParams::default();
        let k = 6;
        let (e, _, _) = noise(&p, 10_000, k, 1.0, 0);
        let mean = (0..2000)
            .map(|s| {
                noise(&p, 10_000, k, 1.0, s)
                    .2
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
            })
            .sum::<f64>()
            / 2000.0;
        let want = 2.0 * k as f64 / e;
        assert!((mean / want - 1.0).abs() < 0.03, "{mean} vs {want}");
    }

    #[test]
    fn large_epsilon_recovers_the_ordering_small_epsilon_loses_it() {
        let auc = |m: &DpLogisticModel, x: &Array2<f32>, y: &[bool]| {
            crate::stats::metrics::auc(&m.predict_proba(x.view()).unwrap(), y)
        };
        let (m, x, y) = fit_at(1e6, 20_000, 4);
        let (tiny, _, _) = fit_at(0.01, 20_000, 4);
        let (high, low) = (auc(&m, &x, &y), auc(&tiny, &x, &y));
        assert!(high > 0.7, "AUC at ε = 10⁶: {high}");
        assert!(low < high - 0.02, "AUC at ε = 0.01 {low} vs {high}");
    }

    #[test]
    fn identical_at_any_thread_count_and_seed_dependent() {
        let with = |t: usize, seed: u64| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| fit_at(1.0, 40_000, seed).0)
        };
        let a = with(1, 3);
        assert_eq!(a, with(2, 3));
        assert_eq!(a, with(8, 3));
        assert_ne!(a.coef, with(2, 4).coef, "another seed, another noise");
    }

    #[test]
    fn rows_are_clipped_to_the_unit_ball() {
        let (low, width) = public_ranges(&["age_years".into(), "balance_krw".into()]).unwrap();
        let mut out = [0.0; 3];
        let big = ndarray::arr1(&[200.0f32, 40.0]);
        scaled_row(big.view(), &low, &width, 0.5, &mut out);
        let norm = out.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(norm <= 1.0 + 1e-12, "{norm}");
        let e = public_ranges(&["user_id_hash".into()]).unwrap_err();
        assert!(e.to_string().contains("public range"), "{e}");
    }
}
