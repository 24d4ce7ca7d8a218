//! The paired bootstrap: several models scored on the same users, every
//! resample drawing the same users for every model.

use rand::RngCore;
use rayon::prelude::*;

use crate::sim::rng::{Stream, user_stream};
use crate::stats::metrics;
use crate::stats::money::{Policy, expected_loss};

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
        (
            metrics::auc(r.probs, r.labels),
            expected_loss(r.scores, r.truth, policy).0,
        )
    })
}

/// One model's view of one paired resample.
pub struct Resampled<'a> {
    /// The model's probabilities of the resampled users.
    pub probs: &'a [f64],
    /// The model's 0–100 scores of the resampled users.
    pub scores: &'a [u8],
    /// The resampled users' outcomes.
    pub labels: &'a [bool],
    /// The resampled users' true NSF probabilities.
    pub truth: &'a [f64],
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
    (0..resamples as u64)
        .into_par_iter()
        .map(|b| {
            let idx = resample(n, seed, b);
            let y: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
            let t: Vec<f64> = idx.iter().map(|&i| truth[i]).collect();
            probs
                .iter()
                .zip(scores)
                .map(|(p, s)| {
                    let pb: Vec<f64> = idx.iter().map(|&i| p[i]).collect();
                    let sb: Vec<u8> = idx.iter().map(|&i| s[i]).collect();
                    stat(&Resampled {
                        probs: &pb,
                        scores: &sb,
                        labels: &y,
                        truth: &t,
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
