//! The simulator's own sanity checks (README, "What users can expect"):
//! with consent completely at random at a high rate, training on consented
//! users costs nothing measurable; with consent strongly tied to the outcome
//! risk, it is measurably worse.

use std::process::Command;

fn consented_auc_diff(dir: &std::path::Path, overrides: &str) -> (f64, [f64; 2]) {
    let out = dir.join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "compare",
            "--quiet",
            "--set",
            "users=200000",
            "--set",
            "replicates=3",
            "--set",
            "bootstrap=50",
        ])
        .args(["--set", &format!("preset_overrides={overrides}")])
        .args(["--set", "arms=[\"all\",\"consented\"]"])
        .args(["--out", out.to_str().unwrap()])
        .args(["--registry", dir.join("registry").to_str().unwrap()])
        .args(["--data-root", dir.join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let d = &m["summary"][1]["auc_diff_vs_all"];
    (
        d["mean"].as_f64().unwrap(),
        [
            d["ci95"][0].as_f64().unwrap(),
            d["ci95"][1].as_f64().unwrap(),
        ],
    )
}

#[test]
fn consent_at_random_costs_nothing_and_consent_on_risk_costs_auc() {
    let d = tempfile::tempdir().unwrap();
    let (mean, ci) = consented_auc_diff(
        d.path(),
        "['consent.mechanism=\"random\"','consent.rate=0.8']",
    );
    assert!(
        ci[0] <= 0.0 && 0.0 <= ci[1] && mean.abs() < 0.005,
        "MCAR: {mean} {ci:?}"
    );
    let (mean, ci) = consented_auc_diff(
        d.path(),
        "['consent.mechanism=\"risk\"','consent.strength=3']",
    );
    assert!(
        ci[1] < 0.0 && mean < -0.02,
        "consent on risk: {mean} {ci:?}"
    );
}
