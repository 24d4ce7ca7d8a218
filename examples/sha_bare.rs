//! The bare reference for `nsfsim reidentify`: sha2 + rayon over the `010`
//! space and nothing else (no data, no lookup; a count of digests starting
//! with a zero byte keeps the work from being optimized away).
//! `cargo run --release --example sha_bare -- [CANDIDATES]` (default 10^8).
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000_000);
    let t = Instant::now();
    let zeros: u64 = (0..n)
        .into_par_iter()
        .map(|i| (Sha256::digest(nsfsim::sim::population::phone_string(i))[0] == 0) as u64)
        .sum();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{n} candidates in {s:.3} s ({:.2} M/s on {} threads); {zeros} digests start with 0x00",
        n as f64 / s / 1e6,
        rayon::current_num_threads()
    );
    Ok(())
}
