//! The minimization experiment: on the same held-out registered users, what
//! it costs to train the NSF score only on registered or consented users, or
//! on a minimal feature set, instead of on everyone. Replicates regenerate
//! the population; differences between arms come from a paired bootstrap on
//! the same test users.

use std::path::{Path, PathBuf};

use rand::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::features::{AGE_BANDS, Design, FeatureSet, age_band};
use crate::data::generate::{self, Format, GenerateOptions};
use crate::error::{NsfError, Result};
use crate::models::logistic::{self, LogisticParams};
use crate::models::train::{self, LoadedData, ModelSpec, PopulationRule};
use crate::stats::metrics::{self, Evaluation};

/// Experiments shipped with nsfsim (also in `synthetic/experiments/`).
pub const EMBEDDED: [(&str, &str); 3] = [
    (
        "default",
        include_str!("../../synthetic/experiments/default.toml"),
    ),
    (
        "case",
        include_str!("../../synthetic/experiments/case.toml"),
    ),
    (
        "sweep-consent",
        include_str!("../../synthetic/experiments/sweep-consent.toml"),
    ),
];

/// The grouping policy that turns scores into money.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Users with a score at most this get grouped charges.
    pub max_score_for_grouping: u8,
    /// KRW lost per failed grouped charge.
    pub loss_per_failed_charge_krw: f64,
}

/// An experiment spec (TOML).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Name (the default output folder is `runs/<name>`).
    pub name: String,
    /// One line.
    pub description: String,
    /// Population preset (name or path).
    pub preset: String,
    /// `key=value` overrides of the preset (as `generate --set`).
    pub preset_overrides: Vec<String>,
    /// Users per replicate.
    pub users: u64,
    /// Replicate r uses population seed `seed + r`.
    pub seed: u64,
    /// Replicates.
    pub replicates: u32,
    /// Model family of every arm.
    pub model: String,
    /// Training arms.
    pub arms: Vec<String>,
    /// The minimal feature set.
    pub minimal_features: Vec<String>,
    /// Paired bootstrap resamples per replicate.
    pub bootstrap: u32,
    /// The grouping policy.
    pub policy: Policy,
    /// IPW arms: the estimated consent probability is floored at this value
    /// before inverting (weight truncation; 1/floor is the largest weight).
    #[serde(default = "default_ipw_min_prob")]
    pub ipw_min_prob: f64,
    /// Learning curves and subgroups (off for sweep cells).
    #[serde(default = "yes")]
    pub learning_curves: bool,
    /// Optional consent sweep.
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
}

fn yes() -> bool {
    true
}

fn default_ipw_min_prob() -> f64 {
    0.05
}

/// A grid of consent settings; each cell reruns `all`, `consented` and
/// `consented-ipw` on its own populations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Users per population in a cell.
    pub users: u64,
    /// Replicates per cell.
    pub replicates: u32,
    /// Consent rates.
    pub rates: Vec<f64>,
    /// Mechanisms: random, attributes, risk.
    pub mechanisms: Vec<String>,
    /// Strengths (ignored for `random`).
    pub strengths: Vec<f64>,
}

/// One cell of the consent sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepCell {
    /// Consent mechanism.
    pub mechanism: String,
    /// Its strength.
    pub strength: f64,
    /// Target consent rate.
    pub rate: f64,
    /// AUC − AUC(all) of consented-only training.
    pub auc_diff_consented: Interval,
    /// AUC − AUC(all) of IPW-weighted consented training.
    pub auc_diff_ipw: Interval,
    /// Expected-loss difference of consented-only training (KRW per 1,000).
    pub loss_diff_consented: Interval,
}

/// Runs the consent sweep of `spec` (cells in grid order).
pub fn run_sweep(
    spec: &ExperimentSpec,
    registry: &Path,
    data_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<Vec<SweepCell>> {
    let Some(sw) = &spec.sweep else {
        return Ok(Vec::new());
    };
    let mut cells = Vec::new();
    for m in &sw.mechanisms {
        let strengths: Vec<f64> = if m == "random" {
            vec![0.0]
        } else {
            sw.strengths.clone()
        };
        for &strength in &strengths {
            for &rate in &sw.rates {
                progress(&format!(
                    "sweep: consent {m}, strength {strength}, rate {rate}"
                ));
                let mut cell = spec.clone();
                cell.users = sw.users;
                cell.replicates = sw.replicates;
                cell.arms = vec!["all".into(), "consented".into(), "consented-ipw".into()];
                cell.bootstrap = cell.bootstrap.min(50);
                cell.learning_curves = false;
                cell.sweep = None;
                cell.preset_overrides.extend([
                    format!("consent.mechanism=\"{m}\""),
                    format!("consent.strength={strength}"),
                    format!("consent.rate={rate}"),
                ]);
                let (r, _) = run(&cell, registry, data_root, &|_| {})?;
                cells.push(SweepCell {
                    mechanism: m.clone(),
                    strength,
                    rate,
                    auc_diff_consented: r.summary[1].auc_diff_vs_all.clone(),
                    auc_diff_ipw: r.summary[2].auc_diff_vs_all.clone(),
                    loss_diff_consented: r.summary[1].loss_diff_vs_all.clone(),
                });
            }
        }
    }
    Ok(cells)
}

/// Loads an experiment by embedded name or path, with `--set` overrides.
pub fn load_spec(name_or_path: &str, overrides: &[String]) -> Result<ExperimentSpec> {
    let text = match EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        Some((_, t)) => t.to_string(),
        None => std::fs::read_to_string(name_or_path).map_err(|_| NsfError::Preset {
            source_name: name_or_path.into(),
            message:
                "unknown experiment (not a file, and not one of: default, case, sweep-consent)"
                    .into(),
        })?,
    };
    crate::sim::preset::parse_with_overrides(name_or_path, &text, overrides)
}

/// One arm's training rule.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Arm {
    rule: PopulationRule,
    ipw: bool,
    minimal: bool,
}

fn parse_arm(s: &str) -> Result<Arm> {
    let (base, minimal) = match s.strip_suffix("-minimal") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (base, ipw) = match base.strip_suffix("-ipw") {
        Some(b) => (b, true),
        None => (base, false),
    };
    let rule = PopulationRule::parse(base).map_err(|_| {
        NsfError::param(
            "arms",
            format!("`{s}` is not an arm (all, registered, consented, *-ipw, *-minimal)"),
        )
    })?;
    if ipw && rule == PopulationRule::All {
        return Err(NsfError::param(
            "arms",
            "all-ipw makes no sense: everyone is in the sample",
        ));
    }
    Ok(Arm { rule, ipw, minimal })
}

impl ExperimentSpec {
    /// Validates the spec.
    pub fn check(&self) -> Result<()> {
        if self.replicates == 0 {
            return Err(NsfError::param("replicates", "must be at least 1"));
        }
        if self.users < 1000 {
            return Err(NsfError::param("users", "must be at least 1000"));
        }
        if self.arms.first().map(|s| s.as_str()) != Some("all") {
            return Err(NsfError::param(
                "arms",
                "the first arm must be `all` (the reference)",
            ));
        }
        for a in &self.arms {
            let arm = parse_arm(a)?;
            if arm.ipw && self.model != "logistic" {
                return Err(NsfError::param(
                    "arms",
                    "IPW arms need model = \"logistic\"",
                ));
            }
        }
        FeatureSet::List(self.minimal_features.clone()).attributes()?;
        ModelSpec::parse(&self.model)?;
        if !(self.ipw_min_prob > 0.0 && self.ipw_min_prob < 1.0) {
            return Err(NsfError::param(
                "ipw_min_prob",
                "must be in (0, 1): the floor of the estimated consent probability",
            ));
        }
        if self.bootstrap < 20 {
            return Err(NsfError::param("bootstrap", "use at least 20 resamples"));
        }
        if let Some(sw) = &self.sweep {
            if sw.users < 1000
                || sw.replicates == 0
                || sw.rates.is_empty()
                || sw.mechanisms.is_empty()
            {
                return Err(NsfError::param(
                    "sweep",
                    "needs users >= 1000, replicates >= 1, rates and mechanisms",
                ));
            }
            if sw.rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
                return Err(NsfError::param("sweep.rates", "rates must be in [0, 1]"));
            }
            if let Some(m) = sw
                .mechanisms
                .iter()
                .find(|m| !["random", "attributes", "risk"].contains(&m.as_str()))
            {
                return Err(NsfError::param(
                    "sweep.mechanisms",
                    format!("`{m}` is not random, attributes or risk"),
                ));
            }
            if self.model != "logistic" {
                return Err(NsfError::param(
                    "sweep",
                    "the sweep's IPW arm needs model = \"logistic\"",
                ));
            }
        }
        Ok(())
    }
}

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

/// AUC of each arm on the test users of one subgroup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubgroupResult {
    /// Subgroup label (`age 20s`, `device ios`, `tenure < 1 y`, `region Busan`).
    pub group: String,
    /// Test users in it.
    pub users: u64,
    /// NSF cases among them.
    pub nsf: u64,
    /// AUC per arm, in `arms` order (NaN when the group has one class only).
    pub auc: Vec<f64>,
}

/// One point of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    /// `all` or `consented`.
    pub arm: String,
    /// Training users (the first n of the arm's members).
    pub training_users: u64,
    /// AUC on the test users.
    pub auc: f64,
}

/// A power-law fit AUC(n) = a − b·n^(−c) of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PowerLaw {
    /// Arm.
    pub arm: String,
    /// Asymptote.
    pub a: f64,
    /// Scale.
    pub b: f64,
    /// Exponent.
    pub c: f64,
    /// Root-mean-square error of the fit (AUC units).
    pub rmse: f64,
}

/// Labels of the subgroups each of `rows` belongs to, from the design columns.
fn subgroup_labels(design: &Design, rows: &[usize]) -> Vec<Vec<String>> {
    let col = |name: &str| design.names.iter().position(|n| n == name);
    let regions = design.region_index(rows);
    let (age, ios, tenure) = (
        col("age_years"),
        col("device_os=ios"),
        col("account_age_days"),
    );
    rows.iter()
        .enumerate()
        .map(|(k, &row)| {
            let x = |j: usize| design.x[[row, j]];
            let mut out = Vec::new();
            if let Some(j) = age {
                out.push(format!("age {}", AGE_BANDS[age_band(x(j) as u32)]));
            }
            if let Some(j) = ios {
                let os = if x(j) > 0.5 { "ios" } else { "android" };
                out.push(format!("device {os}"));
            }
            if let Some(j) = tenure {
                let d = x(j);
                out.push(
                    if d < 365.0 {
                        "tenure <1y"
                    } else if d < 3.0 * 365.0 {
                        "tenure 1-3y"
                    } else {
                        "tenure 3y+"
                    }
                    .to_string(),
                );
            }
            if let Some(r) = &regions {
                out.push(format!("region {}", crate::sim::schema::REGIONS[r[k]]));
            }
            out
        })
        .collect()
}

/// Fits AUC(n) = a − b·n^(−c) by least squares over a grid of c.
pub fn fit_power_law(arm: &str, points: &[(f64, f64)]) -> Option<PowerLaw> {
    if points.len() < 3 {
        return None;
    }
    let mut best: Option<PowerLaw> = None;
    for k in 1..=400 {
        let c = k as f64 * 0.005;
        // Linear least squares of auc on t = n^(-c): auc = a - b t.
        let t: Vec<f64> = points.iter().map(|p| p.0.powf(-c)).collect();
        let n = points.len() as f64;
        let (mt, my) = (
            t.iter().sum::<f64>() / n,
            points.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxx: f64 = t.iter().map(|v| (v - mt).powi(2)).sum();
        if sxx <= 0.0 {
            continue;
        }
        let sxy: f64 = t
            .iter()
            .zip(points)
            .map(|(v, p)| (v - mt) * (p.1 - my))
            .sum();
        let slope = sxy / sxx;
        let (a, b) = (my - slope * mt, -slope);
        let rmse = (t
            .iter()
            .zip(points)
            .map(|(v, p)| (a - b * v - p.1).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        if best.as_ref().is_none_or(|x| rmse < x.rmse) {
            best = Some(PowerLaw {
                arm: arm.into(),
                a,
                b,
                c,
                rmse,
            });
        }
    }
    best
}

impl PowerLaw {
    /// Training size at which the fitted curve reaches `target`, if ever.
    pub fn size_for(&self, target: f64) -> Option<f64> {
        (self.a > target && self.b > 0.0).then(|| (self.b / (self.a - target)).powf(1.0 / self.c))
    }
}

/// Mean and 95% interval across replicates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    /// Mean over replicates.
    pub mean: f64,
    /// 95% interval: Student t across replicates, or the paired bootstrap
    /// when there is one replicate.
    pub ci95: [f64; 2],
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

/// Who pays: one subgroup's AUC differences to `all`, across replicates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubgroupSummary {
    /// Subgroup label.
    pub group: String,
    /// Mean test users per replicate.
    pub users: f64,
    /// Per arm (in `arms` order, `all` first): AUC − AUC(all).
    pub auc_diff_vs_all: Vec<Interval>,
}

fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 {
        f64::NAN
    } else if df <= 30 {
        T[df - 1]
    } else {
        1.96
    }
}

/// The learning curve of `arm`: for each training size of the first
/// replicate, the AUCs of every replicate that has that size.
pub fn learning_curve_by_size(replicates: &[Replicate], arm: &str) -> Vec<(u64, Vec<f64>)> {
    let Some(first) = replicates.first() else {
        return Vec::new();
    };
    first
        .learning_curve
        .iter()
        .filter(|p| p.arm == arm)
        .map(|p| {
            let aucs = replicates
                .iter()
                .filter_map(|r| {
                    r.learning_curve
                        .iter()
                        .find(|q| q.arm == arm && q.training_users == p.training_users)
                })
                .map(|q| q.auc)
                .collect();
            (p.training_users, aucs)
        })
        .collect()
}

/// Mean and 95% interval of per-replicate values (Student t; `single_ci`
/// when there is one value).
pub fn interval(values: &[f64], single_ci: Option<[f64; 2]>) -> Interval {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Interval {
            mean,
            ci95: single_ci.unwrap_or([mean, mean]),
        };
    }
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let h = t975(n - 1) * sd / (n as f64).sqrt();
    Interval {
        mean,
        ci95: [mean - h, mean + h],
    }
}

/// Linear-interpolated quantile `q` of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// 95% percentile interval of bootstrap values.
pub fn ci95(mut values: Vec<f64>) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    [percentile(&values, 0.025), percentile(&values, 0.975)]
}

/// Paired bootstrap of several models on the same users: resample `b`
/// draws the same users for every model and gives, per model, (AUC,
/// expected KRW lost per 1,000 users under `policy`). Resamples are
/// seeded per index, so the result does not depend on the thread count.
pub fn paired_bootstrap(
    probs: &[Vec<f64>],
    scores: &[Vec<u8>],
    labels: &[bool],
    truth: &[f64],
    policy: &Policy,
    resamples: u32,
    seed: u64,
) -> Vec<Vec<(f64, f64)>> {
    let n = labels.len();
    (0..resamples as u64)
        .into_par_iter()
        .map(|b| {
            let mut rng = crate::sim::rng::user_stream(seed, b, crate::sim::rng::Stream::Replay, 0);
            let idx: Vec<usize> = (0..n)
                .map(|_| (rng.next_u64() % n as u64) as usize)
                .collect();
            let y: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
            let t: Vec<f64> = idx.iter().map(|&i| truth[i]).collect();
            probs
                .iter()
                .zip(scores)
                .map(|(p, s)| {
                    let pb: Vec<f64> = idx.iter().map(|&i| p[i]).collect();
                    let sb: Vec<u8> = idx.iter().map(|&i| s[i]).collect();
                    (metrics::auc(&pb, &y), expected_loss(&sb, &t, policy).0)
                })
                .collect()
        })
        .collect()
}

/// Expected KRW lost per 1,000 users under `policy` (via the true NSF
/// probability) and the share of users refused grouping.
pub fn expected_loss(score: &[u8], truth: &[f64], policy: &Policy) -> (f64, f64) {
    let n = score.len() as f64;
    let mut loss = 0.0;
    let mut refused = 0u64;
    for (s, p) in score.iter().zip(truth) {
        if *s <= policy.max_score_for_grouping {
            loss += p * policy.loss_per_failed_charge_krw;
        } else {
            refused += 1;
        }
    }
    (1000.0 * loss / n, refused as f64 / n)
}

/// Where replicate data sets are cached: `<root>/<preset>-<users>-seed<seed>`.
fn data_dir(root: &Path, spec: &ExperimentSpec, seed: u64) -> PathBuf {
    let preset = Path::new(&spec.preset)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| spec.preset.clone());
    // Overrides change the population: they get their own cache folder.
    let tag = if spec.preset_overrides.is_empty() {
        String::new()
    } else {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for o in &spec.preset_overrides {
            h.update(o.as_bytes());
            h.update(b"\n");
        }
        format!("-{}", &hex::encode(h.finalize())[..8])
    };
    root.join(format!("{preset}{tag}-{}-seed{seed}", spec.users))
}

/// Generates the replicate's population unless a matching one is cached.
fn ensure_data(spec: &ExperimentSpec, root: &Path, seed: u64) -> Result<PathBuf> {
    let dir = data_dir(root, spec, seed);
    let mut preset = crate::sim::preset::load(&spec.preset, &spec.preset_overrides)?;
    preset.users = spec.users;
    preset.seed = seed;
    let p = preset.check()?;
    if let Ok(m) = generate::read_manifest(&dir) {
        let data_ok = crate::data::artifact::sha256_file(&dir.join(&m.files[0].name))
            .ok()
            .as_deref()
            == Some(m.files[0].sha256.as_str());
        if m.preset == *p.preset()
            && m.format == Format::Parquet
            && m.generator_revision == generate::GENERATOR_REVISION
            && data_ok
        {
            return Ok(dir);
        }
    }
    let opts = GenerateOptions {
        out: dir.clone(),
        format: Format::Parquet,
        force: true,
    };
    generate::run(&p, &opts, &|_| {})?;
    Ok(dir)
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

/// Training sizes of the learning curves: a fixed 1-2-5 grid from 1,000
/// (the same in every replicate, so curves average point by point), capped
/// at `max`.
fn learning_sizes(max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [1usize, 2, 5]
        .iter()
        .cycle()
        .zip((3..9).flat_map(|e| [e, e, e]))
        .map(|(m, e)| m * 10usize.pow(e as u32))
        .filter(|&n| n <= max)
        .collect();
    v.sort_unstable();
    if v.is_empty() {
        v.push(max);
    }
    v
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
    spec: &ExperimentSpec,
    registry: &Path,
    data_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, PlotData)> {
    spec.check()?;
    let model_spec = ModelSpec::parse(&spec.model)?;
    let full = FeatureSet::Full.attributes()?;
    let minimal = FeatureSet::List(spec.minimal_features.clone()).attributes()?;
    let arms: Vec<Arm> = spec
        .arms
        .iter()
        .map(|a| parse_arm(a))
        .collect::<Result<_>>()?;
    let mut replicates = Vec::new();
    let mut plot_data = PlotData {
        arms: Vec::new(),
        labels: Vec::new(),
    };
    for r in 0..spec.replicates {
        let seed = spec.seed + r as u64;
        progress(&format!(
            "replicate {}/{}: population seed {seed}",
            r + 1,
            spec.replicates
        ));
        let dir = ensure_data(spec, data_root, seed)?;
        let data = train::load_data(&dir, &full)?;
        let minimal_design = data.design.select_attributes(&full, &minimal);
        let test = train::holdout_rows(&data, PopulationRule::Registered);
        let eligible: Vec<usize> = (0..data.rows())
            .filter(|&i| !train::is_holdout(data.manifest.seed, data.user_id[i]))
            .collect();
        let truth: Vec<f64> = test.iter().map(|&i| data.nsf_prob[i]).collect();
        let labels: Vec<bool> = test.iter().map(|&i| data.nsf[i]).collect();
        let mut probs: Vec<Vec<f64>> = Vec::new();
        let mut fitted: Vec<(String, u64)> = Vec::new();
        for (name, arm) in spec.arms.iter().zip(&arms) {
            progress(&format!("  arm {name}"));
            let members: Vec<usize> = eligible
                .iter()
                .copied()
                .filter(|&i| data.in_population(arm.rule, i))
                .collect();
            let weights = if arm.ipw {
                Some(ipw_weights(&data, &eligible, &members, spec.ipw_min_prob)?)
            } else {
                None
            };
            let (design, attrs): (&Design, &[String]) = if arm.minimal {
                (&minimal_design, &minimal)
            } else {
                (&data.design, &full)
            };
            let (stored, hyper) = train::fit_model(
                design,
                attrs,
                &members,
                &data.nsf,
                weights.as_deref(),
                &model_spec,
                seed,
            )?;
            let (id, _) = train::register_model(
                &data,
                design,
                name,
                &members,
                &stored,
                hyper,
                &model_spec,
                seed,
                registry,
                Vec::new(),
            )?;
            let test_design = design.select_rows(&test);
            probs.push(stored.predict(&test_design)?);
            fitted.push((id, members.len() as u64));
        }
        let scores: Vec<Vec<u8>> = probs
            .iter()
            .map(|p| p.iter().map(|&v| train::score_of(v)).collect())
            .collect();
        let n = test.len();
        let boot = paired_bootstrap(
            &probs,
            &scores,
            &labels,
            &truth,
            &spec.policy,
            spec.bootstrap,
            seed ^ 0xB007,
        );
        let base_eval = metrics::evaluate(&probs[0], &scores[0], &labels, &truth);
        let (base_loss, _) = expected_loss(&scores[0], &truth, &spec.policy);
        let mut arm_results = Vec::new();
        for (k, name) in spec.arms.iter().enumerate() {
            let evaluation = metrics::evaluate(&probs[k], &scores[k], &labels, &truth);
            let (loss, refused) = expected_loss(&scores[k], &truth, &spec.policy);
            let da: Vec<f64> = boot.iter().map(|v| v[k].0 - v[0].0).collect();
            let dl: Vec<f64> = boot.iter().map(|v| v[k].1 - v[0].1).collect();
            let ab: Vec<f64> = boot.iter().map(|v| v[k].0).collect();
            arm_results.push(ArmResult {
                arm: name.clone(),
                model_id: fitted[k].0.clone(),
                training_members: fitted[k].1,
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
        // Who pays: AUC of every arm within each subgroup of the test users.
        let labels_of = subgroup_labels(&data.design, &test);
        let mut groups: Vec<String> = labels_of.iter().flatten().cloned().collect();
        groups.sort();
        groups.dedup();
        let subgroups: Vec<SubgroupResult> = groups
            .iter()
            .map(|g| {
                let rows: Vec<usize> = (0..n).filter(|&k| labels_of[k].contains(g)).collect();
                let y: Vec<bool> = rows.iter().map(|&k| labels[k]).collect();
                SubgroupResult {
                    group: g.clone(),
                    users: rows.len() as u64,
                    nsf: y.iter().filter(|&&v| v).count() as u64,
                    auc: probs
                        .iter()
                        .map(|p| metrics::auc(&rows.iter().map(|&k| p[k]).collect::<Vec<_>>(), &y))
                        .collect(),
                }
            })
            .collect();
        // Learning curves: the first n members (users are i.i.d.) of `all`
        // and `consented`, log-spaced n, full features.
        progress("  learning curves");
        let test_design = data.design.select_rows(&test);
        let mut learning_curve = Vec::new();
        let curve_rules: &[PopulationRule] = if spec.learning_curves {
            &[PopulationRule::All, PopulationRule::Consented]
        } else {
            &[]
        };
        for &rule in curve_rules {
            let members: Vec<usize> = eligible
                .iter()
                .copied()
                .filter(|&i| data.in_population(rule, i))
                .collect();
            for n_train in learning_sizes(members.len()) {
                // A sample with one class only has no model: no point.
                let positives = members[..n_train].iter().filter(|&&i| data.nsf[i]).count();
                if positives == 0 || positives == n_train {
                    continue;
                }
                let (stored, _) = train::fit_model(
                    &data.design,
                    &full,
                    &members[..n_train],
                    &data.nsf,
                    None,
                    &model_spec,
                    seed,
                )?;
                let p = stored.predict(&test_design)?;
                learning_curve.push(CurvePoint {
                    arm: rule.as_str().into(),
                    training_users: n_train as u64,
                    auc: metrics::auc(&p, &labels),
                });
            }
        }
        if r == 0 {
            plot_data = PlotData {
                arms: spec
                    .arms
                    .iter()
                    .cloned()
                    .zip(probs.iter().cloned())
                    .collect(),
                labels: labels.clone(),
            };
        }
        replicates.push(Replicate {
            seed,
            data: dir.display().to_string(),
            test_users: n as u64,
            consent_share: data.consented.iter().filter(|&&c| c).count() as f64
                / data.rows() as f64,
            arms: arm_results,
            subgroups,
            learning_curve,
        });
    }
    let summary: Vec<ArmSummary> = spec
        .arms
        .iter()
        .enumerate()
        .map(|(k, name)| {
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
                arm: name.clone(),
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
        .collect();
    let mut group_names: Vec<String> = replicates
        .iter()
        .flat_map(|r| r.subgroups.iter().map(|g| g.group.clone()))
        .collect();
    group_names.sort();
    group_names.dedup();
    let subgroups: Vec<SubgroupSummary> = group_names
        .iter()
        .map(|g| {
            let found: Vec<&SubgroupResult> = replicates
                .iter()
                .filter_map(|r| r.subgroups.iter().find(|s| &s.group == g))
                .collect();
            SubgroupSummary {
                group: g.clone(),
                users: found.iter().map(|s| s.users as f64).sum::<f64>()
                    / found.len().max(1) as f64,
                auc_diff_vs_all: (0..spec.arms.len())
                    .map(|k| {
                        interval(
                            &found
                                .iter()
                                .map(|s| s.auc[k] - s.auc[0])
                                .collect::<Vec<_>>(),
                            None,
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    let mean_curve = |arm: &str| -> Vec<(f64, f64)> {
        learning_curve_by_size(&replicates, arm)
            .into_iter()
            .map(|(n, v)| (n as f64, v.iter().sum::<f64>() / v.len() as f64))
            .collect()
    };
    let fits: Vec<PowerLaw> = ["all", "consented"]
        .iter()
        .filter_map(|a| fit_power_law(a, &mean_curve(a)))
        .collect();
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
            spec: spec.clone(),
            replicates,
            summary,
            subgroups,
            learning_curve_fits: fits,
            consented_users_enough: enough,
            tolerance,
            sweep: Vec::new(),
        },
        plot_data,
    ))
}

/// The run's `manifest.json`: the spec, and a copy of the manifest of every
/// data set and model used (so the run stays interpretable after they go).
pub fn run_manifest(result: &ExperimentResult, registry: &Path) -> Result<serde_json::Value> {
    let mut data = Vec::new();
    for r in &result.replicates {
        let m = generate::read_manifest(Path::new(&r.data))?;
        data.push(serde_json::json!({ "dir": r.data, "manifest": m }));
    }
    let mut models = Vec::new();
    for cell in result.replicates.iter().flat_map(|r| &r.arms) {
        let (m, _) = crate::lineage::registry::load(registry, &cell.model_id)?;
        models
            .push(serde_json::json!({ "arm": cell.arm, "model_id": cell.model_id, "manifest": m }));
    }
    Ok(serde_json::json!({
        "kind": "run",
        "nsfsim_version": env!("CARGO_PKG_VERSION"),
        "spec": result.spec,
        "data": data,
        "models": models,
        "sweep_models": "not listed: sweep cells' models are in the registry, one per arm, cell and replicate",
        "files": ["report.md", "report.html", "metrics.json", "plots/"],
    }))
}

/// Publishes a finished run folder through the registry's lineage (pending
/// record, rename into place, complete record): every file of the run
/// derives from every model it reports on (a destruction order on one of
/// them takes the run with it). Returns the published folder.
pub fn record_run(
    registry: &Path,
    staged: crate::data::artifact::StagedDir,
    manifest: &serde_json::Value,
) -> Result<std::path::PathBuf> {
    let parents: Vec<String> = manifest["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["model_id"].as_str().map(String::from))
        .collect();
    crate::lineage::registry::publish_folder(registry, "run", staged, &parents)
}
