//! The experiment on your own table (`compare --data`): the table's label,
//! consent flag (observed, or drawn with the simulator's mechanisms) and
//! target flag stand in for `nsf`, `consented` and `registered`.
//! Replicates are resamples of the one table: replicate r holds out a
//! seeded test set of a fifth of the target rows, stratified by the label,
//! and every arm trains on the rest. There is no ground truth: the oracle
//! AUC is left out (null), and the money figures use the observed outcome
//! where simulated runs use the true NSF probability.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::table::{ColumnInfo, Encoding, Table, TableOptions};
use crate::error::{NsfError, Result};
use crate::experiment::Replicate;
use crate::experiment::replicate::ReplicateData;
use crate::experiment::spec::ValidSpec;
use crate::lineage::registry::DataRef;
use crate::models::train::{HOLDOUT_FRACTION, LoadedData};
use crate::sim::rng::{Stream, mix64, sigmoid, uniform, user_stream};

/// How the test set of a replicate is drawn (recorded).
pub const TEST_SET: &str = "replicate r (seed = spec seed + r): a fifth (holdout_fraction) of the target rows, stratified by the label: within each label class the rows with the smallest hash of (seed, row ID) are held out; every arm trains on the other rows (target or not)";

/// What cannot be computed without a ground truth (recorded and reported).
pub const NO_GROUND_TRUTH: &str = "a table has no true outcome probability: the oracle AUC is left out (null) and expected losses use the observed outcome of each test row (0 or 1) instead of the simulator's true probability";

/// A simulated consent flag: `--simulate-consent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimulatedConsent {
    /// random, attributes or risk.
    pub mechanism: String,
    /// Consent share aimed at (the intercept is solved for it).
    pub rate: f64,
    /// Logit slope on the mechanism's index (ignored for random).
    pub strength: f64,
    /// Seed of the per-row draws.
    pub seed: u64,
}

/// Every choice of a run on a table (in `metrics.json` and the run
/// manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OwnDataRecord {
    /// The file as given.
    pub file: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Rows.
    pub rows: u64,
    /// Rows in the target population.
    pub target_rows: u64,
    /// Positive label share.
    pub positive_share: f64,
    /// Consent share.
    pub consent_share: f64,
    /// The options read with (roles, features, overrides).
    pub options: TableOptions,
    /// Every column: kind, levels, missing values, role.
    pub columns: Vec<ColumnInfo>,
    /// How each feature became design columns (missing values included).
    pub encodings: Vec<Encoding>,
    /// The simulated consent, if the flag was drawn.
    pub simulated_consent: Option<SimulatedConsent>,
    /// How each replicate's test set is drawn.
    pub test_set: String,
    /// What is left out without a ground truth.
    pub ground_truth: String,
}

/// A table ready for the experiment.
pub struct OwnData {
    /// The table.
    pub table: Table,
    /// Consent per row (observed or drawn).
    pub consent: Vec<bool>,
    /// The record.
    pub record: OwnDataRecord,
}

impl OwnData {
    /// Completes a loaded table: its consent (the column, or drawn with
    /// `simulated`) and its record.
    pub fn new(table: Table, simulated: Option<SimulatedConsent>) -> Result<OwnData> {
        let consent = match (&table.consent, &simulated) {
            (Some(c), None) => c.clone(),
            (None, Some(s)) => draw_consent(&table, s)?,
            (Some(_), Some(_)) => {
                return Err(NsfError::param(
                    "--simulate-consent",
                    "give --consent COL or --simulate-consent, not both",
                ));
            }
            (None, None) => {
                return Err(NsfError::param(
                    "--consent",
                    "name the consent column (--consent COL) or draw one (--simulate-consent random|attributes|risk)",
                ));
            }
        };
        let n = table.rows() as f64;
        let share = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / n;
        let record = OwnDataRecord {
            file: table.path.display().to_string(),
            sha256: table.sha256.clone(),
            rows: table.rows() as u64,
            target_rows: table.target.iter().filter(|&&b| b).count() as u64,
            positive_share: share(&table.label),
            consent_share: share(&consent),
            options: table.options.clone(),
            columns: table.columns.clone(),
            encodings: table.encodings.clone(),
            simulated_consent: simulated,
            test_set: TEST_SET.into(),
            ground_truth: NO_GROUND_TRUTH.into(),
        };
        Ok(OwnData {
            table,
            consent,
            record,
        })
    }

    /// The data set of replicate `seed`: the table with its test set held
    /// out (stratified by the label, among target rows).
    pub(crate) fn replicate_data(&self, _spec: &ValidSpec, seed: u64) -> Result<ReplicateData> {
        let t = &self.table;
        let holdout = stratified_holdout(t, seed);
        let test: Vec<usize> = (0..t.rows()).filter(|&i| holdout[i]).collect();
        for (class, what) in [(true, "positive"), (false, "negative")] {
            if !test.iter().any(|&i| t.label[i] == class) {
                return Err(NsfError::Input {
                    path: t.path.clone(),
                    message: format!(
                        "the test set of the target rows (--target) has no {what} label: the target population needs more rows of each label"
                    ),
                });
            }
        }
        // Training rows in hash order: a prefix is a random sample (the
        // learning curves take the first n).
        let mut eligible: Vec<usize> = (0..t.rows()).filter(|&i| !holdout[i]).collect();
        eligible.sort_by_key(|&i| (row_hash(seed ^ 0x1EA2, t.ids[i]), i));
        let data = self.loaded(seed, holdout);
        Ok(ReplicateData {
            seed,
            dir: PathBuf::from(&self.record.file),
            truth: test.iter().map(|&i| t.label[i] as u8 as f64).collect(),
            labels: test.iter().map(|&i| t.label[i]).collect(),
            test,
            eligible,
            data,
        })
    }

    /// The table as a `LoadedData` with `holdout` held out.
    pub fn loaded(&self, seed: u64, holdout: Vec<bool>) -> LoadedData {
        let t = &self.table;
        LoadedData {
            manifest: None,
            holdout,
            data_ref: self.data_ref(seed),
            user_id: t.ids.clone(),
            registered: t.target.clone(),
            consented: self.consent.clone(),
            nsf: t.label.clone(),
            nsf_prob: t.label.iter().map(|&y| y as u8 as f64).collect(),
            ground_truth: false,
            design: t.design.clone(),
        }
    }

    /// The lineage reference of the table: `manifest_sha256` is the
    /// SHA-256 of the record (options and encodings), `preset` is `table`.
    pub fn data_ref(&self, seed: u64) -> DataRef {
        let record = serde_json::to_vec(&self.record).expect("record serializes");
        DataRef {
            dir: self.record.file.clone(),
            manifest_sha256: hex::encode(Sha256::digest(&record)),
            data_sha256: self.record.sha256.clone(),
            preset: "table".into(),
            seed,
            users: self.record.rows,
        }
    }
}

fn row_hash(seed: u64, id: u64) -> u64 {
    mix64(seed ^ 0x7AB1_E5E7 ^ mix64(id))
}

/// The held-out rows of replicate `seed`: per label class, the
/// `HOLDOUT_FRACTION` of target rows with the smallest hash.
pub fn stratified_holdout(t: &Table, seed: u64) -> Vec<bool> {
    let mut out = vec![false; t.rows()];
    for class in [false, true] {
        let mut rows: Vec<(u64, usize)> = (0..t.rows())
            .filter(|&i| t.target[i] && t.label[i] == class)
            .map(|i| (row_hash(seed, t.ids[i]), i))
            .collect();
        rows.sort_unstable();
        let k = (HOLDOUT_FRACTION * rows.len() as f64).round() as usize;
        for &(_, i) in &rows[..k] {
            out[i] = true;
        }
    }
    out
}

/// Draws the consent flag with the simulator's mechanisms: P(consent) =
/// sigmoid(b + strength · z), b solved so the mean probability is `rate`;
/// z = 0 (random), the standardized mean of the standardized design
/// columns (attributes), or minus the standardized observed label (risk:
/// rows with the event consent less for strength > 0).
pub fn draw_consent(t: &Table, s: &SimulatedConsent) -> Result<Vec<bool>> {
    if !(0.0..=1.0).contains(&s.rate) || !s.rate.is_finite() {
        return Err(NsfError::param("--consent-rate", "must be within 0..1"));
    }
    if !(-10.0..=10.0).contains(&s.strength) {
        return Err(NsfError::param(
            "--consent-strength",
            "must be within -10..10",
        ));
    }
    let n = t.rows();
    let z: Vec<f64> = match s.mechanism.as_str() {
        "random" => vec![0.0; n],
        "attributes" => standardize(
            &(0..n)
                .map(|i| {
                    let x = t.design.x.row(i);
                    x.iter().map(|&v| v as f64).sum::<f64>()
                })
                .collect::<Vec<_>>(),
        ),
        "risk" => standardize(
            &t.label
                .iter()
                .map(|&y| -(y as u8 as f64))
                .collect::<Vec<_>>(),
        ),
        other => {
            return Err(NsfError::param(
                "--simulate-consent",
                format!("`{other}` is not random, attributes or risk"),
            ));
        }
    };
    let share = |b: f64| z.iter().map(|&v| sigmoid(b + s.strength * v)).sum::<f64>() / n as f64;
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if share(mid) < s.rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let b = 0.5 * (lo + hi);
    Ok((0..n)
        .map(|i| {
            let mut rng = user_stream(s.seed, t.ids[i], Stream::Consent, 0x7AB1E);
            uniform(&mut rng) < sigmoid(b + s.strength * z[i])
        })
        .collect())
}

fn standardize(v: &[f64]) -> Vec<f64> {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    v.iter()
        .map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 })
        .collect()
}

/// Blanks what needs a ground truth: the oracle AUC of every arm.
pub(crate) fn without_ground_truth(replicates: &mut [Replicate]) {
    for r in replicates {
        for a in &mut r.arms {
            a.evaluation.oracle_auc = f64::NAN;
        }
    }
}

/// The report's set-up paragraph for a run on a table (`None` for a
/// simulated run).
pub fn setup_text(r: &crate::experiment::ExperimentResult) -> Option<String> {
    let o = r.own_data.as_ref()?;
    let opt = &o.options;
    let consent = match &o.simulated_consent {
        Some(s) => format!(
            "simulated with the `{}` mechanism (rate {}, strength {}, seed {})",
            s.mechanism, s.rate, s.strength, s.seed
        ),
        None => format!("column `{}`", opt.consent.as_deref().unwrap_or("?")),
    };
    let features = o
        .encodings
        .iter()
        .map(|e| format!("`{}`", e.name()))
        .collect::<Vec<_>>();
    Some(format!(
        "Experiment `{}` on your own table `{}` (SHA-256 {}…): {} rows, label `{}` (positive share {:.3}), consent {} (share {:.3}), target population {} ({} rows), {} replicate(s) (seeds {}–{}), model families {}. Features ({}): {}. Test rows: {}. Missing values: a numeric feature's gaps take its median and a `<column>=missing` indicator; a categorical feature's gaps are a level of their own; the scorecard bins the indicator as an attribute of its own; gbdt reads the gap itself (NaN in a missing bin, sent at each split to the side the fit chose) and can split on the indicator too. No ground truth: {}. Intervals: 95%, Student t across replicates ({} bootstrap resamples of the test rows when there is one replicate); differences between arms are paired on the same test rows. Policy: scores ≤ {} get grouped charges; a failed grouped charge loses {cur} {:.0}; each grouped row is worth {cur} {:.0} (money in `{cur}`: `--currency` names the unit). Size-matched arms (`all-size-of-<rule>`) train `all` on a seeded random subsample of the restricted arm's size. The column table and every choice are in `metrics.json` (`own_data`) and `manifest.json`.",
        r.spec.name,
        o.file,
        &o.sha256[..12.min(o.sha256.len())],
        o.rows,
        opt.label,
        o.positive_share,
        consent,
        o.consent_share,
        opt.target
            .as_deref()
            .map_or("every row".into(), |t| format!("column `{t}`")),
        o.target_rows,
        r.spec.replicates,
        r.spec.seed,
        r.spec.seed + r.spec.replicates as u64 - 1,
        r.spec.family_names().unwrap_or_default().join(", "),
        features.len(),
        features.join(", "),
        o.test_set,
        o.ground_truth,
        r.spec.bootstrap,
        r.spec.policy.max_score_for_grouping,
        r.spec.policy.loss_per_failed_charge_krw,
        r.spec.policy.benefit_per_grouped_user_krw,
        cur = r.spec.currency
    ))
}

pub mod files;
pub use files::{FileTrain, score_data, train_file};
