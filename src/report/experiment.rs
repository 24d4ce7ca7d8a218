//! The experiment report: `report.md` and a self-contained `report.html`
//! that open with the findings in plain words, the plots, and the run
//! folder they are published in.

use std::path::{Path, PathBuf};

use crate::error::{NsfError, Result};
use crate::experiment::{ArmSummary, ExperimentResult, PlotData, ValidSpec};
use crate::report::plot::{self, Curve, Estimate};
use crate::report::{Figure, esc, html_figures, html_head, html_table, md_figures};
use crate::stats::interval::{Interval, interval};
use crate::stats::metrics;

/// Draws every plot of the report into `plots_dir`.
pub fn figures(r: &ExperimentResult, d: &PlotData, plots_dir: &Path) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(plots_dir).map_err(|e| NsfError::io(plots_dir, e))?;
    let mut out = vec![
        roc_figure(d, plots_dir)?,
        calibration_figure(d, plots_dir)?,
        distribution_figure(d, plots_dir)?,
    ];
    out.push(Figure {
        stem: "auc_cost".into(),
        caption:
            "The cost of minimization in AUC points: each arm minus `all`, mean and 95% interval."
                .into(),
        svg: plot::intervals(
            &plots_dir.join("auc_cost"),
            "AUC difference vs training on all users",
            "AUC points (x100)",
            &arm_estimates(r, &|a| &a.auc_diff_vs_all, 100.0),
        )?,
    });
    out.extend(learning_curve_figure(r, plots_dir)?);
    out.extend(sweep_figure(r, plots_dir)?);
    out.extend(subgroup_figure(r, plots_dir)?);
    out.push(Figure {
        stem: "loss_cost".into(),
        caption: "The cost of minimization in money: expected loss from failed grouped charges, each arm minus `all`, KRW per 1,000 registered users, mean and 95% interval.".into(),
        svg: plot::intervals(&plots_dir.join("loss_cost"), "Expected-loss difference vs training on all users", "KRW per 1,000 registered users", &arm_estimates(r, &|a| &a.loss_diff_vs_all, 1.0))?,
    });
    Ok(out)
}

/// ROC curves of every arm (first replicate).
fn roc_figure(d: &PlotData, plots_dir: &Path) -> Result<Figure> {
    let roc: Vec<Curve> = d
        .arms
        .iter()
        .map(|(name, p)| Curve {
            name: format!("{name} (AUC {:.3})", metrics::auc(p, &d.labels)),
            points: metrics::roc_points(p, &d.labels, 300),
            band: Vec::new(),
        })
        .collect();
    Ok(Figure {
        stem: "roc".into(),
        caption:
            "ROC curves of each training arm on the held-out registered users (first replicate)."
                .into(),
        svg: plot::lines(
            &plots_dir.join("roc"),
            "ROC: held-out registered users",
            "false-positive rate",
            "true-positive rate",
            (0.0..1.0, 0.0..1.0),
            &roc,
            true,
        )?,
    })
}

/// Calibration by decile of every arm (first replicate).
fn calibration_figure(d: &PlotData, plots_dir: &Path) -> Result<Figure> {
    let cal: Vec<Curve> = d
        .arms
        .iter()
        .map(|(name, p)| Curve {
            name: name.clone(),
            points: metrics::calibration_points(p, &d.labels, 10),
            band: Vec::new(),
        })
        .collect();
    let top = cal
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0.max(p.1)))
        .fold(0.05f64, f64::max)
        * 1.05;
    Ok(Figure {
        stem: "calibration".into(),
        caption: "Calibration: mean predicted vs observed NSF rate in deciles of predicted probability (first replicate); the diagonal is perfect calibration.".into(),
        svg: plot::lines(&plots_dir.join("calibration"), "Calibration by decile", "mean predicted P(NSF)", "observed NSF rate", (0.0..top, 0.0..top), &cal, true)?,
    })
}

/// Share of users at each score 0–30 per arm (first replicate).
fn distribution_figure(d: &PlotData, plots_dir: &Path) -> Result<Figure> {
    let dist: Vec<Curve> = d
        .arms
        .iter()
        .map(|(name, p)| {
            let mut counts = [0u64; 31];
            for &v in p {
                counts[(crate::models::train::score_of(v) as usize).min(30)] += 1;
            }
            let n = p.len().max(1) as f64;
            Curve {
                name: name.clone(),
                points: (0..=30).map(|s| (s as f64, counts[s] as f64 / n)).collect(),
                band: Vec::new(),
            }
        })
        .collect();
    let ymax = dist
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.01f64, f64::max)
        * 1.1;
    Ok(Figure {
        stem: "score_distribution".into(),
        caption: "Share of held-out registered users at each score 0–30 (30 = 30 or more), per arm (first replicate).".into(),
        svg: plot::lines(&plots_dir.join("score_distribution"), "Score distribution per arm", "NSF score (0-100, higher = riskier)", "share of users", (0.0..30.0, 0.0..ymax), &dist, false)?,
    })
}

/// One interval per arm but `all`, scaled.
fn arm_estimates(
    r: &ExperimentResult,
    f: &dyn Fn(&ArmSummary) -> &Interval,
    scale: f64,
) -> Vec<Estimate> {
    r.summary
        .iter()
        .skip(1)
        .map(|a| {
            let i = f(a);
            Estimate {
                name: a.arm.clone(),
                mean: scale * i.mean,
                low: scale * i.ci95[0],
                high: scale * i.ci95[1],
            }
        })
        .collect()
}

/// The mean learning curve of `arm` with its across-replicate band.
fn learning_curve(r: &ExperimentResult, arm: &str) -> Curve {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    let mut band: Vec<(f64, f64, f64)> = Vec::new();
    for (n, v) in crate::experiment::learning_curve_by_size(&r.replicates, arm) {
        let x = (n as f64).log10();
        let iv = interval(&v, None);
        pts.push((x, iv.mean));
        if v.len() > 1 {
            band.push((x, iv.ci95[0], iv.ci95[1]));
        }
    }
    Curve {
        name: format!(
            "{arm} (mean and 95% band, {} replicates)",
            r.replicates.len()
        ),
        points: pts,
        band,
    }
}

/// Learning curves of `all` and `consented` (none without curves).
fn learning_curve_figure(r: &ExperimentResult, plots_dir: &Path) -> Result<Option<Figure>> {
    let lc = vec![learning_curve(r, "all"), learning_curve(r, "consented")];
    let (xmin, xmax) = lc
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (ymin, ymax) = lc
        .iter()
        .flat_map(|c| {
            c.points
                .iter()
                .map(|p| (p.1, p.1))
                .chain(c.band.iter().map(|b| (b.1, b.2)))
        })
        .fold((f64::MAX, f64::MIN), |(a, b), (lo, hi)| {
            (a.min(lo), b.max(hi))
        });
    if xmax <= xmin {
        return Ok(None);
    }
    Ok(Some(Figure {
        stem: "learning_curve".into(),
        caption: "Learning curves: AUC on held-out registered users against the number of training users (log10), training on all users vs consented users only.".into(),
        svg: plot::lines(&plots_dir.join("learning_curve"), "Learning curves", "log10(training users)", "AUC", (xmin..xmax, (ymin - 0.01)..(ymax + 0.01)), &lc, false)?,
    }))
}

/// The consent sweep's cost against the consent rate (none without sweep).
fn sweep_figure(r: &ExperimentResult, plots_dir: &Path) -> Result<Option<Figure>> {
    if r.sweep.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<(String, f64)> = r
        .sweep
        .iter()
        .map(|c| (c.mechanism.clone(), c.strength))
        .collect();
    keys.dedup();
    let curves: Vec<Curve> = keys
        .iter()
        .map(|(m, st)| Curve {
            name: if m == "random" {
                "random".to_string()
            } else {
                format!("{m}, strength {st}")
            },
            points: r
                .sweep
                .iter()
                .filter(|c| &c.mechanism == m && c.strength == *st)
                .map(|c| (c.rate, 100.0 * c.auc_diff_consented.mean))
                .collect(),
            band: Vec::new(),
        })
        .collect();
    let lo = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::min);
    let hi = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    Ok(Some(Figure {
        stem: "sweep_cost".into(),
        caption: "Cost of consented-only training (AUC points vs training on all users) against the consent rate, per consent mechanism and strength.".into(),
        svg: plot::lines(&plots_dir.join("sweep_cost"), "Cost of minimization vs consent rate", "consent rate", "AUC points vs all (x100)", (0.0..1.0, (lo - 0.5)..(hi + 0.5)), &curves, false)?,
    }))
}

/// Who pays: the cost of one minimized arm by subgroup (regions are in
/// the table).
fn subgroup_figure(r: &ExperimentResult, plots_dir: &Path) -> Result<Option<Figure>> {
    let Some(k) = r
        .spec
        .arms
        .iter()
        .position(|a| a == "consented")
        .or((r.spec.arms.len() > 1).then_some(1))
    else {
        return Ok(None);
    };
    let est: Vec<Estimate> = r
        .subgroups
        .iter()
        .filter(|g| !g.group.starts_with("region"))
        .map(|g| {
            let i = &g.auc_diff_vs_all[k];
            Estimate {
                name: g.group.clone(),
                mean: 100.0 * i.mean,
                low: 100.0 * i.ci95[0],
                high: 100.0 * i.ci95[1],
            }
        })
        .filter(|e| e.mean.is_finite() && e.low.is_finite() && e.high.is_finite())
        .collect();
    if est.is_empty() {
        return Ok(None);
    }
    let arm = &r.spec.arms[k];
    Ok(Some(Figure {
        stem: "subgroup_cost".into(),
        caption: format!(
            "Who pays: AUC difference of `{arm}` vs `all` by age band, device and tenure, mean and 95% interval across replicates (all subgroups, regions included, are in the table)."
        ),
        svg: plot::intervals(
            &plots_dir.join("subgroup_cost"),
            &format!("Who pays: {arm} vs all, by subgroup"),
            "AUC points (x100)",
            &est,
        )?,
    }))
}

fn pts(v: f64) -> String {
    format!("{:+.2}", 100.0 * v)
}

fn ci_pts(i: &Interval) -> String {
    format!("{} [{}, {}]", pts(i.mean), pts(i.ci95[0]), pts(i.ci95[1]))
}

fn ci(i: &Interval, digits: usize) -> String {
    format!(
        "{:.*} [{:.*}, {:.*}]",
        digits, i.mean, digits, i.ci95[0], digits, i.ci95[1]
    )
}

fn find<'a>(r: &'a ExperimentResult, arm: &str) -> Option<&'a ArmSummary> {
    r.summary.iter().find(|a| a.arm == arm)
}

/// The findings, one sentence per comparison.
fn findings(r: &ExperimentResult) -> Vec<String> {
    let mut out = Vec::new();
    let Some(all) = find(r, "all") else {
        return out;
    };
    out.push(format!(
        "Trained on every user (what the case did), the NSF score reaches an AUC of {:.3} (95% interval {:.3}–{:.3}) on held-out Apple-registered users; no model can exceed the ground-truth ceiling of {:.3}.",
        all.auc.mean, all.auc.ci95[0], all.auc.ci95[1], all.oracle_auc.mean
    ));
    if let Some(n) = r.consented_users_enough {
        out.push(format!(
            "From the fitted learning curve, about {:.0} consented users would have been enough to come within {:.3} AUC of the model trained on everyone.",
            n, r.tolerance
        ));
    } else if r.learning_curve_fits.iter().any(|f| f.arm == "consented") {
        out.push(format!(
            "The fitted learning curve of consented-only training never comes within {:.3} AUC of the model trained on everyone.",
            r.tolerance
        ));
    }
    for a in r.summary.iter().skip(1) {
        let sig = a.auc_diff_vs_all.ci95[1] < 0.0 || a.auc_diff_vs_all.ci95[0] > 0.0;
        out.push(format!(
            "Training on `{}` instead changes the AUC by {} points (95% interval {} to {}){}, and the expected loss from failed grouped charges by {:+.0} KRW per 1,000 registered users ({:+.0} to {:+.0}).",
            a.arm,
            pts(a.auc_diff_vs_all.mean),
            pts(a.auc_diff_vs_all.ci95[0]),
            pts(a.auc_diff_vs_all.ci95[1]),
            if sig { "" } else { " — not distinguishable from no cost" },
            a.loss_diff_vs_all.mean,
            a.loss_diff_vs_all.ci95[0],
            a.loss_diff_vs_all.ci95[1]
        ));
    }
    out
}

/// Rows of the main table: arm, AUC, ΔAUC, Gini, KS, Brier, ECE, PSI, refused, loss, Δloss.
fn table_rows(r: &ExperimentResult) -> Vec<Vec<String>> {
    r.summary
        .iter()
        .map(|a| {
            vec![
                a.arm.clone(),
                ci(&a.auc, 4),
                ci_pts(&a.auc_diff_vs_all),
                ci(&a.gini, 3),
                ci(&a.ks, 3),
                ci(&a.brier, 4),
                ci(&a.ece, 4),
                ci(&a.psi_vs_all, 3),
                ci(&a.refused_share, 3),
                ci(&a.expected_loss_krw_per_1000, 0),
                ci(&a.loss_diff_vs_all, 0),
            ]
        })
        .collect()
}

const HEADER: [&str; 11] = [
    "arm",
    "AUC",
    "ΔAUC vs all (points)",
    "Gini",
    "KS",
    "Brier",
    "ECE",
    "PSI vs all",
    "share refused grouping",
    "expected loss (KRW / 1,000 users)",
    "Δ loss vs all",
];

fn intro(r: &ExperimentResult) -> String {
    let rep = &r.replicates;
    format!(
        "Experiment `{}`: {} Population preset `{}`, {} users per replicate, {} replicate(s) (population seeds {}–{}), model family `{}`. Test users: the held-out Apple-registered users of each replicate (about {}), never trained on by any arm. Intervals: 95%, Student t across replicates ({} bootstrap resamples of the test users when there is one replicate); differences between arms are paired on the same test users. Policy: scores ≤ {} get grouped charges; a failed grouped charge loses KRW {:.0}; expected loss uses the simulator's true NSF probability.",
        r.spec.name,
        r.spec.description,
        r.spec.preset,
        r.spec.users,
        r.spec.replicates,
        r.spec.seed,
        r.spec.seed + r.spec.replicates as u64 - 1,
        r.spec.model,
        rep.first().map_or(0, |x| x.test_users),
        r.spec.bootstrap,
        r.spec.policy.max_score_for_grouping,
        r.spec.policy.loss_per_failed_charge_krw
    )
}

/// `report.md`.
pub fn markdown(r: &ExperimentResult, figures: &[Figure]) -> String {
    let mut s = format!(
        "# What minimization costs: experiment `{}`\n\n## Findings\n\n",
        r.spec.name
    );
    for f in findings(r) {
        s.push_str(&format!("- {f}\n"));
    }
    s.push_str(&format!(
        "\n## Set-up\n\n{}\n\n## Metrics per training arm\n\n",
        intro(r)
    ));
    s.push_str(&format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    ));
    for row in table_rows(r) {
        s.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    s.push_str("\n## Per replicate\n\n| replicate seed | arm | model | training members | AUC | ΔAUC [paired bootstrap 95%] |\n|---|---|---|---|---|---|\n");
    for rep in &r.replicates {
        for a in &rep.arms {
            s.push_str(&format!(
                "| {} | {} | `{}` | {} | {:.4} | {} [{}, {}] |\n",
                rep.seed,
                a.arm,
                a.model_id,
                a.training_members,
                a.evaluation.auc,
                pts(a.auc_diff_vs_all),
                pts(a.auc_diff_ci95[0]),
                pts(a.auc_diff_ci95[1])
            ));
        }
    }
    s.push_str("\n## Who pays: AUC difference vs `all` by subgroup (points, mean [95% interval] across replicates)\n\n");
    s.push_str(&format!(
        "| subgroup | test users | {} |\n|---|---|{}\n",
        r.spec.arms[1..].join(" | "),
        "---|".repeat(r.spec.arms.len() - 1)
    ));
    for g in &r.subgroups {
        let cells: Vec<String> = g.auc_diff_vs_all.iter().skip(1).map(ci_pts).collect();
        s.push_str(&format!(
            "| {} | {:.0} | {} |\n",
            g.group,
            g.users,
            cells.join(" | ")
        ));
    }
    if !r.sweep.is_empty() {
        s.push_str("\n## Consent sweep: cost of training on consented users only (AUC points vs `all`, mean [95% interval])\n\n| mechanism | strength | consent rate | consented | consented-ipw | Δ expected loss, consented (KRW / 1,000) |\n|---|---|---|---|---|---|\n");
        for c in &r.sweep {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                c.mechanism,
                c.strength,
                c.rate,
                ci_pts(&c.auc_diff_consented),
                ci_pts(&c.auc_diff_ipw),
                ci(&c.loss_diff_consented, 0)
            ));
        }
    }
    s.push_str(
        "\n## Learning curves\n\n| arm | training users | AUC (replicate 1) |\n|---|---|---|\n",
    );
    for p in &r.replicates[0].learning_curve {
        s.push_str(&format!(
            "| {} | {} | {:.4} |\n",
            p.arm, p.training_users, p.auc
        ));
    }
    for f in &r.learning_curve_fits {
        s.push_str(&format!(
            "\nPower-law fit of the mean `{}` curve: AUC(n) = {:.4} − {:.4}·n^(−{:.3}), RMSE {:.4}.\n",
            f.arm, f.a, f.b, f.c, f.rmse
        ));
    }
    s.push_str(&md_figures(figures));
    s.push_str("\nAll figures are in `metrics.json`; every model is in the registry under its ID, with its training-member digest.\n");
    s
}

/// `report.html`: the same content, self-contained (plots inline as SVG).
pub fn html(r: &ExperimentResult, figures: &[Figure]) -> String {
    let mut s = html_head(
        &format!("nsfsim experiment {}", r.spec.name),
        &format!("What minimization costs: experiment {}", r.spec.name),
    );
    s.push_str("<h2>Findings</h2><ul>");
    for f in findings(r) {
        s.push_str(&format!("<li>{}</li>", esc(&f).replace('`', "")));
    }
    s.push_str(&format!(
        "</ul><h2>Set-up</h2><p>{}</p><h2>Metrics per training arm</h2>",
        esc(&intro(r)).replace('`', "")
    ));
    s.push_str(&html_table(&HEADER, &table_rows(r)));
    s.push_str(&html_figures(figures));
    s.push_str("<p>All figures are in metrics.json.</p></body></html>\n");
    s
}

/// Where `compare` writes and what it reads.
pub struct CompareOutput<'a> {
    /// The run folder.
    pub out: &'a Path,
    /// The model registry.
    pub registry: &'a Path,
    /// Where replicate populations are cached.
    pub data_root: &'a Path,
    /// Replace an existing run folder (only an earlier run).
    pub force: bool,
}

/// Runs the experiment (and its sweep) and publishes the run folder:
/// `metrics.json`, `report.md`, `report.html`, `plots/` and `manifest.json`,
/// staged and renamed when complete, then recorded in the registry's
/// lineage. Returns the result and the folder written.
pub fn compare(
    spec: &ValidSpec,
    to: &CompareOutput,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, PathBuf)> {
    let staged = crate::data::artifact::StagedDir::create_for(to.out, to.force, "run")?;
    let (mut result, plot_data) =
        crate::experiment::run(spec, to.registry, to.data_root, progress)?;
    result.sweep = crate::experiment::run_sweep(spec, to.registry, to.data_root, progress)?;
    progress("plots and report");
    let figures = figures(&result, &plot_data, &staged.path("plots"))?;
    staged.write_json("metrics.json", &result)?;
    staged.write_text("report.md", &markdown(&result, &figures))?;
    staged.write_text("report.html", &html(&result, &figures))?;
    let manifest = crate::experiment::run_manifest(&result, to.registry)?;
    staged.write_json("manifest.json", &manifest)?;
    let out = crate::experiment::record_run(to.registry, staged, &manifest)?;
    Ok((result, out))
}

/// The findings and the table of `report.md` (its lines up to the set-up),
/// for printing.
pub fn summary_lines(r: &ExperimentResult) -> Vec<String> {
    markdown(r, &[])
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("## Set-up"))
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
