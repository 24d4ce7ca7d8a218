//! The verification scan of a destruction order: every file under the
//! recorded roots is compared with every destroyed file (same size, then
//! same SHA-256), and parsed for functional copies: model manifests with a
//! destroyed model's training-member digest, family and features; model
//! files whose numbers equal a destroyed model's within a tolerance; score
//! files whose score column equals a destroyed score file's for the same
//! users. The record states the roots, counts, the digest of the list of
//! files scanned, the hashes searched for, the rules and the limits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::Array;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::artifact;
use crate::error::Result;

/// Relative tolerance of the model-number comparison.
pub const MODEL_TOLERANCE: f64 = 1e-9;
/// Fewest rows a score file needs to be compared (fewer: not flagged).
pub const MIN_SCORE_ROWS: usize = 10;
/// JSON files larger than this are not parsed (only hashed).
const MAX_JSON_BYTES: u64 = 64 << 20;

/// The matching rule, as written into the record.
pub const MATCHING_RULE: &str = "byte copies: a file with the size of a destroyed file is hashed and matches when its SHA-256 equals that file's; functional copies: a JSON file with kind \"model\" whose training-member digest, family and features equal a destroyed model's; a JSON model file (top-level family and features) whose numbers, in order, equal a destroyed model's within a relative tolerance of 1e-9; a Parquet or CSV file with user_id and score columns of at least 10 rows whose every score equals a destroyed score file's score for that user";

/// What the scan cannot see, as written into the record.
pub const LIMITS: [&str; 6] = [
    "only the roots listed are searched: other machines, backups, snapshots, removable media, cloud storage, e-mail and databases are not",
    "files inside archives (zip, tar, compressed) and encrypted files are not opened",
    "symbolic links are not followed; files the process cannot read are skipped, except Parquet files, which are listed as unreadable",
    "a model or score file transformed beyond the rules (rounded coefficients, another score mapping, a subset under 10 rows, another format) is not recognized",
    "model numbers and score columns are compared only in the run that deleted the originals (the record keeps no parameters or scores of a destroyed model); later runs compare model manifests by training-member digest, family and features",
    "deleted blocks may remain recoverable on the storage device (see deletion_method_statement)",
];

/// A byte-identical copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FoundCopy {
    /// Where it is.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// The destroyed artifact it copies.
    pub copy_of: String,
}

/// A file that is not byte-identical but does what a destroyed one did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FunctionalCopy {
    /// Where it is.
    pub path: String,
    /// The destroyed model or file it reproduces.
    pub copy_of: String,
    /// Which rule matched and how.
    pub rule: String,
}

/// A Parquet file under the roots that cannot be read (its footer or its
/// pages are refused, or it cannot be opened): it was not checked for
/// functional copies, so the order cannot be shown complete.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct UnreadableFile {
    /// Where it is.
    pub path: String,
    /// Why it could not be read.
    pub reason: String,
}

/// The verification scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Verification {
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    /// Folders scanned (absolute).
    pub roots: Vec<String>,
    /// Folders named but absent (nothing to scan there).
    #[serde(default)]
    pub roots_absent: Vec<String>,
    /// Files looked at.
    pub files_scanned: u64,
    /// SHA-256 of the sorted list of absolute paths scanned, one per line.
    #[serde(default)]
    pub scanned_list_sha256: String,
    /// The SHA-256 of every destroyed file searched for, sorted.
    #[serde(default)]
    pub hashes_searched: Vec<String>,
    /// How a file is recognized as a copy.
    #[serde(default)]
    pub matching_rule: String,
    /// What the scan cannot see.
    #[serde(default)]
    pub limits: Vec<String>,
    /// Files whose content equals a destroyed artifact (kept: they are
    /// outside the lineage; remove them and run `destroy` again).
    pub copies_found: Vec<FoundCopy>,
    /// Files that reproduce a destroyed model or its scores.
    #[serde(default)]
    pub functional_copies: Vec<FunctionalCopy>,
    /// Parquet files that could not be read, so not checked for functional
    /// copies (a file with a corrupted footer may still hold a destroyed
    /// model's scores).
    #[serde(default)]
    pub unreadable: Vec<UnreadableFile>,
}

/// A destroyed model as the scan recognizes it.
pub struct ModelPrint {
    /// Its ID.
    pub model_id: String,
    /// Family, features, training-member digest.
    pub family: String,
    /// Attributes.
    pub features: Vec<String>,
    /// Training-member digest.
    pub member_digest: String,
    /// Every number of its model file in order (only before deletion).
    pub numbers: Option<Vec<f64>>,
}

/// A destroyed score file's scores by user (only before deletion).
pub struct ScorePrint {
    /// The destroyed file.
    pub path: String,
    /// user_id -> score.
    pub scores: HashMap<u64, i64>,
}

/// Everything searched for.
#[derive(Default)]
pub struct Targets {
    /// size -> (SHA-256, destroyed path).
    pub by_size: HashMap<u64, Vec<(String, String)>>,
    /// Destroyed models.
    pub models: Vec<ModelPrint>,
    /// Destroyed score files.
    pub scores: Vec<ScorePrint>,
}

/// Every number in a JSON value, depth first, in document order.
pub fn numbers(v: &serde_json::Value, out: &mut Vec<f64>) {
    match v {
        serde_json::Value::Number(n) => out.extend(n.as_f64()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

/// The numbers of a model file, if it is one.
pub fn model_numbers(p: &Path) -> Option<Vec<f64>> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    let mut out = Vec::new();
    numbers(&v, &mut out);
    Some(out)
}

fn ints(a: &dyn Array) -> Option<Vec<i64>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    macro_rules! try_type {
        ($t:ty) => {
            if let Some(x) = a.as_primitive_opt::<$t>() {
                return Some(x.values().iter().map(|&v| v as i64).collect());
            }
        };
    }
    try_type!(UInt64Type);
    try_type!(Int64Type);
    try_type!(UInt8Type);
    try_type!(Int32Type);
    try_type!(UInt32Type);
    try_type!(Int16Type);
    None
}

/// (user_id, score) pairs of a Parquet or CSV file with those columns.
pub fn score_pairs(p: &Path) -> Option<Vec<(u64, i64)>> {
    let name = p.file_name()?.to_string_lossy().to_lowercase();
    if name.ends_with(".csv") {
        return csv_pairs(p);
    }
    if !name.ends_with(".parquet") {
        return None;
    }
    parquet_pairs(p, true).ok().flatten()
}

/// The reason an nsfsim reader gives for a file it refuses.
fn reason(e: crate::error::NsfError) -> String {
    match e {
        crate::error::NsfError::Input { message, .. } => message,
        other => other.to_string(),
    }
}

/// (user_id, score) pairs of a Parquet file: `Ok(None)` when it has no
/// such columns (or not of integer types) or `read` is false (the footer
/// is still read and checked), `Err` when it cannot be read.
fn parquet_pairs(p: &Path, read: bool) -> std::result::Result<Option<Vec<(u64, i64)>>, String> {
    let builder = artifact::open_parquet(p).map_err(reason)?;
    let fields = builder.schema().fields().clone();
    drop(builder);
    let has = |c: &str| fields.iter().any(|f| f.name() == c);
    if !(read && has("user_id") && has("score")) {
        return Ok(None);
    }
    let batches = artifact::read_parquet_columns(p, &["user_id", "score"]).map_err(reason)?;
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column_by_name("user_id").and_then(|c| ints(c.as_ref()));
        let sc = b.column_by_name("score").and_then(|c| ints(c.as_ref()));
        let (Some(ids), Some(sc)) = (ids, sc) else {
            return Ok(None);
        };
        out.extend(ids.into_iter().map(|u| u as u64).zip(sc));
    }
    Ok(Some(out))
}

/// Whether `p` is named as a Parquet file.
fn is_parquet(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().to_lowercase().ends_with(".parquet"))
}

fn csv_pairs(p: &Path) -> Option<Vec<(u64, i64)>> {
    let text = std::fs::read_to_string(p).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    let ui = header.iter().position(|h| *h == "user_id")?;
    let si = header.iter().position(|h| *h == "score")?;
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((
                f.get(ui)?.trim().parse().ok()?,
                f.get(si)?.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// Scans `roots` for `t`; `at` is the time stamp written.
pub fn scan(roots: &[PathBuf], t: &Targets, at: String) -> Result<Verification> {
    use rayon::prelude::*;
    let mut files = Vec::new();
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for r in roots {
        let abs = crate::lineage::registry::absolute_path(r)?;
        let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
        let shown = abs.display().to_string();
        if abs.is_dir() {
            files.extend(artifact::files_under(&abs)?);
            present.push(shown);
        } else {
            absent.push(shown);
        }
    }
    files.sort();
    files.dedup();
    present.dedup();
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(b"\n");
    }
    let found: Vec<Finding> = files.par_iter().map(|p| look_at(p, t)).collect();
    let mut hashes: Vec<String> = t
        .by_size
        .values()
        .flatten()
        .map(|(h, _)| h.clone())
        .collect();
    hashes.sort();
    hashes.dedup();
    Ok(Verification {
        at,
        roots: present,
        roots_absent: absent,
        files_scanned: files.len() as u64,
        scanned_list_sha256: hex::encode(h.finalize()),
        hashes_searched: hashes,
        matching_rule: MATCHING_RULE.into(),
        limits: LIMITS.iter().map(|s| s.to_string()).collect(),
        copies_found: found
            .iter()
            .filter_map(|f| match f {
                Finding::Copy(c) => Some(c.clone()),
                _ => None,
            })
            .collect(),
        functional_copies: found
            .iter()
            .filter_map(|f| match f {
                Finding::Functional(c) => Some(c.clone()),
                _ => None,
            })
            .collect(),
        unreadable: found
            .into_iter()
            .filter_map(|f| match f {
                Finding::Unreadable(u) => Some(u),
                _ => None,
            })
            .collect(),
    })
}

/// What the scan makes of one file.
enum Finding {
    /// Not a copy (as far as the rules see).
    Nothing,
    /// A byte copy of a destroyed file.
    Copy(FoundCopy),
    /// A functional copy.
    Functional(FunctionalCopy),
    /// A Parquet file that cannot be read.
    Unreadable(UnreadableFile),
}

/// One file: a byte copy; else a Parquet file that cannot be read; else
/// perhaps a functional copy.
fn look_at(p: &Path, t: &Targets) -> Finding {
    let Some(size) = artifact::file_size(p) else {
        return Finding::Nothing;
    };
    if let Some(want) = t.by_size.get(&size)
        && let Ok(h) = artifact::sha256_file(p)
        && let Some((_, of)) = want.iter().find(|(w, _)| *w == h)
    {
        return Finding::Copy(FoundCopy {
            path: p.display().to_string(),
            sha256: h,
            copy_of: of.clone(),
        });
    }
    let pairs = if is_parquet(p) {
        match parquet_pairs(p, !t.scores.is_empty()) {
            Ok(pairs) => pairs,
            Err(reason) => {
                return Finding::Unreadable(UnreadableFile {
                    path: p.display().to_string(),
                    reason,
                });
            }
        }
    } else {
        None
    };
    match functional(p, size, pairs, t) {
        Some(c) => Finding::Functional(c),
        None => Finding::Nothing,
    }
}

/// A functional copy (`pairs`: a Parquet file's score pairs, already read).
fn functional(
    p: &Path,
    size: u64,
    pairs: Option<Vec<(u64, i64)>>,
    t: &Targets,
) -> Option<FunctionalCopy> {
    let name = p.file_name()?.to_string_lossy().to_lowercase();
    let hit = |copy_of: String, rule: String| FunctionalCopy {
        path: p.display().to_string(),
        copy_of,
        rule,
    };
    if name.ends_with(".json") && size <= MAX_JSON_BYTES && !t.models.is_empty() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        return json_match(&v, t).map(|(of, rule)| hit(of, rule));
    }
    if t.scores.is_empty() {
        return None;
    }
    let pairs = match pairs {
        Some(pairs) => pairs,
        None if is_parquet(p) => return None,
        None => score_pairs(p)?,
    };
    for s in &t.scores {
        let enough = pairs.len() >= MIN_SCORE_ROWS.min(s.scores.len()) && !pairs.is_empty();
        if enough && pairs.iter().all(|(u, sc)| s.scores.get(u) == Some(sc)) {
            let rule = format!(
                "score file: all {} users' scores equal those of the destroyed score file",
                pairs.len()
            );
            return Some(hit(s.path.clone(), rule));
        }
    }
    None
}

/// A model manifest or model file matching a destroyed model.
fn json_match(v: &serde_json::Value, t: &Targets) -> Option<(String, String)> {
    let family = v["family"].as_str()?;
    let features: Vec<String> = serde_json::from_value(v["features"].clone()).ok()?;
    let same = |m: &&ModelPrint| m.family == family && m.features == features;
    if v["kind"] == "model" {
        let digest = v["training_members"]["digest"].as_str()?;
        let m = t
            .models
            .iter()
            .filter(same)
            .find(|m| m.member_digest == digest)?;
        let rule = "model manifest: same training-member digest, family and features";
        return Some((format!("model {}", m.model_id), rule.into()));
    }
    let mut mine = Vec::new();
    numbers(v, &mut mine);
    for m in t.models.iter().filter(same) {
        let Some(theirs) = &m.numbers else { continue };
        let close = theirs.len() == mine.len()
            && theirs
                .iter()
                .zip(&mine)
                .all(|(a, b)| (a - b).abs() <= MODEL_TOLERANCE * a.abs().max(1.0));
        if close {
            let rule = format!(
                "model file: same family and features, all {} numbers within a relative {MODEL_TOLERANCE:e}",
                mine.len()
            );
            return Some((format!("model {}", m.model_id), rule));
        }
    }
    None
}
