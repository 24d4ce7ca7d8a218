//! Training, scoring and evaluation of NSF score models against a generated
//! data set: selects the training population, holds out a fixed share of
//! users from every training set, fits a model family, measures it on the
//! held-out users and registers it with its lineage.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::artifact::{self, FileRecord};
use crate::data::features::{Design, FeatureSet};
use crate::data::generate::{Format, PopulationManifest, read_manifest_hashed};
use crate::error::{NsfError, Result};
use crate::lineage::registry::{self, DataRef, ModelManifest, TrainingMembers};
use crate::models::FitData;
pub use crate::models::{ModelSpec, StoredModel, ValidModelSpec};
use crate::stats::metrics::{Evaluation, evaluate};
use crate::stats::scale::ScoreScale;

/// Share of users held out of every training set, chosen by a hash of
/// (data seed, user_id): the same users for every model of a data set.
pub const HOLDOUT_FRACTION: f64 = 0.2;

/// Who a model is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PopulationRule {
    /// Every user (what the case did).
    All,
    /// Users registered with Apple (those who need a score).
    Registered,
    /// Users who consented to the overseas transfer.
    Consented,
}

impl PopulationRule {
    /// Parses `all`, `registered` or `consented`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "all" => Ok(Self::All),
            "registered" => Ok(Self::Registered),
            "consented" => Ok(Self::Consented),
            other => Err(NsfError::param(
                "--population",
                format!("`{other}` is not one of all, registered, consented"),
            )),
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Registered => "registered",
            Self::Consented => "consented",
        }
    }
}

/// The 0–100 score of a probability (see `registry::SCORE_MAPPING`).
pub fn score_of(prob: f64) -> u8 {
    (100.0 * prob).round().clamp(0.0, 100.0) as u8
}

/// True when `user_id` is in the held-out set of data sets with `data_seed`.
pub fn is_holdout(data_seed: u64, user_id: u64) -> bool {
    use crate::sim::rng::mix64;
    let h = mix64(data_seed ^ 0x686F_6C64_6F75_7400 ^ mix64(user_id));
    ((h >> 11) as f64 / (1u64 << 53) as f64) < HOLDOUT_FRACTION
}

/// A data set loaded for modelling.
pub struct LoadedData {
    /// Its manifest (`None` for a table file: `data::table`).
    pub manifest: Option<PopulationManifest>,
    /// Held out of every training set, per row (a hash of the data seed and
    /// `user_id` for generated data sets: `is_holdout`).
    pub holdout: Vec<bool>,
    /// Reference recorded in model lineage.
    pub data_ref: DataRef,
    /// `user_id` per row.
    pub user_id: Vec<u64>,
    /// Flags and outcome per row.
    pub registered: Vec<bool>,
    /// Consent per row.
    pub consented: Vec<bool>,
    /// Outcome per row.
    pub nsf: Vec<bool>,
    /// Ground truth per row (a table: its observed outcome, 0 or 1).
    pub nsf_prob: Vec<f64>,
    /// Whether `nsf_prob` is a true outcome probability (a generated data
    /// set, or one rewritten by another tool) rather than a table's observed
    /// outcome: without it an evaluation has no oracle AUC.
    pub ground_truth: bool,
    /// Design matrix of the requested attributes.
    pub design: Design,
}

impl LoadedData {
    /// Rows in the data set.
    pub fn rows(&self) -> usize {
        self.user_id.len()
    }

    /// Whether row `i` belongs to population `rule`.
    pub fn in_population(&self, rule: PopulationRule, i: usize) -> bool {
        match rule {
            PopulationRule::All => true,
            PopulationRule::Registered => self.registered[i],
            PopulationRule::Consented => self.consented[i],
        }
    }
}

/// Reads a generated data set's manifest, checks the attributes against the
/// schema the model needs, and loads the columns.
pub fn load_data(dir: &Path, attributes: &[String]) -> Result<LoadedData> {
    let (manifest, manifest_sha256) = read_manifest_hashed(dir)?;
    if manifest.format != Format::Parquet {
        return Err(NsfError::Input {
            path: dir.to_path_buf(),
            message: "models read Parquet data sets (generate without --format csv)".into(),
        });
    }
    for a in attributes {
        if !manifest.attributes.iter().any(|c| &c.name == a) {
            return Err(NsfError::Input {
                path: dir.join("manifest.json"),
                message: format!("data set has another schema: no attribute `{a}`"),
            });
        }
    }
    let data_path = dir.join(&manifest.files[0].name);
    // Row group by row group into the design matrix (no copy of the file
    // as Arrow batches), each row group's bytes hashed as they are read:
    // the file decoded is the one the manifest's SHA-256 names.
    let columns =
        crate::data::columns::read_model_columns(&data_path, &manifest.files[0], attributes)?;
    // Absolute: `destroy --data-disposition destroy` runs from anywhere.
    let abs = std::fs::canonicalize(dir).map_err(|e| NsfError::io(dir, e))?;
    let data_ref = DataRef {
        dir: abs.display().to_string(),
        manifest_sha256,
        data_sha256: manifest.files[0].sha256.clone(),
        preset: manifest.preset.name.clone(),
        seed: manifest.seed,
        users: manifest.users,
    };
    let c = columns;
    Ok(LoadedData {
        holdout: {
            use rayon::prelude::*;
            c.user_id
                .par_iter()
                .map(|&u| is_holdout(manifest.seed, u))
                .collect()
        },
        registered: c.registered,
        consented: c.consented,
        nsf: c.nsf,
        nsf_prob: c.nsf_prob,
        ground_truth: true,
        design: c.design,
        user_id: c.user_id,
        manifest: Some(manifest),
        data_ref,
    })
}

/// Evaluates `model` on the rows `idx` of the data set.
/// Predicts only those rows: evaluating held-out users never needs a pass
/// over the whole data set.
pub fn evaluate_rows(
    data: &LoadedData,
    design: &Design,
    model: &StoredModel,
    idx: &[usize],
) -> Result<Evaluation> {
    evaluate_rows_on(data, design, model, idx, ScoreScale::Probability)
}

/// [`evaluate_rows`] with the score bands on `scale`.
pub fn evaluate_rows_on(
    data: &LoadedData,
    design: &Design,
    model: &StoredModel,
    idx: &[usize],
    scale: ScoreScale,
) -> Result<Evaluation> {
    let p = model.predict(&design.select_rows(idx))?;
    let s: Vec<u8> = scale.scores(&p);
    let y: Vec<bool> = idx.iter().map(|&i| data.nsf[i]).collect();
    let t: Vec<f64> = idx.iter().map(|&i| data.nsf_prob[i]).collect();
    let mut e = evaluate(&p, &s, &y, &t);
    if !data.ground_truth {
        // A table's "truth" is its label: an oracle AUC of 1 would claim
        // what nobody knows (written as null).
        e.oracle_auc = f64::NAN;
    }
    Ok(e)
}

/// Held-out rows of a population.
pub fn holdout_rows(data: &LoadedData, rule: PopulationRule) -> Vec<usize> {
    (0..data.rows())
        .filter(|&i| data.holdout[i] && data.in_population(rule, i))
        .collect()
}

/// The family of `--model`, with `--epsilon` (dp-logistic's privacy
/// budget ε) when given, checked once: an ε that is not a finite number
/// above 0, or an ε for another family, is one line naming `--epsilon`.
pub fn model_spec(model: &str, epsilon: Option<f64>) -> Result<ValidModelSpec> {
    let mut spec = ModelSpec::parse(model)?;
    if let Some(eps) = epsilon {
        let ModelSpec::DpLogistic(p) = &mut spec else {
            return Err(NsfError::param(
                "--epsilon",
                format!("applies to --model dp-logistic only (got --model {model})"),
            ));
        };
        if !(eps.is_finite() && eps > 0.0) {
            return Err(NsfError::param(
                "--epsilon",
                format!("must be a finite number > 0 (got {eps})"),
            ));
        }
        p.epsilon = eps;
    }
    spec.check()
}

/// What `train` produced.
pub struct Trained {
    /// Registry ID.
    pub model_id: String,
    /// Its manifest.
    pub manifest: ModelManifest,
    /// Seconds spent reading the data, fitting, and evaluating + registering.
    pub seconds: [f64; 3],
}

/// Models a new model derives from (families with the capability only).
#[derive(Debug, Clone, Copy, Default)]
pub struct DerivedFrom<'a> {
    /// Train on this model's P(nsf) instead of the observed outcomes
    /// (a model trained on another model's scores: distillation).
    pub teacher: Option<&'a str>,
    /// Start the fit from this model (same family and feature columns).
    pub warm_start: Option<&'a str>,
    /// The score scale the manifest's mapping and score bands are on
    /// (`train --score-scale`).
    pub scale: ScoreScale,
}

/// A registered model a new one derives from: its ID and the model.
type Parent = (String, StoredModel);

/// Loads the parent named by `flag`, if any, when the family can use it.
fn load_parent(
    registry: &Path,
    spec: &ModelSpec,
    flag: &str,
    id: Option<&str>,
    can: fn(&crate::models::Capabilities) -> bool,
) -> Result<Option<Parent>> {
    let Some(id) = id else { return Ok(None) };
    if !can(&spec.capabilities()) {
        let able: Vec<&str> = ModelSpec::NAMES
            .iter()
            .copied()
            .filter(|n| ModelSpec::parse(n).is_ok_and(|s| can(&s.capabilities())))
            .collect();
        return Err(NsfError::param(
            flag,
            format!(
                "training from another model needs --model {} (the {} family cannot)",
                able.join(" or "),
                spec.name()
            ),
        ));
    }
    Ok(Some((id.to_string(), load_model(registry, id)?.1)))
}

/// Training members of `rule`: its users minus the held-out ones.
pub fn training_rows(data: &LoadedData, rule: PopulationRule) -> Vec<usize> {
    (0..data.rows())
        .filter(|&i| !data.holdout[i] && data.in_population(rule, i))
        .collect()
}

/// Trains a model on the non-held-out users of `rule` and registers it.
/// With `from.teacher` the labels are a registered model's probabilities;
/// with `from.warm_start` the fit starts from a registered model; either
/// becomes the new model's parent in the lineage.
pub fn train(
    data_dir: &Path,
    rule: PopulationRule,
    features: &FeatureSet,
    spec: &ValidModelSpec,
    seed: u64,
    registry: &Path,
    from: DerivedFrom,
) -> Result<Trained> {
    let attributes = features.attributes()?;
    let teacher = load_parent(registry, spec, "--teacher", from.teacher, |c| c.soft_labels)?;
    let warm = load_parent(registry, spec, "--warm-start", from.warm_start, |c| {
        c.warm_start
    })?;
    let mut all_attributes = attributes.clone();
    if let Some((_, t)) = &teacher {
        for a in t.features() {
            if !all_attributes.contains(a) {
                all_attributes.push(a.clone());
            }
        }
    }
    let clock = std::time::Instant::now();
    let data = load_data(data_dir, &all_attributes)?;
    let selected;
    // The teacher's extra attributes are dropped from the student's design
    // (no copy when it needs none).
    let design = if all_attributes.len() > attributes.len() {
        selected = data.design.select_attributes(&all_attributes, &attributes);
        &selected
    } else {
        &data.design
    };
    let read_s = clock.elapsed().as_secs_f64();
    let members = training_rows(&data, rule);
    check_classes(&data, &members, "training members")?;
    check_classes(
        &data,
        &holdout_rows(&data, PopulationRule::Registered),
        "held-out registered users",
    )?;
    let job = DerivedFit {
        data: &data,
        design,
        attributes: &attributes,
        all_attributes: &all_attributes,
        members: &members,
        seed,
    };
    let (stored, hyper, parents) = job.fit(spec, teacher.as_ref(), warm.as_ref())?;
    let fit_s = clock.elapsed().as_secs_f64() - read_s;
    let job = Registration {
        population_rule: rule.as_str(),
        members: &members,
        hyperparameters: hyper,
        seed,
        parents,
        scale: from.scale,
    };
    let (model_id, manifest) = register_model_on(&data, design, &stored, job, registry)?;
    let rest_s = clock.elapsed().as_secs_f64() - read_s - fit_s;
    Ok(Trained {
        model_id,
        manifest,
        seconds: [read_s, fit_s, rest_s],
    })
}

/// One fit of `train`, possibly from a teacher's labels or a warm start.
struct DerivedFit<'a> {
    data: &'a LoadedData,
    design: &'a Design,
    attributes: &'a [String],
    all_attributes: &'a [String],
    members: &'a [usize],
    seed: u64,
}

impl DerivedFit<'_> {
    /// The fitted model, its recorded hyperparameters and its parents.
    fn fit(
        &self,
        spec: &ValidModelSpec,
        teacher: Option<&Parent>,
        warm: Option<&Parent>,
    ) -> Result<(StoredModel, serde_json::Value, Vec<String>)> {
        let init = match warm {
            Some((id, m)) if m.family() != spec.name() => {
                return Err(NsfError::param(
                    "--warm-start",
                    format!("model {id} is a {} model, not {}", m.family(), spec.name()),
                ));
            }
            Some((id, m)) if m.feature_columns() != self.design.names.as_slice() => {
                return Err(NsfError::param(
                    "--warm-start",
                    format!("model {id} has other feature columns than --features"),
                ));
            }
            Some((_, m)) => Some(m),
            None => None,
        };
        let mut hyper = spec.hyperparameters();
        let mut parents = Vec::new();
        let fit = |rows: &[usize], y: &[bool], weights: Option<&[f64]>| {
            let d = FitData {
                x: self.design.x.view(),
                attributes: self.attributes,
                rows,
                y,
                weights,
                seed: self.seed,
            };
            spec.fit(&d, &self.design.names, init)
        };
        let stored = match teacher {
            Some((id, t)) => {
                let members = self.members;
                let tdesign =
                    self.data
                        .design
                        .select(Some(members), self.all_attributes, t.features());
                let q = t.predict(&tdesign)?;
                // Soft labels as two weighted copies of each row: y = 1
                // with weight q, y = 0 with weight 1 − q (exact
                // cross-entropy on q).
                let rows: Vec<usize> = members.iter().chain(members).copied().collect();
                let y: Vec<bool> = (0..rows.len()).map(|k| k < members.len()).collect();
                let w: Vec<f64> = q.iter().copied().chain(q.iter().map(|v| 1.0 - v)).collect();
                hyper["labels"] = format!("P(nsf) of teacher model {id}").into();
                parents.push(id.clone());
                fit(&rows, &y, Some(&w))?
            }
            None => {
                let y: Vec<bool> = self.members.iter().map(|&i| self.data.nsf[i]).collect();
                fit(self.members, &y, None)?
            }
        };
        if let Some((id, _)) = warm {
            hyper["warm_start"] = id.clone().into();
            if !parents.contains(id) {
                parents.push(id.clone());
            }
        }
        Ok((stored, hyper, parents))
    }
}

/// Refuses a set of rows without both outcomes: a model cannot be fitted or
/// measured on it (its metrics would be undefined).
pub fn check_classes(data: &LoadedData, rows: &[usize], what: &str) -> Result<()> {
    let pos = rows.iter().filter(|&&i| data.nsf[i]).count();
    if pos == 0 || pos == rows.len() {
        return Err(NsfError::Input {
            path: PathBuf::from(&data.data_ref.dir),
            message: format!(
                "the {} {what} have {} NSF outcome(s) and {} without: a model needs both to be fitted and measured",
                rows.len(),
                pos,
                rows.len() - pos
            ),
        });
    }
    Ok(())
}

/// Fits `spec` on the rows `members` of `design` (labels `nsf` per data row,
/// optional weights per member); returns the model and its recorded
/// hyperparameters.
pub fn fit_model(
    design: &Design,
    attributes: &[String],
    members: &[usize],
    nsf: &[bool],
    weights: Option<&[f64]>,
    spec: &ValidModelSpec,
    seed: u64,
) -> Result<(StoredModel, serde_json::Value)> {
    let y: Vec<bool> = members.iter().map(|&i| nsf[i]).collect();
    let d = FitData {
        x: design.x.view(),
        attributes,
        rows: members,
        y: &y,
        weights,
        seed,
    };
    Ok((spec.fit(&d, &design.names, None)?, spec.hyperparameters()))
}

/// Evaluates a fitted model on the held-out registered users and registers
/// it with its lineage; returns the ID and the stored manifest.
#[allow(clippy::too_many_arguments)]
pub fn register_model(
    data: &LoadedData,
    design: &Design,
    population_rule: &str,
    members: &[usize],
    stored: &StoredModel,
    hyperparameters: serde_json::Value,
    seed: u64,
    registry: &Path,
    parents: Vec<String>,
) -> Result<(String, ModelManifest)> {
    let job = Registration {
        population_rule,
        members,
        hyperparameters,
        seed,
        parents,
        scale: ScoreScale::Probability,
    };
    register_model_on(data, design, stored, job, registry)
}

/// What [`register_model_on`] records besides the data and the model.
pub struct Registration<'a> {
    /// The training population's name.
    pub population_rule: &'a str,
    /// Training member rows.
    pub members: &'a [usize],
    /// The family's hyperparameters as recorded.
    pub hyperparameters: serde_json::Value,
    /// Training seed.
    pub seed: u64,
    /// Parent model IDs.
    pub parents: Vec<String>,
    /// The score scale of the manifest's mapping and score bands.
    pub scale: ScoreScale,
}

/// [`register_model`] with the score bands and mapping on `job.scale`.
pub fn register_model_on(
    data: &LoadedData,
    design: &Design,
    stored: &StoredModel,
    job: Registration,
    registry: &Path,
) -> Result<(String, ModelManifest)> {
    let Registration {
        population_rule,
        members,
        hyperparameters,
        seed,
        parents,
        scale,
    } = job;
    let holdout = holdout_rows(data, PopulationRule::Registered);
    check_classes(data, &holdout, "held-out registered users")?;
    let metrics = evaluate_rows_on(data, design, stored, &holdout, scale)?;
    let mut ids: Vec<u64> = members.iter().map(|&i| data.user_id[i]).collect();
    let manifest = ModelManifest {
        kind: "model".into(),
        model_id: String::new(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        family: stored.family().into(),
        hyperparameters,
        training_seed: seed,
        data: data.data_ref.clone(),
        population_rule: population_rule.into(),
        holdout_fraction: HOLDOUT_FRACTION,
        training_members: TrainingMembers {
            count: ids.len() as u64,
            digest: registry::member_digest(&mut ids),
        },
        features: stored.features().to_vec(),
        feature_columns: design.names.clone(),
        score_mapping: scale.mapping().into(),
        metrics,
        files: Vec::new(),
        parents,
    };
    let model_json = serde_json::to_vec_pretty(stored).expect("model serializes");
    let model_id = registry::register(registry, &model_json, manifest)?;
    let (manifest, _) = registry::load(registry, &model_id)?;
    Ok((model_id, manifest))
}

/// Loads a registered model (checksum verified).
pub fn load_model(registry: &Path, id: &str) -> Result<(ModelManifest, StoredModel)> {
    let (manifest, bytes) = registry::load(registry, id)?;
    let model: StoredModel = serde_json::from_slice(&bytes).map_err(|e| NsfError::Input {
        path: registry.join(id).join("model.json"),
        message: format!("not a model file: {e}"),
    })?;
    Ok((manifest, model))
}

/// `manifest.json` of a score file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ScoresManifest {
    /// Always "scores".
    pub kind: String,
    /// nsfsim version.
    pub nsfsim_version: String,
    /// The model that produced the scores.
    pub model_id: String,
    /// The data set scored.
    pub data: DataRef,
    /// The score mapping.
    pub score_mapping: String,
    /// The score file.
    pub files: Vec<FileRecord>,
}

/// Scores every user of a data set with a registered model: writes `out`
/// (user_id, score, prob, holdout, nsf; Parquet, or CSV for a `.csv` name) and `<out>.manifest.json`, and records the
/// derived artifact in the registry. Existing files need `force`; nothing
/// is written inside the registry or a data set. The lineage record is
/// written (pending) before the output is published.
pub fn score(
    registry: &Path,
    id: &str,
    data_dir: &Path,
    out: &Path,
    scale: crate::stats::scale::ScoreScale,
    force: bool,
) -> Result<ScoresManifest> {
    score_with(registry, id, out, scale, force, &|_, model| {
        load_data(data_dir, model.features())
    })
}

/// [`score`] on the data `load` gives for the model (a table file:
/// `experiment::own`).
pub fn score_with(
    registry: &Path,
    id: &str,
    out: &Path,
    scale: crate::stats::scale::ScoreScale,
    force: bool,
    load: &dyn Fn(&ModelManifest, &StoredModel) -> Result<LoadedData>,
) -> Result<ScoresManifest> {
    let out = artifact::check_output_file(out, force, &[registry])?;
    let mpath = artifact::check_output_file(&scores_manifest_path(&out), force, &[registry])?;
    let (manifest, model) = load_model(registry, id)?;
    let data = load(&manifest, &model)?;
    let prob = model.predict(&data.design)?;
    let scores: Vec<u8> = scale.scores(&prob);
    let pending = registry::begin_derived(
        registry,
        "scores",
        &[out.clone(), mpath.clone()],
        &[artifact::partial_path(&out), artifact::partial_path(&mpath)],
        &[id.to_string()],
    )?;
    let holdout = &data.holdout;
    let columns = crate::data::score_file::ScoreColumns {
        user_id: &data.user_id,
        score: &scores,
        prob: &prob,
        holdout,
        nsf: &data.nsf,
    };
    let record = crate::data::score_file::write(&out, id, &columns)?;
    let manifest = ScoresManifest {
        kind: "scores".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        model_id: id.into(),
        data: data.data_ref.clone(),
        score_mapping: scale.mapping().into(),
        files: vec![record],
    };
    artifact::write_json_atomic(&mpath, &manifest)?;
    pending.complete()?;
    Ok(manifest)
}

/// Where the manifest of a score file goes: `<out>.manifest.json`.
pub fn scores_manifest_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".manifest.json");
    PathBuf::from(s)
}

/// Evaluates a registered model on the held-out users of `rule`.
pub fn evaluate_model(
    registry: &Path,
    id: &str,
    data_dir: &Path,
    rule: PopulationRule,
) -> Result<Evaluation> {
    let (_, model) = load_model(registry, id)?;
    let data = load_data(data_dir, model.features())?;
    evaluate_rows(&data, &data.design, &model, &holdout_rows(&data, rule))
}
