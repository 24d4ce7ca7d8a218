//! The 0–100 score scale: how a probability of NSF becomes the integer a
//! policy reads, and the grade bands A–E.
//!
//! Two scales:
//!
//! * `probability`: round(100 · P), the original mapping. On a population
//!   with a 3 % base rate almost every user scores 0–10 and no one above 50.
//! * `log-odds`: the credit-scoring convention, "points to double the odds".
//!   score = 50 + 10 · log2(odds / ODDS_AT_ANCHOR), odds = P / (1 − P),
//!   rounded and clamped to 0–100. 10 points double the odds of failing. The
//!   anchor, 50 points at odds 1:64 (P ≈ 1.5 %), is about the median P a
//!   model gives a user of the default population (risk is skewed: the
//!   3 % base rate is carried by a minority), so the typical user sits
//!   mid-scale; the range covers odds 1:2048 (P ≈ 0.05 %, score 0) to 1:2
//!   (P ≈ 33 %, score 100), the probabilities the default population's
//!   models produce (measured in the README). Higher = more likely to fail,
//!   as on the probability scale, so `max_score_for_grouping` keeps its
//!   direction.
//!
//! Grades are bands of the probability itself (A < 0.5 % ≤ B < 1.5 % ≤ C <
//! 3 % ≤ D < 6 % ≤ E), so a user has the same grade under either scale.

use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};

/// Points that double the odds on the log-odds scale.
pub const POINTS_TO_DOUBLE_ODDS: f64 = 10.0;
/// Score at the anchor odds.
pub const ANCHOR_SCORE: f64 = 50.0;
/// Odds of failing at the anchor score (1:64, P ≈ 1.5 %: about the
/// default population's median predicted P).
pub const ODDS_AT_ANCHOR: f64 = 1.0 / 64.0;

/// The mapping from P(nsf) to the 0–100 score.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreScale {
    /// round(100 · P).
    #[default]
    Probability,
    /// 50 + 10 · log2(odds · 64), clamped to 0–100.
    LogOdds,
}

impl ScoreScale {
    /// Both scales, the default first.
    pub const ALL: [ScoreScale; 2] = [ScoreScale::Probability, ScoreScale::LogOdds];

    /// Parses `probability` or `log-odds`; `what` names the flag or field.
    pub fn parse(s: &str, what: &str) -> Result<Self> {
        match s {
            "probability" => Ok(Self::Probability),
            "log-odds" => Ok(Self::LogOdds),
            other => Err(NsfError::param(
                what,
                format!("`{other}` is not one of probability, log-odds"),
            )),
        }
    }

    /// Its name as written in specs and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Probability => "probability",
            Self::LogOdds => "log-odds",
        }
    }

    /// The mapping in words (recorded in model and score manifests).
    pub fn mapping(self) -> &'static str {
        match self {
            Self::Probability => {
                "score = round(100 * P(nsf = 1)), an integer 0-100; higher = more likely to fail a grouped charge"
            }
            Self::LogOdds => {
                "score = round(50 + 10 * log2(64 * P / (1 - P))), clamped to 0-100: 10 points double the odds of failing, 50 points at odds 1:64; higher = more likely to fail a grouped charge"
            }
        }
    }

    /// The 0–100 score of probability `p`.
    pub fn score(self, p: f64) -> u8 {
        let s = match self {
            Self::Probability => 100.0 * p,
            Self::LogOdds => log_odds_points(p),
        };
        if s.is_nan() {
            return 0;
        }
        s.round().clamp(0.0, 100.0) as u8
    }

    /// Scores of every probability.
    pub fn scores(self, p: &[f64]) -> Vec<u8> {
        p.iter().map(|&v| self.score(v)).collect()
    }

    /// The largest probability whose score is at most `s` (the policy's
    /// cut in probability): P at score s + 0.5.
    pub fn max_prob_at(self, s: u8) -> f64 {
        if s >= 100 {
            return 1.0;
        }
        let x = s as f64 + 0.5;
        match self {
            Self::Probability => x / 100.0,
            Self::LogOdds => {
                let odds = ODDS_AT_ANCHOR * ((x - ANCHOR_SCORE) / POINTS_TO_DOUBLE_ODDS).exp2();
                odds / (1.0 + odds)
            }
        }
    }
}

/// Unrounded log-odds points of `p` (±∞ at 0 and 1).
fn log_odds_points(p: f64) -> f64 {
    let odds = p / (1.0 - p);
    ANCHOR_SCORE + POINTS_TO_DOUBLE_ODDS * (odds / ODDS_AT_ANCHOR).log2()
}

/// Grade letters, best (least likely to fail) first.
pub const GRADES: [&str; 5] = ["A", "B", "C", "D", "E"];
/// Lower P(nsf) of grades B–E.
pub const GRADE_CUTS: [f64; 4] = [0.005, 0.015, 0.03, 0.06];

/// Grade index 0 (A) … 4 (E) of probability `p`.
pub fn grade(p: f64) -> usize {
    GRADE_CUTS.iter().filter(|&&c| p >= c).count()
}

/// One grade band on a population.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct GradeRow {
    /// Letter A–E.
    pub grade: String,
    /// Its probability range [lower, upper).
    pub prob_range: [f64; 2],
    /// Its scores on the probability scale [lowest, highest].
    pub probability_scores: [u8; 2],
    /// Its scores on the log-odds scale [lowest, highest].
    pub log_odds_scores: [u8; 2],
    /// Users in the band.
    pub users: u64,
    /// Share of the users.
    pub share: f64,
    /// Observed NSF rate (NaN without users).
    pub nsf_rate: f64,
}

/// The grade table of predictions `p` with outcomes `y`.
pub fn grade_table(p: &[f64], y: &[bool]) -> Vec<GradeRow> {
    let mut n = [0u64; 5];
    let mut ev = [0u64; 5];
    for (&v, &o) in p.iter().zip(y) {
        let g = grade(v);
        n[g] += 1;
        ev[g] += o as u64;
    }
    let total = p.len().max(1) as f64;
    (0..5)
        .map(|g| {
            let lo = if g == 0 { 0.0 } else { GRADE_CUTS[g - 1] };
            let hi = if g == 4 { 1.0 } else { GRADE_CUTS[g] };
            let range = |s: ScoreScale| [s.score(lo), s.score(hi).saturating_sub((g < 4) as u8)];
            GradeRow {
                grade: GRADES[g].into(),
                prob_range: [lo, hi],
                probability_scores: range(ScoreScale::Probability),
                log_odds_scores: range(ScoreScale::LogOdds),
                users: n[g],
                share: n[g] as f64 / total,
                nsf_rate: ev[g] as f64 / n[g] as f64,
            }
        })
        .collect()
}

/// True when the observed NSF rates of the non-empty grades rise from A to E.
pub fn grades_monotone(rows: &[GradeRow]) -> bool {
    let rates: Vec<f64> = rows
        .iter()
        .filter(|r| r.users > 0)
        .map(|r| r.nsf_rate)
        .collect();
    rates.windows(2).all(|w| w[0] <= w[1])
}

/// How a scale spreads a population's scores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Spread {
    /// The scale.
    pub scale: ScoreScale,
    /// Distinct score values used (of 101).
    pub distinct_values: u32,
    /// 1st, 10th, 50th, 90th and 99th percentile score.
    pub percentiles: [u8; 5],
    /// Share of users scoring 0–10.
    pub share_0_to_10: f64,
    /// Share of users scoring above 50.
    pub share_above_50: f64,
}

/// The spread of `scale`'s scores of probabilities `p`.
pub fn spread(scale: ScoreScale, p: &[f64]) -> Spread {
    let mut counts = [0u64; 101];
    for &v in p {
        counts[scale.score(v) as usize] += 1;
    }
    let n = p.len().max(1) as f64;
    let pct = |q: f64| -> u8 {
        let target = (q * n).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (s, &c) in counts.iter().enumerate() {
            acc += c;
            if acc >= target {
                return s as u8;
            }
        }
        100
    };
    Spread {
        scale,
        distinct_values: counts.iter().filter(|&&c| c > 0).count() as u32,
        percentiles: [0.01, 0.10, 0.50, 0.90, 0.99].map(pct),
        share_0_to_10: counts[..=10].iter().sum::<u64>() as f64 / n,
        share_above_50: counts[51..].iter().sum::<u64>() as f64 / n,
    }
}

/// The policy's result on one scale: refuse grouping above `threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PolicyOnScale {
    /// The scale.
    pub scale: ScoreScale,
    /// Whether the spec states its policy on this scale.
    pub in_use: bool,
    /// `max_score_for_grouping` (the same number on both scales).
    pub threshold: u8,
    /// The largest P(nsf) still grouped.
    pub max_prob_grouped: f64,
    /// Share refused grouping.
    pub refused_share: f64,
    /// Expected loss per 1,000 users (KRW).
    pub expected_loss_krw_per_1000: f64,
}

/// How one family's `all` scores look on both scales, pooled over the
/// replicates' test users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ScaleSummary {
    /// Model family.
    pub family: String,
    /// Test users pooled.
    pub users: u64,
    /// Spread of the scores, per scale.
    pub spread: Vec<Spread>,
    /// The policy under each scale.
    pub policy: Vec<PolicyOnScale>,
    /// Grade bands (the same on both scales).
    pub grades: Vec<GradeRow>,
    /// Observed NSF rates rise from A to E.
    pub grades_monotone: bool,
}

/// The scale summary of predictions `p` (outcomes `y`, true P `truth`)
/// under `policy`, stated on scale `in_use`.
pub fn summarize(
    family: &str,
    p: &[f64],
    y: &[bool],
    truth: &[f64],
    policy: &crate::stats::money::Policy,
    in_use: ScoreScale,
) -> ScaleSummary {
    let policy_on = |scale: ScoreScale| {
        let (loss, refused) = crate::stats::money::expected_loss(&scale.scores(p), truth, policy);
        PolicyOnScale {
            scale,
            in_use: scale == in_use,
            threshold: policy.max_score_for_grouping,
            max_prob_grouped: scale.max_prob_at(policy.max_score_for_grouping),
            refused_share: refused,
            expected_loss_krw_per_1000: loss,
        }
    };
    let grades = grade_table(p, y);
    ScaleSummary {
        family: family.into(),
        users: p.len() as u64,
        spread: ScoreScale::ALL.iter().map(|&s| spread(s, p)).collect(),
        policy: ScoreScale::ALL.iter().map(|&s| policy_on(s)).collect(),
        grades_monotone: grades_monotone(&grades),
        grades,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_scale_is_the_old_mapping() {
        for p in [0.0, 0.004, 0.005, 0.1049, 0.105, 0.5, 0.999, 1.0] {
            assert_eq!(
                ScoreScale::Probability.score(p),
                (100.0 * p).round() as u8,
                "{p}"
            );
        }
    }

    #[test]
    fn log_odds_scale_doubles_odds_every_ten_points() {
        let s = ScoreScale::LogOdds;
        assert_eq!(s.score(1.0 / 65.0), 50);
        assert_eq!(s.score(2.0 / 66.0), 60);
        assert_eq!(s.score(1.0 / 3.0), 100);
        assert_eq!(s.score(0.0), 0);
        assert_eq!(s.score(1.0), 100);
        assert_eq!(s.score(f64::NAN), 0);
        // The cut in probability sits between the last score at most s and
        // the first above it.
        for t in [0u8, 10, 37, 50, 99] {
            let cut = s.max_prob_at(t);
            assert!(s.score(cut * 0.999) <= t && s.score(cut * 1.001) > t, "{t}");
        }
    }

    #[test]
    fn grades_cover_the_range_in_order() {
        assert_eq!(grade(0.0), 0);
        assert_eq!(grade(1.0), 4);
        let mut last = 0;
        for k in 0..=1000 {
            let g = grade(k as f64 / 1000.0);
            assert!(g >= last);
            last = g;
        }
        let rows = grade_table(&[0.001, 0.01, 0.02, 0.05, 0.4], &[false; 5]);
        assert_eq!(rows.iter().map(|r| r.users).sum::<u64>(), 5);
        assert!(rows.iter().all(|r| r.users == 1));
    }

    #[test]
    fn parse_names_the_flag() {
        let e = ScoreScale::parse("logit", "--score-scale").unwrap_err();
        assert!(e.to_string().contains("--score-scale"));
        assert_eq!(
            ScoreScale::parse("log-odds", "x").unwrap(),
            ScoreScale::LogOdds
        );
    }
}
