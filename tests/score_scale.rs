//! The 0–100 score scale (issue 13): the log-odds scale spreads the default
//! population, grade bands have monotone observed NSF rates, the policy is
//! stated on the scale in use and reported under both, the truth lines
//! (oracle noise, attributes-only ceiling) are in the report, and the
//! scorecard's points run with each attribute's WoE.

mod common;

use std::path::Path;

use common::{generate, ok, refused, s, train_id};
use nsfsim::stats::money::Policy;
use nsfsim::stats::scale::{ScoreScale, grade_table, grades_monotone, spread, summarize};

/// Held-out rows of a score CSV: (P(nsf), nsf).
fn holdout_probs(csv: &Path) -> (Vec<f64>, Vec<bool>) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (p, h, y) = (col("prob"), col("holdout"), col("nsf"));
    let truthy = |v: &str| v == "true" || v == "1";
    let mut out = (Vec::new(), Vec::new());
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        if truthy(c[h]) {
            out.0.push(c[p].parse::<f64>().unwrap());
            out.1.push(truthy(c[y]));
        }
    }
    out
}

#[test]
fn log_odds_scale_spreads_the_default_population_and_grades_are_monotone() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let reg = d.path().join("registry");
    generate("default", 100_000, Some(11), &data);
    let id = train_id(&data, &reg, &["--model", "gbdt"]);
    let mut files = Vec::new();
    for scale in ["probability", "log-odds"] {
        let out = d.path().join(format!("{scale}.csv"));
        ok(&[
            "score",
            "--model",
            &id,
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--score-scale",
            scale,
            "--quiet",
            "--registry",
            s(&reg),
        ]);
        files.push(out);
    }
    let manifest = std::fs::read_to_string(d.path().join("log-odds.csv.manifest.json")).unwrap();
    assert!(manifest.contains("double the odds"), "{manifest}");
    let (p, y) = holdout_probs(&files[0]);
    assert!(p.len() > 15_000);
    let prob = spread(ScoreScale::Probability, &p);
    let lo = spread(ScoreScale::LogOdds, &p);
    // The old mapping crowds users at the bottom; the log-odds scale spreads
    // the middle 98 % of users over most of the range.
    eprintln!("{prob:?}\n{lo:?}");
    assert!(prob.share_0_to_10 > 0.8, "{prob:?}");
    assert!(lo.share_0_to_10 < 0.15, "{lo:?}");
    assert!(lo.percentiles[4] - lo.percentiles[1] >= 60, "{lo:?}");
    assert!((35..=65).contains(&lo.percentiles[2]), "{lo:?}");
    assert!(lo.distinct_values >= 80, "{lo:?}");
    let grades = grade_table(&p, &y);
    assert!(grades.iter().all(|g| g.users >= 20), "{grades:?}");
    eprintln!("{grades:?}");
    assert!(grades_monotone(&grades), "{grades:?}");
    refused(
        &[
            "score",
            "--model",
            &id,
            "--data",
            s(&data),
            "--out",
            s(&d.path().join("x.csv")),
            "--score-scale",
            "logit",
            "--registry",
            s(&reg),
        ],
        "--score-scale",
    );
}

#[test]
fn policy_is_reported_under_both_scales() {
    // Calibrated predictions: P(nsf) = p for a spread of p.
    let p: Vec<f64> = (0..2000)
        .map(|i| 0.001 + 0.3 * (i as f64 / 2000.0).powi(3))
        .collect();
    let y: Vec<bool> = p
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as f64 * 0.618_034).fract() < v)
        .collect();
    let policy = Policy {
        max_score_for_grouping: 10,
        loss_per_failed_charge_krw: 1000.0,
        benefit_per_grouped_user_krw: 0.0,
    };
    let s = summarize("logistic", &p, &y, &p, &policy, ScoreScale::LogOdds);
    assert_eq!(s.policy.len(), 2);
    let (pr, lo) = (&s.policy[0], &s.policy[1]);
    assert!(!pr.in_use && lo.in_use);
    // The same number is a much stricter rule on the log-odds scale.
    assert!((pr.max_prob_grouped - 0.105).abs() < 1e-12);
    assert!(lo.max_prob_grouped < 0.0015);
    assert!(lo.refused_share > pr.refused_share);
    assert!(lo.expected_loss_krw_per_1000 < pr.expected_loss_krw_per_1000);
    for sc in [ScoreScale::Probability, ScoreScale::LogOdds] {
        let cut = sc.max_prob_at(10);
        let refused = p.iter().filter(|&&v| sc.score(v) > 10).count() as f64 / p.len() as f64;
        let by_cut = p.iter().filter(|&&v| v >= cut).count() as f64 / p.len() as f64;
        assert!((refused - by_cut).abs() < 2e-3, "{sc:?}");
    }
}

#[test]
fn compare_states_its_policy_on_the_scale_in_use_beside_the_truth_lines() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    ok(&[
        "compare",
        "--quiet",
        "--score-scale",
        "log-odds",
        "--set",
        "users=20000",
        "--set",
        "replicates=1",
        "--set",
        "bootstrap=20",
        "--set",
        "families=[\"logistic\"]",
        "--out",
        s(&out),
        "--registry",
        s(&d.path().join("registry")),
        "--data-root",
        s(&d.path().join("data")),
    ]);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "## Truth lines",
        "Attributes-only ceiling",
        "## Score scales",
        "log-odds (in use)",
        "on the `log-odds` scale get grouped charges",
        "attributes-only ceiling 0.",
    ] {
        assert!(report.contains(needle), "report lacks `{needle}`");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["spec"]["score_scale"], "log-odds");
    let c = &m["ceiling"];
    let (oracle, ceiling) = (
        c["oracle_auc"]["mean"].as_f64().unwrap(),
        c["ceiling_auc"]["mean"].as_f64().unwrap(),
    );
    assert!(ceiling > 0.6 && ceiling < oracle, "{c}");
    assert_eq!(c["prob_paths"], 16);
    assert!(c["oracle_noise_auc"].as_f64().unwrap() < 0.001);
    let sc = &m["score_scales"][0];
    assert_eq!(sc["policy"].as_array().unwrap().len(), 2);
    assert_eq!(sc["grades"].as_array().unwrap().len(), 5);
}

#[test]
fn scorecard_points_run_with_woe_and_device_os_bins_are_named() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let reg = d.path().join("registry");
    generate("default", 60_000, Some(12), &data);
    let id = train_id(&data, &reg, &["--model", "scorecard"]);
    let table = ok(&["models", "points", &id, "--registry", s(&reg)]);
    assert!(
        table.contains("device_os = android") && table.contains("device_os = ios"),
        "{table}"
    );
    assert!(!table.contains("device_os = no"), "{table}");
    // Per attribute: (WoE, points) of every bin; points must fall as WoE
    // rises (more WoE = safer), or be all 0 (not in the card).
    let mut by_attr: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for line in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| attribute"))
    {
        let c: Vec<&str> = line.split('|').map(str::trim).collect();
        by_attr
            .entry(c[1].to_string())
            .or_default()
            .push((c[6].parse().unwrap(), c[7].parse().unwrap()));
    }
    assert!(by_attr.len() >= 10);
    let mut in_card = 0;
    for (attr, mut bins) in by_attr {
        bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        if bins.iter().all(|b| b.1 == 0.0) {
            continue;
        }
        in_card += 1;
        assert!(
            bins.windows(2).all(|w| w[1].1 <= w[0].1 + 1e-9),
            "{attr}: {bins:?}"
        );
    }
    assert!(in_card >= 3);
}

/// `train --score-scale` (issue 13, as `compare` and `score` have it): the
/// model's manifest records the mapping of the scale in use and its score
/// bands on that scale; a bad scale is refused naming the flag.
#[test]
fn train_records_the_score_scale_in_use() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let reg = d.path().join("registry");
    generate("default", 20_000, Some(13), &data);
    let manifest = |id: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(reg.join(id).join("manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let prob = manifest(&train_id(&data, &reg, &["--quiet"]));
    let lo = manifest(&train_id(
        &data,
        &reg,
        &["--score-scale", "log-odds", "--quiet"],
    ));
    assert!(
        prob["score_mapping"]
            .as_str()
            .unwrap()
            .starts_with("score = round(100 * P"),
        "{}",
        prob["score_mapping"]
    );
    assert!(
        lo["score_mapping"]
            .as_str()
            .unwrap()
            .contains("double the odds"),
        "{}",
        lo["score_mapping"]
    );
    // Same fit, same AUC; the score bands are on the scale in use.
    assert_eq!(prob["metrics"]["auc"], lo["metrics"]["auc"]);
    assert_ne!(prob["metrics"]["bands"], lo["metrics"]["bands"]);
    refused(
        &[
            "train",
            "--data",
            s(&data),
            "--registry",
            s(&reg),
            "--score-scale",
            "logit",
        ],
        "--score-scale",
    );
}
