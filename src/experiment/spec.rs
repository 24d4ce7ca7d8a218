//! Experiment specs (TOML, embedded `default`/`case`/`sweep-consent`),
//! checked once into a [`ValidSpec`]: arms, the model family and feature
//! sets parsed once.

use serde::{Deserialize, Serialize};

use crate::data::features::FeatureSet;
use crate::error::{NsfError, Result};
use crate::models::train::PopulationRule;
use crate::models::{ModelSpec, ValidModelSpec};
use crate::sim::preset::{FieldRange, MAX_USERS, above, closed, range_of};

use crate::stats::money::Policy;

/// Experiments shipped with nsfsim (also in `synthetic/experiments/`).
pub const EMBEDDED: [(&str, &str); 4] = [
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
    (
        "lawful",
        include_str!("../../synthetic/experiments/lawful.toml"),
    ),
];

/// An experiment spec (TOML).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
    /// Model family of every arm (older specs; `families` replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Model families: every arm runs with every family, same tuning budget
    /// (each family's default hyperparameters).
    #[serde(default)]
    pub families: Vec<String>,
    /// Add, per restricted arm, `all` retrained on a seeded random
    /// subsample of that arm's size (splits its cost into size and
    /// selection).
    #[serde(default = "yes")]
    pub size_matched: bool,
    /// "Enough" users: AUC tolerance below `all` (reported relative to the
    /// measured selection cost).
    #[serde(default = "default_tolerance")]
    pub enough_tolerance: f64,
    /// Who pays: subgroups with fewer NSF events than this among the test
    /// users (mean per replicate) are shown but never flagged.
    #[serde(default = "default_min_nsf")]
    pub min_subgroup_nsf: f64,
    /// Training arms.
    pub arms: Vec<String>,
    /// The minimal feature set.
    pub minimal_features: Vec<String>,
    /// Paired bootstrap resamples per replicate.
    pub bootstrap: u32,
    /// The grouping policy.
    pub policy: Policy,
    /// The unit money figures are labelled in (`KRW` for simulated runs;
    /// `compare --data` defaults to `units`, `--currency` names yours).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The 0–100 score scale the policy is stated on: `probability`
    /// (round(100·P)) or `log-odds` (10 points double the odds).
    #[serde(default)]
    pub score_scale: crate::stats::scale::ScoreScale,
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
    /// The `dp-all` arms' ε and their audit (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lawful: Option<crate::experiment::lawful::LawfulSpec>,
}

fn yes() -> bool {
    true
}

/// A currency label: 1-16 letters, digits, spaces, `_`, `-` or `.` (it is
/// printed into Markdown tables, HTML and plot axes as is).
fn check_currency(c: &str) -> Result<()> {
    let ok = !c.trim().is_empty()
        && c.chars().count() <= 16
        && c.chars()
            .all(|ch| ch.is_alphanumeric() || matches!(ch, ' ' | '_' | '-' | '.'));
    if ok {
        return Ok(());
    }
    Err(NsfError::param(
        "currency",
        format!("{c:?}: give 1-16 letters or digits, e.g. KRW, EUR or units"),
    ))
}

fn default_currency() -> String {
    "KRW".into()
}

fn default_ipw_min_prob() -> f64 {
    0.05
}

fn default_tolerance() -> f64 {
    0.005
}

fn default_min_nsf() -> f64 {
    50.0
}

/// A grid of consent settings; each cell reruns `all`, `consented` and
/// `consented-ipw` on its own populations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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

/// Loads an experiment by embedded name or path, with `--set` overrides.
pub fn load_spec(name_or_path: &str, overrides: &[String]) -> Result<ExperimentSpec> {
    let text = match EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        Some((_, t)) => t.to_string(),
        None => std::fs::read_to_string(name_or_path).map_err(|_| NsfError::Preset {
            source_name: name_or_path.into(),
            message:
                "unknown experiment (not a file, and not one of: default, case, sweep-consent, lawful)"
                    .into(),
        })?,
    };
    crate::sim::preset::parse_with_overrides(name_or_path, &text, overrides)
}

/// One arm's training rule: its population, inverse-probability weights,
/// and the minimal feature set.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    /// The arm's name in the spec.
    pub name: String,
    /// Who it trains on.
    pub rule: PopulationRule,
    /// Weighted by 1 / P(consent | attributes).
    pub ipw: bool,
    /// Trained on the minimal feature set.
    pub minimal: bool,
    /// A size-matched arm: every eligible user (`rule` is `All`),
    /// subsampled at random to the size of this rule's members.
    pub size_of: Option<PopulationRule>,
    /// A `dp-all` arm: the DP logistic regression at this ε.
    pub epsilon: Option<f64>,
}

impl Arm {
    /// Parses `all`, `registered`, `consented`, with `-ipw` and/or
    /// `-minimal` suffixes.
    pub fn parse(s: &str) -> Result<Arm> {
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
                format!(
                    "`{s}` is not an arm (all, registered, consented, *-ipw, *-minimal, dp-all)"
                ),
            )
        })?;
        if ipw && rule == PopulationRule::All {
            return Err(NsfError::param(
                "arms",
                "all-ipw makes no sense: everyone is in the sample",
            ));
        }
        Ok(Arm {
            name: s.into(),
            rule,
            ipw,
            minimal,
            size_of: None,
            epsilon: None,
        })
    }

    /// The size-matched arm of a restricted arm (`None` for `all` arms):
    /// `all` (same feature set, no weights) on a random subsample of the
    /// arm's size, named `all-size-of-<rule>` (`all-minimal-size-of-…`).
    pub fn size_matched(&self) -> Option<Arm> {
        (self.rule != PopulationRule::All && self.size_of.is_none()).then(|| Arm {
            name: format!(
                "all{}-size-of-{}",
                if self.minimal { "-minimal" } else { "" },
                self.rule.as_str()
            ),
            rule: PopulationRule::All,
            ipw: false,
            minimal: self.minimal,
            size_of: Some(self.rule),
            epsilon: None,
        })
    }
}

/// An [`ExperimentSpec`] that passed [`ExperimentSpec::check`], with its
/// parts parsed once.
#[derive(Debug, Clone)]
pub struct ValidSpec {
    spec: ExperimentSpec,
    families: Vec<ValidModelSpec>,
    arms: Vec<Arm>,
    full: Vec<String>,
    minimal: Vec<String>,
}

impl ValidSpec {
    /// The spec as written (recorded in `metrics.json`).
    pub fn spec(&self) -> &ExperimentSpec {
        &self.spec
    }

    /// The model families; every arm runs with each.
    pub fn families(&self) -> &[ValidModelSpec] {
        &self.families
    }

    /// The arms, `all` first, then the spec's other arms, then the
    /// size-matched arms (when `size_matched`).
    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    /// Index (in [`Self::arms`]) of arm `k`'s size-matched arm, if any.
    pub fn size_matched_of(&self, k: usize) -> Option<usize> {
        let want = self.arms[k].size_matched()?;
        self.arms
            .iter()
            .position(|a| a.size_of.is_some() && a.name == want.name)
    }

    /// Attributes of the full feature set.
    pub fn full_features(&self) -> &[String] {
        &self.full
    }

    /// Attributes of the minimal feature set.
    pub fn minimal_features(&self) -> &[String] {
        &self.minimal
    }
}

impl std::ops::Deref for ValidSpec {
    type Target = ExperimentSpec;
    fn deref(&self) -> &ExperimentSpec {
        &self.spec
    }
}

impl ExperimentSpec {
    /// Validates the spec once; the result is what runs.
    pub fn check(self) -> Result<ValidSpec> {
        if self.users < 1000 {
            return Err(NsfError::param("users", "must be at least 1000"));
        }
        let (arms, families) = self.check_arms_and_families()?;
        let full = FeatureSet::Full.attributes()?;
        let minimal = FeatureSet::List(self.minimal_features.clone()).attributes()?;
        self.check_numbers()?;
        // The populations it will generate: refused now, not mid-run.
        let mut preset = crate::sim::preset::load(&self.preset, &self.preset_overrides)?;
        preset.users = self.users;
        preset.seed = self.seed;
        preset.check()?;
        if let Some(sw) = &self.sweep {
            sw.check()?;
        }
        Ok(ValidSpec {
            spec: self,
            families,
            arms,
            full,
            minimal,
        })
    }

    /// Validates a spec run on a table (`experiment::own`): `full` and
    /// `minimal` are its design columns; no preset, no sweep.
    pub fn check_table(self, full: Vec<String>, minimal: Vec<String>) -> Result<ValidSpec> {
        let (arms, families) = self.check_arms_and_families()?;
        if minimal.is_empty() && arms.iter().any(|a| a.minimal) {
            return Err(NsfError::param(
                "--minimal",
                "the `-minimal` arms need a minimal feature set: name its columns with --minimal",
            ));
        }
        if self.sweep.is_some() {
            return Err(NsfError::param(
                "sweep",
                "a consent sweep runs on simulated data only",
            ));
        }
        // Tables may be smaller than generated populations.
        let mut numbers = self.clone();
        numbers.users = numbers.users.max(1000);
        numbers.check_numbers()?;
        Ok(ValidSpec {
            spec: self,
            families,
            arms,
            full,
            minimal,
        })
    }

    /// The arms (with their size-matched arms) and the families.
    fn check_arms_and_families(&self) -> Result<(Vec<Arm>, Vec<ValidModelSpec>)> {
        if self.replicates == 0 {
            return Err(NsfError::param("replicates", "must be at least 1"));
        }
        if self.arms.first().map(|s| s.as_str()) != Some("all") {
            return Err(NsfError::param(
                "arms",
                "the first arm must be `all` (the reference)",
            ));
        }
        let mut arms = Vec::new();
        for a in &self.arms {
            match a.as_str() {
                "dp-all" => arms.extend(crate::experiment::lawful::dp_arms(&self.lawful_spec()?)),
                _ => arms.push(Arm::parse(a)?),
            }
        }
        if self.size_matched {
            let extra: Vec<Arm> = arms.iter().filter_map(Arm::size_matched).collect();
            for a in extra {
                if !arms.iter().any(|b| b.name == a.name) {
                    arms.push(a);
                }
            }
        }
        let families = self.family_names()?;
        let families = families
            .iter()
            .map(|f| {
                ModelSpec::parse(f)
                    .map_err(|_| {
                        NsfError::param(
                            "families",
                            format!(
                                "`{f}` is not an available model family ({})",
                                ModelSpec::NAMES.join(", ")
                            ),
                        )
                    })?
                    .check()
            })
            .collect::<Result<Vec<_>>>()?;
        crate::experiment::lawful::check_dp_families(&arms, &families)?;
        Ok((arms, families))
    }

    /// The `[lawful]` table (defaults when absent), checked.
    pub fn lawful_spec(&self) -> Result<crate::experiment::lawful::LawfulSpec> {
        let l = self.lawful.clone().unwrap_or_default();
        l.check()?;
        Ok(l)
    }
}

/// The valid range of every numeric field of an experiment spec (README,
/// "Valid values"); `preset_overrides` are checked with the preset.
pub const SPEC_RANGES: [FieldRange; 14] = [
    closed("users", 1000.0, MAX_USERS as f64),
    // Replicate r uses seed + r: kept far from overflow.
    closed("seed", 0.0, (1u64 << 63) as f64),
    closed("replicates", 1.0, 1000.0),
    above("enough_tolerance", 0.0, 0.5),
    closed("min_subgroup_nsf", 0.0, 1e9),
    closed("bootstrap", 20.0, 100_000.0),
    above("ipw_min_prob", 0.0, 1.0),
    closed("policy.max_score_for_grouping", 0.0, 255.0),
    closed("policy.loss_per_failed_charge_krw", 0.0, 1e9),
    closed("policy.benefit_per_grouped_user_krw", 0.0, 1e9),
    closed("sweep.users", 1000.0, MAX_USERS as f64),
    closed("sweep.replicates", 1.0, 1000.0),
    closed("sweep.rates[i]", 0.0, 1.0),
    closed("sweep.strengths[i]", -10.0, 10.0),
];

/// Checks `v` against `field`'s entry in `SPEC_RANGES`.
fn check_range(field: &str, v: f64) -> Result<()> {
    range_of(&SPEC_RANGES, field)
        .expect("every numeric spec field has a range")
        .check(field, v)
}

impl ExperimentSpec {
    /// Every numeric field within its `SPEC_RANGES` entry.
    fn check_numbers(&self) -> Result<()> {
        let p = &self.policy;
        for (f, v) in [
            ("users", self.users as f64),
            ("seed", self.seed as f64),
            ("replicates", self.replicates as f64),
            ("enough_tolerance", self.enough_tolerance),
            ("min_subgroup_nsf", self.min_subgroup_nsf),
            ("bootstrap", self.bootstrap as f64),
            ("ipw_min_prob", self.ipw_min_prob),
            (
                "policy.max_score_for_grouping",
                p.max_score_for_grouping as f64,
            ),
            (
                "policy.loss_per_failed_charge_krw",
                p.loss_per_failed_charge_krw,
            ),
            (
                "policy.benefit_per_grouped_user_krw",
                p.benefit_per_grouped_user_krw,
            ),
        ] {
            check_range(f, v)?;
        }
        check_currency(&self.currency)
    }

    /// The families to run: `families`, or the older `model`, not both.
    pub fn family_names(&self) -> Result<Vec<String>> {
        let names = match (&self.model, self.families.is_empty()) {
            (Some(_), false) => {
                return Err(NsfError::param(
                    "families",
                    "give `families` or the older `model`, not both",
                ));
            }
            (Some(m), true) => vec![m.clone()],
            (None, true) => {
                return Err(NsfError::param(
                    "families",
                    "name at least one model family",
                ));
            }
            (None, false) => self.families.clone(),
        };
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != names.len() {
            return Err(NsfError::param("families", "a family is listed twice"));
        }
        Ok(names)
    }
}

impl SweepSpec {
    fn check(&self) -> Result<()> {
        if self.users < 1000
            || self.replicates == 0
            || self.rates.is_empty()
            || self.mechanisms.is_empty()
        {
            return Err(NsfError::param(
                "sweep",
                "needs users >= 1000, replicates >= 1, rates and mechanisms",
            ));
        }
        check_range("sweep.users", self.users as f64)?;
        check_range("sweep.replicates", self.replicates as f64)?;
        for (i, r) in self.rates.iter().enumerate() {
            check_range(&format!("sweep.rates[{i}]"), *r)?;
        }
        for (i, v) in self.strengths.iter().enumerate() {
            check_range(&format!("sweep.strengths[{i}]"), *v)?;
        }
        if let Some(m) = self
            .mechanisms
            .iter()
            .find(|m| !["random", "attributes", "risk"].contains(&m.as_str()))
        {
            return Err(NsfError::param(
                "sweep.mechanisms",
                format!("`{m}` is not random, attributes or risk"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_with(overrides: &[&str]) -> Result<ValidSpec> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        load_spec("default", &o)?.check()
    }

    #[test]
    fn default_runs_two_families_with_size_matched_arms_last() {
        let v = default_with(&[]).unwrap();
        let names: Vec<&str> = v.families().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["logistic", "gbdt"]);
        let arms: Vec<&str> = v.arms().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            arms[6..],
            [
                "all-size-of-registered",
                "all-size-of-consented",
                "all-minimal-size-of-consented"
            ]
        );
        // consented and consented-ipw share one size-matched arm.
        assert_eq!(v.size_matched_of(2), Some(7));
        assert_eq!(v.size_matched_of(3), Some(7));
        assert_eq!(v.size_matched_of(0), None);
        assert_eq!(v.size_matched_of(4), None, "all-minimal is not restricted");
        let off = default_with(&["size_matched=false"]).unwrap();
        assert_eq!(off.arms().len(), 6);
    }

    #[test]
    fn families_and_model_together_or_unknown_are_refused() {
        let mut both = load_spec("default", &[]).unwrap();
        both.model = Some("logistic".into());
        let e = both.check().unwrap_err();
        assert!(e.to_string().contains("families"), "{e}");
        let mut old = load_spec("default", &[]).unwrap();
        old.model = Some("scorecard".into());
        old.families.clear();
        assert_eq!(old.check().unwrap().families()[0].name(), "scorecard");
        let e = default_with(&["families=[\"logistic\", \"forest\"]"]).unwrap_err();
        assert!(e.to_string().contains("`forest`"), "{e}");
        let e = default_with(&["families=[]"]).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        let e = default_with(&["families=[\"gbdt\", \"logistic\", \"gbdt\"]"]).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
