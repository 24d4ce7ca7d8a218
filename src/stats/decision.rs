//! Money as a decision: expected loss when each model refuses grouping to a
//! chosen share of users (its riskiest), so arms are compared at the same
//! grouping rate rather than at a score threshold that each model
//! calibrates differently; the cost curve (loss against share refused);
//! net value; and a paired bootstrap of AUC and both losses.

use crate::stats::bootstrap::paired_resamples;
use crate::stats::money::{Policy, grouped_count};

/// Refusal shares of the cost curve: 0, 2.5 %, …, 50 %.
pub const CURVE_SHARES: [f64; 21] = [
    0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35,
    0.375, 0.4, 0.425, 0.45, 0.475, 0.5,
];

/// Indices of `probs` from least to most risky (ties by index, so the
/// order is deterministic).
fn order(probs: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|&a, &b| probs[a].total_cmp(&probs[b]).then(a.cmp(&b)));
    idx
}

/// Expected KRW lost per 1,000 users when the model refuses grouping to
/// the `share` of users it ranks riskiest (by `probs`) and groups the rest;
/// the loss uses the true NSF probability `truth`.
pub fn loss_at_refused_share(probs: &[f64], truth: &[f64], share: f64, loss_per: f64) -> f64 {
    let n = probs.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = grouped_count(n, share);
    let o = order(probs);
    let lost: f64 = o[..k].iter().map(|&i| truth[i]).sum();
    1000.0 * loss_per * lost / n as f64
}

/// The cost curve: (share refused, expected KRW lost per 1,000 users) at
/// each share of [`CURVE_SHARES`].
pub fn cost_curve(probs: &[f64], truth: &[f64], loss_per: f64) -> Vec<(f64, f64)> {
    let n = probs.len();
    let o = order(probs);
    let mut cum = vec![0.0; n + 1];
    for (j, &i) in o.iter().enumerate() {
        cum[j + 1] = cum[j] + truth[i];
    }
    CURVE_SHARES
        .iter()
        .map(|&s| {
            let k = grouped_count(n, s);
            (s, 1000.0 * loss_per * cum[k] / n.max(1) as f64)
        })
        .collect()
}

/// Net value per 1,000 users: the benefit of every grouped user minus the
/// expected loss (both KRW).
pub fn net_value(refused_share: f64, loss_per_1000: f64, benefit_per_grouped: f64) -> f64 {
    1000.0 * benefit_per_grouped * (1.0 - refused_share) - loss_per_1000
}

/// One resample's figures for one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// AUC.
    pub auc: f64,
    /// Expected loss under the policy's score threshold (KRW / 1,000).
    pub loss: f64,
    /// Expected loss at the common refusal share (KRW / 1,000).
    pub loss_equal_rate: f64,
}

/// Paired bootstrap of several models on the same users: resample `b`
/// draws the same users for every model and gives each model's AUC, its
/// loss under `policy` and its loss when refusing exactly `share` of the
/// resampled users. Seeded per resample (thread-count independent).
#[allow(clippy::too_many_arguments)]
pub fn decision_bootstrap(
    probs: &[Vec<f64>],
    scores: &[Vec<u8>],
    labels: &[bool],
    truth: &[f64],
    policy: &Policy,
    share: f64,
    resamples: u32,
    seed: u64,
) -> Vec<Vec<Draw>> {
    paired_resamples(probs, scores, labels, truth, resamples, seed, |r| Draw {
        auc: r.auc(),
        loss: r.expected_loss(policy).0,
        loss_equal_rate: r.loss_at_refused_share(share, policy.loss_per_failed_charge_krw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusing_the_riskiest_share_groups_the_rest() {
        // Ranked by probs: users 2 (0.1), 0 (0.2), 3 (0.5), 1 (0.9).
        let probs = [0.2, 0.9, 0.1, 0.5];
        let truth = [0.02, 0.3, 0.01, 0.1];
        // Refuse half: users 2 and 0 grouped.
        let l = loss_at_refused_share(&probs, &truth, 0.5, 1000.0);
        assert!((l - 1000.0 * 1000.0 * 0.03 / 4.0).abs() < 1e-9);
        // Refusing nobody loses everyone's expected NSF.
        let l0 = loss_at_refused_share(&probs, &truth, 0.0, 1000.0);
        assert!((l0 - 1000.0 * 1000.0 * 0.43 / 4.0).abs() < 1e-9);
        let c = cost_curve(&probs, &truth, 1000.0);
        assert_eq!(c[0], (0.0, l0));
        assert!((c[20].1 - l).abs() < 1e-9, "curve at 50 % = direct");
        // The curve never rises as more users are refused.
        assert!(c.windows(2).all(|w| w[1].1 <= w[0].1));
    }

    #[test]
    fn a_better_ranking_loses_less_at_the_same_share() {
        let truth: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let noisy: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| t + if i % 2 == 0 { 0.3 } else { 0.0 })
            .collect();
        let good = loss_at_refused_share(&truth, &truth, 0.2, 1.0);
        let bad = loss_at_refused_share(&noisy, &truth, 0.2, 1.0);
        assert!(good < bad, "{good} vs {bad}");
        assert!((net_value(0.2, good, 1.0) - (800.0 - good)).abs() < 1e-9);
    }
}
