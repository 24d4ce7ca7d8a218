//! The truth lines every report stands on: the oracle (AUC of `nsf_prob`,
//! the replayed probability of failing) with its noise, and the
//! attributes-only ceiling: gradient-boosted trees fitted on `nsf_prob` as a
//! soft label from the full attribute set, i.e. (nearly) the best any model
//! of these attributes can do. The oracle sees the pre-window state the
//! attributes only partly reveal, so the ceiling sits below it; an arm's gap
//! to the ceiling is what better modelling could still win.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::experiment::spec::ValidSpec;
use crate::experiment::{ArmSummary, PlotData};
use crate::models::family::ScoreModel;
use crate::models::gbdt::{GbdtParams, fit_soft};
use crate::models::train::LoadedData;
use crate::sim::rng::keyed_subsample;
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics::auc;
use crate::stats::scale::{ScaleSummary, summarize as scale_summary};

/// The oracle's AUC noise by replay paths: the gap of its AUC to the
/// 64-path value, measured on the first 200,000 users of `default`
/// (revision 3, README "nsf_prob"). Fewer than 4 paths were not measured.
const ORACLE_NOISE: [(u32, f64); 4] = [(4, 0.0147), (8, 0.0028), (16, 0.0007), (32, 0.0001)];

/// The oracle's AUC noise at `paths` replay paths (None below 4: not
/// measured, larger than 0.015).
pub fn oracle_noise(paths: u32) -> Option<f64> {
    ORACLE_NOISE
        .iter()
        .rev()
        .find(|(p, _)| paths >= *p)
        .map(|(_, n)| *n)
}

/// The truth lines of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CeilingSummary {
    /// Replay paths behind `nsf_prob` (`outcome.prob_paths`).
    pub prob_paths: u32,
    /// AUC of `nsf_prob` on the test users.
    pub oracle_auc: Interval,
    /// The oracle AUC's noise from the finite replays (gap to 64 paths,
    /// measured; None when not measured for this many paths).
    pub oracle_noise_auc: Option<f64>,
    /// AUC of the attributes-only ceiling (gbdt on `nsf_prob`) on the same
    /// users.
    pub ceiling_auc: Interval,
    /// The smallest |ΔAUC| the report calls significant (None when it
    /// calls none).
    pub smallest_significant_auc_diff: Option<f64>,
}

/// The most users the ceiling is fitted on. A soft-label tree on 35
/// attributes has converged long before this (README "Truth lines"), and
/// gbdt copies its training rows into a column-major `f64` matrix: on the
/// case's 32 M eligible users that copy alone is 9 GB, which took the case
/// `compare` past the machine's 24 GiB (killed on 2026-12-03).
pub const CEILING_MAX_USERS: usize = 1_000_000;

/// The ceiling's P(nsf) of the test users: default gbdt fitted with
/// `nsf_prob` as the label on the eligible (not held-out) users, or on a
/// seeded random subsample of `CEILING_MAX_USERS` of them.
pub fn fit_ceiling(
    data: &LoadedData,
    eligible: &[usize],
    test: &[usize],
    seed: u64,
) -> Result<Vec<f64>> {
    let rows = ceiling_rows(&data.user_id, eligible, seed, CEILING_MAX_USERS);
    let target: Vec<f64> = rows
        .iter()
        .map(|&i| data.nsf_prob[i].clamp(0.0, 1.0))
        .collect();
    let booster = fit_soft(
        data.design.x.view(),
        &rows,
        &target,
        &GbdtParams::default(),
        seed,
    )?;
    booster.predict_proba(data.design.select_rows(test).x.view())
}

/// `eligible` itself when it has at most `max` users, else `max` of them
/// (`sim::rng::keyed_subsample`, with the ceiling's own key), in row order.
fn ceiling_rows(user_id: &[u64], eligible: &[usize], seed: u64, max: usize) -> Vec<usize> {
    keyed_subsample(user_id, eligible, max, seed ^ 0xCE11_1A6E, 9)
}

/// The truth lines across replicates (None when the ceiling was not fitted:
/// sweep cells).
pub fn summarize(
    spec: &ValidSpec,
    d: &[PlotData],
    summary: &[ArmSummary],
) -> Option<CeilingSummary> {
    if d.is_empty() || d.iter().any(|p| p.ceiling.is_empty()) {
        return None;
    }
    let oracle: Vec<f64> = d.iter().map(|p| auc(&p.truth, &p.labels)).collect();
    let ceiling: Vec<f64> = d.iter().map(|p| auc(&p.ceiling, &p.labels)).collect();
    let s = spec.spec();
    let paths = crate::sim::preset::load(&s.preset, &s.preset_overrides)
        .map_or(0, |p| p.outcome.prob_paths);
    Some(CeilingSummary {
        prob_paths: paths,
        oracle_auc: interval(&oracle, None),
        oracle_noise_auc: oracle_noise(paths),
        ceiling_auc: interval(&ceiling, None),
        smallest_significant_auc_diff: smallest_significant(summary),
    })
}

/// The smallest |ΔAUC vs all| whose 95% interval excludes 0.
fn smallest_significant(summary: &[ArmSummary]) -> Option<f64> {
    summary
        .iter()
        .map(|a| &a.auc_diff_vs_all)
        .filter(|i| i.ci95[1] < 0.0 || i.ci95[0] > 0.0)
        .map(|i| i.mean.abs())
        .reduce(f64::min)
}

/// Per family: `all`'s test-user predictions pooled over the replicates,
/// on both scales.
pub fn scale_summaries(spec: &ValidSpec, d: &[PlotData]) -> Vec<ScaleSummary> {
    spec.families()
        .iter()
        .map(|f| {
            let (mut p, mut y, mut t) = (Vec::new(), Vec::new(), Vec::new());
            for rep in d {
                if let Some(a) = rep
                    .arms
                    .iter()
                    .find(|a| a.family == f.name() && a.arm == "all")
                {
                    p.extend_from_slice(&a.probs);
                    y.extend_from_slice(&rep.labels);
                    t.extend_from_slice(&rep.truth);
                }
            }
            scale_summary(f.name(), &p, &y, &t, &spec.policy, spec.score_scale)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_is_fitted_on_a_bounded_seeded_subsample() {
        let ids: Vec<u64> = (0..5_000).map(|i| 1_000_003 * i + 17).collect();
        let eligible: Vec<usize> = (0..5_000).filter(|i| i % 3 != 0).collect();
        assert_eq!(ceiling_rows(&ids, &eligible, 7, 10_000), eligible);
        let a = ceiling_rows(&ids, &eligible, 7, 1_000);
        assert_eq!(a.len(), 1_000);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "row order, no repeats");
        assert!(a.iter().all(|i| i % 3 != 0), "only eligible users");
        assert_eq!(a, ceiling_rows(&ids, &eligible, 7, 1_000), "deterministic");
        assert_ne!(a, ceiling_rows(&ids, &eligible, 8, 1_000), "seeded");
        // Not the first 1,000 eligible rows: spread over the whole range.
        assert!(*a.last().unwrap() > 4_000 && a[0] < 1_000);
    }
}
