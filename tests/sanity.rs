//! The simulator's own sanity checks (README, "What users can expect"):
//! with consent completely at random at a high rate, training on consented
//! users costs nothing measurable; with consent strongly tied to the outcome
//! risk, it is measurably worse; with consent tied to observed attributes,
//! it is worse and IPW on those attributes recovers part of the gap. The
//! first two hold for every model family; at consent completely at random
//! the size-matched arm (`all` subsampled to the consented size) explains
//! the whole cost, and under risk-driven consent selection is what costs.
//! IPW is checked for logistic (the family whose misspecification IPW is
//! meant to correct; the issue measured it hurting trees).

use std::process::Command;

fn run_compare(
    dir: &std::path::Path,
    users: u64,
    overrides: &str,
    arms: &str,
    families: &str,
) -> serde_json::Value {
    let out = dir.join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args(["compare", "--quiet", "--force"])
        .args(["--set", &format!("users={users}")])
        .args(["--set", "replicates=3", "--set", "bootstrap=50"])
        .args(["--set", &format!("preset_overrides={overrides}")])
        .args(["--set", &format!("arms={arms}")])
        .args(["--set", &format!("families={families}")])
        .args(["--set", "learning_curves=false"])
        .args(["--out", out.to_str().unwrap()])
        .args(["--registry", dir.join("registry").to_str().unwrap()])
        .args(["--data-root", dir.join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap()
}

/// Mean and 95% interval of summary row `k`'s AUC difference against `all`.
fn diff(m: &serde_json::Value, k: usize) -> (f64, [f64; 2]) {
    pair(&m["summary"][k]["auc_diff_vs_all"])
}

/// Mean and 95% interval of an interval object.
fn pair(d: &serde_json::Value) -> (f64, [f64; 2]) {
    (
        d["mean"].as_f64().unwrap(),
        [
            d["ci95"][0].as_f64().unwrap(),
            d["ci95"][1].as_f64().unwrap(),
        ],
    )
}

const FAMILIES: &str = "[\"logistic\",\"scorecard\",\"gbdt\"]";

/// Summary rows of `consented` for every family (arms: all, consented,
/// size-matched consented).
fn consented_rows(m: &serde_json::Value) -> Vec<&serde_json::Value> {
    m["summary"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["arm"] == "consented")
        .collect()
}

#[test]
fn consent_at_random_costs_nothing_and_consent_on_risk_costs_auc() {
    let d = tempfile::tempdir().unwrap();
    let arms = "[\"all\",\"consented\"]";
    let m = run_compare(
        d.path(),
        200_000,
        "['consent.mechanism=\"random\"','consent.rate=0.8']",
        arms,
        FAMILIES,
    );
    let rows = consented_rows(&m);
    assert_eq!(rows.len(), 3, "one consented arm per family");
    for a in rows {
        let fam = a["family"].as_str().unwrap();
        let (mean, ci) = pair(&a["auc_diff_vs_all"]);
        assert!(
            ci[0] <= 0.0 && 0.0 <= ci[1] && mean.abs() < 0.005,
            "{fam} MCAR: {mean} {ci:?}"
        );
        // The size-matched arm explains the whole consent cost: what is
        // left for selection is indistinguishable from 0.
        let (sel, sci) = pair(&a["split"]["selection_auc"]);
        assert!(
            sci[0] <= 0.0 && 0.0 <= sci[1] && sel.abs() < 0.005,
            "{fam} MCAR selection: {sel} {sci:?}"
        );
    }
    let m = run_compare(
        d.path(),
        200_000,
        // Since generator revision 3 (NSF 3 %; revision 4 has the same values):
        // at strength 3 the consented users hold so few failures that the 3
        // replicates' interval spans -0.35 to +0.03 around a mean cost of -0.16;
        // strength 2 is still strong selection and its cost is stable across
        // replicates.
        "['consent.mechanism=\"risk\"','consent.strength=2']",
        arms,
        FAMILIES,
    );
    for a in consented_rows(&m) {
        let fam = a["family"].as_str().unwrap();
        let (mean, ci) = pair(&a["auc_diff_vs_all"]);
        assert!(
            ci[1] < 0.0 && mean < -0.02,
            "{fam} consent on risk: {mean} {ci:?}"
        );
        // Selection, not size, is what costs here.
        let (sel, sci) = pair(&a["split"]["selection_auc"]);
        assert!(
            sci[1] < 0.0 && sel < mean / 2.0,
            "{fam} consent on risk, selection part: {sel} {sci:?} of {mean}"
        );
    }
}

#[test]
fn ipw_recovers_part_of_the_gap_when_consent_depends_on_observed_attributes() {
    let d = tempfile::tempdir().unwrap();
    let m = run_compare(
        d.path(),
        500_000,
        // Since generator revision 3 (the same values at 4): at strength 3 the
        // consented-only cost (-0.005) is about the cost IPW itself pays (fewer
        // rows, weight variance, -0.004), leaving nothing to recover in one
        // replicate; at strength 4 the selection is strong enough for the claim
        // to be measurable.
        "['consent.mechanism=\"attributes\"','consent.strength=4']",
        "[\"all\",\"consented\",\"consented-ipw\"]",
        "[\"logistic\"]",
    );
    let (gap, _) = diff(&m, 1);
    let (ipw, _) = diff(&m, 2);
    assert!(gap < -0.005, "selection on attributes must cost AUC: {gap}");
    // Part of the gap, not all of it, and not by luck in one replicate: in
    // every replicate (same test users for both arms) IPW does better.
    assert!(
        ipw - gap > 0.25 * -gap && ipw < 0.0,
        "IPW recovers part of the gap: consented {gap}, ipw {ipw}"
    );
    for r in m["replicates"].as_array().unwrap() {
        let c = r["arms"][1]["auc_diff_vs_all"].as_f64().unwrap();
        let w = r["arms"][2]["auc_diff_vs_all"].as_f64().unwrap();
        assert!(w > c, "replicate {}: ipw {w} vs consented {c}", r["seed"]);
    }
}
