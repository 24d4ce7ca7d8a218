//! `nsfsim destroy`: flags of a destruction order, `destroy verify` and
//! `destroy keygen`, and what they print.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::RegistryArg;
use crate::data::artifact::FileFate;
use crate::error::NsfError;
use crate::lineage::destroy::{self, DestructionRecord, Outcome};
use crate::lineage::destroy_record::{DeletionMethod, Disposition, NOT_GIVEN, Order};

#[derive(Debug, Subcommand)]
enum DestroyAction {
    /// Verify a destruction record: its digest and signature, its Markdown,
    /// the log's hash chain, and that every deleted file is still absent
    /// from the recorded roots (exit 3 with the first discrepancy).
    Verify {
        /// The record: <registry>/destroyed/<model_id>.json.
        record: PathBuf,
        /// Trusted Ed25519 public key (file or hex): the record and every
        /// log entry of the order must be signed by it.
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
        /// Record a successful verification in the log in this name.
        #[arg(long, value_name = "NAME")]
        validator: Option<String>,
        /// Sign the validation entry with this secret key file.
        #[arg(long, value_name = "FILE", requires = "validator")]
        sign_key: Option<PathBuf>,
    },
    /// Write a new Ed25519 key pair: FILE (secret, mode 0600) and FILE.pub.
    Keygen {
        /// Secret key file to create (never replaced).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Flags of `nsfsim destroy`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, args_override_self = true)]
pub(super) struct DestroyArgs {
    #[command(subcommand)]
    action: Option<DestroyAction>,
    /// The model named in the order.
    #[arg(long)]
    model: Option<String>,
    /// Who issued the order (required; or `not-given`).
    #[arg(long, value_name = "TEXT")]
    order_issuer: Option<String>,
    /// The order's reference (required; or `not-given`).
    #[arg(long, value_name = "TEXT")]
    order_ref: Option<String>,
    /// The order's date, YYYY-MM-DD (required; or `not-given`).
    #[arg(long, value_name = "DATE")]
    order_date: Option<String>,
    /// What the order covers, in its words (required; or `not-given`).
    #[arg(long, value_name = "TEXT")]
    order_scope: Option<String>,
    /// Who carries out this run (required; or `not-given`).
    #[arg(long, value_name = "NAME")]
    operator: Option<String>,
    /// Who validates the result (required; or `not-given`).
    #[arg(long, value_name = "NAME")]
    validator: Option<String>,
    /// Whether the training data set is kept or destroyed (required).
    #[arg(long, value_name = "keep|destroy")]
    data_disposition: Option<String>,
    /// Why the training data is kept or destroyed (required).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// unlink, or overwrite (zeros, flushed) then unlink; overwriting gives
    /// no guarantee on copy-on-write file systems or SSDs.
    #[arg(long, value_name = "METHOD", default_value = "unlink")]
    deletion_method: String,
    /// Sign the record and its log entry with this Ed25519 secret key file
    /// (`nsfsim destroy keygen`).
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// List what would be destroyed and how it derives; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also scan this folder for copies after deleting (repeatable; the
    /// registry and the runs folder are always scanned).
    #[arg(long, value_name = "DIR")]
    scan: Vec<PathBuf>,
    /// The runs folder.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs: PathBuf,
    /// Print the record as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArg,
}

/// The order's fields; a real run needs every one (a value or `not-given`).
fn order_of(a: &DestroyArgs) -> Result<(Order, Disposition, String), NsfError> {
    let fields = [
        ("--order-issuer", &a.order_issuer),
        ("--order-ref", &a.order_ref),
        ("--order-date", &a.order_date),
        ("--order-scope", &a.order_scope),
        ("--operator", &a.operator),
        ("--validator", &a.validator),
        ("--data-disposition", &a.data_disposition),
        ("--reason", &a.reason),
    ];
    let missing: Vec<&str> = fields
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(f, _)| *f)
        .collect();
    if !a.dry_run && !missing.is_empty() {
        return Err(NsfError::param(
            missing[0],
            format!(
                "required for a destruction order, with {} (give a value or `{NOT_GIVEN}`)",
                missing.join(", ")
            ),
        ));
    }
    let v = |o: &Option<String>| o.clone().unwrap_or_else(|| NOT_GIVEN.into());
    let order = Order {
        issuer: v(&a.order_issuer),
        reference: v(&a.order_ref),
        date: v(&a.order_date),
        scope: v(&a.order_scope),
        operator: v(&a.operator),
        validator: v(&a.validator),
    };
    let disposition = Disposition::parse(a.data_disposition.as_deref().unwrap_or("keep"))?;
    Ok((order, disposition, v(&a.reason)))
}

fn cmd_verify(
    record: &Path,
    public_key: Option<&str>,
    validator: Option<&String>,
    sign_key: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let v = crate::api::destroy_verify(&crate::api::VerifyParams {
        record: record.to_path_buf(),
        public_key: public_key.map(str::to_string),
        validator: validator.cloned(),
        sign_key: sign_key.cloned(),
    })?;
    println!(
        "verified {}: record digest{} and Markdown match, log chain of {} entries intact, record unchanged since its last run, {} deleted files still absent ({} files under the recorded roots searched by content)",
        record.display(),
        match &v.signed_by {
            Some(k) => format!(" and Ed25519 signature (key {k})"),
            None => " (unsigned)".into(),
        },
        v.entries,
        v.files_checked,
        v.files_scanned
    );
    if let Some(e) = &v.validation {
        println!("validation by {} logged as entry {}", e.by, e.seq);
    }
    Ok(())
}

/// `nsfsim destroy ...`.
pub(super) fn cmd_destroy(a: DestroyArgs) -> anyhow::Result<()> {
    match &a.action {
        Some(DestroyAction::Verify {
            record,
            public_key,
            validator,
            sign_key,
        }) => {
            return cmd_verify(
                record,
                public_key.as_deref(),
                validator.as_ref(),
                sign_key.as_ref(),
            );
        }
        Some(DestroyAction::Keygen { out }) => {
            let (sk, pk) = crate::api::destroy_keygen(out)?;
            println!("secret key: {}\npublic key: {}", sk.display(), pk.display());
            return Ok(());
        }
        None => {}
    }
    let Some(model) = a.model.clone() else {
        return Err(NsfError::param("--model", "required (or `destroy verify RECORD`)").into());
    };
    let (order, data_disposition, data_reason) = order_of(&a)?;
    let o = destroy::destroy(&destroy::DestroyOptions {
        registry: a.registry.path(),
        model_id: model,
        order,
        data_disposition,
        data_reason,
        deletion_method: DeletionMethod::parse(&a.deletion_method)?,
        sign_key: a.sign_key.clone(),
        dry_run: a.dry_run,
        runs: a.runs.clone(),
        scan: a.scan.clone(),
    })?;
    report(&a, &o)
}

/// Prints the outcome; an incomplete order is an error (exit 3).
fn report(a: &DestroyArgs, o: &Outcome) -> anyhow::Result<()> {
    let r = &o.record;
    if a.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        if o.already_destroyed {
            eprintln!(
                "model {} was already destroyed on {}; finished any file left and verified again",
                r.model_id, r.executed_at
            );
        }
        if a.dry_run {
            print_destroy_plan(r);
        } else {
            print_destroy_outcome(o);
        }
    }
    if !a.dry_run && r.status != "complete" {
        return Err(NsfError::Incomplete {
            message: format!(
                "the order on model {} is incomplete: {}",
                r.model_id,
                r.incomplete_reasons.join("; ")
            ),
        }
        .into());
    }
    Ok(())
}

/// What a dry run would delete, with each file's derivation.
fn print_destroy_plan(r: &DestructionRecord) {
    let arts: Vec<_> = match r.reruns.last() {
        Some(run) => run.artifacts.iter().collect(),
        None => r
            .artifacts
            .iter()
            .chain(&r.data_disposition.artifacts)
            .collect(),
    };
    println!(
        "dry run: destroying model {} would delete {} model(s) and {} files ({} bytes):",
        r.model_id,
        r.all_models().count(),
        arts.len(),
        arts.iter().map(|x| x.bytes).sum::<u64>()
    );
    for x in arts {
        println!(
            "  {:<15} {}\n      via {}",
            x.kind,
            x.path,
            x.derivation.join(" -> ")
        );
    }
}

/// What an order deleted, kept and found, and where its record is.
fn print_destroy_outcome(o: &Outcome) {
    let r = &o.record;
    let arts: Vec<_> = match r.reruns.last() {
        Some(run) if o.already_destroyed => run.artifacts.iter().collect(),
        _ => r
            .artifacts
            .iter()
            .chain(&r.data_disposition.artifacts)
            .collect(),
    };
    let count = |f: FileFate| arts.iter().filter(|x| x.fate == Some(f)).count();
    println!(
        "destroyed model {} and {} derived models: {} files deleted, {} already absent, {} kept (content changed since recorded){}",
        r.model_id,
        r.all_models().count() - 1,
        count(FileFate::Deleted),
        count(FileFate::AlreadyAbsent),
        count(FileFate::ChangedKept),
        if o.already_destroyed {
            " in this run"
        } else {
            ""
        }
    );
    if let Some(run) = r.reruns.last().filter(|_| o.already_destroyed) {
        for p in &run.reappeared {
            println!("reappeared after it was deleted: {p}");
        }
    }
    for x in &r.suspicious {
        eprintln!(
            "warning: lineage record {} not followed: {}",
            x.record, x.reason
        );
    }
    for x in &r.unreadable {
        eprintln!("warning: lineage file {} unreadable: {}", x.path, x.reason);
    }
    if let Some(w) = &r.data_disposition.warning {
        eprintln!("warning: {w}");
    }
    if let Some(v) = &r.verification {
        print_verification(v);
    }
    for p in &o.written {
        println!("record: {}", p.display());
    }
}

fn print_verification(v: &destroy::Verification) {
    if !v.unreadable.is_empty() {
        println!(
            "verification: {} UNREADABLE Parquet files (not checked for copies):",
            v.unreadable.len()
        );
        for u in &v.unreadable {
            println!("  {}: {}", u.path, u.reason);
        }
    }
    if v.copies_found.is_empty() && v.functional_copies.is_empty() {
        println!(
            "verification: no copy found among {} files under {}",
            v.files_scanned,
            v.roots.join(", ")
        );
        return;
    }
    if !v.copies_found.is_empty() {
        println!(
            "verification: {} COPIES of destroyed files remain (outside the lineage, not deleted):",
            v.copies_found.len()
        );
        for c in &v.copies_found {
            println!("  {} = copy of {}", c.path, c.copy_of);
        }
    }
    if !v.functional_copies.is_empty() {
        println!(
            "verification: {} FUNCTIONAL COPIES remain (not deleted):",
            v.functional_copies.len()
        );
        for c in &v.functional_copies {
            println!("  {} reproduces {} ({})", c.path, c.copy_of, c.rule);
        }
    }
}
