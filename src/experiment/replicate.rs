//! One replicate: its population (cached), every arm fitted, registered and
//! scored on the same held-out registered users, the paired bootstrap of the
//! arms against `all`, subgroups and learning curves.

use std::path::{Path, PathBuf};

use crate::data::features::Design;
use crate::error::Result;
use crate::experiment::spec::{Arm, ValidSpec};
use crate::experiment::{ArmResult, PlotData, Replicate, cache, curves, subgroups};
use crate::models::logistic::{self, LogisticParams};
use crate::models::train::{self, LoadedData, PopulationRule};
use crate::stats::bootstrap::paired_bootstrap;
use crate::stats::interval::ci95;
use crate::stats::metrics;
use crate::stats::money::expected_loss;

/// A replicate's data set and its fixed rows.
pub(crate) struct ReplicateData {
    /// Population seed.
    pub seed: u64,
    /// Its data folder.
    pub dir: PathBuf,
    /// The data set (full features).
    pub data: LoadedData,
    /// The minimal feature set's design.
    pub minimal_design: Design,
    /// Test users: held-out registered users.
    pub test: Vec<usize>,
    /// Users any arm may train on (not held out).
    pub eligible: Vec<usize>,
    /// True P(nsf) per test user.
    pub truth: Vec<f64>,
    /// NSF outcome per test user.
    pub labels: Vec<bool>,
}

impl ReplicateData {
    /// Generates (or reuses) and loads the population of `seed`.
    fn load(spec: &ValidSpec, data_root: &Path, seed: u64) -> Result<ReplicateData> {
        let dir = cache::ensure_data(spec.spec(), data_root, seed)?;
        let full = spec.full_features();
        let data = train::load_data(&dir, full)?;
        let minimal_design = data.design.select_attributes(full, spec.minimal_features());
        let test = train::holdout_rows(&data, PopulationRule::Registered);
        let eligible: Vec<usize> = (0..data.rows())
            .filter(|&i| !train::is_holdout(data.manifest.seed, data.user_id[i]))
            .collect();
        let truth: Vec<f64> = test.iter().map(|&i| data.nsf_prob[i]).collect();
        let labels: Vec<bool> = test.iter().map(|&i| data.nsf[i]).collect();
        Ok(ReplicateData {
            seed,
            dir,
            data,
            minimal_design,
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
    let x = data.design.select_rows(members);
    let p = model.predict_proba(x.x.view());
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

/// Fits `arm` with the spec's family on its members, registers it and
/// scores the test users.
fn fit_arm(spec: &ValidSpec, r: &ReplicateData, arm: &Arm, registry: &Path) -> Result<FittedArm> {
    let data = &r.data;
    let members: Vec<usize> = r
        .eligible
        .iter()
        .copied()
        .filter(|&i| data.in_population(arm.rule, i))
        .collect();
    let weights = if arm.ipw {
        Some(ipw_weights(data, &r.eligible, &members, spec.ipw_min_prob)?)
    } else {
        None
    };
    let (design, attrs): (&Design, &[String]) = if arm.minimal {
        (&r.minimal_design, spec.minimal_features())
    } else {
        (&data.design, spec.full_features())
    };
    let (stored, hyper) = train::fit_model(
        design,
        attrs,
        &members,
        &data.nsf,
        weights.as_deref(),
        spec.model(),
        r.seed,
    )?;
    let (model_id, _) = train::register_model(
        data,
        design,
        &arm.name,
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

/// Every arm's metrics on the test users, with paired-bootstrap intervals
/// of its differences to the first arm (`all`).
fn arm_results(spec: &ValidSpec, r: &ReplicateData, fitted: &[FittedArm]) -> Vec<ArmResult> {
    let probs: Vec<Vec<f64>> = fitted.iter().map(|f| f.probs.clone()).collect();
    let scores: Vec<Vec<u8>> = probs
        .iter()
        .map(|p| p.iter().map(|&v| train::score_of(v)).collect())
        .collect();
    let (labels, truth) = (&r.labels, &r.truth);
    let boot = paired_bootstrap(
        &probs,
        &scores,
        labels,
        truth,
        &spec.policy,
        spec.bootstrap,
        r.seed ^ 0xB007,
    );
    let base_eval = metrics::evaluate(&probs[0], &scores[0], labels, truth);
    let (base_loss, _) = expected_loss(&scores[0], truth, &spec.policy);
    let mut out = Vec::new();
    for (k, arm) in spec.arms().iter().enumerate() {
        let evaluation = metrics::evaluate(&probs[k], &scores[k], labels, truth);
        let (loss, refused) = expected_loss(&scores[k], truth, &spec.policy);
        let da: Vec<f64> = boot.iter().map(|v| v[k].0 - v[0].0).collect();
        let dl: Vec<f64> = boot.iter().map(|v| v[k].1 - v[0].1).collect();
        let ab: Vec<f64> = boot.iter().map(|v| v[k].0).collect();
        out.push(ArmResult {
            arm: arm.name.clone(),
            model_id: fitted[k].model_id.clone(),
            training_members: fitted[k].members,
            psi_vs_all: metrics::psi(&scores[0], &scores[k], &metrics::SCORE_BANDS),
            refused_share: refused,
            expected_loss_krw_per_1000: loss,
            auc_ci95: ci95(ab),
            auc_diff_vs_all: evaluation.auc - base_eval.auc,
            auc_diff_ci95: ci95(da),
            loss_diff_vs_all: loss - base_loss,
            loss_diff_ci95: ci95(dl),
            evaluation,
        });
    }
    out
}

/// Runs replicate `seed`: every arm, subgroups, learning curves. Returns
/// the replicate and the test-set predictions (for plots).
pub(crate) fn run_replicate(
    spec: &ValidSpec,
    registry: &Path,
    data_root: &Path,
    seed: u64,
    progress: &dyn Fn(&str),
) -> Result<(Replicate, PlotData)> {
    let r = ReplicateData::load(spec, data_root, seed)?;
    let mut fitted = Vec::new();
    for arm in spec.arms() {
        progress(&format!("  arm {}", arm.name));
        fitted.push(fit_arm(spec, &r, arm, registry)?);
    }
    let arms = arm_results(spec, &r, &fitted);
    let probs: Vec<Vec<f64>> = fitted.into_iter().map(|f| f.probs).collect();
    // Who pays: AUC of every arm within each subgroup of the test users.
    let subgroups = subgroups::subgroup_results(&r.data.design, &r.test, &r.labels, &probs);
    progress("  learning curves");
    let learning_curve = if spec.learning_curves {
        curves::learning_curve(&r, spec.model(), spec.full_features())?
    } else {
        Vec::new()
    };
    let data = &r.data;
    let replicate = Replicate {
        seed,
        data: r.dir.display().to_string(),
        test_users: r.test.len() as u64,
        consent_share: data.consented.iter().filter(|&&c| c).count() as f64 / data.rows() as f64,
        arms,
        subgroups,
        learning_curve,
    };
    let plot = PlotData {
        arms: spec.arms.iter().cloned().zip(probs).collect(),
        labels: r.labels,
    };
    Ok((replicate, plot))
}
