//! "Could it have been done lawfully?" (issue 20): what `compare` adds when
//! the spec has `dp-all` arms — the membership audit of each DP model
//! beside the bound its ε guarantees, the score computed at the wallet
//! (records and bytes sent against the 24-category transfer, and what the
//! score alone discloses), the report section, its plots and tidy rows.

use std::path::Path;

use crate::audit::{AttackResult, AuditParams, Est};
use crate::error::{NsfError, Result};
use crate::experiment::lawful::{
    DP_FAMILY, DpAttack, LawfulSummary, WalletArm, block_family, is_dp_arm, tpr_bound,
};
use crate::experiment::{ArmSummary, ExperimentResult, ValidSpec};
use crate::models::train;
use crate::report::Figure;
use crate::report::plot::{self, Axes, Curve, Ticks};

/// The bound, in words.
const BOUND: &str = "pure ε-DP (δ = 0): every membership test has TPR ≤ min(1, e^ε·FPR, 1 − e^(−ε)·(1 − FPR)) at every FPR (Kairouz, Oh & Viswanath 2015, Thm 2.1; Humphries et al. 2023)";

/// What running the score at the wallet costs instead of AUC.
const OPERATIONAL_COST: &str = "No AUC or money cost: the wallet runs the same model on the same data. The cost is operational: the wallet (not the processor) hosts, runs and monitors the model, retrains it when it drifts (the `all` model is refit on the wallet's own data, e.g. monthly), answers for its errors, and sends one score per registered user and day instead of everyone's 24 categories; the processor can no longer audit or retrain the model on the raw data.";

fn triple(e: &Est) -> [f64; 3] {
    [e.value, e.ci95[0], e.ci95[1]]
}

/// One attack row with the bound at `epsilon`.
fn attack_row(arm: &str, epsilon: Option<f64>, model_id: &str, a: &AttackResult) -> DpAttack {
    let bound = |fpr| {
        epsilon
            .filter(|_| a.target == "model")
            .map(|e| tpr_bound(e, 0.0, fpr))
    };
    DpAttack {
        arm: arm.into(),
        epsilon,
        model_id: model_id.into(),
        target: a.target.clone(),
        attack: a.attack.clone(),
        members: a.members,
        auc: triple(&a.auc),
        tpr_at_0_1pct_fpr: triple(&a.tpr_at_0_1pct_fpr),
        bound_at_0_1pct_fpr: bound(0.001),
        tpr_at_1pct_fpr: triple(&a.tpr_at_1pct_fpr),
        bound_at_1pct_fpr: bound(0.01),
    }
}

/// The arms audited: `all` (the non-private reference) and every `dp-all`
/// arm of the first family in the first replicate, with their ε.
fn audited_arms(spec: &ValidSpec, r: &ExperimentResult) -> Vec<(String, Option<f64>, String)> {
    let rep = &r.replicates[0];
    spec.arms()
        .iter()
        .zip(&rep.arms)
        .filter(|(a, _)| a.epsilon.is_some() || a.name == "all")
        .map(|(a, res)| (a.name.clone(), a.epsilon, res.model_id.clone()))
        .collect()
}

/// Runs the lawful part of `compare` on the first replicate's data set:
/// the membership audit of `all` and each `dp-all` model, and the wallet
/// arm (its score file is written to `scratch` to be measured, then
/// removed).
pub fn summary(
    spec: &ValidSpec,
    r: &ExperimentResult,
    registry: &Path,
    scratch: &Path,
    progress: &dyn Fn(&str),
) -> Result<LawfulSummary> {
    let l = spec.lawful_spec()?;
    let rep = &r.replicates[0];
    let dir = Path::new(&rep.data);
    progress("lawful alternatives: membership audit at each ε");
    let full = crate::data::features::FeatureSet::Full.attributes()?;
    let data = train::load_data(dir, &full)?;
    let params = AuditParams {
        eval_users: l.audit_users,
        shadows: l.audit_shadows,
        bootstrap: spec.bootstrap,
        control_users: l.audit_users.min(1000),
        seed: rep.seed,
        policy: spec.policy.clone(),
        ..AuditParams::default()
    }
    .check()?;
    let arms = audited_arms(spec, r);
    let ids: Vec<String> = arms.iter().map(|a| a.2.clone()).collect();
    let audited = crate::audit::dp::audit_models(registry, &ids, &data, dir, &params, progress)?;
    let mut attacks = Vec::new();
    for (k, ((arm, eps, id), a)) in arms.iter().zip(&audited).enumerate() {
        for at in &a.membership.attacks {
            // The positive control is the same model for every arm: once.
            if at.target == "model" || k == 0 {
                attacks.push(attack_row(arm, *eps, id, at));
            }
        }
    }
    progress("lawful alternatives: the score computed at the wallet");
    let all = &audited[0];
    let wallet = wallet_arm(r, &data, dir, &all.model_id, &all.p_all, scratch)?;
    Ok(LawfulSummary {
        audit_seed: rep.seed,
        delta: 0.0,
        bound: BOUND.into(),
        attacks,
        wallet: Some(wallet),
    })
}

/// The `all` arm's summary of the first family.
fn all_summary(r: &ExperimentResult) -> Option<&ArmSummary> {
    r.summary.iter().find(|a| a.arm == "all")
}

/// The wallet arm: the `all` model's scores of the registered users as the
/// wallet would send them (user_id, score), measured as Parquet beside the
/// snapshot record of the 24 categories.
fn wallet_arm(
    r: &ExperimentResult,
    data: &train::LoadedData,
    dir: &Path,
    model_id: &str,
    p_all: &[f64],
    scratch: &Path,
) -> Result<WalletArm> {
    let transfer = crate::stream::volume::user_record_bytes(&dir.join("users.parquet"))?;
    let reg: Vec<usize> = (0..data.rows()).filter(|&i| data.registered[i]).collect();
    let user_id: Vec<u64> = reg.iter().map(|&i| data.user_id[i]).collect();
    let prob: Vec<f64> = reg.iter().map(|&i| p_all[i]).collect();
    let score: Vec<u8> = prob.iter().map(|&p| train::score_of(p)).collect();
    let flags = vec![false; reg.len()];
    let path = scratch.join(".wallet-scores.parquet");
    let cols = crate::data::score_file::ScoreColumns {
        user_id: &user_id,
        score: &score,
        prob: &prob,
        holdout: &flags,
        nsf: &flags,
    };
    crate::data::score_file::write(&path, model_id, &cols)?;
    let per_record = crate::stream::wallet::column_bytes_per_row(&path, &["user_id", "score"]);
    std::fs::remove_file(&path).map_err(|e| NsfError::io(&path, e))?;
    let per_record = per_record?;
    let all = all_summary(r).ok_or_else(|| NsfError::param("arms", "no `all` arm"))?;
    let n = data.rows() as u64;
    Ok(WalletArm {
        model_id: model_id.into(),
        users: n,
        registered_users: reg.len() as u64,
        transfer_records_per_day: n,
        transfer_bytes_per_record: transfer.all_categories,
        transfer_bytes_per_day: transfer.all_categories * n as f64,
        score_records_per_day: reg.len() as u64,
        score_bytes_per_record: per_record,
        score_bytes_per_day: per_record * reg.len() as f64,
        auc: all.auc.clone(),
        loss_equal_rate_krw_per_1000: all.loss_equal_rate_krw_per_1000.clone(),
        operational_cost: OPERATIONAL_COST.into(),
        disclosure: serde_json::to_value(crate::audit::disclosure::by_band(data, p_all))
            .expect("disclosure rows serialize"),
    })
}

/// A summary's arm name with its ε, or `None` for non-DP arms.
fn epsilon_of(arm: &str) -> Option<f64> {
    arm.strip_prefix("dp-all-eps")?.parse().ok()
}

fn iv(i: &crate::stats::interval::Interval, digits: usize) -> String {
    format!(
        "{:.*} [{:.*}, {:.*}]",
        digits, i.mean, digits, i.ci95[0], digits, i.ci95[1]
    )
}

/// The LiRA and loss-attack rows of `arm` (target `model`).
fn attack_cell(l: &LawfulSummary, arm: &str, attack: &str) -> String {
    l.attacks
        .iter()
        .find(|a| a.arm == arm && a.target == "model" && a.attack == attack)
        .map_or("–".into(), |a| {
            let t = a.tpr_at_0_1pct_fpr;
            let b = a
                .bound_at_0_1pct_fpr
                .map_or("none".into(), |b| format!("{b:.4}"));
            format!("{:.4} [{:.4}, {:.4}] (bound {b})", t[0], t[1], t[2])
        })
}

const TABLE_HEADER: [&str; 8] = [
    "arm",
    "ε",
    "AUC",
    "loss at equal rate (KRW / 1,000)",
    "Δ loss vs all",
    "LiRA TPR at 0.1% FPR",
    "loss-attack TPR at 0.1% FPR",
    "MB sent per day",
];

/// The measured table: `all`, the restricted arms, the `dp-all` arms and
/// the wallet arm.
fn table_rows(r: &ExperimentResult, l: &LawfulSummary) -> Vec<Vec<String>> {
    let family = r
        .summary
        .first()
        .map(|a| a.family.clone())
        .unwrap_or_default();
    let share = r.replicates[0].consent_share;
    let w = l.wallet.as_ref();
    let transfer = w.map_or(f64::NAN, |w| w.transfer_bytes_per_day);
    let mut rows: Vec<Vec<String>> = r
        .summary
        .iter()
        .filter(|a| block_family(&a.family, &a.arm) == family)
        .map(|a| {
            let sent = if a.arm.starts_with("consented") {
                share * transfer
            } else {
                transfer
            };
            vec![
                a.arm.clone(),
                epsilon_of(&a.arm).map_or("∞ (not private)".into(), |e| format!("{e}")),
                iv(&a.auc, 4),
                iv(&a.loss_equal_rate_krw_per_1000, 0),
                iv(&a.loss_equal_rate_diff_vs_all, 0),
                attack_cell(l, &a.arm, "lira"),
                attack_cell(l, &a.arm, "loss-threshold"),
                format!("{:.2}", sent / 1e6),
            ]
        })
        .collect();
    if let Some(w) = w {
        rows.push(vec![
            "wallet (score computed at the wallet)".into(),
            "–".into(),
            format!("{} (= all)", iv(&w.auc, 4)),
            format!("{} (= all)", iv(&w.loss_equal_rate_krw_per_1000, 0)),
            "0".into(),
            "– (no model leaves the wallet)".into(),
            "–".into(),
            format!("{:.3}", w.score_bytes_per_day / 1e6),
        ]);
    }
    rows
}

/// The wallet arm's paragraph and its disclosure table.
fn wallet_md(w: &WalletArm) -> String {
    let mut s = format!(
        "\n**The score computed at the wallet.** The wallet runs the `all` model (model `{}`) on its own data and sends only each registered user's 0–100 score: {} records a day of {:.1} bytes ({:.3} MB a day), against the 24-category transfer's {} records a day of {:.1} bytes ({:.2} MB a day): {:.2}% of the bytes (first replicate, Parquet column chunks). {}\n\nWhat the score alone reveals (the audit's attribute disclosure per grade band, every user of the first replicate):\n\n",
        w.model_id,
        w.score_records_per_day,
        w.score_bytes_per_record,
        w.score_bytes_per_day / 1e6,
        w.transfer_records_per_day,
        w.transfer_bytes_per_record,
        w.transfer_bytes_per_day / 1e6,
        100.0 * w.score_bytes_per_day / w.transfer_bytes_per_day,
        w.operational_cost
    );
    let num = |b: &serde_json::Value, k: &str, d: usize| {
        b[k].as_f64().map_or("–".into(), |v| format!("{v:.d$}"))
    };
    let rows: Vec<Vec<String>> = w
        .disclosure
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            vec![
                b["grade"].as_str().unwrap_or("").to_string(),
                num(b, "users", 0),
                num(b, "p_zero_balance", 3),
                b["balance_quantiles_krw"][1]
                    .as_f64()
                    .map_or("–".into(), |v| format!("{v:.0}")),
                num(b, "p_auto_topup", 3),
                num(b, "p_ios", 3),
            ]
        })
        .collect();
    let header = [
        "grade",
        "users",
        "P(balance = 0)",
        "median balance (KRW)",
        "P(auto top-up)",
        "P(iOS)",
    ];
    s.push_str(&crate::report::experiment::md_table(&header, &rows));
    s
}

/// The report's section "Could it have been done lawfully?" (empty
/// without `dp-all` arms).
pub fn section_md(r: &ExperimentResult) -> String {
    let Some(l) = &r.lawful else {
        return String::new();
    };
    let audit = r.spec.lawful.clone().unwrap_or_default();
    let mut s = format!(
        "\n## Could it have been done lawfully?\n\nTwo alternatives on the same held-out registered users, money at the same grouping rate as `all`: a differentially private logistic regression trained on everyone (`dp-all`, objective perturbation, Chaudhuri et al. 2011, pure ε-DP, δ = 0), and the score computed at the wallet. AUC and money are means over the {} replicates. The membership attacks ran on the first replicate only (seed {}): the DP bound holds for each model, so one replicate's models test it; auditing every replicate (LiRA trains {} shadow models per audited model) would multiply the audit's time by the replicates to measure the attack's spread across populations, on which the guarantee does not depend. The bound: {}. A measured TPR whose interval lies above its bound flags a possible break, to be checked on more users: at 0.1% FPR the estimate rests on the few highest-scoring non-members ({} of {}), and a bootstrap interval of so thin a tail understates its spread. The DP model still needs everyone's data where it is trained: trained by the processor, it receives the whole transfer (the bytes shown); trained at the wallet, only its coefficients leave.\n\n",
        r.replicates.len(),
        l.audit_seed,
        audit.audit_shadows,
        l.bound,
        audit.audit_users.div_ceil(1000),
        audit.audit_users
    );
    s.push_str(&crate::report::experiment::md_table(
        &TABLE_HEADER,
        &table_rows(r, l),
    ));
    if let Some(c) = l
        .attacks
        .iter()
        .find(|a| a.target != "model" && a.attack == "lira")
    {
        s.push_str(&format!(
            "\nPositive control (the audit's overfit model, {} members): LiRA TPR at 0.1% FPR {:.3} [{:.3}, {:.3}], AUC {:.3}: the attacks do see a leak when there is one.\n",
            c.members, c.tpr_at_0_1pct_fpr[0], c.tpr_at_0_1pct_fpr[1], c.tpr_at_0_1pct_fpr[2], c.auc[0]
        ));
    }
    if let Some(w) = &l.wallet {
        s.push_str(&wallet_md(w));
    }
    s
}

/// `metrics.parquet` rows of the lawful section: (arm, family, metric,
/// [value, low, high]).
pub fn metric_rows(r: &ExperimentResult) -> Vec<(String, String, String, [Option<f64>; 3])> {
    let mut out = Vec::new();
    let Some(l) = &r.lawful else {
        return out;
    };
    for a in &l.attacks {
        let fam = if a.epsilon.is_some() {
            DP_FAMILY
        } else {
            "logistic"
        };
        let stem = format!(
            "{}_{}",
            a.target.replace(' ', "_"),
            a.attack.replace('-', "_")
        );
        let t = |v: [f64; 3]| [Some(v[0]), Some(v[1]), Some(v[2])];
        out.push((
            a.arm.clone(),
            fam.into(),
            format!("{stem}_tpr_at_0_1pct_fpr"),
            t(a.tpr_at_0_1pct_fpr),
        ));
        out.push((
            a.arm.clone(),
            fam.into(),
            format!("{stem}_tpr_at_1pct_fpr"),
            t(a.tpr_at_1pct_fpr),
        ));
        out.push((a.arm.clone(), fam.into(), format!("{stem}_auc"), t(a.auc)));
        for (m, b) in [
            ("bound_tpr_at_0_1pct_fpr", a.bound_at_0_1pct_fpr),
            ("bound_tpr_at_1pct_fpr", a.bound_at_1pct_fpr),
            ("epsilon", a.epsilon),
        ] {
            if b.is_some() && a.attack == "lira" {
                out.push((a.arm.clone(), fam.into(), m.into(), [b, None, None]));
            }
        }
    }
    if let Some(w) = &l.wallet {
        for (m, v) in [
            (
                "transfer_records_per_day",
                w.transfer_records_per_day as f64,
            ),
            ("transfer_bytes_per_day", w.transfer_bytes_per_day),
            ("score_records_per_day", w.score_records_per_day as f64),
            ("score_bytes_per_day", w.score_bytes_per_day),
            ("score_bytes_per_record", w.score_bytes_per_record),
        ] {
            out.push((
                "wallet".into(),
                "logistic".into(),
                m.into(),
                [Some(v), None, None],
            ));
        }
    }
    out
}

/// A horizontal reference line across the ε range.
fn flat(name: &str, y: f64, x: &std::ops::Range<f64>, color: usize) -> Curve {
    Curve {
        name: name.into(),
        points: vec![(x.start, y), (x.end, y)],
        band: Vec::new(),
        color,
        dash: 1,
    }
}

/// y range of curves' points and bands, padded by 5%.
fn y_range(curves: &[Curve]) -> std::ops::Range<f64> {
    let ys = curves
        .iter()
        .flat_map(|c| {
            c.points
                .iter()
                .map(|p| p.1)
                .chain(c.band.iter().flat_map(|b| [b.1, b.2]))
        })
        .filter(|v| v.is_finite());
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad)..(hi + pad)
}

/// One figure of a summary figure against log10 ε: the `dp-all` arms with
/// their 95% band, `all` and the consented arm as flat lines.
fn against_epsilon(
    r: &ExperimentResult,
    plots_dir: &Path,
    stem: &str,
    what: (&str, &str, Ticks),
    f: &dyn Fn(&ArmSummary) -> &crate::stats::interval::Interval,
) -> Result<Figure> {
    let family = r
        .summary
        .first()
        .map(|a| a.family.clone())
        .unwrap_or_default();
    let mut dp: Vec<(f64, &ArmSummary)> = r
        .summary
        .iter()
        .filter(|a| block_family(&a.family, &a.arm) == family)
        .filter_map(|a| Some((epsilon_of(&a.arm)?.log10(), a)))
        .collect();
    dp.sort_by(|a, b| a.0.total_cmp(&b.0));
    let x = (dp.first().map_or(-1.0, |d| d.0) - 0.1)..(dp.last().map_or(1.0, |d| d.0) + 0.1);
    let mut curves = vec![Curve {
        name: "dp-all (DP logistic, all users)".into(),
        points: dp.iter().map(|(e, a)| (*e, f(a).mean)).collect(),
        band: dp
            .iter()
            .map(|(e, a)| (*e, f(a).ci95[0], f(a).ci95[1]))
            .collect(),
        color: 2,
        dash: 0,
    }];
    for (k, a) in r
        .summary
        .iter()
        .filter(|a| a.family == family && !is_dp_arm(&a.arm))
        .enumerate()
    {
        if a.arm == "all" || a.arm == "consented" {
            curves.push(flat(
                &format!("{} (not private)", a.arm),
                f(a).mean,
                &x,
                k.min(1),
            ));
        }
    }
    let axes = Axes {
        title: what.0.into(),
        x_desc: "ε (log scale)".into(),
        y_desc: what.1.into(),
        y: y_range(&curves),
        x,
        x_ticks: Ticks::PowerOfTen,
        y_ticks: what.2,
        x_count: 9,
        diagonal: false,
    };
    Ok(Figure {
        stem: stem.into(),
        caption: format!(
            "{} against the privacy budget ε of the `dp-all` arms (mean across replicates, 95% band), beside `all` and `consented` (flat lines).",
            what.0
        ),
        svg: plot::lines(&plots_dir.join(stem), &axes, &curves)?,
    })
}

/// The measured attack TPR at 0.1% FPR against ε, with the DP bound
/// (log10 scales; 10⁻⁴ stands for 0).
fn attack_figure(l: &LawfulSummary, plots_dir: &Path) -> Result<Option<Figure>> {
    let pts = |attack: &str| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = l
            .attacks
            .iter()
            .filter(|a| a.target == "model" && a.attack == attack)
            .filter_map(|a| Some((a.epsilon?.log10(), a.tpr_at_0_1pct_fpr[0].max(1e-4).log10())))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    let lira = pts("lira");
    if lira.is_empty() {
        return Ok(None);
    }
    let bound: Vec<(f64, f64)> = lira
        .iter()
        .map(|&(x, _)| (x, tpr_bound(10f64.powf(x), 0.0, 0.001).log10()))
        .collect();
    let curve = |name: &str, points, color, dash| Curve {
        name: name.into(),
        points,
        band: Vec::new(),
        color,
        dash,
    };
    let curves = vec![
        curve("LiRA", lira.clone(), 2, 0),
        curve("loss attack", pts("loss-threshold"), 3, 0),
        curve("bound e^ε · 0.001", bound, 0, 1),
    ];
    let x = (lira[0].0 - 0.1)..(lira[lira.len() - 1].0 + 0.1);
    let axes = Axes {
        title: "Membership attack TPR at 0.1% FPR vs the DP bound".into(),
        x_desc: "ε (log scale)".into(),
        y_desc: "TPR at 0.1% FPR (log scale)".into(),
        x,
        y: -4.2..0.1,
        x_ticks: Ticks::PowerOfTen,
        y_ticks: Ticks::PowerOfTen,
        x_count: 9,
        diagonal: false,
    };
    Ok(Some(Figure {
        stem: "lawful_attack".into(),
        caption: "Membership attacks on the `dp-all` models (first replicate): measured TPR at 0.1% FPR (10⁻⁴ stands for 0) and the bound pure ε-DP guarantees, min(1, e^ε · 0.001).".into(),
        svg: plot::lines(&plots_dir.join("lawful_attack"), &axes, &curves)?,
    }))
}

/// The lawful section's plots (none without `dp-all` arms).
pub fn figures(r: &ExperimentResult, plots_dir: &Path) -> Result<Vec<Figure>> {
    let Some(l) = &r.lawful else {
        return Ok(Vec::new());
    };
    let mut out = vec![
        against_epsilon(
            r,
            plots_dir,
            "lawful_auc",
            ("AUC vs ε", "AUC", Ticks::Decimal(3)),
            &|a| &a.auc,
        )?,
        against_epsilon(
            r,
            plots_dir,
            "lawful_loss",
            (
                "Expected loss at equal grouping rate vs ε",
                "KRW per 1,000 users",
                Ticks::Krw,
            ),
            &|a| &a.loss_equal_rate_krw_per_1000,
        )?,
    ];
    out.extend(attack_figure(l, plots_dir)?);
    Ok(out)
}
