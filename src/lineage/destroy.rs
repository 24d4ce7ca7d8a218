//! Destruction orders: finds a model and everything derived from it through
//! the registry's lineage (models trained on its scores, score files, runs
//! and audits that embed its outputs), deletes exactly those files (only
//! when their content still matches the lineage record), writes a
//! destruction record, and verifies by content hash that no copy is left in
//! the registry, `runs/` or any folder the user names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::artifact::{self, FileFate};
use crate::error::{NsfError, Result};
use crate::lineage::registry::{self, DataRef, TrainingMembers};

/// What to destroy and where to look.
#[derive(Debug, Clone)]
pub struct DestroyOptions {
    /// The registry holding the model and the lineage.
    pub registry: PathBuf,
    /// The model named in the order.
    pub model_id: String,
    /// The order's reference (free text, recorded).
    pub order_ref: Option<String>,
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
    /// `model`, `scores`, `run`, `audit`, `lineage-record`, ...
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
    /// The data set it was trained on.
    pub data: DataRef,
    /// Its training population rule.
    pub population_rule: String,
    /// Who it was trained on (count and digest of the member IDs).
    pub training_members: TrainingMembers,
    /// How it derives from the ordered model.
    pub derivation: Vec<String>,
}

/// A file found by content after deletion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FoundCopy {
    /// Where it is.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// The destroyed artifact it copies.
    pub copy_of: String,
}

/// The verification scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Verification {
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    /// Folders scanned.
    pub roots: Vec<String>,
    /// Files looked at.
    pub files_scanned: u64,
    /// Files whose content matches a destroyed artifact (kept: they are
    /// outside the lineage; remove them and run `destroy` again to verify).
    pub copies_found: Vec<FoundCopy>,
}

/// A lineage record the order did not follow: its files are left alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Suspicious {
    /// The lineage record.
    pub record: String,
    /// Why it was not trusted.
    pub reason: String,
}

/// A later run of the same order: what it found and did (the first run's
/// entries above are never rewritten).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Rerun {
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    /// The order reference given to this run.
    pub order_ref: Option<String>,
    /// Models found derived since the first run (registered after it).
    pub models: Vec<DestroyedModel>,
    /// Files found derived since the first run, and files of the first run
    /// that had come back (`derivation` says which), with their fate.
    pub artifacts: Vec<Artifact>,
    /// This run's verification scan.
    pub verification: Option<Verification>,
}

/// `destroyed/<model_id>.json`: what was destroyed, why, and the check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DestructionRecord {
    /// Always "destruction".
    pub kind: String,
    /// nsfsim version that carried it out.
    pub nsfsim_version: String,
    /// The model named in the order.
    pub model_id: String,
    /// The order's reference.
    pub order_ref: Option<String>,
    /// `in-progress` while deleting; `complete` when every file of the
    /// closure is gone and the scan found no copy; `incomplete` otherwise
    /// (see `incomplete_reasons`).
    pub status: String,
    /// Why the order is not complete (empty when complete).
    #[serde(default)]
    pub incomplete_reasons: Vec<String>,
    /// When the order was carried out (UTC, RFC 3339).
    pub executed_at: String,
    /// The registry.
    pub registry: String,
    /// Every model destroyed (the ordered one first).
    pub models: Vec<DestroyedModel>,
    /// Every file, with its fate.
    pub artifacts: Vec<Artifact>,
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

fn now() -> String {
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

fn scan(o: &DestroyOptions, arts: &[&Artifact]) -> Result<Verification> {
    let mut roots = vec![o.registry.clone(), o.runs.clone()];
    roots.extend(o.scan.iter().cloned());
    let mut targets: HashMap<u64, Vec<String>> = HashMap::new();
    // Lineage records describe artifacts; they are not copies of them.
    for a in arts
        .iter()
        .filter(|a| a.kind != "lineage-record" && a.bytes > 0 && !a.sha256.is_empty())
    {
        targets.entry(a.bytes).or_default().push(a.sha256.clone());
    }
    let (files_scanned, hits) = artifact::find_by_content(&roots, &targets)?;
    let copies_found = hits
        .into_iter()
        .map(|(p, h)| FoundCopy {
            path: p.display().to_string(),
            copy_of: arts
                .iter()
                .find(|a| a.sha256 == h)
                .map(|a| a.path.clone())
                .unwrap_or_default(),
            sha256: h,
        })
        .collect();
    Ok(Verification {
        at: now(),
        roots: roots
            .iter()
            .filter(|r| r.is_dir())
            .map(|r| {
                std::fs::canonicalize(r)
                    .unwrap_or_else(|_| r.clone())
                    .display()
                    .to_string()
            })
            .collect(),
        files_scanned,
        copies_found,
    })
}

/// Deletes every artifact that has no fate yet.
fn execute(arts: &mut [Artifact]) -> Result<()> {
    let mut folders: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for a in arts.iter_mut().filter(|a| a.fate.is_none()) {
        let p = PathBuf::from(&a.path);
        a.fate = Some(if a.kind == "staging" {
            artifact::remove_staging(&p)?
        } else {
            // A model's folder goes with its two files.
            let levels = usize::from(a.kind == "model");
            artifact::delete_if_unchanged(&p, &a.sha256, levels)?
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
    let all = rec
        .artifacts
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.artifacts));
    for a in all.filter(|a| a.fate == Some(FileFate::ChangedKept)) {
        let now = artifact::sha256_file(Path::new(&a.path)).unwrap_or_default();
        reasons.push(format!(
            "kept `{}`: its content changed since recorded (now SHA-256 {now})",
            a.path
        ));
    }
    if let Some(v) = &rec.verification {
        for c in &v.copies_found {
            reasons.push(format!("copy found: `{}` = `{}`", c.path, c.copy_of));
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

/// Carries out (or with `dry_run`, plans) a destruction order.
pub fn destroy(o: &DestroyOptions) -> Result<Outcome> {
    registry::check_id(&o.model_id)?;
    for d in &o.scan {
        if !d.is_dir() {
            return Err(NsfError::param(
                "--scan",
                format!("{} is not a folder", d.display()),
            ));
        }
    }
    let reg = &o.registry;
    if !reg.is_dir() {
        return Err(NsfError::param(
            "--registry",
            format!("no registry at {}", reg.display()),
        ));
    }
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
        return rerun(o, &marker, lock);
    }
    let seed = vec![(
        o.model_id.clone(),
        vec![format!("model {} (named in the order)", o.model_id)],
    )];
    if !reg.join(&o.model_id).is_dir() {
        return Err(NsfError::param(
            "--model",
            format!("no model {} in registry {}", o.model_id, reg.display()),
        ));
    }
    let p = plan(reg, &seed)?;
    if !p.models.iter().any(|m| m.model_id == o.model_id) {
        return Err(NsfError::Input {
            path: reg.join(&o.model_id).join("manifest.json"),
            message: "the model named in the order has no readable manifest".into(),
        });
    }
    let mut rec = DestructionRecord {
        kind: "destruction".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        model_id: o.model_id.clone(),
        order_ref: o.order_ref.clone(),
        status: "in-progress".into(),
        incomplete_reasons: Vec::new(),
        executed_at: now(),
        registry: std::fs::canonicalize(reg)
            .map_err(|e| NsfError::io(reg, e))?
            .display()
            .to_string(),
        models: p.models,
        artifacts: p.artifacts,
        suspicious: p.suspicious,
        unreadable: p.unreadable,
        verification: None,
        reruns: Vec::new(),
    };
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
    execute(&mut rec.artifacts)?;
    drop(lock);
    rec.verification = Some(scan(o, &rec.artifacts.iter().collect::<Vec<_>>())?);
    judge(&mut rec);
    write_record(&rec, &json_path, &md_path)?;
    append_log(reg, &rec, &json_path)?;
    Ok(Outcome {
        record: rec,
        already_destroyed: false,
        written: vec![json_path, md_path],
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

/// A later run of an order: finishes what a killed run left, recomputes the
/// closure from the lineage (catching what was derived since), deletes
/// files of the first run that came back, and appends what it did.
fn rerun(
    o: &DestroyOptions,
    marker: &Path,
    lock: Option<registry::RegistryLock>,
) -> Result<Outcome> {
    let reg = &o.registry;
    let mut rec = read_record(reg, marker)?;
    let seeds: Vec<(String, Vec<String>)> = rec
        .models
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.models))
        .map(|m| (m.model_id.clone(), m.derivation.clone()))
        .collect();
    let p = plan(reg, &seeds)?;
    let known: BTreeSet<String> = rec
        .artifacts
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.artifacts))
        .map(|a| a.path.clone())
        .collect();
    let known_models: BTreeSet<&str> = seeds.iter().map(|(id, _)| id.as_str()).collect();
    let mut new_arts: Vec<Artifact> = p
        .artifacts
        .into_iter()
        .filter(|a| !known.contains(&a.path))
        .collect();
    new_arts.extend(came_back(&rec));
    let new_models: Vec<DestroyedModel> = p
        .models
        .into_iter()
        .filter(|m| !known_models.contains(m.model_id.as_str()))
        .collect();
    rec.suspicious = p.suspicious;
    rec.unreadable = p.unreadable;
    if o.dry_run {
        rec.reruns.push(Rerun {
            at: now(),
            order_ref: o.order_ref.clone(),
            models: new_models,
            artifacts: new_arts,
            verification: None,
        });
        return Ok(Outcome {
            record: rec,
            already_destroyed: true,
            written: vec![],
        });
    }
    write_markers(reg, &rec.model_id, new_models.iter())?;
    // A killed first run left files without a fate: finish them.
    execute(&mut rec.artifacts)?;
    execute(&mut new_arts)?;
    drop(lock);
    let all: Vec<&Artifact> = rec
        .artifacts
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.artifacts))
        .chain(&new_arts)
        .collect();
    let verification = scan(o, &all)?;
    let first_run_unverified = rec.verification.is_none();
    rec.verification = Some(verification.clone());
    if !first_run_unverified || !new_arts.is_empty() || !new_models.is_empty() {
        rec.reruns.push(Rerun {
            at: now(),
            order_ref: o.order_ref.clone(),
            models: new_models,
            artifacts: new_arts,
            verification: Some(verification),
        });
    }
    judge(&mut rec);
    let (json_path, md_path) = (marker.to_path_buf(), marker.with_extension("md"));
    write_record(&rec, &json_path, &md_path)?;
    append_log(reg, &rec, &json_path)?;
    Ok(Outcome {
        record: rec,
        already_destroyed: true,
        written: vec![json_path, md_path],
    })
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
    serde_json::from_str(&text).map_err(|e| NsfError::Input {
        path: marker.to_path_buf(),
        message: format!("not a destruction record: {e}"),
    })
}

/// Files the first run deleted that are back with the same content.
fn came_back(rec: &DestructionRecord) -> Vec<Artifact> {
    let mut back = Vec::new();
    for a in rec
        .artifacts
        .iter()
        .filter(|a| a.fate == Some(FileFate::Deleted))
    {
        let path = Path::new(&a.path);
        if a.kind != "staging"
            && artifact::file_size(path).is_some()
            && artifact::sha256_file(path).ok().as_deref() == Some(a.sha256.as_str())
        {
            let mut b = a.clone();
            b.fate = None;
            b.derivation.push("came back after it was deleted".into());
            back.push(b);
        }
    }
    back
}

fn write_record(rec: &DestructionRecord, json: &Path, md: &Path) -> Result<()> {
    artifact::write_json_atomic(json, rec)?;
    artifact::write_text_atomic(md, &markdown(rec))
}

/// Free text made safe for a Markdown table cell or line: characters that
/// Markdown or HTML would interpret are escaped, line breaks become spaces.
pub fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn fate_text(f: Option<FileFate>) -> &'static str {
    match f {
        None => "planned",
        Some(FileFate::Deleted) => "deleted",
        Some(FileFate::AlreadyAbsent) => "already absent",
        Some(FileFate::ChangedKept) => "KEPT: content changed since recorded",
    }
}

fn md_files(s: &mut String, arts: &[Artifact]) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "| kind | path | bytes | SHA-256 | fate | derivation |\n|---|---|---|---|---|---|"
    );
    for a in arts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            md_escape(&a.kind),
            md_escape(&a.path),
            a.bytes,
            md_escape(&a.sha256),
            fate_text(a.fate),
            md_escape(&a.derivation.join(" → "))
        );
    }
}

fn md_verification(s: &mut String, v: &Verification) {
    use std::fmt::Write;
    let roots: Vec<String> = v.roots.iter().map(|r| md_escape(r)).collect();
    let _ = writeln!(
        s,
        "At {}, {} files under {} were compared by size and SHA-256 with every destroyed file.\n",
        v.at,
        v.files_scanned,
        roots.join(", ")
    );
    if v.copies_found.is_empty() {
        let _ = writeln!(s, "No copy of a destroyed file was found.");
    } else {
        let _ = writeln!(
            s,
            "**{} copies of destroyed files remain** (not deleted: they are outside the lineage; remove them and run `nsfsim destroy` again to verify):\n",
            v.copies_found.len()
        );
        for c in &v.copies_found {
            let _ = writeln!(
                s,
                "- {} = copy of {}",
                md_escape(&c.path),
                md_escape(&c.copy_of)
            );
        }
    }
}

/// The record for people (every free-text field escaped).
pub fn markdown(rec: &DestructionRecord) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Destruction record: model {}\n",
        md_escape(&rec.model_id)
    );
    let _ = writeln!(
        s,
        "- Order reference: {}\n- Carried out: {} (nsfsim {})\n- Status: {}\n- Registry: {}\n",
        rec.order_ref
            .as_deref()
            .map(md_escape)
            .unwrap_or_else(|| "(none given)".into()),
        md_escape(&rec.executed_at),
        md_escape(&rec.nsfsim_version),
        md_escape(&rec.status),
        md_escape(&rec.registry)
    );
    for r in &rec.incomplete_reasons {
        let _ = writeln!(s, "- **Not complete:** {}", md_escape(r));
    }
    let _ = writeln!(s, "\n## Models destroyed\n");
    let _ = writeln!(
        s,
        "| model | family | data (preset, seed, users) | population | training members | member digest (SHA-256) | derivation |\n|---|---|---|---|---|---|---|"
    );
    for m in rec
        .models
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.models))
    {
        let _ = writeln!(
            s,
            "| {} | {} | {}, {}, {} | {} | {} | {} | {} |",
            md_escape(&m.model_id),
            md_escape(&m.family),
            md_escape(&m.data.preset),
            m.data.seed,
            m.data.users,
            md_escape(&m.population_rule),
            m.training_members.count,
            md_escape(&m.training_members.digest),
            md_escape(&m.derivation.join(" → "))
        );
    }
    let _ = writeln!(s, "\n## Files\n");
    md_files(&mut s, &rec.artifacts);
    if !rec.suspicious.is_empty() || !rec.unreadable.is_empty() {
        let _ = writeln!(s, "\n## Lineage not followed (files left alone)\n");
        for x in &rec.suspicious {
            let _ = writeln!(s, "- {}: {}", md_escape(&x.record), md_escape(&x.reason));
        }
        for x in &rec.unreadable {
            let _ = writeln!(s, "- {}: {}", md_escape(&x.path), md_escape(&x.reason));
        }
    }
    let _ = writeln!(s, "\n## Verification\n");
    match &rec.verification {
        None => {
            let _ = writeln!(s, "Not run yet.");
        }
        Some(v) => md_verification(&mut s, v),
    }
    for r in &rec.reruns {
        let _ = writeln!(
            s,
            "\n## Run again at {} (order reference: {})\n",
            md_escape(&r.at),
            r.order_ref
                .as_deref()
                .map(md_escape)
                .unwrap_or_else(|| "(none given)".into())
        );
        if !r.artifacts.is_empty() {
            md_files(&mut s, &r.artifacts);
            let _ = writeln!(s);
        }
        if let Some(v) = &r.verification {
            md_verification(&mut s, v);
        }
    }
    s
}

/// One line of `destroyed/log.jsonl`: an append-only, hash-chained log of
/// every run of every order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// 1-based position in the log.
    pub seq: u64,
    /// When the run ended (UTC, RFC 3339).
    pub at: String,
    /// The model named in the order.
    pub model_id: String,
    /// Every model the order destroyed so far.
    pub models: Vec<String>,
    /// The order reference given to this run.
    pub order_ref: Option<String>,
    /// The record's status after this run.
    pub status: String,
    /// SHA-256 of the record file (`destroyed/<model_id>.json`) as written.
    pub record_sha256: String,
    /// `hash` of the previous entry ("" for the first).
    pub prev: String,
    /// SHA-256 of this entry's JSON with `hash` empty.
    pub hash: String,
}

/// Where the log lives.
pub fn log_path(registry: &Path) -> PathBuf {
    registry::destroyed_dir(registry).join("log.jsonl")
}

fn entry_hash(e: &LogEntry) -> String {
    use sha2::{Digest, Sha256};
    let mut c = e.clone();
    c.hash = String::new();
    hex::encode(Sha256::digest(
        serde_json::to_vec(&c).expect("entry serializes"),
    ))
}

/// Reads the log and checks its chain; the first broken link is an error.
pub fn read_log(registry: &Path) -> Result<Vec<LogEntry>> {
    let p = log_path(registry);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NsfError::io(&p, e)),
    };
    let mut out: Vec<LogEntry> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |m: String| NsfError::Incomplete {
            message: format!("{} line {}: {m}", p.display(), i + 1),
        };
        let e: LogEntry =
            serde_json::from_str(line).map_err(|e| bad(format!("not a log entry: {e}")))?;
        let prev = out.last().map(|l| l.hash.clone()).unwrap_or_default();
        if e.seq != i as u64 + 1 || e.prev != prev {
            return Err(bad(
                "the chain is broken (an entry was removed, reordered or inserted)".into(),
            ));
        }
        if e.hash != entry_hash(&e) {
            return Err(bad("the entry was edited after it was written".into()));
        }
        out.push(e);
    }
    Ok(out)
}

/// Appends this run of the order to the log (under the registry lock).
fn append_log(reg: &Path, rec: &DestructionRecord, record_path: &Path) -> Result<()> {
    use std::io::Write;
    let _lock = registry::lock(reg)?;
    let log = read_log(reg)?;
    let mut e = LogEntry {
        seq: log.len() as u64 + 1,
        at: now(),
        model_id: rec.model_id.clone(),
        models: rec
            .models
            .iter()
            .chain(rec.reruns.iter().flat_map(|r| &r.models))
            .map(|m| m.model_id.clone())
            .collect(),
        order_ref: rec
            .reruns
            .last()
            .map_or(rec.order_ref.clone(), |r| r.order_ref.clone()),
        status: rec.status.clone(),
        record_sha256: artifact::sha256_file(record_path)?,
        prev: log.last().map(|l| l.hash.clone()).unwrap_or_default(),
        hash: String::new(),
    };
    e.hash = entry_hash(&e);
    let p = log_path(reg);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .map_err(|err| NsfError::io(&p, err))?;
    let mut line = serde_json::to_string(&e).expect("entry serializes");
    line.push('\n');
    f.write_all(line.as_bytes())
        .map_err(|err| NsfError::io(&p, err))?;
    f.sync_all().map_err(|err| NsfError::io(&p, err))
}

/// Whether the log names `id` as destroyed (the refusal travels with the
/// log when the marker is missing).
pub fn logged_destroyed(registry: &Path, id: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(log_path(registry)) else {
        return false;
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<LogEntry>(l).ok())
        .any(|e| e.models.iter().any(|m| m == id))
}

/// What `destroy verify` checked.
pub struct VerifyReport {
    /// Log entries checked.
    pub entries: usize,
    /// Deleted files checked to be still absent.
    pub files_checked: usize,
}

/// `nsfsim destroy verify RECORD`: recomputes the log's chain, checks that
/// the record is the one the log's last entry for its order hashed, and
/// that every deleted file is still absent with its content. The first
/// discrepancy is an error (exit 3).
pub fn verify(record_path: &Path) -> Result<VerifyReport> {
    let reg = record_path
        .parent()
        .and_then(|d| d.parent())
        .ok_or_else(|| NsfError::param("RECORD", "not a path to registry/destroyed/<id>.json"))?;
    let text = std::fs::read_to_string(record_path).map_err(|e| NsfError::Input {
        path: record_path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    let rec: DestructionRecord = serde_json::from_str(&text).map_err(|e| NsfError::Input {
        path: record_path.to_path_buf(),
        message: format!("not a destruction record: {e}"),
    })?;
    let fail = |m: String| NsfError::Incomplete {
        message: format!("{}: {m}", record_path.display()),
    };
    let log = read_log(reg)?;
    if log.is_empty() {
        return Err(fail(format!(
            "the registry {} has no destruction log ({}): a copy without it cannot be verified",
            reg.display(),
            log_path(reg).display()
        )));
    }
    let last = log
        .iter()
        .rev()
        .find(|e| e.model_id == rec.model_id)
        .ok_or_else(|| fail("the log has no entry for this order".into()))?;
    if last.record_sha256 != artifact::sha256_file(record_path)? {
        return Err(fail(format!(
            "the record was changed after the run the log recorded at {} (SHA-256 differs)",
            last.at
        )));
    }
    let mut files_checked = 0;
    let deleted = rec
        .artifacts
        .iter()
        .chain(rec.reruns.iter().flat_map(|r| &r.artifacts))
        .filter(|a| a.fate == Some(FileFate::Deleted) && a.kind != "staging");
    for a in deleted {
        files_checked += 1;
        let p = Path::new(&a.path);
        if artifact::file_size(p).is_some() && artifact::sha256_file(p)? == a.sha256 {
            return Err(fail(format!(
                "`{}` was deleted and is back with the same content",
                a.path
            )));
        }
    }
    Ok(VerifyReport {
        entries: log.len(),
        files_checked,
    })
}
