//! The audit report: `audit.md` and a self-contained `audit.html` with the
//! findings in plain words, the tables and plots, and the audit folder they
//! are published in.

use std::path::{Path, PathBuf};

use crate::audit::{AttackResult, AuditResult, Est};
use crate::error::Result;
use crate::report::plot::{self, Curve};
use crate::report::{Figure, md_figures};

/// Draws the audit's plots into `plots_dir`.
pub fn audit_figures(r: &AuditResult, plots_dir: &Path) -> Result<Vec<Figure>> {
    std::fs::create_dir_all(plots_dir).map_err(|e| crate::error::NsfError::io(plots_dir, e))?;
    let curves: Vec<Curve> = r
        .membership
        .attacks
        .iter()
        .map(|a| {
            let targets: Vec<&str> = targets_in_order(r);
            Curve {
                name: format!("{}, {} (AUC {:.3})", a.target, a.attack, a.auc.value),
                points: a.roc.clone(),
                band: Vec::new(),
                color: 1 + targets.iter().position(|t| *t == a.target).unwrap_or(0),
                dash: attacks_in_order(r)
                    .iter()
                    .position(|t| *t == a.attack)
                    .unwrap_or(0),
            }
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

/// The attacked models in order of first appearance (one colour each).
fn targets_in_order(r: &AuditResult) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for a in &r.membership.attacks {
        if !v.contains(&a.target.as_str()) {
            v.push(&a.target);
        }
    }
    v
}

/// The attacks in order of first appearance (one line style each).
fn attacks_in_order(r: &AuditResult) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for a in &r.membership.attacks {
        if !v.contains(&a.attack.as_str()) {
            v.push(&a.attack);
        }
    }
    v
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
    let mut out = membership_findings(r);
    out.push(inference_finding(r));
    out.extend(singling_out_finding(r));
    out.extend(replacement_finding(r));
    if !r.left_out.is_empty() {
        out.push(format!(
            "Left out (the model was trained on a table, which has no simulated truth): {}.",
            r.left_out.join("; ")
        ));
    }
    out.extend(same_family_finding(r));
    out
}

/// The same-family control: where membership starts to leak, canaries.
fn same_family_finding(r: &AuditResult) -> Option<String> {
    let c = r.same_family_control.as_ref()?;
    let found: u64 = c.sizes.iter().map(|s| s.canaries_found).sum();
    let planted: u64 = c.sizes.iter().map(|s| s.canaries).sum();
    let sizes: Vec<String> = c
        .sizes
        .iter()
        .map(|s| {
            format!(
                "{} users: AUC {}, canaries {}/{}",
                s.training_users,
                est(&s.attack_auc, 3),
                s.canaries_found,
                s.canaries
            )
        })
        .collect();
    let leak = match (c.leaks_up_to, c.undetectable_from) {
        (None, _) => "at none of the sizes tried".to_string(),
        (Some(n), Some(m)) => {
            format!("up to {n} training users and no longer detectably from {m} on")
        }
        (Some(n), None) => format!("up to {n} training users, the largest size tried"),
    };
    Some(format!(
        "**Same-family control**: the audited family (`{}`), trained on few of its members, leaks membership {leak}; planted outlier canaries found {found} of {planted} (chance 1 %) ({}).",
        c.family,
        sizes.join("; ")
    ))
}

/// One row per size of the same-family control.
fn control_rows(r: &AuditResult) -> Vec<Vec<String>> {
    let Some(c) = r.same_family_control.as_ref() else {
        return Vec::new();
    };
    c.sizes
        .iter()
        .map(|s| {
            vec![
                c.family.clone(),
                s.training_users.to_string(),
                s.models.to_string(),
                est(&s.attack_auc, 3),
                s.attack_auc_events
                    .as_ref()
                    .map_or("–".into(), |e| est(e, 3)),
                if s.leaks { "yes" } else { "no" }.into(),
                format!(
                    "{} of {} ({:.0} %, {:.0}–{:.0} %)",
                    s.canaries_found,
                    s.canaries,
                    100.0 * s.canaries_found_share.value,
                    100.0 * s.canaries_found_share.ci95[0],
                    100.0 * s.canaries_found_share.ci95[1]
                ),
            ]
        })
        .collect()
}

/// One row per grade band: what the band discloses.
fn disclosure_rows(r: &AuditResult) -> Vec<Vec<String>> {
    r.disclosure
        .iter()
        .map(|b| {
            let [q10, q50, q90] = b.balance_quantiles_krw;
            vec![
                b.grade.clone(),
                b.users.to_string(),
                format!("{:.1} %", 100.0 * b.p_zero_balance),
                format!("{q10:.0} / {q50:.0} / {q90:.0}"),
                format!("{:.1} %", 100.0 * b.p_auto_topup),
                format!("{:.1} %", 100.0 * b.p_ios),
            ]
        })
        .collect()
}

/// Membership: each attack on the model, and the positive control.
fn membership_findings(r: &AuditResult) -> Vec<String> {
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
    out
}

/// Is the score the source data: what it reveals about the attributes.
fn inference_finding(r: &AuditResult) -> String {
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
    if ids.is_empty() {
        // A table: its model columns, no identifiers.
        return format!(
            "Attributes from the score ({} model columns of the table): it carries most about {}; for {} of them it reveals almost nothing (R² < 0.05).",
            r.attributes.len(),
            top.join(", "),
            little
        );
    }
    format!(
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
    )
}

/// How many people the score and quasi-identifiers single out.
fn singling_out_finding(r: &AuditResult) -> Option<String> {
    let u = |k: &str| r.uniqueness.iter().find(|x| x.key == k);
    if let (Some(s), Some(q), Some(b), Some(e)) = (
        u("score"),
        u("age band + region"),
        u("score + age band + region"),
        u("score + age + region + device"),
    ) {
        return Some(format!(
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
    None
}

/// What the lawful replacement costs.
fn replacement_finding(r: &AuditResult) -> Option<String> {
    let rp = r.replacement.as_ref()?;
    Some(format!(
        "The lawful replacement: the same model trained only on consented users ({} users, model {}) changes the AUC on held-out registered users by {:+.2} points ({:+.2} to {:+.2}) and the expected loss from failed grouped charges by {:+.0} KRW per 1,000 users ({:+.0} to {:+.0}).",
        rp.training_users,
        rp.model_id,
        100.0 * rp.auc_diff.value,
        100.0 * rp.auc_diff.ci95[0],
        100.0 * rp.auc_diff.ci95[1],
        rp.loss_diff.value,
        rp.loss_diff.ci95[0],
        rp.loss_diff.ci95[1]
    ))
}

/// One row per membership attack.
fn attack_rows(r: &AuditResult) -> Vec<Vec<String>> {
    r.membership
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
        .collect()
}

/// One row per attribute.
fn attribute_rows(r: &AuditResult) -> Vec<Vec<String>> {
    r.attributes
        .iter()
        .map(|a| {
            vec![
                a.attribute.clone(),
                format!("{} ({})", a.kind, a.scale),
                est(&a.r2_score, 3),
                a.r2_score_raw.as_ref().map_or("".into(), |e| est(e, 3)),
                est(&a.r2_quasi, 3),
                est(&a.r2_score_quasi, 3),
                a.auc_score.as_ref().map_or("".into(), |e| est(e, 3)),
                format!("{:.3}", a.mi_bits),
                format!("{:.2}", a.entropy_bits),
            ]
        })
        .collect()
}

/// One row per singling-out key.
fn uniqueness_rows(r: &AuditResult) -> Vec<Vec<String>> {
    r.uniqueness
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
        .collect()
}

/// The audited model and its replacement.
fn replacement_rows(r: &AuditResult) -> Vec<Vec<String>> {
    let Some(rp) = r.replacement.as_ref() else {
        return Vec::new();
    };
    vec![
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
    ]
}

/// The audit's tables: title, header, rows.
fn audit_tables(r: &AuditResult) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let test_users = r.replacement.as_ref().map_or(0, |rp| rp.test_users);
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
            attack_rows(r),
        ),
        (
            "Attribute inference from the score".into(),
            s(&[
                "attribute",
                "kind (scale)",
                "R² score",
                "R² score, raw scale",
                "R² age band + region",
                "R² score + age band + region",
                "AUC score (binary)",
                "MI score (bits)",
                "entropy (bits)",
            ]),
            attribute_rows(r),
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
            uniqueness_rows(r),
        ),
        (
            format!(
                "The lawful replacement ({} held-out registered users)",
                test_users
            ),
            s(&[
                "model",
                "training users",
                "AUC",
                "expected KRW lost per 1,000 users",
            ]),
            replacement_rows(r),
        ),
        (
            "Same-family positive control (the audited family on few members, loss-threshold attack pooled over replicate models, planted outlier canaries; chance finds 1 %)".into(),
            s(&[
                "family",
                "training users per model",
                "models",
                "attack AUC (95% CI)",
                "attack AUC among NSF users",
                "leaks",
                "canaries found (95% CI)",
            ]),
            control_rows(r),
        ),
        (
            "What the grade band discloses (every user; grades are bands of P(nsf))".into(),
            s(&[
                "grade",
                "users",
                "P(balance = 0)",
                "balance p10 / p50 / p90 (KRW)",
                "P(auto top-up)",
                "P(iOS)",
            ]),
            disclosure_rows(r),
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

/// The audit report's body in Markdown, `figures` being the Markdown of
/// its plots: one source for `audit.md` and `audit.html`. Tables without
/// rows are left out.
fn audit_body(r: &AuditResult, figures: &str) -> String {
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
        if rows.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "\n## {title}\n\n| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for row in rows {
            s.push_str(&format!("| {} |\n", row.join(" | ")));
        }
    }
    s.push_str(figures);
    s.push_str("\nAll figures are in `audit.json` and, in long format (section, item, metric, value, low, high), in `audit.parquet`; the membership ROC points are in `audit_roc.parquet`.\n");
    s
}

/// `audit.md`.
pub fn audit_markdown(r: &AuditResult, figures: &[Figure]) -> String {
    audit_body(r, &md_figures(figures))
}

/// `audit.html`: the same Markdown rendered, self-contained.
pub fn audit_html(r: &AuditResult, figures: &[Figure]) -> String {
    crate::report::html::page(
        &format!("nsfsim audit {}", r.model.model_id),
        &audit_body(r, &crate::report::html::figure_blocks(figures)),
    )
}

/// Runs the audit of `model_id` and publishes its folder: `audit.json`,
/// `audit.md`, `audit.html`, `plots/` and `manifest.json`, staged and
/// renamed when complete, then recorded in the registry's lineage as
/// derived from the audited model. Returns the result and the folder.
pub fn audit(
    registry: &Path,
    model_id: &str,
    data_dir: &Path,
    params: &crate::audit::ValidAuditParams,
    out: &Path,
    force: bool,
    progress: &dyn Fn(&str),
) -> Result<(AuditResult, PathBuf)> {
    crate::lineage::registry::check_id(model_id)?;
    let staged = crate::data::artifact::StagedDir::create_for(out, force, "audit")?;
    let result = if data_dir.is_file() {
        // A model trained on a table (`train --data FILE`): its stored
        // encodings rebuild the rows.
        let load = |m: &crate::lineage::registry::ModelManifest,
                    stored: &crate::models::StoredModel| {
            crate::experiment::own::score_data(data_dir, m, stored.features(), 0)
        };
        crate::audit::run_with(registry, model_id, data_dir, params, progress, &load)?
    } else {
        crate::audit::run(registry, model_id, data_dir, params, progress)?
    };
    progress("plots and report");
    let figures = audit_figures(&result, &staged.path("plots"))?;
    staged.write_json("audit.json", &result)?;
    staged.write_text("audit.md", &audit_markdown(&result, &figures))?;
    staged.write_text("audit.html", &audit_html(&result, &figures))?;
    let tables = crate::report::tidy::write_audit_tables(staged.staging_path(), &result)?;
    let mut manifest = serde_json::json!({
        "kind": "audit",
        "nsfsim_version": env!("CARGO_PKG_VERSION"),
        "model_id": model_id,
        "models": [{"model_id": model_id, "manifest": result.model}],
        "replacement_model_id": result.replacement.as_ref().map(|rp| rp.model_id.clone()),
        "data": result.model.data,
        "files": ["audit.md", "audit.html", "audit.json", "plots/"],
    });
    if let Some(files) = manifest["files"].as_array_mut() {
        files.extend(tables.into_iter().map(serde_json::Value::from));
    }
    staged.write_json("manifest.json", &manifest)?;
    let out = crate::lineage::registry::publish_folder(
        registry,
        "audit",
        staged,
        &[model_id.to_string()],
    )?;
    Ok((result, out))
}
