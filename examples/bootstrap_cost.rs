//! The paired bootstrap's cost at the case's test size, before and after
//! resamples became multiplicities: the same figures computed both ways on
//! the same synthetic test users, timed side by side.
//!
//! `cargo run --release --example bootstrap_cost -- [USERS] [MODELS] [RESAMPLES]`
//! (defaults 1,447,663 users, the case's held-out registered users; 18
//! models, 9 arms × 2 families; 4 resamples).

use std::time::Instant;

use nsfsim::stats::bootstrap::{paired_resamples, resample};
use nsfsim::stats::decision::loss_at_refused_share;
use nsfsim::stats::metrics;
use nsfsim::stats::money::{Policy, expected_loss};
use rayon::prelude::*;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (n, models, b) = (arg(1, 1_447_663), arg(2, 18), arg(3, 4) as u32);
    let truth: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 5000.0)
        .collect();
    let labels: Vec<bool> = (0..n)
        .map(|i| (i * 104_729) % 1000 < (truth[i] * 1000.0) as usize)
        .collect();
    let probs: Vec<Vec<f64>> = (0..models)
        .map(|m| {
            truth
                .iter()
                .enumerate()
                .map(|(i, t)| t + ((i * (m + 3)) % 97) as f64 / 2000.0)
                .collect()
        })
        .collect();
    let scores: Vec<Vec<u8>> = probs
        .iter()
        .map(|p| p.iter().map(|&v| (v * 100.0).round() as u8).collect())
        .collect();
    let policy = Policy {
        max_score_for_grouping: 10,
        loss_per_failed_charge_krw: 30_000.0,
        benefit_per_grouped_user_krw: 300.0,
    };

    let t0 = Instant::now();
    let new = paired_resamples(&probs, &scores, &labels, &truth, b, 1, |r| {
        (
            r.auc(),
            r.expected_loss(&policy).0,
            r.loss_at_refused_share(0.08, 30_000.0),
        )
    });
    let t_new = t0.elapsed().as_secs_f64();

    let t0 = Instant::now();
    let old: Vec<Vec<(f64, f64, f64)>> = (0..b as u64)
        .into_par_iter()
        .map(|k| {
            let idx = resample(n, 1, k);
            let y: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
            let t: Vec<f64> = idx.iter().map(|&i| truth[i]).collect();
            probs
                .iter()
                .zip(&scores)
                .map(|(p, s)| {
                    let pb: Vec<f64> = idx.iter().map(|&i| p[i]).collect();
                    let sb: Vec<u8> = idx.iter().map(|&i| s[i]).collect();
                    (
                        metrics::auc(&pb, &y),
                        expected_loss(&sb, &t, &policy).0,
                        loss_at_refused_share(&pb, &t, 0.08, 30_000.0),
                    )
                })
                .collect()
        })
        .collect();
    let t_old = t0.elapsed().as_secs_f64();

    let max_auc_diff = new
        .iter()
        .flatten()
        .zip(old.iter().flatten())
        .map(|(a, o)| (a.0 - o.0).abs())
        .fold(0.0, f64::max);
    let per = |t: f64| 1000.0 * t / (models as f64 * b as f64);
    println!(
        "users {n}, models {models}, resamples {b}, threads {}",
        rayon::current_num_threads()
    );
    println!(
        "copied resamples (before): {t_old:.2} s wall, {:.1} ms per model-resample",
        per(t_old)
    );
    println!(
        "multiplicities (now):      {t_new:.2} s wall, {:.1} ms per model-resample",
        per(t_new)
    );
    println!("largest AUC difference between the two: {max_auc_diff:.2e}");
}
