//! The same-family positive control: the audited model's own family and
//! hyperparameters, trained on small samples of its members (50 to 12,800
//! users), each with planted canaries, attacked with the loss threshold
//! (on every attacked user, and on those with the event).
//! Shows at which training size a model like the audited one leaks
//! membership, at which it no longer does detectably, and whether the
//! attack finds records planted to be found.
//!
//! Power: one model on 50 users gives 50 members to attack, too few to see
//! anything. So each size is fitted on many disjoint samples (replicates,
//! `ROWS_PER_SIZE / size` of them, at least 1, at most `MAX_REPLICATES`),
//! each attacked
//! against its own as many non-members, and the scores are pooled: every
//! size attacks about as many members. The interval is the stratified
//! bootstrap over users (members and non-members resampled apart), given
//! the fitted models. A replicate whose members have no event is skipped
//! (no model of this kind is trained without one); `models` counts those
//! used.
//!
//! Canaries (the "exposure" design of Carlini et al. 2019, "The Secret
//! Sharer"): outliers no user is. A canary's attributes are each copied from
//! a different random user of the population (one attribute = all its
//! design columns, so one-hot groups stay whole), so the combination is
//! unusual; its label is NSF = 1 (the rare outcome) and it is added
//! `CANARY_REPEATS` times to the training set. The attacker compares the
//! model with the same model trained without the canaries: a canary is
//! found when its rise in ln P(nsf = 1) is above the 99th percentile of the
//! rise of `REFERENCES` reference canaries (made the same way, never
//! trained on) under the same two models. Chance finds 1 % of them.

use ndarray::{Array2, Axis, concatenate};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use crate::audit::membership::{Split, log_lik};
use crate::audit::{Est, Target, hash_sample};
use crate::data::features::{Design, transform_names};
use crate::error::Result;
use crate::models::train;
use crate::sim::rng::mix64;
use crate::stats::interval::ci95;
use crate::stats::metrics;

/// Training sizes of the control (members per model, canaries excluded).
pub const SIZES: [usize; 9] = [50, 100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800];
/// Members attacked per size (summed over its replicates; one model at
/// the sizes above).
pub const ROWS_PER_SIZE: usize = 8_000;
/// Members (and non-members) sampled for the control: the largest size.
const POOL: usize = 12_800;
/// Replicate models per size at most.
pub const MAX_REPLICATES: usize = 40;
/// Canaries planted per size (about; spread over its replicates).
pub const CANARIES_PER_SIZE: usize = 64;
/// Copies of each canary in the training set.
pub const CANARY_REPEATS: usize = 4;
/// Reference canaries (never trained on) for the 99th-percentile cut.
pub const REFERENCES: usize = 400;
/// Users whose attributes canaries are assembled from.
const SOURCES: usize = 4_000;

/// How the canaries are made (recorded in `audit.json`).
pub const CANARY_DESIGN: &str = "each canary is an outlier no user is: every attribute copied from a different random user of the population (one attribute = all its design columns), label NSF = 1, added 4 times to the training set of one replicate model; found when its rise in ln P(nsf = 1) from the model trained without the canaries to the model trained with them is above the 99th percentile of the rise of 400 reference canaries made the same way and never trained on (chance: 1 %)";

/// The control at one training size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SizePoint {
    /// Training members of each model (canaries excluded).
    pub training_users: u64,
    /// Replicate models fitted on disjoint samples of that size (and
    /// attacked), scores pooled.
    pub models: u64,
    /// Members attacked (over all models), and as many non-members.
    pub members_attacked: u64,
    /// Loss-threshold attack AUC, members vs non-members (0.5 = chance),
    /// with a stratified bootstrap interval.
    pub attack_auc: Est,
    /// The same AUC among attacked users with the event (NSF = 1): is a
    /// person who failed identifiable as a member?
    pub attack_auc_events: Option<Est>,
    /// Whether membership leaks: the interval of `attack_auc` or of
    /// `attack_auc_events` lies above 0.5.
    pub leaks: bool,
    /// Canaries planted (over all models).
    pub canaries: u64,
    /// Canaries found (rise above the references' 99th percentile).
    pub canaries_found: u64,
    /// Share found, with its exact (Clopper–Pearson) 95% interval; chance
    /// is 0.01.
    pub canaries_found_share: Est,
}

/// The same-family control across sizes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SameFamilyControl {
    /// The audited model's family (and its hyperparameters).
    pub family: String,
    /// How the canaries are made and found.
    #[serde(default)]
    pub canary_design: String,
    /// One point per training size.
    pub sizes: Vec<SizePoint>,
    /// The largest size at which membership still leaks (None: at none).
    pub leaks_up_to: Option<u64>,
    /// The smallest size from which no larger size tried leaks detectably
    /// (None: the largest size tried still leaks, or none was tried).
    #[serde(default)]
    pub undetectable_from: Option<u64>,
}

/// Exact (Clopper–Pearson) 95% interval of `k` successes in `n` trials.
fn clopper_pearson(k: u64, n: u64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let (kf, nf) = (k as f64, n as f64);
    let lo = if k == 0 {
        0.0
    } else {
        Beta::new(kf, nf - kf + 1.0).map_or(0.0, |b| b.inverse_cdf(0.025))
    };
    let hi = if k == n {
        1.0
    } else {
        Beta::new(kf + 1.0, nf - kf).map_or(1.0, |b| b.inverse_cdf(0.975))
    };
    [lo, hi]
}

/// Attack AUC of `members` vs `non` scores with a stratified bootstrap
/// interval (members and non-members resampled apart).
fn auc_est(members: &[f64], non: &[f64], seed: u64, bootstrap: u32) -> Est {
    let auc_of = |m: &[f64], n: &[f64]| {
        let s: Vec<f64> = m.iter().chain(n).copied().collect();
        let y: Vec<bool> = (0..s.len()).map(|k| k < m.len()).collect();
        metrics::auc(&s, &y)
    };
    let v: Vec<f64> = (0..bootstrap as u64)
        .into_par_iter()
        .map(|b| {
            let draw = |v: &[f64], salt: u64| -> Vec<f64> {
                (0..v.len() as u64)
                    .map(|k| {
                        v[(mix64(seed ^ mix64(b * 0x9E37 + salt) ^ k) % v.len() as u64) as usize]
                    })
                    .collect()
            };
            auc_of(&draw(members, 1), &draw(non, 2))
        })
        .collect();
    Est {
        value: auc_of(members, non),
        ci95: ci95(v),
    }
}

/// The control's own rows: sampled members, sampled non-members, canaries
/// and reference canaries, in one small design (the data set's is never
/// copied whole).
struct Local {
    design: Design,
    /// NSF per local row (canaries: true).
    labels: Vec<bool>,
    /// Local rows of the sampled members, non-members, canaries, references.
    members: Vec<usize>,
    non: Vec<usize>,
    canaries: Vec<usize>,
    refs: Vec<usize>,
}

/// Column ranges of the model's attributes (one-hot groups whole); one
/// column each when the attributes do not map onto the design's columns
/// (a table's encodings).
fn attribute_blocks(t: &Target) -> Vec<(usize, usize)> {
    let d = t.design.x.ncols();
    let widths: Vec<usize> = t.attrs.iter().map(|a| transform_names(a).len()).collect();
    if widths.iter().sum::<usize>() != d {
        return (0..d).map(|j| (j, j + 1)).collect();
    }
    let mut start = 0;
    widths
        .into_iter()
        .map(|w| {
            start += w;
            (start - w, start)
        })
        .collect()
}

/// `n` canary rows assembled from the `sources` rows of the design.
fn canary_rows(t: &Target, sources: &[usize], n: usize, seed: u64) -> Array2<f32> {
    let blocks = attribute_blocks(t);
    let mut x = Array2::<f32>::zeros((n, t.design.x.ncols()));
    for c in 0..n {
        for (k, &(a, b)) in blocks.iter().enumerate() {
            let h = mix64(seed ^ mix64(((c as u64) << 20) + k as u64 + 1));
            let src = sources[(h % sources.len() as u64) as usize];
            for j in a..b {
                x[[c, j]] = t.design.x[[src, j]];
            }
        }
    }
    x
}

impl Local {
    fn new(t: &Target, split: &Split, n_canaries: usize) -> Local {
        let (data, seed) = (t.data, t.params.seed);
        let m = hash_sample(data, split.members, seed ^ 0x5F, POOL);
        let non = hash_sample(data, split.non_members, seed ^ 0x5F, POOL);
        let everyone: Vec<usize> = split
            .members
            .iter()
            .chain(split.non_members)
            .copied()
            .collect();
        let sources = hash_sample(data, &everyone, seed ^ 0x50C, SOURCES);
        let real: Vec<usize> = m.iter().chain(&non).copied().collect();
        let fake = canary_rows(t, &sources, n_canaries + REFERENCES, seed ^ 0xCA7A);
        let x = concatenate(
            Axis(0),
            &[t.design.select_rows(&real).x.view(), fake.view()],
        )
        .expect("same columns");
        let mut labels: Vec<bool> = real.iter().map(|&i| data.nsf[i]).collect();
        labels.resize(x.nrows(), true);
        let (a, b, c) = (
            m.len(),
            m.len() + non.len(),
            m.len() + non.len() + n_canaries,
        );
        Local {
            design: Design {
                x,
                names: t.design.names.clone(),
            },
            labels,
            members: (0..a).collect(),
            non: (a..b).collect(),
            canaries: (b..c).collect(),
            refs: (c..c + REFERENCES).collect(),
        }
    }
}

/// Replicates and canaries per model at size `n` with `available` members
/// and non-members each.
fn plan(n: usize, available: usize) -> (usize, usize) {
    let reps = (ROWS_PER_SIZE / n)
        .clamp(1, MAX_REPLICATES)
        .min(available / n);
    // At most one canary per 200 members (4 copies: 2 % of the rows).
    let per_model = (CANARIES_PER_SIZE / reps.max(1)).min(n / 200).max(1);
    (reps, per_model)
}

/// The control at every size that the members and non-members allow.
pub(crate) fn same_family_control(
    t: &Target,
    split: &Split,
    progress: &dyn Fn(&str),
) -> Result<SameFamilyControl> {
    let available = split.members.len().min(split.non_members.len()).min(POOL);
    let plans: Vec<(usize, usize, usize)> = SIZES
        .iter()
        .map(|&n| {
            let (r, q) = plan(n, available);
            (n, r, q)
        })
        .filter(|&(_, r, _)| r > 0)
        .collect();
    let total: usize = plans.iter().map(|&(_, r, q)| r * q).sum();
    let local = Local::new(t, split, total);
    let mut sizes = Vec::new();
    let mut offset = 0;
    for (k, &(n, reps, q)) in plans.iter().enumerate() {
        progress(&format!(
            "same-family control: {reps} models of {n} training users"
        ));
        let canaries = &local.canaries[offset..offset + reps * q];
        offset += reps * q;
        if let Some(p) = size_point(t, &local, n, canaries, q, k as u64)? {
            sizes.push(p);
        }
    }
    let leaks_up_to = sizes
        .iter()
        .filter(|s| s.leaks)
        .map(|s| s.training_users)
        .max();
    let undetectable_from = sizes
        .iter()
        .rev()
        .take_while(|s| !s.leaks)
        .last()
        .map(|s| s.training_users);
    Ok(SameFamilyControl {
        family: t.spec.name().to_string(),
        canary_design: CANARY_DESIGN.into(),
        sizes,
        leaks_up_to,
        undetectable_from,
    })
}

/// What one replicate model gave: loss scores of its members and
/// non-members, their labels, and its canaries found.
struct RepOut {
    members: Vec<f64>,
    non: Vec<f64>,
    member_events: Vec<bool>,
    non_events: Vec<bool>,
    found: u64,
    planted: u64,
}

/// One size: `reps` models on disjoint samples of `n` members, each with
/// `q` of `canaries` planted; `None` when no replicate has an event.
fn size_point(
    t: &Target,
    local: &Local,
    n: usize,
    canaries: &[usize],
    q: usize,
    salt: u64,
) -> Result<Option<SizePoint>> {
    let reps = canaries.len() / q;
    let outs: Vec<Option<RepOut>> = (0..reps)
        .into_par_iter()
        .map(|r| {
            let m = &local.members[r * n..(r + 1) * n];
            let non = &local.non[r * n..(r + 1) * n];
            replicate(t, local, m, non, &canaries[r * q..(r + 1) * q], r as u64)
        })
        .collect::<Result<_>>()?;
    let outs: Vec<RepOut> = outs.into_iter().flatten().collect();
    if outs.is_empty() {
        return Ok(None);
    }
    let mem: Vec<f64> = outs.iter().flat_map(|o| o.members.clone()).collect();
    let non: Vec<f64> = outs.iter().flat_map(|o| o.non.clone()).collect();
    let me: Vec<bool> = outs.iter().flat_map(|o| o.member_events.clone()).collect();
    let ne: Vec<bool> = outs.iter().flat_map(|o| o.non_events.clone()).collect();
    let seed = t.params.seed ^ mix64(salt + 0xC0);
    let attack_auc = auc_est(&mem, &non, seed, t.params.bootstrap);
    let pick = |v: &[f64], e: &[bool]| -> Vec<f64> {
        v.iter()
            .zip(e)
            .filter(|(_, y)| **y)
            .map(|(s, _)| *s)
            .collect()
    };
    let (mev, nev) = (pick(&mem, &me), pick(&non, &ne));
    let attack_auc_events = (mev.len() >= 5 && nev.len() >= 5)
        .then(|| auc_est(&mev, &nev, seed ^ 0xE7, t.params.bootstrap));
    let found: u64 = outs.iter().map(|o| o.found).sum();
    let planted: u64 = outs.iter().map(|o| o.planted).sum();
    Ok(Some(SizePoint {
        training_users: n as u64,
        models: outs.len() as u64,
        members_attacked: mem.len() as u64,
        leaks: attack_auc.ci95[0] > 0.5
            || attack_auc_events.as_ref().is_some_and(|e| e.ci95[0] > 0.5),
        attack_auc,
        attack_auc_events,
        canaries: planted,
        canaries_found: found,
        canaries_found_share: Est {
            value: found as f64 / planted.max(1) as f64,
            ci95: clopper_pearson(found, planted),
        },
    }))
}

/// One replicate: the model with its canaries (attacked) and without them.
fn replicate(
    t: &Target,
    local: &Local,
    members: &[usize],
    non: &[usize],
    planted: &[usize],
    r: u64,
) -> Result<Option<RepOut>> {
    let labels = &local.labels;
    if !members.iter().any(|&i| labels[i]) || members.iter().all(|&i| labels[i]) {
        return Ok(None);
    }
    let d = &local.design;
    let seed = t.params.seed.wrapping_add(r);
    let mut train_rows = members.to_vec();
    for _ in 0..CANARY_REPEATS {
        train_rows.extend_from_slice(planted);
    }
    let fit = |rows: &[usize]| train::fit_model(d, t.attrs, rows, labels, None, t.spec, seed);
    let (with, _) = fit(&train_rows)?;
    let (without, _) = fit(members)?;
    let loss = |rows: &[usize]| -> Result<Vec<f64>> {
        let p = with.predict(&d.select_rows(rows))?;
        Ok(rows
            .iter()
            .zip(&p)
            .map(|(&i, &q)| log_lik(q, labels[i]))
            .collect())
    };
    // Rise in ln P(nsf = 1) from the model without the canaries to the one
    // with them.
    let rise = |rows: &[usize]| -> Result<Vec<f64>> {
        let x = d.select_rows(rows);
        let (a, b) = (with.predict(&x)?, without.predict(&x)?);
        Ok(a.iter()
            .zip(&b)
            .map(|(&p, &q)| log_lik(p, true) - log_lik(q, true))
            .collect())
    };
    let mut cut = rise(&local.refs)?;
    cut.sort_by(f64::total_cmp);
    let cut = cut[(cut.len() * 99) / 100];
    let found = rise(planted)?.iter().filter(|&&v| v > cut).count() as u64;
    Ok(Some(RepOut {
        members: loss(members)?,
        non: loss(non)?,
        member_events: members.iter().map(|&i| labels[i]).collect(),
        non_events: non.iter().map(|&i| labels[i]).collect(),
        found,
        planted: planted.len() as u64,
    }))
}
