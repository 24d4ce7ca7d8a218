//! Stream separation, through the real binary: `nsf_prob` is estimated by
//! replays of the outcome window on streams of their own, so changing the
//! number of replays (`outcome.prob_paths`) changes `nsf_prob` and nothing
//! else — the attributes, flags, consent and the realized `nsf` of every
//! user stay byte for byte. The one documented exception: under the `risk`
//! consent mechanism consent reads `nsf_prob`, so `consented` may move too.

mod common;
use common::*;

/// The data file of a CSV population of the small preset, with overrides.
fn population(dir: &std::path::Path, name: &str, set: &[&str]) -> Vec<Vec<String>> {
    let out = dir.join(name);
    let mut args = vec![
        "generate",
        "--preset",
        "small",
        "--users",
        "3000",
        "--format",
        "csv",
        "--quiet",
        "--out",
        s(&out),
    ];
    for kv in set {
        args.extend(["--set", kv]);
    }
    ok(&args);
    let text = std::fs::read_to_string(out.join("users.csv")).unwrap();
    text.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// Columns (by header name) whose value differs for at least one user, and
/// the share of users whose `nsf_prob` differs.
fn changed(a: &[Vec<String>], b: &[Vec<String>]) -> (Vec<String>, f64) {
    assert_eq!(a.len(), b.len(), "same users");
    let header = &a[0];
    assert_eq!(header, &b[0]);
    let prob = header.iter().position(|h| h == "nsf_prob").unwrap();
    let mut cols = Vec::new();
    for (j, name) in header.iter().enumerate() {
        if a[1..].iter().zip(&b[1..]).any(|(x, y)| x[j] != y[j]) {
            cols.push(name.clone());
        }
    }
    let moved = a[1..]
        .iter()
        .zip(&b[1..])
        .filter(|(x, y)| x[prob] != y[prob])
        .count();
    (cols, moved as f64 / (a.len() - 1) as f64)
}

#[test]
fn changing_prob_paths_changes_only_nsf_prob() {
    let d = tempfile::tempdir().unwrap();
    for mechanism in ["attributes", "random"] {
        let m = format!("consent.mechanism=\"{mechanism}\"");
        let four = population(
            d.path(),
            &format!("{mechanism}-4"),
            &[&m, "outcome.prob_paths=4"],
        );
        let eight = population(
            d.path(),
            &format!("{mechanism}-8"),
            &[&m, "outcome.prob_paths=8"],
        );
        let (cols, moved) = changed(&four, &eight);
        assert_eq!(
            cols,
            ["nsf_prob"],
            "consent {mechanism}: only nsf_prob may change"
        );
        // Not a test that cannot fail: the replays really are different.
        assert!(
            moved > 0.5,
            "consent {mechanism}: nsf_prob moved for {moved:.3} of users"
        );
    }
}

#[test]
fn under_risk_consent_prob_paths_reaches_consent_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let m = "consent.mechanism=\"risk\"";
    let four = population(d.path(), "risk-4", &[m, "outcome.prob_paths=4"]);
    let eight = population(d.path(), "risk-8", &[m, "outcome.prob_paths=8"]);
    let (cols, _) = changed(&four, &eight);
    assert!(
        cols.iter().all(|c| c == "nsf_prob" || c == "consented"),
        "{cols:?}"
    );
}
