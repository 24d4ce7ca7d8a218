//! The experiment report: `report.md` and a self-contained `report.html` that
//! open with the findings in plain words, and the plots (through `plot`).

pub mod plot;

use std::path::Path;

use crate::error::Result;
use crate::experiment::{ArmSummary, ExperimentResult, Interval, PlotData};
use crate::stats::metrics;
use plot::{Curve, Estimate};

/// A drawn plot: file stem (in `plots/`), caption, inline SVG.
pub struct Figure {
    /// File stem, e.g. `roc`.
    pub stem: String,
    /// Caption.
    pub caption: String,
    /// The SVG text (embedded in report.html).
    pub svg: String,
}

/// Draws every plot of the report into `plots_dir`.
pub fn figures(r: &ExperimentResult, d: &PlotData, plots_dir: &Path) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(plots_dir).map_err(|e| crate::error::NsfError::io(plots_dir, e))?;
    let mut out = Vec::new();
    let roc: Vec<Curve> = d
        .arms
        .iter()
        .map(|(name, p)| Curve {
            name: format!("{name} (AUC {:.3})", metrics::auc(p, &d.labels)),
            points: metrics::roc_points(p, &d.labels, 300),
            band: Vec::new(),
        })
        .collect();
    out.push(Figure {
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
    });
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
    out.push(Figure {
        stem: "calibration".into(),
        caption: "Calibration: mean predicted vs observed NSF rate in deciles of predicted probability (first replicate); the diagonal is perfect calibration.".into(),
        svg: plot::lines(&plots_dir.join("calibration"), "Calibration by decile", "mean predicted P(NSF)", "observed NSF rate", (0.0..top, 0.0..top), &cal, true)?,
    });
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
    out.push(Figure {
        stem: "score_distribution".into(),
        caption: "Share of held-out registered users at each score 0–30 (30 = 30 or more), per arm (first replicate).".into(),
        svg: plot::lines(&plots_dir.join("score_distribution"), "Score distribution per arm", "NSF score (0-100, higher = riskier)", "share of users", (0.0..30.0, 0.0..ymax), &dist, false)?,
    });
    let est = |f: &dyn Fn(&ArmSummary) -> &Interval, scale: f64| -> Vec<Estimate> {
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
    };
    out.push(Figure {
        stem: "auc_cost".into(),
        caption:
            "The cost of minimization in AUC points: each arm minus `all`, mean and 95% interval."
                .into(),
        svg: plot::intervals(
            &plots_dir.join("auc_cost"),
            "AUC difference vs training on all users",
            "AUC points (x100)",
            &est(&|a| &a.auc_diff_vs_all, 100.0),
        )?,
    });
    let curve = |arm: &str| -> Curve {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        let mut band: Vec<(f64, f64, f64)> = Vec::new();
        for (n, v) in crate::experiment::learning_curve_by_size(&r.replicates, arm) {
            let x = (n as f64).log10();
            let iv = crate::experiment::interval(&v, None);
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
    };
    let lc = vec![curve("all"), curve("consented")];
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
    if xmax > xmin {
        out.push(Figure {
            stem: "learning_curve".into(),
            caption: "Learning curves: AUC on held-out registered users against the number of training users (log10), training on all users vs consented users only.".into(),
            svg: plot::lines(&plots_dir.join("learning_curve"), "Learning curves", "log10(training users)", "AUC", (xmin..xmax, (ymin - 0.01)..(ymax + 0.01)), &lc, false)?,
        });
    }
    if !r.sweep.is_empty() {
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
        out.push(Figure {
            stem: "sweep_cost".into(),
            caption: "Cost of consented-only training (AUC points vs training on all users) against the consent rate, per consent mechanism and strength.".into(),
            svg: plot::lines(&plots_dir.join("sweep_cost"), "Cost of minimization vs consent rate", "consent rate", "AUC points vs all (x100)", (0.0..1.0, (lo - 0.5)..(hi + 0.5)), &curves, false)?,
        });
    }
    // Who pays: the cost of one minimized arm by subgroup (regions are in the table).
    if let Some(k) = r
        .spec
        .arms
        .iter()
        .position(|a| a == "consented")
        .or((r.spec.arms.len() > 1).then_some(1))
    {
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
        if !est.is_empty() {
            let arm = &r.spec.arms[k];
            out.push(Figure {
                stem: "subgroup_cost".into(),
                caption: format!("Who pays: AUC difference of `{arm}` vs `all` by age band, device and tenure, mean and 95% interval across replicates (all subgroups, regions included, are in the table)."),
                svg: plot::intervals(&plots_dir.join("subgroup_cost"), &format!("Who pays: {arm} vs all, by subgroup"), "AUC points (x100)", &est)?,
            });
        }
    }
    out.push(Figure {
        stem: "loss_cost".into(),
        caption: "The cost of minimization in money: expected loss from failed grouped charges, each arm minus `all`, KRW per 1,000 registered users, mean and 95% interval.".into(),
        svg: plot::intervals(&plots_dir.join("loss_cost"), "Expected-loss difference vs training on all users", "KRW per 1,000 registered users", &est(&|a| &a.loss_diff_vs_all, 1.0))?,
    });
    Ok(out)
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

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The start of a self-contained HTML report, up to its first heading.
fn html_head(title: &str, h1: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}table{{border-collapse:collapse;font-size:0.85em}}td,th{{border:1px solid #bbb;padding:3px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body><h1>{}</h1>",
        esc(title),
        esc(h1)
    )
}

/// An HTML table.
fn html_table<H: AsRef<str>>(header: &[H], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        s.push_str(&format!("<th>{}</th>", esc(h.as_ref())));
    }
    s.push_str("</tr>");
    for row in rows {
        s.push_str("<tr>");
        for c in row {
            s.push_str(&format!("<td>{}</td>", esc(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// Figures inline (SVG) with their captions.
fn html_figures(figures: &[Figure]) -> String {
    let mut s = String::new();
    if !figures.is_empty() {
        s.push_str("<h2>Plots</h2>");
    }
    for f in figures {
        let svg = f.svg.find("<svg").map_or(f.svg.as_str(), |i| &f.svg[i..]);
        s.push_str(&format!(
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            esc(&f.caption).replace('`', "")
        ));
    }
    s
}

/// Figures as Markdown image links (PNG, beside the report in `plots/`).
fn md_figures(figures: &[Figure]) -> String {
    let mut s = String::new();
    if !figures.is_empty() {
        s.push_str("\n## Plots\n\n");
    }
    for f in figures {
        s.push_str(&format!(
            "![{}](plots/{}.png)\n\n{}\n\n",
            f.stem, f.stem, f.caption
        ));
    }
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

// ---------------------------------------------------------------- audit --

use crate::audit::{AttackResult, AuditResult, Est};

/// Draws the audit's plots into `plots_dir`.
pub fn audit_figures(r: &AuditResult, plots_dir: &Path) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(plots_dir).map_err(|e| crate::error::NsfError::io(plots_dir, e))?;
    let curves: Vec<Curve> = r
        .membership
        .attacks
        .iter()
        .map(|a| Curve {
            name: format!("{}, {} (AUC {:.3})", a.target, a.attack, a.auc.value),
            points: a.roc.clone(),
            band: Vec::new(),
        })
        .collect();
    let roc = plot::loglog(
        &plots_dir.join("membership_roc"),
        "Membership inference: who was in the training set?",
        "false-positive rate (non-members flagged)",
        "true-positive rate (members found)",
        &curves,
    )?;
    let rows: Vec<plot::BarRow> = r
        .attributes
        .iter()
        .map(|a| plot::BarRow {
            name: a.attribute.clone(),
            values: vec![a.r2_score.value, a.r2_quasi.value, a.r2_score_quasi.value],
        })
        .collect();
    let attrs = plot::hbars(
        &plots_dir.join("attribute_inference"),
        "How much of each attribute the score gives away",
        "R² on held-out users (0 = nothing, 1 = the attribute itself)",
        &[
            "score alone".into(),
            "age band + region alone".into(),
            "score + age band + region".into(),
        ],
        &rows,
    )?;
    Ok(vec![
        Figure {
            stem: "membership_roc".into(),
            caption: "Membership-inference ROC on log-log axes (the low false-positive region is where an attack is useful). The diagonal is chance.".into(),
            svg: roc,
        },
        Figure {
            stem: "attribute_inference".into(),
            caption: "R² of each attribute predicted from the score (held-out half of the users), from the public quasi-identifiers alone, and from both.".into(),
            svg: attrs,
        },
    ])
}

fn est(e: &Est, digits: usize) -> String {
    format!(
        "{:.d$} ({:.d$}–{:.d$})",
        e.value,
        e.ci95[0],
        e.ci95[1],
        d = digits
    )
}

fn attack<'a>(r: &'a AuditResult, target: &str, kind: &str) -> Option<&'a AttackResult> {
    r.membership
        .attacks
        .iter()
        .find(|a| a.target == target && a.attack == kind)
}

/// The audit's findings in plain words.
pub fn audit_findings(r: &AuditResult) -> Vec<String> {
    let mut out = Vec::new();
    let m = &r.membership;
    for kind in ["loss-threshold", "lira"] {
        if let Some(a) = attack(r, "model", kind) {
            let verdict = if a.auc.ci95[0] <= 0.5 && a.tpr_at_1pct_fpr.ci95[0] <= 0.01 {
                "not distinguishable from guessing: the model does not reveal who it was trained on"
            } else if a.auc.value < 0.55 {
                "slightly above guessing"
            } else {
                "clearly above guessing: the model reveals who it was trained on"
            };
            out.push(format!(
                "Membership, {} attack on model {} (trained on {} {} users): AUC {} and {:.2}% of members found at a 1% false-positive rate ({:.2}–{:.2}%; guessing finds 1%) — {}.",
                if kind == "lira" { "LiRA" } else { "loss-threshold" },
                r.model.model_id,
                m.training_members,
                m.population_rule,
                est(&a.auc, 3),
                100.0 * a.tpr_at_1pct_fpr.value,
                100.0 * a.tpr_at_1pct_fpr.ci95[0],
                100.0 * a.tpr_at_1pct_fpr.ci95[1],
                verdict
            ));
        }
    }
    if let (Some(l), Some(x)) = (
        attack(r, "overfit control", "loss-threshold"),
        attack(r, "overfit control", "lira"),
    ) {
        out.push(format!(
            "Positive control: the same attacks against a deliberately overfit model ({} training users; AUC {:.3} on them, {:.3} on others) reach AUC {:.3} (loss) and {:.3} (LiRA), finding {:.1}% and {:.1}% of members at a 1% false-positive rate (guessing: 1%). LiRA, which calibrates the attack user by user with shadow models, is the one to trust: the plain loss attack is weak on a rare outcome, since most users' outcome (no NSF) is predicted confidently whether or not they were trained on.",
            m.control.training_users,
            m.control.train_auc,
            m.control.test_auc,
            l.auc.value,
            x.auc.value,
            100.0 * l.tpr_at_1pct_fpr.value,
            100.0 * x.tpr_at_1pct_fpr.value
        ));
    }
    let mut by_r2: Vec<_> = r.attributes.iter().collect();
    by_r2.sort_by(|a, b| b.r2_score.value.total_cmp(&a.r2_score.value));
    let top: Vec<String> = by_r2
        .iter()
        .take(3)
        .map(|a| {
            format!(
                "{} (the score explains {:.0}% of its variation; {:.2} of its {:.2} bits)",
                a.attribute,
                100.0 * a.r2_score.value,
                a.mi_bits,
                a.entropy_bits
            )
        })
        .collect();
    let little = r
        .attributes
        .iter()
        .filter(|a| a.r2_score.value < 0.05)
        .count();
    let ids: Vec<_> = r
        .attributes
        .iter()
        .filter(|a| a.kind == "identifier")
        .collect();
    let max_id_r2 = ids
        .iter()
        .map(|a| a.r2_score.value.abs())
        .fold(0.0, f64::max);
    let max_id_mi = ids.iter().map(|a| a.mi_bits).fold(0.0, f64::max);
    let best = by_r2.first().map_or(0.0, |a| a.r2_score.value);
    out.push(format!(
        "Is the score the source data? No: one number from 0 to 100 cannot hold 24 attributes, and none can be read back exactly. {} {}. For {} of the 24 attributes it reveals almost nothing (R² < 0.05); the four identifiers (account ID, customer number, phone and e-mail digests) cannot be inferred at all (|R²| ≤ {:.3}, ≤ {:.4} bits).",
        if best >= 0.5 {
            "But it is a strong summary of the attributes that drive the risk, most of all"
        } else {
            "It is a weak summary of any single attribute; it carries most about"
        },
        top.join(", "),
        little,
        max_id_r2,
        max_id_mi
    ));
    let u = |k: &str| r.uniqueness.iter().find(|x| x.key == k);
    if let (Some(s), Some(q), Some(b), Some(e)) = (
        u("score"),
        u("age band + region"),
        u("score + age band + region"),
        u("score + age + region + device"),
    ) {
        out.push(format!(
            "Singling out (all {} users): the score alone puts a typical user in a group of {} people; age band and region alone, {}; score with age band and region, {} ({} users, {:.3}%, unique); score with exact age, region and device, {} ({} users, {:.2}%, unique). Uniqueness is a re-identification risk only for someone who also knows those quasi-identifiers and the score.",
            r.users,
            s.median_group_size,
            q.median_group_size,
            b.median_group_size,
            b.unique_users,
            100.0 * b.unique_share,
            e.median_group_size,
            e.unique_users,
            100.0 * e.unique_share
        ));
    }
    let rp = &r.replacement;
    out.push(format!(
        "The lawful replacement: the same model trained only on consented users ({} users, model {}) changes the AUC on held-out registered users by {:+.2} points ({:+.2} to {:+.2}) and the expected loss from failed grouped charges by {:+.0} KRW per 1,000 users ({:+.0} to {:+.0}).",
        rp.training_users,
        rp.model_id,
        100.0 * rp.auc_diff.value,
        100.0 * rp.auc_diff.ci95[0],
        100.0 * rp.auc_diff.ci95[1],
        rp.loss_diff.value,
        rp.loss_diff.ci95[0],
        rp.loss_diff.ci95[1]
    ));
    out
}

fn audit_tables(r: &AuditResult) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let attacks = r
        .membership
        .attacks
        .iter()
        .map(|a| {
            vec![
                a.target.clone(),
                a.attack.clone(),
                format!("{} / {}", a.members, a.non_members),
                est(&a.auc, 3),
                format!(
                    "{:.2}% ({:.2}–{:.2}%)",
                    100.0 * a.tpr_at_0_1pct_fpr.value,
                    100.0 * a.tpr_at_0_1pct_fpr.ci95[0],
                    100.0 * a.tpr_at_0_1pct_fpr.ci95[1]
                ),
                format!(
                    "{:.2}% ({:.2}–{:.2}%)",
                    100.0 * a.tpr_at_1pct_fpr.value,
                    100.0 * a.tpr_at_1pct_fpr.ci95[0],
                    100.0 * a.tpr_at_1pct_fpr.ci95[1]
                ),
            ]
        })
        .collect();
    let attrs = r
        .attributes
        .iter()
        .map(|a| {
            vec![
                a.attribute.clone(),
                format!("{} ({})", a.kind, a.scale),
                est(&a.r2_score, 3),
                est(&a.r2_quasi, 3),
                est(&a.r2_score_quasi, 3),
                a.auc_score.as_ref().map_or("".into(), |e| est(e, 3)),
                format!("{:.3}", a.mi_bits),
                format!("{:.2}", a.entropy_bits),
            ]
        })
        .collect();
    let uniq = r
        .uniqueness
        .iter()
        .map(|u| {
            vec![
                u.key.clone(),
                u.groups.to_string(),
                u.unique_users.to_string(),
                format!("{:.4}%", 100.0 * u.unique_share),
                u.median_group_size.to_string(),
            ]
        })
        .collect();
    let rp = &r.replacement;
    let repl = vec![
        vec![
            format!("audited ({})", r.model.model_id),
            r.model.training_members.count.to_string(),
            format!("{:.4}", rp.auc_audited),
            format!("{:.0}", rp.loss_audited),
        ],
        vec![
            format!("consented only ({})", rp.model_id),
            rp.training_users.to_string(),
            format!(
                "{:.4} ({:+.2} points, {:+.2} to {:+.2})",
                rp.auc_replacement,
                100.0 * rp.auc_diff.value,
                100.0 * rp.auc_diff.ci95[0],
                100.0 * rp.auc_diff.ci95[1]
            ),
            format!(
                "{:.0} ({:+.0}, {:+.0} to {:+.0})",
                rp.loss_replacement, rp.loss_diff.value, rp.loss_diff.ci95[0], rp.loss_diff.ci95[1]
            ),
        ],
    ];
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            "Membership inference".into(),
            s(&[
                "target",
                "attack",
                "members / non-members",
                "AUC (95% CI)",
                "TPR at 0.1% FPR",
                "TPR at 1% FPR",
            ]),
            attacks,
        ),
        (
            "Attribute inference from the score".into(),
            s(&[
                "attribute",
                "kind (scale)",
                "R² score",
                "R² age band + region",
                "R² score + age band + region",
                "AUC score (binary)",
                "MI score (bits)",
                "entropy (bits)",
            ]),
            attrs,
        ),
        (
            "How many people a key singles out".into(),
            s(&[
                "key",
                "groups",
                "unique users",
                "unique share",
                "median group size",
            ]),
            uniq,
        ),
        (
            format!(
                "The lawful replacement ({} held-out registered users)",
                rp.test_users
            ),
            s(&[
                "model",
                "training users",
                "AUC",
                "expected KRW lost per 1,000 users",
            ]),
            repl,
        ),
    ]
}

fn audit_intro(r: &AuditResult) -> String {
    let p = &r.params;
    format!(
        "Model `{}` ({}, features: {}), trained on {} `{}` users of data set `{}` (preset {}, seed {}, {} users). Membership attacks use {} members and as many held-out non-members of the same population, {} shadow models for LiRA (each trained on a random half of the population, same family and settings), and {} bootstrap resamples for the intervals. Attribute inference uses {} users (every user, or a seeded sample): cell means (score value, age band × region, or both) learned on one half, R² measured on the other (numeric attributes on their model scale: log1p for amounts and counts). Mutual information is the plug-in estimate with the Miller–Madow bias correction, numeric attributes in 10 quantile bins. Money policy: score ≤ {} grouped, {} KRW per failed grouped charge.",
        r.model.model_id,
        r.model.family,
        r.model.features.len(),
        r.membership.training_members,
        r.membership.population_rule,
        r.model.data.dir,
        r.model.data.preset,
        r.model.data.seed,
        r.users,
        r.membership.attacks.first().map_or(0, |a| a.members),
        p.shadows,
        p.bootstrap,
        r.attribute_sample,
        p.policy.max_score_for_grouping,
        p.policy.loss_per_failed_charge_krw
    )
}

/// Plain-words key to the audit's measures.
const READING: &str = "A membership attack scores every user; the AUC is the chance that a random member scores above a random non-member (0.5 = guessing, 1 = certain). What matters in practice is the true-positive rate at a low false-positive rate: the share of members an attacker finds while wrongly accusing only 0.1% or 1% of non-members; guessing finds 0.1% and 1%. R² is the share of an attribute's variation that a prediction explains on users it was not learned from: 0 means the score tells nothing about the attribute, 1 that it gives the attribute exactly; slightly negative values are noise. Bits measure information: an attribute cut into 10 equal groups holds 3.32 bits; the score's mutual information says how many of them it carries. A unique user is the only one with their combination of values; the median group size is how many people a typical user hides among.";

/// `audit.md`.
pub fn audit_markdown(r: &AuditResult, figures: &[Figure]) -> String {
    let mut s = format!(
        "# What model {} still reveals\n\n## Findings\n\n",
        r.model.model_id
    );
    for f in audit_findings(r) {
        s.push_str(&format!("- {f}\n"));
    }
    s.push_str(&format!("\n## Set-up\n\n{}\n", audit_intro(r)));
    s.push_str(&format!("\n## How to read the tables\n\n{READING}\n"));
    for (title, header, rows) in audit_tables(r) {
        s.push_str(&format!(
            "\n## {title}\n\n| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for row in rows {
            s.push_str(&format!("| {} |\n", row.join(" | ")));
        }
    }
    s.push_str(&md_figures(figures));
    s.push_str("\nAll figures are in audit.json.\n");
    s
}

/// `audit.html`, self-contained.
pub fn audit_html(r: &AuditResult, figures: &[Figure]) -> String {
    let mut s = html_head(
        &format!("nsfsim audit {}", r.model.model_id),
        &format!("What model {} still reveals", r.model.model_id),
    );
    s.push_str("<h2>Findings</h2><ul>");
    for f in audit_findings(r) {
        s.push_str(&format!("<li>{}</li>", esc(&f)));
    }
    s.push_str(&format!(
        "</ul><h2>Set-up</h2><p>{}</p><h2>How to read the tables</h2><p>{}</p>",
        esc(&audit_intro(r)).replace('`', ""),
        esc(READING)
    ));
    for (title, header, rows) in audit_tables(r) {
        s.push_str(&format!("<h2>{}</h2>", esc(&title)));
        s.push_str(&html_table(&header, &rows));
    }
    s.push_str(&html_figures(figures));
    s.push_str("<p>All figures are in audit.json.</p></body></html>\n");
    s
}
