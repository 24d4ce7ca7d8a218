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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainingMembers {
    /// Number of training members.
    pub count: u64,
    /// SHA-256 of the sorted member `user_id`s as little-endian u64 bytes.
    pub digest: String,
}

/// The data set a model was trained on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Artifact ID (content hash of the record's identity).
    pub artifact_id: String,
    /// What it is: `scores`, ...
    pub kind: String,
    /// Absolute path of the artifact and its manifest.
    pub paths: Vec<String>,
    /// Checksums of the files at creation.
    pub files: Vec<FileRecord>,
    /// Models it derives from.
    pub parents: Vec<String>,
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

/// Registers a model: computes its ID from the content of `model_json` and
/// the manifest, writes both into a staging folder and renames it into place.
/// Registering the same content twice returns the same ID.
pub fn register(registry: &Path, model_json: &[u8], mut manifest: ModelManifest) -> Result<String> {
    fs::create_dir_all(registry).map_err(|e| NsfError::Output {
        path: registry.to_path_buf(),
        message: format!("cannot create the registry: {e}"),
    })?;
    manifest.model_id = String::new();
    manifest.files.clear();
    let identity = serde_json::to_vec(&manifest).expect("manifest serializes");
    let mut h = Sha256::new();
    h.update(model_json);
    h.update(&identity);
    let id = hex::encode(h.finalize())[..16].to_string();
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

/// Whether a model was destroyed (its record or marker exists).
pub fn is_destroyed(registry: &Path, id: &str) -> bool {
    destroyed_marker(registry, id).exists()
}

/// Every lineage record in `derived/`, sorted by ID; a record that cannot
/// be read is an error (a broken lineage).
pub fn list_derived(registry: &Path) -> Result<Vec<DerivedRecord>> {
    let mut out = Vec::new();
    let dir = registry.join("derived");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let text = fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        let rec: DerivedRecord = serde_json::from_str(&text).map_err(|e| NsfError::Input {
            path: p.clone(),
            message: format!("broken lineage record: {e}"),
        })?;
        out.push(rec);
    }
    out.sort_by(|a, b| a.artifact_id.cmp(&b.artifact_id));
    Ok(out)
}

/// Every model folder's manifest, sorted by ID; unlike `list`, a manifest
/// that cannot be read is an error (a broken lineage).
pub fn list_strict(registry: &Path) -> Result<Vec<ModelManifest>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(registry) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || check_id(&name).is_err() || !e.path().is_dir() {
            continue;
        }
        let p = e.path().join("manifest.json");
        let text = fs::read_to_string(&p).map_err(|e| io(&p, e))?;
        let m: ModelManifest = serde_json::from_str(&text).map_err(|e| NsfError::Input {
            path: p.clone(),
            message: format!("broken lineage: not a model manifest: {e}"),
        })?;
        out.push(m);
    }
    out.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    Ok(out)
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
    Ok((manifest, bytes))
}

/// Every registered model's manifest, sorted by ID.
pub fn list(registry: &Path) -> Result<Vec<ModelManifest>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(registry) else {
        return Ok(out);
    };
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

/// Records a finished output folder (a `compare` run, an audit): every file
/// under it derives from every model in `parents`.
pub fn record_folder(
    registry: &Path,
    kind: &str,
    dir: &Path,
    parents: &[String],
) -> Result<DerivedRecord> {
    let mut parents = parents.to_vec();
    parents.sort();
    parents.dedup();
    record_derived(
        registry,
        kind,
        &crate::data::artifact::files_under(dir)?,
        &parents,
    )
}

/// Records a derived artifact (its files already written) in `derived/`.
pub fn record_derived(
    registry: &Path,
    kind: &str,
    paths: &[PathBuf],
    parents: &[String],
) -> Result<DerivedRecord> {
    let mut files = Vec::new();
    let mut abs = Vec::new();
    for p in paths {
        let a = fs::canonicalize(p).map_err(|e| io(p, e))?;
        files.push(FileRecord {
            name: a
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            rows: 0,
            bytes: fs::metadata(&a).map_err(|e| io(&a, e))?.len(),
            sha256: sha256_file(&a)?,
        });
        abs.push(a.display().to_string());
    }
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for a in &abs {
        h.update(a.as_bytes());
    }
    for f in &files {
        h.update(f.sha256.as_bytes());
    }
    let id = hex::encode(h.finalize())[..16].to_string();
    let rec = DerivedRecord {
        artifact_id: id.clone(),
        kind: kind.into(),
        paths: abs,
        files,
        parents: parents.to_vec(),
    };
    let dir = registry.join("derived");
    fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    write_json_atomic(&dir.join(format!("{id}.json")), &rec)?;
    Ok(rec)
}
