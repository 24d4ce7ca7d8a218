//! L2-regularized logistic regression fitted by Newton's method (IRLS) on
//! standardized features. Gradient and Hessian are accumulated over fixed
//! blocks of rows in parallel and added in block order, so the fit is
//! bit-identical at any thread count. Each Newton step solves the
//! (d+1)×(d+1) system by Cholesky (linfa-linalg).
//!
//! The objective is scikit-learn's: sum of log losses + ||w||² / (2C), the
//! intercept unpenalized. Probabilities are P(nsf = 1): the positive class is
//! the label 1, whatever its frequency.

use linfa_linalg::cholesky::SolveCInplace;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::ParallelSliceMut;
use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::models::family::{Capabilities, Family, FitData, ScoreModel};
use crate::sim::rng::sigmoid;

/// Rows per block of the parallel reductions (fixed: part of determinism).
const BLOCK_ROWS: usize = 16_384;

thread_local! {
    /// Each worker's block buffer for the Newton pass.
    static BLOCK: std::cell::RefCell<Array2<f64>> = std::cell::RefCell::new(Array2::zeros((0, 0)));
}

/// Hyperparameters (validated by `check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogisticParams {
    /// Inverse L2 strength (scikit-learn's C).
    pub c: f64,
    /// Newton iterations at most.
    pub max_iter: u32,
    /// Stop when the largest coefficient step is below this.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            c: 1.0,
            max_iter: 50,
            tol: 1e-7,
        }
    }
}

impl LogisticParams {
    /// Validates the parameters.
    pub fn check(&self) -> Result<()> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(NsfError::param("logistic.c", "must be > 0"));
        }
        if self.max_iter == 0 {
            return Err(NsfError::param("logistic.max_iter", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fitted model: standardization and coefficients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogisticModel {
    /// Feature means used for standardization.
    pub mean: Vec<f64>,
    /// Feature standard deviations (1 where a feature is constant).
    pub scale: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Coefficients on standardized features.
    pub coef: Vec<f64>,
    /// Newton iterations used.
    pub iterations: u32,
}

pub(crate) fn blocks(n: usize) -> Vec<(usize, usize)> {
    (0..n.div_ceil(BLOCK_ROWS))
        .map(|b| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n)))
        .collect()
}

/// Column means and standard deviations over `rows`, reduced in block order.
pub fn standardization(x: ArrayView2<f32>, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len();
    let d = x.ncols();
    let sums: Vec<(Array1<f64>, Array1<f64>)> = blocks(n)
        .par_iter()
        .map(|&(a, b)| {
            let (mut s1, mut s2) = (Array1::<f64>::zeros(d), Array1::<f64>::zeros(d));
            for &r in &rows[a..b] {
                for (j, &v) in x.row(r).iter().enumerate() {
                    let v = v as f64;
                    s1[j] += v;
                    s2[j] += v * v;
                }
            }
            (s1, s2)
        })
        .collect();
    let mut s1 = Array1::<f64>::zeros(d);
    let mut s2 = Array1::<f64>::zeros(d);
    for (a, b) in &sums {
        s1 += a;
        s2 += b;
    }
    standardization_from_sums(&s1.to_vec(), &s2.to_vec(), n)
}

/// Means and standard deviations (1 for a constant column) from the sums
/// `s1` of values and `s2` of squares over `n` rows.
pub(crate) fn standardization_from_sums(s1: &[f64], s2: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = s1.iter().map(|v| v / n as f64).collect();
    let scale: Vec<f64> = (0..s1.len())
        .map(|j| {
            let var = (s2[j] / n as f64 - mean[j] * mean[j]).max(0.0);
            if var > 1e-24 { var.sqrt() } else { 1.0 }
        })
        .collect();
    (mean, scale)
}

/// What one Newton pass reads.
struct Pass<'x, 'a> {
    x: ArrayView2<'x, f32>,
    /// Rows of `x` that are training rows (y and weights follow this order).
    rows: &'a [usize],
    y: &'a [bool],
    weights: Option<&'a [f64]>,
    mean: &'a [f64],
    inv_scale: &'a [f64],
}

/// Newton iterations over `blocks` of rows from `beta`, with L2 `penalty`
/// on the non-intercept coefficients; returns the iterations done.
fn newton(
    ctx: &Pass<'_, '_>,
    blocks: &[(usize, usize)],
    beta: &mut Array1<f64>,
    penalty: f64,
    max_iter: u32,
    tol: f64,
) -> Result<u32> {
    let d = ctx.x.ncols();
    let k = d + 1;
    for it in 0..max_iter {
        let parts: Vec<(Array1<f64>, Array2<f64>)> = blocks
            .par_iter()
            .map(|&(a, b)| {
                // One pass over the block: standardize each row, its
                // probability, the gradient term, and the row scaled by
                // sqrt(weight·p·(1−p)) for the Hessian (one gemm per block).
                // The block buffer is reused per thread: no fresh pages.
                BLOCK.with_borrow_mut(|buf| {
                    if buf.dim() != (BLOCK_ROWS, k) {
                        *buf = Array2::<f64>::zeros((BLOCK_ROWS, k));
                    }
                    let mut zw = buf.slice_mut(s![..b - a, ..]);
                    let mut g = Array1::<f64>::zeros(k);
                    for (i, mut zr) in zw.rows_mut().into_iter().enumerate() {
                        let xr = ctx.x.row(ctx.rows[a + i]);
                        zr[0] = 1.0;
                        let mut eta = beta[0];
                        for j in 0..d {
                            let z = (xr[j] as f64 - ctx.mean[j]) * ctx.inv_scale[j];
                            zr[j + 1] = z;
                            eta += beta[j + 1] * z;
                        }
                        let p = sigmoid(eta);
                        let w = ctx.weights.map_or(1.0, |w| w[a + i]);
                        let r = w * (p - ctx.y[a + i] as u8 as f64);
                        g.scaled_add(r, &zr);
                        let h = (w * p * (1.0 - p)).sqrt();
                        zr.mapv_inplace(|t| t * h);
                    }
                    let hb = zw.t().dot(&zw);
                    (g, hb)
                })
            })
            .collect();
        let mut grad = Array1::<f64>::zeros(k);
        let mut hess = Array2::<f64>::zeros((k, k));
        for (g, h) in &parts {
            grad += g;
            hess += h;
        }
        for j in 1..k {
            grad[j] += beta[j] * penalty;
            hess[[j, j]] += penalty;
        }
        let mut step = grad.insert_axis(Axis(1));
        hess.solvec_inplace(&mut step)
            .map_err(|e| NsfError::param("data", format!("Newton step failed: {e}")))?;
        let mut step = step.index_axis(Axis(1), 0).to_owned();
        if step.iter().any(|v| !v.is_finite()) {
            return Err(NsfError::param(
                "data",
                "Newton step is not finite (separable or degenerate data)",
            ));
        }
        // Damped Newton: with very rare outcomes the first full steps can
        // overshoot into overflow; cap them at 5 standardized units.
        let largest = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if largest > 5.0 {
            step *= 5.0 / largest;
        }
        *beta -= &step;
        if step.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol {
            return Ok(it + 1);
        }
    }
    Ok(max_iter)
}

/// Fits the model on features `x` (rows × d) and labels `y`, with optional
/// per-row weights (inverse-probability weights, ...).
pub fn fit(
    x: ArrayView2<f32>,
    y: &[bool],
    weights: Option<&[f64]>,
    params: &LogisticParams,
) -> Result<LogisticModel> {
    let rows: Vec<usize> = (0..x.nrows()).collect();
    fit_rows(x, &rows, y, weights, params)
}

/// Fits on the rows `rows` of `x` (no copy of the training rows); `y` and
/// `weights` are given per training row, in the order of `rows`.
pub fn fit_rows(
    x: ArrayView2<f32>,
    rows: &[usize],
    y: &[bool],
    weights: Option<&[f64]>,
    params: &LogisticParams,
) -> Result<LogisticModel> {
    fit_rows_from(x, rows, y, weights, params, None)
}

/// As `fit_rows`, starting Newton's method from `init`'s coefficients
/// (re-expressed on this data's standardization) instead of the base rate
/// and the subsample warm start. The objective is convex, so the optimum is
/// the same; what changes is the path, and the lineage (see `train`).
/// `params` must have passed `LogisticParams::check` (done once, by
/// `ModelSpec::check`; the defaults pass).
pub fn fit_rows_from(
    x: ArrayView2<f32>,
    rows: &[usize],
    y: &[bool],
    weights: Option<&[f64]>,
    params: &LogisticParams,
    init: Option<&LogisticModel>,
) -> Result<LogisticModel> {
    let (n, d) = (rows.len(), x.ncols());
    if n != y.len() || weights.is_some_and(|w| w.len() != n) || rows.iter().any(|&r| r >= x.nrows())
    {
        return Err(NsfError::param(
            "data",
            "features, labels and weights differ in length",
        ));
    }
    if n == 0 || !y.iter().any(|&v| v) || y.iter().all(|&v| v) {
        return Err(NsfError::param(
            "data",
            "training needs both NSF and non-NSF users",
        ));
    }
    let (mean, scale) = standardization(x, rows);
    let inv_scale: Vec<f64> = scale.iter().map(|s| 1.0 / s).collect();
    let k = d + 1;
    let mut beta = Array1::<f64>::zeros(k);
    // Start at the base rate: fewer Newton steps.
    let rate = y.iter().filter(|&&v| v).count() as f64 / n as f64;
    beta[0] = (rate / (1.0 - rate)).ln();
    if let Some(m) = init {
        if m.coef.len() != d {
            return Err(NsfError::param(
                "--warm-start",
                "the starting model has another number of feature columns",
            ));
        }
        beta = m.coefficients_on(&mean, &scale);
    }
    let all_blocks = blocks(n);
    // Warm start: Newton on every 8th block (the penalty scaled to the
    // subsample) gets close to the optimum at an eighth of the cost; the
    // full-data steps then converge in two or three iterations.
    let mut iterations = 0;
    let sub: Vec<(usize, usize)> = all_blocks.iter().copied().step_by(8).collect();
    let sub_positives: usize = sub
        .iter()
        .map(|&(a, b)| y[a..b].iter().filter(|&&v| v).count())
        .sum();
    let sub_rows_total: usize = sub.iter().map(|(a, b)| b - a).sum();
    // The warm start needs both classes well represented in its subsample.
    if init.is_none()
        && all_blocks.len() >= 64
        && sub_positives >= 100
        && sub_rows_total - sub_positives >= 100
    {
        let sub_rows: usize = sub.iter().map(|(a, b)| b - a).sum();
        let penalty = sub_rows as f64 / (n as f64 * params.c);
        let ctx = Pass {
            x,
            rows,
            y,
            weights,
            mean: &mean,
            inv_scale: &inv_scale,
        };
        iterations += newton(&ctx, &sub, &mut beta, penalty, params.max_iter, 1e-3)?;
    }
    let ctx = Pass {
        x,
        rows,
        y,
        weights,
        mean: &mean,
        inv_scale: &inv_scale,
    };
    iterations += newton(
        &ctx,
        &all_blocks,
        &mut beta,
        1.0 / params.c,
        params.max_iter,
        params.tol,
    )?;
    Ok(LogisticModel {
        mean,
        scale,
        intercept: beta[0],
        coef: beta.iter().skip(1).copied().collect(),
        iterations,
    })
}

impl LogisticModel {
    /// P(nsf = 1) for each row of `x`.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Vec<f64> {
        let d = self.coef.len();
        let mut out = vec![0.0; x.nrows()];
        out.par_chunks_mut(BLOCK_ROWS)
            .zip(x.axis_chunks_iter(Axis(0), BLOCK_ROWS).into_par_iter())
            .for_each(|(o, xb)| {
                for (oi, xr) in o.iter_mut().zip(xb.rows()) {
                    let mut eta = self.intercept;
                    for j in 0..d {
                        eta += self.coef[j] * (xr[j] as f64 - self.mean[j]) / self.scale[j];
                    }
                    *oi = sigmoid(eta);
                }
            });
        out
    }
}

impl ScoreModel for LogisticModel {
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        Ok(LogisticModel::predict_proba(self, x))
    }
}

impl Family for LogisticParams {
    type Model = LogisticModel;
    const CAPABILITIES: Capabilities = Capabilities {
        warm_start: true,
        soft_labels: true,
    };

    fn check(&self) -> Result<()> {
        LogisticParams::check(self)
    }

    fn fit(&self, d: &FitData, init: Option<&LogisticModel>) -> Result<LogisticModel> {
        fit_rows_from(d.x, d.rows, d.y, d.weights, self, init)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Stream, normal, uniform, user_stream};

    /// Data from a known logistic model with a rare positive class.
    fn synthetic(n: usize) -> (Array2<f32>, Vec<bool>) {
        let mut rng = user_stream(11, 0, Stream::Attributes, 0);
        let mut x = Array2::<f32>::zeros((n, 3));
        let mut y = vec![false; n];
        for i in 0..n {
            for j in 0..3 {
                x[[i, j]] = (normal(&mut rng) * (j + 1) as f64 + 5.0) as f32;
            }
            let eta = -3.0 + 1.0 * (x[[i, 0]] as f64 - 5.0) - 0.5 * (x[[i, 1]] as f64 - 5.0) / 2.0;
            y[i] = uniform(&mut rng) < sigmoid(eta);
        }
        (x, y)
    }

    #[test]
    fn recovers_known_coefficients_and_direction() {
        let (x, y) = synthetic(200_000);
        let m = fit(
            x.view(),
            &y,
            None,
            &LogisticParams {
                c: 1e6,
                ..Default::default()
            },
        )
        .unwrap();
        // Standardized coefficients: 1.0 * sd(x0)=1, -0.25 * sd(x1)=2 → -0.5, 0.
        assert!((m.coef[0] - 1.0).abs() < 0.03, "{:?}", m.coef);
        assert!((m.coef[1] + 0.5).abs() < 0.03, "{:?}", m.coef);
        assert!(m.coef[2].abs() < 0.03, "{:?}", m.coef);
        // The rare class is the positive one: higher x0 → higher P(y=1).
        let p = m.predict_proba(x.view());
        let mean_pos = p
            .iter()
            .zip(&y)
            .filter(|(_, y)| **y)
            .map(|(p, _)| p)
            .sum::<f64>()
            / y.iter().filter(|v| **v).count() as f64;
        let rate = y.iter().filter(|v| **v).count() as f64 / y.len() as f64;
        assert!(mean_pos > 2.0 * rate, "positives get higher probabilities");
        assert!(
            (p.iter().sum::<f64>() / p.len() as f64 - rate).abs() < 1e-6,
            "calibrated in the mean"
        );
    }

    #[test]
    fn identical_at_any_thread_count() {
        let (x, y) = synthetic(50_000);
        let fit_with = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| fit(x.view(), &y, None, &LogisticParams::default()).unwrap())
        };
        let a = fit_with(1);
        assert_eq!(a, fit_with(2));
        assert_eq!(a, fit_with(8));
    }
}
