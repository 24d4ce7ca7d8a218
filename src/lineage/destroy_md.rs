//! The destruction record for people: Markdown rendered from the JSON
//! record (every free-text field escaped). `destroy verify` re-renders it
//! and reports a Markdown file that differs from its JSON record.

use std::fmt::Write;

use crate::data::artifact::FileFate;
use crate::lineage::destroy::{Artifact, DestructionRecord, Rerun};
use crate::lineage::destroy_data::DataDisposition;
use crate::lineage::destroy_record::{Execution, Order};
use crate::lineage::destroy_scan::Verification;

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
    let roots: Vec<String> = v.roots.iter().map(|r| md_escape(r)).collect();
    let _ = writeln!(
        s,
        "At {}, {} files under {} were searched for {} destroyed files' hashes and for functional copies.\n",
        md_escape(&v.at),
        v.files_scanned,
        roots.join(", "),
        v.hashes_searched.len()
    );
    for r in &v.roots_absent {
        let _ = writeln!(s, "- Named but absent (not scanned): {}", md_escape(r));
    }
    let _ = writeln!(
        s,
        "- SHA-256 of the list of files scanned: {}\n- Matching rule: {}\n- Limits:",
        md_escape(&v.scanned_list_sha256),
        md_escape(&v.matching_rule)
    );
    for l in &v.limits {
        let _ = writeln!(s, "  - {}", md_escape(l));
    }
    let _ = writeln!(s);
    if v.copies_found.is_empty() && v.functional_copies.is_empty() {
        let _ = writeln!(s, "No copy of a destroyed file or model was found.");
    }
    md_unreadable(s, v);
    if !v.copies_found.is_empty() {
        let _ = writeln!(
            s,
            "**{} byte copies of destroyed files remain** (not deleted: they are outside the lineage; remove them and run `nsfsim destroy` again to verify):\n",
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
    if !v.functional_copies.is_empty() {
        let _ = writeln!(
            s,
            "\n**{} functional copies remain** (not deleted):\n",
            v.functional_copies.len()
        );
        for c in &v.functional_copies {
            let _ = writeln!(
                s,
                "- {} reproduces {}: {}",
                md_escape(&c.path),
                md_escape(&c.copy_of),
                md_escape(&c.rule)
            );
        }
    }
}

/// The Parquet files the scan could not read (none: nothing written).
fn md_unreadable(s: &mut String, v: &Verification) {
    if v.unreadable.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n**{} Parquet files could not be read** (not checked for copies; repair or remove them and run `nsfsim destroy` again):\n",
        v.unreadable.len()
    );
    for u in &v.unreadable {
        let _ = writeln!(s, "- {}: {}", md_escape(&u.path), md_escape(&u.reason));
    }
}

fn md_people(s: &mut String, o: &Order, e: &Execution) {
    let rows = [
        ("Order issuer", o.issuer.as_str()),
        ("Order reference", &o.reference),
        ("Order date", &o.date),
        ("Order scope", &o.scope),
        ("Operator (sanitized by)", &o.operator),
        ("Validator (validated by)", &o.validator),
        ("Host", &e.host),
        ("Tool", &e.tool),
        ("Version", &e.version),
        ("Build", &e.build),
        ("Deletion method", &e.deletion_method_statement),
    ];
    let _ = writeln!(s, "| field | value |\n|---|---|");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {} |", md_escape(v));
    }
}

fn md_data(s: &mut String, d: &DataDisposition) {
    let decision = match d.decision {
        crate::lineage::destroy_record::Disposition::Keep => "kept",
        crate::lineage::destroy_record::Disposition::Destroy => "destroyed",
    };
    let _ = writeln!(
        s,
        "\n## Training data\n\nDecision: **{decision}**. Reason: {}\n",
        md_escape(&d.reason)
    );
    for ds in &d.data_sets {
        let _ = writeln!(s, "- {}", md_escape(ds));
    }
    if let Some(w) = &d.warning {
        let _ = writeln!(s, "\n**Warning:** {}", md_escape(w));
    }
    for n in &d.not_found {
        let _ = writeln!(s, "- **Not destroyed:** {}", md_escape(n));
    }
    if !d.artifacts.is_empty() {
        let _ = writeln!(s);
        md_files(s, &d.artifacts);
    }
}

fn md_models(s: &mut String, rec: &DestructionRecord) {
    let _ = writeln!(s, "\n## Models destroyed\n");
    let _ = writeln!(
        s,
        "| model | family | data (preset, seed, users) | population | training members | member digest (SHA-256) | derivation |\n|---|---|---|---|---|---|---|"
    );
    for m in rec.all_models() {
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
}

fn md_rerun(s: &mut String, r: &Rerun) {
    let _ = writeln!(
        s,
        "\n## Run again at {} (order reference: {}, operator: {})\n",
        md_escape(&r.at),
        md_escape(&r.order.reference),
        md_escape(&r.order.operator)
    );
    md_people(s, &r.order, &r.execution);
    let _ = writeln!(s);
    for p in &r.reappeared {
        let _ = writeln!(s, "- **Reappeared** after it was deleted: {}", md_escape(p));
    }
    if !r.artifacts.is_empty() {
        md_files(s, &r.artifacts);
        let _ = writeln!(s);
    }
    if let Some(v) = &r.verification {
        md_verification(s, v);
    }
}

/// The record for people (every free-text field escaped).
pub fn markdown(rec: &DestructionRecord) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Destruction record: model {}\n",
        md_escape(&rec.model_id)
    );
    let _ = writeln!(
        s,
        "- Status: **{}**\n- Carried out: {}\n- Registry: {}\n- Record digest (SHA-256): {}\n- Signed by: {}\n",
        md_escape(&rec.status),
        md_escape(&rec.executed_at),
        md_escape(&rec.registry),
        md_escape(&rec.record_digest),
        rec.signature
            .as_ref()
            .map(|g| format!("Ed25519 key {}", md_escape(&g.public_key)))
            .unwrap_or_else(|| "(not signed)".into())
    );
    for r in &rec.incomplete_reasons {
        let _ = writeln!(s, "- **Not complete:** {}", md_escape(r));
    }
    let _ = writeln!(s, "\n## Order and accountability\n");
    md_people(&mut s, &rec.order, &rec.execution);
    md_data(&mut s, &rec.data_disposition);
    md_models(&mut s, rec);
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
    let _ = writeln!(s, "\n## Verification (latest)\n");
    match &rec.verification {
        None => {
            let _ = writeln!(s, "Not run yet.");
        }
        Some(v) => md_verification(&mut s, v),
    }
    for r in &rec.reruns {
        md_rerun(&mut s, r);
    }
    s
}
