//! Learning curves: AUC by training size for `all` and `consented`, their
//! mean across replicates and a power-law fit AUC(n) = a − b·n^(−c).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::experiment::replicate::ReplicateData;
use crate::experiment::{ArmSummary, Replicate};
use crate::models::ValidModelSpec;
use crate::models::train::{self, PopulationRule};
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics;

/// One point of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CurvePoint {
    /// Model family.
    #[serde(default)]
    pub family: String,
    /// `all` or `consented`.
    pub arm: String,
    /// Training users (the first n of the arm's members).
    pub training_users: u64,
    /// AUC on the test users.
    pub auc: f64,
}

/// A power-law fit AUC(n) = a − b·n^(−c) of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PowerLaw {
    /// Model family.
    #[serde(default)]
    pub family: String,
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
                family: String::new(),
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

/// The learning curve of `family`'s `arm`: for each training size of the
/// first replicate, the AUCs of every replicate that has that size.
pub fn learning_curve_by_size(
    replicates: &[Replicate],
    family: &str,
    arm: &str,
) -> Vec<(u64, Vec<f64>)> {
    let Some(first) = replicates.first() else {
        return Vec::new();
    };
    first
        .learning_curve
        .iter()
        .filter(|p| p.arm == arm && p.family == family)
        .map(|p| {
            let aucs = replicates
                .iter()
                .filter_map(|r| {
                    r.learning_curve.iter().find(|q| {
                        q.arm == arm && q.family == family && q.training_users == p.training_users
                    })
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
                family: model.name().into(),
                arm: rule.as_str().into(),
                training_users: n_train as u64,
                auc: metrics::auc(&p, &r.labels),
            });
        }
    }
    Ok(out)
}

/// Power-law fits of the mean learning curves of `all` and `consented`,
/// per family.
pub fn fit_mean_curves(replicates: &[Replicate], families: &[&str]) -> Vec<PowerLaw> {
    let mut out = Vec::new();
    for f in families {
        for arm in ["all", "consented"] {
            let pts: Vec<(f64, f64)> = learning_curve_by_size(replicates, f, arm)
                .into_iter()
                .map(|(n, v)| (n as f64, v.iter().sum::<f64>() / v.len() as f64))
                .collect();
            if let Some(mut fit) = fit_power_law(arm, &pts) {
                fit.family = f.to_string();
                out.push(fit);
            }
        }
    }
    out
}

/// "Enough" consented users, per family: in each replicate the `all` and
/// `consented` curves are fitted separately (each with its own asymptote)
/// and the consented fit is solved for the AUC of `all` trained on every
/// user minus the tolerance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Enough {
    /// Model family.
    pub family: String,
    /// Tolerance (AUC).
    pub tolerance: f64,
    /// The measured selection cost of `consented` (AUC, consented minus
    /// its size-matched arm; null without size-matched arms).
    pub selection_cost_auc: Option<f64>,
    /// Tolerance / |selection cost| (null without a selection cost).
    pub tolerance_over_selection_cost: Option<f64>,
    /// Per replicate: consented users enough (null: the fitted curve never
    /// comes within the tolerance).
    pub per_replicate: Vec<Option<f64>>,
    /// Per replicate: the fits of `all` and `consented`.
    pub fits: Vec<PowerLaw>,
    /// Replicates whose consented curve never comes within the tolerance.
    pub never_within: u32,
    /// Geometric mean and 95% interval (Student t on log10 users) across
    /// replicates; null when some replicate never comes within the
    /// tolerance or there is one replicate.
    pub users: Option<Interval>,
}

/// The [`Enough`] figure of `family`.
pub fn enough(
    replicates: &[Replicate],
    summary: &[ArmSummary],
    family: &str,
    tolerance: f64,
) -> Enough {
    let mut fits = Vec::new();
    let mut per_replicate = Vec::new();
    for r in replicates {
        let fit = |arm: &str| {
            let pts: Vec<(f64, f64)> = r
                .learning_curve
                .iter()
                .filter(|p| p.family == family && p.arm == arm)
                .map(|p| (p.training_users as f64, p.auc))
                .collect();
            fit_power_law(arm, &pts).map(|mut f| {
                f.family = family.into();
                f
            })
        };
        let full = r
            .arms
            .iter()
            .find(|a| a.family == family && a.arm == "all")
            .map(|a| a.evaluation.auc);
        let (fa, fc) = (fit("all"), fit("consented"));
        per_replicate.push(match (&fc, full) {
            (Some(c), Some(full)) => c.size_for(full - tolerance),
            _ => None,
        });
        fits.extend(fa.into_iter().chain(fc));
    }
    let selection_cost_auc = summary
        .iter()
        .find(|a| a.family == family && a.arm == "consented")
        .and_then(|a| a.split.as_ref())
        .map(|s| s.selection_auc.mean);
    let never_within = per_replicate.iter().filter(|v| v.is_none()).count() as u32;
    let users = (never_within == 0 && per_replicate.len() > 1).then(|| {
        let logs: Vec<f64> = per_replicate.iter().flatten().map(|v| v.log10()).collect();
        let i = interval(&logs, None);
        Interval {
            mean: 10f64.powf(i.mean),
            ci95: [10f64.powf(i.ci95[0]), 10f64.powf(i.ci95[1])],
        }
    });
    Enough {
        family: family.into(),
        tolerance,
        selection_cost_auc,
        tolerance_over_selection_cost: selection_cost_auc
            .filter(|c| *c != 0.0)
            .map(|c| tolerance / c.abs()),
        per_replicate,
        fits,
        never_within,
        users,
    }
}
