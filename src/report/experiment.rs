//! The experiment report: `report.md` and a self-contained `report.html`
//! that open with the findings in plain words, the plots, and the run
//! folder they are published in.

use std::path::{Path, PathBuf};

use crate::error::{NsfError, Result};
use crate::experiment::{ArmSummary, ExperimentResult, PlotData, ValidSpec};
use crate::report::plot::{self, Axes, Curve, Estimate, Ticks};
use crate::report::tidy::{self, CurveRows};
use crate::report::{Figure, md_figures};
use crate::stats::interval::{Interval, interval};

/// One colour per arm (spec order, `all` black) and one line style per
/// model family, the same in every plot of a run.
pub(crate) struct Styles {
    arms: Vec<String>,
    families: Vec<String>,
}

impl Styles {
    /// The styles of a run's arms and families.
    pub(crate) fn of(r: &ExperimentResult) -> Styles {
        let mut arms = r.spec.arms.clone();
        let mut families: Vec<String> = Vec::new();
        for a in &r.summary {
            if !arms.contains(&a.arm) {
                arms.push(a.arm.clone());
            }
            if !families.contains(&a.family) {
                families.push(a.family.clone());
            }
        }
        Styles { arms, families }
    }

    fn color(&self, arm: &str) -> usize {
        self.arms.iter().position(|a| a == arm).unwrap_or(0)
    }

    fn dash(&self, family: &str) -> usize {
        self.families.iter().position(|f| f == family).unwrap_or(0)
    }

    fn curve(&self, family: &str, arm: &str, name: String, pts: Points) -> Curve {
        Curve {
            name,
            points: pts.0,
            band: pts.1,
            color: self.color(arm),
            dash: self.dash(family),
        }
    }
}

/// A mean curve and its across-replicate 95% band.
type Points = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

/// The (family, arm) pairs drawn: every spec arm of every family (not the
/// size-matched arms), family-major.
fn plotted(r: &ExperimentResult) -> Vec<(&str, &str)> {
    r.summary
        .iter()
        .filter(|a| r.spec.arms.contains(&a.arm))
        .map(|a| (a.family.as_str(), a.arm.as_str()))
        .collect()
}

/// Bands need this many replicates: with two, Student's t (12.7) makes a
/// band wider than the axis.
const BAND_REPLICATES: usize = 3;

/// Mean of `per_rep[*][k]` at each `x[k]`, with the Student-t 95% band
/// across replicates (none with fewer than [`BAND_REPLICATES`]).
fn mean_band(x: &[f64], per_rep: &[Vec<f64>]) -> Points {
    let (mut pts, mut band) = (Vec::new(), Vec::new());
    for (k, &xk) in x.iter().enumerate() {
        let vals: Vec<f64> = per_rep.iter().filter_map(|v| v.get(k).copied()).collect();
        if vals.is_empty() {
            continue;
        }
        let iv = interval(&vals, None);
        pts.push((xk, iv.mean));
        if vals.len() >= BAND_REPLICATES {
            band.push((xk, iv.ci95[0], iv.ci95[1]));
        }
    }
    (pts, band)
}

/// y at `x` on a curve sorted by x (linear between points).
fn interp(pts: &[(f64, f64)], x: f64) -> f64 {
    match pts.iter().position(|p| p.0 >= x) {
        None => pts.last().map_or(0.0, |p| p.1),
        Some(0) => pts[0].1,
        Some(j) => {
            let (a, b) = (pts[j - 1], pts[j]);
            if b.0 - a.0 <= 0.0 {
                b.1
            } else {
                a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
            }
        }
    }
}

/// Draws every plot of the report into `plots_dir`, from the same rows the
/// tidy tables hold.
pub fn figures(r: &ExperimentResult, d: &[PlotData], plots_dir: &Path) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(plots_dir).map_err(|e| NsfError::io(plots_dir, e))?;
    let st = Styles::of(r);
    let mut out = vec![
        roc_figure(r, &st, &tidy::roc_rows(d), d.len(), plots_dir)?,
        calibration_figure(r, &st, &tidy::calibration_rows(d), d.len(), plots_dir)?,
        distribution_figure(r, &st, &tidy::histogram_rows(d), d.len(), plots_dir)?,
    ];
    out.push(Figure {
        stem: "auc_cost".into(),
        caption:
            "The cost of minimization in AUC points: each arm minus `all`, mean and 95% interval, grouped by model family."
                .into(),
        svg: plot::intervals(
            &plots_dir.join("auc_cost"),
            "AUC change vs training on all users",
            "AUC change (points)",
            Ticks::Decimal(1),
            &arm_estimates(r, &st, &|a| &a.auc_diff_vs_all, 100.0),
        )?,
    });
    out.push(Figure {
        stem: "loss_cost_equal_rate".into(),
        caption: money(r, "The cost of minimization in money at equal grouping rate: each arm refuses the share of users `all` (same family) refuses under the policy; expected-loss difference vs `all`, KRW per 1,000 registered users, mean and 95% interval."),
        svg: plot::intervals(&plots_dir.join("loss_cost_equal_rate"), "Expected loss at equal grouping rate vs all", &money(r, "loss change (KRW per 1,000 users)"), Ticks::Krw, &arm_estimates(r, &st, &|a| &a.loss_equal_rate_diff_vs_all, 1.0))?,
    });
    out.push(cost_curve_figure(r, &st, plots_dir)?);
    out.extend(learning_curve_figure(r, &st, plots_dir)?);
    out.extend(sweep_figure(r, plots_dir)?);
    out.extend(subgroup_figure(r, &st, plots_dir)?);
    out.extend(crate::report::lawful::figures(r, plots_dir)?);
    out.push(Figure {
        stem: "loss_cost".into(),
        caption: money(r, "The cost of minimization in money: expected loss from failed grouped charges, each arm minus `all`, KRW per 1,000 registered users, mean and 95% interval."),
        svg: plot::intervals(&plots_dir.join("loss_cost"), "Expected-loss change vs training on all users", &money(r, "loss change (KRW per 1,000 users)"), Ticks::Krw, &arm_estimates(r, &st, &|a| &a.loss_diff_vs_all, 1.0))?,
    });
    Ok(out)
}

/// Per replicate, `f` of the points of `family`/`arm`.
/// Turns one replicate's curve points into values on a common grid.
type OnGrid<'a> = &'a dyn Fn(&[(f64, f64)]) -> Vec<f64>;

fn per_rep(rows: &CurveRows, reps: usize, family: &str, arm: &str, f: OnGrid) -> Vec<Vec<f64>> {
    (1..=reps)
        .map(|i| f(&rows.points(Some(i as i32), family, arm)))
        .collect()
}

/// ROC curves of every arm: mean true-positive rate across replicates at
/// each false-positive rate, with the 95% band.
fn roc_figure(
    r: &ExperimentResult,
    st: &Styles,
    roc: &CurveRows,
    reps: usize,
    plots_dir: &Path,
) -> Result<Figure> {
    let grid: Vec<f64> = (0..=100).map(|i| i as f64 / 100.0).collect();
    let curves: Vec<Curve> = plotted(r)
        .into_iter()
        .map(|(fam, arm)| {
            let ys = per_rep(roc, reps, fam, arm, &|p| {
                grid.iter().map(|&x| interp(p, x)).collect()
            });
            let auc = r
                .summary
                .iter()
                .find(|a| a.family == fam && a.arm == arm)
                .map_or(f64::NAN, |a| a.auc.mean);
            st.curve(
                fam,
                arm,
                format!("{arm}, {fam} (AUC {auc:.3})"),
                mean_band(&grid, &ys),
            )
        })
        .collect();
    Ok(Figure {
        stem: "roc".into(),
        caption: format!(
            "ROC curves of each training arm on the held-out registered users: mean true-positive rate across {reps} replicate(s) with its 95% band; colour = arm, line style = model family."
        ),
        svg: plot::lines(
            &plots_dir.join("roc"),
            &Axes {
                title: "ROC: held-out registered users".into(),
                x_desc: "false-positive rate".into(),
                y_desc: "true-positive rate".into(),
                x: 0.0..1.0,
                y: 0.0..1.0,
                x_ticks: Ticks::Decimal(1),
                y_ticks: Ticks::Decimal(1),
                x_count: 11,
                diagonal: true,
            },
            &curves,
        )?,
    })
}

/// Calibration by decile of every arm, mean across replicates with the 95%
/// band of the observed rate.
fn calibration_figure(
    r: &ExperimentResult,
    st: &Styles,
    cal: &CurveRows,
    reps: usize,
    plots_dir: &Path,
) -> Result<Figure> {
    let curves: Vec<Curve> = plotted(r)
        .into_iter()
        .map(|(fam, arm)| {
            let xs = per_rep(cal, reps, fam, arm, &|p| p.iter().map(|q| q.0).collect());
            let ys = per_rep(cal, reps, fam, arm, &|p| p.iter().map(|q| q.1).collect());
            let x: Vec<f64> = mean_band(&vec![0.0; xs[0].len()], &xs)
                .0
                .iter()
                .map(|p| p.1)
                .collect();
            st.curve(fam, arm, format!("{arm}, {fam}"), mean_band(&x, &ys))
        })
        .collect();
    let top = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0.max(p.1)))
        .fold(0.05f64, f64::max)
        * 1.05;
    Ok(Figure {
        stem: "calibration".into(),
        caption: format!(
            "Calibration: mean predicted vs observed NSF rate in deciles of predicted probability, mean across {reps} replicate(s) with the 95% band of the observed rate; the diagonal is perfect calibration."
        ),
        svg: plot::lines(
            &plots_dir.join("calibration"),
            &Axes {
                title: "Calibration by decile".into(),
                x_desc: "mean predicted P(NSF)".into(),
                y_desc: "observed NSF rate".into(),
                x: 0.0..top,
                y: 0.0..top,
                x_ticks: Ticks::Decimal(2),
                y_ticks: Ticks::Decimal(2),
                x_count: 8,
                diagonal: true,
            },
            &curves,
        )?,
    })
}

/// Share of users at each score 0–30 (30 = 30 or more) per arm, mean
/// across replicates.
fn distribution_figure(
    r: &ExperimentResult,
    st: &Styles,
    hist: &CurveRows,
    reps: usize,
    plots_dir: &Path,
) -> Result<Figure> {
    let x: Vec<f64> = (0..=30).map(f64::from).collect();
    let curves: Vec<Curve> = plotted(r)
        .into_iter()
        .map(|(fam, arm)| {
            let ys = per_rep(hist, reps, fam, arm, &|p| {
                let mut v: Vec<f64> = p.iter().take(30).map(|q| q.1).collect();
                v.push(p.iter().skip(30).map(|q| q.1).sum());
                v
            });
            st.curve(
                fam,
                arm,
                format!("{arm}, {fam}"),
                (mean_band(&x, &ys).0, Vec::new()),
            )
        })
        .collect();
    let ymax = y_top(&curves, 0.01) * 1.1;
    Ok(Figure {
        stem: "score_distribution".into(),
        caption: format!(
            "Share of held-out registered users at each score 0–30 (30 = 30 or more), per arm, mean across {reps} replicate(s)."
        ),
        svg: plot::lines(
            &plots_dir.join("score_distribution"),
            &Axes {
                title: "Score distribution per arm".into(),
                x_desc: "NSF score (higher = riskier; 30 = 30 or more)".into(),
                y_desc: "share of users".into(),
                x: 0.0..30.0,
                y: 0.0..ymax,
                x_ticks: Ticks::Integer,
                y_ticks: Ticks::Decimal(2),
                x_count: 16,
                diagonal: false,
            },
            &curves,
        )?,
    })
}

/// The largest y value of `curves`, at least `floor` (the top of a y axis
/// before its margin).
fn y_top(curves: &[Curve], floor: f64) -> f64 {
    curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(floor, f64::max)
}

/// The cost curves of every spec arm (mean across replicates, with the 95%
/// band).
fn cost_curve_figure(r: &ExperimentResult, st: &Styles, plots_dir: &Path) -> Result<Figure> {
    let rows = tidy::cost_curve_rows(r);
    let reps = r.replicates.len();
    let curves: Vec<Curve> = plotted(r)
        .into_iter()
        .map(|(fam, arm)| {
            let mean = rows.points(None, fam, arm);
            let x: Vec<f64> = mean.iter().map(|p| p.0).collect();
            let ys = per_rep(&rows, reps, fam, arm, &|p| p.iter().map(|q| q.1).collect());
            let band = if ys.iter().all(|v| v.len() == x.len()) {
                mean_band(&x, &ys).1
            } else {
                Vec::new()
            };
            st.curve(fam, arm, format!("{arm}, {fam}"), (mean, band))
        })
        .collect();
    let top = y_top(&curves, 1.0) * 1.05;
    Ok(Figure {
        stem: "cost_curve".into(),
        caption: money(
            r,
            "Cost curves: expected loss from failed grouped charges (KRW per 1,000 registered users) against the share of users refused grouping, each model refusing its riskiest users; lower is better at every share (mean across replicates, 95% band).",
        ),
        svg: plot::lines(
            &plots_dir.join("cost_curve"),
            &Axes {
                title: "Expected loss vs share refused grouping".into(),
                x_desc: "share of users refused grouping".into(),
                y_desc: money(r, "expected loss (KRW per 1,000 users)"),
                x: 0.0..0.5,
                y: 0.0..top,
                x_ticks: Ticks::Decimal(2),
                y_ticks: Ticks::Krw,
                x_count: 11,
                diagonal: false,
            },
            &curves,
        )?,
    })
}

/// One interval per arm but `all` (every family, grouped by family), scaled.
fn arm_estimates(
    r: &ExperimentResult,
    st: &Styles,
    f: &dyn Fn(&ArmSummary) -> &Interval,
    scale: f64,
) -> Vec<Estimate> {
    r.summary
        .iter()
        .filter(|a| a.arm != "all")
        .map(|a| {
            let i = f(a);
            Estimate {
                name: a.arm.clone(),
                group: a.family.clone(),
                mean: scale * i.mean,
                low: scale * i.ci95[0],
                high: scale * i.ci95[1],
                color: st.color(&a.arm),
            }
        })
        .collect()
}

/// The mean learning curve of `family`'s `arm` with its across-replicate band.
fn learning_curve(r: &ExperimentResult, st: &Styles, family: &str, arm: &str) -> Curve {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    let mut band: Vec<(f64, f64, f64)> = Vec::new();
    for (n, v) in crate::experiment::learning_curve_by_size(&r.replicates, family, arm) {
        let x = (n as f64).log10();
        let iv = interval(&v, None);
        pts.push((x, iv.mean));
        if v.len() >= BAND_REPLICATES {
            band.push((x, iv.ci95[0], iv.ci95[1]));
        }
    }
    let name = format!(
        "{arm}, {family} (mean and 95% band, {} replicates)",
        r.replicates.len()
    );
    st.curve(family, arm, name, (pts, band))
}

/// Learning curves of `all` and `consented` (none without curves).
fn learning_curve_figure(
    r: &ExperimentResult,
    st: &Styles,
    plots_dir: &Path,
) -> Result<Option<Figure>> {
    let lc: Vec<Curve> = r
        .enough
        .iter()
        .flat_map(|e| {
            [
                learning_curve(r, st, &e.family, "all"),
                learning_curve(r, st, &e.family, "consented"),
            ]
        })
        .collect();
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
                .chain(c.band.iter().map(|b| (b.1.max(0.4), b.2.min(1.0))))
        })
        .fold((f64::MAX, f64::MIN), |(a, b), (lo, hi)| {
            (a.min(lo), b.max(hi))
        });
    if xmax <= xmin {
        return Ok(None);
    }
    let (x0, x1) = (xmin.floor(), xmax.ceil());
    Ok(Some(Figure {
        stem: "learning_curve".into(),
        caption: "Learning curves: AUC on held-out registered users against the number of training users (log scale), training on all users vs consented users only.".into(),
        svg: plot::lines(
            &plots_dir.join("learning_curve"),
            &Axes {
                title: "Learning curves".into(),
                x_desc: "training users (log scale)".into(),
                y_desc: "AUC".into(),
                x: x0..x1,
                y: (ymin - 0.01)..(ymax + 0.01),
                x_ticks: Ticks::PowerOfTen,
                y_ticks: Ticks::Decimal(3),
                x_count: (x1 - x0) as usize + 1,
                diagonal: false,
            },
            &lc,
        )?,
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
        .enumerate()
        .map(|(i, (m, st))| Curve {
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
            color: i + 1,
            dash: 0,
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
        svg: plot::lines(
            &plots_dir.join("sweep_cost"),
            &Axes {
                title: "Cost of minimization vs consent rate".into(),
                x_desc: "consent rate".into(),
                y_desc: "AUC change vs all (points)".into(),
                x: 0.0..1.0,
                y: (lo - 0.5)..(hi + 0.5),
                x_ticks: Ticks::Decimal(1),
                y_ticks: Ticks::Decimal(1),
                x_count: 11,
                diagonal: false,
            },
            &curves,
        )?,
    }))
}

/// Who pays: the cost of one minimized arm by subgroup, grouped by
/// dimension and ordered within it (age bands in age order; regions are in
/// the table).
fn subgroup_figure(r: &ExperimentResult, st: &Styles, plots_dir: &Path) -> Result<Option<Figure>> {
    let Some(k) = r
        .spec
        .arms
        .iter()
        .position(|a| a == "consented")
        .or((r.spec.arms.len() > 1).then_some(1))
    else {
        return Ok(None);
    };
    let arm = &r.spec.arms[k];
    let first = r.summary.first().map_or("", |a| a.family.as_str());
    let mut est: Vec<(usize, i32, Estimate)> = Vec::new();
    let mut dims: Vec<String> = Vec::new();
    for g in r
        .subgroups
        .iter()
        .filter(|g| !g.group.starts_with("region") && g.family == first)
    {
        let i = &g.auc_diff_vs_all[k];
        let (dim, level, rank) = tidy::dimension_level(&g.group);
        if !(i.mean.is_finite() && i.ci95[0].is_finite() && i.ci95[1].is_finite()) {
            continue;
        }
        if !dims.contains(&dim) {
            dims.push(dim.clone());
        }
        let d = dims.iter().position(|x| *x == dim).unwrap_or(0);
        est.push((
            d,
            rank,
            Estimate {
                name: level,
                group: dim,
                mean: 100.0 * i.mean,
                low: 100.0 * i.ci95[0],
                high: 100.0 * i.ci95[1],
                color: st.color(arm),
            },
        ));
    }
    if est.is_empty() {
        return Ok(None);
    }
    est.sort_by_key(|e| (e.0, e.1));
    let est: Vec<Estimate> = est.into_iter().map(|e| e.2).collect();
    Ok(Some(Figure {
        stem: "subgroup_cost".into(),
        caption: format!(
            "Who pays: AUC change of `{arm}` vs `all` by age band, device and tenure, model family `{first}`, mean and 95% interval across replicates (every family and subgroup, regions included, is in the table and in subgroups.parquet)."
        ),
        svg: plot::intervals(
            &plots_dir.join("subgroup_cost"),
            &format!("Who pays: {arm} vs all, by subgroup"),
            "AUC change (points)",
            Ticks::Decimal(1),
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

fn sig(i: &Interval) -> bool {
    i.ci95[1] < 0.0 || i.ci95[0] > 0.0
}

fn krw(i: &Interval, currency: &str) -> String {
    format!(
        "{:+.0} {currency} [{:+.0}, {:+.0}]",
        i.mean, i.ci95[0], i.ci95[1]
    )
}

/// A label of this report (never data) with its money unit, written `KRW`,
/// in the run's currency (`spec.currency`: KRW for simulated runs, `units`
/// or `--currency` on your own table).
fn money(r: &ExperimentResult, label: &str) -> String {
    label.replace("KRW", &r.spec.currency)
}

/// A table header with its money unit in the run's currency.
fn money_header(r: &ExperimentResult, header: &[&str]) -> Vec<String> {
    header.iter().map(|h| money(r, h)).collect()
}

/// The findings: per family the reference, each arm's cost split into size
/// and selection (AUC points and KRW at equal grouping rate), "enough",
/// then which conclusions hold across families.
fn findings(r: &ExperimentResult) -> Vec<String> {
    let mut out = Vec::new();
    for all in r.summary.iter().filter(|a| a.arm == "all") {
        let fam = &all.family;
        if r.own_data.is_some() {
            out.push(format!(
                "**{fam}**: trained on every row, the score reaches an AUC of {:.3} (95% interval {:.3}–{:.3}) on the held-out target rows (no ground-truth ceiling on a table); under the policy it refuses grouping to {:.1} % of them.",
                all.auc.mean, all.auc.ci95[0], all.auc.ci95[1], 100.0 * all.refused_share.mean
            ));
        } else {
            out.push(format!(
            "**{fam}**: trained on every user (what the case did), the NSF score reaches an AUC of {:.3} (95% interval {:.3}–{:.3}) on held-out Apple-registered users (ground-truth ceiling {:.3}{}); under the policy it refuses grouping to {:.1} % of them, the rate at which every arm is compared in money below.",
            all.auc.mean,
            all.auc.ci95[0],
            all.auc.ci95[1],
            all.oracle_auc.mean,
            r.ceiling.as_ref().map_or(String::new(), |c| format!(
                ", attributes-only ceiling {:.3}",
                c.ceiling_auc.mean
            )),
            100.0 * all.refused_share.mean
        ));
        }
        for a in r
            .summary
            .iter()
            .filter(|a| &a.family == fam && a.arm != "all" && r.spec.arms.contains(&a.arm))
        {
            out.push(arm_finding(a, &r.spec.currency));
        }
        if let Some(e) = r.enough.iter().find(|e| &e.family == fam) {
            out.push(crate::report::enough::finding(e, &pts));
        }
    }
    out.extend(across_families(r));
    out
}

/// One arm's cost: total, size and selection, in AUC and KRW.
fn arm_finding(a: &ArmSummary, currency: &str) -> String {
    let total = format!(
        "`{}` ({}) changes the AUC by {} points{} and the expected loss at equal grouping rate by {} per 1,000 users",
        a.arm,
        a.family,
        ci_pts(&a.auc_diff_vs_all),
        if sig(&a.auc_diff_vs_all) {
            ""
        } else {
            " (not distinguishable from 0)"
        },
        krw(&a.loss_equal_rate_diff_vs_all, currency)
    );
    match &a.split {
        Some(s) => format!(
            "{total}: size {} points / {}, selection {} points / {} (vs `{}`, every user subsampled to the arm's {:.0}).",
            ci_pts(&s.size_auc),
            krw(&s.size_loss_equal_rate, currency),
            ci_pts(&s.selection_auc),
            krw(&s.selection_loss_equal_rate, currency),
            s.size_matched_arm,
            a.training_members
        ),
        None => format!("{total}."),
    }
}

/// Side of 0 of an interval: −1 (below), 0 (covers 0), +1 (above).
fn side(i: &Interval) -> i8 {
    if i.ci95[1] < 0.0 {
        -1
    } else if i.ci95[0] > 0.0 {
        1
    } else {
        0
    }
}

/// Which conclusions hold across families: for every spec arm, whether
/// every family's total (AUC, money) and size and selection parts lie on
/// the same side of 0.
fn across_families(r: &ExperimentResult) -> Vec<String> {
    let fams: Vec<&str> = r
        .summary
        .iter()
        .filter(|a| a.arm == "all")
        .map(|a| a.family.as_str())
        .collect();
    if fams.len() < 2 {
        return Vec::new();
    }
    let word = |s: i8| match s {
        -1 => "worse than all",
        1 => "better than all",
        _ => "indistinguishable from 0",
    };
    let (mut holds, mut differs) = (Vec::new(), Vec::new());
    for arm in r.spec.arms.iter().skip(1) {
        let rows: Vec<&ArmSummary> = r.summary.iter().filter(|a| &a.arm == arm).collect();
        let mut parts: Vec<(&str, Vec<i8>)> = vec![
            (
                "AUC",
                rows.iter().map(|a| side(&a.auc_diff_vs_all)).collect(),
            ),
            (
                "money at equal grouping rate",
                rows.iter()
                    .map(|a| -side(&a.loss_equal_rate_diff_vs_all))
                    .collect(),
            ),
        ];
        if rows.iter().all(|a| a.split.is_some()) {
            let split = |a: &&ArmSummary| a.split.clone().expect("checked");
            parts.push((
                "size part (AUC)",
                rows.iter().map(|a| side(&split(a).size_auc)).collect(),
            ));
            parts.push((
                "selection part (AUC)",
                rows.iter().map(|a| side(&split(a).selection_auc)).collect(),
            ));
        }
        for (what, v) in parts {
            if v.iter().all(|x| *x == v[0]) {
                holds.push(format!("`{arm}` {what}: {} in every family", word(v[0])));
            } else {
                let each: Vec<String> = rows
                    .iter()
                    .zip(&v)
                    .map(|(a, x)| format!("{} {}", a.family, word(*x)))
                    .collect();
                differs.push(format!("`{arm}` {what}: {}", each.join(", ")));
            }
        }
    }
    let or_none = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("; ")
        }
    };
    vec![
        format!(
            "Across families ({}) these conclusions hold (95% intervals on the same side of 0): {}.",
            fams.join(", "),
            or_none(holds)
        ),
        format!("These depend on the family: {}.", or_none(differs)),
    ]
}

/// Rows of the main table: arm, AUC, ΔAUC, Gini, KS, Brier, ECE, PSI, refused, loss, Δloss.
fn table_rows(r: &ExperimentResult) -> Vec<Vec<String>> {
    r.summary
        .iter()
        .map(|a| {
            vec![
                a.family.clone(),
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

const HEADER: [&str; 12] = [
    "family",
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
    if let Some(own) = crate::experiment::own::setup_text(r) {
        return own;
    }
    let rep = &r.replicates;
    format!(
        "Experiment `{}`: {} Population preset `{}`, {} users per replicate, {} replicate(s) (population seeds {}–{}), model families {}. Test users: the held-out Apple-registered users of each replicate (about {}), never trained on by any arm. Intervals: 95%, Student t across replicates ({} bootstrap resamples of the test users when there is one replicate); differences between arms are paired on the same test users. Policy: scores ≤ {} on the `{}` scale get grouped charges; a failed grouped charge loses {cur} {:.0}; each grouped user is worth {cur} {:.0} (B, an estimate, E); expected loss uses the simulator's true NSF probability. Money is compared at equal grouping rate: each arm refuses exactly the share of users its family's `all` refuses under the policy (its riskiest users). Size-matched arms (`all-size-of-<rule>`) train `all` on a seeded random subsample of the restricted arm's size: size = size-matched − all, selection = arm − size-matched.",
        r.spec.name,
        r.spec.description,
        r.spec.preset,
        r.spec.users,
        r.spec.replicates,
        r.spec.seed,
        r.spec.seed + r.spec.replicates as u64 - 1,
        r.spec
            .family_names()
            .unwrap_or_default()
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", "),
        rep.first().map_or(0, |x| x.test_users),
        r.spec.bootstrap,
        r.spec.policy.max_score_for_grouping,
        r.spec.score_scale.as_str(),
        r.spec.policy.loss_per_failed_charge_krw,
        r.spec.policy.benefit_per_grouped_user_krw,
        cur = r.spec.currency
    )
}

/// The report's body in Markdown, `figures` being the Markdown of its plots
/// (image links for `report.md`, inline SVG blocks for `report.html`):
/// one source for both files. Sections without rows are left out.
fn body(r: &ExperimentResult, figures: &str) -> String {
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
    s.push_str(&md_table(&money_header(r, &HEADER), &table_rows(r)));
    s.push_str(&new_sections_md(r));
    s.push_str(&crate::report::scale::section_md(r));
    s.push_str(&per_replicate_md(r));
    s.push_str(&who_pays_md(r));
    s.push_str(&sweep_md(r));
    s.push_str(&learning_curves_md(r));
    s.push_str(&crate::report::lawful::section_md(r));
    s.push_str(figures);
    s.push_str(&format!("\n{OUTPUTS_NOTE}\n"));
    s
}

/// Where every figure is, closing both reports.
const OUTPUTS_NOTE: &str = "All figures are in `metrics.json` and, in long format for pandas, polars, R or DuckDB, in `metrics.parquet` / `metrics.csv` (one row per replicate × arm × family × metric), `subgroups.parquet` and `learning_curve.parquet`; the data behind each plot is in `roc.parquet`, `calibration.parquet`, `score_histogram.parquet` and `cost_curve.parquet`. Every model is in the registry under its ID, with its training-member digest.";

/// `report.md`.
pub fn markdown(r: &ExperimentResult, figures: &[Figure]) -> String {
    body(r, &md_figures(figures))
}

/// `report.html`: the same Markdown rendered to HTML, self-contained (plots
/// inline as SVG).
pub fn html(r: &ExperimentResult, figures: &[Figure]) -> String {
    crate::report::html::page(
        &format!("nsfsim experiment {}", r.spec.name),
        &body(r, &crate::report::html::figure_blocks(figures)),
    )
}

/// The per-replicate table.
fn per_replicate_md(r: &ExperimentResult) -> String {
    let rows: Vec<Vec<String>> = r
        .replicates
        .iter()
        .flat_map(|rep| {
            rep.arms.iter().map(move |a| {
                vec![
                    rep.seed.to_string(),
                    a.family.clone(),
                    a.arm.clone(),
                    format!("`{}`", a.model_id),
                    a.training_members.to_string(),
                    format!("{:.4}", a.evaluation.auc),
                    format!(
                        "{} [{}, {}]",
                        pts(a.auc_diff_vs_all),
                        pts(a.auc_diff_ci95[0]),
                        pts(a.auc_diff_ci95[1])
                    ),
                ]
            })
        })
        .collect();
    section(
        "Per replicate",
        "",
        &[
            "replicate seed",
            "family",
            "arm",
            "model",
            "training members",
            "AUC",
            "ΔAUC [paired bootstrap 95%]",
        ],
        &rows,
    )
}

/// The consent sweep's table (left out without a sweep).
fn sweep_md(r: &ExperimentResult) -> String {
    let rows: Vec<Vec<String>> = r
        .sweep
        .iter()
        .map(|c| {
            vec![
                c.mechanism.clone(),
                c.strength.to_string(),
                c.rate.to_string(),
                ci_pts(&c.auc_diff_consented),
                ci_pts(&c.auc_diff_ipw),
                ci(&c.loss_diff_consented, 0),
            ]
        })
        .collect();
    section(
        "Consent sweep: cost of training on consented users only (AUC points vs `all`, mean [95% interval])",
        "",
        &[
            "mechanism",
            "strength",
            "consent rate",
            "consented",
            "consented-ipw",
            &money(r, "Δ expected loss, consented (KRW / 1,000)"),
        ],
        &rows,
    )
}

/// The learning-curve table and power-law fits (left out without curves).
fn learning_curves_md(r: &ExperimentResult) -> String {
    let rows: Vec<Vec<String>> = r
        .replicates
        .first()
        .map(|rep| rep.learning_curve.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            vec![
                p.family.clone(),
                p.arm.clone(),
                p.training_users.to_string(),
                format!("{:.4}", p.auc),
            ]
        })
        .collect();
    let mut s = section(
        "Learning curves",
        "Every replicate's points are in `learning_curve.parquet`.",
        &["family", "arm", "training users", "AUC (replicate 1)"],
        &rows,
    );
    if !s.is_empty() {
        for f in &r.learning_curve_fits {
            s.push_str(&format!(
                "\nPower-law fit of the mean `{}` curve ({}): AUC(n) = {:.4} − {:.4}·n^(−{:.3}), RMSE {:.4}.\n",
                f.arm, f.family, f.a, f.b, f.c, f.rmse
            ));
        }
    }
    s
}

/// A `## title` section with an optional paragraph and a table; empty when
/// the table has no rows.
fn section<S: AsRef<str>>(title: &str, text: &str, header: &[S], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let text = if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n\n")
    };
    format!("\n## {title}\n\n{text}{}", md_table(header, rows))
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
    /// Also write `predictions.parquet`: every test user's P(nsf) under
    /// every arm × family × replicate.
    pub export_predictions: bool,
    /// Your own table (`compare --data`) instead of simulated populations.
    pub table: Option<&'a crate::experiment::own::OwnData>,
}

/// Runs the experiment (and its sweep) and publishes the run folder:
/// `metrics.json`, its tidy tables (`metrics.parquet`, `metrics.csv`, …),
/// `report.md`, `report.html`, `plots/` and `manifest.json`, staged and
/// renamed when complete, then recorded in the registry's lineage. Returns
/// the result and the folder written.
pub fn compare(
    spec: &ValidSpec,
    to: &CompareOutput,
    progress: &dyn Fn(&str),
) -> Result<(ExperimentResult, PathBuf)> {
    let staged = crate::data::artifact::StagedDir::create_for(to.out, to.force, "run")?;
    let source = match to.table {
        Some(t) => crate::experiment::Source::Table(t),
        None => crate::experiment::Source::Simulated(to.data_root),
    };
    let (mut result, plot_data) =
        crate::experiment::run_from(spec, to.registry, &source, progress)?;
    result.sweep = crate::experiment::run_sweep(spec, to.registry, to.data_root, progress)?;
    if spec.arms().iter().any(|a| a.epsilon.is_some()) {
        let scratch = staged.staging_path();
        result.lawful = Some(crate::report::lawful::summary(
            spec,
            &result,
            to.registry,
            scratch,
            progress,
        )?);
    }
    progress("plots, tables and report");
    let figures = figures(&result, &plot_data, &staged.path("plots"))?;
    staged.write_json("metrics.json", &result)?;
    let tables = tidy::write_run_tables(
        staged.staging_path(),
        &result,
        &plot_data,
        to.export_predictions,
    )?;
    staged.write_text("report.md", &markdown(&result, &figures))?;
    staged.write_text("report.html", &html(&result, &figures))?;
    let mut manifest = crate::experiment::run_manifest(&result, to.registry)?;
    if let Some(files) = manifest["files"].as_array_mut() {
        files.extend(tables.into_iter().map(serde_json::Value::from));
    }
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

const SPLIT_HEADER: [&str; 8] = [
    "family",
    "arm",
    "training users",
    "ΔAUC vs all (points)",
    "size (points)",
    "selection (points)",
    "size (KRW / 1,000, equal rate)",
    "selection (KRW / 1,000, equal rate)",
];

/// Rows of the size/selection table: restricted arms with a size-matched arm.
fn split_rows(r: &ExperimentResult) -> Vec<Vec<String>> {
    r.summary
        .iter()
        .filter_map(|a| {
            let s = a.split.as_ref()?;
            Some(vec![
                a.family.clone(),
                a.arm.clone(),
                format!("{:.0}", a.training_members),
                ci_pts(&a.auc_diff_vs_all),
                ci_pts(&s.size_auc),
                ci_pts(&s.selection_auc),
                ci(&s.size_loss_equal_rate, 0),
                ci(&s.selection_loss_equal_rate, 0),
            ])
        })
        .collect()
}

const MONEY_HEADER: [&str; 8] = [
    "family",
    "arm",
    "refused (policy)",
    "net value (policy)",
    "refused (equal rate)",
    "loss (equal rate)",
    "Δ loss vs all (equal rate)",
    "net value (equal rate)",
];

/// Rows of the money table (KRW per 1,000 users).
fn money_rows(r: &ExperimentResult) -> Vec<Vec<String>> {
    r.summary
        .iter()
        .map(|a| {
            vec![
                a.family.clone(),
                a.arm.clone(),
                ci(&a.refused_share, 3),
                ci(&a.net_value_krw_per_1000, 0),
                format!("{:.3}", a.equal_rate_refused_share.mean),
                ci(&a.loss_equal_rate_krw_per_1000, 0),
                ci(&a.loss_equal_rate_diff_vs_all, 0),
                ci(&a.net_value_equal_rate_krw_per_1000, 0),
            ]
        })
        .collect()
}

const CAL_HEADER: [&str; 6] = [
    "family",
    "arm",
    "ECE",
    "calibration intercept",
    "calibration slope",
    "Brier",
];

/// Rows of the calibration table.
fn calibration_rows(r: &ExperimentResult) -> Vec<Vec<String>> {
    r.summary
        .iter()
        .map(|a| {
            vec![
                a.family.clone(),
                a.arm.clone(),
                ci(&a.ece, 4),
                ci(&a.calibration_intercept, 3),
                ci(&a.calibration_slope, 3),
                ci(&a.brier, 4),
            ]
        })
        .collect()
}

pub(crate) fn md_table<S: AsRef<str>>(header: &[S], rows: &[Vec<String>]) -> String {
    let header: Vec<&str> = header.iter().map(AsRef::as_ref).collect();
    let mut s = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        s.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    s
}

/// The size/selection, money, cost-curve and calibration sections.
fn new_sections_md(r: &ExperimentResult) -> String {
    let mut s = section(
        "Cost split: size and selection (mean [95% interval])",
        &money(
            r,
            "Size = `all` retrained on a random subsample of the arm's size, minus `all`; selection = the arm minus that size-matched `all`; both on the same test users. Money at equal grouping rate (KRW per 1,000 users; positive = more loss).",
        ),
        &money_header(r, &SPLIT_HEADER),
        &split_rows(r),
    );
    s.push_str(&format!(
        "\n## Money as a decision ({cur} per 1,000 users)\n\nUnder the policy (score ≤ {} on the `{}` scale) each arm refuses a different share, so its loss mixes ranking with calibration; at equal rate every arm refuses the share its family's `all` refuses, choosing its riskiest users. Net value = B × grouped users − expected loss, B = {cur} {:.0} per grouped user (E).\n\n",
        r.spec.policy.max_score_for_grouping,
        r.spec.score_scale.as_str(),
        r.spec.policy.benefit_per_grouped_user_krw,
        cur = r.spec.currency
    ));
    s.push_str(&md_table(&MONEY_HEADER, &money_rows(r)));
    s.push_str(&money(r, "\n### Cost curves (expected loss, KRW per 1,000 users, by share refused; mean across replicates)\n\n"));
    let shares = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5];
    let mut hdr = vec!["family".to_string(), "arm".to_string()];
    hdr.extend(shares.iter().map(|x| format!("{:.0} %", 100.0 * x)));
    let rows: Vec<Vec<String>> = r
        .summary
        .iter()
        .map(|a| {
            let mut row = vec![a.family.clone(), a.arm.clone()];
            row.extend(shares.iter().map(|x| {
                a.cost_curve
                    .iter()
                    .find(|p| (p.0 - x).abs() < 1e-9)
                    .map_or("–".into(), |p| format!("{:.0}", p.1))
            }));
            row
        })
        .collect();
    let hdr: Vec<&str> = hdr.iter().map(|x| x.as_str()).collect();
    s.push_str(&md_table(&hdr, &rows));
    s.push_str("\n## Calibration (on its own; intercept 0 and slope 1 are perfect)\n\n");
    s.push_str(&md_table(&CAL_HEADER, &calibration_rows(r)));
    s
}

/// Who pays, per family: AUC difference vs `all` by subgroup, with NSF
/// events, Benjamini–Hochberg q-values and flags.
fn who_pays_md(r: &ExperimentResult) -> String {
    if r.subgroups.is_empty() {
        return String::new();
    }
    let first = r.summary.first().map(|f| f.family.clone());
    let arms: Vec<&str> = r
        .summary
        .iter()
        .filter(|a| {
            first.as_deref() == Some(crate::experiment::lawful::block_family(&a.family, &a.arm))
        })
        .map(|a| a.arm.as_str())
        .collect();
    let mut s = format!(
        "\n## Who pays: AUC difference vs `all` by subgroup (points, mean [95% interval] across replicates)\n\nq: Benjamini–Hochberg across every (subgroup, arm) of the family (t test across replicates); **flagged** when q < 0.05. Groups with fewer than {:.0} NSF events per replicate among the test users are shown but never tested or flagged.\n\n| family | subgroup | test users | NSF events | {} |\n|---|---|---|---|{}\n",
        r.spec.min_subgroup_nsf,
        arms.get(1..).unwrap_or_default().join(" | "),
        "---|".repeat(arms.len().saturating_sub(1))
    );
    for g in &r.subgroups {
        let cells: Vec<String> = (1..g.auc_diff_vs_all.len())
            .map(|k| {
                let q = g.q_value[k].map_or(String::new(), |q| format!(" q={q:.3}"));
                let flag = if g.flagged[k] { " **flagged**" } else { "" };
                format!("{}{q}{flag}", ci_pts(&g.auc_diff_vs_all[k]))
            })
            .collect();
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.0}{} | {} |\n",
            g.family,
            g.group,
            g.users,
            g.nsf,
            if g.enough_events { "" } else { " (too few)" },
            cells.join(" | ")
        ));
    }
    s
}
