//! Lawful alternatives on the same target (issue 20): the `dp-all` arms (a
//! differentially private logistic regression trained on everyone, one arm
//! per ε), and what `report::lawful` adds to `metrics.json` about them: the
//! membership audit at each ε beside its theoretical bound, and the score
//! computed at the wallet.

use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::experiment::spec::Arm;
use crate::models::dp_logistic::DpLogisticParams;
use crate::models::train::PopulationRule;
use crate::models::{ModelSpec, ValidModelSpec};
use crate::stats::interval::Interval;

/// The ε of the `dp-all` arms when the spec has no `[lawful]` table.
pub const DEFAULT_EPSILONS: [f64; 6] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0];

/// The `[lawful]` table of an experiment spec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LawfulSpec {
    /// ε of the `dp-all` arms (pure ε-DP, δ = 0), one arm each.
    #[serde(default = "default_epsilons")]
    pub epsilons: Vec<f64>,
    /// Members and as many non-members attacked per ε. The audit runs on
    /// the first replicate only: the DP bound holds for each model, so one
    /// replicate's models test it, and auditing every replicate would
    /// multiply the audit's cost by the replicates.
    #[serde(default = "default_audit_users")]
    pub audit_users: usize,
    /// LiRA shadow models per ε.
    #[serde(default = "default_audit_shadows")]
    pub audit_shadows: usize,
}

fn default_epsilons() -> Vec<f64> {
    DEFAULT_EPSILONS.to_vec()
}

fn default_audit_users() -> usize {
    10_000
}

fn default_audit_shadows() -> usize {
    16
}

impl Default for LawfulSpec {
    fn default() -> Self {
        LawfulSpec {
            epsilons: default_epsilons(),
            audit_users: default_audit_users(),
            audit_shadows: default_audit_shadows(),
        }
    }
}

impl LawfulSpec {
    /// Validates the table once.
    pub fn check(&self) -> Result<()> {
        if self.epsilons.is_empty() {
            return Err(NsfError::param("lawful.epsilons", "name at least one ε"));
        }
        if let Some(e) = self.epsilons.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
            return Err(NsfError::param(
                "lawful.epsilons",
                format!("{e} is not a positive finite ε"),
            ));
        }
        if self.audit_users < 100 {
            return Err(NsfError::param("lawful.audit_users", "use at least 100"));
        }
        if self.audit_shadows < 4 {
            return Err(NsfError::param("lawful.audit_shadows", "use at least 4"));
        }
        Ok(())
    }
}

/// The name of the `dp-all` arm at `epsilon` (`dp-all-eps0.5`).
pub fn arm_name(epsilon: f64) -> String {
    format!("dp-all-eps{epsilon}")
}

/// The family of a `dp-all` arm's models, as the registry records it.
pub const DP_FAMILY: &str = "dp-logistic";

/// Whether `arm` names a `dp-all` arm.
pub fn is_dp_arm(arm: &str) -> bool {
    arm.starts_with("dp-all-eps")
}

/// The family an arm's model is fitted with, as results report it:
/// `dp-logistic` for a `dp-all` arm, else the spec's `family`.
pub fn arm_family<'a>(family: &'a str, arm: &Arm) -> &'a str {
    if arm.epsilon.is_some() {
        DP_FAMILY
    } else {
        family
    }
}

/// The spec family whose block of results holds the arm (`family`,
/// `arm`): `logistic` for a `dp-all` arm (they run only with families =
/// ["logistic"], `check_dp_families`), else `family`. Tables and plots that
/// gather a family's arms group by this.
pub fn block_family<'a>(family: &'a str, arm: &str) -> &'a str {
    if is_dp_arm(arm) { "logistic" } else { family }
}

/// The `dp-all` arms: everyone (not held out), no weights, full features,
/// one per ε.
pub fn dp_arms(l: &LawfulSpec) -> Vec<Arm> {
    l.epsilons
        .iter()
        .map(|&e| Arm {
            name: arm_name(e),
            rule: PopulationRule::All,
            ipw: false,
            minimal: false,
            size_of: None,
            epsilon: Some(e),
        })
        .collect()
}

/// The DP family of a `dp-all` arm at `epsilon`, with the logistic
/// family's L2 strength (C = 1).
pub fn dp_family(epsilon: f64) -> Result<ValidModelSpec> {
    ModelSpec::DpLogistic(DpLogisticParams {
        epsilon,
        ..Default::default()
    })
    .check()
}

/// The bound on a membership attack's TPR at false-positive rate `fpr`
/// against an (ε, δ)-DP model: TPR ≤ min(1, e^ε·FPR + δ, 1 − e^{−ε}(1 −
/// δ − FPR)) (the hypothesis-testing region of DP, Kairouz, Oh &
/// Viswanath 2015, Thm 2.1; Humphries et al. 2023 for membership).
pub fn tpr_bound(epsilon: f64, delta: f64, fpr: f64) -> f64 {
    let a = epsilon.exp() * fpr + delta;
    let b = 1.0 - (-epsilon).exp() * (1.0 - delta - fpr);
    a.min(b).min(1.0)
}

/// One membership attack at one ε: measured TPR beside the bound.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DpAttack {
    /// The arm (`all` is the non-private reference, ε = ∞).
    pub arm: String,
    /// ε (null for the non-private arm).
    pub epsilon: Option<f64>,
    /// Registered model ID.
    pub model_id: String,
    /// `model` or `overfit control` (the positive control).
    pub target: String,
    /// `loss-threshold` or `lira`.
    pub attack: String,
    /// Members attacked (as many non-members).
    pub members: u64,
    /// Attack AUC with its 95% interval.
    pub auc: [f64; 3],
    /// TPR at 0.1% FPR with its 95% interval.
    pub tpr_at_0_1pct_fpr: [f64; 3],
    /// The DP bound at 0.1% FPR (null without a guarantee).
    pub bound_at_0_1pct_fpr: Option<f64>,
    /// TPR at 1% FPR with its 95% interval.
    pub tpr_at_1pct_fpr: [f64; 3],
    /// The DP bound at 1% FPR.
    pub bound_at_1pct_fpr: Option<f64>,
}

/// The score computed at the wallet: the model trained where the data live
/// (the `all` model), only each registered user's 0–100 score sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct WalletArm {
    /// The model that runs at the wallet (`all`, first family).
    pub model_id: String,
    /// Users in the population (first replicate).
    pub users: u64,
    /// Registered users: those whose score is sent.
    pub registered_users: u64,
    /// The 24-category transfer: one record per user and day.
    pub transfer_records_per_day: u64,
    /// Bytes of one such record (user_id + 24 attributes, Parquet column
    /// chunks of `users.parquet`).
    pub transfer_bytes_per_record: f64,
    /// Bytes per day of the transfer.
    pub transfer_bytes_per_day: f64,
    /// The wallet arm: one record (user_id, score) per registered user and
    /// day.
    pub score_records_per_day: u64,
    /// Bytes of one such record (same Parquet measurement).
    pub score_bytes_per_record: f64,
    /// Bytes per day sent by the wallet arm.
    pub score_bytes_per_day: f64,
    /// AUC: `all`'s, by construction (the same model).
    pub auc: Interval,
    /// Expected loss at `all`'s grouping rate: `all`'s (KRW per 1,000).
    pub loss_equal_rate_krw_per_1000: Interval,
    /// What it costs instead, in words.
    pub operational_cost: String,
    /// What the score alone reveals: the audit's attribute disclosure per
    /// grade band on every user (rows as `disclosure` in `audit.json`).
    pub disclosure: serde_json::Value,
}

/// `metrics.json`'s `lawful` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct LawfulSummary {
    /// Population seed of the replicate the audits ran on.
    pub audit_seed: u64,
    /// δ of the DP arms (objective perturbation is pure ε-DP).
    pub delta: f64,
    /// How the bound is computed.
    pub bound: String,
    /// Membership attacks per ε (and on `all`, and the positive control).
    pub attacks: Vec<DpAttack>,
    /// The wallet-side arm.
    pub wallet: Option<WalletArm>,
}

/// Refuses `dp-all` arms with a family other than `logistic`: the DP model
/// is a logistic regression, compared with its non-private twin.
pub fn check_dp_families(arms: &[Arm], families: &[ValidModelSpec]) -> Result<()> {
    if arms.iter().any(|a| a.epsilon.is_some()) && families.iter().any(|f| f.name() != "logistic") {
        return Err(NsfError::param(
            "families",
            "the `dp-all` arms are DP logistic regressions: run them with families = [\"logistic\"]",
        ));
    }
    Ok(())
}
