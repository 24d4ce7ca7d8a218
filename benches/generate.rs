//! Generation throughput (users/s): users alone, and users + Arrow + Parquet
//! encoding of one row group, on the calling thread.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nsfsim::data::generate::{arrow_schema, generate_range, to_record_batch};
use nsfsim::sim::population::calibrate;

fn bench_generate(c: &mut Criterion) {
    let p = nsfsim::sim::preset::load("default", &[])
        .unwrap()
        .check()
        .unwrap();
    let cal = calibrate(&p, p.seed);
    let schema = arrow_schema();
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    for &n in &[8_192u64, 32_768] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("users", n), &n, |b, &n| {
            b.iter(|| generate_range(&p, &cal, 0, n))
        });
        group.bench_with_input(BenchmarkId::new("users+parquet", n), &n, |b, &n| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("bench.parquet");
            b.iter(|| {
                let users = generate_range(&p, &cal, 0, n);
                let batch = to_record_batch(&schema, &users);
                let (_w, f) =
                    nsfsim::data::artifact::TableWriter::parquet(&path, schema.clone(), n as usize)
                        .unwrap();
                f.encoder(0).unwrap().encode(&batch).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
