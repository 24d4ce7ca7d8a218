//! Many logistic fits on subsets of one design (the audit's shadow models)
//! by the modified Newton (chord) method: one Hessian, computed once over
//! the whole pool at a reference model, preconditions every fit; each fit
//! then needs only gradient passes. The optimum is the same as Newton's
//! (the objective is strictly convex and the iteration stops on the same
//! step tolerance), only the path is cheaper: a gradient pass costs 2d
//! flops per row, a Hessian pass d².
//!
//! Convergence: with the preconditioner `H₀` and the true Hessian `H*`
//! the error contracts by ‖I − H₀⁻¹H*‖ per step (Ortega & Rheinboldt,
//! *Iterative Solution of Nonlinear Equations*, 1970, §10.2 "chord
//! method"); a random half of the pool has `H*` ≈ half the pool's Hessian
//! up to O(1/√n), so a few passes reach the tolerance. A fit that does not
//! converge within [`MAX_CHORD_ITER`] falls back to the full Newton fit.

use linfa_linalg::cholesky::SolveCInplace;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};

use crate::error::{NsfError, Result};
use crate::models::logistic::{
    LogisticModel, LogisticParams, blocks, fit_rows_from, standardization,
};
use crate::sim::rng::sigmoid;

/// Gradient passes at most before falling back to Newton's method.
pub const MAX_CHORD_ITER: u32 = 40;

/// The Hessian of the summed log loss over a pool of rows at a reference
/// model, in that model's standardized coordinates (intercept first).
pub struct PoolHessian {
    h: Array2<f64>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    rows: usize,
}

impl LogisticModel {
    /// The coefficients (intercept first) of this model's linear predictor
    /// re-expressed on the standardization `mean`, `scale`.
    pub fn coefficients_on(&self, mean: &[f64], scale: &[f64]) -> Array1<f64> {
        let raw: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.scale)
            .map(|(c, s)| c / s)
            .collect();
        let raw0 = self.intercept
            - raw
                .iter()
                .zip(&self.mean)
                .map(|(b, mu)| b * mu)
                .sum::<f64>();
        let mut beta = Array1::<f64>::zeros(raw.len() + 1);
        beta[0] = raw0 + raw.iter().zip(mean).map(|(b, mu)| b * mu).sum::<f64>();
        for (j, (b, s)) in raw.iter().zip(scale).enumerate() {
            beta[j + 1] = b * s;
        }
        beta
    }
}

/// `Σ p(1−p)·z zᵀ` over `rows` of `x` at model `at`, `z` = (1, standardized
/// row), reduced over fixed blocks in block order (thread-count independent).
pub fn pool_hessian(x: ArrayView2<f32>, rows: &[usize], at: &LogisticModel) -> PoolHessian {
    let d = x.ncols();
    let k = d + 1;
    let inv: Vec<f64> = at.scale.iter().map(|s| 1.0 / s).collect();
    let parts: Vec<Array2<f64>> = blocks(rows.len())
        .par_iter()
        .map(|&(a, b)| {
            let mut zw = Array2::<f64>::zeros((b - a, k));
            for (i, mut zr) in zw.rows_mut().into_iter().enumerate() {
                let xr = x.row(rows[a + i]);
                zr[0] = 1.0;
                let mut eta = at.intercept;
                for j in 0..d {
                    let z = (xr[j] as f64 - at.mean[j]) * inv[j];
                    zr[j + 1] = z;
                    eta += at.coef[j] * z;
                }
                let p = sigmoid(eta);
                let h = (p * (1.0 - p)).sqrt();
                zr.mapv_inplace(|t| t * h);
            }
            zw.t().dot(&zw)
        })
        .collect();
    let mut h = Array2::<f64>::zeros((k, k));
    for part in &parts {
        h += part;
    }
    PoolHessian {
        h,
        mean: at.mean.clone(),
        scale: at.scale.clone(),
        rows: rows.len(),
    }
}

impl PoolHessian {
    /// The preconditioner of a fit on `n` rows standardized by `mean`,
    /// `scale`: the pool's Hessian scaled to `n` rows, moved to those
    /// coordinates (`z_s = B z_p`, `H_s = B H_p Bᵀ`), plus the L2 penalty.
    fn preconditioner(&self, n: usize, mean: &[f64], scale: &[f64], penalty: f64) -> Array2<f64> {
        let k = mean.len() + 1;
        let mut b = Array2::<f64>::zeros((k, k));
        b[[0, 0]] = 1.0;
        for j in 0..k - 1 {
            b[[j + 1, 0]] = (self.mean[j] - mean[j]) / scale[j];
            b[[j + 1, j + 1]] = self.scale[j] / scale[j];
        }
        let mut h = b.dot(&self.h).dot(&b.t()) * (n as f64 / self.rows.max(1) as f64);
        for j in 1..k {
            h[[j, j]] += penalty;
        }
        h
    }
}

/// `Σ xⱼ·bⱼ` with eight independent partial sums (a fixed order, so the
/// same bits at any thread count): one dependent chain of 35 additions
/// would wait on the adder's latency at every term.
fn dot(xs: &[f32], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (xc, bc) = (xs.chunks_exact(8), b.chunks_exact(8));
    let (xr, br) = (xc.remainder(), bc.remainder());
    for (x8, b8) in xc.zip(bc) {
        for k in 0..8 {
            acc[k] += x8[k] as f64 * b8[k];
        }
    }
    for (k, (&x, &w)) in xr.iter().zip(br).enumerate() {
        acc[k] += x as f64 * w;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// The gradient of the penalized summed log loss at `beta` (on the
/// standardization `mean`, `scale`) over `rows`. The pass works on raw
/// values: η = c₀ + Σ bⱼxⱼ with bⱼ = βⱼ/sⱼ, and it sums r = p − y and r·xⱼ;
/// the standardized gradient is then (Σ r·xⱼ − mⱼ Σ r)/sⱼ. Sums are reduced
/// over fixed blocks in block order.
fn gradient(
    x: ArrayView2<f32>,
    rows: &[usize],
    y: &[bool],
    mean: &[f64],
    scale: &[f64],
    beta: &Array1<f64>,
    penalty: f64,
) -> Array1<f64> {
    let d = x.ncols();
    let b: Vec<f64> = (0..d).map(|j| beta[j + 1] / scale[j]).collect();
    let c0 = beta[0] - b.iter().zip(mean).map(|(b, m)| b * m).sum::<f64>();
    let parts: Vec<(f64, Vec<f64>)> = blocks(rows.len())
        .par_iter()
        .map(|&(lo, hi)| {
            let (mut sr, mut srx) = (0.0f64, vec![0.0f64; d]);
            let mut copy = vec![0.0f32; d];
            for i in lo..hi {
                let row = x.row(rows[i]);
                let xs = row.as_slice().unwrap_or_else(|| {
                    copy.iter_mut().zip(row.iter()).for_each(|(c, &v)| *c = v);
                    &copy
                });
                let eta = c0 + dot(xs, &b);
                let r = sigmoid(eta) - y[i] as u8 as f64;
                sr += r;
                srx.iter_mut()
                    .zip(xs)
                    .for_each(|(acc, &v)| *acc += r * v as f64);
            }
            (sr, srx)
        })
        .collect();
    let (mut sr, mut srx) = (0.0f64, vec![0.0f64; d]);
    for (a, v) in &parts {
        sr += a;
        srx.iter_mut().zip(v).for_each(|(acc, x)| *acc += x);
    }
    let mut g = Array1::<f64>::zeros(d + 1);
    g[0] = sr;
    for j in 0..d {
        g[j + 1] = (srx[j] - mean[j] * sr) / scale[j] + beta[j + 1] * penalty;
    }
    g
}

/// Fits `params` on `rows` of `x` (labels `y` in the order of `rows`) by
/// chord steps from `start` preconditioned by `pool`; falls back to
/// Newton's method from `start` if the steps do not reach `params.tol`
/// within [`MAX_CHORD_ITER`]. Returns the same optimum as
/// [`fit_rows_from`] to within the tolerance.
pub fn fit_rows_chord(
    x: ArrayView2<f32>,
    rows: &[usize],
    y: &[bool],
    params: &LogisticParams,
    start: &LogisticModel,
    pool: &PoolHessian,
) -> Result<LogisticModel> {
    if rows.len() != y.len() || start.coef.len() != x.ncols() || pool.mean.len() != x.ncols() {
        return Err(NsfError::param(
            "data",
            "shadow fit: rows, labels and model differ in size",
        ));
    }
    let (mean, scale) = standardization(x, rows);
    let penalty = 1.0 / params.c;
    let h = pool.preconditioner(rows.len(), &mean, &scale, penalty);
    let mut beta = start.coefficients_on(&mean, &scale);
    for it in 0..MAX_CHORD_ITER {
        let g = gradient(x, rows, y, &mean, &scale, &beta, penalty);
        let mut step = g.insert_axis(Axis(1));
        if h.clone().solvec_inplace(&mut step).is_err() {
            break;
        }
        let step = step.slice(s![.., 0]).to_owned();
        let largest = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !largest.is_finite() {
            break;
        }
        beta -= &(step * (5.0 / largest).min(1.0));
        if largest < params.tol {
            return Ok(LogisticModel {
                mean,
                scale,
                intercept: beta[0],
                coef: beta.iter().skip(1).copied().collect(),
                iterations: it + 1,
            });
        }
    }
    fit_rows_from(x, rows, y, None, params, Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::logistic::fit_rows;
    use crate::sim::rng::{Stream, mix64, normal, uniform, user_stream};

    /// Rows from a known logistic model, 5 features on different scales.
    fn synthetic(n: usize) -> (Array2<f32>, Vec<bool>) {
        let mut rng = user_stream(21, 0, Stream::Attributes, 0);
        let mut x = Array2::<f32>::zeros((n, 5));
        let mut y = vec![false; n];
        for i in 0..n {
            for j in 0..5 {
                x[[i, j]] = (normal(&mut rng) * 10f64.powi(j as i32) + 3.0 * j as f64) as f32;
            }
            let eta =
                -2.5 + 0.8 * normal(&mut rng) + 0.6 * x[[i, 0]] as f64 - 0.004 * x[[i, 2]] as f64;
            y[i] = uniform(&mut rng) < sigmoid(eta);
        }
        (x, y)
    }

    #[test]
    fn chord_shadows_reach_the_newton_optimum() {
        let (x, y_all) = synthetic(120_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows()).collect();
        let members: Vec<usize> = pool.iter().copied().filter(|i| i % 5 != 0).collect();
        let ym: Vec<bool> = members.iter().map(|&i| y_all[i]).collect();
        let target = fit_rows(x.view(), &members, &ym, None, &params).unwrap();
        let ph = pool_hessian(x.view(), &pool, &target);
        for k in 0..3u64 {
            let rows: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|&i| mix64(k ^ i as u64) & 1 == 1)
                .collect();
            let y: Vec<bool> = rows.iter().map(|&i| y_all[i]).collect();
            let newton = fit_rows(x.view(), &rows, &y, None, &params).unwrap();
            let chord = fit_rows_chord(x.view(), &rows, &y, &params, &target, &ph).unwrap();
            assert!(
                chord.iterations < MAX_CHORD_ITER,
                "converged without the fallback"
            );
            assert_eq!(chord.mean, newton.mean);
            for (a, b) in chord
                .coef
                .iter()
                .chain([&chord.intercept])
                .zip(newton.coef.iter().chain([&newton.intercept]))
            {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
            let (pa, pb) = (
                chord.predict_proba(x.view()),
                newton.predict_proba(x.view()),
            );
            let worst = pa
                .iter()
                .zip(&pb)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-7, "largest probability difference {worst}");
        }
    }

    #[test]
    fn chord_fits_are_identical_at_any_thread_count() {
        let (x, y_all) = synthetic(60_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows()).collect();
        let target = fit_rows(x.view(), &pool, &y_all, None, &params).unwrap();
        let rows: Vec<usize> = pool.iter().copied().filter(|i| i % 2 == 0).collect();
        let y: Vec<bool> = rows.iter().map(|&i| y_all[i]).collect();
        let with = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| {
                    let ph = pool_hessian(x.view(), &pool, &target);
                    fit_rows_chord(x.view(), &rows, &y, &params, &target, &ph).unwrap()
                })
        };
        let a = with(1);
        assert_eq!(a, with(2));
        assert_eq!(a, with(8));
    }

    #[test]
    fn a_useless_preconditioner_falls_back_to_newton() {
        let (x, y_all) = synthetic(40_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows()).collect();
        let target = fit_rows(x.view(), &pool, &y_all, None, &params).unwrap();
        let mut ph = pool_hessian(x.view(), &pool, &target);
        ph.h *= 1e-9; // steps 10⁹ too long: the chord iteration diverges
        let chord = fit_rows_chord(x.view(), &pool, &y_all, &params, &target, &ph).unwrap();
        let newton = fit_rows_from(x.view(), &pool, &y_all, None, &params, Some(&target)).unwrap();
        assert_eq!(chord, newton);
    }
}
