//! A bounded mutation fuzz that runs on the stable toolchain, in CI: the
//! entry points of the cargo-fuzz targets (`fuzz/entry.rs`) fed seeded,
//! stacked mutations of the seed corpus (bit flips, interesting bytes,
//! erased, duplicated and inserted ranges, truncation, splicing, and for
//! TOML extreme numbers and dropped or repeated lines). No input may panic.
//!
//! libFuzzer (`cargo +nightly fuzz run`, README "Fuzzing") needs a nightly
//! toolchain that CI's machine does not have; this is the part that runs
//! everywhere. `NSFSIM_FUZZ_ROUNDS` sets the inputs per target (default
//! 4000); a failing input is written to `target/fuzz-stable-failures/` and
//! the test names it.

mod common;
use common::*;

#[path = "../fuzz/entry.rs"]
mod fuzz_entry;

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7F, 0x80, 0xFF, b'\n', b'"', b'='];
const NUMBERS: [&str; 10] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "18446744073709551616",
    "4294967297",
    "0.0000001",
    "\"x\"",
];

fn rounds() -> usize {
    std::env::var("NSFSIM_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

/// One byte-level mutation of `v` (never longer than 4 × the largest seed).
fn mutate_bytes(rng: &mut Xoshiro256PlusPlus, v: &mut Vec<u8>, other: &[u8], cap: usize) {
    if v.is_empty() {
        v.push(rng.r#gen());
        return;
    }
    let at = rng.gen_range(0..v.len());
    let len = rng.gen_range(1..=v.len().clamp(1, 64));
    match rng.gen_range(0..7) {
        0 => v[at] ^= 1 << rng.gen_range(0..8),
        1 => v[at] = INTERESTING[rng.gen_range(0..INTERESTING.len())],
        2 => {
            let end = (at + len).min(v.len());
            v.drain(at..end);
        }
        3 => {
            let end = (at + len).min(v.len());
            let chunk = v[at..end].to_vec();
            v.splice(at..at, chunk);
        }
        4 => {
            let ins: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            v.splice(at..at, ins);
        }
        5 => v.truncate(at),
        _ => {
            // Splice: the tail of another corpus input from a random point.
            if !other.is_empty() {
                let from = rng.gen_range(0..other.len());
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
        }
    }
    v.truncate(cap);
}

/// One line-level mutation of a TOML text: a number replaced by an extreme
/// one, a line dropped or repeated.
fn mutate_toml(rng: &mut Xoshiro256PlusPlus, v: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(v).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return;
    }
    let i = rng.gen_range(0..lines.len());
    match rng.gen_range(0..3) {
        0 => {
            if let Some((key, _)) = lines[i].split_once('=') {
                lines[i] = format!("{key}= {}", NUMBERS[rng.gen_range(0..NUMBERS.len())]);
            }
        }
        1 => {
            lines.remove(i);
        }
        _ => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
    }
    *v = (lines.join("\n") + "\n").into_bytes();
}

/// Feeds `rounds` mutated inputs to `entry`; a panic fails the test naming
/// the round and the file the input was saved to.
fn fuzz(target: &str, seeds: &[Vec<u8>], entry: fn(&[u8]), toml: bool, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let cap = 4 * seeds.iter().map(Vec::len).max().unwrap_or(1024);
    for round in 0..rounds() {
        let mut v = seeds[rng.gen_range(0..seeds.len())].clone();
        let other = &seeds[rng.gen_range(0..seeds.len())];
        for _ in 0..rng.gen_range(1..=4) {
            if toml && rng.gen_bool(0.5) {
                mutate_toml(&mut rng, &mut v);
            } else {
                mutate_bytes(&mut rng, &mut v, other, cap);
            }
        }
        let input = v.clone();
        if std::panic::catch_unwind(move || entry(&input)).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-stable-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{target}-seed{seed}-round{round}"));
            std::fs::write(&file, &v).unwrap();
            panic!(
                "{target}: round {round} (seed {seed}) panicked; input saved to {}; \
                 keep it in fuzz/regressions/{target}/ once fixed",
                file.display()
            );
        }
    }
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn mutated_presets_and_specs_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/toml_config");
    let seeds: Vec<Vec<u8>> = read_dir_sorted(&dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(seeds.len() >= 4, "the TOML seed corpus is checked in");
    fuzz(
        "toml_config",
        &seeds,
        fuzz_entry::toml_config,
        true,
        20261203,
    );
}

#[test]
fn mutated_parquet_files_never_panic() {
    // The Parquet seeds are generated data (not tracked): a 400-user data
    // set and a score file, as in `fuzzed_inputs_stay_fixed`.
    let tmp = tempfile::tempdir().unwrap();
    let (users, scores) = small_scored_data(tmp.path());
    let seeds: Vec<Vec<u8>> = [users, scores]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    fuzz(
        "parquet_data",
        &seeds,
        fuzz_entry::parquet_data,
        false,
        20261203,
    );
}

/// The harness itself: an entry that panics on some mutated inputs is caught
/// and named (so the two tests above can fail).
#[test]
#[should_panic(expected = "panicked; input saved to")]
fn a_panicking_entry_is_reported() {
    fn fragile(data: &[u8]) {
        assert!(!data.contains(&0xFF), "0xFF");
    }
    let seeds = vec![b"a = 1\nb = 2\n".to_vec()];
    fuzz("harness_check", &seeds, fragile, false, 1);
}
