//! One benchmark group per pipeline stage, each sized by its input, so a
//! refactor that slows a stage shows: the outcome window (replays per user),
//! the design matrix (users), every registered model family's fit and
//! predict (training rows), the metrics (users) and the paired bootstrap
//! (test users × resamples). Inputs are generated users of the default
//! preset (first users, fixed seed).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nsfsim::data::features::{Design, FeatureSet, design_matrix};
use nsfsim::data::generate::{arrow_schema, generate_range, to_record_batch};
use nsfsim::models::{FitData, ModelSpec};
use nsfsim::sim::outcome::{OutcomeState, nsf_probability, realized_nsf};
use nsfsim::sim::population::{User, calibrate};
use nsfsim::sim::preset::{ValidPreset, load};
use nsfsim::sim::rng::{Stream, normal, user_stream};
use nsfsim::sim::traits::{Latent, Rates};
use nsfsim::stats::bootstrap::paired_bootstrap;
use nsfsim::stats::metrics;
use nsfsim::stats::money::Policy;

fn preset(overrides: &[String]) -> ValidPreset {
    load("default", overrides).unwrap().check().unwrap()
}

fn users(n: u64) -> (Vec<User>, Design) {
    let p = preset(&[]);
    let cal = calibrate(&p, p.seed);
    let users = generate_range(&p, &cal, 0, n);
    let batch = to_record_batch(&arrow_schema(), &users);
    let attrs = FeatureSet::Full.attributes().unwrap();
    let design = design_matrix(&[batch], &attrs).unwrap();
    (users, design)
}

/// Outcome states of `n` synthetic users (latent traits from a fixed
/// stream, rates at the preset's medians scaled by activity).
fn states(p: &ValidPreset, n: u64) -> Vec<OutcomeState> {
    let w = &p.wallet;
    (0..n)
        .map(|u| {
            let mut rng = user_stream(1, u, Stream::Attributes, 0);
            let lat = Latent {
                z_inc: normal(&mut rng),
                z_act: normal(&mut rng),
                z_str: normal(&mut rng),
            };
            let a = (0.5 * lat.z_act).exp();
            let rates = Rates {
                payment: w.payment_median_30d * a,
                remit_sent: w.remit_sent_median_30d * a,
                remit_received: w.remit_received_median_30d * a,
                topup: w.topup_median_30d * a,
                withdrawal: w.withdrawal_median_30d * a,
                income_mult: (0.5 * lat.z_inc).exp(),
                act_mult: a,
            };
            let noise = (normal(&mut rng), normal(&mut rng));
            OutcomeState::new(
                p,
                &lat,
                &rates,
                true,
                u % 2 == 0,
                u % 3 == 0,
                20_000.0,
                noise,
                0.0,
            )
        })
        .collect()
}

fn bench_outcome(c: &mut Criterion) {
    let mut group = c.benchmark_group("outcome_window");
    group.sample_size(10);
    let n = 4_096u64;
    for paths in [1u32, 4, 16] {
        let p = preset(&[format!("outcome.prob_paths={paths}")]);
        let s = states(&p, n);
        group.throughput(Throughput::Elements(n * paths as u64));
        group.bench_with_input(
            BenchmarkId::new("nsf_prob_replays", paths),
            &paths,
            |b, _| {
                b.iter(|| {
                    s.iter()
                        .enumerate()
                        .map(|(u, st)| nsf_probability(&p, st, 1, u as u64))
                        .sum::<f64>()
                })
            },
        );
    }
    let p = preset(&[]);
    let s = states(&p, n);
    group.throughput(Throughput::Elements(n));
    group.bench_function("realized_window", |b| {
        b.iter(|| {
            s.iter()
                .enumerate()
                .filter(|(u, st)| {
                    let mut rng = user_stream(1, *u as u64, Stream::Realized, 0);
                    realized_nsf(&p, st, &mut rng)
                })
                .count()
        })
    });
    group.finish();
}

fn bench_features(c: &mut Criterion) {
    let (all, _) = users(65_536);
    let schema = arrow_schema();
    let attrs = FeatureSet::Full.attributes().unwrap();
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    for n in [16_384usize, 65_536] {
        let batch = to_record_batch(&schema, &all[..n]);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("design_matrix", n), &n, |b, _| {
            b.iter(|| design_matrix(std::slice::from_ref(&batch), &attrs).unwrap())
        });
    }
    group.finish();
}

fn bench_families(c: &mut Criterion) {
    let (all, design) = users(32_768);
    let y: Vec<bool> = all.iter().map(|u| u.nsf).collect();
    let attrs = FeatureSet::Full.attributes().unwrap();
    for name in ModelSpec::NAMES {
        let spec = ModelSpec::parse(name).unwrap().check().unwrap();
        let mut group = c.benchmark_group(format!("family_{name}"));
        group.sample_size(10);
        for n in [8_192usize, 32_768] {
            let rows: Vec<usize> = (0..n).collect();
            let data = FitData {
                x: design.x.view(),
                attributes: &attrs,
                rows: &rows,
                y: &y[..n],
                weights: None,
                seed: 1,
            };
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("fit", n), &n, |b, _| {
                b.iter(|| spec.fit(&data, &design.names, None).unwrap())
            });
            let model = spec.fit(&data, &design.names, None).unwrap();
            let x = design.x.slice(ndarray::s![..n, ..]);
            group.bench_with_input(BenchmarkId::new("predict", n), &n, |b, _| {
                b.iter(|| model.model().predict_proba(x).unwrap())
            });
        }
        group.finish();
    }
}

/// Probabilities, scores, labels and truth of `n` test users from `users`
/// (a logistic model's predictions on them, repeated to size).
fn scored(all: &[User], design: &Design, n: usize) -> (Vec<f64>, Vec<u8>, Vec<bool>, Vec<f64>) {
    let rows: Vec<usize> = (0..all.len()).collect();
    let y: Vec<bool> = all.iter().map(|u| u.nsf).collect();
    let attrs = FeatureSet::Full.attributes().unwrap();
    let data = FitData {
        x: design.x.view(),
        attributes: &attrs,
        rows: &rows,
        y: &y,
        weights: None,
        seed: 1,
    };
    let spec = ModelSpec::parse("logistic").unwrap().check().unwrap();
    let p0 = spec
        .fit(&data, &design.names, None)
        .unwrap()
        .model()
        .predict_proba(design.x.view())
        .unwrap();
    let k = |i: usize| i % all.len();
    let p: Vec<f64> = (0..n).map(|i| p0[k(i)]).collect();
    let s: Vec<u8> = p
        .iter()
        .map(|&v| nsfsim::models::train::score_of(v))
        .collect();
    let y: Vec<bool> = (0..n).map(|i| all[k(i)].nsf).collect();
    let t: Vec<f64> = (0..n).map(|i| all[k(i)].nsf_prob).collect();
    (p, s, y, t)
}

fn bench_metrics_and_bootstrap(c: &mut Criterion) {
    let (all, design) = users(65_536);
    let mut group = c.benchmark_group("metrics");
    group.sample_size(10);
    for n in [65_536usize, 262_144] {
        let (p, s, y, t) = scored(&all, &design, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("evaluate", n), &n, |b, _| {
            b.iter(|| metrics::evaluate(&p, &s, &y, &t))
        });
    }
    group.finish();
    let policy = Policy {
        max_score_for_grouping: 10,
        loss_per_failed_charge_krw: 7000.0,
        benefit_per_grouped_user_krw: 300.0,
    };
    let mut group = c.benchmark_group("paired_bootstrap");
    group.sample_size(10);
    for n in [16_384usize, 65_536] {
        let (p, s, y, t) = scored(&all, &design, n);
        let (probs, scores) = (vec![p.clone(), p], vec![s.clone(), s]);
        let resamples = 50u32;
        group.throughput(Throughput::Elements(n as u64 * resamples as u64));
        group.bench_with_input(BenchmarkId::new("2_models_50_resamples", n), &n, |b, _| {
            b.iter(|| paired_bootstrap(&probs, &scores, &y, &t, &policy, resamples, 7))
        });
    }
    group.finish();
}

criterion_group!(
    stages,
    bench_outcome,
    bench_features,
    bench_families,
    bench_metrics_and_bootstrap
);
criterion_main!(stages);
