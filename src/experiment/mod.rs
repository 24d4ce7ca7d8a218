//! The minimization experiment: on the same held-out registered users, what
//! it costs to train the NSF score only on registered or consented users, or
//! on a minimal feature set, instead of on everyone. Replicates regenerate
//! the population; differences between arms come from a paired bootstrap on
//! the same test users.
//!
//! `spec` (specs, arms, checked once) → `cache` (replicate data sets) →
//! `replicate` (arms fitted, scored, bootstrapped) → `subgroups`, `curves`
//! → this file's summary across replicates → `sweep` (the consent grid) →
//! `record` (the run's manifest and lineage).

pub mod cache;
pub mod ceiling;
pub mod curves;
pub mod lawful;
pub mod own;
pub mod record;
pub(crate) mod replicate;
pub mod spec;
pub mod subgroups;
pub mod sweep;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics::Evaluation;

pub use curves::{CurvePoint, Enough, PowerLaw, fit_power_law, learning_curve_by_size};
pub use record::{record_run, run_manifest};
pub use spec::{Arm, EMBEDDED, ExperimentSpec, SweepSpec, ValidSpec, load_spec};
pub use subgroups::{SubgroupResult, SubgroupSummary};
pub use sweep::{SweepCell, run_sweep};

/// Metrics of one arm in one replicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ArmResult {
    /// Arm name.
    pub arm: String,
    /// Model family the arm's model is fitted with (`dp-logistic` for a
    /// `dp-all` arm, which runs in the `logistic` family's block).
    pub family: String,
    /// Registered model ID.
    pub model_id: String,
    /// Training members.
    pub training_members: u64,
    /// Metrics on the replicate's test users.
    pub evaluation: Evaluation,
    /// PSI of the score distribution against the `all` arm.
    pub psi_vs_all: f64,
    /// Share of test users refused grouping.
    pub refused_share: f64,
    /// Expected KRW lost to failed grouped charges per 1,000 test users.
    pub expected_loss_krw_per_1000: f64,
    /// 95% bootstrap interval of the AUC.
    pub auc_ci95: [f64; 2],
    /// AUC minus the `all` arm's, on the same users.
    pub auc_diff_vs_all: f64,
    /// 95% paired-bootstrap interval of that difference.
    pub auc_diff_ci95: [f64; 2],
    /// Expected-loss difference vs `all` (KRW per 1,000).
    pub loss_diff_vs_all: f64,
    /// 95% paired-bootstrap interval of that difference.
    pub loss_diff_ci95: [f64; 2],
    /// Net value under the policy: B × users grouped − expected loss (KRW
    /// per 1,000 test users).
    pub net_value_krw_per_1000: f64,
    /// The common refusal share: the share `all` (same family) refuses
    /// under the policy.
    pub equal_rate_refused_share: f64,
    /// Expected loss when the arm refuses exactly that share (its riskiest
    /// users), KRW per 1,000.
    pub loss_equal_rate_krw_per_1000: f64,
    /// Net value at the common refusal share (KRW per 1,000).
    pub net_value_equal_rate_krw_per_1000: f64,
    /// Loss at the common share minus `all`'s (KRW per 1,000), paired.
    pub loss_equal_rate_diff_vs_all: f64,
    /// 95% paired-bootstrap interval of that difference.
    pub loss_equal_rate_diff_ci95: [f64; 2],
    /// Calibration fit logit P(nsf) = intercept + slope · logit(p).
    pub calibration_intercept: f64,
    /// Its slope (1 = calibrated, < 1 over-confident).
    pub calibration_slope: f64,
    /// Cost curve: [share refused, expected loss KRW per 1,000].
    pub cost_curve: Vec<(f64, f64)>,
    /// Restricted arms: the selection part of the cost (vs the arm's
    /// size-matched arm; the size part is that arm's own difference to
    /// `all`).
    pub split: Option<SizeSplit>,
}

/// A restricted arm's cost beyond its size: the arm minus `all` retrained
/// on a random subsample of the arm's size, on the same test users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SizeSplit {
    /// The size-matched arm.
    pub size_matched_arm: String,
    /// AUC − AUC(size-matched): selection.
    pub selection_auc: f64,
    /// 95% paired-bootstrap interval.
    pub selection_auc_ci95: [f64; 2],
    /// Loss at the common refusal share − the size-matched arm's (KRW /
    /// 1,000): selection.
    pub selection_loss_equal_rate: f64,
    /// 95% paired-bootstrap interval.
    pub selection_loss_equal_rate_ci95: [f64; 2],
}

/// One replicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Replicate {
    /// Population seed.
    pub seed: u64,
    /// Data folder used.
    pub data: String,
    /// Test users (held-out registered).
    pub test_users: u64,
    /// NSF events among them.
    pub test_nsf: u64,
    /// Consent share in the population.
    pub consent_share: f64,
    /// Per family × arm results (family-major, arms in `ValidSpec::arms`
    /// order, `all` first within each family).
    pub arms: Vec<ArmResult>,
    /// Per family × subgroup results (who pays).
    pub subgroups: Vec<SubgroupResult>,
    /// Learning curves of `all` and `consented` per family (AUC by
    /// training size).
    pub learning_curve: Vec<CurvePoint>,
}

/// Across-replicate summary of one arm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ArmSummary {
    /// Arm name.
    pub arm: String,
    /// Model family the arm's model is fitted with (`dp-logistic` for a
    /// `dp-all` arm).
    pub family: String,
    /// Training members (mean per replicate).
    pub training_members: f64,
    /// AUC.
    pub auc: Interval,
    /// AUC − AUC(all), paired.
    pub auc_diff_vs_all: Interval,
    /// Gini.
    pub gini: Interval,
    /// KS.
    pub ks: Interval,
    /// Brier.
    pub brier: Interval,
    /// Log loss.
    pub log_loss: Interval,
    /// ECE.
    pub ece: Interval,
    /// PSI vs all.
    pub psi_vs_all: Interval,
    /// Share refused grouping.
    pub refused_share: Interval,
    /// Expected loss per 1,000 test users (KRW).
    pub expected_loss_krw_per_1000: Interval,
    /// Loss difference vs all (KRW per 1,000), paired.
    pub loss_diff_vs_all: Interval,
    /// Oracle AUC on the same users.
    pub oracle_auc: Interval,
    /// Net value under the policy (KRW per 1,000).
    pub net_value_krw_per_1000: Interval,
    /// The common refusal share (`all`'s under the policy).
    pub equal_rate_refused_share: Interval,
    /// Expected loss at the common refusal share (KRW per 1,000).
    pub loss_equal_rate_krw_per_1000: Interval,
    /// Its difference to `all`, paired.
    pub loss_equal_rate_diff_vs_all: Interval,
    /// Net value at the common refusal share (KRW per 1,000).
    pub net_value_equal_rate_krw_per_1000: Interval,
    /// Calibration intercept.
    pub calibration_intercept: Interval,
    /// Calibration slope.
    pub calibration_slope: Interval,
    /// Mean cost curve across replicates: [share refused, KRW per 1,000].
    pub cost_curve: Vec<(f64, f64)>,
    /// Restricted arms: the cost split into size and selection.
    pub split: Option<SplitSummary>,
}

/// A restricted arm's cost vs `all`, split: size (size-matched `all` −
/// `all`) + selection (arm − size-matched `all`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SplitSummary {
    /// The size-matched arm.
    pub size_matched_arm: String,
    /// Size part, AUC.
    pub size_auc: Interval,
    /// Selection part, AUC.
    pub selection_auc: Interval,
    /// Size part, loss at the common refusal share (KRW per 1,000).
    pub size_loss_equal_rate: Interval,
    /// Selection part, loss at the common refusal share (KRW per 1,000).
    pub selection_loss_equal_rate: Interval,
}

/// `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ExperimentResult {
    /// Always "experiment".
    pub kind: String,
    /// nsfsim version.
    pub nsfsim_version: String,
    /// The resolved spec.
    pub spec: ExperimentSpec,
    /// Per replicate, per arm.
    pub replicates: Vec<Replicate>,
    /// Across replicates, per arm.
    pub summary: Vec<ArmSummary>,
    /// Across replicates, per subgroup: AUC difference of each arm vs `all`.
    pub subgroups: Vec<SubgroupSummary>,
    /// Power-law fits of the mean learning curves (per family and arm).
    pub learning_curve_fits: Vec<PowerLaw>,
    /// Per family: consented training users enough to come within the
    /// tolerance of `all`, per replicate and across replicates.
    pub enough: Vec<curves::Enough>,
    /// The tolerance used (AUC units).
    pub tolerance: f64,
    /// The consent sweep (empty unless the spec has `[sweep]`).
    pub sweep: Vec<SweepCell>,
    /// Per family: `all`'s scores on both 0–100 scales, the policy under
    /// each, and the grade bands.
    #[serde(default)]
    pub score_scales: Vec<crate::stats::scale::ScaleSummary>,
    /// The truth lines: oracle and attributes-only ceiling.
    #[serde(default)]
    pub ceiling: Option<ceiling::CeilingSummary>,
    /// A run on your own table (`compare --data`): the file, its column
    /// table and every choice; absent for simulated runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_data: Option<own::OwnDataRecord>,
    /// Lawful alternatives (`dp-all` arms): the membership audit at each ε
    /// and the score computed at the wallet; absent without `dp-all` arms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lawful: Option<lawful::LawfulSummary>,
}

/// Test-set predictions of one replicate, for plots and exported
/// predictions.
pub struct PlotData {
    /// Population seed of the replicate.
    pub seed: u64,
    /// `user_id` of each test user.
    pub user_id: Vec<u64>,
    /// Per family × arm (every arm, size-matched ones included).
    pub arms: Vec<PlotArm>,
    /// NSF outcome of each test user.
    pub labels: Vec<bool>,
    /// True P(nsf) (`nsf_prob`) of each test user.
    pub truth: Vec<f64>,
    /// The attributes-only ceiling's P(nsf) of each test user.
    pub ceiling: Vec<f64>,
}

/// One arm's P(nsf) of each test user.
pub struct PlotArm {
    /// Model family.
    pub family: String,
    /// Arm name.
    pub arm: String,
    /// A size-matched arm (`all-size-of-<rule>`), left out of the plots.
    pub size_matched: bool,
    /// P(nsf) per test user.
    pub probs: Vec<f64>,
}

/// Where an experiment's data come from.
pub enum Source<'a> {
    /// Populations generated (and cached under this folder) per replicate.
    Simulated(&'a Path),
    /// A table of your own: replicates are seeded held-out test sets.
    Table(&'a own::OwnData),
}

/// Runs the experiment on simulated populations; models go to `registry`,
/// data sets are cached under `data_root`. `progress` receives one line per
/// step. Returns the result and each replicate's test-set predictions.
pub fn run(
    spec: &ValidSpec,
    registry: &Path,
    data_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, Vec<PlotData>)> {
    run_from(spec, registry, &Source::Simulated(data_root), progress)
}

/// Runs the experiment on `source` (see [`run`]).
pub fn run_from(
    spec: &ValidSpec,
    registry: &Path,
    source: &Source,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, Vec<PlotData>)> {
    let mut replicates = Vec::new();
    let mut plot_data = Vec::new();
    for r in 0..spec.replicates {
        let seed = spec.seed + r as u64;
        progress(&format!(
            "replicate {}/{}: seed {seed}",
            r + 1,
            spec.replicates
        ));
        let data = match source {
            Source::Simulated(root) => replicate::ReplicateData::load(spec, root, seed)?,
            Source::Table(own) => own.replicate_data(spec, seed)?,
        };
        let (replicate, plot) = replicate::run_replicate(spec, registry, data, progress)?;
        plot_data.push(plot);
        replicates.push(replicate);
    }
    if let Source::Table(_) = source {
        own::without_ground_truth(&mut replicates);
    }
    let summary = summarize_arms(spec, &replicates);
    let families: Vec<&str> = spec.families().iter().map(|f| f.name()).collect();
    let subgroups = subgroups::summarize(
        &replicates,
        spec.arms().len(),
        &families,
        spec.min_subgroup_nsf,
    );
    let fits = curves::fit_mean_curves(&replicates, &families);
    let tolerance = spec.enough_tolerance;
    let enough = families
        .iter()
        .filter(|_| spec.learning_curves)
        .map(|f| curves::enough(&replicates, &summary, f, tolerance))
        .collect();
    let truth = ceiling::summarize(spec, &plot_data, &summary);
    Ok((
        ExperimentResult {
            kind: "experiment".into(),
            nsfsim_version: env!("CARGO_PKG_VERSION").into(),
            spec: spec.spec().clone(),
            replicates,
            summary,
            subgroups,
            learning_curve_fits: fits,
            enough,
            tolerance,
            sweep: Vec::new(),
            score_scales: ceiling::scale_summaries(spec, &plot_data),
            ceiling: truth,
            own_data: match source {
                Source::Table(own) => Some(own.record.clone()),
                Source::Simulated(_) => None,
            },
            lawful: None,
        },
        plot_data,
    ))
}

/// Across replicates, per family × arm: mean and 95% interval of every
/// figure (the paired bootstrap's interval when there is one replicate).
fn summarize_arms(spec: &ValidSpec, replicates: &[Replicate]) -> Vec<ArmSummary> {
    let n_arms = spec.arms().len();
    let mut out = Vec::new();
    for f in 0..spec.families().len() {
        for k in 0..n_arms {
            out.push(summarize_arm(spec, replicates, f * n_arms, k));
        }
    }
    out
}

/// Arm `k` of the family whose arms start at `base` in every replicate.
fn summarize_arm(spec: &ValidSpec, replicates: &[Replicate], base: usize, k: usize) -> ArmSummary {
    let at = |r: &Replicate, j: usize| r.arms[base + j].clone();
    let col = |j: usize, f: &dyn Fn(&ArmResult) -> f64| {
        replicates
            .iter()
            .map(|r| f(&at(r, j)))
            .collect::<Vec<f64>>()
    };
    let single = |j: usize, f: &dyn Fn(&ArmResult) -> [f64; 2]| {
        (replicates.len() == 1).then(|| f(&at(&replicates[0], j)))
    };
    let iv = |f: &dyn Fn(&ArmResult) -> f64| interval(&col(k, f), None);
    let first = at(&replicates[0], k);
    let split = spec.size_matched_of(k).map(|m| SplitSummary {
        size_matched_arm: spec.arms()[m].name.clone(),
        size_auc: interval(
            &col(m, &|a| a.auc_diff_vs_all),
            single(m, &|a| a.auc_diff_ci95),
        ),
        selection_auc: interval(
            &col(k, &|a| {
                a.split.as_ref().map_or(f64::NAN, |s| s.selection_auc)
            }),
            single(k, &|a| {
                a.split
                    .as_ref()
                    .map_or([f64::NAN; 2], |s| s.selection_auc_ci95)
            }),
        ),
        size_loss_equal_rate: interval(
            &col(m, &|a| a.loss_equal_rate_diff_vs_all),
            single(m, &|a| a.loss_equal_rate_diff_ci95),
        ),
        selection_loss_equal_rate: interval(
            &col(k, &|a| {
                a.split
                    .as_ref()
                    .map_or(f64::NAN, |s| s.selection_loss_equal_rate)
            }),
            single(k, &|a| {
                a.split
                    .as_ref()
                    .map_or([f64::NAN; 2], |s| s.selection_loss_equal_rate_ci95)
            }),
        ),
    });
    let cost_curve = first
        .cost_curve
        .iter()
        .enumerate()
        .map(|(i, &(share, _))| (share, interval(&col(k, &|a| a.cost_curve[i].1), None).mean))
        .collect();
    ArmSummary {
        arm: first.arm.clone(),
        family: first.family.clone(),
        training_members: iv(&|a| a.training_members as f64).mean,
        auc: interval(&col(k, &|a| a.evaluation.auc), single(k, &|a| a.auc_ci95)),
        auc_diff_vs_all: interval(
            &col(k, &|a| a.auc_diff_vs_all),
            single(k, &|a| a.auc_diff_ci95),
        ),
        gini: iv(&|a| a.evaluation.gini),
        ks: iv(&|a| a.evaluation.ks),
        brier: iv(&|a| a.evaluation.brier),
        log_loss: iv(&|a| a.evaluation.log_loss),
        ece: iv(&|a| a.evaluation.ece),
        psi_vs_all: iv(&|a| a.psi_vs_all),
        refused_share: iv(&|a| a.refused_share),
        expected_loss_krw_per_1000: iv(&|a| a.expected_loss_krw_per_1000),
        loss_diff_vs_all: interval(
            &col(k, &|a| a.loss_diff_vs_all),
            single(k, &|a| a.loss_diff_ci95),
        ),
        oracle_auc: iv(&|a| a.evaluation.oracle_auc),
        net_value_krw_per_1000: iv(&|a| a.net_value_krw_per_1000),
        equal_rate_refused_share: iv(&|a| a.equal_rate_refused_share),
        loss_equal_rate_krw_per_1000: iv(&|a| a.loss_equal_rate_krw_per_1000),
        loss_equal_rate_diff_vs_all: interval(
            &col(k, &|a| a.loss_equal_rate_diff_vs_all),
            single(k, &|a| a.loss_equal_rate_diff_ci95),
        ),
        net_value_equal_rate_krw_per_1000: iv(&|a| a.net_value_equal_rate_krw_per_1000),
        calibration_intercept: iv(&|a| a.calibration_intercept),
        calibration_slope: iv(&|a| a.calibration_slope),
        cost_curve,
        split,
    }
}
