//! Report sections of the truth lines (oracle, its noise, the
//! attributes-only ceiling) and of the score scale (spread on both 0–100
//! scales, the policy under each, grade bands).

use crate::experiment::ExperimentResult;
use crate::experiment::ceiling::CeilingSummary;
use crate::report::experiment::md_table;
use crate::stats::scale::{ScaleSummary, ScoreScale};

/// `mean [lo, hi]` with 3 decimals.
fn iv(i: &crate::stats::interval::Interval) -> String {
    format!("{:.3} [{:.3}, {:.3}]", i.mean, i.ci95[0], i.ci95[1])
}

/// The truth lines: oracle with its noise beside the smallest significant
/// difference, and the attributes-only ceiling.
pub fn truth_md(c: &CeilingSummary) -> String {
    let noise = match c.oracle_noise_auc {
        Some(n) => format!("about {n:.4} AUC (its gap to 64 paths, measured)"),
        None => "not measured at so few paths (above 0.015 AUC)".into(),
    };
    let versus = match (c.oracle_noise_auc, c.smallest_significant_auc_diff) {
        (Some(n), Some(d)) if n < d => {
            format!("below the smallest AUC difference this report calls significant ({d:.4})")
        }
        (_, Some(d)) => format!(
            "**not** below the smallest AUC difference this report calls significant ({d:.4}): read differences that small with care"
        ),
        (_, None) => "this report calls no AUC difference significant".into(),
    };
    format!(
        "\n## Truth lines\n\n\
         - **Oracle** (AUC of `nsf_prob`, P(nsf) from {} replayed windows per user): {}. Its noise from the finite replays is {noise}; {versus}.\n\
         - **Attributes-only ceiling** (gradient-boosted trees fitted on `nsf_prob` as a soft label, every non-held-out user, full attributes): {}. The oracle sees the pre-window state; the attributes reveal only part of it, so no model of these attributes gets much past this line.\n",
        c.prob_paths,
        iv(&c.oracle_auc),
        iv(&c.ceiling_auc)
    )
}

/// The score-scale section of one family.
fn family_md(s: &ScaleSummary, in_use: ScoreScale, currency: &str) -> String {
    let spread: Vec<Vec<String>> = s
        .spread
        .iter()
        .map(|p| {
            vec![
                p.scale.as_str().to_string(),
                p.distinct_values.to_string(),
                format!("{:?}", p.percentiles),
                format!("{:.1} %", 100.0 * p.share_0_to_10),
                format!("{:.1} %", 100.0 * p.share_above_50),
            ]
        })
        .collect();
    let policy: Vec<Vec<String>> = s
        .policy
        .iter()
        .map(|p| {
            vec![
                format!(
                    "{}{}",
                    p.scale.as_str(),
                    if p.in_use { " (in use)" } else { "" }
                ),
                format!("score ≤ {}", p.threshold),
                format!("{:.2} %", 100.0 * p.max_prob_grouped),
                format!("{:.1} %", 100.0 * p.refused_share),
                format!("{:.0}", p.expected_loss_krw_per_1000),
            ]
        })
        .collect();
    let grades: Vec<Vec<String>> = s
        .grades
        .iter()
        .map(|g| {
            vec![
                g.grade.clone(),
                format!(
                    "{:.2}–{:.2} %",
                    100.0 * g.prob_range[0],
                    100.0 * g.prob_range[1]
                ),
                format!("{}–{}", g.log_odds_scores[0], g.log_odds_scores[1]),
                format!("{}–{}", g.probability_scores[0], g.probability_scores[1]),
                format!("{:.1} %", 100.0 * g.share),
                if g.users == 0 {
                    "–".into()
                } else {
                    format!("{:.2} %", 100.0 * g.nsf_rate)
                },
            ]
        })
        .collect();
    format!(
        "\n### {} (`all`, {} test users pooled over the replicates; policy stated on the {} scale)\n\n{}\nThe policy (grouped charges only at or below the threshold) under each scale:\n\n{}\nGrade bands (bands of P(nsf), the same users under either scale); observed NSF rates {}:\n\n{}",
        s.family,
        s.users,
        in_use.as_str(),
        md_table(
            &[
                "scale",
                "values used (of 101)",
                "percentiles 1/10/50/90/99",
                "share 0–10",
                "share > 50"
            ],
            &spread
        ),
        md_table(
            &[
                "scale",
                "grouped when",
                "largest P grouped",
                "refused",
                &format!("expected loss ({currency} / 1,000)")
            ],
            &policy
        ),
        if s.grades_monotone {
            "rise from A to E"
        } else {
            "**do not** rise monotonically from A to E"
        },
        md_table(
            &[
                "grade",
                "P(nsf)",
                "log-odds scores",
                "probability scores",
                "users",
                "observed NSF rate"
            ],
            &grades
        )
    )
}

/// Truth lines and score scales (empty when the result has neither).
pub fn section_md(r: &ExperimentResult) -> String {
    let mut s = r.ceiling.as_ref().map(truth_md).unwrap_or_default();
    if !r.score_scales.is_empty() {
        s.push_str(&format!(
            "\n## Score scales\n\nThe 0–100 score is a setting (`score_scale`): `probability` is round(100·P); `log-odds` is 50 + 10·log2(odds·64), clamped to 0–100 (10 points double the odds of failing; 50 points at odds 1:64, P ≈ 1.5 %, about the median user). This run states its policy on the `{}` scale.\n",
            r.spec.score_scale.as_str()
        ));
        for f in &r.score_scales {
            s.push_str(&family_md(f, r.spec.score_scale, &r.spec.currency));
        }
    }
    s
}
