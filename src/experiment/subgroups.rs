//! Who pays: the AUC of every arm within subgroups of the test users (age
//! band, device, tenure, region), and its difference to `all` across
//! replicates.

use serde::{Deserialize, Serialize};

use crate::data::features::{AGE_BANDS, Design, age_band};
use crate::experiment::Replicate;
use crate::sim::schema::REGIONS;
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics;

/// AUC of each arm on the test users of one subgroup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubgroupResult {
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubgroupSummary {
    /// Subgroup label.
    pub group: String,
    /// Mean test users per replicate.
    pub users: f64,
    /// Per arm (in `arms` order, `all` first): AUC − AUC(all).
    pub auc_diff_vs_all: Vec<Interval>,
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

/// Across replicates, per subgroup: each arm's AUC difference to `all`.
pub fn summarize(replicates: &[Replicate], arms: usize) -> Vec<SubgroupSummary> {
    let mut group_names: Vec<String> = replicates
        .iter()
        .flat_map(|r| r.subgroups.iter().map(|g| g.group.clone()))
        .collect();
    group_names.sort();
    group_names.dedup();
    group_names
        .iter()
        .map(|g| {
            let found: Vec<&SubgroupResult> = replicates
                .iter()
                .filter_map(|r| r.subgroups.iter().find(|s| &s.group == g))
                .collect();
            SubgroupSummary {
                group: g.clone(),
                users: found.iter().map(|s| s.users as f64).sum::<f64>()
                    / found.len().max(1) as f64,
                auc_diff_vs_all: (0..arms)
                    .map(|k| {
                        interval(
                            &found
                                .iter()
                                .map(|s| s.auc[k] - s.auc[0])
                                .collect::<Vec<_>>(),
                            None,
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}
