//! Membership inference against the audited model: a loss-threshold attack
//! (Yeom et al. 2018) and LiRA with shadow models (Carlini et al. 2022),
//! and a deliberately overfit positive control that the same attacks must
//! catch. Every figure has a stratified-bootstrap interval.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditParams, Est, Target, hash_sample};
use crate::data::features::Design;
use crate::error::Result;
use crate::models::gbdt::GbdtParams;
use crate::models::logistic_chord::GROUP;
use crate::models::shadows::Shadows;
use crate::models::train::{self, LoadedData};
use crate::models::{ModelSpec, ValidModelSpec};
use crate::sim::rng::mix64;
use crate::stats::interval::ci95;
use crate::stats::metrics;

/// One membership attack against one model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct AttackResult {
    /// `model` (the audited one) or `overfit control`.
    pub target: String,
    /// `loss-threshold` or `lira`.
    pub attack: String,
    /// Members and non-members attacked.
    pub members: u64,
    /// Non-members attacked.
    pub non_members: u64,
    /// Attack AUC (0.5 = chance).
    pub auc: Est,
    /// True-positive rate at 0.1% false-positive rate (chance: 0.001).
    pub tpr_at_0_1pct_fpr: Est,
    /// True-positive rate at 1% false-positive rate (chance: 0.01).
    pub tpr_at_1pct_fpr: Est,
    /// ROC points (FPR, TPR) for plots, log-spaced in FPR.
    pub roc: Vec<(f64, f64)>,
}

/// The positive control.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Control {
    /// Family and hyperparameters.
    pub model: serde_json::Value,
    /// Training users.
    pub training_users: u64,
    /// AUC on its own training users (memorization shows as ≈ 1).
    pub train_auc: f64,
    /// AUC on the same number of non-members.
    pub test_auc: f64,
}

/// Membership inference results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Membership {
    /// Training members of the audited model (checked against its digest).
    pub training_members: u64,
    /// Population the members and non-members come from.
    pub population_rule: String,
    /// Shadow models per LiRA run; each trained on a random half of the
    /// attacker's pool (members and non-members of the population).
    pub shadows: u64,
    /// The overfit positive control.
    pub control: Control,
    /// Every attack (model and control, loss and LiRA).
    pub attacks: Vec<AttackResult>,
}

/// ln P(observed outcome) under `p`.
pub(crate) fn log_lik(p: f64, y: bool) -> f64 {
    let q = if y { p } else { 1.0 - p };
    q.clamp(1e-12, 1.0).ln()
}

/// LiRA's logit-scaled confidence in the observed outcome.
fn phi(p: f64, y: bool) -> f64 {
    let q = (if y { p } else { 1.0 - p }).clamp(1e-12, 1.0 - 1e-12);
    q.ln() - (1.0 - q).ln()
}

/// The ROC curve of "member when score ≥ t" over every distinct threshold
/// t, highest first, from (0, 0) to (1, 1): one point per block of tied
/// scores, so a tied block is one straight segment (scikit-learn's
/// `roc_curve` with `drop_intermediate=False`).
fn roc_curve(members: &[f64], non: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut s: Vec<(f64, bool)> = members
        .iter()
        .map(|&v| (v, true))
        .chain(non.iter().map(|&v| (v, false)))
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (np, nn) = (members.len().max(1) as f64, non.len().max(1) as f64);
    let (mut fpr, mut tpr) = (vec![0.0], vec![0.0]);
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, &(v, m)) in s.iter().enumerate() {
        if m {
            tp += 1;
        } else {
            fp += 1;
        }
        if s.get(i + 1).is_none_or(|n| n.0.total_cmp(&v).is_ne()) {
            fpr.push(fp as f64 / nn);
            tpr.push(tp as f64 / np);
        }
    }
    (fpr, tpr)
}

/// The ROC curve's TPR at `fpr`, linear between its points (NumPy's
/// `np.interp(fpr, fpr_points, tpr_points)`: on a vertical run of points
/// at exactly `fpr`, the highest).
fn interp(fpr: f64, curve: &(Vec<f64>, Vec<f64>)) -> f64 {
    let (xs, ys) = curve;
    let j = xs.partition_point(|&x| x <= fpr);
    if j == 0 {
        return ys[0];
    }
    if j == xs.len() || xs[j - 1] == fpr {
        return ys[j - 1];
    }
    let slope = (ys[j] - ys[j - 1]) / (xs[j] - xs[j - 1]);
    slope * (fpr - xs[j - 1]) + ys[j - 1]
}

/// TPR at false-positive rate `fpr`, tie-aware: the ROC curve's value at
/// `fpr`, interpolated linearly within a block of tied scores — what
/// `np.interp(fpr, *sklearn.metrics.roc_curve(y, score)[:2])` gives, the
/// way LiRA's code (Carlini et al. 2022) and the membership-inference
/// literature read "TPR at low FPR". A tied block is a randomized
/// threshold: flagging a share of it at random reaches any FPR exactly,
/// so a constant score has TPR = FPR (a strict `>` read 0 there and a
/// `≥` would read 1). `attack_result` reads both FPRs off one curve.
#[cfg(test)]
fn tpr_at(members: &[f64], non: &[f64], fpr: f64) -> f64 {
    interp(fpr, &roc_curve(members, non))
}

fn attack_result(
    target: &str,
    attack: &str,
    members: &[f64],
    non: &[f64],
    params: &AuditParams,
) -> AttackResult {
    let auc_of = |m: &[f64], n: &[f64]| {
        let s: Vec<f64> = m.iter().chain(n).copied().collect();
        let y: Vec<bool> = (0..s.len()).map(|k| k < m.len()).collect();
        metrics::auc(&s, &y)
    };
    let tprs = |m: &[f64], n: &[f64]| {
        let c = roc_curve(m, n);
        [interp(0.001, &c), interp(0.01, &c)]
    };
    let [t3, t2] = tprs(members, non);
    let point = [auc_of(members, non), t3, t2];
    // Stratified bootstrap: members and non-members resampled separately.
    let mut boots: Vec<[f64; 3]> = Vec::with_capacity(params.bootstrap as usize);
    for b in 0..params.bootstrap as u64 {
        let draw = |v: &[f64], salt: u64| -> Vec<f64> {
            (0..v.len() as u64)
                .map(|k| {
                    v[(mix64(params.seed ^ mix64(b * 0x9E37 + salt) ^ k) % v.len() as u64) as usize]
                })
                .collect()
        };
        let m = draw(members, 1);
        let n = draw(non, 2);
        let [t3, t2] = tprs(&m, &n);
        boots.push([auc_of(&m, &n), t3, t2]);
    }
    let est = |k: usize| Est {
        value: point[k],
        ci95: ci95(boots.iter().map(|b| b[k]).collect()),
    };
    let s: Vec<f64> = members.iter().chain(non).copied().collect();
    let y: Vec<bool> = (0..s.len()).map(|k| k < members.len()).collect();
    AttackResult {
        target: target.into(),
        attack: attack.into(),
        members: members.len() as u64,
        non_members: non.len() as u64,
        auc: est(0),
        tpr_at_0_1pct_fpr: est(1),
        tpr_at_1pct_fpr: est(2),
        roc: log_roc(&s, &y),
    }
}

/// ROC points at log-spaced FPRs from 1e-4 to 1.
fn log_roc(score: &[f64], label: &[bool]) -> Vec<(f64, f64)> {
    let pick = |want: bool| -> Vec<f64> {
        score
            .iter()
            .zip(label)
            .filter(|(_, y)| **y == want)
            .map(|(s, _)| *s)
            .collect()
    };
    let curve = roc_curve(&pick(true), &pick(false));
    (0..=40)
        .map(|k| {
            let fpr = 10f64.powf(-4.0 + 4.0 * k as f64 / 40.0);
            (fpr, interp(fpr, &curve).max(1e-4))
        })
        .collect()
}

/// LiRA (online, fixed variance): `pool` rows are the attacker's data; each
/// shadow trains on a seeded random half of it; `eval` rows (in the pool)
/// get a likelihood ratio of the target's confidence between the shadows
/// that trained on them and those that did not.
#[allow(clippy::too_many_arguments)]
fn lira(
    data: &LoadedData,
    design: &Design,
    shadows: &Shadows,
    pool: &[usize],
    eval: &[usize],
    target_p: &[f64],
    params: &AuditParams,
    salt: u64,
    progress: &dyn Fn(&str),
) -> Result<Vec<f64>> {
    let eval_design = design.select_rows(eval);
    let y: Vec<bool> = eval.iter().map(|&i| data.nsf[i]).collect();
    let is_in = |k: usize, i: usize| {
        mix64(params.seed ^ salt ^ mix64((k as u64 + 1) * 0xA24B_AED4_963E_E407) ^ data.user_id[i])
            & 1
            == 1
    };
    let mut ins: Vec<Vec<f64>> = vec![Vec::new(); eval.len()];
    let mut outs: Vec<Vec<f64>> = vec![Vec::new(); eval.len()];
    for g in (0..params.shadows).step_by(GROUP) {
        let count = GROUP.min(params.shadows - g);
        progress(&format!(
            "    shadows {}–{} of {}",
            g + 1,
            g + count,
            params.shadows
        ));
        let member: Vec<u32> = pool
            .par_iter()
            .map(|&i| (0..count).fold(0u32, |m, k| m | ((is_in(g + k, i) as u32) << k)))
            .collect();
        let models = shadows.fit_group(pool, &member, count, &data.nsf, params.seed + g as u64)?;
        for (k, m) in (g..).zip(&models) {
            let p = m.predict(&eval_design)?;
            for (j, &i) in eval.iter().enumerate() {
                let v = phi(p[j], y[j]);
                if is_in(k, i) {
                    ins[j].push(v);
                } else {
                    outs[j].push(v);
                }
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // Fixed (global) variances: residuals around each user's own mean.
    let pooled_sd = |lists: &[Vec<f64>]| {
        let (mut ss, mut n) = (0.0, 0usize);
        for l in lists.iter().filter(|l| l.len() > 1) {
            let m = mean(l);
            ss += l.iter().map(|v| (v - m).powi(2)).sum::<f64>();
            n += l.len() - 1;
        }
        (ss / n.max(1) as f64).sqrt().max(1e-6)
    };
    let (sd_in, sd_out) = (pooled_sd(&ins), pooled_sd(&outs));
    // A user no shadow trained on (or every shadow did) borrows the average
    // in/out shift.
    let pairs: Vec<(f64, f64)> = ins
        .iter()
        .zip(&outs)
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (mean(a), mean(b)))
        .collect();
    let shift = pairs.iter().map(|(a, b)| a - b).sum::<f64>() / pairs.len().max(1) as f64;
    let log_normal = |x: f64, m: f64, s: f64| -0.5 * ((x - m) / s).powi(2) - s.ln();
    Ok((0..eval.len())
        .map(|j| {
            let (mi, mo) = match (ins[j].is_empty(), outs[j].is_empty()) {
                (false, false) => (mean(&ins[j]), mean(&outs[j])),
                (true, false) => (mean(&outs[j]) + shift, mean(&outs[j])),
                (false, true) => (mean(&ins[j]), mean(&ins[j]) - shift),
                (true, true) => (shift, 0.0),
            };
            let x = phi(target_p[j], y[j]);
            log_normal(x, mi, sd_in) - log_normal(x, mo, sd_out)
        })
        .collect())
}

/// The overfit positive control's family: deep trees, many rounds, no
/// regularization, tiny leaves.
pub fn control_spec() -> ValidModelSpec {
    ModelSpec::Gbdt(GbdtParams {
        iterations: 300,
        learning_rate: 0.3,
        max_depth: 8,
        nbins: 255,
        l2: 0.0,
        min_leaf_weight: 1e-6,
    })
    .check()
    .expect("the control's hyperparameters are valid")
}

/// Who the attacks are run on: members and non-members of the audited
/// model's population (split by the holdout hash).
pub(crate) struct Split<'a> {
    /// Training members of the audited model.
    pub members: &'a [usize],
    /// Held-out users of the same population.
    pub non_members: &'a [usize],
}

/// Loss-threshold and LiRA against the audited model (`p_all`: its P(nsf)
/// of every user), then the same attacks against the overfit control.
pub(crate) fn membership(
    t: &Target,
    split: &Split,
    p_all: &[f64],
    controls: &mut ControlCache,
    progress: &dyn Fn(&str),
) -> Result<Membership> {
    let (data, params) = (t.data, t.params);
    let n_eval = params
        .eval_users
        .min(split.non_members.len())
        .min(split.members.len());
    let eval_m = hash_sample(data, split.members, params.seed, n_eval);
    let eval_n = hash_sample(data, split.non_members, params.seed, n_eval);
    let loss_scores = |rows: &[usize]| -> Vec<f64> {
        rows.iter()
            .map(|&i| log_lik(p_all[i], data.nsf[i]))
            .collect()
    };
    let mut attacks = vec![attack_result(
        "model",
        "loss-threshold",
        &loss_scores(&eval_m),
        &loss_scores(&eval_n),
        params,
    )];
    progress(&format!(
        "LiRA on the model: {} shadow models",
        params.shadows
    ));
    let pool: Vec<usize> = split
        .members
        .iter()
        .chain(split.non_members)
        .copied()
        .collect();
    let eval: Vec<usize> = eval_m.iter().chain(&eval_n).copied().collect();
    let tp: Vec<f64> = eval.iter().map(|&i| p_all[i]).collect();
    let shadows = Shadows::new(t.design, t.attrs, t.spec, t.model, &pool);
    let lr = lira(
        data, t.design, &shadows, &pool, &eval, &tp, params, 1, progress,
    )?;
    attacks.push(attack_result(
        "model",
        "lira",
        &lr[..n_eval],
        &lr[n_eval..],
        params,
    ));
    progress("positive control: an overfit model on a small sample");
    let c = params.control_users.min(n_eval);
    let (control, control_attacks) = controls.get(t, &eval_m[..c], &eval_n[..c], progress)?;
    attacks.extend(control_attacks);
    Ok(Membership {
        training_members: split.members.len() as u64,
        population_rule: t.manifest.population_rule.clone(),
        shadows: params.shadows as u64,
        control,
        attacks,
    })
}

/// The overfit control last fitted, with what it depends on (the audited
/// features and the control's members and non-members): models audited on
/// the same data set with the same features and members share it, instead
/// of fitting the same control again.
#[derive(Default)]
pub(crate) struct ControlCache {
    last: Option<CachedControl>,
    /// Controls fitted so far (not taken from the cache).
    fitted: u32,
}

type CachedControl = (
    Vec<String>,
    Vec<usize>,
    Vec<usize>,
    Control,
    Vec<AttackResult>,
);

impl ControlCache {
    /// The control for `t` on `c_in` / `c_out`: the cached one if its
    /// inputs are the same, else a new fit (which replaces it).
    fn get(
        &mut self,
        t: &Target,
        c_in: &[usize],
        c_out: &[usize],
        progress: &dyn Fn(&str),
    ) -> Result<(Control, Vec<AttackResult>)> {
        self.get_or_fit(t.attrs, c_in, c_out, || {
            overfit_control(t, c_in, c_out, progress)
        })
    }

    /// The cached control if `attrs`, `c_in` and `c_out` are the cached
    /// one's, else `fit()`'s, which replaces it.
    fn get_or_fit(
        &mut self,
        attrs: &[String],
        c_in: &[usize],
        c_out: &[usize],
        fit: impl FnOnce() -> Result<(Control, Vec<AttackResult>)>,
    ) -> Result<(Control, Vec<AttackResult>)> {
        if let Some((a, i, o, control, attacks)) = &self.last
            && a.as_slice() == attrs
            && i == c_in
            && o == c_out
        {
            return Ok((control.clone(), attacks.clone()));
        }
        let (control, attacks) = fit()?;
        self.fitted += 1;
        let key = (attrs.to_vec(), c_in.to_vec(), c_out.to_vec());
        self.last = Some((key.0, key.1, key.2, control.clone(), attacks.clone()));
        Ok((control, attacks))
    }
}

/// Positive control: an overfit model on `c_in` (a small sample of the
/// members), attacked with `c_out` as non-members.
fn overfit_control(
    t: &Target,
    c_in: &[usize],
    c_out: &[usize],
    progress: &dyn Fn(&str),
) -> Result<(Control, Vec<AttackResult>)> {
    let (data, design, params) = (t.data, t.design, t.params);
    let c = c_in.len();
    let cspec = control_spec();
    let (cmodel, _) =
        train::fit_model(design, t.attrs, c_in, &data.nsf, None, &cspec, params.seed)?;
    let c_eval: Vec<usize> = c_in.iter().chain(c_out).copied().collect();
    let cp = cmodel.predict(&design.select_rows(&c_eval))?;
    let cy: Vec<bool> = c_eval.iter().map(|&i| data.nsf[i]).collect();
    let cl: Vec<f64> = cp.iter().zip(&cy).map(|(&p, &y)| log_lik(p, y)).collect();
    let mut attacks = vec![attack_result(
        "overfit control",
        "loss-threshold",
        &cl[..c],
        &cl[c..],
        params,
    )];
    let shadows = Shadows::new(design, t.attrs, &cspec, &cmodel, &c_eval);
    let clr = lira(
        data, design, &shadows, &c_eval, &c_eval, &cp, params, 2, progress,
    )?;
    attacks.push(attack_result(
        "overfit control",
        "lira",
        &clr[..c],
        &clr[c..],
        params,
    ));
    let control = Control {
        model: serde_json::to_value(cspec.spec()).expect("spec serializes"),
        training_users: c as u64,
        train_auc: metrics::auc(&cp[..c], &cy[..c]),
        test_auc: metrics::auc(&cp[c..], &cy[c..]),
    };
    Ok((control, attacks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_with_the_same_features_and_members_share_one_control_fit() {
        let control = |auc: f64| Control {
            model: serde_json::Value::Null,
            training_users: 3,
            train_auc: auc,
            test_auc: 0.5,
        };
        let mut cache = ControlCache::default();
        let attrs = vec!["age_years".to_string()];
        let fit = |auc: f64| move || Ok((control(auc), Vec::new()));
        let first = cache
            .get_or_fit(&attrs, &[1, 2, 3], &[4, 5, 6], fit(0.9))
            .unwrap();
        let again = cache
            .get_or_fit(&attrs, &[1, 2, 3], &[4, 5, 6], fit(0.1))
            .unwrap();
        assert_eq!((first.0.train_auc, again.0.train_auc), (0.9, 0.9));
        assert_eq!(cache.fitted, 1, "the second model reused the control");
        let other_members = cache
            .get_or_fit(&attrs, &[1, 2, 7], &[4, 5, 6], fit(0.2))
            .unwrap();
        let other_features = cache
            .get_or_fit(&[], &[1, 2, 7], &[4, 5, 6], fit(0.3))
            .unwrap();
        assert_eq!(
            (other_members.0.train_auc, other_features.0.train_auc),
            (0.2, 0.3)
        );
        assert_eq!(cache.fitted, 3, "other members or features are a new fit");
    }

    #[test]
    fn tpr_at_interpolates_within_tied_blocks_hand_example() {
        // Blocks, highest first: 5 (1 member), 4 (1 non), 3 (3 members,
        // 2 non), 2 (4 non), 1 (1 member), 0 (3 non). ROC points: (0, 0),
        // (0, .2), (.1, .2), (.3, .8), (.7, .8), (.7, 1), (1, 1) — worked
        // out by hand; scikit-learn's roc_curve + np.interp agree.
        let m = [5.0, 3.0, 3.0, 3.0, 1.0];
        let n = [4.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0];
        let (fpr, tpr) = roc_curve(&m, &n);
        assert_eq!(fpr, [0.0, 0.0, 0.1, 0.3, 0.7, 0.7, 1.0]);
        assert_eq!(tpr, [0.0, 0.2, 0.2, 0.8, 0.8, 1.0, 1.0]);
        for (f, want) in [
            (0.0, 0.2),
            (0.05, 0.2),
            (0.2, 0.5),
            (0.25, 0.65),
            (0.5, 0.8),
            (0.7, 1.0),
            (1.0, 1.0),
        ] {
            let got = tpr_at(&m, &n, f);
            assert!((got - want).abs() < 1e-12, "TPR at {f}: {got} vs {want}");
        }
    }

    #[test]
    fn tpr_at_a_constant_score_is_the_fpr() {
        // Regression: the strict `>` threshold read 0 on tied losses.
        let m = vec![-0.25; 300];
        let n = vec![-0.25; 2000];
        for f in [0.0, 0.001, 0.01, 0.3, 1.0] {
            assert_eq!(tpr_at(&m, &n, f), f);
        }
    }

    /// The Neyman–Pearson randomized test at FPR `f`: flag every score
    /// above t and a share q of the scores equal to t, with t and q chosen
    /// so that exactly a share f of the non-members is flagged.
    fn randomized_test(m: &[f64], n: &[f64], f: f64) -> f64 {
        let share = |v: &[f64], p: &dyn Fn(f64) -> bool| {
            v.iter().filter(|&&x| p(x)).count() as f64 / v.len() as f64
        };
        let mut ts: Vec<f64> = n.to_vec();
        ts.sort_by(|a, b| b.total_cmp(a));
        ts.dedup();
        for t in ts {
            let (above, at) = (share(n, &|x| x > t), share(n, &|x| x == t));
            if above + at >= f {
                let q = (f - above) / at;
                return share(m, &|x| x > t) + q * share(m, &|x| x == t);
            }
        }
        1.0
    }

    #[test]
    fn tpr_at_equals_the_randomized_neyman_pearson_test_on_tied_scores() {
        // Coarse scores (8 levels, many ties), members shifted up.
        let level = |k: u64, shift: u64| (mix64(k) % 8 + shift * (mix64(k ^ 77) % 2)) as f64;
        let m: Vec<f64> = (0..997).map(|k| level(k, 1)).collect();
        let n: Vec<f64> = (1000..5011).map(|k| level(k, 0)).collect();
        for f in [0.001, 0.01, 0.05, 0.2, 0.5, 0.9] {
            let (got, want) = (tpr_at(&m, &n, f), randomized_test(&m, &n, f));
            assert!((got - want).abs() < 1e-9, "TPR at {f}: {got} vs {want}");
        }
    }
}
