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
