//! The model registry and its lineage: one folder per trained model, named by
//! a content hash, holding `model.json` and `manifest.json`; and one record
//! per derived artifact (score files, ...) in `derived/`. Part of the
//! artifact I/O layer: registry writes are staged under a temporary name and
//! renamed, so two runs registering at once cannot corrupt it.
//!
//! Layout:
//! ```text
//! registry/
//!   <model_id>/model.json      the fitted model (family, features, parameters)
//!   <model_id>/manifest.json   lineage: data, population rule, members, features, metrics, checksums
//!   derived/<artifact_id>.json lineage of an artifact derived from models (scores, ...)
//!   destroyed/<model_id>.json  destruction record (or marker pointing to one): the ID is refused
//!   destroyed/<model_id>.md    the record for people
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::artifact::{FileRecord, sha256_file, write_json_atomic};
use crate::error::{NsfError, Result};
use crate::stats::metrics::Evaluation;

/// The registry folder used when none is given (`--registry` or `NSFSIM_REGISTRY`).
pub const DEFAULT_REGISTRY: &str = "models/registry";

/// Who a model was trained on, and on what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct TrainingMembers {
    /// Number of training members.
    pub count: u64,
    /// SHA-256 of the sorted member `user_id`s as little-endian u64 bytes.
    pub digest: String,
}

/// The data set a model was trained on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DataRef {
    /// Folder given on the command line.
    pub dir: String,
    /// SHA-256 of the data set's `manifest.json`.
    pub manifest_sha256: String,
    /// SHA-256 of its data file.
    pub data_sha256: String,
    /// Preset name and seed of the data set.
    pub preset: String,
    /// Seed of the data set (also keys the holdout split).
    pub seed: u64,
    /// Users in the data set.
    pub users: u64,
}

/// `manifest.json` of a registered model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ModelManifest {
    /// Always "model".
    pub kind: String,
    /// Content-hash ID (also the folder name).
    pub model_id: String,
    /// nsfsim version that trained it.
    pub nsfsim_version: String,
    /// Model family (`logistic`, ...).
    pub family: String,
    /// Hyperparameters as given to the family.
    pub hyperparameters: serde_json::Value,
    /// Training seed.
    pub training_seed: u64,
    /// The data set.
    pub data: DataRef,
    /// Training population rule: all / registered / consented.
    pub population_rule: String,
    /// Share of users held out of every training set (keyed by the data seed).
    pub holdout_fraction: f64,
    /// Training members.
    pub training_members: TrainingMembers,
    /// Attributes used.
    pub features: Vec<String>,
    /// Derived feature columns in model order.
    pub feature_columns: Vec<String>,
    /// How probabilities become the 0–100 score.
    pub score_mapping: String,
    /// Evaluation on the held-out registered users.
    pub metrics: Evaluation,
    /// Checksums of the model files.
    pub files: Vec<FileRecord>,
    /// Models this one derives from (empty for a model trained on raw data).
    pub parents: Vec<String>,
}

/// Lineage record of a derived artifact (a score file, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DerivedRecord {
    /// Artifact ID (hash of its kind and output paths).
    pub artifact_id: String,
    /// What it is: `scores`, `run`, `audit`.
    pub kind: String,
    /// `pending` (written before the output is published: the output may
    /// or may not exist, `paths` names the output file or folder and
    /// `files` is empty) or `complete` (every file with its checksum).
    #[serde(default = "complete_status")]
    pub status: String,
    /// Absolute path of the artifact's files (or output folder while pending).
    pub paths: Vec<String>,
    /// Checksums of the files at creation (empty while pending).
    pub files: Vec<FileRecord>,
    /// Models it derives from.
    pub parents: Vec<String>,
    /// Staging paths the output is written under before it is published
    /// (hidden `.NAME.partial-PID` beside it); only while pending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staging: Vec<String>,
}

fn complete_status() -> String {
    "complete".into()
}

/// The score mapping written into every model's manifest.
pub const SCORE_MAPPING: &str = "score = round(100 * P(nsf = 1)), an integer 0-100; higher = more likely to fail a grouped charge";

/// SHA-256 of sorted user IDs (little-endian u64): the training-member digest.
pub fn member_digest(ids: &mut [u64]) -> String {
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids.iter() {
        h.update(id.to_le_bytes());
    }
    hex::encode(h.finalize())
}

fn io(path: &Path, e: std::io::Error) -> NsfError {
    NsfError::io(path, e)
}

/// Checks that `id` looks like a model ID (16 hex digits).
pub fn check_id(id: &str) -> Result<()> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NsfError::param(
            "--model",
            format!("`{id}` is not a model ID (16 hex digits)"),
        ));
    }
    Ok(())
}

/// An exclusive advisory lock on the registry (`<registry>/.lock`), held
/// until dropped. Registration of anything with a parent, lineage records
/// and a destruction order's closure are serialized by it, so a model
/// trained from a parent while that parent is being destroyed is either in
/// the closure or refused.
pub struct RegistryLock {
    _file: fs::File,
}

/// Takes the registry's advisory lock (creating the registry), waiting for
/// another holder to release it.
pub fn lock(registry: &Path) -> Result<RegistryLock> {
    lock_named(registry, ".lock")
}

/// Takes the lock `destroy` holds for its whole run (`.destroy.lock`), so
/// that two runs of orders never interleave; it is taken before the
/// registry's own lock, never while holding it.
pub fn destroy_lock(registry: &Path) -> Result<RegistryLock> {
    lock_named(registry, ".destroy.lock")
}

fn lock_named(registry: &Path, name: &str) -> Result<RegistryLock> {
    fs::create_dir_all(registry).map_err(|e| NsfError::Output {
        path: registry.to_path_buf(),
        message: format!("cannot create the registry: {e}"),
    })?;
    let p = registry.join(name);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| io(&p, e))?;
    file.lock().map_err(|e| io(&p, e))?;
    Ok(RegistryLock { _file: file })
}

/// Refuses (exit 2) when a model `id` was destroyed.
fn refuse_destroyed(registry: &Path, id: &str, what: &str) -> Result<()> {
    if is_destroyed(registry, id) {
        return Err(NsfError::Output {
            path: destroyed_marker(registry, id),
            message: format!(
                "{what} {id} was destroyed; refusing to write anything derived from it"
            ),
        });
    }
    Ok(())
}

/// Checks, under the registry lock, that every parent is registered and not
/// destroyed.
fn check_parents(registry: &Path, parents: &[String]) -> Result<()> {
    for p in parents {
        check_id(p)?;
        refuse_destroyed(registry, p, "parent model")?;
        if !registry.join(p).join("manifest.json").is_file() {
            return Err(NsfError::param(
                "--model",
                format!("parent model {p} is not in registry {}", registry.display()),
            ));
        }
    }
    Ok(())
}

/// The content ID of a model: SHA-256 of `model.json` and of the manifest
/// without its ID, file checksums and the data folder's spelling (the data
/// is identified by its hashes), first 16 hex digits.
pub fn content_id(model_json: &[u8], manifest: &ModelManifest) -> String {
    let mut m = manifest.clone();
    m.data.dir = String::new();
    legacy_content_id(model_json, &m)
}

/// The ID as versions before the data folder was left out computed it.
fn legacy_content_id(model_json: &[u8], manifest: &ModelManifest) -> String {
    let mut m = manifest.clone();
    m.model_id = String::new();
    m.files.clear();
    let identity = serde_json::to_vec(&m).expect("manifest serializes");
    let mut h = Sha256::new();
    h.update(model_json);
    h.update(&identity);
    hex::encode(h.finalize())[..16].to_string()
}

/// Registers a model: computes its ID from the content of `model_json` and
/// the manifest, writes both into a staging folder and renames it into place.
/// Registering the same content twice returns the same ID. A destroyed ID,
/// or a destroyed or unknown parent, is refused before anything is written;
/// the parents are checked under the registry lock.
pub fn register(registry: &Path, model_json: &[u8], mut manifest: ModelManifest) -> Result<String> {
    let id = content_id(model_json, &manifest);
    refuse_destroyed(registry, &id, "model")?;
    let _lock = lock(registry)?;
    // Staging folders of killed registrations hold models nobody can find.
    crate::data::artifact::remove_dead_partials(registry, ".");
    refuse_destroyed(registry, &id, "model")?;
    check_parents(registry, &manifest.parents)?;
    let dest = registry.join(&id);
    if dest.join("manifest.json").is_file() {
        return Ok(id);
    }
    let staging = registry.join(format!(".{id}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir(&staging).map_err(|e| io(&staging, e))?;
    let model_path = staging.join("model.json");
    fs::write(&model_path, model_json).map_err(|e| io(&model_path, e))?;
    manifest.model_id = id.clone();
    manifest.files = vec![FileRecord {
        name: "model.json".into(),
        rows: 0,
        bytes: model_json.len() as u64,
        sha256: hex::encode(Sha256::digest(model_json)),
    }];
    write_json_atomic(&staging.join("manifest.json"), &manifest)?;
    crate::data::artifact::fault_point("register");
    match fs::rename(&staging, &dest) {
        Ok(()) => Ok(id),
        // Another run registered the same content first: same ID, same files.
        Err(_) if dest.join("manifest.json").is_file() => {
            let _ = fs::remove_dir_all(&staging);
            Ok(id)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            Err(io(&dest, e))
        }
    }
}

/// Where destruction records (and markers of destroyed models) live.
pub fn destroyed_dir(registry: &Path) -> PathBuf {
    registry.join("destroyed")
}

/// The destruction record or marker of a model.
pub fn destroyed_marker(registry: &Path, id: &str) -> PathBuf {
    destroyed_dir(registry).join(format!("{id}.json"))
}

/// Whether a model was destroyed (its record or marker exists, or the
/// destruction log names it).
pub fn is_destroyed(registry: &Path, id: &str) -> bool {
    destroyed_marker(registry, id).exists()
        || crate::lineage::destroy_log::logged_destroyed(registry, id)
}

/// A lineage file that could not be read: reported, never blocking an
/// order on what can be proven from the rest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Unreadable {
    /// The file.
    pub path: String,
    /// Why it could not be used.
    pub reason: String,
}

/// Every lineage record in `derived/`, sorted by ID, and the records that
/// cannot be read.
pub fn list_derived(registry: &Path) -> (Vec<DerivedRecord>, Vec<Unreadable>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let dir = registry.join("derived");
    let Ok(entries) = fs::read_dir(&dir) else {
        return (out, bad);
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let parsed = fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<DerivedRecord>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(rec) if format!("{}.json", rec.artifact_id) == name => {
                out.push(resolve_record(registry, rec));
            }
            Ok(rec) => bad.push(Unreadable {
                path: p.display().to_string(),
                reason: format!(
                    "names artifact {} but is not its record file",
                    rec.artifact_id
                ),
            }),
            Err(e) => bad.push(Unreadable {
                path: p.display().to_string(),
                reason: format!("broken lineage record: {e}"),
            }),
        }
    }
    out.sort_by(|a, b| a.artifact_id.cmp(&b.artifact_id));
    (out, bad)
}

/// What a destruction order needs from a model's manifest (read leniently:
/// a manifest whose metrics are unreadable still names its lineage).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelLineage {
    /// Content-hash ID.
    pub model_id: String,
    /// Model family.
    pub family: String,
    /// The data set.
    pub data: DataRef,
    /// Training population rule.
    pub population_rule: String,
    /// Training members.
    pub training_members: TrainingMembers,
    /// Attributes used.
    #[serde(default)]
    pub features: Vec<String>,
    /// Parent models.
    #[serde(default)]
    pub parents: Vec<String>,
}

/// Every model folder's lineage, sorted by ID, and the manifests that
/// cannot be read (or whose ID is not their folder's name).
pub fn list_lineage(registry: &Path) -> (Vec<ModelLineage>, Vec<Unreadable>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let Ok(entries) = fs::read_dir(registry) else {
        return (out, bad);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || check_id(&name).is_err() || !e.path().is_dir() {
            continue;
        }
        let p = e.path().join("manifest.json");
        let parsed = fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<ModelLineage>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(m) if m.model_id == name => out.push(m),
            Ok(m) => bad.push(Unreadable {
                path: p.display().to_string(),
                reason: format!("names model {} but lies in folder {name}", m.model_id),
            }),
            Err(e) => bad.push(Unreadable {
                path: p.display().to_string(),
                reason: format!("not a model manifest: {e}"),
            }),
        }
    }
    out.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    (out, bad)
}

/// Loads a model's manifest and file, verifying the file's checksum.
pub fn load(registry: &Path, id: &str) -> Result<(ModelManifest, Vec<u8>)> {
    check_id(id)?;
    if is_destroyed(registry, id) {
        return Err(NsfError::param(
            "--model",
            format!("model {id} was destroyed"),
        ));
    }
    let dir = registry.join(id);
    let mpath = dir.join("manifest.json");
    if !mpath.is_file() {
        return Err(NsfError::param(
            "--model",
            format!("no model {id} in registry {}", registry.display()),
        ));
    }
    let text = fs::read_to_string(&mpath).map_err(|e| io(&mpath, e))?;
    let manifest: ModelManifest = serde_json::from_str(&text).map_err(|e| NsfError::Input {
        path: mpath.clone(),
        message: format!("not a model manifest: {e}"),
    })?;
    let fpath = dir.join("model.json");
    let bytes = fs::read(&fpath).map_err(|e| io(&fpath, e))?;
    let want = manifest
        .files
        .iter()
        .find(|f| f.name == "model.json")
        .map(|f| f.sha256.clone());
    let got = hex::encode(Sha256::digest(&bytes));
    if want.as_deref() != Some(got.as_str()) {
        return Err(NsfError::Input {
            path: fpath,
            message: "checksum mismatch: the model file was changed after registration".into(),
        });
    }
    if manifest.model_id != id
        || (content_id(&bytes, &manifest) != id && legacy_content_id(&bytes, &manifest) != id)
    {
        return Err(NsfError::Input {
            path: mpath,
            message: format!(
                "model {id} does not match its content: the model or its manifest was edited after registration"
            ),
        });
    }
    Ok((manifest, bytes))
}

/// Every registered model's manifest, sorted by ID.
pub fn list(registry: &Path) -> Result<Vec<ModelManifest>> {
    let mut out = Vec::new();
    if !registry.is_dir() {
        return Err(NsfError::param(
            "--registry",
            format!("no registry at {}", registry.display()),
        ));
    }
    let entries = fs::read_dir(registry).map_err(|e| io(registry, e))?;
    for e in entries.flatten() {
        let p = e.path().join("manifest.json");
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !p.is_file() {
            continue;
        }
        let text = fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        if let Ok(m) = serde_json::from_str::<ModelManifest>(&text) {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    Ok(out)
}

/// Absolute path of `p` (which may not exist yet): its parent canonicalized
/// (symlinks and `..` resolved), then its file name.
pub fn absolute_path(p: &Path) -> Result<PathBuf> {
    if let Ok(c) = fs::canonicalize(p) {
        return Ok(c);
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = p.file_name().ok_or_else(|| NsfError::Output {
        path: p.to_path_buf(),
        message: "needs a file or folder name".into(),
    })?;
    Ok(fs::canonicalize(&parent)
        .map_err(|e| io(&parent, e))?
        .join(name))
}

/// `path` relative to `base` (both absolute): `../out/a.parquet`.
fn relative_to(base: &Path, path: &Path) -> PathBuf {
    let b: Vec<_> = base.components().collect();
    let p: Vec<_> = path.components().collect();
    let common = b.iter().zip(&p).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// `base` joined with `rel`, `..` resolved lexically.
fn join_normalized(base: &Path, rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The record as stored: paths relative to the registry folder, so that a
/// registry moved or copied together with its outputs keeps working, and a
/// registry copied alone does not name the original's files.
fn store_record(registry: &Path, rec: &DerivedRecord) -> Result<DerivedRecord> {
    let base = fs::canonicalize(registry).map_err(|e| io(registry, e))?;
    let rel = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|p| relative_to(&base, Path::new(p)).display().to_string())
            .collect()
    };
    Ok(DerivedRecord {
        paths: rel(&rec.paths),
        staging: rel(&rec.staging),
        ..rec.clone()
    })
}

/// The record with absolute paths, resolved against where the registry is
/// now (absolute paths of older records are kept as they are).
fn resolve_record(registry: &Path, mut rec: DerivedRecord) -> DerivedRecord {
    let Ok(base) = fs::canonicalize(registry) else {
        return rec;
    };
    let abs = |v: &mut Vec<String>| {
        for p in v.iter_mut() {
            if Path::new(p.as_str()).is_relative() {
                *p = join_normalized(&base, Path::new(p.as_str()))
                    .display()
                    .to_string();
            }
        }
    };
    abs(&mut rec.paths);
    abs(&mut rec.staging);
    rec
}

/// A lineage record written before its output is published (see
/// [`begin_derived`]); [`PendingDerived::complete`] finishes it.
pub struct PendingDerived {
    registry: PathBuf,
    record: DerivedRecord,
}

fn derived_path(registry: &Path, id: &str) -> PathBuf {
    registry.join("derived").join(format!("{id}.json"))
}

/// First step of publishing an output derived from `parents`: under the
/// registry lock, checks that every parent is registered and not destroyed,
/// then writes a `pending` lineage record naming the output paths (files or
/// folders, which need not exist yet) and their staging paths. Only then
/// may the output be renamed into place; a kill at any later point leaves a
/// record that a destruction order follows. A record for the same output
/// paths is replaced (keeping its parents while pending: the old output may
/// still be there).
pub fn begin_derived(
    registry: &Path,
    kind: &str,
    outputs: &[PathBuf],
    staging: &[PathBuf],
    parents: &[String],
) -> Result<PendingDerived> {
    let mut parents = parents.to_vec();
    parents.sort();
    parents.dedup();
    let mut paths = Vec::new();
    for p in outputs {
        paths.push(absolute_path(p)?.display().to_string());
    }
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for a in &paths {
        h.update(a.as_bytes());
        h.update([0]);
    }
    let id = hex::encode(h.finalize())[..16].to_string();
    let _lock = lock(registry)?;
    check_parents(registry, &parents)?;
    let path = derived_path(registry, &id);
    let mut all_parents = parents.clone();
    if let Ok(text) = fs::read_to_string(&path)
        && let Ok(old) = serde_json::from_str::<DerivedRecord>(&text)
    {
        all_parents.extend(old.parents);
        all_parents.sort();
        all_parents.dedup();
    }
    let staging = staging
        .iter()
        .map(|p| absolute_path(p).map(|a| a.display().to_string()))
        .collect::<Result<Vec<_>>>()?;
    let record = DerivedRecord {
        artifact_id: id,
        kind: kind.into(),
        status: "pending".into(),
        paths,
        files: Vec::new(),
        parents: all_parents,
        staging,
    };
    let dir = registry.join("derived");
    fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    write_json_atomic(&path, &store_record(registry, &record)?)?;
    crate::data::artifact::fault_point("lineage-pending");
    Ok(PendingDerived {
        registry: registry.to_path_buf(),
        record: DerivedRecord { parents, ..record },
    })
}

impl PendingDerived {
    /// Last step: the output is in place. Under the registry lock, lists its
    /// files with their checksums and marks the record `complete`. When a
    /// parent was destroyed meanwhile, the output is removed and the call
    /// fails: nothing derived from a destroyed model stays behind.
    pub fn complete(self) -> Result<DerivedRecord> {
        let PendingDerived { registry, record } = self;
        let _lock = lock(&registry)?;
        let mut files_on_disk = Vec::new();
        for p in &record.paths {
            let p = PathBuf::from(p);
            if p.is_dir() {
                files_on_disk.extend(crate::data::artifact::files_under(&p)?);
            } else {
                files_on_disk.push(p);
            }
        }
        if let Some(d) = record.parents.iter().find(|p| is_destroyed(&registry, p)) {
            for f in &files_on_disk {
                let _ = fs::remove_file(f);
            }
            for p in &record.paths {
                crate::data::artifact::remove_empty_tree(Path::new(p));
            }
            return Err(NsfError::Output {
                path: PathBuf::from(&record.paths[0]),
                message: format!("model {d} was destroyed while this ran; its output was removed"),
            });
        }
        let mut files = Vec::new();
        let mut paths = Vec::new();
        for a in &files_on_disk {
            files.push(FileRecord {
                name: a
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                rows: 0,
                bytes: fs::metadata(a).map_err(|e| io(a, e))?.len(),
                sha256: sha256_file(a)?,
            });
            paths.push(a.display().to_string());
        }
        let rec = DerivedRecord {
            status: "complete".into(),
            paths,
            files,
            staging: Vec::new(),
            ..record
        };
        write_json_atomic(
            &derived_path(&registry, &rec.artifact_id),
            &store_record(&registry, &rec)?,
        )?;
        crate::data::artifact::fault_point("lineage-complete");
        Ok(rec)
    }
}

/// Publishes an output folder (a `compare` run, an audit) through the
/// lineage protocol: pending record, rename into place, complete record.
/// Every file under it derives from every model in `parents`.
pub fn publish_folder(
    registry: &Path,
    kind: &str,
    staged: crate::data::artifact::StagedDir,
    parents: &[String],
) -> Result<PathBuf> {
    let pending = begin_derived(
        registry,
        kind,
        &[staged.final_path().to_path_buf()],
        &[staged.staging_path().to_path_buf()],
        parents,
    )?;
    let out = staged.commit()?;
    pending.complete()?;
    Ok(out)
}
