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
        nsfsim(&with_order(&args))
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
        let again = nsfsim(&with_order(&[
            "destroy",
            "--model",
            &teacher,
            "--registry",
            s(&f.reg),
            "--runs",
            s(&runs),
        ]));
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

/// Integrity: a model's ID is recomputed from its content on load; editing
/// the manifest alone, or the model file together with its recorded hash,
/// is refused.
#[test]
fn an_edited_model_or_manifest_is_refused() {
    let f = fixture(20_000);
    let a = f.train(&[]);
    let b = f.train(&["--population", "registered"]);
    let out = f.root.join("s.parquet");
    // The manifest alone.
    let ma = f.reg.join(&a).join("manifest.json");
    let mut m = json(&ma);
    m["population_rule"] = "consented".into();
    std::fs::write(&ma, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let o = f.score(&a, &out, &[]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("does not match its content"),
        "{}",
        err(&o)
    );
    // The model file and its recorded hash together.
    let fb = f.reg.join(&b).join("model.json");
    let text = std::fs::read_to_string(&fb).unwrap();
    let edited = text.replacen("0.", "1.", 1);
    std::fs::write(&fb, &edited).unwrap();
    let mb = f.reg.join(&b).join("manifest.json");
    let mut m = json(&mb);
    m["files"][0]["sha256"] = hex::encode(Sha256::digest(edited.as_bytes())).into();
    m["files"][0]["bytes"] = edited.len().into();
    std::fs::write(&mb, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let o = f.score(&b, &out, &[]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("does not match its content"),
        "{}",
        err(&o)
    );
    assert!(!out.exists());
}

/// Integrity: the data file is checked against its manifest when read; the
/// model records the hash of the file actually read.
#[test]
fn data_is_checked_against_its_manifest() {
    let f = fixture(5_000);
    let other = f.root.join("other");
    generate("small", 5_000, Some(7), &other);
    let a = f.train(&[]);
    let shown = json_of(&ok(&["models", "show", &a, "--registry", s(&f.reg)]));
    assert_eq!(
        shown["data"]["data_sha256"].as_str().unwrap(),
        sha(&f.data.join("users.parquet"))
    );
    // Same size and schema, other content.
    std::fs::copy(other.join("users.parquet"), f.data.join("users.parquet")).unwrap();
    for args in [
        vec![
            "train",
            "--data",
            s(&f.data),
            "--registry",
            s(&f.reg),
            "--seed",
            "5",
        ],
        vec![
            "evaluate",
            "--model",
            &a,
            "--data",
            s(&f.data),
            "--registry",
            s(&f.reg),
        ],
    ] {
        refused(&args, "differs from the manifest");
    }
    let o = f.score(&a, &f.root.join("x.parquet"), &[]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(err(&o).contains("users.parquet") && err(&o).contains("SHA-256"));
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// Integrity: the same model trained from `base`, `./base`, `base/` or an
/// absolute path gets one ID.
#[test]
fn one_data_set_gets_one_id_however_its_path_is_spelled() {
    let f = fixture(5_000);
    let bin = env!("CARGO_BIN_EXE_nsfsim");
    let mut ids = std::collections::BTreeSet::new();
    for spelled in ["data", "./data", "data/", s(&f.data)] {
        let o = Command::new(bin)
            .current_dir(&f.root)
            .args(["train", "--data", spelled, "--registry", "registry"])
            .env_remove("NSFSIM_REGISTRY")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", err(&o));
        ids.insert(String::from_utf8_lossy(&o.stdout).trim().to_string());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// Integrity: running an order again keeps the first run's record of what
/// it deleted and appends what it found: a deleted file that came back is
/// deleted again and said to have come back; a new `--order-ref` is
/// recorded with the rerun, not over the first.
#[test]
fn a_rerun_appends_and_keeps_the_first_record() {
    let (f, a, out) = scored_model(20_000);
    let saved = std::fs::read(&out).unwrap();
    let first = f.destroy(&a, &["--order-ref", "ORDER | 1\n# forged heading <b>"]);
    assert_eq!(code(&first), Some(0), "{}", err(&first));
    assert!(!out.exists());
    std::fs::write(&out, &saved).unwrap();
    let again = f.destroy(&a, &["--order-ref", "ORDER-2"]);
    assert_eq!(code(&again), Some(0), "{}", err(&again));
    assert!(!out.exists(), "a file that came back was not deleted");
    let rec = json(&f.reg.join("destroyed").join(format!("{a}.json")));
    assert_eq!(rec["order"]["reference"], "ORDER | 1\n# forged heading <b>");
    let outs = s(&out);
    let firsts: Vec<&serde_json::Value> = rec["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["path"] == outs)
        .collect();
    assert_eq!(firsts.len(), 1);
    assert_eq!(
        firsts[0]["fate"], "deleted",
        "the first run's entry was rewritten"
    );
    let rerun = &rec["reruns"][0];
    assert_eq!(rerun["order"]["reference"], "ORDER-2");
    let back = rerun["artifacts"].as_array().unwrap();
    assert!(
        back.iter().any(|x| x["path"] == outs
            && x["fate"] == "deleted"
            && x["derivation"].to_string().contains("came back")),
        "{back:?}"
    );
    // Free text cannot forge Markdown structure.
    let md = std::fs::read_to_string(f.reg.join("destroyed").join(format!("{a}.md"))).unwrap();
    assert!(
        md.contains("ORDER \\| 1 \\# forged heading &lt;b&gt;"),
        "{md}"
    );
    assert!(!md.lines().any(|l| l.starts_with("# forged")));
}

/// No panic: a reader that goes away (`models list | head -1`) ends the
/// command quietly; a missing registry is an error (exit 2); `--json` lists
/// manifests.
#[test]
fn models_list_is_quiet_on_a_broken_pipe_and_clear_on_a_missing_registry() {
    let f = fixture(2_000);
    let a = f.train(&[]);
    let listed = json_of(&ok(&["models", "list", "--json", "--registry", s(&f.reg)]));
    assert_eq!(listed[0]["model_id"], a.as_str());
    refused(
        &["models", "list", "--registry", s(&f.root.join("nowhere"))],
        "no registry",
    );
    let bin = env!("CARGO_BIN_EXE_nsfsim");
    for _ in 0..3 {
        let mut child = Command::new(bin)
            .args(["schema"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(!err(&o).contains("panicked"), "{}", err(&o));
    }
}

/// Bounded work: `--threads` is capped; a preset's `name` cannot escape its
/// output root; `--scan` refuses a missing folder, and neither loops on a
/// symlink cycle nor follows a link out of its roots.
#[test]
fn names_threads_and_scans_are_bounded() {
    let f = fixture(2_000);
    let bin = env!("CARGO_BIN_EXE_nsfsim");
    let preset = f.root.join("evil.toml");
    let small = ok(&["preset", "--preset", "small", "--set", "users=500"]);
    let renamed = small.replacen("name = \"small\"", "name = \"../../escape\"", 1);
    assert_ne!(renamed, small);
    std::fs::write(&preset, renamed).unwrap();
    let work = f.root.join("a").join("b");
    std::fs::create_dir_all(&work).unwrap();
    let o = Command::new(bin)
        .current_dir(&work)
        .args(["generate", "--quiet", "--preset", s(&preset)])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(err(&o).contains("`name`"), "{}", err(&o));
    assert!(!f.root.join("a").join("escape").exists());
    let o = nsfsim(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "500",
        "--quiet",
        "--threads",
        "100000",
        "--out",
        s(&f.root.join("t")),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("capped"), "{}", err(&o));

    let a = f.train(&[]);
    let o = f.destroy(&a, &["--scan", s(&f.root.join("nowhere"))]);
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--scan"), "{}", err(&o));
    assert!(
        f.reg.join(&a).join("model.json").is_file(),
        "a refused order deleted something"
    );
    // A scan root with a link cycle and a link to a copy outside the roots.
    let out = f.root.join("out").join("a.parquet");
    assert!(f.score(&a, &out, &[]).status.success());
    let outside = f.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(&out, outside.join("copy.bin")).unwrap();
    let scan = f.root.join("scan");
    std::fs::create_dir_all(&scan).unwrap();
    std::os::unix::fs::symlink(&scan, scan.join("loop")).unwrap();
    std::os::unix::fs::symlink(&outside, scan.join("link")).unwrap();
    let o = f.destroy(&a, &["--scan", s(&scan)]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    assert!(outside.join("copy.bin").is_file());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Integrity: lineage records store paths relative to the registry, so a
/// registry copied alone does not name (or delete) the original's files,
/// and a registry moved together with its outputs keeps working.
#[test]
fn a_copied_registry_does_not_reach_the_originals_files() {
    let f = fixture(5_000);
    let a = f.train(&[]);
    let out = f.root.join("out").join("a.parquet");
    assert!(f.score(&a, &out, &[]).status.success());
    let copy = f.root.join("elsewhere").join("registry");
    copy_dir(&f.reg, &copy);
    let runs = f.root.join("runs");
    let dry = ok(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--dry-run",
        "--registry",
        s(&copy),
        "--runs",
        s(&runs),
    ]));
    assert!(!dry.contains(s(&out)), "{dry}");
    let o = nsfsim(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        s(&copy),
        "--runs",
        s(&runs),
    ]));
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    assert!(
        out.is_file(),
        "an order on a copy deleted the original's file"
    );
    // Moved together with its outputs: still found.
    let moved = f.root.join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(&f.reg, moved.join("registry")).unwrap();
    std::fs::rename(f.root.join("out"), moved.join("out")).unwrap();
    let o = nsfsim(&with_order(&[
        "destroy",
        "--model",
        &a,
        "--registry",
        s(&moved.join("registry")),
        "--runs",
        s(&runs),
    ]));
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    assert!(!moved.join("out").join("a.parquet").exists());
}

/// One line on stderr, exit 2, naming `needle` (the field and the value).
fn refused_in_one_line(args: &[&str], needle: &str) {
    let o = nsfsim(args);
    let e = err(&o);
    assert_eq!(code(&o), Some(2), "{args:?}: {e}");
    assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
    assert!(
        e.contains(needle) && !e.contains("panicked"),
        "{args:?}: `{e}` lacks `{needle}`"
    );
}

/// Impossible dates and extreme calibration values (a preset through
/// `--set`, a spec field, a spec's `preset_overrides`) are refused before
/// anything runs: one line naming the field and the value given, exit 2.
#[test]
fn impossible_dates_and_extreme_values_are_refused_naming_field_and_value() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    for (set, needle) in [
        (
            "population.as_of=\"2024-02-30\"",
            "`population.as_of`: `2024-02-30` is not a date YYYY-MM-DD: month 2 of 2024 has 29 days",
        ),
        (
            "population.launch_date=\"2020-01-01\"",
            "`population.as_of`: 2019-06-27 is not after population.launch_date 2020-01-01",
        ),
        (
            "consent.strength=1e308",
            "`consent.strength`: 1e308 is outside the valid range [-10, 10]",
        ),
        (
            "consent.rate=nan",
            "`consent.rate`: NaN is outside the valid range [0, 1]",
        ),
        (
            "wallet.topup_median_30d=-2",
            "`wallet.topup_median_30d`: -2 is outside the valid range (0, 300]",
        ),
        ("users=-5", "--set `users=-5`"),
    ] {
        refused_in_one_line(&["preset", "--preset", "small", "--set", set], needle);
        refused_in_one_line(
            &[
                "generate",
                "--preset",
                "small",
                "--set",
                set,
                "--out",
                s(&out),
                "--quiet",
            ],
            needle,
        );
        assert!(!out.exists(), "{set}");
    }
    for (set, needle) in [
        (
            "policy.loss_per_failed_charge_krw=-7000",
            "`policy.loss_per_failed_charge_krw`: -7000 is outside the valid range [0, 1000000000]",
        ),
        ("min_subgroup_nsf=nan", "`min_subgroup_nsf`: NaN is outside"),
        (
            "preset_overrides=[\"consent.strength=1e308\"]",
            "`consent.strength`: 1e308 is outside",
        ),
    ] {
        let runs = tmp.path().join("runs");
        refused_in_one_line(
            &[
                "compare",
                "--set",
                set,
                "--out",
                s(&runs.join("x")),
                "--quiet",
            ],
            needle,
        );
        assert!(!runs.exists(), "{set}");
    }
}

/// An I/O failure is reported once: one line, exit 1, the OS error named
/// once (it was printed twice, as the message and again as its source).
#[test]
fn an_io_failure_names_its_os_error_once() {
    let f = fixture(2_000);
    let file = f.data.join("users.parquet");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let o = nsfsim(&["train", "--data", s(&f.data), "--registry", s(&f.reg)]);
    assert_eq!(code(&o), Some(1), "{}", err(&o));
    assert_eq!(
        err(&o),
        format!("error: {}: Is a directory (os error 21)\n", file.display())
    );
}

/// The audit's second read of the data set (the identifier columns, for
/// attribute inference) is checked like the first: a data set whose
/// `account_id` is stored as text (its manifest updated to match, so the
/// model trains on it) is refused naming the column, not a panic.
#[test]
fn the_audits_second_read_is_validated() {
    use arrow_array::{ArrayRef, RecordBatch, StringArray, cast::AsArray, types::UInt64Type};
    use parquet::arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder};
    use std::sync::Arc;
    let f = fixture(3_000);
    let file = f.data.join("users.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let retyped: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let k = b.schema().index_of("account_id").unwrap();
            let text: StringArray = b
                .column(k)
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .map(|v| Some(v.to_string()))
                .collect();
            let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
            fields[k] = Arc::new(arrow_schema::Field::new(
                "account_id",
                arrow_schema::DataType::Utf8,
                false,
            ));
            let mut cols: Vec<ArrayRef> = b.columns().to_vec();
            cols[k] = Arc::new(text);
            RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap()
        })
        .collect();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&file).unwrap(),
        retyped[0].schema(),
        None,
    )
    .unwrap();
    for b in &retyped {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let mpath = f.data.join("manifest.json");
    let mut m = json(&mpath);
    m["files"][0]["sha256"] = sha(&file).into();
    m["files"][0]["bytes"] = std::fs::metadata(&file).unwrap().len().into();
    std::fs::write(&mpath, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    // The model's attributes do not include the identifiers: it trains.
    let id2 = f.train(&[]);
    let out = f.root.join("runs").join("audit");
    let o = nsfsim(&[
        "audit",
        "--model",
        &id2,
        "--data",
        s(&f.data),
        "--registry",
        s(&f.reg),
        "--out",
        s(&out),
        "--eval-users",
        "200",
        "--shadows",
        "4",
        "--bootstrap",
        "20",
        "--control-users",
        "300",
        "--attribute-users",
        "1000",
        "--quiet",
    ]);
    let e = err(&o);
    assert_eq!(code(&o), Some(2), "{e}");
    assert!(
        e.contains("users.parquet") && e.contains("column `account_id` has type Utf8"),
        "{e}"
    );
    assert!(!e.contains("panicked") && !out.exists(), "{e}");
}

#[path = "../fuzz/entry.rs"]
mod fuzz_entry;

/// Every checked-in fuzz input (the seed corpus and each input that once
/// made a target fail, `fuzz/regressions/`) still runs through the fuzz
/// targets' entry points (`fuzz/entry.rs`) without a panic, on stable.
#[test]
fn fuzzed_inputs_stay_fixed() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    type Entry = fn(&[u8]);
    let targets: [(&str, Entry); 2] = [
        ("toml_config", fuzz_entry::toml_config),
        ("parquet_data", fuzz_entry::parquet_data),
    ];
    let mut inputs = 0;
    for (target, entry) in targets {
        for dir in [
            fuzz.join("corpus").join(target),
            fuzz.join("regressions").join(target),
        ] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    dir.ends_with(target)
                        && (n.starts_with("seed-") || dir.starts_with(fuzz.join("regressions")))
                })
                .collect();
            files.sort();
            for p in files {
                entry(&std::fs::read(&p).unwrap());
                inputs += 1;
            }
        }
    }
    // The Parquet seeds are generated data, so git does not track them:
    // make a 400-user data set and a score file here and replay them too.
    let tmp = tempfile::tempdir().unwrap();
    let (users, scores) = small_scored_data(tmp.path());
    for p in [users, scores] {
        fuzz_entry::parquet_data(&std::fs::read(&p).unwrap());
        inputs += 1;
    }
    assert!(inputs >= 4, "only {inputs} fuzz inputs found");
}

/// Regression (2026-12-04): `train::load_data` parsed `manifest.json`,
/// read the data, then read the manifest again to record its SHA-256, so a
/// manifest replaced in between was recorded in place of the one parsed.
/// Now the digest is of the bytes parsed. A thread keeps swapping the
/// manifest between two that differ only in the data set's seed; every
/// load records the digest of the manifest whose seed it used.
#[test]
fn a_manifest_swapped_while_loading_is_recorded_by_the_digest_it_was_parsed_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pop");
    generate("small", 2_000, Some(11), &data);
    let path = data.join("manifest.json");
    let a = std::fs::read(&path).unwrap();
    let text = String::from_utf8(a.clone()).unwrap();
    assert!(text.contains("\n  \"seed\": 11,"), "the data set's seed");
    let b = text
        .replacen("\n  \"seed\": 11,", "\n  \"seed\": 12,", 1)
        .into_bytes();
    let digest = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let (sha_a, sha_b) = (digest(&a), digest(&b));
    let attrs = vec!["balance_krw".to_string()];
    let (read, refused) = while_swapped(&path, &a, &b, 300, || {
        nsfsim::models::train::load_data(&data, &attrs).map(|d| {
            let want = if d.data_ref.seed == 11 {
                &sha_a
            } else {
                &sha_b
            };
            assert_eq!(
                &d.data_ref.manifest_sha256, want,
                "another manifest's digest"
            );
        })
    });
    assert!(read > 0, "{read} read, {refused} refused");
}

/// A fixture of `users`, a model trained on it and its scores at
/// `out/a.parquet`.
fn scored_model(users: u64) -> (Fixture, String, PathBuf) {
    let f = fixture(users);
    let a = f.train(&[]);
    let out = f.root.join("out").join("a.parquet");
    assert!(f.score(&a, &out, &[]).status.success());
    (f, a, out)
}

fn record_of(f: &Fixture, id: &str) -> serde_json::Value {
    json(&f.reg.join("destroyed").join(format!("{id}.json")))
}

fn verify_code(f: &Fixture, id: &str) -> Option<i32> {
    let rec = f.reg.join("destroyed").join(format!("{id}.json"));
    code(&nsfsim(&["destroy", "verify", s(&rec)]))
}

/// Regression (2026-12-04, adversarial pass V1): a run killed after
/// deleting a file leaves the re-run finding it gone, recorded
/// `already-absent`; re-runs and `destroy verify` re-checked only `deleted`
/// files, so the file restored from a backup passed both. The same state
/// without a kill: the file is gone before the order runs. A restored copy
/// must now fail verify and be deleted by the re-run.
#[test]
fn a_file_found_already_absent_that_comes_back_fails_verify_and_is_deleted() {
    let (f, a, out) = scored_model(3_000);
    let backup = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert_eq!(code(&f.destroy(&a, &[])), Some(0));
    let fates: Vec<String> = record_of(&f, &a)["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["path"].as_str().unwrap().ends_with("a.parquet"))
        .map(|x| x["fate"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fates, ["already-absent"]);
    std::fs::write(&out, &backup).unwrap();
    assert_eq!(
        verify_code(&f, &a),
        Some(3),
        "the restored file passed verify"
    );
    let again = f.destroy(&a, &[]);
    assert!(
        !out.exists(),
        "the re-run left the restored file: {}",
        err(&again)
    );
}

/// Regression (2026-12-04, V2): two runs of one order at once interleaved;
/// the second rewrote the first's record with every file
/// `already-absent` and no re-run entry, so no run was recorded as having
/// deleted anything. Now a run holds `.destroy.lock` to its end: the first
/// record names the deletions, the second run appends as a re-run.
#[test]
fn two_runs_of_one_order_at_once_record_one_deletion() {
    for _ in 0..3 {
        let (f, a, out) = scored_model(3_000);
        let (x, y) = std::thread::scope(|s| {
            let x = s.spawn(|| f.destroy(&a, &["--operator", "first"]));
            let y = s.spawn(|| f.destroy(&a, &["--operator", "second"]));
            (x.join().unwrap(), y.join().unwrap())
        });
        assert_eq!(
            (code(&x), code(&y)),
            (Some(0), Some(0)),
            "{}{}",
            err(&x),
            err(&y)
        );
        let rec = record_of(&f, &a);
        let deleted = rec["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["path"].as_str().unwrap().ends_with("a.parquet"))
            .all(|x| x["fate"] == "deleted");
        assert!(deleted, "the record says no run deleted a.parquet: {rec}");
        assert!(!out.exists());
    }
}

/// Regression (2026-12-04, V4 and V5): `--data-disposition destroy`
/// deleted every file the data set's manifest listed as it is now, `../`
/// and absolute names included, so an edited manifest could delete another
/// model's registry files or any file; and a data set recorded by a
/// relative path was looked up from destroy's own folder. Now the manifest
/// must be the one the models were trained on, names must be plain file
/// names, and the path is recorded absolute.
#[test]
fn an_edited_data_manifest_deletes_nothing_outside_the_data_set() {
    let f = fixture(3_000);
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .current_dir(&f.root)
        .args([
            "train",
            "--data",
            "data",
            "--registry",
            "registry",
            "--quiet",
        ])
        .env_remove("NSFSIM_REGISTRY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    let a = String::from_utf8_lossy(&o.stdout)
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let recorded = json(&f.reg.join(&a).join("manifest.json"))["data"]["dir"].clone();
    assert_eq!(
        recorded,
        s(&f.data),
        "the data set's path is recorded absolute"
    );
    let victim = f.root.join("victim.txt");
    std::fs::write(&victim, "unrelated").unwrap();
    let manifest = f.data.join("manifest.json");
    let mut m = json(&manifest);
    m["files"].as_array_mut().unwrap().push(serde_json::json!({
        "name": "../victim.txt", "rows": 0, "bytes": 9, "sha256": sha(&victim),
    }));
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let o = f.destroy(
        &a,
        &["--data-disposition", "destroy", "--reason", "ordered"],
    );
    assert_eq!(code(&o), Some(3), "{}", err(&o));
    assert!(victim.exists(), "a file outside the data set was deleted");
    assert!(
        f.data.join("users.parquet").exists(),
        "an edited manifest was trusted"
    );
    let why = record_of(&f, &a)["incomplete_reasons"].to_string();
    assert!(
        why.contains("not the one the models were trained on"),
        "{why}"
    );
}
