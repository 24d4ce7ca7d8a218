//! The paired bootstrap: several models scored on the same users, every
//! resample drawing the same users for every model.
//!
//! A resample is kept as multiplicities (how often each user was drawn),
//! not as a copied list: each model's users are ranked once, and AUC and
//! both losses of a resample are one pass over that ranking. The figures
//! equal those of the materialized resample (tested), at O(n) per model
//! and resample instead of two sorts.

use rand::RngCore;
use rayon::prelude::*;

use crate::sim::rng::{Stream, user_stream};
use crate::stats::metrics::{self, Ranking};
use crate::stats::money::{self, Policy};

/// Paired bootstrap of several models on the same users: resample `b`
/// draws the same users for every model and gives, per model, (AUC,
/// expected KRW lost per 1,000 users under `policy`). Resamples are
/// seeded per index, so the result does not depend on the thread count.
pub fn paired_bootstrap(
    probs: &[Vec<f64>],
    scores: &[Vec<u8>],
    labels: &[bool],
    truth: &[f64],
    policy: &Policy,
    resamples: u32,
    seed: u64,
) -> Vec<Vec<(f64, f64)>> {
    paired_resamples(probs, scores, labels, truth, resamples, seed, |r| {
        (r.auc(), r.expected_loss(policy).0)
    })
}

/// One model's view of one paired resample: the model's figures on the
/// test users, weighted by how often the resample drew each of them.
pub struct Resampled<'a> {
    /// The model's ranking of the test users by probability.
    pub ranking: &'a Ranking,
    /// The model's 0–100 scores of the test users.
    pub scores: &'a [u8],
    /// The test users' outcomes.
    pub labels: &'a [bool],
    /// The test users' true NSF probabilities.
    pub truth: &'a [f64],
    /// How often the resample drew each test user (sums to their count).
    pub counts: &'a [u32],
}

impl Resampled<'_> {
    /// AUC on the resample.
    pub fn auc(&self) -> f64 {
        metrics::auc_weighted(self.ranking, self.labels, self.counts)
    }

    /// Expected KRW lost per 1,000 users under `policy`, and the share
    /// refused, on the resample.
    pub fn expected_loss(&self, policy: &Policy) -> (f64, f64) {
        money::expected_loss_weighted(self.scores, self.truth, self.counts, policy)
    }

    /// Expected KRW lost per 1,000 users when the model refuses the
    /// `share` of the resample it ranks riskiest (ties by user index).
    pub fn loss_at_refused_share(&self, share: f64, loss_per: f64) -> f64 {
        money::loss_at_refused_share_weighted(
            &self.ranking.order,
            self.counts,
            self.truth,
            share,
            loss_per,
        )
    }
}

/// The paired bootstrap's loop: resample `b` draws the same users for every
/// model, and `stat` turns each model's view of it into a statistic.
/// Resamples are seeded per index, so the result does not depend on the
/// thread count.
pub fn paired_resamples<T: Send>(
    probs: &[Vec<f64>],
    scores: &[Vec<u8>],
    labels: &[bool],
    truth: &[f64],
    resamples: u32,
    seed: u64,
    stat: impl Fn(&Resampled) -> T + Sync,
) -> Vec<Vec<T>> {
    let n = labels.len();
    let rankings: Vec<Ranking> = probs.par_iter().map(|p| metrics::rank_rows(p)).collect();
    (0..resamples as u64)
        .into_par_iter()
        .map(|b| {
            let counts = multiplicities(n, seed, b);
            rankings
                .iter()
                .zip(scores)
                .map(|(ranking, s)| {
                    stat(&Resampled {
                        ranking,
                        scores: s,
                        labels,
                        truth,
                        counts: &counts,
                    })
                })
                .collect()
        })
        .collect()
}

/// Row indices of resample `b` of `n` rows (with replacement), drawn from
/// the bootstrap's own stream (not one the simulator uses for outcomes).
pub fn resample(n: usize, seed: u64, b: u64) -> Vec<usize> {
    let mut rng = user_stream(seed, b, Stream::Bootstrap, 0);
    (0..n)
        .map(|_| (rng.next_u64() % n as u64) as usize)
        .collect()
}

/// How often resample `b` draws each of `n` rows: the same draws as
/// [`resample`], counted.
pub fn multiplicities(n: usize, seed: u64, b: u64) -> Vec<u32> {
    let mut rng = user_stream(seed, b, Stream::Bootstrap, 0);
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[(rng.next_u64() % n as u64) as usize] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::decision::loss_at_refused_share;
    use crate::stats::money::expected_loss;

    /// Test users with tied probabilities (two decimals) and distinct ones.
    fn users(n: usize, tied: bool) -> (Vec<f64>, Vec<u8>, Vec<bool>, Vec<f64>) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let truth: Vec<f64> = (0..n).map(|_| next() * 0.2).collect();
        let labels: Vec<bool> = truth.iter().map(|&t| next() < t * 3.0).collect();
        let probs: Vec<f64> = truth
            .iter()
            .map(|&t| {
                let p = (t + 0.05 * next()).min(1.0);
                if tied { (p * 100.0).round() / 100.0 } else { p }
            })
            .collect();
        let scores = probs.iter().map(|&p| (p * 100.0).round() as u8).collect();
        (probs, scores, labels, truth)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    /// The multiplicity form against the copied resample it replaced:
    /// AUC (with ties) and the policy loss on every resample; the loss at a
    /// refusal share where no two users tie (ties are broken by user index
    /// here, by draw position in a copied list).
    #[test]
    fn multiplicities_give_the_materialized_resample_figures() {
        let policy = Policy {
            max_score_for_grouping: 10,
            loss_per_failed_charge_krw: 30_000.0,
            benefit_per_grouped_user_krw: 300.0,
        };
        for tied in [true, false] {
            let (p, s, y, t) = users(2_000, tied);
            let got = paired_resamples(
                std::slice::from_ref(&p),
                std::slice::from_ref(&s),
                &y,
                &t,
                20,
                7,
                |r| {
                    (
                        r.auc(),
                        r.expected_loss(&policy),
                        r.loss_at_refused_share(0.1, 30_000.0),
                    )
                },
            );
            for (b, row) in got.iter().enumerate() {
                let idx = resample(y.len(), 7, b as u64);
                let pb: Vec<f64> = idx.iter().map(|&i| p[i]).collect();
                let sb: Vec<u8> = idx.iter().map(|&i| s[i]).collect();
                let yb: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
                let tb: Vec<f64> = idx.iter().map(|&i| t[i]).collect();
                let (auc, (loss, refused), eq) = row[0];
                assert!(close(auc, metrics::auc(&pb, &yb)), "tied={tied} b={b}");
                let (l2, r2) = expected_loss(&sb, &tb, &policy);
                assert!(close(loss, l2) && close(refused, r2), "tied={tied} b={b}");
                if !tied {
                    let e2 = loss_at_refused_share(&pb, &tb, 0.1, 30_000.0);
                    assert!(close(eq, e2), "tied={tied} b={b}: {eq} vs {e2}");
                }
            }
        }
    }

    #[test]
    fn multiplicities_count_every_draw_once() {
        let c = multiplicities(1_000, 3, 5);
        assert_eq!(c.iter().map(|&v| v as usize).sum::<usize>(), 1_000);
        let mut from_list = vec![0u32; 1_000];
        for i in resample(1_000, 3, 5) {
            from_list[i] += 1;
        }
        assert_eq!(c, from_list);
    }
}
