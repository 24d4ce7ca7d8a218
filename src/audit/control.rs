//! The same-family positive control: the audited model's own family and
//! hyperparameters, trained on growing samples of its members (250, 1k, 4k,
//! 16k users), each with planted canaries, attacked with the loss threshold.
//! Shows at which training size a model like the audited one starts to leak
//! membership, and whether the attack finds users planted to be found.
//!
//! Canaries: held-out users without an NSF event, relabelled NSF = 1 and
//! added to the training set (the rarest, most memorable kind of record).
//! The attacker compares the model with the same model trained without the
//! canaries: a canary is found when its rise in ln P(nsf = 1) is above the
//! 99th percentile of the same rise of reference users (other such held-out
//! users, never trained on): chance finds about 1 % of them.

use serde::{Deserialize, Serialize};

use crate::audit::membership::{Split, log_lik};
use crate::audit::{Est, Target, hash_sample};
use crate::error::Result;
use crate::models::train;
use crate::stats::interval::ci95;
use crate::stats::metrics;

/// Training sizes of the control.
pub const SIZES: [usize; 5] = [50, 250, 1_000, 4_000, 16_000];
/// Canaries planted per size.
pub const CANARIES: usize = 16;
/// Reference users for the canaries' threshold.
const REFERENCES: usize = 1_000;

/// The control at one training size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SizePoint {
    /// Training members (canaries included).
    pub training_users: u64,
    /// Loss-threshold attack AUC on those members vs as many non-members
    /// (0.5 = chance), with a bootstrap interval.
    pub attack_auc: Est,
    /// Whether the interval lies above 0.5 (membership leaks).
    pub leaks: bool,
    /// Canaries planted.
    pub canaries: u64,
    /// Canaries found (loss score above the references' 99th percentile;
    /// chance ≈ 1 % of them).
    pub canaries_found: u64,
}

/// The same-family control across sizes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SameFamilyControl {
    /// The audited model's family (and its hyperparameters).
    pub family: String,
    /// One point per training size.
    pub sizes: Vec<SizePoint>,
    /// The largest size at which membership still leaks (None: at none).
    pub leaks_up_to: Option<u64>,
}

/// Attack AUC with a bootstrap interval (members first in `score`).
fn auc_est(score: &[f64], n_in: usize, seed: u64, bootstrap: u32) -> Est {
    let label: Vec<bool> = (0..score.len()).map(|k| k < n_in).collect();
    let n = score.len() as u64;
    let v: Vec<f64> = (0..bootstrap as u64)
        .map(|b| {
            let ix: Vec<usize> = (0..n)
                .map(|k| (crate::sim::rng::mix64(seed ^ (b << 32) ^ k) % n) as usize)
                .collect();
            let s: Vec<f64> = ix.iter().map(|&i| score[i]).collect();
            let l: Vec<bool> = ix.iter().map(|&i| label[i]).collect();
            metrics::auc(&s, &l)
        })
        .collect();
    Est {
        value: metrics::auc(score, &label),
        ci95: ci95(v),
    }
}

/// Canaries and references: held-out users without an event, not in
/// `avoid` (the attack's non-members).
fn canary_pool(t: &Target, split: &Split, avoid: &[usize], seed: u64) -> Vec<usize> {
    let clean: Vec<usize> = split
        .non_members
        .iter()
        .copied()
        .filter(|&i| !t.data.nsf[i] && avoid.binary_search(&i).is_err())
        .collect();
    hash_sample(
        t.data,
        &clean,
        seed ^ 0xCA7A,
        CANARIES * SIZES.len() + REFERENCES,
    )
}

/// The control at every size that the members and non-members allow.
pub(crate) fn same_family_control(
    t: &Target,
    split: &Split,
    progress: &dyn Fn(&str),
) -> Result<SameFamilyControl> {
    let (data, params) = (t.data, t.params);
    let largest = SIZES[SIZES.len() - 1];
    let m = hash_sample(data, split.members, params.seed ^ 0x5F, largest);
    let mut non = hash_sample(data, split.non_members, params.seed ^ 0x5F, largest);
    let cap = m.len().min(non.len());
    non.sort_unstable();
    let pool = canary_pool(t, split, &non, params.seed);
    let (refs, canaries) = pool.split_at(REFERENCES.min(pool.len()));
    let mut labels = data.nsf.clone();
    for &i in pool.iter() {
        labels[i] = true;
    }
    let mut sizes = Vec::new();
    for (k, &n) in SIZES.iter().enumerate().filter(|&(_, &n)| n <= cap) {
        // The model without the canaries needs an event among the members.
        if !m[..n].iter().any(|&i| data.nsf[i]) {
            continue;
        }
        progress(&format!("same-family control: {n} training users"));
        let planted = canaries
            .get(k * CANARIES..(k + 1) * CANARIES)
            .unwrap_or(&[]);
        sizes.push(size_point(t, &m[..n], &non[..n], planted, refs, &labels)?);
    }
    let leaks_up_to = sizes
        .iter()
        .filter(|s| s.leaks)
        .map(|s| s.training_users)
        .max();
    Ok(SameFamilyControl {
        family: t.spec.name().to_string(),
        sizes,
        leaks_up_to,
    })
}

/// One size: fit on `members` + `planted` (labels with the canaries
/// relabelled), attack `members` vs `non`, look for the canaries.
fn size_point(
    t: &Target,
    members: &[usize],
    non: &[usize],
    planted: &[usize],
    refs: &[usize],
    labels: &[bool],
) -> Result<SizePoint> {
    let (data, params) = (t.data, t.params);
    let mut train_rows: Vec<usize> = members.iter().chain(planted).copied().collect();
    train_rows.sort_unstable();
    let (model, _) = train::fit_model(
        t.design,
        t.attrs,
        &train_rows,
        labels,
        None,
        t.spec,
        params.seed,
    )?;
    let eval: Vec<usize> = members.iter().chain(non).copied().collect();
    let p = model.predict(&t.design.select_rows(&eval))?;
    let score: Vec<f64> = eval
        .iter()
        .zip(&p)
        .map(|(&i, &q)| log_lik(q, data.nsf[i]))
        .collect();
    let attack_auc = auc_est(&score, members.len(), params.seed, params.bootstrap);
    let (without, _) = train::fit_model(
        t.design,
        t.attrs,
        members,
        labels,
        None,
        t.spec,
        params.seed,
    )?;
    // Rise in ln P(nsf = 1) from the model without the canaries to the one
    // with them.
    let rise = |rows: &[usize]| -> Result<Vec<f64>> {
        let x = t.design.select_rows(rows);
        let (a, b) = (model.predict(&x)?, without.predict(&x)?);
        Ok(a.iter()
            .zip(&b)
            .map(|(&p, &q)| log_lik(p, true) - log_lik(q, true))
            .collect())
    };
    let mut r = rise(refs)?;
    r.sort_by(f64::total_cmp);
    let cut = r
        .get((r.len() * 99) / 100)
        .copied()
        .unwrap_or(f64::INFINITY);
    let found = rise(planted)?.iter().filter(|&&v| v > cut).count();
    Ok(SizePoint {
        training_users: train_rows.len() as u64,
        leaks: attack_auc.ci95[0] > 0.5,
        attack_auc,
        canaries: planted.len() as u64,
        canaries_found: found as u64,
    })
}
