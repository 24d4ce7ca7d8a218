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
            &[
                "destroy",
                "--model",
                &a,
                "--registry",
                &reg_s,
                "--runs",
                s(&root.join("runs")),
            ],
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
        let args = [
            "destroy",
            "--model",
            &a,
            "--registry",
            &reg_s,
            "--runs",
            s(&runs),
        ];
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
