//! Integration test of `nsfsim compare` on a small population: outputs, and
//! that every arm's training members are exactly its rule's non-held-out
//! users (so no test user is ever trained on), checked through the
//! registry's member digests.

use std::process::Command;

use nsfsim::lineage::registry::member_digest;
use nsfsim::models::train::PopulationRule;

#[test]
fn compare_writes_a_report_and_never_trains_on_test_users() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let reg = d.path().join("registry");
    let data_root = d.path().join("data");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "compare",
            "--quiet",
            "--set",
            "users=40000",
            "--set",
            "replicates=2",
            "--set",
            "bootstrap=40",
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--registry",
            reg.to_str().unwrap(),
        ])
        .args(["--data-root", data_root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["report.md", "report.html", "metrics.json", "manifest.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for p in [
        "roc",
        "calibration",
        "score_distribution",
        "learning_curve",
        "subgroup_cost",
        "auc_cost",
        "loss_cost",
        "loss_cost_equal_rate",
        "cost_curve",
    ] {
        for ext in ["svg", "png"] {
            let f = out.join("plots").join(format!("{p}.{ext}"));
            assert!(
                std::fs::metadata(&f)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                f.display()
            );
        }
    }
    // The run manifest carries a copy of every data set's and model's
    // manifest, and the run is recorded in the registry's lineage.
    let man: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(man["data"].as_array().unwrap().len(), 2);
    // 2 replicates × 2 families × (6 arms + 3 size-matched: registered,
    // consented, consented on the minimal set).
    assert_eq!(man["models"].as_array().unwrap().len(), 2 * 2 * 9);
    for m in man["models"].as_array().unwrap() {
        assert_eq!(m["manifest"]["model_id"], m["model_id"]);
    }
    assert_eq!(man["data"][0]["manifest"]["users"], 40000);
    let runs: Vec<serde_json::Value> = std::fs::read_dir(reg.join("derived"))
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .filter(|r: &serde_json::Value| r["kind"] == "run")
        .collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["parents"].as_array().unwrap().len(), 36);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        9,
        "plots are embedded in report.html"
    );
    // Who pays: every test user is in one age band, one device, one tenure band.
    let mj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let rep0 = &mj["replicates"][0];
    let test_users = rep0["test_users"].as_u64().unwrap();
    for prefix in ["age ", "device ", "tenure ", "region "] {
        let total: u64 = rep0["subgroups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["group"].as_str().unwrap().starts_with(prefix) && g["family"] == "gbdt")
            .map(|g| g["users"].as_u64().unwrap())
            .sum();
        assert_eq!(
            total, test_users,
            "{prefix}subgroups partition the test users"
        );
    }
    // Learning curves grow with training size (first vs last point).
    let lc: Vec<&serde_json::Value> = rep0["learning_curve"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["arm"] == "all" && p["family"] == "gbdt")
        .collect();
    assert!(lc.len() >= 3);
    assert!(lc.last().unwrap()["auc"].as_f64().unwrap() > lc[0]["auc"].as_f64().unwrap());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["summary"].as_array().unwrap().len(), 18);
    // Every family runs every arm, `all` first within each.
    for (f, fam) in ["logistic", "gbdt"].iter().enumerate() {
        assert_eq!(m["summary"][9 * f]["arm"], "all");
        assert_eq!(m["summary"][9 * f]["family"], *fam);
        assert_eq!(m["summary"][9 * f + 3]["arm"], "consented-ipw");
    }
    // The size split adds up: size + selection = the arm's cost, per
    // replicate, in AUC and in money at equal grouping rate.
    for rep in m["replicates"].as_array().unwrap() {
        let arms = rep["arms"].as_array().unwrap();
        for a in arms.iter().filter(|a| !a["split"].is_null()) {
            let sm = arms
                .iter()
                .find(|b| b["family"] == a["family"] && b["arm"] == a["split"]["size_matched_arm"])
                .unwrap();
            let f = |v: &serde_json::Value| v.as_f64().unwrap();
            let total = f(&a["auc_diff_vs_all"]);
            let parts = f(&sm["auc_diff_vs_all"]) + f(&a["split"]["selection_auc"]);
            assert!((total - parts).abs() < 1e-12, "{total} vs {parts}");
            let total = f(&a["loss_equal_rate_diff_vs_all"]);
            let parts =
                f(&sm["loss_equal_rate_diff_vs_all"]) + f(&a["split"]["selection_loss_equal_rate"]);
            assert!((total - parts).abs() < 1e-6, "{total} vs {parts}");
            assert_eq!(sm["training_members"], a["training_members"]);
        }
    }
    assert_eq!(m["replicates"].as_array().unwrap().len(), 2);
    let all = &m["summary"][0];
    assert_eq!(all["arm"], "all");
    assert_eq!(all["auc_diff_vs_all"]["mean"], 0.0);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Findings") && report.contains("consented-ipw"));

    for rep in m["replicates"].as_array().unwrap() {
        let dir = std::path::PathBuf::from(rep["data"].as_str().unwrap());
        let data = nsfsim::models::train::load_data(&dir, &["balance_krw".to_string()]).unwrap();
        for arm in rep["arms"].as_array().unwrap() {
            let name = arm["arm"].as_str().unwrap();
            if let Some((_, of)) = name.split_once("-size-of-") {
                // A random subsample of every eligible user, of `of`'s size.
                let rule = PopulationRule::parse(of).unwrap();
                let n = (0..data.rows())
                    .filter(|&i| !data.holdout[i] && data.in_population(rule, i))
                    .count() as u64;
                assert_eq!(arm["training_members"].as_u64().unwrap(), n, "{name}");
                continue;
            }
            let rule = PopulationRule::parse(name.split('-').next().unwrap()).unwrap();
            let mut expected: Vec<u64> = (0..data.rows())
                .filter(|&i| !data.holdout[i] && data.in_population(rule, i))
                .map(|i| data.user_id[i])
                .collect();
            let id = arm["model_id"].as_str().unwrap();
            let (manifest, _) = nsfsim::lineage::registry::load(&reg, id).unwrap();
            assert_eq!(
                manifest.training_members.count,
                expected.len() as u64,
                "{name}"
            );
            assert_eq!(
                manifest.training_members.digest,
                member_digest(&mut expected),
                "{name}"
            );
            let test_users = (0..data.rows())
                .filter(|&i| data.holdout[i] && data.registered[i])
                .count() as u64;
            assert_eq!(rep["test_users"].as_u64().unwrap(), test_users);
        }
    }
}

#[test]
fn consent_sweep_reports_every_cell() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("sweep");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "compare",
            "--quiet",
            "--spec",
            "sweep-consent",
            "--set",
            "users=20000",
            "--set",
            "replicates=1",
        ])
        .args([
            "--set",
            "bootstrap=20",
            "--set",
            "sweep.users=20000",
            "--set",
            "sweep.replicates=1",
        ])
        .args([
            "--set",
            "sweep.rates=[0.3, 0.8]",
            "--set",
            "sweep.mechanisms=[\"random\", \"risk\"]",
            "--set",
            "sweep.strengths=[2.0]",
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--registry",
            d.path().join("r").to_str().unwrap(),
        ])
        .args(["--data-root", d.path().join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let cells = m["sweep"].as_array().unwrap();
    assert_eq!(
        cells.len(),
        4,
        "random × 2 rates + risk × 1 strength × 2 rates"
    );
    assert!(out.join("plots/sweep_cost.svg").is_file());
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("## Consent sweep")
    );
}
