//! What becomes of the training data of a destroyed model: kept (with the
//! stated reason and a warning that retraining reproduces the model) or
//! deleted through the same content-checked path as the model's files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::artifact::{self, FileFate};
use crate::lineage::destroy::{Artifact, DestroyedModel};
use crate::lineage::destroy_record::Disposition;

/// The warning a record carries when the training data is kept.
pub const KEEP_WARNING: &str = "the training data set is kept: training the same model family with the same settings on it reproduces the destroyed model byte for byte (model IDs are content hashes), and its IDs stay refused only in registries that hold this destruction log";

/// The training data's disposition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DataDisposition {
    /// Kept or destroyed.
    pub decision: Disposition,
    /// Why (as the operator gave it).
    pub reason: String,
    /// The data sets the destroyed models were trained on (folder, as
    /// recorded in their manifests, and SHA-256 of the data file).
    pub data_sets: Vec<String>,
    /// With `keep`: what keeping it allows.
    pub warning: Option<String>,
    /// With `destroy`: each data file and manifest, with its fate.
    pub artifacts: Vec<Artifact>,
    /// With `destroy`: data sets that could not be found or read (their
    /// destruction could not be carried out).
    pub not_found: Vec<String>,
}

/// The data sets of `models` (by folder and data hash, each once).
fn data_sets(models: &[&DestroyedModel]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = models
        .iter()
        .map(|m| {
            (
                m.data.dir.clone(),
                m.data.manifest_sha256.clone(),
                m.data.data_sha256.clone(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Plans the disposition: with `destroy`, every file of each data set
/// (manifest and data files, checked against the hashes the models
/// recorded) becomes an artifact to delete.
pub fn plan(models: &[&DestroyedModel], decision: Disposition, reason: &str) -> DataDisposition {
    let sets = data_sets(models);
    let mut d = DataDisposition {
        decision,
        reason: reason.to_string(),
        data_sets: sets
            .iter()
            .map(|(dir, _, data)| format!("{dir} (data SHA-256 {data})"))
            .collect(),
        warning: (decision == Disposition::Keep).then(|| KEEP_WARNING.to_string()),
        artifacts: Vec::new(),
        not_found: Vec::new(),
    };
    if decision == Disposition::Keep {
        return d;
    }
    for (dir, manifest_sha, data_sha) in sets {
        match data_files(Path::new(&dir), &manifest_sha, &data_sha) {
            Ok(arts) => d.artifacts.extend(arts),
            Err(why) => d.not_found.push(format!("{dir}: {why}")),
        }
    }
    d
}

fn data_files(
    dir: &Path,
    manifest_sha: &str,
    data_sha: &str,
) -> std::result::Result<Vec<Artifact>, String> {
    // A relative path names a folder only from where training ran (models
    // registered before 2026-12-04 recorded the path as typed).
    if dir.is_relative() {
        return Err(
            "recorded by a relative path, which does not say from which folder: not resolved (destroy it by hand and record that, or train again)".into(),
        );
    }
    let abs = std::fs::canonicalize(dir).map_err(|e| format!("not found ({e})"))?;
    let manifest = abs.join("manifest.json");
    // Only the manifest the models were trained on says which files are
    // the data set's: an edited one could name any file.
    let (m, now) = crate::data::generate::read_manifest_hashed(&abs).map_err(|e| e.to_string())?;
    if now != manifest_sha {
        return Err(format!(
            "its manifest is not the one the models were trained on (SHA-256 {now}, recorded {manifest_sha}): nothing of it deleted"
        ));
    }
    if let Some(f) = m.files.iter().find(|f| !is_plain_name(&f.name)) {
        return Err(format!(
            "its manifest names `{}`, not a file of the data set's folder",
            f.name
        ));
    }
    let art = |p: PathBuf, bytes: u64, sha256: String| Artifact {
        kind: "data".into(),
        id: m.seed.to_string(),
        path: p.display().to_string(),
        bytes,
        sha256,
        derivation: vec![format!("training data set {}", dir.display())],
        fate: None,
    };
    let mut out: Vec<Artifact> = m
        .files
        .iter()
        .map(|f| art(abs.join(&f.name), f.bytes, f.sha256.clone()))
        .collect();
    if !m.files.iter().any(|f| f.sha256 == data_sha) {
        return Err(format!(
            "its manifest does not list the data file the models were trained on (SHA-256 {data_sha})"
        ));
    }
    let bytes = artifact::file_size(&manifest).unwrap_or(0);
    out.push(art(manifest, bytes, manifest_sha.to_string()));
    Ok(out)
}

/// A file name with no folder part (`users.parquet`, not `../x` or `/x`).
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(parts.next(), Some(std::path::Component::Normal(_))) && parts.next().is_none()
}

/// Reasons the disposition leaves the order incomplete.
pub fn reasons(d: &DataDisposition) -> Vec<String> {
    let mut out: Vec<String> = d
        .not_found
        .iter()
        .map(|n| format!("training data set not destroyed: {n}"))
        .collect();
    for a in d
        .artifacts
        .iter()
        .filter(|a| a.fate == Some(FileFate::ChangedKept))
    {
        out.push(format!(
            "kept training data file `{}`: its content differs from what the models were trained on",
            a.path
        ));
    }
    out
}
