//! `nsfsim audit`: membership attacks beat chance on the overfit control and
//! sit near chance on a large logistic model; identifiers cannot be inferred
//! from the score; the audit is lineage of the model (destroy takes it) while
//! the lawful replacement is not.

mod common;
use common::*;
use std::path::Path;

/// Runs `audit` quietly on model `id` (extra flags in `extra`).
fn audit(id: &str, data: &Path, reg: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "audit",
        "--model",
        id,
        "--data",
        s(data),
        "--registry",
        s(reg),
        "--out",
        s(out),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn audit_finds_what_it_should_and_is_destroyed_with_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (data, reg, out) = (root.join("data"), root.join("reg"), root.join("audit"));
    generate("default", 150000, None, &data);
    let id = train_id(&data, &reg, &[]);
    audit(&id, &data, &reg, &out, &["--bootstrap", "100"]);
    for f in ["audit.md", "audit.html", "audit.json", "manifest.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    for p in ["membership_roc", "attribute_inference"] {
        for ext in ["svg", "png"] {
            assert!(out.join("plots").join(format!("{p}.{ext}")).is_file());
        }
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap();
    let attack = |target: &str, kind: &str| -> serde_json::Value {
        r["membership"]["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["target"] == target && a["attack"] == kind)
            .unwrap()
            .clone()
    };
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    // Positive control: LiRA finds members far above chance at low FPR.
    let c = attack("overfit control", "lira");
    assert!(
        f(&c["auc"]["ci95"][0]) > 0.55,
        "control LiRA AUC {}",
        c["auc"]
    );
    assert!(
        f(&c["tpr_at_1pct_fpr"]["ci95"][0]) > 0.02,
        "control LiRA TPR@1% {}",
        c["tpr_at_1pct_fpr"]
    );
    assert_eq!(
        f(&r["membership"]["control"]["train_auc"]),
        1.0,
        "the control memorizes"
    );
    // The real model (logistic on ~120 k users): near chance, intervals cover it.
    for kind in ["loss-threshold", "lira"] {
        let a = attack("model", kind);
        let auc = f(&a["auc"]["value"]);
        assert!((auc - 0.5).abs() < 0.02, "{kind} AUC {auc}");
        assert!(
            f(&a["auc"]["ci95"][0]) < 0.5 + 0.005,
            "{kind}: {}",
            a["auc"]
        );
        assert!(
            f(&a["tpr_at_1pct_fpr"]["value"]) < 0.03,
            "{kind}: {}",
            a["tpr_at_1pct_fpr"]
        );
        assert_eq!(a["members"], a["non_members"]);
    }
    assert_eq!(
        r["membership"]["training_members"],
        r["model"]["training_members"]["count"]
    );
    // Attributes: 24 rows; identifiers carry nothing; the balance (the main
    // risk driver) is clearly in the score.
    let attrs = r["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 24);
    for a in attrs.iter().filter(|a| a["kind"] == "identifier") {
        assert!(
            f(&a["r2_score"]["value"]).abs() < 0.005,
            "{}",
            a["attribute"]
        );
        assert!(f(&a["mi_bits"]) < 0.005, "{}", a["attribute"]);
    }
    let bal = attrs
        .iter()
        .find(|a| a["attribute"] == "balance_avg_30d_krw")
        .unwrap();
    // Since generator revision 3 (revision 4 holds the same values): half
    // of all balances are exactly zero and auto top-up (binary) shares the
    // risk with it, so the balance's R² fell from above 0.3 to about 0.24; a
    // balance column is still the best-revealed numeric attribute.
    let best_numeric = attrs
        .iter()
        .filter(|a| a["kind"] == "numeric")
        .max_by(|a, b| f(&a["r2_score"]["value"]).total_cmp(&f(&b["r2_score"]["value"])))
        .unwrap();
    assert!(
        best_numeric["attribute"]
            .as_str()
            .unwrap()
            .starts_with("balance_"),
        "best-revealed numeric attribute {}",
        best_numeric["attribute"]
    );
    assert!(f(&bal["r2_score"]["ci95"][0]) > 0.2, "{}", bal["r2_score"]);
    assert!(f(&bal["mi_bits"]) <= f(&bal["entropy_bits"]));
    same_family_control_and_disclosure(&r, bal);
    // Uniqueness: finer keys single out more users.
    let u = r["uniqueness"].as_array().unwrap();
    let uniq = |k: &str| f(&u.iter().find(|x| x["key"] == k).unwrap()["unique_users"]);
    assert!(uniq("score") <= uniq("score + age band + region"));
    assert!(uniq("score + age band + region") <= uniq("score + age + region + device"));
    // The replacement is registered and is not derived from the model.
    let rid = r["replacement"]["model_id"].as_str().unwrap().to_string();
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &rid, "--registry", s(&reg)])).unwrap();
    assert_eq!(shown["population_rule"], "consented");
    assert_eq!(shown["parents"].as_array().unwrap().len(), 0);

    // Destroying the model takes the audit folder (it embeds the model's
    // outputs) and leaves the replacement.
    ok(&with_order(&[
        "destroy",
        "--model",
        &id,
        "--registry",
        s(&reg),
        "--runs",
        s(&root.join("runs")),
    ]));
    assert!(!out.exists(), "audit folder survived");
    assert!(reg.join(&rid).join("model.json").is_file());
}

/// The same-family control leaks at its smallest size and finds its
/// planted canaries clearly above chance (issue 13: it was at chance
/// everywhere); the grade bands disclose the balance; the balance's R² on
/// the raw scale is reported beside log1p.
fn same_family_control_and_disclosure(r: &serde_json::Value, bal: &serde_json::Value) {
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let c = &r["same_family_control"];
    eprintln!("same-family control: {c}");
    assert_eq!(c["family"], "logistic");
    let sizes = c["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 9, "{c}");
    for p in sizes {
        let a = &p["attack_auc"];
        assert!(
            f(&a["ci95"][0]) <= f(&a["value"]) && f(&a["value"]) <= f(&a["ci95"][1]),
            "{p}"
        );
        assert!(p["canaries_found"].as_u64().unwrap() <= p["canaries"].as_u64().unwrap());
        let events = p["attack_auc_events"]["ci95"][0].as_f64().unwrap_or(0.0);
        assert_eq!(
            p["leaks"].as_bool().unwrap(),
            f(&a["ci95"][0]) > 0.5 || events > 0.5,
            "{p}"
        );
    }
    // The smallest size (50 users a model, pooled over its replicates)
    // leaks: users with the event are told apart far above chance
    // (measured 0.95), and the attack on everyone is above 0.5.
    let small = &sizes[0];
    assert_eq!(small["training_users"], 50);
    assert!(small["leaks"].as_bool().unwrap(), "{small}");
    assert!(f(&small["attack_auc_events"]["ci95"][0]) > 0.7, "{small}");
    assert!(f(&small["attack_auc"]["value"]) > 0.5, "{small}");
    // ... and the largest (12,800 users, one model) leaks less.
    let large = &sizes[8];
    assert!(
        f(&large["attack_auc_events"]["value"]) < f(&small["attack_auc_events"]["value"]),
        "{large}"
    );
    // Outlier canaries are found far above chance (1 %) at the smallest size.
    let share = &small["canaries_found_share"];
    assert!(f(&share["ci95"][0]) > 0.05, "{share}");
    let leaking = sizes.iter().filter(|p| p["leaks"].as_bool().unwrap());
    assert_eq!(
        c["leaks_up_to"].as_u64(),
        leaking.map(|p| p["training_users"].as_u64().unwrap()).max()
    );
    let d = r["disclosure"].as_array().unwrap();
    eprintln!("disclosure: {d:?}");
    assert_eq!(d.len(), 5);
    let users: u64 = d.iter().map(|b| b["users"].as_u64().unwrap()).sum();
    assert_eq!(users, r["users"].as_u64().unwrap());
    let raw = &bal["r2_score_raw"];
    eprintln!("balance R2 raw {raw} vs log1p {}", bal["r2_score"]);
    assert!(f(&raw["value"]) < f(&bal["r2_score"]["value"]), "{raw}");
}

#[test]
fn audit_refuses_other_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (a, b, reg) = (root.join("a"), root.join("b"), root.join("reg"));
    for (d, seed) in [(&a, 1), (&b, 2)] {
        generate("small", 20000, Some(seed), d);
    }
    let id = train_id(&a, &reg, &[]);
    let o = nsfsim(&[
        "audit",
        "--model",
        &id,
        "--data",
        s(&b),
        "--registry",
        s(&reg),
        "--out",
        s(&root.join("x")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not the data set"), "{err}");
    assert!(!root.join("x").exists());
    let o = nsfsim(&[
        "audit",
        "--model",
        &id,
        "--data",
        s(&a),
        "--registry",
        s(&reg),
        "--shadows",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shadows"));
}

#[test]
fn audit_json_is_identical_at_1_2_and_8_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (data, reg) = (root.join("data"), root.join("reg"));
    generate("small", 30000, None, &data);
    let id = train_id(&data, &reg, &[]);
    let mut seen = Vec::new();
    for t in ["1", "2", "8"] {
        let out = root.join(format!("audit{t}"));
        audit(
            &id,
            &data,
            &reg,
            &out,
            &[
                "--threads",
                t,
                "--shadows",
                "8",
                "--bootstrap",
                "50",
                "--eval-users",
                "3000",
                "--attribute-users",
                "10000",
                "--control-users",
                "500",
            ],
        );
        seen.push(std::fs::read(out.join("audit.json")).unwrap());
    }
    assert!(
        seen[0] == seen[1] && seen[1] == seen[2],
        "audit.json depends on threads"
    );
}
