//! `nsfsim destroy verify RECORD`: recomputes the record's digest and
//! signature, re-renders its Markdown, recomputes the log's chain, checks
//! that the record is the one the log's last run of its order hashed, and
//! re-checks that every deleted file is still absent from the recorded
//! roots (at its path and, by content, anywhere under them). The first
//! discrepancy is an error on one line (exit 3). With `--validator`, a
//! successful verification is appended to the log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::data::artifact;
use crate::error::{NsfError, Result};
use crate::lineage::destroy::DestructionRecord;
use crate::lineage::destroy_log::{self, LogEntry};
use crate::lineage::destroy_scan::{self, Targets};
use crate::lineage::destroy_sign;

/// What to verify and how.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The record: `<registry>/destroyed/<model_id>.json`.
    pub record: PathBuf,
    /// The trusted public key (hex): the record and every log entry of the
    /// order must be signed by it.
    pub public_key: Option<String>,
    /// Who validates: a successful verification is logged in their name.
    pub validator: Option<String>,
    /// The validator's secret key file: signs the validation entry.
    pub sign_key: Option<PathBuf>,
}

/// What `destroy verify` checked.
pub struct VerifyReport {
    /// Log entries checked.
    pub entries: usize,
    /// Deleted files checked to be still absent.
    pub files_checked: usize,
    /// Files under the recorded roots searched for their content.
    pub files_scanned: u64,
    /// The key the record is signed by, if signed.
    pub signed_by: Option<String>,
    /// The validation entry appended (with `--validator`).
    pub validation: Option<LogEntry>,
}

fn read(record_path: &Path) -> Result<DestructionRecord> {
    let text = std::fs::read_to_string(record_path).map_err(|e| NsfError::Input {
        path: record_path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    serde_json::from_str(&text).map_err(|e| NsfError::Input {
        path: record_path.to_path_buf(),
        message: format!("not a destruction record: {e}"),
    })
}

/// The record's own content: digest and signature.
fn check_record(rec: &DestructionRecord, trusted: Option<&str>) -> std::result::Result<(), String> {
    if rec.digest() != rec.record_digest {
        return Err(
            "the record was changed after it was written: its content does not match its record_digest"
                .into(),
        );
    }
    match (&rec.signature, trusted) {
        (Some(sig), t) => destroy_sign::check(sig, &rec.record_digest, t)
            .map_err(|m| format!("record signature: {m}"))?,
        (None, Some(_)) => {
            return Err("the record is not signed, but --public-key was given".into());
        }
        (None, None) => {}
    }
    Ok(())
}

/// The Markdown beside the record is the rendering of the JSON record.
fn check_markdown(rec: &DestructionRecord, record_path: &Path) -> std::result::Result<(), String> {
    let md = record_path.with_extension("md");
    match std::fs::read_to_string(&md) {
        Ok(t) if t == crate::lineage::destroy_md::markdown(rec) => Ok(()),
        Ok(_) => Err(format!(
            "the Markdown record {} differs from the JSON record (edited)",
            md.display()
        )),
        Err(e) => Err(format!(
            "the Markdown record {} cannot be read: {e}",
            md.display()
        )),
    }
}

/// The log: chain intact, the record is the one its last run hashed, and
/// with a trusted key every entry of the order is signed by it.
fn check_log(
    reg: &Path,
    rec: &DestructionRecord,
    record_path: &Path,
    trusted: Option<&str>,
) -> Result<std::result::Result<usize, String>> {
    let log = destroy_log::read_log(reg)?;
    if log.is_empty() {
        return Ok(Err(format!(
            "the registry {} has no destruction log ({}): a copy without it cannot be verified",
            reg.display(),
            destroy_log::log_path(reg).display()
        )));
    }
    let mine: Vec<&LogEntry> = log.iter().filter(|e| e.model_id == rec.model_id).collect();
    let Some(last) = mine.iter().rev().find(|e| e.event == "run") else {
        return Ok(Err("the log has no entry for this order".into()));
    };
    if last.record_sha256 != artifact::sha256_file(record_path)?
        || last.record_digest != rec.record_digest
    {
        return Ok(Err(format!(
            "the record was changed after the run the log recorded at {} (SHA-256 differs)",
            last.at
        )));
    }
    if let Some(t) = trusted {
        for e in &mine {
            let Some(sig) = &e.signature else {
                return Ok(Err(format!("log entry {} is not signed", e.seq)));
            };
            if let Err(m) = destroy_sign::check(sig, &e.hash, Some(t)) {
                return Ok(Err(format!("log entry {}: {m}", e.seq)));
            }
        }
    }
    Ok(Ok(log.len()))
}

/// Every deleted file is still absent at its path and nowhere under the
/// recorded roots by content (copies the record already reports excepted).
fn check_deleted(rec: &DestructionRecord) -> Result<std::result::Result<(usize, u64), String>> {
    let deleted: Vec<_> = rec
        .all_artifacts()
        .filter(|a| crate::lineage::destroy::must_stay_absent(a))
        .collect();
    for a in &deleted {
        let p = Path::new(&a.path);
        if artifact::file_size(p).is_some() && artifact::sha256_file(p)? == a.sha256 {
            return Ok(Err(format!(
                "`{}` was deleted and is back with the same content",
                a.path
            )));
        }
    }
    let Some(v) = &rec.verification else {
        return Ok(Ok((deleted.len(), 0)));
    };
    let mut t = Targets::default();
    for a in deleted
        .iter()
        .filter(|a| a.bytes > 0 && a.kind != "lineage-record")
    {
        t.by_size
            .entry(a.bytes)
            .or_default()
            .push((a.sha256.clone(), a.path.clone()));
    }
    let known: BTreeSet<&str> = v.copies_found.iter().map(|c| c.path.as_str()).collect();
    let roots: Vec<PathBuf> = v.roots.iter().map(PathBuf::from).collect();
    let now = destroy_scan::scan(&roots, &t, crate::lineage::destroy::now())?;
    if let Some(c) = now
        .copies_found
        .iter()
        .find(|c| !known.contains(c.path.as_str()))
    {
        return Ok(Err(format!(
            "a copy of deleted `{}` is at `{}`",
            c.copy_of, c.path
        )));
    }
    Ok(Ok((deleted.len(), now.files_scanned)))
}

/// Verifies a record; the first discrepancy is an error (exit 3).
pub fn verify(o: &VerifyOptions) -> Result<VerifyReport> {
    let record_path = &o.record;
    let reg = record_path
        .parent()
        .and_then(|d| d.parent())
        .ok_or_else(|| NsfError::param("RECORD", "not a path to registry/destroyed/<id>.json"))?;
    let rec = read(record_path)?;
    let fail = |m: String| NsfError::Incomplete {
        message: format!("{}: {m}", record_path.display()),
    };
    let trusted = o.public_key.as_deref();
    check_record(&rec, trusted).map_err(fail)?;
    let entries = check_log(reg, &rec, record_path, trusted)?.map_err(fail)?;
    check_markdown(&rec, record_path).map_err(fail)?;
    let (files_checked, files_scanned) = check_deleted(&rec)?.map_err(fail)?;
    let validation = match &o.validator {
        None => None,
        Some(name) => Some(log_validation(
            reg,
            &rec,
            record_path,
            name,
            o.sign_key.as_deref(),
        )?),
    };
    Ok(VerifyReport {
        entries,
        files_checked,
        files_scanned,
        signed_by: rec.signature.as_ref().map(|s| s.public_key.clone()),
        validation,
    })
}

fn log_validation(
    reg: &Path,
    rec: &DestructionRecord,
    record_path: &Path,
    name: &str,
    sign_key: Option<&Path>,
) -> Result<LogEntry> {
    if name.trim().is_empty() {
        return Err(NsfError::param("--validator", "is empty"));
    }
    let key = sign_key
        .map(|k| destroy_sign::load_signing_key(k, "--sign-key"))
        .transpose()?;
    destroy_log::append(
        reg,
        destroy_log::NewEntry {
            event: "validation",
            model_id: &rec.model_id,
            models: rec.all_models().map(|m| m.model_id.clone()).collect(),
            order_ref: &rec.order.reference,
            by: name,
            status: &rec.status,
            record_path,
            record_digest: &rec.record_digest,
        },
        key.as_ref(),
    )
}
