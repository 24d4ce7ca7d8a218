//! Times the generator's phases on one thread, in memory: users, Arrow
//! conversion, Parquet encoding. `cargo run --release --example phases -- [USERS]`
use std::time::Instant;
fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let mut p = nsfsim::sim::preset::load("default", &[])?;
    p.users = n;
    let p = p.check()?;
    let t = Instant::now();
    let cal = nsfsim::sim::population::calibrate(&p, p.seed);
    println!("calibrate {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut paths1 = p.preset().clone();
    paths1.outcome.prob_paths = 1;
    let p1 = paths1.check()?;
    let _u1 = nsfsim::data::generate::generate_range(&p1, &cal, 0, n);
    println!("users with prob_paths=1 {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let users = nsfsim::data::generate::generate_range(&p, &cal, 0, n);
    println!("users {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let schema = nsfsim::data::generate::arrow_schema();
    let batch = nsfsim::data::generate::to_record_batch(&schema, &users);
    println!("arrow {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.parquet");
    let (mut w, f) =
        nsfsim::data::artifact::TableWriter::parquet(&path, schema.clone(), n as usize)?;
    let enc = f.encoder(0)?.encode(&batch).map_err(anyhow::Error::msg)?;
    println!("parquet encode {:.2} s", t.elapsed().as_secs_f64());
    w.append(enc, n)?;
    let rec = w.finish()?;
    println!(
        "write+hash total {:.2} s, {} bytes",
        t.elapsed().as_secs_f64(),
        rec.bytes
    );
    Ok(())
}
