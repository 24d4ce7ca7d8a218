//! The consent sweep: each cell of a grid of consent settings reruns `all`,
//! `consented` and `consented-ipw` on its own populations.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::experiment::run;
use crate::experiment::spec::{ExperimentSpec, ValidSpec};
use crate::stats::interval::Interval;

/// One cell of the consent sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SweepCell {
    /// Consent mechanism.
    pub mechanism: String,
    /// Its strength.
    pub strength: f64,
    /// Target consent rate.
    pub rate: f64,
    /// AUC − AUC(all) of consented-only training.
    pub auc_diff_consented: Interval,
    /// AUC − AUC(all) of IPW-weighted consented training.
    pub auc_diff_ipw: Interval,
    /// Expected-loss difference of consented-only training (KRW per 1,000).
    pub loss_diff_consented: Interval,
}

/// The experiment of one sweep cell: the spec's family and policy on the
/// cell's consent setting, three arms, no learning curves.
fn cell_spec(spec: &ExperimentSpec, m: &str, strength: f64, rate: f64) -> Result<ValidSpec> {
    let sw = spec
        .sweep
        .as_ref()
        .expect("a sweep cell comes from a sweep");
    let mut cell = spec.clone();
    cell.users = sw.users;
    cell.replicates = sw.replicates;
    cell.arms = vec!["all".into(), "consented".into(), "consented-ipw".into()];
    cell.bootstrap = cell.bootstrap.min(50);
    cell.learning_curves = false;
    // The sweep reports the first family's consented arms, not size-matched.
    let first = spec.family_names()?.remove(0);
    cell.model = None;
    cell.families = vec![first];
    cell.size_matched = false;
    cell.sweep = None;
    cell.preset_overrides.extend([
        format!("consent.mechanism=\"{m}\""),
        format!("consent.strength={strength}"),
        format!("consent.rate={rate}"),
    ]);
    cell.check()
}

/// Runs the consent sweep of `spec` (cells in grid order).
pub fn run_sweep(
    spec: &ValidSpec,
    registry: &Path,
    data_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<Vec<SweepCell>> {
    let Some(sw) = &spec.sweep else {
        return Ok(Vec::new());
    };
    let mut cells = Vec::new();
    for m in &sw.mechanisms {
        let strengths: Vec<f64> = if m == "random" {
            vec![0.0]
        } else {
            sw.strengths.clone()
        };
        for &strength in &strengths {
            for &rate in &sw.rates {
                progress(&format!(
                    "sweep: consent {m}, strength {strength}, rate {rate}"
                ));
                let cell = cell_spec(spec.spec(), m, strength, rate)?;
                let (r, _) = run(&cell, registry, data_root, &|_| {})?;
                cells.push(SweepCell {
                    mechanism: m.clone(),
                    strength,
                    rate,
                    auc_diff_consented: r.summary[1].auc_diff_vs_all.clone(),
                    auc_diff_ipw: r.summary[2].auc_diff_vs_all.clone(),
                    loss_diff_consented: r.summary[1].loss_diff_vs_all.clone(),
                });
            }
        }
    }
    Ok(cells)
}
