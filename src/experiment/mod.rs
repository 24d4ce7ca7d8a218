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
pub mod curves;
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

pub use curves::{CurvePoint, PowerLaw, fit_power_law, learning_curve_by_size};
pub use record::{record_run, run_manifest};
pub use spec::{Arm, EMBEDDED, ExperimentSpec, SweepSpec, ValidSpec, load_spec};
pub use subgroups::{SubgroupResult, SubgroupSummary};
pub use sweep::{SweepCell, run_sweep};

/// Metrics of one arm in one replicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArmResult {
    /// Arm name.
    pub arm: String,
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
}

/// One replicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Replicate {
    /// Population seed.
    pub seed: u64,
    /// Data folder used.
    pub data: String,
    /// Test users (held-out registered).
    pub test_users: u64,
    /// Consent share in the population.
    pub consent_share: f64,
    /// Per-arm results.
    pub arms: Vec<ArmResult>,
    /// Per-subgroup results (who pays).
    pub subgroups: Vec<SubgroupResult>,
    /// Learning curves of `all` and `consented` (AUC by training size).
    pub learning_curve: Vec<CurvePoint>,
}

/// Across-replicate summary of one arm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArmSummary {
    /// Arm name.
    pub arm: String,
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
}

/// `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Power-law fits of the mean learning curves.
    pub learning_curve_fits: Vec<PowerLaw>,
    /// Consented training users needed to come within `tolerance` AUC of
    /// the `all` arm trained on everyone (from the fitted curve; null when
    /// the curve never gets there).
    pub consented_users_enough: Option<f64>,
    /// The tolerance used (AUC units).
    pub tolerance: f64,
    /// The consent sweep (empty unless the spec has `[sweep]`).
    pub sweep: Vec<SweepCell>,
}

/// Test-set predictions of the first replicate, for plots.
pub struct PlotData {
    /// Per arm: name and P(nsf) of each test user.
    pub arms: Vec<(String, Vec<f64>)>,
    /// NSF outcome of each test user.
    pub labels: Vec<bool>,
}

/// Runs the experiment; models go to `registry`, data sets are cached under
/// `data_root`. `progress` receives one line per step.
pub fn run(
    spec: &ValidSpec,
    registry: &Path,
    data_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, PlotData)> {
    let mut replicates = Vec::new();
    let mut plot_data = None;
    for r in 0..spec.replicates {
        let seed = spec.seed + r as u64;
        progress(&format!(
            "replicate {}/{}: population seed {seed}",
            r + 1,
            spec.replicates
        ));
        let (replicate, plot) =
            replicate::run_replicate(spec, registry, data_root, seed, progress)?;
        plot_data.get_or_insert(plot);
        replicates.push(replicate);
    }
    let summary = summarize_arms(spec, &replicates);
    let subgroups = subgroups::summarize(&replicates, spec.arms().len());
    let fits = curves::fit_mean_curves(&replicates);
    let tolerance = 0.005;
    let all_full = summary
        .first()
        .map_or(f64::NAN, |a: &ArmSummary| a.auc.mean);
    let enough = fits
        .iter()
        .find(|f| f.arm == "consented")
        .and_then(|f| f.size_for(all_full - tolerance));
    Ok((
        ExperimentResult {
            kind: "experiment".into(),
            nsfsim_version: env!("CARGO_PKG_VERSION").into(),
            spec: spec.spec().clone(),
            replicates,
            summary,
            subgroups,
            learning_curve_fits: fits,
            consented_users_enough: enough,
            tolerance,
            sweep: Vec::new(),
        },
        plot_data.expect("at least one replicate"),
    ))
}

/// Across replicates, per arm: mean and 95% interval of every figure
/// (the paired bootstrap's interval when there is one replicate).
fn summarize_arms(spec: &ValidSpec, replicates: &[Replicate]) -> Vec<ArmSummary> {
    spec.arms()
        .iter()
        .enumerate()
        .map(|(k, arm)| {
            let col = |f: &dyn Fn(&ArmResult) -> f64| {
                replicates
                    .iter()
                    .map(|r| f(&r.arms[k]))
                    .collect::<Vec<f64>>()
            };
            let single = |f: &dyn Fn(&ArmResult) -> [f64; 2]| {
                (replicates.len() == 1).then(|| f(&replicates[0].arms[k]))
            };
            ArmSummary {
                arm: arm.name.clone(),
                auc: interval(&col(&|a| a.evaluation.auc), single(&|a| a.auc_ci95)),
                auc_diff_vs_all: interval(
                    &col(&|a| a.auc_diff_vs_all),
                    single(&|a| a.auc_diff_ci95),
                ),
                gini: interval(&col(&|a| a.evaluation.gini), None),
                ks: interval(&col(&|a| a.evaluation.ks), None),
                brier: interval(&col(&|a| a.evaluation.brier), None),
                log_loss: interval(&col(&|a| a.evaluation.log_loss), None),
                ece: interval(&col(&|a| a.evaluation.ece), None),
                psi_vs_all: interval(&col(&|a| a.psi_vs_all), None),
                refused_share: interval(&col(&|a| a.refused_share), None),
                expected_loss_krw_per_1000: interval(&col(&|a| a.expected_loss_krw_per_1000), None),
                loss_diff_vs_all: interval(
                    &col(&|a| a.loss_diff_vs_all),
                    single(&|a| a.loss_diff_ci95),
                ),
                oracle_auc: interval(&col(&|a| a.evaluation.oracle_auc), None),
            }
        })
        .collect()
}
