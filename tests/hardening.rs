//! Regression tests for issue 11: a destruction order that holds under
//! races, crashes and tampering; no panic, no silent overwrite. Each test is
//! named after the failure it keeps fixed and drives the real binary.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn sha(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    reg: PathBuf,
}

fn fixture(users: u64) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let data = root.join("data");
    generate("small", users, None, &data);
    Fixture {
        reg: root.join("registry"),
        root,
        data,
        _tmp: tmp,
    }
}

impl Fixture {
    fn train(&self, extra: &[&str]) -> String {
        train_id(&self.data, &self.reg, extra)
    }

    fn score(&self, id: &str, out: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "score",
            "--model",
            id,
            "--data",
            s(&self.data),
            "--out",
            s(out),
            "--registry",
            s(&self.reg),
        ];
        args.extend_from_slice(extra);
        nsfsim(&args)
    }

    fn destroy(&self, id: &str, extra: &[&str]) -> Output {
        let runs = self.root.join("runs");
        let mut args = vec![
            "destroy",
            "--model",
            id,
            "--registry",
            s(&self.reg),
            "--runs",
            s(&runs),
        ];
        args.extend_from_slice(extra);
        nsfsim(&args)
    }

    /// Writes a lineage record by hand (as an attacker or a bug would).
    fn forge_record(&self, id: &str, kind: &str, paths: &[String], parents: &[&str]) {
        let files: Vec<serde_json::Value> = paths
            .iter()
            .map(|p| {
                let p = Path::new(p);
                serde_json::json!({
                    "name": "x", "rows": 0,
                    "bytes": std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                    "sha256": if p.is_file() { sha(p) } else { String::new() },
                })
            })
            .collect();
        let rec = serde_json::json!({
            "artifact_id": id, "kind": kind, "status": "complete",
            "paths": paths, "files": files, "parents": parents,
        });
        let dir = self.reg.join("derived");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_string(&rec).unwrap(),
        )
        .unwrap();
    }
}

/// Severe 1: an edited lineage record naming files outside the order's
/// reach (a data set, a file reached through `..`, another model's registry
/// files, a file whose own metadata names another model) with their right
/// SHA-256 is reported as suspicious; none of those files is deleted, while
/// the genuine derived file is.
#[test]
fn destroy_deletes_only_what_names_the_ordered_model() {
    let f = fixture(20_000);
    let a = f.train(&[]);
    let b = f.train(&["--population", "registered"]);
    let out = f.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    assert!(f.score(&a, &out.join("a.parquet"), &[]).status.success());
    assert!(f.score(&b, &out.join("b.parquet"), &[]).status.success());
    let victim = f.root.join("victim.txt");
    std::fs::write(&victim, "not nsfsim's").unwrap();
    let data_file = f.data.join("users.parquet");
    let dotdot = format!("{}/runs/../../{}", f.root.display(), "victim.txt");
    let forged: Vec<(&str, &str, Vec<String>)> = vec![
        ("aaaaaaaaaaaaaaa1", "scores", vec![s(&data_file).into()]),
        ("aaaaaaaaaaaaaaa2", "scores", vec![dotdot]),
        ("aaaaaaaaaaaaaaa3", "scores", vec![s(&victim).into()]),
        (
            "aaaaaaaaaaaaaaa4",
            "scores",
            vec![s(&f.reg.join(&b).join("model.json")).into()],
        ),
        (
            "aaaaaaaaaaaaaaa5",
            "scores",
            vec![s(&out.join("b.parquet")).into()],
        ),
        (
            "aaaaaaaaaaaaaaa6",
            "run",
            vec![s(&f.data.join("manifest.json")).into()],
        ),
    ];
    for (id, kind, paths) in &forged {
        f.forge_record(id, kind, paths, &[&a]);
    }
    let keep = [
        data_file.clone(),
        f.data.join("manifest.json"),
        victim.clone(),
        f.reg.join(&b).join("model.json"),
        out.join("b.parquet"),
    ];
    let before: Vec<String> = keep.iter().map(|p| sha(p)).collect();
    let o = f.destroy(&a, &[]);
    assert_eq!(code(&o), Some(3), "{}", err(&o));
    for (p, h) in keep.iter().zip(&before) {
        assert!(p.is_file(), "{} was deleted", p.display());
        assert_eq!(&sha(p), h);
    }
    assert!(
        !out.join("a.parquet").exists(),
        "the genuine score file survived"
    );
    let rec = json(&f.reg.join("destroyed").join(format!("{a}.json")));
    assert_eq!(rec["status"], "incomplete");
    let sus = rec["suspicious"].as_array().unwrap();
    assert_eq!(sus.len(), forged.len(), "{sus:?}");
    for (id, _, _) in &forged {
        assert!(
            f.reg.join("derived").join(format!("{id}.json")).is_file(),
            "a suspicious record's own file is left alone"
        );
    }
    // B still scores: nothing of it was touched.
    assert!(f.score(&b, &out.join("b2.parquet"), &[]).status.success());
}

/// Severe 2 (and the concurrency test): `train --teacher A` racing
/// `destroy --model A` many times. Afterwards no registered model has a
/// destroyed parent, and running the order again finds nothing new.
#[test]
fn a_student_trained_during_destroy_cannot_escape() {
    let f = fixture(20_000);
    let bin = env!("CARGO_BIN_EXE_nsfsim");
    let runs = f.root.join("runs");
    let mut outcomes = std::collections::BTreeSet::new();
    for i in 0..8u64 {
        let seed = (100 + i).to_string();
        let teacher = f.train(&["--seed", &seed]);
        let student = Command::new(bin)
            .args(["train", "--data", s(&f.data), "--registry", s(&f.reg)])
            .args(["--teacher", &teacher, "--seed", &seed])
            .env_remove("NSFSIM_REGISTRY")
            .output_async();
        // Destroy at different moments of the student's run: before it
        // loads the teacher, while it fits, after it registered.
        // The last round lets the student finish first (registered, then
        // destroyed with its teacher), so both outcomes are always seen.
        let delay = [0, 10, 30, 60, 100, 150, 250, 0][i as usize];
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let (d, st) = if i == 7 {
            let st = student.wait_with_output().unwrap();
            (f.destroy(&teacher, &[]), st)
        } else {
            let d = f.destroy(&teacher, &[]);
            (d, student.wait_with_output().unwrap())
        };
        assert!(code(&d) == Some(0), "{}", err(&d));
        assert!(!err(&st).contains("panicked"), "{}", err(&st));
        let line = err(&st).lines().last().unwrap_or("").to_string();
        eprintln!("round {i}: student exit {:?}: {line}", code(&st));
        outcomes.insert(match code(&st) {
            Some(0) => "registered",
            _ if line.contains("parent model") => "refused at registration",
            _ => "refused at start",
        });
        // The student either was refused or registered before the closure
        // and destroyed with it.
        for e in std::fs::read_dir(&f.reg).unwrap().flatten() {
            let m = e.path().join("manifest.json");
            if !m.is_file() {
                continue;
            }
            for p in json(&m)["parents"].as_array().unwrap() {
                let p = p.as_str().unwrap();
                assert!(
                    !f.reg.join("destroyed").join(format!("{p}.json")).exists(),
                    "round {i}: model {} survives with destroyed parent {p}",
                    e.file_name().to_string_lossy()
                );
            }
        }
        let again = nsfsim(&[
            "destroy",
            "--model",
            &teacher,
            "--registry",
            s(&f.reg),
            "--runs",
            s(&runs),
        ]);
        assert_eq!(code(&again), Some(0), "{}", err(&again));
        let out = String::from_utf8_lossy(&again.stdout);
        assert!(out.contains("0 files deleted"), "round {i}: {out}");
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(
        outcomes.len() >= 2,
        "the race was not exercised: {outcomes:?}"
    );
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Severe 3: training the same model again after it was destroyed is
/// refused before anything is written into the registry.
#[test]
fn a_destroyed_model_is_not_written_back() {
    let f = fixture(20_000);
    let a = f.train(&[]);
    assert!(f.destroy(&a, &[]).status.success());
    assert!(!f.reg.join(&a).exists());
    refused(
        &["train", "--data", s(&f.data), "--registry", s(&f.reg)],
        "destroyed",
    );
    assert!(!f.reg.join(&a).exists(), "the destroyed model came back");
    let staging = std::fs::read_dir(&f.reg)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&a))
        .count();
    assert_eq!(staging, 0, "nothing of the model was written");
}

/// Severe 4: the lineage record is written before the output is published.
/// A registry where no record can be written gets no output at all; an
/// output whose record is still `pending` (a kill between publishing and
/// completing) is found and deleted by the order.
#[test]
fn derived_output_is_recorded_before_it_is_published() {
    let f = fixture(20_000);
    let a = f.train(&[]);
    // `derived` is a file: no record can be written there.
    std::fs::write(f.reg.join("derived"), "").unwrap();
    let out = f.root.join("out").join("a.parquet");
    let o = f.score(&a, &out, &[]);
    assert_ne!(code(&o), Some(0));
    assert!(!err(&o).contains("panicked"), "{}", err(&o));
    assert!(!out.exists(), "output published without a lineage record");
    std::fs::remove_file(f.reg.join("derived")).unwrap();
    // Published, then killed before the record was completed.
    assert!(f.score(&a, &out, &[]).status.success());
    let rec_path = std::fs::read_dir(f.reg.join("derived"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut rec = json(&rec_path);
    assert_eq!(rec["status"], "complete");
    rec["status"] = "pending".into();
    rec["files"] = serde_json::json!([]);
    rec["paths"] = serde_json::json!([s(&out), format!("{}.manifest.json", s(&out))]);
    std::fs::write(&rec_path, rec.to_string()).unwrap();
    let o = f.destroy(&a, &[]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    assert!(
        !out.exists(),
        "a pending record's output survived the order"
    );
    assert!(!Path::new(&format!("{}.manifest.json", s(&out))).exists());
}

/// Severe 5: a data set whose held-out registered users have one class (or
/// none) is refused before training; a manifest with unreadable metrics
/// (written by an older version) does not block orders on other models;
/// AUC of a NaN score does not hang.
#[test]
fn a_degenerate_model_cannot_poison_the_registry() {
    let f = fixture(20_000);
    let degenerate = f.root.join("degenerate");
    ok(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "3000",
        "--set",
        "registration.share=0",
        "--set",
        "registration.android_rate=0",
        "--quiet",
        "--out",
        s(&degenerate),
    ]);
    refused(
        &["train", "--data", s(&degenerate), "--registry", s(&f.reg)],
        "held-out registered users",
    );
    assert!(!f.reg.exists() || std::fs::read_dir(&f.reg).unwrap().count() <= 1);
    let a = f.train(&[]);
    let b = f.train(&["--population", "registered"]);
    // B's manifest as an older version wrote it for a degenerate model.
    let mb = f.reg.join(&b).join("manifest.json");
    let mut m = json(&mb);
    m["metrics"]["auc"] = serde_json::Value::Null;
    std::fs::write(&mb, m.to_string()).unwrap();
    let o = f.destroy(&a, &[]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    assert!(!f.reg.join(&a).exists());
    // Loading B says what is wrong instead of panicking.
    refused(&["models", "show", &b, "--registry", s(&f.reg)], "manifest");
    // metrics::auc on NaN scores returns instead of looping.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (score, label) = ([0.1, f64::NAN, 0.3, f64::NAN], [true, false, true, false]);
        let v = nsfsim::stats::metrics::auc(&score, &label)
            + nsfsim::stats::metrics::ks(&score, &label);
        tx.send(v).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("auc or ks hangs on NaN");
}

/// Severe 6: `score --out` never overwrites silently: an existing file
/// needs `--force`, and nothing is written inside the registry or a data set
/// (a model file, the data being scored, a destruction record).
#[test]
fn score_never_overwrites_silently() {
    let f = fixture(20_000);
    let a = f.train(&[]);
    let existing = f.root.join("existing.parquet");
    std::fs::write(&existing, "keep me").unwrap();
    let o = f.score(&a, &existing, &[]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--force"), "{}", err(&o));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    assert!(f.score(&a, &existing, &["--force"]).status.success());
    assert_ne!(std::fs::read(&existing).unwrap(), b"keep me");
    let model_json = f.reg.join(&a).join("model.json");
    let data_file = f.data.join("users.parquet");
    let new_in_data = f.data.join("scores.parquet");
    let before = (sha(&model_json), sha(&data_file));
    for target in [&model_json, &data_file, &new_in_data] {
        let o = f.score(&a, target, &["--force"]);
        assert_eq!(code(&o), Some(2), "{}: {}", target.display(), err(&o));
        assert!(err(&o).contains("refusing"), "{}", err(&o));
    }
    assert_eq!((sha(&model_json), sha(&data_file)), before);
    assert!(!new_in_data.exists());
}

/// Severe 7: outputs are recognized by content (kind and version in the
/// manifest, and only files it lists), and `compare`/`audit` follow the
/// same `--force` rule as `generate`.
#[test]
fn only_an_nsfsim_output_of_the_same_kind_is_replaced() {
    let f = fixture(2_000);
    let a = f.train(&[]);
    // Any folder with a file called manifest.json.
    let fake = f.root.join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("manifest.json"), "{}").unwrap();
    std::fs::write(fake.join("thesis.tex"), "years of work").unwrap();
    // A data set with a file its manifest does not list.
    std::fs::write(f.data.join("notes.txt"), "mine").unwrap();
    for (out, needle) in [(&fake, "not an nsfsim"), (&f.data, "notes.txt")] {
        refused(
            &[
                "generate",
                "--preset",
                "small",
                "--users",
                "500",
                "--quiet",
                "--force",
                "--out",
                s(out),
            ],
            needle,
        );
    }
    assert!(fake.join("thesis.tex").is_file() && f.data.join("notes.txt").is_file());
    std::fs::remove_file(f.data.join("notes.txt")).unwrap();
    let reg = s(&f.reg);
    let model_dir = f.reg.join(&a);
    for out in [&f.data, &model_dir, &fake] {
        for force in [false, true] {
            let mut compare = vec!["compare", "--spec", "default", "--quiet"];
            let mut audit = vec!["audit", "--model", &a, "--data", s(&f.data), "--quiet"];
            for args in [&mut compare, &mut audit] {
                args.extend(["--registry", reg, "--out", s(out)]);
                if force {
                    args.push("--force");
                }
                let o = nsfsim(args);
                assert_eq!(code(&o), Some(2), "{args:?}: {}", err(&o));
                assert!(err(&o).contains(if force { "refusing" } else { "--force" }));
            }
        }
    }
    assert!(f.data.join("users.parquet").is_file() && model_dir.join("model.json").is_file());
    assert!(fake.join("thesis.tex").is_file());
    // An earlier nsfsim data set is still replaced by generate --force.
    ok(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "500",
        "--quiet",
        "--force",
        "--out",
        s(&f.data),
    ]);
}
