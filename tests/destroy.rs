//! `nsfsim destroy`: a destruction order removes exactly the model and what
//! derives from it, records every file's hash, finds planted copies, refuses
//! the destroyed IDs afterwards, and is idempotent.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn sha(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    reg: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let data = root.join("data");
    generate("small", 30000, None, &data);
    Fixture {
        reg: root.join("registry"),
        root,
        data,
        _tmp: tmp,
    }
}

fn train(f: &Fixture, extra: &[&str]) -> String {
    train_id(&f.data, &f.reg, extra)
}

fn score(f: &Fixture, id: &str, out: &Path) {
    ok(&[
        "score",
        "--model",
        id,
        "--data",
        s(&f.data),
        "--out",
        s(out),
        "--registry",
        s(&f.reg),
    ]);
}

#[test]
fn destroy_removes_exactly_the_derived_set_and_verifies() {
    let f = fixture();
    let a = train(&f, &["--population", "all"]);
    // B is not derived from A. (With full features, B would be a
    // functional copy of W below: same members, family and features, the
    // same optimum; the scan flags that, see tests/destroy_record.rs.)
    let b = train(&f, &["--population", "registered", "--features", "minimal"]);
    // A model trained on other data, in the same registry.
    let other = f.root.join("other");
    generate("small", 10000, Some(99), &other);
    let o = train_id(&other, &f.reg, &[]);
    // W is warm-started from A on the registered users: it derives from A.
    let w = train(&f, &["--population", "registered", "--warm-start", &a]);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &w, "--registry", s(&f.reg)])).unwrap();
    assert_eq!(shown["parents"][0], a.as_str());
    assert_eq!(shown["hyperparameters"]["warm_start"], a.as_str());
    // C is trained on A's scores: it derives from A.
    let c = train(&f, &["--teacher", &a]);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &c, "--registry", s(&f.reg)])).unwrap();
    assert_eq!(show["parents"][0], a.as_str());
    let out = f.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let (sa, sb, sc) = (
        out.join("a.parquet"),
        out.join("b.parquet"),
        out.join("c.parquet"),
    );
    score(&f, &a, &sa);
    score(&f, &b, &sb);
    score(&f, &c, &sc);
    // A copy under another name, outside the lineage.
    let elsewhere = f.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(&sa, elsewhere.join("renamed.bin")).unwrap();
    let runs = f.root.join("runs");

    let doomed: Vec<PathBuf> = vec![
        f.reg.join(&a).join("model.json"),
        f.reg.join(&a).join("manifest.json"),
        f.reg.join(&c).join("model.json"),
        sa.clone(),
        out.join("a.parquet.manifest.json"),
        sc.clone(),
        out.join("c.parquet.manifest.json"),
    ];
    let sa_bytes = std::fs::read(&sa).unwrap();
    let hashes: Vec<(String, String)> = doomed
        .iter()
        .map(|p| {
            (
                std::fs::canonicalize(p).unwrap().display().to_string(),
                sha(p),
            )
        })
        .collect();

    // Dry run: lists, deletes nothing.
    let dry = ok(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--dry-run",
        "--registry",
        s(&f.reg),
        "--runs",
        s(&runs),
    ]));
    for p in &doomed {
        assert!(p.is_file(), "dry run deleted {}", p.display());
        assert!(dry.contains(p.file_name().unwrap().to_str().unwrap()));
    }
    assert!(
        dry.contains(&format!("model {c} (trained from {a})")),
        "{dry}"
    );

    // A copy remains: the order is carried out but incomplete (exit 3).
    let run = nsfsim(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--order-ref",
        "TEST-ORDER-1",
        "--registry",
        s(&f.reg),
        "--runs",
        s(&runs),
        "--scan",
        s(&elsewhere),
    ]));
    let msg = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{msg}{err}");
    assert!(msg.contains("1 COPIES"), "{msg}");
    assert!(
        err.contains("incomplete") && err.contains("renamed.bin"),
        "{err}"
    );
    for p in &doomed {
        assert!(!p.exists(), "{} survived", p.display());
    }
    assert!(!f.reg.join(&a).exists() && !f.reg.join(&c).exists() && !f.reg.join(&w).exists());
    // Not derived from A: untouched and still usable.
    assert!(sb.is_file() && f.reg.join(&b).join("model.json").is_file());
    assert!(f.reg.join(&o).join("model.json").is_file());
    assert!(other.join("users.parquet").is_file() && f.data.join("users.parquet").is_file());
    assert!(
        elsewhere.join("renamed.bin").is_file(),
        "copies outside the lineage are not deleted"
    );
    score(&f, &b, &out.join("b2.parquet"));

    // The record: every deleted file with the hash it had, the members, the copy.
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.reg.join("destroyed").join(format!("{a}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["status"], "incomplete");
    assert_eq!(rec["order"]["reference"], "TEST-ORDER-1");
    assert_eq!(rec["models"].as_array().unwrap().len(), 3);
    assert_eq!(rec["models"][0]["model_id"], a.as_str());
    assert_eq!(
        rec["models"][0]["training_members"]["digest"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let arts = rec["artifacts"].as_array().unwrap();
    for (path, h) in &hashes {
        let art = arts
            .iter()
            .find(|x| x["path"] == path.as_str())
            .unwrap_or_else(|| panic!("{path} not in the record"));
        assert_eq!(art["sha256"], h.as_str(), "{path}");
        assert_eq!(art["fate"], "deleted");
    }
    assert!(
        !arts
            .iter()
            .any(|x| x["path"].as_str().unwrap().contains(&b))
    );
    let copies = rec["verification"]["copies_found"].as_array().unwrap();
    assert_eq!(copies.len(), 1);
    assert!(copies[0]["path"].as_str().unwrap().ends_with("renamed.bin"));
    assert!(f.reg.join("destroyed").join(format!("{a}.md")).is_file());

    // Destroyed IDs are refused for scoring and as a teacher.
    let reg = s(&f.reg);
    for id in [&a, &c, &w] {
        let x = out.join("x.parquet");
        let args = [
            "score",
            "--model",
            id,
            "--data",
            s(&f.data),
            "--out",
            s(&x),
            "--registry",
            reg,
        ];
        refused(&args, "destroyed");
    }
    refused(
        &[
            "train",
            "--data",
            s(&f.data),
            "--teacher",
            &a,
            "--registry",
            reg,
        ],
        "destroyed",
    );
    refused(
        &with_order(&[
            "destroy",
            "--model",
            &c,
            "--registry",
            reg,
            "--runs",
            s(&runs),
        ]),
        &a,
    );

    // Idempotent: again, after the copy is removed, verification is clean.
    std::fs::remove_file(elsewhere.join("renamed.bin")).unwrap();
    let again = ok(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        reg,
        "--runs",
        s(&runs),
        "--scan",
        s(&elsewhere),
    ]));
    assert!(again.contains("no copy found"), "{again}");
    assert!(f.reg.join(&b).join("model.json").is_file());

    // A run killed after writing its record: the next run finishes the job.
    let rec_path = f.reg.join("destroyed").join(format!("{a}.json"));
    let text = std::fs::read_to_string(&rec_path).unwrap();
    std::fs::write(&rec_path, text.replace("\"complete\"", "\"in-progress\"")).unwrap();
    std::fs::write(&sa, &sa_bytes).unwrap();
    ok(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        reg,
        "--runs",
        s(&runs),
    ]));
    assert!(!sa.exists(), "the interrupted order was not finished");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rec_path).unwrap()).unwrap();
    assert_eq!(rec["status"], "complete");
}

#[test]
fn unknown_id_or_broken_lineage_deletes_nothing() {
    let f = fixture();
    let a = train(&f, &[]);
    let reg = s(&f.reg);
    let runs = f.root.join("runs");
    refused(
        &with_order(&[
            "destroy",
            "--model",
            "0123456789abcdef",
            "--registry",
            reg,
            "--runs",
            s(&runs),
        ]),
        "no model",
    );
    refused(
        &with_order(&[
            "destroy",
            "--model",
            "nothex",
            "--registry",
            reg,
            "--runs",
            s(&runs),
        ]),
        "16 hex",
    );
    assert!(f.reg.join(&a).join("model.json").is_file());
    assert!(!f.reg.join("destroyed").exists());
    // An unreadable lineage record does not block the order: it is
    // reported, the order is carried out on what can be proven, and it is
    // incomplete (exit 3).
    std::fs::create_dir_all(f.reg.join("derived")).unwrap();
    let broken = f.reg.join("derived").join("ffffffffffffffff.json");
    std::fs::write(&broken, "{ not json").unwrap();
    let o = nsfsim(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        reg,
        "--runs",
        s(&runs),
    ]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("broken lineage record") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!f.reg.join(&a).exists());
    assert!(
        broken.is_file(),
        "an unreadable record is reported, not deleted"
    );
}

#[test]
fn a_warm_start_reaches_the_same_optimum() {
    let f = fixture();
    let cold = train(&f, &["--population", "registered"]);
    let a = train(&f, &[]);
    let warm = train(&f, &["--population", "registered", "--warm-start", &a]);
    assert_ne!(cold, warm, "the lineage differs, so the ID does");
    let coef = |id: &str| -> Vec<f64> {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(f.reg.join(id).join("model.json")).unwrap(),
        )
        .unwrap();
        let mut v = vec![m["model"]["intercept"].as_f64().unwrap()];
        v.extend(
            m["model"]["coef"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap()),
        );
        v
    };
    // The fit is convex: from the parent's coefficients Newton's method
    // converges to the same optimum as from the base rate.
    for (x, y) in coef(&cold).iter().zip(coef(&warm)) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
    refused(
        &[
            "train",
            "--data",
            s(&f.data),
            "--features",
            "minimal",
            "--warm-start",
            &a,
            "--registry",
            s(&f.reg),
        ],
        "other feature columns",
    );
}

#[test]
fn a_model_trained_on_scores_tracks_its_teacher() {
    let f = fixture();
    let a = train(&f, &[]);
    let c = train(&f, &["--teacher", &a]);
    let auc = |id: &str| -> f64 {
        let e: serde_json::Value = serde_json::from_str(&ok(&[
            "evaluate",
            "--model",
            id,
            "--data",
            s(&f.data),
            "--json",
            "--registry",
            s(&f.reg),
        ]))
        .unwrap();
        e["auc"].as_f64().unwrap()
    };
    // Distilled on the same features, the student ranks users like the
    // teacher: same AUC within 0.01.
    let (ta, tc) = (auc(&a), auc(&c));
    assert!((ta - tc).abs() < 0.01, "teacher {ta} student {tc}");
    refused(
        &[
            "train",
            "--data",
            s(&f.data),
            "--teacher",
            &a,
            "--model",
            "gbdt",
            "--registry",
            s(&f.reg),
        ],
        "logistic",
    );
}

/// Issue 19: every run of an order is appended to a hash-chained log;
/// `destroy verify RECORD` finds an edited record, an edited log, a deleted
/// file that came back and a registry copy without the log (exit 3); the
/// log keeps a destroyed ID refused when its marker is deleted.
#[test]
fn a_destruction_record_can_be_verified() {
    let f = fixture();
    let a = train(&f, &[]);
    let out = f.root.join("out").join("a.parquet");
    score(&f, &a, &out);
    let saved = std::fs::read(&out).unwrap();
    let runs = f.root.join("runs");
    let reg = s(&f.reg);
    ok(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        reg,
        "--runs",
        s(&runs),
    ]));
    let rec = f.reg.join("destroyed").join(format!("{a}.json"));
    let log = f.reg.join("destroyed").join("log.jsonl");
    let verify = |path: &Path| nsfsim(&["destroy", "verify", s(path)]);
    let o = verify(&rec);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fails = |o: std::process::Output, needle: &str| {
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains(needle), "`{err}` lacks `{needle}`");
    };
    // An edited record.
    let text = std::fs::read_to_string(&rec).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let forged = text.replace(v["executed_at"].as_str().unwrap(), "2020-01-01T00:00:00Z");
    std::fs::write(&rec, forged).unwrap();
    fails(verify(&rec), "changed after");
    std::fs::write(&rec, &text).unwrap();
    // A deleted file that came back.
    std::fs::write(&out, &saved).unwrap();
    fails(verify(&rec), "is back");
    std::fs::remove_file(&out).unwrap();
    // An edited log.
    let log_text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, log_text.replace("\"complete\"", "\"incomplete\"")).unwrap();
    fails(verify(&rec), "edited");
    std::fs::write(&log, &log_text).unwrap();
    assert!(verify(&rec).status.success());
    // A copy of the registry without the log.
    let copy = f.root.join("copy");
    std::fs::create_dir_all(copy.join("destroyed")).unwrap();
    std::fs::copy(&rec, copy.join("destroyed").join(format!("{a}.json"))).unwrap();
    fails(
        verify(&copy.join("destroyed").join(format!("{a}.json"))),
        "no destruction log",
    );
    // The refusal travels with the log: marker and record deleted.
    std::fs::remove_file(&rec).unwrap();
    std::fs::remove_file(rec.with_extension("md")).unwrap();
    refused(
        &["train", "--data", s(&f.data), "--registry", reg],
        "destroyed",
    );
    assert!(!f.reg.join(&a).exists());
}

/// Regression (2026-12-04): destroy hashed a recorded file by path and then
/// unlinked (or, with `--deletion overwrite`, zeroed) whatever was at that
/// path, so a file put there in between (by rename) was deleted or zeroed
/// although its content was never checked. Now the file is moved aside
/// first and checked and deleted through one handle. Here another thread
/// renames other content over the path at a random moment while a 32 MB
/// recorded file is being checked: the other content must survive, at the
/// path, every time.
#[test]
fn a_file_replaced_while_destroy_checks_it_is_never_deleted() {
    use nsfsim::data::artifact::{FileFate, aside_path, delete_if_unchanged};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.parquet");
    let recorded = vec![7u8; 32 << 20];
    let other = b"a file put here while destroy ran".to_vec();
    let want = hex::encode(Sha256::digest(&recorded));
    for trial in 0..24u64 {
        std::fs::write(&path, &recorded).unwrap();
        let tmp = dir.path().join("other.tmp");
        std::fs::write(&tmp, &other).unwrap();
        let overwrite = trial % 2 == 1;
        let fate = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_micros(trial * 1_500));
                std::fs::rename(&tmp, &path).unwrap();
            });
            delete_if_unchanged(&path, &want, 0, overwrite).unwrap()
        });
        assert_eq!(
            std::fs::read(&path).unwrap_or_default(),
            other,
            "trial {trial} ({fate:?}, overwrite {overwrite}): the other file was deleted or zeroed"
        );
        assert!(!aside_path(&path).exists(), "trial {trial}: left aside");
        assert_ne!(fate, FileFate::AlreadyAbsent, "trial {trial}");
    }
}

/// A symbolic link in place of a recorded file is not the file: it is
/// kept and reported (it was "deleted" before, the link removed and the
/// content left at its target), and the target is not touched.
#[test]
fn a_symbolic_link_in_place_of_a_recorded_file_is_kept_not_reported_deleted() {
    use nsfsim::data::artifact::{FileFate, delete_if_unchanged};
    let dir = tempfile::tempdir().unwrap();
    let (path, target) = (dir.path().join("scores.csv"), dir.path().join("copy.csv"));
    std::fs::write(&target, b"user_id,score\n1,50\n").unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let want = sha(&target);
    for overwrite in [false, true] {
        let fate = delete_if_unchanged(&path, &want, 0, overwrite).unwrap();
        assert_eq!(fate, FileFate::ChangedKept, "overwrite {overwrite}");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"user_id,score\n1,50\n");
    }
}

/// A run killed after moving a file aside leaves it there: running the
/// order again deletes it if it is the recorded content, and otherwise
/// puts it back.
#[test]
fn a_file_left_aside_by_a_killed_destroy_is_found_again() {
    use nsfsim::data::artifact::{FileFate, aside_path, delete_if_unchanged};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let aside = aside_path(&path);
    std::fs::write(&aside, b"{\"recorded\": true}").unwrap();
    let want = sha(&aside);
    let fate = delete_if_unchanged(&path, &want, 0, false).unwrap();
    assert_eq!(fate, FileFate::Deleted);
    assert!(!aside.exists() && !path.exists());
    std::fs::write(&aside, b"{\"edited\": true}").unwrap();
    let fate = delete_if_unchanged(&path, &want, 0, true).unwrap();
    assert_eq!(fate, FileFate::ChangedKept);
    assert!(!aside.exists());
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"edited\": true}");
}

/// Found in review (2026-12-04): a run killed with a changed file moved
/// aside, then a new file put at the path. The re-run could not put the
/// changed file back (the path was taken) and then renamed the new file
/// over it, so the changed content was lost unchecked. Both must survive.
#[test]
fn a_changed_file_left_aside_is_not_replaced_by_the_file_at_its_path() {
    use nsfsim::data::artifact::{FileFate, aside_path, delete_if_unchanged};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    let aside = aside_path(&path);
    std::fs::write(&aside, b"edited").unwrap();
    std::fs::write(&path, b"new").unwrap();
    let want = hex::encode(Sha256::digest(b"recorded"));
    for overwrite in [false, true] {
        let fate = delete_if_unchanged(&path, &want, 0, overwrite).unwrap();
        assert_eq!(fate, FileFate::ChangedKept, "overwrite {overwrite}");
        assert_eq!(std::fs::read(&aside).unwrap_or_default(), b"edited");
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"new");
    }
}
