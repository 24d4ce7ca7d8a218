//! Logistic regression fitting and scoring throughput (rows/s) on generated
//! users, by training size.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nsfsim::data::generate::{arrow_schema, generate_range, to_record_batch};
use nsfsim::models::logistic::{LogisticParams, fit};
use nsfsim::sim::population::calibrate;

fn bench_models(c: &mut Criterion) {
    let p = nsfsim::sim::preset::load("default", &[])
        .unwrap()
        .check()
        .unwrap();
    let cal = calibrate(&p, p.seed);
    let users = generate_range(&p, &cal, 0, 262_144);
    let batch = to_record_batch(&arrow_schema(), &users);
    let attrs = nsfsim::data::features::FeatureSet::Full
        .attributes()
        .unwrap();
    let design = nsfsim::data::features::design_matrix(&[batch], &attrs).unwrap();
    let y: Vec<bool> = users.iter().map(|u| u.nsf).collect();
    let mut group = c.benchmark_group("logistic");
    group.sample_size(10);
    for &n in &[65_536usize, 262_144] {
        let x = design.x.slice(ndarray::s![..n, ..]);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("fit", n), &n, |b, _| {
            b.iter(|| fit(x, &y[..n], None, &LogisticParams::default()).unwrap())
        });
        let model = fit(x, &y[..n], None, &LogisticParams::default()).unwrap();
        group.bench_with_input(BenchmarkId::new("score", n), &n, |b, _| {
            b.iter(|| model.predict_proba(x))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_models);
criterion_main!(benches);
