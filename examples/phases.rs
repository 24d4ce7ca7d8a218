//! Times the generator's phases on one thread, in memory: the pre-window
//! draw (attributes and the two SHA-256), the realized window, the
//! `nsf_prob` replays (each kernel the CPU runs), the Arrow
//! conversion, Parquet encoding, and writing + hashing the file.
//! `cargo run --release --example phases -- [USERS]`
use std::time::Instant;

use nsfsim::sim::outcome::{ReplayKernel, nsf_probability_using, realized_nsf};
use nsfsim::sim::population::{calibrate, draw_pre_window, generate_user};
use nsfsim::sim::rng::{Stream, user_stream};

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let mut p = nsfsim::sim::preset::load("case", &[])?;
    p.users = n;
    let p = p.check()?;
    let t = Instant::now();
    let cal = calibrate(&p, p.seed);
    let per_user = |t: Instant| {
        let s = t.elapsed().as_secs_f64();
        format!("{s:.2} s ({:.3} µs/user)", s * 1e6 / n as f64)
    };
    println!("calibrate {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let states: Vec<_> = (0..n)
        .map(|u| draw_pre_window(&p, &cal, p.seed, u).1)
        .collect();
    println!("pre-window (attributes, 2 SHA-256) {}", per_user(t));
    let t = Instant::now();
    let nsf = states
        .iter()
        .enumerate()
        .filter(|(u, s)| {
            let mut rng = user_stream(p.seed, *u as u64, Stream::Realized, 0);
            realized_nsf(&p, s, &mut rng)
        })
        .count();
    println!("realized window {} ({nsf} nsf)", per_user(t));
    for k in [
        ReplayKernel::Avx512,
        ReplayKernel::Avx2,
        ReplayKernel::Portable,
    ] {
        if !k.runs_here() {
            continue;
        }
        let name = format!("replays, {k:?}");
        let t = Instant::now();
        let sum: f64 = states
            .iter()
            .enumerate()
            .map(|(u, s)| nsf_probability_using(k, &p, s, p.seed, u as u64))
            .sum();
        println!(
            "{name} ({} paths) {} (sum {sum:.3})",
            p.outcome.prob_paths,
            per_user(t)
        );
    }
    drop(states);
    let t = Instant::now();
    let users: Vec<_> = (0..n).map(|u| generate_user(&p, &cal, p.seed, u)).collect();
    println!("whole users {}", per_user(t));
    let t = Instant::now();
    let schema = nsfsim::data::generate::arrow_schema();
    let batch = nsfsim::data::generate::to_record_batch(&schema, &users);
    println!("arrow {}", per_user(t));
    let t = Instant::now();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.parquet");
    let (mut w, f) =
        nsfsim::data::artifact::TableWriter::parquet(&path, schema.clone(), n as usize)?;
    let enc = f.encoder(0)?.encode(&batch).map_err(anyhow::Error::msg)?;
    println!("parquet encode {}", per_user(t));
    let t = Instant::now();
    w.append(enc, n)?;
    let rec = w.finish()?;
    println!("write + file SHA-256 {}, {} bytes", per_user(t), rec.bytes);
    Ok(())
}
