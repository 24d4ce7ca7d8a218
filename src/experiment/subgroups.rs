//! Who pays: the AUC of every arm within subgroups of the test users (age
//! band, device, tenure, region), and its difference to `all` across
//! replicates.

use serde::{Deserialize, Serialize};

use crate::data::features::{AGE_BANDS, Design, age_band};
use crate::experiment::Replicate;
use crate::sim::schema::REGIONS;
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics;
use crate::stats::multiple::{benjamini_hochberg, t_test_p};

/// AUC of each arm on the test users of one subgroup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SubgroupResult {
    /// Model family.
    #[serde(default)]
    pub family: String,
    /// Subgroup label (`age 20s`, `device ios`, `tenure < 1 y`, `region Busan`).
    pub group: String,
    /// Test users in it.
    pub users: u64,
    /// NSF cases among them.
    pub nsf: u64,
    /// AUC per arm, in `arms` order (NaN when the group has one class only).
    pub auc: Vec<f64>,
}

/// Who pays: one subgroup's AUC differences to `all`, across replicates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SubgroupSummary {
    /// Model family.
    pub family: String,
    /// Subgroup label.
    pub group: String,
    /// Mean test users per replicate.
    pub users: f64,
    /// Mean NSF events among them per replicate.
    pub nsf: f64,
    /// Per arm (in `arms` order, `all` first): AUC − AUC(all).
    pub auc_diff_vs_all: Vec<Interval>,
    /// Per arm: two-sided p-value of "no difference" (t test across
    /// replicates; null for `all`, with one replicate, or too few events).
    pub p_value: Vec<Option<f64>>,
    /// Per arm: Benjamini–Hochberg q-value across every (subgroup, arm) of
    /// the family with enough events.
    pub q_value: Vec<Option<f64>>,
    /// Per arm: the difference is flagged (q < 0.05, enough events).
    pub flagged: Vec<bool>,
    /// The group has at least `min_subgroup_nsf` NSF events per replicate.
    pub enough_events: bool,
}

/// Labels of the subgroups each of `rows` belongs to, from the design columns.
fn subgroup_labels(design: &Design, rows: &[usize]) -> Vec<Vec<String>> {
    let col = |name: &str| design.names.iter().position(|n| n == name);
    let regions = design.region_index(rows);
    let (age, ios, tenure) = (
        col("age_years"),
        col("device_os=ios"),
        col("account_age_days"),
    );
    rows.iter()
        .enumerate()
        .map(|(k, &row)| {
            let x = |j: usize| design.x[[row, j]];
            let mut out = Vec::new();
            if let Some(j) = age {
                out.push(format!("age {}", AGE_BANDS[age_band(x(j) as u32)]));
            }
            if let Some(j) = ios {
                let os = if x(j) > 0.5 { "ios" } else { "android" };
                out.push(format!("device {os}"));
            }
            if let Some(j) = tenure {
                let d = x(j);
                out.push(
                    if d < 365.0 {
                        "tenure <1y"
                    } else if d < 3.0 * 365.0 {
                        "tenure 1-3y"
                    } else {
                        "tenure 3y+"
                    }
                    .to_string(),
                );
            }
            if let Some(r) = &regions {
                out.push(format!("region {}", REGIONS[r[k]]));
            }
            out
        })
        .collect()
}

/// AUC of every arm (`probs`, per test user) within each subgroup of the
/// test users `test` (rows of `design`; `labels` per test user).
pub fn subgroup_results(
    design: &Design,
    test: &[usize],
    labels: &[bool],
    probs: &[Vec<f64>],
    family: &str,
) -> Vec<SubgroupResult> {
    let labels_of = subgroup_labels(design, test);
    let mut groups: Vec<String> = labels_of.iter().flatten().cloned().collect();
    groups.sort();
    groups.dedup();
    groups
        .iter()
        .map(|g| {
            let rows: Vec<usize> = (0..test.len())
                .filter(|&k| labels_of[k].contains(g))
                .collect();
            let y: Vec<bool> = rows.iter().map(|&k| labels[k]).collect();
            SubgroupResult {
                family: family.into(),
                group: g.clone(),
                users: rows.len() as u64,
                nsf: y.iter().filter(|&&v| v).count() as u64,
                auc: probs
                    .iter()
                    .map(|p| metrics::auc(&rows.iter().map(|&k| p[k]).collect::<Vec<_>>(), &y))
                    .collect(),
            }
        })
        .collect()
}

/// Across replicates, per family × subgroup: each arm's AUC difference to
/// `all`, with Benjamini–Hochberg q-values across the family's (subgroup,
/// arm) tests; groups under `min_nsf` events are never flagged.
pub fn summarize(
    replicates: &[Replicate],
    arms: usize,
    families: &[&str],
    min_nsf: f64,
) -> Vec<SubgroupSummary> {
    let mut out = Vec::new();
    for fam in families {
        let start = out.len();
        out.extend(summarize_family(replicates, arms, fam, min_nsf));
        correct(&mut out[start..]);
    }
    out
}

/// One family's subgroups, uncorrected.
fn summarize_family(
    replicates: &[Replicate],
    arms: usize,
    family: &str,
    min_nsf: f64,
) -> Vec<SubgroupSummary> {
    let mut group_names: Vec<String> = replicates
        .iter()
        .flat_map(|r| r.subgroups.iter().filter(|g| g.family == family))
        .map(|g| g.group.clone())
        .collect();
    group_names.sort();
    group_names.dedup();
    group_names
        .iter()
        .map(|g| {
            let found: Vec<&SubgroupResult> = replicates
                .iter()
                .filter_map(|r| {
                    r.subgroups
                        .iter()
                        .find(|s| &s.group == g && s.family == family)
                })
                .collect();
            let n = found.len().max(1) as f64;
            let nsf = found.iter().map(|s| s.nsf as f64).sum::<f64>() / n;
            let enough_events = nsf >= min_nsf;
            let diffs =
                |k: usize| -> Vec<f64> { found.iter().map(|s| s.auc[k] - s.auc[0]).collect() };
            SubgroupSummary {
                family: family.into(),
                group: g.clone(),
                users: found.iter().map(|s| s.users as f64).sum::<f64>() / n,
                nsf,
                auc_diff_vs_all: (0..arms).map(|k| interval(&diffs(k), None)).collect(),
                p_value: (0..arms)
                    .map(|k| {
                        let p = t_test_p(&diffs(k));
                        (k > 0 && enough_events && p.is_finite()).then_some(p)
                    })
                    .collect(),
                q_value: vec![None; arms],
                flagged: vec![false; arms],
                enough_events,
            }
        })
        .collect()
}

/// Benjamini–Hochberg across every p-value of `groups` (one family).
fn correct(groups: &mut [SubgroupSummary]) {
    let p: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.p_value.iter().map(|v| v.unwrap_or(f64::NAN)))
        .collect();
    let q = benjamini_hochberg(&p);
    let mut it = q.into_iter();
    for g in groups.iter_mut() {
        for k in 0..g.p_value.len() {
            let v = it.next().unwrap_or(f64::NAN);
            g.q_value[k] = v.is_finite().then_some(v);
            g.flagged[k] = v < 0.05;
        }
    }
}
