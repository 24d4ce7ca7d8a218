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
//!
//! On a model trained on a table file (`train --data FILE`) there is no
//! simulated truth: the attacks, the same-family control and the attribute
//! inference on the table's columns run; what needs the simulator is left
//! out and listed ([`TABLE_LEFT_OUT`]).

pub mod attributes;
pub mod control;
pub mod disclosure;
pub mod dp;
pub mod membership;
pub mod reidentify;
pub mod replacement;

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::features::{Design, FeatureSet};
use crate::error::{NsfError, Result};
use crate::lineage::registry::{self, ModelManifest};
use crate::models::train::{self, LoadedData, PopulationRule};
use crate::models::{ModelSpec, StoredModel, ValidModelSpec};
use crate::sim::rng::mix64;
use crate::stats::money::Policy;

pub use attributes::{AttributeRow, Uniqueness};
pub use membership::{AttackResult, Control, Membership, control_spec};
pub use replacement::Replacement;

/// Audit settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
                benefit_per_grouped_user_krw: 300.0,
            },
        }
    }
}

/// [`AuditParams`] that passed [`AuditParams::check`]: the only kind an
/// audit runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAuditParams(AuditParams);

impl std::ops::Deref for ValidAuditParams {
    type Target = AuditParams;
    fn deref(&self) -> &AuditParams {
        &self.0
    }
}

impl AuditParams {
    /// Validates the settings once.
    pub fn check(self) -> Result<ValidAuditParams> {
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
        Ok(ValidAuditParams(self))
    }
}

/// A figure with its 95% bootstrap interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Est {
    /// Point estimate.
    pub value: f64,
    /// 95% percentile-bootstrap interval.
    pub ci95: [f64; 2],
}

/// Everything `audit` found (`audit.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
    /// The lawful replacement (None on a table: no true probability to
    /// cost it under; see `left_out`).
    pub replacement: Option<Replacement>,
    /// The same-family positive control at growing training sizes, with
    /// planted canaries.
    #[serde(default)]
    pub same_family_control: Option<control::SameFamilyControl>,
    /// What the score's grade band discloses about attributes.
    #[serde(default)]
    pub disclosure: Vec<disclosure::BandDisclosure>,
    /// What this audit leaves out and why (a table has no simulated
    /// truth); empty on a generated data set.
    #[serde(default)]
    pub left_out: Vec<String>,
}

/// What an audit of a model trained on a table leaves out, and why.
pub const TABLE_LEFT_OUT: [&str; 4] = [
    "the lawful replacement's cost: it is measured under the simulator's true NSF probability, which a table does not have",
    "disclosure per grade band (balance, auto top-up, device): those are the simulator's attributes",
    "singling out by age band, region and device: a table's public quasi-identifiers are unknown, so only the score's own groups are counted",
    "R² from quasi-identifiers: none are known for a table, so r2_quasi is 0 by construction and r2_score_quasi equals r2_score",
];

/// The `n` rows with the smallest seeded hash of their user ID, in hash
/// order: a reproducible random sample, in O(rows) (no full sort at 40 M).
pub(crate) fn hash_sample(data: &LoadedData, rows: &[usize], seed: u64, n: usize) -> Vec<usize> {
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

/// The family and hyperparameters a registered model was trained with
/// (without what only its lineage records: teacher labels, warm start, a
/// table's encodings).
pub(crate) fn spec_of(m: &ModelManifest) -> Result<ValidModelSpec> {
    let mut h = m.hyperparameters.clone();
    if let Some(o) = h.as_object_mut() {
        o.remove("labels");
        o.remove("warm_start");
        // A table's encoding record (`train --data FILE`).
        o.remove("table");
        o.insert("family".into(), m.family.clone().into());
    }
    let spec: ModelSpec = serde_json::from_value(h).map_err(|e| NsfError::Input {
        path: m.model_id.clone().into(),
        message: format!("cannot rebuild the model's hyperparameters: {e}"),
    })?;
    spec.check()
}

/// The audited model on its data set: what every part of the audit reads.
pub(crate) struct Target<'a> {
    /// The data set it was trained on (full features).
    pub data: &'a LoadedData,
    /// The design of the model's own attributes.
    pub design: &'a Design,
    /// The model's attributes.
    pub attrs: &'a [String],
    /// Its family and hyperparameters (for shadows and the replacement).
    pub spec: &'a ValidModelSpec,
    /// The model.
    pub model: &'a StoredModel,
    /// Its manifest.
    pub manifest: &'a ModelManifest,
    /// The audit's settings.
    pub params: &'a AuditParams,
}

/// Refuses a data set other than the one `manifest`'s model was trained on
/// (membership truth needs that one), and returns the model's training
/// members and the held-out users of its population.
pub(crate) fn members_of(
    data: &LoadedData,
    manifest: &ModelManifest,
    data_dir: &Path,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let model_id = &manifest.model_id;
    if data.data_ref.manifest_sha256 != manifest.data.manifest_sha256 {
        return Err(NsfError::Input {
            path: data_dir.join("manifest.json"),
            message: format!(
                "not the data set model {model_id} was trained on (its manifest SHA-256 differs); membership truth needs that data set"
            ),
        });
    }
    let rule = PopulationRule::parse(&manifest.population_rule)?;
    // One pass: the population's users, split by the holdout flag.
    let (non_members, members): (Vec<usize>, Vec<usize>) = (0..data.rows())
        .filter(|&i| data.in_population(rule, i))
        .partition(|&i| data.holdout[i]);
    let mut ids: Vec<u64> = members.iter().map(|&i| data.user_id[i]).collect();
    if registry::member_digest(&mut ids) != manifest.training_members.digest {
        return Err(NsfError::Input {
            path: data_dir.to_path_buf(),
            message: format!(
                "the training members recomputed from the data do not match model {model_id}'s member digest"
            ),
        });
    }
    Ok((members, non_members))
}

/// Runs the audit of registered model `model_id` on the generated data set
/// it was trained on; registers the lawful replacement in `registry`.
pub fn run(
    registry: &Path,
    model_id: &str,
    data_dir: &Path,
    params: &ValidAuditParams,
    progress: &dyn Fn(&str),
) -> Result<AuditResult> {
    let load = |_: &ModelManifest, _: &StoredModel| {
        train::load_data(data_dir, &FeatureSet::Full.attributes()?)
    };
    run_with(registry, model_id, data_dir, params, progress, &load)
}

/// Loads the data a model is audited on, given its manifest and model.
pub type Loader<'a> = dyn Fn(&ModelManifest, &StoredModel) -> Result<LoadedData> + 'a;

/// The audit of `model_id` on the data `load` gives: a generated data set
/// (every attribute, with its manifest) or a table file (the model's own
/// columns; see [`TABLE_LEFT_OUT`]).
pub fn run_with(
    registry: &Path,
    model_id: &str,
    data_dir: &Path,
    params: &ValidAuditParams,
    progress: &dyn Fn(&str),
    load: &Loader,
) -> Result<AuditResult> {
    let (manifest, model) = train::load_model(registry, model_id)?;
    let spec = spec_of(&manifest)?;
    progress("loading the data set");
    let data = load(&manifest, &model)?;
    let (members, non_members) = members_of(&data, &manifest, data_dir)?;
    let attrs = model.features().to_vec();
    let selected;
    let design: &Design = if data.design.names == model.feature_columns() {
        &data.design
    } else {
        selected = data
            .design
            .select_attributes(&FeatureSet::Full.attributes()?, &attrs);
        &selected
    };
    let target = Target {
        data: &data,
        design,
        attrs: &attrs,
        spec: &spec,
        model: &model,
        manifest: &manifest,
        params,
    };
    progress("scoring every user");
    let p_all = model.predict(design)?;
    let split = membership::Split {
        members: &members,
        non_members: &non_members,
    };
    let mut controls = membership::ControlCache::default();
    let membership = membership::membership(&target, &split, &p_all, &mut controls, progress)?;
    let same_family = control::same_family_control(&target, &split, progress)?;
    let mut result = AuditResult {
        kind: "audit".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        params: (**params).clone(),
        model: manifest.clone(),
        users: data.rows() as u64,
        membership,
        attribute_sample: 0,
        attributes: Vec::new(),
        uniqueness: Vec::new(),
        replacement: None,
        same_family_control: Some(same_family),
        disclosure: Vec::new(),
        left_out: Vec::new(),
    };
    // The court's question: attributes from the score.
    progress("attribute inference from the score");
    let score: Vec<u8> = p_all.iter().map(|&p| train::score_of(p)).collect();
    if data.manifest.is_none() {
        let (uniqueness, sample, rows) = attributes::table_inference(&data, &score, params);
        (
            result.uniqueness,
            result.attribute_sample,
            result.attributes,
        ) = (uniqueness, sample, rows);
        result.left_out = TABLE_LEFT_OUT.iter().map(|s| s.to_string()).collect();
        return Ok(result);
    }
    result.disclosure = disclosure::by_band(&data, &p_all);
    let (uniqueness, quasi_all) = attributes::singling_out(&data, &score);
    let (attribute_sample, attributes) =
        attributes::attribute_inference(data_dir, &data, &score, quasi_all, params)?;
    (
        result.uniqueness,
        result.attribute_sample,
        result.attributes,
    ) = (uniqueness, attribute_sample, attributes);
    progress("lawful replacement: the same model on consented users only");
    result.replacement = Some(replacement::lawful_replacement(&target, registry)?);
    Ok(result)
}
