//! Destruction orders: finds a model and everything derived from it through
//! the registry's lineage (models trained on its scores, score files, runs
//! and audits that embed its outputs), deletes exactly those files (only
//! when their content still matches the lineage record), writes a
//! destruction record with the order's accountability fields, appends every
//! run to a hash-chained log, and verifies by content hash and by parsed
//! content that no copy is left in the registry, `runs/` or any folder the
//! user names. The record's parts live beside this file: `destroy_record`
//! (order, execution, digest), `destroy_log`, `destroy_sign`, `destroy_scan`,
//! `destroy_data`, `destroy_md` and `destroy_verify`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::artifact::{self, FileFate};
use crate::error::{NsfError, Result};
use crate::lineage::destroy_data::{self, DataDisposition};
pub use crate::lineage::destroy_log::{LogEntry, log_path, logged_destroyed, read_log};
pub use crate::lineage::destroy_md::{markdown, md_escape};
use crate::lineage::destroy_record::{
    DeletionMethod, Disposition, Execution, Order, Signature, digest_of,
};
pub use crate::lineage::destroy_scan::{FoundCopy, FunctionalCopy, Verification};
use crate::lineage::destroy_scan::{ModelPrint, ScorePrint, Targets};
pub use crate::lineage::destroy_verify::{VerifyOptions, VerifyReport, verify};
use crate::lineage::registry::{self, DataRef, TrainingMembers};

/// What to destroy, where to look, and who is accountable.
#[derive(Debug, Clone)]
pub struct DestroyOptions {
    /// The registry holding the model and the lineage.
    pub registry: PathBuf,
    /// The model named in the order.
    pub model_id: String,
    /// The order and the people accountable (checked unless a dry run).
    pub order: Order,
    /// Whether the training data is kept or destroyed, and why.
    pub data_disposition: Disposition,
    /// Why (free text, recorded).
    pub data_reason: String,
    /// How files are deleted.
    pub deletion_method: DeletionMethod,
    /// The operator's Ed25519 secret key file: signs the record and the log entry.
    pub sign_key: Option<PathBuf>,
    /// List what would be destroyed; change nothing.
    pub dry_run: bool,
    /// The runs folder (scanned for copies, like the registry).
    pub runs: PathBuf,
    /// Further folders scanned for copies after deletion.
    pub scan: Vec<PathBuf>,
}

/// One file the order covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Artifact {
    /// `model`, `scores`, `run`, `audit`, `lineage-record`, `data`, ...
    pub kind: String,
    /// Model ID or lineage-record ID it belongs to.
    pub id: String,
    /// Absolute path.
    pub path: String,
    /// Size in bytes when planned.
    pub bytes: u64,
    /// SHA-256 of its content (recorded at creation, or read when planned).
    pub sha256: String,
    /// How it derives from the ordered model, one step per element.
    pub derivation: Vec<String>,
    /// What happened to it (`None` in a dry run).
    pub fate: Option<FileFate>,
}

/// A model the order destroys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DestroyedModel {
    /// Its ID.
    pub model_id: String,
    /// Its family.
    pub family: String,
    /// Attributes it used.
    #[serde(default)]
    pub features: Vec<String>,
    /// The data set it was trained on.
    pub data: DataRef,
    /// Its training population rule.
    pub population_rule: String,
    /// Who it was trained on (count and digest of the member IDs).
    pub training_members: TrainingMembers,
    /// How it derives from the ordered model.
    pub derivation: Vec<String>,
}

/// A lineage record the order did not follow: its files are left alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Suspicious {
    /// The lineage record.
    pub record: String,
    /// Why it was not trusted.
    pub reason: String,
}

/// A later run of the same order: who ran it under which order, what it
/// found and did (the first run's entries are never rewritten).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Rerun {
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    /// The order and people given to this run.
    pub order: Order,
    /// Where and how it ran.
    pub execution: Execution,
    /// Models found derived since the first run (registered after it).
    pub models: Vec<DestroyedModel>,
    /// Files found derived since the first run, and files of earlier runs
    /// that had come back (`derivation` says which), with their fate.
    pub artifacts: Vec<Artifact>,
    /// Files earlier runs deleted that were found back (paths), whatever
    /// became of them in this run.
    #[serde(default)]
    pub reappeared: Vec<String>,
    /// This run's verification scan.
    pub verification: Option<Verification>,
}

/// `destroyed/<model_id>.json`: what was destroyed, on whose order, by
/// whom, how, and what the verification found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DestructionRecord {
    /// Always "destruction".
    pub kind: String,
    /// nsfsim version that carried out the first run.
    pub nsfsim_version: String,
    /// The model named in the order.
    pub model_id: String,
    /// The order and the people accountable (first run; later runs carry
    /// their own in `reruns`).
    pub order: Order,
    /// Host, tool, version, build and deletion method of the first run.
    pub execution: Execution,
    /// `in-progress` while deleting; `complete` when every file of the
    /// closure is gone, nothing was kept and the scan found no copy
    /// (byte-identical or functional); `incomplete` otherwise (see
    /// `incomplete_reasons`).
    pub status: String,
    /// Why the order is not complete (empty when complete).
    #[serde(default)]
    pub incomplete_reasons: Vec<String>,
    /// When the order was first carried out (UTC, RFC 3339).
    pub executed_at: String,
    /// The registry.
    pub registry: String,
    /// Every model destroyed (the ordered one first).
    pub models: Vec<DestroyedModel>,
    /// Every file, with its fate.
    pub artifacts: Vec<Artifact>,
    /// What became of the training data.
    pub data_disposition: DataDisposition,
    /// Lineage records not followed (their files were left alone).
    #[serde(default)]
    pub suspicious: Vec<Suspicious>,
    /// Lineage files that could not be read.
    #[serde(default)]
    pub unreadable: Vec<registry::Unreadable>,
    /// The last verification scan.
    pub verification: Option<Verification>,
    /// Later runs of the order, oldest first.
    #[serde(default)]
    pub reruns: Vec<Rerun>,
    /// SHA-256 of this record's JSON with `record_digest` empty and
    /// `signature` null (`destroy verify` recomputes it).
    pub record_digest: String,
    /// Ed25519 signature of `record_digest` by the operator's key, if given.
    pub signature: Option<Signature>,
}

impl DestructionRecord {
    /// The record's digest (see `record_digest`).
    pub fn digest(&self) -> String {
        digest_of(self, |c| {
            c.record_digest.clear();
            c.signature = None;
        })
    }

    /// Every model destroyed, first run and re-runs.
    pub fn all_models(&self) -> impl Iterator<Item = &DestroyedModel> {
        self.models
            .iter()
            .chain(self.reruns.iter().flat_map(|r| &r.models))
    }

    /// Every file of every run, the training data's included.
    pub fn all_artifacts(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts
            .iter()
            .chain(&self.data_disposition.artifacts)
            .chain(self.reruns.iter().flat_map(|r| &r.artifacts))
    }
}

/// Marker of a model destroyed as a descendant of another order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Marker {
    kind: String,
    model_id: String,
    destroyed_with: String,
}

/// What `destroy` did.
pub struct Outcome {
    /// The record (also written unless a dry run).
    pub record: DestructionRecord,
    /// Whether the model had already been destroyed before this call.
    pub already_destroyed: bool,
    /// Paths of the JSON and Markdown record (empty in a dry run).
    pub written: Vec<PathBuf>,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn model_artifacts(registry: &Path, id: &str, derivation: &[String]) -> Result<Vec<Artifact>> {
    let dir =
        std::fs::canonicalize(registry.join(id)).map_err(|e| NsfError::io(registry.join(id), e))?;
    let mut out = Vec::new();
    for name in ["model.json", "manifest.json"] {
        let p = dir.join(name);
        let Some(bytes) = artifact::file_size(&p) else {
            continue;
        };
        out.push(Artifact {
            kind: "model".into(),
            id: id.to_string(),
            path: p.display().to_string(),
            bytes,
            sha256: artifact::sha256_file(&p)?,
            derivation: derivation.to_vec(),
            fate: None,
        });
    }
    Ok(out)
}

/// What an order covers, found from the lineage.
struct Plan {
    models: Vec<DestroyedModel>,
    artifacts: Vec<Artifact>,
    suspicious: Vec<Suspicious>,
    unreadable: Vec<registry::Unreadable>,
}

/// Facts every derived file is checked against.
struct Guard {
    registry: PathBuf,
    closure: BTreeSet<String>,
    data_hashes: BTreeSet<String>,
}

/// Finds the models `seeds` (registered or already destroyed) and their
/// descendants, and every derived file whose own metadata names one of
/// them. A record that fails the checks is reported as suspicious and its
/// files are left alone; an unreadable lineage file is reported and the
/// rest goes on.
fn plan(registry: &Path, seeds: &[(String, Vec<String>)]) -> Result<Plan> {
    let (models, mut unreadable) = registry::list_lineage(registry);
    let (derived, bad) = registry::list_derived(registry);
    unreadable.extend(bad);
    let mut closure: BTreeSet<String> = seeds.iter().map(|(id, _)| id.clone()).collect();
    let mut out = Plan {
        models: Vec::new(),
        artifacts: Vec::new(),
        suspicious: Vec::new(),
        unreadable,
    };
    let mut queue: Vec<(String, Vec<String>)> = seeds.to_vec();
    let mut done_records = BTreeSet::new();
    let mut followed: Vec<(&registry::DerivedRecord, Vec<String>)> = Vec::new();
    while let Some((id, path)) = queue.pop() {
        if let Some(m) = models.iter().find(|m| m.model_id == id) {
            out.models.push(destroyed_model(m, &path));
            out.artifacts.extend(model_artifacts(registry, &id, &path)?);
        }
        for child in models.iter().filter(|c| c.parents.contains(&id)) {
            if closure.insert(child.model_id.clone()) {
                let mut p = path.clone();
                p.push(format!("model {} (trained from {id})", child.model_id));
                queue.push((child.model_id.clone(), p));
            }
        }
        for rec in derived.iter().filter(|r| r.parents.contains(&id)) {
            if done_records.insert(rec.artifact_id.clone()) {
                let mut p = path.clone();
                p.push(format!(
                    "{} {} (from model {id})",
                    rec.kind, rec.artifact_id
                ));
                followed.push((rec, p));
            }
        }
    }
    let guard = Guard {
        registry: std::fs::canonicalize(registry).map_err(|e| NsfError::io(registry, e))?,
        data_hashes: models.iter().map(|m| m.data.data_sha256.clone()).collect(),
        closure,
    };
    for (rec, p) in followed {
        let rp = registry
            .join("derived")
            .join(format!("{}.json", rec.artifact_id));
        match vet_record(rec, &guard, &p) {
            Ok(arts) => {
                out.artifacts.extend(arts);
                let rp = std::fs::canonicalize(&rp).map_err(|e| NsfError::io(&rp, e))?;
                out.artifacts.push(Artifact {
                    kind: "lineage-record".into(),
                    id: rec.artifact_id.clone(),
                    bytes: artifact::file_size(&rp).unwrap_or(0),
                    sha256: artifact::sha256_file(&rp)?,
                    path: rp.display().to_string(),
                    derivation: p,
                    fate: None,
                });
            }
            Err(reason) => out.suspicious.push(Suspicious {
                record: rp.display().to_string(),
                reason,
            }),
        }
    }
    Ok(out)
}

fn destroyed_model(m: &registry::ModelLineage, derivation: &[String]) -> DestroyedModel {
    DestroyedModel {
        model_id: m.model_id.clone(),
        family: m.family.clone(),
        features: m.features.clone(),
        data: m.data.clone(),
        population_rule: m.population_rule.clone(),
        training_members: m.training_members.clone(),
        derivation: derivation.to_vec(),
    }
}

/// Checks every file a derived record names and returns them as artifacts
/// to delete, or why the record is not trusted.
fn vet_record(
    rec: &registry::DerivedRecord,
    g: &Guard,
    derivation: &[String],
) -> std::result::Result<Vec<Artifact>, String> {
    let pending = rec.status != "complete";
    if !pending && rec.paths.len() != rec.files.len() {
        return Err("paths and checksums differ in number".into());
    }
    let mut out = Vec::new();
    let mut outputs = Vec::new();
    for (i, path_s) in rec.paths.iter().enumerate() {
        let p = PathBuf::from(path_s);
        vet_location(&p, g)?;
        let files = if pending && p.is_dir() && !p.is_symlink() {
            artifact::files_under(&p).map_err(|e| e.to_string())?
        } else {
            vec![p.clone()]
        };
        outputs.push(p);
        for f in files {
            let art = vet_file(rec, &f, (!pending).then(|| &rec.files[i]), g)?;
            out.push(Artifact {
                kind: rec.kind.clone(),
                id: rec.artifact_id.clone(),
                derivation: derivation.to_vec(),
                fate: None,
                ..art
            });
        }
    }
    for st in &rec.staging {
        let p = PathBuf::from(st);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let beside = outputs.iter().any(|o| o.parent() == p.parent());
        if !name.contains(".partial-") || !beside {
            return Err(format!(
                "staging path `{st}` is not a staging name beside its output"
            ));
        }
        vet_location(&p, g)?;
        let bytes = std::fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
        out.push(Artifact {
            kind: "staging".into(),
            id: rec.artifact_id.clone(),
            path: st.clone(),
            bytes,
            sha256: String::new(),
            derivation: derivation.to_vec(),
            fate: None,
        });
    }
    Ok(out)
}

/// A derived path must be absolute, resolve to itself (no symlink or `..`)
/// and lie outside the registry and every data set.
fn vet_location(p: &Path, g: &Guard) -> std::result::Result<(), String> {
    let shown = p.display();
    if !p.is_absolute() {
        return Err(format!("names `{shown}`, which is not an absolute path"));
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "names `{shown}`, which leaves its folder through `..`"
        ));
    }
    if std::fs::symlink_metadata(p).is_ok() {
        let canon = std::fs::canonicalize(p).map_err(|e| format!("`{shown}`: {e}"))?;
        if canon != p {
            return Err(format!(
                "names `{shown}`, which resolves elsewhere ({})",
                canon.display()
            ));
        }
    }
    if p.starts_with(&g.registry) {
        return Err(format!("names `{shown}` inside the registry"));
    }
    if let Some(d) = artifact::enclosing_data_set(p) {
        return Err(format!(
            "names `{shown}` inside the data set {}",
            d.display()
        ));
    }
    Ok(())
}

/// One file of a derived record: it must exist with the recorded content
/// (else it is kept or absent, which `execute` records) and its own
/// metadata must name a model of the order.
fn vet_file(
    rec: &registry::DerivedRecord,
    p: &Path,
    recorded: Option<&crate::data::artifact::FileRecord>,
    g: &Guard,
) -> std::result::Result<Artifact, String> {
    let base = |bytes: u64, sha256: String| Artifact {
        kind: String::new(),
        id: String::new(),
        path: p.display().to_string(),
        bytes,
        sha256,
        derivation: Vec::new(),
        fate: None,
    };
    let Some(bytes) = artifact::file_size(p) else {
        return Ok(match recorded {
            Some(f) => base(f.bytes, f.sha256.clone()),
            None => base(0, String::new()),
        });
    };
    if p.is_symlink() {
        return Err(format!("names `{}`, a symbolic link", p.display()));
    }
    let sha = artifact::sha256_file(p).map_err(|e| e.to_string())?;
    if g.data_hashes.contains(&sha) {
        return Err(format!("names `{}`, a data set's data file", p.display()));
    }
    if let Some(f) = recorded
        && f.sha256 != sha
    {
        // Changed since recorded: kept by `execute`, whatever it is now.
        return Ok(base(f.bytes, f.sha256.clone()));
    }
    names_the_order(&rec.kind, p, &sha, g)?;
    Ok(base(bytes, sha))
}

/// Whether the file's own metadata (Parquet footer, sidecar manifest, run
/// or audit manifest) names a model of the order.
fn names_the_order(kind: &str, p: &Path, sha: &str, g: &Guard) -> std::result::Result<(), String> {
    let shown = p.display();
    let in_closure = |v: &serde_json::Value| v.as_str().is_some_and(|id| g.closure.contains(id));
    let read_json = |q: &Path| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(q).ok()?).ok()
    };
    let named = match kind {
        "scores" => {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.ends_with(".manifest.json") {
                read_json(p).is_some_and(|m| m["kind"] == "scores" && in_closure(&m["model_id"]))
            } else if let Some(kv) = artifact::parquet_key_values(p)
                && kv.iter().any(|(k, v)| k == "nsfsim.kind" && v == "scores")
            {
                kv.iter()
                    .any(|(k, v)| k == "nsfsim.model_id" && g.closure.contains(v))
            } else {
                // Score files written before the footer named the model:
                // the sidecar manifest must name it and this content.
                read_json(&crate::models::train::scores_manifest_path(p)).is_some_and(|m| {
                    m["kind"] == "scores"
                        && in_closure(&m["model_id"])
                        && m["files"][0]["sha256"] == sha
                })
            }
        }
        "run" | "audit" => {
            let mut dir = p.parent();
            let mut found = false;
            while let Some(d) = dir {
                if let Some(m) = read_json(&d.join("manifest.json")) {
                    let rel = p.strip_prefix(d).unwrap_or(p).to_string_lossy().to_string();
                    let listed = rel == "manifest.json"
                        || artifact::listed_files(&m).iter().any(|l| {
                            &rel == l || (l.ends_with('/') && rel.starts_with(l.as_str()))
                        });
                    let models = m["models"].as_array().into_iter().flatten();
                    found = m["kind"] == kind
                        && m["nsfsim_version"].is_string()
                        && listed
                        && (in_closure(&m["model_id"])
                            || models.map(|x| &x["model_id"]).any(in_closure));
                    break;
                }
                dir = d.parent();
            }
            found
        }
        other => return Err(format!("unknown artifact kind `{other}`")),
    };
    if named {
        Ok(())
    } else {
        Err(format!(
            "names `{shown}`, whose own metadata does not name a model of this order"
        ))
    }
}

/// What the scan searches for: every destroyed file's size and hash, and
/// (read before deletion, while the files exist) each destroyed model's
/// numbers and each destroyed score file's scores.
fn targets(arts: &[&Artifact], models: &[&DestroyedModel], reg: &Path) -> Targets {
    let mut t = Targets::default();
    // Lineage records describe artifacts; they are not copies of them.
    for a in arts
        .iter()
        .filter(|a| a.kind != "lineage-record" && a.bytes > 0 && !a.sha256.is_empty())
    {
        t.by_size
            .entry(a.bytes)
            .or_default()
            .push((a.sha256.clone(), a.path.clone()));
    }
    for m in models {
        let model_file = reg.join(&m.model_id).join("model.json");
        t.models.push(ModelPrint {
            model_id: m.model_id.clone(),
            family: m.family.clone(),
            features: m.features.clone(),
            member_digest: m.training_members.digest.clone(),
            numbers: crate::lineage::destroy_scan::model_numbers(&model_file),
        });
    }
    for a in arts
        .iter()
        .filter(|a| a.kind == "scores" && a.fate.is_none())
    {
        let p = Path::new(&a.path);
        if let Some(pairs) = crate::lineage::destroy_scan::score_pairs(p) {
            t.scores.push(ScorePrint {
                path: a.path.clone(),
                scores: pairs.into_iter().collect(),
            });
        }
    }
    t
}

fn scan_roots(o: &DestroyOptions) -> Vec<PathBuf> {
    let mut roots = vec![o.registry.clone(), o.runs.clone()];
    roots.extend(o.scan.iter().cloned());
    roots
}

/// Deletes every artifact that has no fate yet.
fn execute(arts: &mut [Artifact], method: DeletionMethod) -> Result<()> {
    let mut folders: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for a in arts.iter_mut().filter(|a| a.fate.is_none()) {
        let p = PathBuf::from(&a.path);
        a.fate = Some(if a.kind == "staging" {
            artifact::remove_staging(&p)?
        } else {
            // A model's folder goes with its two files, a data set's with its own.
            let levels = usize::from(a.kind == "model" || a.kind == "data");
            delete_checked(&p, &a.sha256, levels, method)?
        });
        if a.kind == "run" || a.kind == "audit" {
            folders.entry(a.id.clone()).or_default().push(p);
        }
    }
    // A run or audit folder goes when nothing else is left in it.
    for paths in folders.values() {
        if let Some(dir) = common_folder(paths) {
            artifact::remove_empty_tree(&dir);
        }
    }
    Ok(())
}

/// Deletes `p` if its SHA-256 is `sha256`; with `Overwrite`, its content is
/// first overwritten with zeros and flushed (`artifact::delete_if_unchanged`).
fn delete_checked(
    p: &Path,
    sha256: &str,
    levels: usize,
    method: DeletionMethod,
) -> Result<FileFate> {
    let overwrite = method != DeletionMethod::Unlink;
    artifact::delete_if_unchanged(p, sha256, levels, overwrite)
}

/// The deepest folder containing every path.
fn common_folder(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut common = paths.first()?.parent()?.to_path_buf();
    for p in paths {
        while !p.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

/// Sets `status` and `incomplete_reasons` from what the record shows.
fn judge(rec: &mut DestructionRecord) {
    let mut reasons = Vec::new();
    for a in rec
        .all_artifacts()
        .filter(|a| a.fate == Some(FileFate::ChangedKept) && a.kind != "data")
    {
        let now = artifact::sha256_file(Path::new(&a.path)).unwrap_or_default();
        reasons.push(format!(
            "kept `{}`: its content changed since recorded (now SHA-256 {now})",
            a.path
        ));
    }
    reasons.extend(destroy_data::reasons(&rec.data_disposition));
    if let Some(v) = &rec.verification {
        for c in &v.copies_found {
            reasons.push(format!("copy found: `{}` = `{}`", c.path, c.copy_of));
        }
        for c in &v.functional_copies {
            reasons.push(format!(
                "functional copy found: `{}` reproduces {} ({})",
                c.path, c.copy_of, c.rule
            ));
        }
        for u in &v.unreadable {
            reasons.push(format!(
                "unreadable Parquet file under the scanned roots, not checked for copies: `{}`: {}",
                u.path, u.reason
            ));
        }
    }
    for s in &rec.suspicious {
        reasons.push(format!(
            "lineage record not followed: `{}`: {}",
            s.record, s.reason
        ));
    }
    for u in &rec.unreadable {
        reasons.push(format!(
            "lineage file unreadable: `{}`: {}",
            u.path, u.reason
        ));
    }
    rec.status = if reasons.is_empty() {
        "complete"
    } else {
        "incomplete"
    }
    .into();
    rec.incomplete_reasons = reasons;
}

/// Checks the options before anything is read or changed.
fn check_options(o: &DestroyOptions) -> Result<Option<ed25519_dalek::SigningKey>> {
    registry::check_id(&o.model_id)?;
    for d in &o.scan {
        if !d.is_dir() {
            return Err(NsfError::param(
                "--scan",
                format!("{} is not a folder", d.display()),
            ));
        }
    }
    if !o.registry.is_dir() {
        return Err(NsfError::param(
            "--registry",
            format!("no registry at {}", o.registry.display()),
        ));
    }
    if o.dry_run {
        return Ok(None);
    }
    o.order.check()?;
    if o.data_reason.trim().is_empty() {
        return Err(NsfError::param(
            "--reason",
            "is empty; say why the training data is kept or destroyed",
        ));
    }
    o.sign_key
        .as_deref()
        .map(|k| crate::lineage::destroy_sign::load_signing_key(k, "--sign-key"))
        .transpose()
}

/// Carries out (or with `dry_run`, plans) a destruction order.
pub fn destroy(o: &DestroyOptions) -> Result<Outcome> {
    let key = check_options(o)?;
    let reg = &o.registry;
    // Held to the end: a second run of an order waits for the first one's
    // record (tests/destroy.rs, `two_runs_of_one_order_at_once_record_one_deletion`).
    let _order = match o.dry_run {
        true => None,
        false => Some(registry::destroy_lock(reg)?),
    };
    let lock = if o.dry_run {
        None
    } else {
        let l = registry::lock(reg)?;
        // A killed registration's staging folder holds a model (perhaps a
        // student of this one) that no lineage names.
        artifact::remove_dead_partials(reg, ".");
        Some(l)
    };
    let marker = registry::destroyed_marker(reg, &o.model_id);
    if marker.is_file() {
        return rerun(o, &marker, lock, key.as_ref());
    }
    if !reg.join(&o.model_id).is_dir() {
        return Err(NsfError::param(
            "--model",
            format!("no model {} in registry {}", o.model_id, reg.display()),
        ));
    }
    let mut rec = first_record(o)?;
    if o.dry_run {
        return Ok(Outcome {
            record: rec,
            already_destroyed: false,
            written: Vec::new(),
        });
    }
    // The record goes first: from here on the IDs are refused, and a killed
    // run is finished by running the order again.
    let (json_path, md_path) = (marker.clone(), marker.with_extension("md"));
    std::fs::create_dir_all(registry::destroyed_dir(reg))
        .map_err(|e| NsfError::io(registry::destroyed_dir(reg), e))?;
    artifact::write_json_atomic(&json_path, &rec)?;
    write_markers(reg, &o.model_id, rec.models.iter().skip(1))?;
    let t = {
        let arts: Vec<&Artifact> = rec.all_artifacts().collect();
        targets(&arts, &rec.all_models().collect::<Vec<_>>(), reg)
    };
    execute(&mut rec.artifacts, o.deletion_method)?;
    execute(&mut rec.data_disposition.artifacts, o.deletion_method)?;
    drop(lock);
    rec.verification = Some(crate::lineage::destroy_scan::scan(
        &scan_roots(o),
        &t,
        now(),
    )?);
    finish(o, rec, key.as_ref(), false, vec![json_path, md_path])
}

/// The record of a first run, planned from the lineage.
fn first_record(o: &DestroyOptions) -> Result<DestructionRecord> {
    let reg = &o.registry;
    let seed = vec![(
        o.model_id.clone(),
        vec![format!("model {} (named in the order)", o.model_id)],
    )];
    let p = plan(reg, &seed)?;
    if !p.models.iter().any(|m| m.model_id == o.model_id) {
        return Err(NsfError::Input {
            path: reg.join(&o.model_id).join("manifest.json"),
            message: "the model named in the order has no readable manifest".into(),
        });
    }
    let data = destroy_data::plan(
        &p.models.iter().collect::<Vec<_>>(),
        o.data_disposition,
        &o.data_reason,
    );
    Ok(DestructionRecord {
        kind: "destruction".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        model_id: o.model_id.clone(),
        order: o.order.clone(),
        execution: Execution::here(o.deletion_method),
        status: "in-progress".into(),
        incomplete_reasons: Vec::new(),
        executed_at: now(),
        registry: std::fs::canonicalize(reg)
            .map_err(|e| NsfError::io(reg, e))?
            .display()
            .to_string(),
        models: p.models,
        artifacts: p.artifacts,
        data_disposition: data,
        suspicious: p.suspicious,
        unreadable: p.unreadable,
        verification: None,
        reruns: Vec::new(),
        record_digest: String::new(),
        signature: None,
    })
}

/// Judges the record, digests and signs it, writes it (JSON and Markdown)
/// and appends the run to the log.
fn finish(
    o: &DestroyOptions,
    mut rec: DestructionRecord,
    key: Option<&ed25519_dalek::SigningKey>,
    already_destroyed: bool,
    written: Vec<PathBuf>,
) -> Result<Outcome> {
    judge(&mut rec);
    rec.record_digest = rec.digest();
    rec.signature = key.map(|k| crate::lineage::destroy_sign::sign(k, &rec.record_digest));
    artifact::write_json_atomic(&written[0], &rec)?;
    artifact::write_text_atomic(&written[1], &markdown(&rec))?;
    crate::lineage::destroy_log::append(
        &o.registry,
        crate::lineage::destroy_log::NewEntry {
            event: "run",
            model_id: &rec.model_id,
            models: rec.all_models().map(|m| m.model_id.clone()).collect(),
            order_ref: &o.order.reference,
            by: &o.order.operator,
            status: &rec.status,
            record_path: &written[0],
            record_digest: &rec.record_digest,
        },
        key,
    )?;
    Ok(Outcome {
        record: rec,
        already_destroyed,
        written,
    })
}

fn write_markers<'a>(
    reg: &Path,
    with: &str,
    models: impl Iterator<Item = &'a DestroyedModel>,
) -> Result<()> {
    for m in models {
        artifact::write_json_atomic(
            &registry::destroyed_marker(reg, &m.model_id),
            &Marker {
                kind: "destruction-marker".into(),
                model_id: m.model_id.clone(),
                destroyed_with: with.to_string(),
            },
        )?;
    }
    Ok(())
}

/// What a re-run found: models and files not in the record yet (new
/// derivations, new content at a known path) and files that came back.
fn rerun_plan(reg: &Path, rec: &mut DestructionRecord, o: &DestroyOptions) -> Result<Rerun> {
    let seeds: Vec<(String, Vec<String>)> = rec
        .all_models()
        .map(|m| (m.model_id.clone(), m.derivation.clone()))
        .collect();
    let p = plan(reg, &seeds)?;
    let known: BTreeSet<(String, String)> = rec
        .all_artifacts()
        .map(|a| (a.path.clone(), a.sha256.clone()))
        .collect();
    let known_models: BTreeSet<&str> = seeds.iter().map(|(id, _)| id.as_str()).collect();
    let mut artifacts: Vec<Artifact> = p
        .artifacts
        .into_iter()
        .filter(|a| !known.contains(&(a.path.clone(), a.sha256.clone())))
        .collect();
    let back = came_back(rec);
    let reappeared = back.iter().map(|a| a.path.clone()).collect();
    artifacts.extend(back);
    let models: Vec<DestroyedModel> = p
        .models
        .into_iter()
        .filter(|m| !known_models.contains(m.model_id.as_str()))
        .collect();
    rec.suspicious = p.suspicious;
    rec.unreadable = p.unreadable;
    Ok(Rerun {
        at: now(),
        order: o.order.clone(),
        execution: Execution::here(o.deletion_method),
        models,
        artifacts,
        reappeared,
        verification: None,
    })
}

/// A file the order leaves absent: deleted by a run, or found gone by one
/// (perhaps after a killed run deleted it), with recorded content.
pub(crate) fn must_stay_absent(a: &Artifact) -> bool {
    matches!(a.fate, Some(FileFate::Deleted | FileFate::AlreadyAbsent))
        && a.kind != "staging"
        && !a.sha256.is_empty()
}

/// A later run of an order: finishes what a killed run left, recomputes the
/// closure from the lineage (catching what was derived since), deletes
/// files of earlier runs that came back, and appends what it did (earlier
/// runs' entries are never rewritten).
fn rerun(
    o: &DestroyOptions,
    marker: &Path,
    lock: Option<registry::RegistryLock>,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<Outcome> {
    let reg = &o.registry;
    let mut rec = read_record(reg, marker)?;
    let mut run = rerun_plan(reg, &mut rec, o)?;
    if o.dry_run {
        rec.reruns.push(run);
        return Ok(Outcome {
            record: rec,
            already_destroyed: true,
            written: vec![],
        });
    }
    write_markers(reg, &rec.model_id, run.models.iter())?;
    let t = {
        let mut arts: Vec<&Artifact> = rec.all_artifacts().collect();
        arts.extend(&run.artifacts);
        let models: Vec<&DestroyedModel> = rec.all_models().chain(&run.models).collect();
        targets(&arts, &models, reg)
    };
    // A killed first run left files without a fate: finish them.
    let first_run_unverified = rec.verification.is_none();
    execute(&mut rec.artifacts, o.deletion_method)?;
    execute(&mut rec.data_disposition.artifacts, o.deletion_method)?;
    execute(&mut run.artifacts, o.deletion_method)?;
    drop(lock);
    let verification = crate::lineage::destroy_scan::scan(&scan_roots(o), &t, now())?;
    rec.verification = Some(verification.clone());
    if !first_run_unverified || !run.artifacts.is_empty() || !run.models.is_empty() {
        run.verification = Some(verification);
        rec.reruns.push(run);
    }
    let written = vec![marker.to_path_buf(), marker.with_extension("md")];
    finish(o, rec, key, true, written)
}

/// The destruction record behind `marker`; a model destroyed together with
/// another is refused with a pointer to that record.
fn read_record(reg: &Path, marker: &Path) -> Result<DestructionRecord> {
    let text = std::fs::read_to_string(marker).map_err(|e| NsfError::io(marker, e))?;
    if let Ok(m) = serde_json::from_str::<Marker>(&text) {
        return Err(NsfError::param(
            "--model",
            format!(
                "model {} was destroyed with model {}: see its record {}",
                m.model_id,
                m.destroyed_with,
                registry::destroyed_marker(reg, &m.destroyed_with).display()
            ),
        ));
    }
    let rec: DestructionRecord = serde_json::from_str(&text).map_err(|e| NsfError::Input {
        path: marker.to_path_buf(),
        message: format!("not a destruction record: {e}"),
    })?;
    // A record edited since it was written is not carried forward (and
    // re-digested) by a re-run; one a killed run left `in-progress` has no
    // digest yet.
    if rec.status != "in-progress" && rec.digest() != rec.record_digest {
        return Err(NsfError::Input {
            path: marker.to_path_buf(),
            message: "the record was changed after it was written (its content does not match its record_digest); not running the order on an edited record: restore it or see `nsfsim destroy verify`".into(),
        });
    }
    Ok(rec)
}

/// Files earlier runs deleted, or found already gone, that are back with
/// the same content (a run killed after deleting a file leaves the re-run
/// finding it gone).
fn came_back(rec: &DestructionRecord) -> Vec<Artifact> {
    let mut back: Vec<Artifact> = Vec::new();
    for a in rec.all_artifacts().filter(|a| must_stay_absent(a)) {
        let path = Path::new(&a.path);
        let same = artifact::file_size(path).is_some()
            && artifact::sha256_file(path).ok().as_deref() == Some(a.sha256.as_str());
        if same && !back.iter().any(|b| b.path == a.path) {
            let mut b = a.clone();
            b.fate = None;
            b.derivation.push("came back after it was deleted".into());
            back.push(b);
        }
    }
    back
}
