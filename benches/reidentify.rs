//! Re-identification throughput (candidates/s) on the calling thread, for a
//! small range of the `010` space: the bare sha2 digest per candidate (the
//! reference), each hashing kernel of `nsfsim reidentify`, and a full scan
//! (hashing + lookup) against a table of 2 M digests, the size of the
//! `default` data set with its keyed control.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nsfsim::audit::reidentify::{DigestTable, Kernel, candidate_digests};
use nsfsim::sim::population::phone_string;
use sha2::{Digest, Sha256};

const N: u64 = 1 << 16;

fn bench_reidentify(c: &mut Criterion) {
    let mut group = c.benchmark_group("reidentify");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N));
    group.bench_function("bare_sha2_digest", |b| {
        b.iter(|| {
            (0..N)
                .map(|n| Sha256::digest(phone_string(n))[0] as u64)
                .sum::<u64>()
        })
    });
    let mut kernels = vec![Kernel::Sha2];
    if Kernel::detect() != Kernel::Sha2 {
        kernels.push(Kernel::detect());
    }
    // Digests of numbers outside the scanned range: the scan finds none, as
    // with the keyed digests, and pays for every lookup.
    let table = DigestTable::new(candidate_digests(Kernel::Sha2, 50_000_000, 2_000_000));
    for k in kernels {
        group.bench_with_input(BenchmarkId::new("hash", k.name()), &k, |b, &k| {
            b.iter(|| candidate_digests(k, 12_345_000, N))
        });
        group.bench_with_input(BenchmarkId::new("scan_2M_table", k.name()), &k, |b, &k| {
            b.iter(|| table.scan(k, 12_345_000, 12_345_000 + N))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotters backend needs system fonts.
    config = Criterion::default().without_plots();
    targets = bench_reidentify
}
criterion_main!(benches);
