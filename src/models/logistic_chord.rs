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
    LogisticModel, LogisticParams, blocks, fit_rows_from, standardization_from_sums,
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

/// Shadows fitted together at most: one bit each in a row's membership word.
pub const GROUP: usize = 32;

/// Calls `f(block, j, row)` for every pool position `j` of each fixed block
/// whose membership word meets `active`, the row widened to f64; the
/// per-block results come back in block order.
fn over_pool<T: Send>(
    x: ArrayView2<f32>,
    pool: &[usize],
    member: &[u32],
    active: u32,
    init: impl Fn() -> T + Sync,
    f: impl Fn(&mut T, usize, u32, &[f64]) + Sync,
) -> Vec<T> {
    blocks(pool.len())
        .par_iter()
        .map(|&(lo, hi)| {
            let mut acc = init();
            let mut row = vec![0.0f64; x.ncols()];
            for j in lo..hi {
                let bits = member[j] & active;
                if bits == 0 {
                    continue;
                }
                let xr = x.row(pool[j]);
                match xr.as_slice() {
                    Some(xs) => row.iter_mut().zip(xs).for_each(|(c, &v)| *c = v as f64),
                    None => row
                        .iter_mut()
                        .zip(xr.iter())
                        .for_each(|(c, &v)| *c = v as f64),
                }
                f(&mut acc, j, bits, &row);
            }
            acc
        })
        .collect()
}

/// Calls `f(k)` for each set bit `k` of `bits`, lowest first.
fn each_bit(mut bits: u32, mut f: impl FnMut(usize)) {
    while bits != 0 {
        f(bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
}

/// Each shadow's row count, means and standard deviations, from one pass
/// (sums of values and squares per shadow, reduced in block order; for a
/// single shadow over its own rows these are [`crate::models::logistic::standardization`]'s sums).
fn joint_standardization(
    x: ArrayView2<f32>,
    pool: &[usize],
    member: &[u32],
    count: usize,
) -> Vec<(usize, Vec<f64>, Vec<f64>)> {
    let d = x.ncols();
    let all = if count == GROUP {
        u32::MAX
    } else {
        (1u32 << count) - 1
    };
    let init = || {
        (
            vec![0usize; count],
            vec![0.0f64; count * d],
            vec![0.0f64; count * d],
        )
    };
    let parts = over_pool(x, pool, member, all, init, |(n, s1, s2), _, bits, row| {
        each_bit(bits, |k| {
            n[k] += 1;
            let (a, b) = (&mut s1[k * d..(k + 1) * d], &mut s2[k * d..(k + 1) * d]);
            for j in 0..d {
                a[j] += row[j];
                b[j] += row[j] * row[j];
            }
        })
    });
    let (mut n, mut s1, mut s2) = init();
    for (pn, p1, p2) in &parts {
        n.iter_mut().zip(pn).for_each(|(a, b)| *a += b);
        s1.iter_mut().zip(p1).for_each(|(a, b)| *a += b);
        s2.iter_mut().zip(p2).for_each(|(a, b)| *a += b);
    }
    (0..count)
        .map(|k| {
            let r = k * d..(k + 1) * d;
            let (mean, scale) = standardization_from_sums(&s1[r.clone()], &s2[r], n[k]);
            (n[k], mean, scale)
        })
        .collect()
}

/// One shadow's chord iteration.
struct Fit {
    mean: Vec<f64>,
    scale: Vec<f64>,
    h: Array2<f64>,
    beta: Array1<f64>,
    done: Option<LogisticModel>,
    stalled: bool,
}

impl Fit {
    /// The raw-space coefficients `bⱼ = βⱼ/sⱼ` and intercept `c₀`.
    fn raw(&self) -> (Vec<f64>, f64) {
        let b: Vec<f64> = (0..self.mean.len())
            .map(|j| self.beta[j + 1] / self.scale[j])
            .collect();
        let c0 = self.beta[0] - b.iter().zip(&self.mean).map(|(b, m)| b * m).sum::<f64>();
        (b, c0)
    }

    /// One preconditioned step from the gradient's raw sums `sr` = Σ r and
    /// `srx` = Σ r·x; done when the largest step is below `tol`.
    fn step(&mut self, sr: f64, srx: &[f64], penalty: f64, tol: f64, it: u32) {
        let d = self.mean.len();
        let mut g = Array1::<f64>::zeros(d + 1);
        g[0] = sr;
        for j in 0..d {
            g[j + 1] = (srx[j] - self.mean[j] * sr) / self.scale[j] + self.beta[j + 1] * penalty;
        }
        let mut step = g.insert_axis(Axis(1));
        if self.h.clone().solvec_inplace(&mut step).is_err() {
            self.stalled = true;
            return;
        }
        let step = step.slice(s![.., 0]).to_owned();
        let largest = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !largest.is_finite() {
            self.stalled = true;
            return;
        }
        self.beta -= &(step * (5.0 / largest).min(1.0));
        if largest < tol {
            self.done = Some(LogisticModel {
                mean: self.mean.clone(),
                scale: self.scale.clone(),
                intercept: self.beta[0],
                coef: self.beta.iter().skip(1).copied().collect(),
                iterations: it + 1,
            });
        }
    }
}

/// Shadows per vector lane group: the coefficients of eight shadows on one
/// feature sit side by side, so a row's linear predictors for a group are
/// eight-wide multiply–adds (two AVX2 or one AVX-512 operation each).
const LANES: usize = 8;
type Lanes = [f64; LANES];

/// One gradient pass for every shadow in `active`: per shadow, Σ r and
/// Σ r·x over its rows (r = p − y, η on raw values, summed over features in
/// order), reduced in block order. Each row is read once for all the
/// shadows it belongs to; a lane of a shadow the row is not in has r = 0.
fn joint_gradient(
    x: ArrayView2<f32>,
    pool: &[usize],
    member: &[u32],
    y: &[bool],
    active: u32,
    fits: &[Fit],
) -> (Vec<f64>, Vec<f64>) {
    let (d, groups) = (x.ncols(), fits.len().div_ceil(LANES));
    let (mut bt, mut c0) = (vec![[0.0; LANES]; d * groups], vec![[0.0; LANES]; groups]);
    for (k, f) in fits.iter().enumerate() {
        let (b, c) = f.raw();
        c0[k / LANES][k % LANES] = c;
        for (j, v) in b.into_iter().enumerate() {
            bt[j * groups + k / LANES][k % LANES] = v;
        }
    }
    let init = || {
        (
            vec![[0.0f64; LANES]; groups],
            vec![[0.0f64; LANES]; groups * d],
        )
    };
    let parts = over_pool(x, pool, member, active, init, |(sr, srx), j, bits, row| {
        let yj = y[j] as u8 as f64;
        for g in 0..groups {
            let gb = (bits >> (g * LANES)) & 0xFF;
            if gb == 0 {
                continue;
            }
            let mut eta = c0[g];
            for (jj, &v) in row.iter().enumerate() {
                let b = &bt[jj * groups + g];
                (0..LANES).for_each(|l| eta[l] += v * b[l]);
            }
            let mut r: Lanes = [0.0; LANES];
            each_bit(gb, |l| r[l] = sigmoid(eta[l]) - yj);
            (0..LANES).for_each(|l| sr[g][l] += r[l]);
            for (jj, &v) in row.iter().enumerate() {
                let a = &mut srx[jj * groups + g];
                (0..LANES).for_each(|l| a[l] += r[l] * v);
            }
        }
    });
    let (mut sr, mut srx) = init();
    for (a, v) in &parts {
        sr.iter_mut()
            .zip(a)
            .for_each(|(s, x)| (0..LANES).for_each(|l| s[l] += x[l]));
        srx.iter_mut()
            .zip(v)
            .for_each(|(s, x)| (0..LANES).for_each(|l| s[l] += x[l]));
    }
    let k_of = |k: usize| (k / LANES, k % LANES);
    let sr_k = (0..fits.len()).map(|k| sr[k_of(k).0][k_of(k).1]).collect();
    let srx_k = (0..fits.len())
        .flat_map(|k| (0..d).map(move |j| (k, j)))
        .map(|(k, j)| srx[j * groups + k / LANES][k % LANES])
        .collect();
    (sr_k, srx_k)
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
    let member = vec![1u32; rows.len()];
    let mut fits = fit_many_chord(x, rows, &member, y, 1, params, start, pool)?;
    Ok(fits.remove(0))
}

/// Fits `count` (≤ [`GROUP`]) shadows at once: shadow `k` trains on the
/// `pool` rows whose `member` word has bit `k` set (labels `y` in the order
/// of `pool`). Each step is one pass over the pool for all shadows still
/// moving; each shadow is [`fit_rows_chord`] on its own rows (the same
/// optimum; sums in another block order). A shadow that does not converge
/// is refitted by Newton's method from `start`.
#[allow(clippy::too_many_arguments)]
pub fn fit_many_chord(
    x: ArrayView2<f32>,
    pool: &[usize],
    member: &[u32],
    y: &[bool],
    count: usize,
    params: &LogisticParams,
    start: &LogisticModel,
    hessian: &PoolHessian,
) -> Result<Vec<LogisticModel>> {
    if pool.len() != y.len()
        || pool.len() != member.len()
        || !(1..=GROUP).contains(&count)
        || start.coef.len() != x.ncols()
        || hessian.mean.len() != x.ncols()
        || pool.iter().any(|&r| r >= x.nrows())
    {
        return Err(NsfError::param(
            "data",
            "shadow fit: rows, labels, memberships and model differ in size",
        ));
    }
    let penalty = 1.0 / params.c;
    let mut fits: Vec<Fit> = joint_standardization(x, pool, member, count)
        .into_iter()
        .map(|(n, mean, scale)| Fit {
            h: hessian.preconditioner(n, &mean, &scale, penalty),
            beta: start.coefficients_on(&mean, &scale),
            mean,
            scale,
            done: None,
            stalled: false,
        })
        .collect();
    for it in 0..MAX_CHORD_ITER {
        let active = fits
            .iter()
            .enumerate()
            .filter(|(_, f)| f.done.is_none() && !f.stalled)
            .fold(0u32, |m, (k, _)| m | (1 << k));
        if active == 0 {
            break;
        }
        let (sr, srx) = joint_gradient(x, pool, member, y, active, &fits);
        let d = x.ncols();
        each_bit(active, |k| {
            fits[k].step(sr[k], &srx[k * d..(k + 1) * d], penalty, params.tol, it)
        });
    }
    fits.into_iter()
        .enumerate()
        .map(|(k, f)| match f.done {
            Some(m) => Ok(m),
            None => {
                let (rows, yk): (Vec<usize>, Vec<bool>) = (0..pool.len())
                    .filter(|&j| (member[j] >> k) & 1 == 1)
                    .map(|j| (pool[j], y[j]))
                    .unzip();
                fit_rows_from(x, &rows, &yk, None, params, Some(start))
            }
        })
        .collect()
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
            on_threads(t, || {
                let ph = pool_hessian(x.view(), &pool, &target);
                fit_rows_chord(x.view(), &rows, &y, &params, &target, &ph).unwrap()
            })
        };
        let a = with(1);
        assert_eq!(a, with(2));
        assert_eq!(a, with(8));
    }

    /// `f` on a pool of `t` threads.
    fn on_threads<T: Send>(t: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(f)
    }

    /// Random halves of a pool, one bit per shadow, as the audit draws them.
    fn memberships(n: usize, count: usize) -> Vec<u32> {
        (0..n)
            .map(|i| {
                (0..count).fold(0u32, |m, k| {
                    m | ((mix64((k * 7919 + i) as u64) as u32 & 1) << k)
                })
            })
            .collect()
    }

    #[test]
    fn joint_shadow_fits_equal_separate_fits() {
        let (x, y_all) = synthetic(90_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows())
            .rev()
            .step_by(2)
            .chain((0..x.nrows()).step_by(2))
            .collect();
        let yp: Vec<bool> = pool.iter().map(|&i| y_all[i]).collect();
        let target = fit_rows(x.view(), &pool, &yp, None, &params).unwrap();
        let ph = pool_hessian(x.view(), &pool, &target);
        let member = memberships(pool.len(), 5);
        let joint =
            fit_many_chord(x.view(), &pool, &member, &yp, 5, &params, &target, &ph).unwrap();
        for (k, m) in joint.iter().enumerate() {
            let (rows, y): (Vec<usize>, Vec<bool>) = (0..pool.len())
                .filter(|&j| (member[j] >> k) & 1 == 1)
                .map(|j| (pool[j], yp[j]))
                .unzip();
            let alone = fit_rows_chord(x.view(), &rows, &y, &params, &target, &ph).unwrap();
            let newton = fit_rows(x.view(), &rows, &y, None, &params).unwrap();
            assert!(m.iterations < MAX_CHORD_ITER);
            for ((a, b), c) in m
                .coef
                .iter()
                .chain([&m.intercept])
                .zip(alone.coef.iter().chain([&alone.intercept]))
                .zip(newton.coef.iter().chain([&newton.intercept]))
            {
                assert!((a - b).abs() < 1e-9, "shadow {k}: {a} joint vs {b} alone");
                assert!((a - c).abs() < 1e-6, "shadow {k}: {a} joint vs {c} Newton");
            }
            for (a, b) in m.mean.iter().zip(&newton.mean) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn joint_fits_are_identical_at_any_thread_count() {
        let (x, y_all) = synthetic(50_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows()).collect();
        let target = fit_rows(x.view(), &pool, &y_all, None, &params).unwrap();
        let member = memberships(pool.len(), GROUP);
        let with = |t: usize| {
            on_threads(t, || {
                let ph = pool_hessian(x.view(), &pool, &target);
                let (m, c) = (&member, GROUP);
                fit_many_chord(x.view(), &pool, m, &y_all, c, &params, &target, &ph).unwrap()
            })
        };
        let a = with(1);
        assert_eq!(a.len(), GROUP);
        assert_eq!(a, with(2));
        assert_eq!(a, with(8));
    }

    #[test]
    fn a_joint_fit_refuses_mismatched_inputs() {
        let (x, y_all) = synthetic(2_000);
        let params = LogisticParams::default();
        let pool: Vec<usize> = (0..x.nrows()).collect();
        let target = fit_rows(x.view(), &pool, &y_all, None, &params).unwrap();
        let ph = pool_hessian(x.view(), &pool, &target);
        let member = memberships(pool.len(), 3);
        let fit = |m: &[u32], c: usize| {
            fit_many_chord(x.view(), &pool, m, &y_all, c, &params, &target, &ph)
        };
        assert!(fit(&member[1..], 3).is_err());
        assert!(fit(&member, 0).is_err());
        assert!(fit(&member, GROUP + 1).is_err());
        assert_eq!(fit(&member, 3).unwrap().len(), 3);
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
