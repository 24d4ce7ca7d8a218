//! Destruction orders: finds a model and everything derived from it through
//! the registry's lineage (models trained on its scores, score files, runs
//! and audits that embed its outputs), deletes exactly those files (only
//! when their content still matches the lineage record), writes a
//! destruction record, and verifies by content hash that no copy is left in
//! the registry, `runs/` or any folder the user names.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::artifact::{self, FileFate};
use crate::error::{NsfError, Result};
use crate::lineage::registry::{self, DataRef, ModelManifest, TrainingMembers};

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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FoundCopy {
    /// Where it is.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// The destroyed artifact it copies.
    pub copy_of: String,
}

/// The verification scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// `destroyed/<model_id>.json`: what was destroyed, why, and the check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DestructionRecord {
    /// Always "destruction".
    pub kind: String,
    /// nsfsim version that carried it out.
    pub nsfsim_version: String,
    /// The model named in the order.
    pub model_id: String,
    /// The order's reference.
    pub order_ref: Option<String>,
    /// `in-progress` while deleting, `complete` after.
    pub status: String,
    /// When the order was carried out (UTC, RFC 3339).
    pub executed_at: String,
    /// The registry.
    pub registry: String,
    /// Every model destroyed (the ordered one first).
    pub models: Vec<DestroyedModel>,
    /// Every file, with its fate.
    pub artifacts: Vec<Artifact>,
    /// The last verification scan.
    pub verification: Option<Verification>,
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

fn model_artifacts(
    registry: &Path,
    m: &ModelManifest,
    derivation: &[String],
) -> Result<Vec<Artifact>> {
    let dir = std::fs::canonicalize(registry.join(&m.model_id))
        .map_err(|e| NsfError::io(registry.join(&m.model_id), e))?;
    let mut out = Vec::new();
    for name in ["model.json", "manifest.json"] {
        let p = dir.join(name);
        let bytes = artifact::file_size(&p).ok_or_else(|| NsfError::Input {
            path: p.clone(),
            message: "broken lineage: a registered model's file is missing".into(),
        })?;
        out.push(Artifact {
            kind: "model".into(),
            id: m.model_id.clone(),
            path: p.display().to_string(),
            bytes,
            sha256: artifact::sha256_file(&p)?,
            derivation: derivation.to_vec(),
            fate: None,
        });
    }
    Ok(out)
}

/// Finds the ordered model and its descendants; fails (nothing changed) on
/// an unknown ID or a broken lineage.
fn plan(registry: &Path, id: &str) -> Result<(Vec<DestroyedModel>, Vec<Artifact>)> {
    let models = registry::list_strict(registry)?;
    let derived = registry::list_derived(registry)?;
    let by_id: BTreeMap<&str, &ModelManifest> =
        models.iter().map(|m| (m.model_id.as_str(), m)).collect();
    let Some(root) = by_id.get(id) else {
        return Err(NsfError::param(
            "--model",
            format!("no model {id} in registry {}", registry.display()),
        ));
    };
    // A parent that is neither registered nor destroyed breaks the lineage.
    let known = |p: &str| by_id.contains_key(p) || registry::is_destroyed(registry, p);
    let mut out_models = Vec::new();
    let mut arts = Vec::new();
    let mut queue = vec![(*root, vec![format!("model {id} (named in the order)")])];
    let mut seen_models = vec![id.to_string()];
    let mut seen_records = Vec::new();
    while let Some((m, path)) = queue.pop() {
        out_models.push(DestroyedModel {
            model_id: m.model_id.clone(),
            family: m.family.clone(),
            data: m.data.clone(),
            population_rule: m.population_rule.clone(),
            training_members: m.training_members.clone(),
            derivation: path.clone(),
        });
        arts.extend(model_artifacts(registry, m, &path)?);
        for child in models.iter().filter(|c| c.parents.contains(&m.model_id)) {
            if seen_models.contains(&child.model_id) {
                continue;
            }
            if let Some(p) = child.parents.iter().find(|p| !known(p)) {
                return Err(NsfError::Input {
                    path: registry.join(&child.model_id).join("manifest.json"),
                    message: format!("broken lineage: parent model {p} is not in the registry"),
                });
            }
            seen_models.push(child.model_id.clone());
            let mut p = path.clone();
            p.push(format!(
                "model {} (trained from {})",
                child.model_id, m.model_id
            ));
            queue.push((child, p));
        }
        for rec in derived.iter().filter(|r| r.parents.contains(&m.model_id)) {
            if seen_records.contains(&rec.artifact_id) {
                continue;
            }
            if let Some(p) = rec.parents.iter().find(|p| !known(p)) {
                return Err(NsfError::Input {
                    path: registry
                        .join("derived")
                        .join(format!("{}.json", rec.artifact_id)),
                    message: format!("broken lineage: parent model {p} is not in the registry"),
                });
            }
            if rec.paths.len() != rec.files.len() {
                return Err(NsfError::Input {
                    path: registry
                        .join("derived")
                        .join(format!("{}.json", rec.artifact_id)),
                    message: "broken lineage: paths and checksums differ in number".into(),
                });
            }
            seen_records.push(rec.artifact_id.clone());
            let mut p = path.clone();
            p.push(format!(
                "{} {} (from model {})",
                rec.kind, rec.artifact_id, m.model_id
            ));
            for (path_s, f) in rec.paths.iter().zip(&rec.files) {
                arts.push(Artifact {
                    kind: rec.kind.clone(),
                    id: rec.artifact_id.clone(),
                    path: path_s.clone(),
                    bytes: f.bytes,
                    sha256: f.sha256.clone(),
                    derivation: p.clone(),
                    fate: None,
                });
            }
            let rp = std::fs::canonicalize(
                registry
                    .join("derived")
                    .join(format!("{}.json", rec.artifact_id)),
            )
            .map_err(|e| NsfError::io(registry.join("derived"), e))?;
            arts.push(Artifact {
                kind: "lineage-record".into(),
                id: rec.artifact_id.clone(),
                bytes: artifact::file_size(&rp).unwrap_or(0),
                sha256: artifact::sha256_file(&rp)?,
                path: rp.display().to_string(),
                derivation: p,
                fate: None,
            });
        }
    }
    Ok((out_models, arts))
}

fn scan(o: &DestroyOptions, arts: &[Artifact]) -> Result<Verification> {
    let mut roots = vec![o.registry.clone(), o.runs.clone()];
    roots.extend(o.scan.iter().cloned());
    let mut targets: HashMap<u64, Vec<String>> = HashMap::new();
    // Lineage records describe artifacts; they are not copies of them.
    for a in arts
        .iter()
        .filter(|a| a.kind != "lineage-record" && a.bytes > 0)
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
            .map(|r| r.display().to_string())
            .collect(),
        files_scanned,
        copies_found,
    })
}

fn execute(rec: &mut DestructionRecord) -> Result<()> {
    let mut folders: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for a in &mut rec.artifacts {
        // A model's folder goes with its two files.
        let levels = usize::from(a.kind == "model");
        a.fate = Some(artifact::delete_if_unchanged(
            Path::new(&a.path),
            &a.sha256,
            levels,
        )?);
        if a.kind == "run" || a.kind == "audit" {
            folders
                .entry(a.id.clone())
                .or_default()
                .push(PathBuf::from(&a.path));
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

/// Carries out (or with `dry_run`, plans) a destruction order.
pub fn destroy(o: &DestroyOptions) -> Result<Outcome> {
    registry::check_id(&o.model_id)?;
    let reg = &o.registry;
    let marker = registry::destroyed_marker(reg, &o.model_id);
    let json_path = marker.clone();
    let md_path = marker.with_extension("md");
    if marker.is_file() {
        let text = std::fs::read_to_string(&marker).map_err(|e| NsfError::io(&marker, e))?;
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
        let mut rec: DestructionRecord =
            serde_json::from_str(&text).map_err(|e| NsfError::Input {
                path: marker.clone(),
                message: format!("not a destruction record: {e}"),
            })?;
        // Idempotent: finish what a killed run left, then verify again.
        if !o.dry_run {
            execute(&mut rec)?;
            rec.status = "complete".into();
            rec.verification = Some(scan(o, &rec.artifacts)?);
            write_record(&rec, &json_path, &md_path)?;
        }
        return Ok(Outcome {
            record: rec,
            already_destroyed: true,
            written: if o.dry_run {
                vec![]
            } else {
                vec![json_path, md_path]
            },
        });
    }
    let (models, artifacts) = plan(reg, &o.model_id)?;
    let mut rec = DestructionRecord {
        kind: "destruction".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        model_id: o.model_id.clone(),
        order_ref: o.order_ref.clone(),
        status: "in-progress".into(),
        executed_at: now(),
        registry: std::fs::canonicalize(reg)
            .map_err(|e| NsfError::io(reg, e))?
            .display()
            .to_string(),
        models,
        artifacts,
        verification: None,
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
    std::fs::create_dir_all(registry::destroyed_dir(reg))
        .map_err(|e| NsfError::io(registry::destroyed_dir(reg), e))?;
    artifact::write_json_atomic(&json_path, &rec)?;
    for m in rec.models.iter().skip(1) {
        artifact::write_json_atomic(
            &registry::destroyed_marker(reg, &m.model_id),
            &Marker {
                kind: "destruction-marker".into(),
                model_id: m.model_id.clone(),
                destroyed_with: o.model_id.clone(),
            },
        )?;
    }
    execute(&mut rec)?;
    rec.status = "complete".into();
    rec.verification = Some(scan(o, &rec.artifacts)?);
    write_record(&rec, &json_path, &md_path)?;
    Ok(Outcome {
        record: rec,
        already_destroyed: false,
        written: vec![json_path, md_path],
    })
}

fn write_record(rec: &DestructionRecord, json: &Path, md: &Path) -> Result<()> {
    artifact::write_json_atomic(json, rec)?;
    artifact::write_text_atomic(md, &markdown(rec))
}

/// The record for people.
pub fn markdown(rec: &DestructionRecord) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# Destruction record: model {}\n", rec.model_id);
    let _ = writeln!(
        s,
        "- Order reference: {}\n- Carried out: {} (nsfsim {})\n- Status: {}\n- Registry: `{}`\n",
        rec.order_ref.as_deref().unwrap_or("(none given)"),
        rec.executed_at,
        rec.nsfsim_version,
        rec.status,
        rec.registry
    );
    let _ = writeln!(s, "## Models destroyed\n");
    let _ = writeln!(
        s,
        "| model | family | data (preset, seed, users) | population | training members | member digest (SHA-256) | derivation |\n|---|---|---|---|---|---|---|"
    );
    for m in &rec.models {
        let _ = writeln!(
            s,
            "| {} | {} | {}, {}, {} | {} | {} | `{}` | {} |",
            m.model_id,
            m.family,
            m.data.preset,
            m.data.seed,
            m.data.users,
            m.population_rule,
            m.training_members.count,
            m.training_members.digest,
            m.derivation.join(" → ")
        );
    }
    let _ = writeln!(s, "\n## Files\n");
    let _ = writeln!(
        s,
        "| kind | path | bytes | SHA-256 | fate | derivation |\n|---|---|---|---|---|---|"
    );
    for a in &rec.artifacts {
        let fate = match a.fate {
            None => "planned",
            Some(FileFate::Deleted) => "deleted",
            Some(FileFate::AlreadyAbsent) => "already absent",
            Some(FileFate::ChangedKept) => "KEPT: content changed since recorded",
        };
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | `{}` | {} | {} |",
            a.kind,
            a.path,
            a.bytes,
            a.sha256,
            fate,
            a.derivation.join(" → ")
        );
    }
    let _ = writeln!(s, "\n## Verification\n");
    match &rec.verification {
        None => {
            let _ = writeln!(s, "Not run yet.");
        }
        Some(v) => {
            let _ = writeln!(
                s,
                "At {}, {} files under {} were compared by size and SHA-256 with every destroyed file.\n",
                v.at,
                v.files_scanned,
                v.roots
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
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
                    let _ = writeln!(s, "- `{}` = copy of `{}`", c.path, c.copy_of);
                }
            }
        }
    }
    s
}
