//! Integration tests of `train`, `score`, `evaluate` and the registry,
//! driving the real binary.

mod common;
use common::*;
use std::process::Command;

use std::path::{Path, PathBuf};

fn data(dir: &Path) -> PathBuf {
    let out = dir.join("data");
    ok(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "60000",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

fn train(data: &Path, registry: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--registry",
        registry.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args).lines().last().unwrap().trim().to_string()
}

#[test]
fn train_score_evaluate_and_lineage() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let reg = d.path().join("registry");
    let r = reg.to_str().unwrap();
    let all = train(&data, &reg, &["--population", "all"]);
    let registered = train(
        &data,
        &reg,
        &["--population", "registered", "--features", "minimal"],
    );
    assert_eq!(all.len(), 16);
    assert_ne!(all, registered);
    let list = ok(&["models", "list", "--registry", r]);
    assert_eq!(list.lines().count(), 3, "{list}"); // a header and two models
    let show: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &all, "--registry", r])).unwrap();
    assert_eq!(show["model_id"], all.as_str());
    assert_eq!(show["population_rule"], "all");
    let members = show["training_members"]["count"].as_u64().unwrap();
    // 80% of 60,000 users are not held out (±1.5%).
    assert!((members as f64 - 48_000.0).abs() < 720.0, "{members}");
    assert_eq!(
        show["training_members"]["digest"].as_str().unwrap().len(),
        64
    );
    assert!(
        show["score_mapping"]
            .as_str()
            .unwrap()
            .contains("higher = more likely")
    );
    let reg_show: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &registered, "--registry", r])).unwrap();
    let reg_members = reg_show["training_members"]["count"].as_u64().unwrap();
    assert!(reg_members < members / 4, "{reg_members}");
    assert_eq!(reg_show["features"].as_array().unwrap().len(), 11);

    // Scores: every user, 0-100, a manifest naming the model, a lineage record.
    let scores = d.path().join("runs/scores.parquet");
    ok(&[
        "score",
        "--model",
        &all,
        "--data",
        data.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
        "--registry",
        r,
    ]);
    let sm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("runs/scores.parquet.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sm["model_id"], all.as_str());
    assert_eq!(sm["files"][0]["rows"], 60000);
    let derived: Vec<_> = std::fs::read_dir(reg.join("derived")).unwrap().collect();
    assert_eq!(derived.len(), 1);

    // Evaluation: the rare class is the positive one (AUC well above 0.5),
    // below the oracle, and bands add up to the users evaluated.
    let e: serde_json::Value = serde_json::from_str(&ok(&[
        "evaluate",
        "--model",
        &all,
        "--data",
        data.to_str().unwrap(),
        "--registry",
        r,
        "--json",
    ]))
    .unwrap();
    let auc = e["auc"].as_f64().unwrap();
    assert!(auc > 0.65 && auc < e["oracle_auc"].as_f64().unwrap(), "{e}");
    assert!((e["gini"].as_f64().unwrap() - (2.0 * auc - 1.0)).abs() < 1e-12);
    let band_users: u64 = e["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["users"].as_u64().unwrap())
        .sum();
    assert_eq!(band_users, e["users"].as_u64().unwrap());
}

#[test]
fn same_inputs_give_the_same_model_at_any_thread_count() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let (r1, r8) = (d.path().join("r1"), d.path().join("r8"));
    let a = train(&data, &r1, &["--threads", "1"]);
    let b = train(&data, &r8, &["--threads", "8"]);
    assert_eq!(a, b);
    assert_eq!(
        std::fs::read(r1.join(&a).join("model.json")).unwrap(),
        std::fs::read(r8.join(&b).join("model.json")).unwrap()
    );
    // Registering the same content again is idempotent.
    assert_eq!(train(&data, &r1, &["--threads", "2"]), a);
}

#[test]
fn concurrent_registrations_do_not_corrupt_the_registry() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let reg = d.path().join("registry");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_nsfsim"))
            .args([
                "train",
                "--data",
                data.to_str().unwrap(),
                "--registry",
                reg.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let h1 = s.spawn(spawn);
        let h2 = s.spawn(spawn);
        (h1.join().unwrap(), h2.join().unwrap())
    });
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    let entries: Vec<String> = std::fs::read_dir(&reg)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != ".lock") // the registry's advisory lock file
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    ok(&[
        "models",
        "show",
        entries[0].as_str(),
        "--registry",
        reg.to_str().unwrap(),
    ]);
}

#[test]
fn tampered_unknown_and_mismatched_models_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let reg = d.path().join("registry");
    let r = reg.to_str().unwrap();
    let ds = data.to_str().unwrap();
    let id = train(&data, &reg, &[]);
    let out = d.path().join("s.parquet");
    let o = out.to_str().unwrap();
    refused(
        &[
            "score",
            "--model",
            "0123456789abcdef",
            "--data",
            ds,
            "--out",
            o,
            "--registry",
            r,
        ],
        "no model",
    );
    refused(
        &[
            "score",
            "--model",
            "nope",
            "--data",
            ds,
            "--out",
            o,
            "--registry",
            r,
        ],
        "not a model ID",
    );
    for (flag, value, needle) in [
        ("--population", "everyone", "--population"),
        ("--features", "phone_sha256", "identifier"),
        ("--features", "shoe_size", "not one of the 24"),
    ] {
        refused(
            &["train", "--data", ds, "--registry", r, flag, value],
            needle,
        );
    }
    // A data set whose schema lacks an attribute the model reads.
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(data.join("users.parquet"), other.join("users.parquet")).unwrap();
    let m = std::fs::read_to_string(data.join("manifest.json"))
        .unwrap()
        .replace("\"balance_krw\"", "\"balance_usd\"");
    std::fs::write(other.join("manifest.json"), m).unwrap();
    refused(
        &[
            "score",
            "--model",
            &id,
            "--data",
            other.to_str().unwrap(),
            "--out",
            o,
            "--registry",
            r,
        ],
        "another schema",
    );
    // A model file changed after registration.
    let f = reg.join(&id).join("model.json");
    let text =
        std::fs::read_to_string(&f)
            .unwrap()
            .replacen("\"intercept\": ", "\"intercept\": 1", 1);
    std::fs::write(&f, text).unwrap();
    refused(
        &[
            "score",
            "--model",
            &id,
            "--data",
            ds,
            "--out",
            o,
            "--registry",
            r,
        ],
        "checksum mismatch",
    );
    assert!(!out.exists());
}

#[test]
fn scorecard_has_monotone_bins_and_a_points_table() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let reg = d.path().join("registry");
    let r = reg.to_str().unwrap();
    let id = train(&data, &reg, &["--model", "scorecard"]);
    let table = ok(&["models", "points", &id, "--registry", r]);
    assert!(table.contains("| balance_krw |"), "{table}");
    // Per numeric attribute, NSF rates of the bins are monotone.
    let mut by_attr: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for line in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| attribute"))
    {
        let cells: Vec<&str> = line.split('|').map(|c| c.trim()).collect();
        if cells[3].contains(" = ") {
            continue; // categories are not ordered
        }
        by_attr
            .entry(cells[1].to_string())
            .or_default()
            .push(cells[5].parse().unwrap());
    }
    assert!(by_attr.len() >= 10);
    for (attr, rates) in &by_attr {
        let up = rates.windows(2).all(|w| w[0] <= w[1]);
        let down = rates.windows(2).all(|w| w[0] >= w[1]);
        assert!(up || down, "{attr}: {rates:?}");
    }
    let e: serde_json::Value = serde_json::from_str(&ok(&[
        "evaluate",
        "--model",
        &id,
        "--data",
        data.to_str().unwrap(),
        "--registry",
        r,
        "--json",
    ]))
    .unwrap();
    assert!(e["auc"].as_f64().unwrap() > 0.65, "{e}");
    // A logistic model has no points table.
    let lr = train(&data, &reg, &[]);
    refused(
        &["models", "points", &lr, "--registry", r],
        "not a scorecard",
    );
}

#[test]
fn gbdt_is_deterministic_and_beats_chance() {
    let d = tempfile::tempdir().unwrap();
    let data = data(d.path());
    let (r1, r8) = (d.path().join("r1"), d.path().join("r8"));
    let a = train(&data, &r1, &["--model", "gbdt", "--threads", "1"]);
    let b = train(&data, &r8, &["--model", "gbdt", "--threads", "8"]);
    assert_eq!(a, b, "gbdt model differs by thread count");
    let e: serde_json::Value = serde_json::from_str(&ok(&[
        "evaluate",
        "--model",
        &a,
        "--data",
        data.to_str().unwrap(),
        "--registry",
        r1.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let auc = e["auc"].as_f64().unwrap();
    assert!(auc > 0.65 && auc < e["oracle_auc"].as_f64().unwrap(), "{e}");
    // Calibrated in the mean: predicted and observed NSF rates agree.
    let (mut pred, mut users) = (0.0, 0.0);
    for band in e["bands"].as_array().unwrap() {
        let n = band["users"].as_f64().unwrap();
        pred += n * band["predicted_nsf_rate"].as_f64().unwrap();
        users += n;
    }
    assert!(
        (pred / users - e["nsf_rate"].as_f64().unwrap()).abs() < 0.01,
        "{e}"
    );
}
