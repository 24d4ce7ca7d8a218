//! Fault injection (needs `--features fault-injection`; .ci/run runs it):
//! the binary is killed (abort) at each publish step of `train --teacher`,
//! `score` and `destroy` in turn, and after every kill running the order
//! again must leave no artifact of the model anywhere the lineage can reach:
//! no registry folder, no staging folder, no score file or manifest, no
//! lineage record that still names it as live.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], fault_after: Option<u64>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nsfsim"));
    c.args(args).env_remove("NSFSIM_REGISTRY");
    match fault_after {
        Some(k) => c.env("NSFSIM_FAULT_AFTER", k.to_string()),
        None => c.env_remove("NSFSIM_FAULT_AFTER"),
    };
    c.output().unwrap()
}

fn killed(o: &Output) -> bool {
    String::from_utf8_lossy(&o.stderr).contains("fault injected")
}

/// Every file and folder under `dir` (symlinks not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            out.push(e.path());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// Nothing of the destroyed models is left under `root`, except the
/// destruction records and the data set.
fn assert_nothing_left(root: &Path, reg: &Path, ids: &[&str], step: &str) {
    for p in walk(root) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.starts_with(reg.join("destroyed")) || p.starts_with(root.join("data")) {
            continue;
        }
        assert!(
            !name.contains(".partial-"),
            "{step}: staging left: {}",
            p.display()
        );
        assert!(
            !name.ends_with(".parquet"),
            "{step}: score file left: {}",
            p.display()
        );
        assert!(!name.ends_with(".manifest.json"), "{step}: {}", p.display());
        for id in ids {
            assert!(!name.contains(id), "{step}: {} left", p.display());
        }
        if p.is_file() && p.starts_with(reg.join("derived")) {
            let text = std::fs::read_to_string(&p).unwrap();
            for id in ids {
                assert!(
                    !text.contains(id),
                    "{step}: lineage record {} left",
                    p.display()
                );
            }
        }
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let data = root.join("data");
    generate("small", 5_000, None, &data);
    let reg = root.join("registry");
    (tmp, root, data, reg)
}

/// Kills `train --teacher`, then `score`, at each of their publish steps;
/// the order on the teacher then removes every trace.
#[test]
fn a_kill_at_any_publish_step_leaves_nothing_the_order_misses() {
    let (_tmp, root, data, reg) = setup();
    let reg_s = s(&reg).to_string();
    let mut seen_steps = 0;
    for (what, k) in (1..=8u64)
        .map(|k| ("train", k))
        .chain((1..=8u64).map(|k| ("score", k)))
    {
        let seed = format!("{}", k + if what == "score" { 100 } else { 0 });
        let a = train_id(&data, &reg, &["--seed", &seed]);
        let out = root.join("out").join("a.parquet");
        let o = match what {
            "train" => run(
                &[
                    "train",
                    "--data",
                    s(&data),
                    "--registry",
                    &reg_s,
                    "--teacher",
                    &a,
                ],
                Some(k),
            ),
            _ => run(
                &[
                    "score",
                    "--model",
                    &a,
                    "--data",
                    s(&data),
                    "--out",
                    s(&out),
                    "--registry",
                    &reg_s,
                ],
                Some(k),
            ),
        };
        if !killed(&o) {
            assert!(
                o.status.success(),
                "{what} {k}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            // Past the last step: the command ran to the end.
        } else {
            seen_steps += 1;
        }
        let d = run(
            &with_order(&[
                "destroy",
                "--model",
                &a,
                "--registry",
                &reg_s,
                "--runs",
                s(&root.join("runs")),
            ]),
            None,
        );
        assert_eq!(
            d.status.code(),
            Some(0),
            "{what} {k}: {}",
            String::from_utf8_lossy(&d.stderr)
        );
        let step = format!("{what} killed at step {k}");
        assert_nothing_left(&root, &reg, &[&a], &step);
    }
    assert!(seen_steps >= 6, "only {seen_steps} kills happened");
}

/// Kills `destroy` itself at each of its steps; running it again finishes
/// the order.
#[test]
fn a_destroy_killed_at_any_step_is_finished_by_the_next_run() {
    let (_tmp, root, data, reg) = setup();
    let reg_s = s(&reg).to_string();
    let runs = root.join("runs");
    for k in 1..=6u64 {
        let seed = format!("{k}");
        let a = train_id(&data, &reg, &["--seed", &seed]);
        let c = train_id(&data, &reg, &["--seed", &seed, "--teacher", &a]);
        let out = root.join("out").join("c.parquet");
        ok(&[
            "score",
            "--model",
            &c,
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--registry",
            &reg_s,
        ]);
        let args = with_order(&[
            "destroy",
            "--model",
            &a,
            "--registry",
            &reg_s,
            "--runs",
            s(&runs),
        ]);
        let first = run(&args, Some(k));
        let again = run(&args, None);
        assert_eq!(
            again.status.code(),
            Some(0),
            "killed: {}; {}",
            killed(&first),
            String::from_utf8_lossy(&again.stderr)
        );
        assert_nothing_left(
            &root,
            &reg,
            &[&a, &c],
            &format!("destroy killed at step {k}"),
        );
    }
}

/// The models registered in `reg` (folders named by a 16-hex-digit ID).
fn registered(reg: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(reg)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    ids.sort();
    ids
}

/// Nothing half-written looks complete: the output folder, if it is in
/// place, has its manifest, every file the manifest lists, and a lineage
/// record (pending or complete) in the registry that names it.
fn assert_nothing_half_written(out: &Path, reg: &Path, step: &str) {
    if !out.exists() {
        return;
    }
    let text = std::fs::read_to_string(out.join("manifest.json"))
        .unwrap_or_else(|_| panic!("{step}: {} in place without a manifest", out.display()));
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    for f in m["files"].as_array().unwrap() {
        let name = f.as_str().or_else(|| f["name"].as_str()).unwrap();
        assert!(
            out.join(name).exists(),
            "{step}: {name} missing from a published output"
        );
    }
    let out_name = out.file_name().unwrap().to_string_lossy().to_string();
    let recorded = walk(&reg.join("derived")).iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|t| {
            let r: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
            r["paths"].as_array().into_iter().flatten().any(|x| {
                // The folder while pending, its files once complete.
                x.as_str()
                    .is_some_and(|x| x.split('/').any(|c| c == out_name))
            })
        })
    });
    assert!(
        recorded,
        "{step}: {} published without a lineage record",
        out.display()
    );
}

/// Runs the order on every model registered in `reg`, then checks that
/// nothing of them is left; staging folders of the killed run may remain
/// only if they hold no file naming a model, and the next run of the same
/// command removes them.
fn order_everything(root: &Path, reg: &Path, ids: &[String], step: &str) {
    for id in ids {
        let d = run(
            &with_order(&[
                "destroy",
                "--model",
                id,
                "--registry",
                s(reg),
                "--runs",
                s(&root.join("runs")),
            ]),
            None,
        );
        assert_eq!(
            d.status.code(),
            Some(0),
            "{step}: destroy {id}: {}",
            String::from_utf8_lossy(&d.stderr)
        );
    }
    for p in walk(root) {
        if p.starts_with(reg.join("destroyed")) || p.starts_with(root.join("data")) {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        // A killed run's staging folder may stay (named after the model
        // for an audit) while it holds nothing that names a model.
        let staging = p.is_dir() && name.contains(".partial-");
        for id in ids {
            assert!(
                staging || !name.contains(id.as_str()),
                "{step}: {} left",
                p.display()
            );
            if p.is_file() {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string();
                assert!(
                    !text.contains(id.as_str()),
                    "{step}: {} still names {id}",
                    p.display()
                );
            }
        }
        assert!(
            !(name.ends_with(".md") || name.ends_with(".svg")) || name.contains(".partial-"),
            "{step}: {} left",
            p.display()
        );
    }
}

/// The partial folders left under `dir`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(".partial-")
        })
        .collect()
}

/// A `compare` small enough to run many times: 1,000 users, one replicate,
/// logistic only, two arms, no learning curves.
fn compare_args(root: &Path, reg: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "compare",
        "--spec",
        "default",
        "--registry",
        s(reg),
        "--data-root",
        s(&root.join("data").join("cache")),
        "--out",
        s(&root.join("runs").join("tiny")),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for set in [
        "preset=\"small\"",
        "users=1000",
        "replicates=1",
        "families=[\"logistic\"]",
        "arms=[\"all\", \"consented\"]",
        "size_matched=false",
        "learning_curves=false",
        "bootstrap=20",
    ] {
        a.extend(["--set".to_string(), set.to_string()]);
    }
    a
}

/// Issue 11: `compare` killed at each of its publish steps (model
/// registrations, the cached data set, the lineage record, the rename, the
/// record's completion): nothing half-written looks complete, the order on
/// its models leaves nothing of them, and the next `compare` removes the
/// killed run's staging folder (it is then refused: its models were
/// destroyed).
#[test]
fn a_compare_killed_at_any_publish_step_leaves_nothing_the_order_misses() {
    let mut k = 1u64;
    loop {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let reg = root.join("registry");
        let args = compare_args(&root, &reg);
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = run(&args, Some(k));
        let step = format!("compare killed at step {k}");
        let done = !killed(&o);
        if done {
            assert!(
                o.status.success(),
                "{step}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let out = root.join("runs").join("tiny");
        assert_nothing_half_written(&out, &reg, &step);
        let ids = registered(&reg);
        order_everything(&root, &reg, &ids, &step);
        assert!(!out.exists(), "{step}: the run survived its models");
        if done {
            assert!(k > 4, "compare has only {} publish steps", k - 1);
            break;
        }
        // The same command again removes what the killed run left staged.
        let _ = run(&args, None);
        assert_eq!(
            partials(&root.join("runs")),
            Vec::<PathBuf>::new(),
            "{step}"
        );
        k += 1;
    }
}

/// Issue 11: the same for `audit` (its lawful replacement's registration,
/// the lineage record, the rename, the completion): the order on the
/// audited model removes the audit folder, and the replacement (trained on
/// consented users only, not derived from it) stays.
#[test]
fn an_audit_killed_at_any_publish_step_leaves_nothing_the_order_misses() {
    let (_tmp, root, data, reg) = setup();
    let mut k = 1u64;
    loop {
        let seed = format!("{}", 50 + k);
        let a = train_id(&data, &reg, &["--seed", &seed]);
        let out = root.join("runs").join(format!("audit-{a}"));
        let args = [
            "audit",
            "--model",
            &a,
            "--data",
            s(&data),
            "--registry",
            s(&reg),
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
        ];
        let o = run(&args, Some(k));
        let step = format!("audit killed at step {k}");
        let done = !killed(&o);
        if done {
            assert!(
                o.status.success(),
                "{step}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        assert_nothing_half_written(&out, &reg, &step);
        order_everything(&root, &reg, std::slice::from_ref(&a), &step);
        assert!(!out.exists(), "{step}: the audit folder survived its model");
        if done {
            assert!(k > 3, "audit has only {} publish steps", k - 1);
            break;
        }
        k += 1;
    }
}

/// Issue 11: a full disk while writing a plot or a report file exits 1 (an
/// I/O failure, not bad input) with one line naming the file and the OS
/// error once, and leaves no output and no staging folder. The disk is
/// made full for one file by the `fault-injection` feature
/// (`NSFSIM_FAULT_FULL=<path suffix>` links that file to /dev/full).
#[test]
fn a_full_disk_while_writing_plots_or_reports_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let reg = root.join("registry");
    let args = compare_args(&root, &reg);
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    for file in [
        "plots/roc.svg",
        "plots/roc.png",
        "report.md",
        "metrics.json",
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
            .args(&args)
            .env_remove("NSFSIM_REGISTRY")
            .env("NSFSIM_FAULT_FULL", file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(file) && !err.contains("panicked"),
            "{file}: {err}"
        );
        assert_eq!(
            err.matches("No space left on device (os error 28)").count(),
            1,
            "{file}: {err}"
        );
        assert!(!root.join("runs").join("tiny").exists(), "{file}");
        assert_eq!(
            partials(&root.join("runs")),
            Vec::<PathBuf>::new(),
            "{file}"
        );
    }
}
