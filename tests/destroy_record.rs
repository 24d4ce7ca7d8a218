//! Issue 19: a destruction record a regulator can verify. One test per
//! failure the issue lists, named after it: an edited record, restored
//! files, copies and kept files reported as `complete`, re-runs replaying
//! the old file list, functional copies passing, missing accountability
//! fields, refusal per registry.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

struct Fx {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    reg: PathBuf,
    runs: PathBuf,
}

fn fx() -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let data = root.join("data");
    generate("small", 3000, None, &data);
    Fx {
        reg: root.join("registry"),
        runs: root.join("runs"),
        root,
        data,
        _tmp: tmp,
    }
}

impl Fx {
    fn train(&self, extra: &[&str]) -> String {
        train_id(&self.data, &self.reg, extra)
    }

    fn score(&self, reg: &Path, id: &str, out: &Path) {
        ok(&[
            "score",
            "--model",
            id,
            "--data",
            s(&self.data),
            "--out",
            s(out),
            "--registry",
            s(reg),
        ]);
    }

    /// `destroy` with the order flags and `extra`.
    fn destroy(&self, id: &str, extra: &[&str]) -> Output {
        let mut args = with_order(&[
            "destroy",
            "--model",
            id,
            "--registry",
            s(&self.reg),
            "--runs",
            s(&self.runs),
        ]);
        args.extend_from_slice(extra);
        nsfsim(&args)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.reg.join("destroyed").join(format!("{id}.json"))
    }

    fn record(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.record_path(id)).unwrap()).unwrap()
    }
}

fn verify(args: &[&str]) -> Output {
    let mut v = vec!["destroy", "verify"];
    v.extend_from_slice(args);
    nsfsim(&v)
}

fn succeeded(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Exit 3 with `needle` on stderr (one line, no panic).
fn discrepancy(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(needle), "`{err}` lacks `{needle}`");
    assert!(!err.contains("panicked"));
    let errors = err.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(errors, 1, "{err}");
}

#[test]
fn edited_executed_at_is_detected() {
    let f = fx();
    let a = f.train(&[]);
    succeeded(&f.destroy(&a, &[]));
    let rec = f.record_path(&a);
    succeeded(&verify(&[s(&rec)]));
    let text = std::fs::read_to_string(&rec).unwrap();
    let v = f.record(&a);
    for (field, forged) in [
        (v["executed_at"].as_str().unwrap(), "2020-01-01T00:00:00Z"),
        ("TEST-2026-001", "FORGED-REF"),
    ] {
        std::fs::write(&rec, text.replace(field, forged)).unwrap();
        discrepancy(&verify(&[s(&rec)]), "changed after");
    }
    // A re-run does not carry an edited record forward.
    std::fs::write(&rec, text.replace("TEST-2026-001", "FORGED-REF")).unwrap();
    let o = f.destroy(&a, &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("edited record"));
    std::fs::write(&rec, &text).unwrap();
    // The Markdown is checked against the JSON record.
    let md = rec.with_extension("md");
    let md_text = std::fs::read_to_string(&md).unwrap();
    std::fs::write(&md, md_text.replace("TEST-2026-001", "FORGED-REF")).unwrap();
    discrepancy(&verify(&[s(&rec)]), "Markdown record");
    std::fs::write(&md, &md_text).unwrap();
    succeeded(&verify(&[s(&rec)]));
}

#[test]
fn restored_file_is_reported_by_verify_and_rerun_appends_history() {
    let f = fx();
    let a = f.train(&[]);
    let out = f.root.join("out").join("a.parquet");
    f.score(&f.reg, &a, &out);
    let saved = std::fs::read(&out).unwrap();
    succeeded(&f.destroy(&a, &[]));
    let first = f.record(&a);
    std::fs::write(&out, &saved).unwrap();
    discrepancy(&verify(&[s(&f.record_path(&a))]), "is back");
    // A new operator under a new reference runs the order again.
    let o = f.destroy(&a, &["--operator", "second operator"]);
    let stdout = succeeded(&o);
    assert!(stdout.contains("reappeared"), "{stdout}");
    assert!(!out.exists());
    let rec = f.record(&a);
    // Earlier runs are never rewritten; the re-run names what came back.
    assert_eq!(rec["artifacts"], first["artifacts"]);
    assert_eq!(rec["executed_at"], first["executed_at"]);
    let run = &rec["reruns"][0];
    assert_eq!(run["reappeared"][0], out.display().to_string());
    assert_eq!(run["order"]["operator"], "second operator");
    assert_eq!(rec["order"]["operator"], "test operator");
    succeeded(&verify(&[s(&f.record_path(&a))]));
    let log = std::fs::read_to_string(f.reg.join("destroyed").join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
}

#[test]
fn copies_found_make_incomplete() {
    let f = fx();
    let a = f.train(&[]);
    let elsewhere = f.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(
        f.reg.join(&a).join("model.json"),
        elsewhere.join("renamed.json"),
    )
    .unwrap();
    let o = f.destroy(&a, &["--scan", s(&elsewhere)]);
    discrepancy(&o, "copy found");
    let rec = f.record(&a);
    assert_eq!(rec["status"], "incomplete");
    let v = &rec["verification"];
    assert_eq!(v["copies_found"].as_array().unwrap().len(), 1);
    // The scan states its roots (absolute), counts, list digest, rule, limits.
    for r in v["roots"].as_array().unwrap() {
        assert!(Path::new(r.as_str().unwrap()).is_absolute());
    }
    assert!(v["files_scanned"].as_u64().unwrap() > 0);
    assert_eq!(v["scanned_list_sha256"].as_str().unwrap().len(), 64);
    assert!(!v["hashes_searched"].as_array().unwrap().is_empty());
    assert!(v["matching_rule"].as_str().unwrap().contains("SHA-256"));
    assert!(v["limits"].to_string().contains("backups"));
}

/// `destroy --scan` skipped a Parquet file it could not read (a copy of a
/// score file whose footer was corrupted, so its scores are still in its
/// pages): now the scan lists it as unreadable in the record, the
/// Markdown and the output, and the order cannot be `complete`. A readable
/// Parquet file (the data set, also scanned) is not listed.
#[test]
fn an_unreadable_parquet_file_under_the_scan_roots_is_reported() {
    let f = fx();
    let a = f.train(&[]);
    let out = f.root.join("out").join("a.parquet");
    f.score(&f.reg, &a, &out);
    let elsewhere = f.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    let n = bytes.len();
    let footer_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let footer = n - 8 - footer_len;
    bytes[footer..footer + 16].fill(0xFF);
    let kept = elsewhere.join("kept.parquet");
    std::fs::write(&kept, &bytes).unwrap();
    let o = f.destroy(&a, &["--scan", s(&elsewhere), "--scan", s(&f.data)]);
    discrepancy(&o, "unreadable Parquet file");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        stdout.contains("UNREADABLE") && stdout.contains("kept.parquet"),
        "{stdout}"
    );
    let rec = f.record(&a);
    assert_eq!(rec["status"], "incomplete");
    let unreadable = rec["verification"]["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    let shown = std::fs::canonicalize(&kept).unwrap().display().to_string();
    assert_eq!(unreadable[0]["path"], shown.as_str());
    assert!(!unreadable[0]["reason"].as_str().unwrap().is_empty());
    let md = std::fs::read_to_string(f.record_path(&a).with_extension("md")).unwrap();
    assert!(
        md.contains("could not be read") && md.contains("kept.parquet"),
        "{md}"
    );
    // The record still verifies (its digest covers the new list).
    succeeded(&verify(&[s(&f.record_path(&a))]));
}

#[test]
fn changed_kept_makes_incomplete() {
    let f = fx();
    let a = f.train(&[]);
    let out = f.root.join("out").join("a.parquet");
    f.score(&f.reg, &a, &out);
    std::fs::write(&out, b"someone else's content").unwrap();
    let o = f.destroy(&a, &[]);
    discrepancy(&o, "content changed since recorded");
    assert!(out.exists());
    assert_eq!(f.record(&a)["status"], "incomplete");
}

#[test]
fn rerun_catches_score_file_derived_after_first_run() {
    let f = fx();
    let a = f.train(&[]);
    // A copy of the registry taken before the order...
    let copy = f.root.join("copy");
    copy_dir(&f.reg, &copy);
    succeeded(&f.destroy(&a, &[]));
    // ...scores with the model after the first run; its lineage record is
    // then brought into the registry.
    let late = f.root.join("late").join("late.parquet");
    f.score(&copy, &a, &late);
    std::fs::create_dir_all(f.reg.join("derived")).unwrap();
    for e in std::fs::read_dir(copy.join("derived")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), f.reg.join("derived").join(e.file_name())).unwrap();
    }
    let dry = succeeded(&f.destroy(&a, &["--dry-run"]));
    assert!(dry.contains("late.parquet"), "{dry}");
    assert!(late.exists());
    succeeded(&f.destroy(&a, &[]));
    assert!(!late.exists());
    let rec = f.record(&a);
    let arts = rec["reruns"].as_array().unwrap().last().unwrap()["artifacts"].to_string();
    assert!(arts.contains("late.parquet"), "{arts}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Multiplies the first non-integer number of `v` by `1 + eps`.
fn nudge(v: &mut serde_json::Value, eps: f64) -> bool {
    match v {
        serde_json::Value::Number(n) if n.is_f64() && n.as_f64() != Some(0.0) => {
            *v = serde_json::json!(n.as_f64().unwrap() * (1.0 + eps));
            true
        }
        serde_json::Value::Array(a) => a.iter_mut().any(|x| nudge(x, eps)),
        serde_json::Value::Object(o) => o.values_mut().any(|x| nudge(x, eps)),
        _ => false,
    }
}

#[test]
fn functional_copy_is_flagged() {
    let f = fx();
    let a = f.train(&[]);
    // Same members, family and features, another seed: another ID.
    let twin = f.train(&["--seed", "7"]);
    assert_ne!(a, twin);
    let out = f.root.join("out").join("a.csv");
    f.score(&f.reg, &a, &out);
    let elsewhere = f.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // The model's numbers within 1e-13, not byte-identical.
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.reg.join(&a).join("model.json")).unwrap()).unwrap();
    assert!(nudge(&mut m, 1e-13));
    std::fs::write(elsewhere.join("model-copy.json"), m.to_string()).unwrap();
    // The score column only, for the same users.
    let csv: String = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(elsewhere.join("scores-only.csv"), csv).unwrap();
    let o = f.destroy(&a, &["--scan", s(&elsewhere)]);
    discrepancy(&o, "functional copy");
    let fc = f.record(&a)["verification"]["functional_copies"].to_string();
    let twin_manifest = format!("{twin}/manifest.json");
    for needle in [twin_manifest.as_str(), "model-copy.json", "scores-only.csv"] {
        assert!(fc.contains(needle), "{needle} not flagged: {fc}");
    }
}

#[test]
fn refusal_survives_deleted_marker() {
    let f = fx();
    let a = f.train(&[]);
    let copy = f.root.join("copy");
    copy_dir(&f.reg, &copy);
    succeeded(&f.destroy(&a, &[]));
    std::fs::remove_file(f.record_path(&a)).unwrap();
    std::fs::remove_file(f.record_path(&a).with_extension("md")).unwrap();
    refused(
        &["train", "--data", s(&f.data), "--registry", s(&f.reg)],
        "destroyed",
    );
    // A registry copy that carries the log refuses the ID too.
    std::fs::create_dir_all(copy.join("destroyed")).unwrap();
    std::fs::copy(
        f.reg.join("destroyed").join("log.jsonl"),
        copy.join("destroyed").join("log.jsonl"),
    )
    .unwrap();
    let out = f.root.join("x.parquet");
    refused(
        &[
            "score",
            "--model",
            &a,
            "--data",
            s(&f.data),
            "--out",
            s(&out),
            "--registry",
            s(&copy),
        ],
        "destroyed",
    );
}

#[test]
fn registry_copy_without_log_is_reported() {
    let f = fx();
    let a = f.train(&[]);
    succeeded(&f.destroy(&a, &[]));
    let copy = f.root.join("copy");
    std::fs::create_dir_all(copy.join("destroyed")).unwrap();
    for ext in ["json", "md"] {
        std::fs::copy(
            f.record_path(&a).with_extension(ext),
            copy.join("destroyed").join(format!("{a}.{ext}")),
        )
        .unwrap();
    }
    discrepancy(
        &verify(&[s(&copy.join("destroyed").join(format!("{a}.json")))]),
        "no destruction log",
    );
}

#[test]
fn missing_order_fields_are_refused_before_anything_is_deleted() {
    let f = fx();
    let a = f.train(&[]);
    let o = nsfsim(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        s(&f.reg),
        "--order-ref",
        "X",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--order-issuer") && err.contains("not-given"),
        "{err}"
    );
    let o = f.destroy(&a, &["--order-date", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(f.reg.join(&a).join("model.json").exists());
    // Explicitly not given is accepted and recorded as such.
    let mut args = vec![
        "destroy",
        "--model",
        &a,
        "--registry",
        s(&f.reg),
        "--runs",
        s(&f.runs),
    ];
    for flag in [
        "--order-issuer",
        "--order-ref",
        "--order-date",
        "--order-scope",
        "--operator",
        "--validator",
    ] {
        args.extend([flag, "not-given"]);
    }
    args.extend(["--data-disposition", "keep", "--reason", "not stated"]);
    succeeded(&nsfsim(&args));
    let rec = f.record(&a);
    assert_eq!(rec["order"]["issuer"], "not-given");
    assert!(!rec["execution"]["host"].as_str().unwrap().is_empty());
    assert!(
        rec["execution"]["build"]
            .as_str()
            .unwrap()
            .starts_with("sources-sha256:")
    );
    assert!(
        rec["data_disposition"]["warning"]
            .as_str()
            .unwrap()
            .contains("reproduces")
    );
}

#[test]
fn signed_record_verifies_only_with_its_key() {
    let f = fx();
    let a = f.train(&[]);
    let key = f.root.join("operator.key");
    let other = f.root.join("other.key");
    succeeded(&nsfsim(&["destroy", "keygen", "--out", s(&key)]));
    succeeded(&nsfsim(&["destroy", "keygen", "--out", s(&other)]));
    refused(&["destroy", "keygen", "--out", s(&key)], "never replaced");
    succeeded(&f.destroy(&a, &["--sign-key", s(&key)]));
    let rec = f.record_path(&a);
    let pubkey = format!("{}.pub", key.display());
    let out = succeeded(&verify(&[s(&rec), "--public-key", &pubkey]));
    assert!(out.contains("Ed25519"), "{out}");
    discrepancy(
        &verify(&[s(&rec), "--public-key", &format!("{}.pub", other.display())]),
        "not by the trusted key",
    );
    // A validator's successful check is logged.
    let out = succeeded(&verify(&[s(&rec), "--validator", "Jane Auditor"]));
    assert!(out.contains("validation by Jane Auditor"), "{out}");
    let log = std::fs::read_to_string(f.reg.join("destroyed").join("log.jsonl")).unwrap();
    assert!(log.lines().last().unwrap().contains("\"validation\""));
}

#[test]
fn data_disposition_destroy_deletes_the_training_data() {
    let f = fx();
    let a = f.train(&[]);
    let o = f.destroy(
        &a,
        &[
            "--data-disposition",
            "destroy",
            "--reason",
            "the order covers the data",
            "--deletion-method",
            "overwrite",
        ],
    );
    // A flag given again overrides the helper's (`keep`).
    succeeded(&o);
    assert!(!f.data.join("manifest.json").exists());
    let rec = f.record(&a);
    assert_eq!(rec["data_disposition"]["decision"], "destroy");
    assert_eq!(rec["execution"]["deletion_method"], "overwrite");
    assert!(
        rec["execution"]["deletion_method_statement"]
            .as_str()
            .unwrap()
            .contains("no guarantee")
    );
    let arts = rec["data_disposition"]["artifacts"].as_array().unwrap();
    assert!(arts.len() >= 2 && arts.iter().all(|x| x["fate"] == "deleted"));
    succeeded(&verify(&[s(&f.record_path(&a))]));
}

/// The record's `build` (`NSFSIM_BUILD`, from build.rs) claimed to be the
/// SHA-256 of the sources but left out what the binary embeds (the
/// presets, the experiment specs, the font): a build with another embedded
/// preset had the same build ID. Recomputed here from the files: every
/// `.rs` under `src/`, every file they embed, Cargo.toml, Cargo.lock and
/// build.rs, by path in order.
#[test]
fn the_build_id_covers_every_file_the_binary_is_compiled_from() {
    use sha2::{Digest, Sha256};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut rs = Vec::new();
    walk(&root.join("src"), &mut rs);
    let include = regex::Regex::new(r#"include_(?:str|bytes)!\("([^"]+)"\)"#).unwrap();
    let mut files: Vec<PathBuf> = ["Cargo.toml", "Cargo.lock", "build.rs"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    for p in &rs {
        let text = std::fs::read_to_string(p).unwrap();
        for c in include.captures_iter(&text) {
            let f = std::fs::canonicalize(p.parent().unwrap().join(&c[1])).unwrap();
            files.push(f);
        }
    }
    files.extend(rs);
    let root = std::fs::canonicalize(root).unwrap();
    // Sorted as paths (component by component), as build.rs sorts them.
    let mut rel: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let f = std::fs::canonicalize(f).unwrap();
            f.strip_prefix(&root).unwrap().to_path_buf()
        })
        .collect();
    rel.sort();
    rel.dedup();
    for embedded in [
        "synthetic/small.toml",
        "synthetic/experiments/default.toml",
        "assets/fonts/DejaVuSans.ttf",
    ] {
        assert!(
            rel.iter().any(|r| r == Path::new(embedded)),
            "{embedded} not embedded"
        );
    }
    let mut h = Sha256::new();
    for r in &rel {
        h.update(r.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(root.join(r)).unwrap());
        h.update([0]);
    }
    let want = format!("sources-sha256:{}", hex::encode(h.finalize()));
    assert_eq!(env!("NSFSIM_BUILD"), want);
}
