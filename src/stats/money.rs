//! What a score costs in money: the grouping policy and the expected KRW
//! lost to failed grouped charges (through the true NSF probability).

use serde::{Deserialize, Serialize};

/// The grouping policy that turns scores into money.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Users with a score at most this get grouped charges.
    pub max_score_for_grouping: u8,
    /// KRW lost per failed grouped charge.
    pub loss_per_failed_charge_krw: f64,
    /// KRW gained per grouped user (E: fewer per-item card fees and a
    /// smoother purchase), for the net value B × grouped − loss.
    #[serde(default = "default_benefit")]
    pub benefit_per_grouped_user_krw: f64,
}

fn default_benefit() -> f64 {
    300.0
}

/// Expected KRW lost per 1,000 users under `policy` (via the true NSF
/// probability) and the share of users refused grouping.
pub fn expected_loss(score: &[u8], truth: &[f64], policy: &Policy) -> (f64, f64) {
    let n = score.len() as f64;
    let mut loss = 0.0;
    let mut refused = 0u64;
    for (s, p) in score.iter().zip(truth) {
        if *s <= policy.max_score_for_grouping {
            loss += p * policy.loss_per_failed_charge_krw;
        } else {
            refused += 1;
        }
    }
    (1000.0 * loss / n, refused as f64 / n)
}

/// Users grouped when `share` of `n` users are refused.
pub fn grouped_count(n: usize, share: f64) -> usize {
    n - ((share.clamp(0.0, 1.0) * n as f64).round() as usize).min(n)
}

/// Expected KRW lost per 1,000 of `n` weighted users when the `share` a
/// model ranks riskiest is refused: `order` lists rows from least to most
/// risky, row `i` counts `weight[i]` times, and the grouped users are the
/// first `grouped_count(n, share)` of that weighted list (a row cut at the
/// boundary contributes only its copies inside it).
pub fn loss_at_refused_share_weighted(
    order: &[u32],
    weight: &[u32],
    truth: &[f64],
    share: f64,
    loss_per: f64,
) -> f64 {
    let n: u64 = weight.iter().map(|&w| w as u64).sum();
    if n == 0 {
        return f64::NAN;
    }
    let mut left = grouped_count(n as usize, share) as u64;
    let mut lost = 0.0;
    for &row in order {
        if left == 0 {
            break;
        }
        let take = (weight[row as usize] as u64).min(left);
        lost += take as f64 * truth[row as usize];
        left -= take;
    }
    1000.0 * loss_per * lost / n as f64
}

/// [`expected_loss`] when row `i` counts `weight[i]` times.
pub fn expected_loss_weighted(
    score: &[u8],
    truth: &[f64],
    weight: &[u32],
    policy: &Policy,
) -> (f64, f64) {
    let (mut loss, mut refused, mut n) = (0.0, 0u64, 0u64);
    for ((s, p), &w) in score.iter().zip(truth).zip(weight) {
        n += w as u64;
        if *s <= policy.max_score_for_grouping {
            loss += w as f64 * p * policy.loss_per_failed_charge_krw;
        } else {
            refused += w as u64;
        }
    }
    (1000.0 * loss / n as f64, refused as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_counts_only_grouped_users() {
        let policy = Policy {
            max_score_for_grouping: 10,
            loss_per_failed_charge_krw: 1000.0,
            benefit_per_grouped_user_krw: 0.0,
        };
        // Two grouped users (P 0.1 and 0.3), one refused (score 50).
        let (loss, refused) = expected_loss(&[5, 10, 50], &[0.1, 0.3, 0.9], &policy);
        assert!((loss - 1000.0 * (0.1 + 0.3) * 1000.0 / 3.0).abs() < 1e-9);
        assert!((refused - 1.0 / 3.0).abs() < 1e-12);
    }
}
