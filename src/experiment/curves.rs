//! Learning curves: AUC by training size for `all` and `consented`, their
//! mean across replicates and a power-law fit AUC(n) = a − b·n^(−c).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::experiment::Replicate;
use crate::experiment::replicate::ReplicateData;
use crate::models::ValidModelSpec;
use crate::models::train::{self, PopulationRule};
use crate::stats::metrics;

/// One point of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    /// `all` or `consented`.
    pub arm: String,
    /// Training users (the first n of the arm's members).
    pub training_users: u64,
    /// AUC on the test users.
    pub auc: f64,
}

/// A power-law fit AUC(n) = a − b·n^(−c) of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PowerLaw {
    /// Arm.
    pub arm: String,
    /// Asymptote.
    pub a: f64,
    /// Scale.
    pub b: f64,
    /// Exponent.
    pub c: f64,
    /// Root-mean-square error of the fit (AUC units).
    pub rmse: f64,
}

/// Fits AUC(n) = a − b·n^(−c) by least squares over a grid of c.
pub fn fit_power_law(arm: &str, points: &[(f64, f64)]) -> Option<PowerLaw> {
    if points.len() < 3 {
        return None;
    }
    let mut best: Option<PowerLaw> = None;
    for k in 1..=400 {
        let c = k as f64 * 0.005;
        // Linear least squares of auc on t = n^(-c): auc = a - b t.
        let t: Vec<f64> = points.iter().map(|p| p.0.powf(-c)).collect();
        let n = points.len() as f64;
        let (mt, my) = (
            t.iter().sum::<f64>() / n,
            points.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxx: f64 = t.iter().map(|v| (v - mt).powi(2)).sum();
        if sxx <= 0.0 {
            continue;
        }
        let sxy: f64 = t
            .iter()
            .zip(points)
            .map(|(v, p)| (v - mt) * (p.1 - my))
            .sum();
        let slope = sxy / sxx;
        let (a, b) = (my - slope * mt, -slope);
        let rmse = (t
            .iter()
            .zip(points)
            .map(|(v, p)| (a - b * v - p.1).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        if best.as_ref().is_none_or(|x| rmse < x.rmse) {
            best = Some(PowerLaw {
                arm: arm.into(),
                a,
                b,
                c,
                rmse,
            });
        }
    }
    best
}

impl PowerLaw {
    /// Training size at which the fitted curve reaches `target`, if ever.
    pub fn size_for(&self, target: f64) -> Option<f64> {
        (self.a > target && self.b > 0.0).then(|| (self.b / (self.a - target)).powf(1.0 / self.c))
    }
}

/// The learning curve of `arm`: for each training size of the first
/// replicate, the AUCs of every replicate that has that size.
pub fn learning_curve_by_size(replicates: &[Replicate], arm: &str) -> Vec<(u64, Vec<f64>)> {
    let Some(first) = replicates.first() else {
        return Vec::new();
    };
    first
        .learning_curve
        .iter()
        .filter(|p| p.arm == arm)
        .map(|p| {
            let aucs = replicates
                .iter()
                .filter_map(|r| {
                    r.learning_curve
                        .iter()
                        .find(|q| q.arm == arm && q.training_users == p.training_users)
                })
                .map(|q| q.auc)
                .collect();
            (p.training_users, aucs)
        })
        .collect()
}

/// Training sizes of the learning curves: a fixed 1-2-5 grid from 1,000
/// (the same in every replicate, so curves average point by point), capped
/// at `max`.
pub fn learning_sizes(max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [1usize, 2, 5]
        .iter()
        .cycle()
        .zip((3..9).flat_map(|e| [e, e, e]))
        .map(|(m, e)| m * 10usize.pow(e as u32))
        .filter(|&n| n <= max)
        .collect();
    v.sort_unstable();
    if v.is_empty() {
        v.push(max);
    }
    v
}

/// The learning curves of one replicate: the first n members (users are
/// i.i.d.) of `all` and `consented`, on a 1-2-5 grid of n, full features.
pub(crate) fn learning_curve(
    r: &ReplicateData,
    model: &ValidModelSpec,
    full: &[String],
) -> Result<Vec<CurvePoint>> {
    let data = &r.data;
    let test_design = data.design.select_rows(&r.test);
    let mut out = Vec::new();
    for rule in [PopulationRule::All, PopulationRule::Consented] {
        let members: Vec<usize> = r
            .eligible
            .iter()
            .copied()
            .filter(|&i| data.in_population(rule, i))
            .collect();
        for n_train in learning_sizes(members.len()) {
            // A sample with one class only has no model: no point.
            let positives = members[..n_train].iter().filter(|&&i| data.nsf[i]).count();
            if positives == 0 || positives == n_train {
                continue;
            }
            let (stored, _) = train::fit_model(
                &data.design,
                full,
                &members[..n_train],
                &data.nsf,
                None,
                model,
                r.seed,
            )?;
            let p = stored.predict(&test_design)?;
            out.push(CurvePoint {
                arm: rule.as_str().into(),
                training_users: n_train as u64,
                auc: metrics::auc(&p, &r.labels),
            });
        }
    }
    Ok(out)
}

/// Power-law fits of the mean learning curves of `all` and `consented`.
pub fn fit_mean_curves(replicates: &[Replicate]) -> Vec<PowerLaw> {
    let mean_curve = |arm: &str| -> Vec<(f64, f64)> {
        learning_curve_by_size(replicates, arm)
            .into_iter()
            .map(|(n, v)| (n as f64, v.iter().sum::<f64>() / v.len() as f64))
            .collect()
    };
    ["all", "consented"]
        .iter()
        .filter_map(|a| fit_power_law(a, &mean_curve(a)))
        .collect()
}
