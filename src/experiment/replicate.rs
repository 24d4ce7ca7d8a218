//! One replicate: its population (cached), every arm fitted, registered and
//! scored on the same held-out registered users, the paired bootstrap of the
//! arms against `all`, subgroups and learning curves.

use std::path::{Path, PathBuf};

use crate::data::features::Design;
use crate::error::Result;
use crate::experiment::spec::{Arm, ValidSpec};
use crate::experiment::{ArmResult, PlotData, Replicate, SizeSplit, cache, curves, subgroups};
use crate::models::ValidModelSpec;
use crate::models::logistic::{self, LogisticParams};
use crate::models::train::{self, LoadedData, PopulationRule};
use crate::sim::rng::keyed_subsample;
use crate::stats::calibration::calibration_fit;
use crate::stats::decision::{
    Draw, cost_curve, decision_bootstrap, loss_at_refused_share, net_value,
};
use crate::stats::interval::ci95;
use crate::stats::metrics;
use crate::stats::money::expected_loss;

/// A replicate's data set and its fixed rows.
pub(crate) struct ReplicateData {
    /// Population seed (a table's split seed).
    pub seed: u64,
    /// Its data folder (or table file).
    pub dir: PathBuf,
    /// The data set (full features; arms on the minimal feature set copy
    /// its columns while they fit, see `fit_arm`).
    pub data: LoadedData,
    /// Test users: held-out registered users.
    pub test: Vec<usize>,
    /// Users any arm may train on (not held out).
    pub eligible: Vec<usize>,
    /// True P(nsf) per test user (a table's observed outcome as 0/1: money
    /// on observed outcomes).
    pub truth: Vec<f64>,
    /// NSF outcome per test user.
    pub labels: Vec<bool>,
}

impl ReplicateData {
    /// Generates (or reuses) and loads the population of `seed`.
    pub(crate) fn load(spec: &ValidSpec, data_root: &Path, seed: u64) -> Result<ReplicateData> {
        let dir = cache::ensure_data(spec.spec(), data_root, seed)?;
        let full = spec.full_features();
        let data = train::load_data(&dir, full)?;
        let test = train::holdout_rows(&data, PopulationRule::Registered);
        let eligible: Vec<usize> = (0..data.rows()).filter(|&i| !data.holdout[i]).collect();
        let truth: Vec<f64> = test.iter().map(|&i| data.nsf_prob[i]).collect();
        let labels: Vec<bool> = test.iter().map(|&i| data.nsf[i]).collect();
        Ok(ReplicateData {
            seed,
            dir,
            data,
            test,
            eligible,
            truth,
            labels,
        })
    }
}

/// Inverse-probability weights of the training rows `members` (consented
/// users): 1 / P(consent | attributes), the consent model fitted on every
/// non-held-out user; P floored at `min_prob` (weight truncation: untruncated
/// weights let a handful of users dominate the fit) and scaled to mean 1.
fn ipw_weights(
    data: &LoadedData,
    eligible: &[usize],
    members: &[usize],
    min_prob: f64,
) -> Result<Vec<f64>> {
    let consent: Vec<bool> = eligible.iter().map(|&i| data.consented[i]).collect();
    let model = logistic::fit_rows(
        data.design.x.view(),
        eligible,
        &consent,
        None,
        &LogisticParams::default(),
    )?;
    let p = data
        .design
        .by_row_blocks(members, |x| Ok(model.predict_proba(x)))?;
    let w: Vec<f64> = p.iter().map(|&q| 1.0 / q.max(min_prob)).collect();
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    Ok(w.into_iter().map(|v| v / mean).collect())
}

/// An arm fitted and registered: its ID, training members and P(nsf) of
/// every test user.
struct FittedArm {
    model_id: String,
    members: u64,
    probs: Vec<f64>,
}

/// The training rows of `arm`: its rule's non-held-out users, or for a
/// size-matched arm a seeded random subsample of every eligible user with
/// as many users as `size_of`'s members (the same subsample for every
/// family), in row order.
fn arm_members(r: &ReplicateData, arm: &Arm) -> Vec<usize> {
    let data = &r.data;
    let of_rule = |rule| -> Vec<usize> {
        r.eligible
            .iter()
            .copied()
            .filter(|&i| data.in_population(rule, i))
            .collect()
    };
    let Some(size_rule) = arm.size_of else {
        return of_rule(arm.rule);
    };
    let n = of_rule(size_rule).len();
    keyed_subsample(&data.user_id, &r.eligible, n, r.seed ^ 0x5152_E0F5, 7)
}

/// Fits `arm` with `family` on its members, registers it and scores the
/// test users.
fn fit_arm(
    spec: &ValidSpec,
    r: &ReplicateData,
    arm: &Arm,
    family: &ValidModelSpec,
    registry: &Path,
) -> Result<FittedArm> {
    let data = &r.data;
    let members = arm_members(r, arm);
    let weights = if arm.ipw {
        Some(ipw_weights(data, &r.eligible, &members, spec.ipw_min_prob)?)
    } else {
        None
    };
    // The minimal design lives only while its arm fits (at the case scale
    // 1.8 GB, not kept beside the full one for the whole replicate).
    let minimal;
    let (design, attrs): (&Design, &[String]) = if arm.minimal {
        minimal = data
            .design
            .select_attributes(spec.full_features(), spec.minimal_features());
        (&minimal, spec.minimal_features())
    } else {
        (&data.design, spec.full_features())
    };
    // A `dp-all` arm fits the DP logistic regression at its ε.
    let dp = arm
        .epsilon
        .map(crate::experiment::lawful::dp_family)
        .transpose()?;
    let (stored, hyper) = train::fit_model(
        design,
        attrs,
        &members,
        &data.nsf,
        weights.as_deref(),
        dp.as_ref().unwrap_or(family),
        r.seed,
    )?;
    let (model_id, _) = train::register_model(
        data,
        design,
        if dp.is_some() { "all" } else { &arm.name },
        &members,
        &stored,
        hyper,
        r.seed,
        registry,
        Vec::new(),
    )?;
    let probs = stored.predict(&design.select_rows(&r.test))?;
    Ok(FittedArm {
        model_id,
        members: members.len() as u64,
        probs,
    })
}

/// Differences of arm `k` to arm `base` across bootstrap draws: AUC and
/// loss at the equal refusal share.
fn draw_diffs(boot: &[Vec<Draw>], k: usize, base: usize) -> (Vec<f64>, Vec<f64>) {
    boot.iter()
        .map(|v| {
            (
                v[k].auc - v[base].auc,
                v[k].loss_equal_rate - v[base].loss_equal_rate,
            )
        })
        .unzip()
}

/// One family's arms: metrics on the test users, paired-bootstrap
/// intervals of each arm's differences to `all` (under the policy and at
/// `all`'s refusal share) and to its size-matched arm.
fn arm_results(
    spec: &ValidSpec,
    r: &ReplicateData,
    family: &str,
    fitted: &[FittedArm],
) -> Vec<ArmResult> {
    let probs: Vec<Vec<f64>> = fitted.iter().map(|f| f.probs.clone()).collect();
    let scores: Vec<Vec<u8>> = probs.iter().map(|p| spec.score_scale.scores(p)).collect();
    let (labels, truth, policy) = (&r.labels, &r.truth, &spec.policy);
    let lpc = policy.loss_per_failed_charge_krw;
    let base_eval = metrics::evaluate(&probs[0], &scores[0], labels, truth);
    let (base_loss, share) = expected_loss(&scores[0], truth, policy);
    let boot = decision_bootstrap(
        &probs,
        &scores,
        labels,
        truth,
        policy,
        share,
        spec.bootstrap,
        r.seed ^ 0xB007,
    );
    let eq: Vec<f64> = probs
        .iter()
        .map(|p| loss_at_refused_share(p, truth, share, lpc))
        .collect();
    let mut out = Vec::new();
    for (k, arm) in spec.arms().iter().enumerate() {
        let evaluation = metrics::evaluate(&probs[k], &scores[k], labels, truth);
        let (loss, refused) = expected_loss(&scores[k], truth, policy);
        let (da, dl) = draw_diffs(&boot, k, 0);
        let dp: Vec<f64> = boot.iter().map(|v| v[k].loss - v[0].loss).collect();
        let ab: Vec<f64> = boot.iter().map(|v| v[k].auc).collect();
        let (cal_a, cal_b) = calibration_fit(&probs[k], labels);
        let split = spec.size_matched_of(k).map(|m| {
            let (sa, sl) = draw_diffs(&boot, k, m);
            let sm = &probs[m];
            SizeSplit {
                size_matched_arm: spec.arms()[m].name.clone(),
                selection_auc: evaluation.auc - metrics::auc(sm, labels),
                selection_auc_ci95: ci95(sa),
                selection_loss_equal_rate: eq[k] - eq[m],
                selection_loss_equal_rate_ci95: ci95(sl),
            }
        });
        out.push(ArmResult {
            arm: arm.name.clone(),
            family: crate::experiment::lawful::arm_family(family, arm).into(),
            model_id: fitted[k].model_id.clone(),
            training_members: fitted[k].members,
            psi_vs_all: metrics::psi(&scores[0], &scores[k], &metrics::SCORE_BANDS),
            refused_share: refused,
            expected_loss_krw_per_1000: loss,
            net_value_krw_per_1000: net_value(refused, loss, policy.benefit_per_grouped_user_krw),
            auc_ci95: ci95(ab),
            auc_diff_vs_all: evaluation.auc - base_eval.auc,
            auc_diff_ci95: ci95(da),
            loss_diff_vs_all: loss - base_loss,
            loss_diff_ci95: ci95(dp),
            equal_rate_refused_share: share,
            loss_equal_rate_krw_per_1000: eq[k],
            net_value_equal_rate_krw_per_1000: net_value(
                share,
                eq[k],
                policy.benefit_per_grouped_user_krw,
            ),
            loss_equal_rate_diff_vs_all: eq[k] - eq[0],
            loss_equal_rate_diff_ci95: ci95(dl),
            calibration_intercept: cal_a,
            calibration_slope: cal_b,
            cost_curve: cost_curve(&probs[k], truth, lpc),
            split,
            evaluation,
        });
    }
    out
}

/// Runs replicate `seed`: every family × arm, subgroups, learning curves.
/// Returns the replicate and the test-set predictions (for plots).
pub(crate) fn run_replicate(
    spec: &ValidSpec,
    registry: &Path,
    r: ReplicateData,
    progress: &dyn Fn(&str),
) -> Result<(Replicate, PlotData)> {
    let seed = r.seed;
    let (mut arms, mut subgroups, mut learning_curve, mut plot) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for family in spec.families() {
        let name = family.name();
        let mut fitted = Vec::new();
        for arm in spec.arms() {
            progress(&format!("  {name}: arm {}", arm.name));
            fitted.push(fit_arm(spec, &r, arm, family, registry)?);
        }
        arms.extend(arm_results(spec, &r, name, &fitted));
        let probs: Vec<Vec<f64>> = fitted.into_iter().map(|f| f.probs).collect();
        // Who pays: AUC of every arm within each subgroup of the test users.
        subgroups.extend(subgroups::subgroup_results(
            &r.data.design,
            &r.test,
            &r.labels,
            &probs,
            name,
        ));
        if spec.learning_curves {
            progress(&format!("  {name}: learning curves"));
            learning_curve.extend(curves::learning_curve(&r, family, spec.full_features())?);
        }
        for (arm, p) in spec.arms().iter().zip(probs) {
            plot.push(crate::experiment::PlotArm {
                family: crate::experiment::lawful::arm_family(name, arm).to_string(),
                arm: arm.name.clone(),
                size_matched: arm.size_of.is_some(),
                probs: p,
            });
        }
    }
    // Sweep cells (learning curves off) skip the ceiling: their report has
    // no oracle line.
    let ceiling = if spec.learning_curves {
        progress("  attributes-only ceiling (gbdt on nsf_prob)");
        crate::experiment::ceiling::fit_ceiling(&r.data, &r.eligible, &r.test, r.seed)?
    } else {
        Vec::new()
    };
    let data = &r.data;
    let replicate = Replicate {
        seed,
        data: r.dir.display().to_string(),
        test_users: r.test.len() as u64,
        test_nsf: r.labels.iter().filter(|&&y| y).count() as u64,
        consent_share: data.consented.iter().filter(|&&c| c).count() as f64 / data.rows() as f64,
        arms,
        subgroups,
        learning_curve,
    };
    let plot = PlotData {
        seed,
        user_id: r.test.iter().map(|&i| data.user_id[i]).collect(),
        arms: plot,
        labels: r.labels,
        truth: r.truth,
        ceiling,
    };
    Ok((replicate, plot))
}
