//! `destroyed/log.jsonl`: an append-only, hash-chained log of every run of
//! every destruction order and of every validation, one JSON line each.
//! Each entry holds the hash of the previous one, the SHA-256 of the record
//! file as written and the record's digest; with an operator key each entry
//! is signed, so a rewritten log is detected by whoever holds the public key.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::data::artifact;
use crate::error::{NsfError, Result};
use crate::lineage::destroy_record::{Signature, digest_of};
use crate::lineage::destroy_sign;
use crate::lineage::registry;

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// 1-based position in the log.
    pub seq: u64,
    /// When it was written (UTC, RFC 3339).
    pub at: String,
    /// `run` (a run of an order) or `validation` (`destroy verify
    /// --validator` succeeded).
    pub event: String,
    /// The model named in the order.
    pub model_id: String,
    /// Every model the order destroyed so far.
    pub models: Vec<String>,
    /// The order reference given to this run.
    pub order_ref: String,
    /// The operator (for a run) or the validator (for a validation).
    pub by: String,
    /// The record's status after this run.
    pub status: String,
    /// SHA-256 of the record file (`destroyed/<model_id>.json`) as written.
    pub record_sha256: String,
    /// The record's own digest (`record_digest` in it).
    pub record_digest: String,
    /// `hash` of the previous entry ("" for the first).
    pub prev: String,
    /// SHA-256 of this entry's JSON with `hash` and `signature` empty.
    pub hash: String,
    /// Ed25519 signature of `hash` by the operator's key, if one was given.
    pub signature: Option<Signature>,
}

/// Where the log lives.
pub fn log_path(registry: &Path) -> PathBuf {
    registry::destroyed_dir(registry).join("log.jsonl")
}

fn entry_hash(e: &LogEntry) -> String {
    digest_of(e, |c| {
        c.hash.clear();
        c.signature = None;
    })
}

/// Reads the log and checks its chain and signatures; the first broken link
/// is an error naming the line.
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
        if let Some(sig) = &e.signature {
            destroy_sign::check(sig, &e.hash, None).map_err(|m| bad(format!("signature: {m}")))?;
        }
        out.push(e);
    }
    Ok(out)
}

/// What a new entry says (the chain fields are filled in by `append`).
pub struct NewEntry<'a> {
    /// `run` or `validation`.
    pub event: &'a str,
    /// The model named in the order.
    pub model_id: &'a str,
    /// Every model destroyed so far.
    pub models: Vec<String>,
    /// The order reference.
    pub order_ref: &'a str,
    /// The operator or validator.
    pub by: &'a str,
    /// The record's status.
    pub status: &'a str,
    /// The record file.
    pub record_path: &'a Path,
    /// The record's digest.
    pub record_digest: &'a str,
}

/// Appends an entry (under the registry lock), signed with `key` if given.
pub fn append(reg: &Path, n: NewEntry, key: Option<&SigningKey>) -> Result<LogEntry> {
    use std::io::Write;
    let _lock = registry::lock(reg)?;
    let log = read_log(reg)?;
    let mut e = LogEntry {
        seq: log.len() as u64 + 1,
        at: crate::lineage::destroy::now(),
        event: n.event.into(),
        model_id: n.model_id.into(),
        models: n.models,
        order_ref: n.order_ref.into(),
        by: n.by.into(),
        status: n.status.into(),
        record_sha256: artifact::sha256_file(n.record_path)?,
        record_digest: n.record_digest.into(),
        prev: log.last().map(|l| l.hash.clone()).unwrap_or_default(),
        hash: String::new(),
        signature: None,
    };
    e.hash = entry_hash(&e);
    e.signature = key.map(|k| destroy_sign::sign(k, &e.hash));
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
    f.sync_all().map_err(|err| NsfError::io(&p, err))?;
    Ok(e)
}

/// Whether the log names `id` as destroyed (the refusal travels with the
/// log when the marker is missing). Read leniently: an entry that parses
/// counts even if the chain is broken, so editing the log cannot lift a
/// refusal.
pub fn logged_destroyed(registry: &Path, id: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(log_path(registry)) else {
        return false;
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|e| {
            e["models"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x == id))
        })
}
