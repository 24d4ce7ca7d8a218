//! What a model still reveals about the people it was trained on, scored
//! against the truth the simulator knows:
//! - membership inference: a loss-threshold attack (Yeom et al. 2018) and
//!   the likelihood-ratio attack with shadow models (LiRA, Carlini et al.
//!   2022), with a deliberately overfit positive control;
//! - the court's question, "is the score the same information as the source
//!   data?": how well each of the 24 attributes can be inferred from the
//!   score (alone, and with public quasi-identifiers), in R², AUC and bits,
//!   and how many people the score singles out;
//! - the lawful replacement: a model trained on consented users only, and
//!   what it costs on the same held-out registered users.

pub mod reidentify;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::features::{Design, FeatureSet, age_band};
use crate::error::{NsfError, Result};
use crate::experiment::{Policy, ci95, expected_loss, paired_bootstrap};
use crate::lineage::registry::{self, ModelManifest};
use crate::models::gbdt::GbdtParams;
use crate::models::train::{self, LoadedData, ModelSpec, PopulationRule, StoredModel};
use crate::sim::rng::mix64;
use crate::sim::schema::{ATTRIBUTES, REGIONS, Role};
use crate::stats::metrics;

/// Audit settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditParams {
    /// Members and as many non-members attacked (at most; fewer when the
    /// held-out share of the population is smaller).
    pub eval_users: usize,
    /// Shadow models of LiRA.
    pub shadows: usize,
    /// Bootstrap resamples for every interval.
    pub bootstrap: u32,
    /// Training users of the overfit positive control.
    pub control_users: usize,
    /// Users sampled for attribute inference (all when fewer).
    pub attribute_users: usize,
    /// Seed of samples, shadows and resamples.
    pub seed: u64,
    /// Grouping policy for the replacement's money cost.
    pub policy: Policy,
}

impl Default for AuditParams {
    fn default() -> Self {
        AuditParams {
            eval_users: 10_000,
            shadows: 16,
            bootstrap: 200,
            control_users: 1_000,
            attribute_users: 4_000_000,
            seed: 7,
            policy: Policy {
                max_score_for_grouping: 10,
                loss_per_failed_charge_krw: 7000.0,
            },
        }
    }
}

impl AuditParams {
    /// Validates the settings.
    pub fn check(&self) -> Result<()> {
        if self.eval_users < 100 {
            return Err(NsfError::param("--eval-users", "use at least 100"));
        }
        if self.shadows < 4 {
            return Err(NsfError::param("--shadows", "use at least 4 shadow models"));
        }
        if self.bootstrap < 20 {
            return Err(NsfError::param("--bootstrap", "use at least 20 resamples"));
        }
        if self.attribute_users < 1_000 {
            return Err(NsfError::param("--attribute-users", "use at least 1000"));
        }
        if self.control_users < 100 {
            return Err(NsfError::param("--control-users", "use at least 100"));
        }
        Ok(())
    }
}

/// A figure with its 95% bootstrap interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Est {
    /// Point estimate.
    pub value: f64,
    /// 95% percentile-bootstrap interval.
    pub ci95: [f64; 2],
}

/// One membership attack against one model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// How well one attribute can be inferred.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttributeRow {
    /// Attribute name.
    pub attribute: String,
    /// `identifier`, `numeric`, `binary` or `categorical`.
    pub kind: String,
    /// Scale the R² is computed on (`log1p`, `raw`, ...).
    pub scale: String,
    /// R² (held-out half) predicting it from the score alone.
    pub r2_score: Est,
    /// R² from the quasi-identifiers (age band, region) alone.
    pub r2_quasi: Est,
    /// R² from the score and the quasi-identifiers.
    pub r2_score_quasi: Est,
    /// AUC from the score alone (binary attributes; 0.5 = no information).
    pub auc_score: Option<Est>,
    /// Mutual information between score and attribute (bits, bias-corrected).
    pub mi_bits: f64,
    /// Entropy of the attribute as binned (bits): the information there is.
    pub entropy_bits: f64,
}

/// How many people a key singles out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Uniqueness {
    /// The key (`score`, `age band + region`, ...).
    pub key: String,
    /// Distinct values of the key.
    pub groups: u64,
    /// Users alone in their group.
    pub unique_users: u64,
    /// Their share.
    pub unique_share: f64,
    /// Size of a typical user's group (median over users).
    pub median_group_size: u64,
}

/// The lawful replacement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Replacement {
    /// Registered ID of the consented-only model.
    pub model_id: String,
    /// Its training users.
    pub training_users: u64,
    /// Held-out registered users both are evaluated on.
    pub test_users: u64,
    /// AUC of the audited model.
    pub auc_audited: f64,
    /// AUC of the replacement.
    pub auc_replacement: f64,
    /// Replacement − audited, paired bootstrap.
    pub auc_diff: Est,
    /// Expected KRW lost per 1,000 users: audited model.
    pub loss_audited: f64,
    /// Same for the replacement.
    pub loss_replacement: f64,
    /// Replacement − audited, paired bootstrap.
    pub loss_diff: Est,
}

/// Everything `audit` found (`audit.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditResult {
    /// Always "audit".
    pub kind: String,
    /// nsfsim version.
    pub nsfsim_version: String,
    /// Settings.
    pub params: AuditParams,
    /// The audited model's manifest (a copy).
    pub model: ModelManifest,
    /// Users in the data set.
    pub users: u64,
    /// Membership inference.
    pub membership: Membership,
    /// Users the attribute inference used (all, or a seeded sample).
    pub attribute_sample: u64,
    /// Attribute inference from the score, one row per attribute.
    pub attributes: Vec<AttributeRow>,
    /// How many people the score (with quasi-identifiers) singles out.
    pub uniqueness: Vec<Uniqueness>,
    /// The lawful replacement.
    pub replacement: Replacement,
}

/// The `n` rows with the smallest seeded hash of their user ID, in hash
/// order: a reproducible random sample, in O(rows) (no full sort at 40 M).
fn hash_sample(data: &LoadedData, rows: &[usize], seed: u64, n: usize) -> Vec<usize> {
    let mut v: Vec<(u64, usize)> = rows
        .par_iter()
        .map(|&i| (mix64(seed ^ mix64(data.user_id[i])), i))
        .collect();
    let n = n.min(v.len());
    if n < v.len() {
        v.select_nth_unstable(n);
        v.truncate(n);
    }
    v.sort_unstable();
    v.into_iter().map(|(_, i)| i).collect()
}

fn spec_of(m: &ModelManifest) -> Result<ModelSpec> {
    let mut h = m.hyperparameters.clone();
    if let Some(o) = h.as_object_mut() {
        o.remove("labels");
        o.remove("warm_start");
        o.insert("family".into(), m.family.clone().into());
    }
    serde_json::from_value(h).map_err(|e| NsfError::Input {
        path: m.model_id.clone().into(),
        message: format!("cannot rebuild the model's hyperparameters: {e}"),
    })
}

/// ln P(observed outcome) under `p`.
fn log_lik(p: f64, y: bool) -> f64 {
    let q = if y { p } else { 1.0 - p };
    q.clamp(1e-12, 1.0).ln()
}

/// LiRA's logit-scaled confidence in the observed outcome.
fn phi(p: f64, y: bool) -> f64 {
    let q = (if y { p } else { 1.0 - p }).clamp(1e-12, 1.0 - 1e-12);
    q.ln() - (1.0 - q).ln()
}

/// TPR at false-positive rate `fpr`: threshold at the (1 − fpr) quantile of
/// the non-members' scores.
fn tpr_at(members: &[f64], non: &[f64], fpr: f64) -> f64 {
    let mut s = non.to_vec();
    s.sort_by(f64::total_cmp);
    let k = ((1.0 - fpr) * s.len() as f64).ceil() as usize;
    let thr = s[k.min(s.len()).saturating_sub(1)];
    members.iter().filter(|&&v| v > thr).count() as f64 / members.len() as f64
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
    let point = [
        auc_of(members, non),
        tpr_at(members, non, 0.001),
        tpr_at(members, non, 0.01),
    ];
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
        boots.push([auc_of(&m, &n), tpr_at(&m, &n, 0.001), tpr_at(&m, &n, 0.01)]);
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
    let members: Vec<f64> = score
        .iter()
        .zip(label)
        .filter(|(_, y)| **y)
        .map(|(s, _)| *s)
        .collect();
    let non: Vec<f64> = score
        .iter()
        .zip(label)
        .filter(|(_, y)| !**y)
        .map(|(s, _)| *s)
        .collect();
    (0..=40)
        .map(|k| {
            let fpr = 10f64.powf(-4.0 + 4.0 * k as f64 / 40.0);
            (fpr, tpr_at(&members, &non, fpr).max(1e-4))
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
    attrs: &[String],
    spec: &ModelSpec,
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
    for k in 0..params.shadows {
        progress(&format!("    shadow {}/{}", k + 1, params.shadows));
        let rows: Vec<usize> = pool.iter().copied().filter(|&i| is_in(k, i)).collect();
        let (m, _) = train::fit_model(
            design,
            attrs,
            &rows,
            &data.nsf,
            None,
            spec,
            params.seed + k as u64,
        )?;
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
pub fn control_spec() -> ModelSpec {
    ModelSpec::Gbdt(GbdtParams {
        iterations: 300,
        learning_rate: 0.3,
        max_depth: 8,
        nbins: 255,
        l2: 0.0,
        min_leaf_weight: 1e-6,
    })
}

/// The value of every attribute per row, on the scale R² is computed on.
struct AttributeValues {
    name: String,
    kind: &'static str,
    scale: &'static str,
    /// Value per row (category index for `region`).
    values: Vec<f64>,
}

/// One design column's values on `rows`.
fn design_column(data: &LoadedData, name: &str, rows: &[usize]) -> Option<Vec<f64>> {
    let d = &data.design;
    let j = d.names.iter().position(|n| n == name)?;
    let c = d.x.column(j);
    Some(rows.iter().map(|&i| c[i] as f64).collect())
}

/// Region index (0 = the reference region) on `rows`, as values.
fn region_index(data: &LoadedData, rows: &[usize]) -> Vec<f64> {
    let r = data
        .design
        .region_index(rows)
        .expect("region is a full feature");
    r.into_iter().map(|k| k as f64).collect()
}

/// Every attribute's values on `rows` (identifiers from `ids`, already on
/// those rows).
fn attribute_values(
    data: &LoadedData,
    ids: &HashMap<&str, Vec<f64>>,
    rows: &[usize],
) -> Vec<AttributeValues> {
    let col = |name: &str| design_column(data, name, rows);
    let mut out = Vec::new();
    for a in ATTRIBUTES.iter() {
        let name = a.name;
        let (kind, scale, values) = if a.role == Role::Identifier {
            ("identifier", "value", ids[name].clone())
        } else if name == "region" {
            ("categorical", "one-hot", region_index(data, rows))
        } else if name == "device_os" {
            (
                "binary",
                "ios = 1",
                col("device_os=ios").unwrap_or_default(),
            )
        } else if name == "auto_topup" {
            ("binary", "on = 1", col("auto_topup").unwrap_or_default())
        } else if let Some(v) = col(name) {
            ("numeric", "raw", v)
        } else {
            (
                "numeric",
                "log1p",
                col(&format!("log1p({name})")).unwrap_or_default(),
            )
        };
        out.push(AttributeValues {
            name: name.into(),
            kind,
            scale,
            values,
        });
    }
    out
}

/// Age band (`features::age_band`, as in `compare`'s subgroups) × region
/// index: the public quasi-identifiers.
fn quasi_key(age: f64, region: f64) -> u32 {
    age_band(age as u32) as u32 * 32 + region as u32
}

/// Smallest cell whose mean is used as a prediction.
const MIN_CELL: u64 = 20;

/// Predictions, for the rows of half B, of `v` by the half-A mean of its
/// cell (`key`, a small dense integer), falling back to `fallback`'s cell and
/// then the half-A mean when a cell has fewer than `MIN_CELL` half-A users.
fn cross_fit(
    v: &[f64],
    key: &[u32],
    fallback: Option<&[u32]>,
    half_a: &[bool],
    rows_b: &[usize],
) -> Vec<f64> {
    let cells_of = |k: &[u32]| {
        let mut c = vec![(0.0f64, 0u64); k.iter().max().map_or(0, |&m| m as usize + 1)];
        for i in (0..v.len()).filter(|&i| half_a[i]) {
            c[k[i] as usize].0 += v[i];
            c[k[i] as usize].1 += 1;
        }
        c
    };
    let cells = cells_of(key);
    let fb = fallback.map(cells_of);
    let (sum, n) = (0..v.len())
        .filter(|&i| half_a[i])
        .fold((0.0, 0u64), |(s, n), i| (s + v[i], n + 1));
    let grand = sum / n.max(1) as f64;
    rows_b
        .iter()
        .map(|&i| match cells[key[i] as usize] {
            (s, c) if c >= MIN_CELL => s / c as f64,
            _ => match (&fb, fallback) {
                (Some(fb), Some(f)) if fb[f[i] as usize].1 >= MIN_CELL => {
                    fb[f[i] as usize].0 / fb[f[i] as usize].1 as f64
                }
                _ => grand,
            },
        })
        .collect()
}

/// Bins of an attribute for mutual information: categories as they are,
/// numeric values in up to 10 quantile bins.
fn bins(a: &AttributeValues) -> Vec<u32> {
    if a.kind == "categorical" || a.kind == "binary" {
        return a.values.iter().map(|&v| v as u32).collect();
    }
    let mut s: Vec<f64> = a.values.iter().step_by(17).copied().collect();
    s.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..10).map(|k| s[k * (s.len() - 1) / 10]).collect();
    cuts.dedup();
    a.values
        .iter()
        .map(|&v| cuts.partition_point(|&c| c < v) as u32)
        .collect()
}

/// Plug-in mutual information (bits) with the Miller–Madow correction, and
/// the entropy of `b` (both small dense integers).
fn mutual_information(a: &[u32], b: &[u32]) -> (f64, f64) {
    let n = a.len() as f64;
    let (na, nb) = (
        *a.iter().max().unwrap_or(&0) as usize + 1,
        *b.iter().max().unwrap_or(&0) as usize + 1,
    );
    let mut joint = vec![0u64; na * nb];
    for (&x, &y) in a.iter().zip(b) {
        joint[x as usize * nb + y as usize] += 1;
    }
    let ma: Vec<u64> = (0..na)
        .map(|x| joint[x * nb..(x + 1) * nb].iter().sum())
        .collect();
    let mb: Vec<u64> = (0..nb)
        .map(|y| (0..na).map(|x| joint[x * nb + y]).sum())
        .collect();
    let h = |m: &[u64]| -> f64 {
        m.iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum()
    };
    let used = |m: &[u64]| m.iter().filter(|&&c| c > 0).count();
    let (ha, hb, hab) = (h(&ma), h(&mb), h(&joint));
    let bias = ((used(&ma).max(1) - 1) * (used(&mb).max(1) - 1)) as f64
        / (2.0 * n * std::f64::consts::LN_2);
    ((ha + hb - hab - bias).max(0.0), hb)
}

fn uniqueness(key_name: &str, keys: &[u32]) -> Uniqueness {
    let mut counts = vec![0u64; keys.iter().max().map_or(0, |&m| m as usize + 1)];
    for &k in keys {
        counts[k as usize] += 1;
    }
    let unique = counts.iter().filter(|&&c| c == 1).count() as u64;
    // Median over users of their group size.
    let mut sizes: Vec<u64> = counts.iter().copied().filter(|&c| c > 0).collect();
    sizes.sort_unstable();
    let half = keys.len() as u64 / 2;
    let mut acc = 0;
    let mut median = 0;
    for size in &sizes {
        acc += size;
        if acc > half {
            median = *size;
            break;
        }
    }
    Uniqueness {
        key: key_name.into(),
        groups: sizes.len() as u64,
        unique_users: unique,
        unique_share: unique as f64 / keys.len() as f64,
        median_group_size: median,
    }
}

fn identifier_values(
    dir: &Path,
    data: &LoadedData,
    rows: &[usize],
) -> Result<HashMap<&'static str, Vec<f64>>> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    let names = ["account_id", "customer_no", "phone_sha256", "email_sha256"];
    let path = dir.join(&data.manifest.files[0].name);
    let batches = crate::data::artifact::read_parquet_columns(&path, &names)?;
    let mut out: HashMap<&'static str, Vec<f64>> = HashMap::new();
    for name in names {
        let mut v = Vec::with_capacity(data.rows());
        for b in &batches {
            let c = b.column_by_name(name).expect("projected");
            if let Some(p) = c.as_primitive_opt::<UInt64Type>() {
                v.extend(p.values().iter().map(|&x| x as f64));
            } else {
                let f = c.as_fixed_size_binary();
                v.extend((0..f.len()).map(|i| {
                    let bytes: [u8; 8] = f.value(i)[..8].try_into().expect("32-byte digest");
                    u64::from_le_bytes(bytes) as f64
                }));
            }
        }
        out.insert(name, rows.iter().map(|&i| v[i]).collect());
    }
    Ok(out)
}

/// Runs the audit of registered model `model_id` on the data set it was
/// trained on; registers the lawful replacement in `registry`.
pub fn run(
    registry: &Path,
    model_id: &str,
    data_dir: &Path,
    params: &AuditParams,
    progress: &dyn Fn(&str),
) -> Result<AuditResult> {
    params.check()?;
    let (manifest, model) = train::load_model(registry, model_id)?;
    let spec = spec_of(&manifest)?;
    let full = FeatureSet::Full.attributes()?;
    progress("loading the data set");
    let data = train::load_data(data_dir, &full)?;
    if data.data_ref.manifest_sha256 != manifest.data.manifest_sha256 {
        return Err(NsfError::Input {
            path: data_dir.join("manifest.json"),
            message: format!(
                "not the data set model {model_id} was trained on (its manifest SHA-256 differs); membership truth needs that data set"
            ),
        });
    }
    let rule = PopulationRule::parse(&manifest.population_rule)?;
    let attrs = model.features().to_vec();
    let selected;
    let design: &Design = if attrs == full {
        &data.design
    } else {
        selected = data.design.select_attributes(&full, &attrs);
        &selected
    };
    let seed = data.manifest.seed;
    // One pass: the population's users, split by the holdout hash.
    let (non_members, members): (Vec<usize>, Vec<usize>) = (0..data.rows())
        .filter(|&i| data.in_population(rule, i))
        .partition(|&i| train::is_holdout(seed, data.user_id[i]));
    let mut ids: Vec<u64> = members.iter().map(|&i| data.user_id[i]).collect();
    if registry::member_digest(&mut ids) != manifest.training_members.digest {
        return Err(NsfError::Input {
            path: data_dir.to_path_buf(),
            message: format!(
                "the training members recomputed from the data do not match model {model_id}'s member digest"
            ),
        });
    }
    progress("scoring every user");
    let p_all = model.predict(design)?;

    // Membership inference against the audited model.
    let n_eval = params.eval_users.min(non_members.len()).min(members.len());
    let eval_m = hash_sample(&data, &members, params.seed, n_eval);
    let eval_n = hash_sample(&data, &non_members, params.seed, n_eval);
    let loss_scores = |rows: &[usize], p: &dyn Fn(usize) -> f64| -> Vec<f64> {
        rows.iter().map(|&i| log_lik(p(i), data.nsf[i])).collect()
    };
    let mut attacks = vec![attack_result(
        "model",
        "loss-threshold",
        &loss_scores(&eval_m, &|i| p_all[i]),
        &loss_scores(&eval_n, &|i| p_all[i]),
        params,
    )];
    progress(&format!(
        "LiRA on the model: {} shadow models",
        params.shadows
    ));
    let pool: Vec<usize> = members.iter().chain(&non_members).copied().collect();
    let eval: Vec<usize> = eval_m.iter().chain(&eval_n).copied().collect();
    let tp: Vec<f64> = eval.iter().map(|&i| p_all[i]).collect();
    let lr = lira(
        &data, design, &attrs, &spec, &pool, &eval, &tp, params, 1, progress,
    )?;
    attacks.push(attack_result(
        "model",
        "lira",
        &lr[..n_eval],
        &lr[n_eval..],
        params,
    ));

    // Positive control: an overfit model on a small sample of the same users.
    progress("positive control: an overfit model on a small sample");
    let c = params.control_users.min(n_eval);
    let c_in: Vec<usize> = eval_m[..c].to_vec();
    let c_out: Vec<usize> = eval_n[..c].to_vec();
    let cspec = control_spec();
    let (cmodel, _) =
        train::fit_model(design, &attrs, &c_in, &data.nsf, None, &cspec, params.seed)?;
    let c_eval: Vec<usize> = c_in.iter().chain(&c_out).copied().collect();
    let cp = cmodel.predict(&design.select_rows(&c_eval))?;
    let cy: Vec<bool> = c_eval.iter().map(|&i| data.nsf[i]).collect();
    let cl: Vec<f64> = cp.iter().zip(&cy).map(|(&p, &y)| log_lik(p, y)).collect();
    attacks.push(attack_result(
        "overfit control",
        "loss-threshold",
        &cl[..c],
        &cl[c..],
        params,
    ));
    let clr = lira(
        &data, design, &attrs, &cspec, &c_eval, &c_eval, &cp, params, 2, progress,
    )?;
    attacks.push(attack_result(
        "overfit control",
        "lira",
        &clr[..c],
        &clr[c..],
        params,
    ));
    let control = Control {
        model: serde_json::to_value(&cspec).expect("spec serializes"),
        training_users: c as u64,
        train_auc: metrics::auc(&cp[..c], &cy[..c]),
        test_auc: metrics::auc(&cp[c..], &cy[c..]),
    };

    // The court's question: attributes from the score.
    progress("attribute inference from the score");
    let score: Vec<u8> = p_all.iter().map(|&p| train::score_of(p)).collect();
    // Singling out: on every user.
    let every: Vec<usize> = (0..data.rows()).collect();
    let age_all = design_column(&data, "age_years", &every).expect("age is a full feature");
    let region_all = region_index(&data, &every);
    let device_all = design_column(&data, "device_os=ios", &every).expect("device_os");
    let quasi_all: Vec<u32> = (0..data.rows())
        .map(|i| quasi_key(age_all[i], region_all[i]))
        .collect();
    let exact_q: Vec<u32> = (0..data.rows())
        .map(|i| (age_all[i] as u32 * 32 + region_all[i] as u32) * 2 + device_all[i] as u32)
        .collect();
    let key_with_score = |k: &[u32]| -> Vec<u32> {
        k.iter()
            .zip(&score)
            .map(|(&k, &s)| k * 128 + s as u32)
            .collect()
    };
    let score_all: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    let uniqueness = vec![
        uniqueness("score", &score_all),
        uniqueness("age band + region", &quasi_all),
        uniqueness("score + age band + region", &key_with_score(&quasi_all)),
        uniqueness("age + region + device", &exact_q),
        uniqueness("score + age + region + device", &key_with_score(&exact_q)),
    ];
    drop((age_all, region_all, device_all, exact_q));
    // Attribute inference: on every user, or a seeded sample of
    // `attribute_users` (users are i.i.d.; memory stays bounded at 40 M).
    let sample: Vec<usize> = if data.rows() <= params.attribute_users {
        every
    } else {
        let mut v = hash_sample(&data, &every, params.seed ^ 0xA77, params.attribute_users);
        v.sort_unstable();
        v
    };
    let idv = identifier_values(data_dir, &data, &sample)?;
    let values = attribute_values(&data, &idv, &sample);
    let score: Vec<u8> = sample.iter().map(|&i| score[i]).collect();
    let quasi: Vec<u32> = sample.iter().map(|&i| quasi_all[i]).collect();
    drop(quasi_all);
    let by_score: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    let by_both: Vec<u32> = (0..sample.len())
        .map(|i| quasi[i] * 128 + score[i] as u32)
        .collect();
    let half_a: Vec<bool> = sample
        .iter()
        .map(|&i| mix64(params.seed ^ 0x5EED ^ mix64(data.user_id[i])) & 1 == 0)
        .collect();
    let rows_b: Vec<usize> = (0..sample.len()).filter(|&i| !half_a[i]).collect();
    let score_bins: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    // Intervals: bootstrap on the first m half-B rows (users are i.i.d.),
    // widened or narrowed to the full half by sqrt(m / n).
    let m = rows_b.len().min(200_000);
    let widen = (m as f64 / rows_b.len() as f64).sqrt();
    let boot_rows: Vec<Vec<usize>> = (0..params.bootstrap.min(100) as u64)
        .map(|b| {
            (0..m as u64)
                .map(|k| (mix64(params.seed ^ mix64(b + 0xB00) ^ k) % m as u64) as usize)
                .collect()
        })
        .collect();
    let interval = |point: f64, sub_point: f64, v: Vec<f64>| {
        let [lo, hi] = ci95(v);
        Est {
            value: point,
            ci95: [
                point - (sub_point - lo) * widen,
                point + (hi - sub_point) * widen,
            ],
        }
    };
    let attributes: Vec<AttributeRow> = values
        .par_iter()
        .map(|a| {
            // A categorical attribute is R²-scored as its one-hot indicators
            // (the multi-class Brier skill score); others as one column.
            let columns: Vec<Vec<f64>> = if a.kind == "categorical" {
                (0..REGIONS.len())
                    .map(|k| {
                        a.values
                            .iter()
                            .map(|&v| (v as usize == k) as u8 as f64)
                            .collect()
                    })
                    .collect()
            } else {
                vec![a.values.clone()]
            };
            let truths: Vec<Vec<f64>> = columns
                .iter()
                .map(|c| rows_b.iter().map(|&i| c[i]).collect())
                .collect();
            let preds = |key: &[u32], fb: Option<&[u32]>| -> Vec<Vec<f64>> {
                columns
                    .iter()
                    .map(|c| cross_fit(c, key, fb, &half_a, &rows_b))
                    .collect()
            };
            // 1 − ΣSSE / ΣSST over the columns, on the rows `ix` of half B.
            let r2_rows = |pred: &[Vec<f64>], ix: &mut dyn Iterator<Item = usize>| {
                let ix: Vec<usize> = ix.collect();
                let (mut sse, mut sst) = (0.0, 0.0);
                for (p, t) in pred.iter().zip(&truths) {
                    let mt = ix.iter().map(|&k| t[k]).sum::<f64>() / ix.len() as f64;
                    for &k in &ix {
                        sse += (t[k] - p[k]).powi(2);
                        sst += (t[k] - mt).powi(2);
                    }
                }
                if sst <= 0.0 { 0.0 } else { 1.0 - sse / sst }
            };
            let est_r2 = |pred: &[Vec<f64>]| {
                let v: Vec<f64> = boot_rows
                    .iter()
                    .map(|ix| r2_rows(pred, &mut ix.iter().copied()))
                    .collect();
                interval(
                    r2_rows(pred, &mut (0..rows_b.len())),
                    r2_rows(pred, &mut (0..m)),
                    v,
                )
            };
            let ps_all = preds(&by_score, None);
            let pq = preds(&quasi, None);
            let pb = preds(&by_both, Some(&by_score));
            let truth = &truths[0];
            let ps = &ps_all[0];
            let auc_score = (a.kind == "binary").then(|| {
                let y: Vec<bool> = truth.iter().map(|&t| t > 0.5).collect();
                let v: Vec<f64> = boot_rows
                    .iter()
                    .map(|ix| {
                        let p: Vec<f64> = ix.iter().map(|&k| ps[k]).collect();
                        let t: Vec<bool> = ix.iter().map(|&k| y[k]).collect();
                        metrics::auc(&p, &t)
                    })
                    .collect();
                interval(metrics::auc(ps, &y), metrics::auc(&ps[..m], &y[..m]), v)
            });
            let (mi_bits, entropy_bits) = mutual_information(&score_bins, &bins(a));
            AttributeRow {
                attribute: a.name.clone(),
                kind: a.kind.into(),
                scale: a.scale.into(),
                r2_score: est_r2(&ps_all),
                r2_quasi: est_r2(&pq),
                r2_score_quasi: est_r2(&pb),
                auc_score,
                mi_bits,
                entropy_bits,
            }
        })
        .collect();
    // The lawful replacement: the same family and features on consented users.
    progress("lawful replacement: the same model on consented users only");
    let consented: Vec<usize> = (0..data.rows())
        .filter(|&i| !train::is_holdout(seed, data.user_id[i]) && data.consented[i])
        .collect();
    let (rmodel, hyper) = train::fit_model(
        design,
        &attrs,
        &consented,
        &data.nsf,
        None,
        &spec,
        manifest.training_seed,
    )?;
    let (rid, _) = train::register_model(
        &data,
        design,
        "consented",
        &consented,
        &rmodel,
        hyper,
        &spec,
        manifest.training_seed,
        registry,
        Vec::new(),
    )?;
    let replacement = replacement(&data, design, &model, &rmodel, rid, consented.len(), params)?;
    Ok(AuditResult {
        kind: "audit".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        params: params.clone(),
        model: manifest.clone(),
        users: data.rows() as u64,
        membership: Membership {
            training_members: members.len() as u64,
            population_rule: manifest.population_rule.clone(),
            shadows: params.shadows as u64,
            control,
            attacks,
        },
        attribute_sample: sample.len() as u64,
        attributes,
        uniqueness,
        replacement,
    })
}

fn replacement(
    data: &LoadedData,
    design: &Design,
    audited: &StoredModel,
    repl: &StoredModel,
    model_id: String,
    training_users: usize,
    params: &AuditParams,
) -> Result<Replacement> {
    let test = train::holdout_rows(data, PopulationRule::Registered);
    let td = design.select_rows(&test);
    let (pa, pr) = (audited.predict(&td)?, repl.predict(&td)?);
    let y: Vec<bool> = test.iter().map(|&i| data.nsf[i]).collect();
    let truth: Vec<f64> = test.iter().map(|&i| data.nsf_prob[i]).collect();
    let sa: Vec<u8> = pa.iter().map(|&p| train::score_of(p)).collect();
    let sr: Vec<u8> = pr.iter().map(|&p| train::score_of(p)).collect();
    let (la, _) = expected_loss(&sa, &truth, &params.policy);
    let (lr, _) = expected_loss(&sr, &truth, &params.policy);
    let n = test.len() as u64;
    // The same machinery as `compare`: both models on the same resamples.
    let (aa, ar) = (metrics::auc(&pa, &y), metrics::auc(&pr, &y));
    let boot = paired_bootstrap(
        &[pa, pr],
        &[sa, sr],
        &y,
        &truth,
        &params.policy,
        params.bootstrap,
        params.seed ^ 0xC0DE,
    );
    let da: Vec<f64> = boot.iter().map(|v| v[1].0 - v[0].0).collect();
    let dl: Vec<f64> = boot.iter().map(|v| v[1].1 - v[0].1).collect();
    Ok(Replacement {
        model_id,
        training_users: training_users as u64,
        test_users: n,
        auc_audited: aa,
        auc_replacement: ar,
        auc_diff: Est {
            value: ar - aa,
            ci95: ci95(da),
        },
        loss_audited: la,
        loss_replacement: lr,
        loss_diff: Est {
            value: lr - la,
            ci95: ci95(dl),
        },
    })
}
