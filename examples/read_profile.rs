//! Times `train`'s read of a generated data set (the columns of the full
//! feature set, checked against the manifest, into the `f32` design matrix)
//! REPEATS times in one process, each in a fresh allocation, so the read can
//! be profiled (`perf record`) and timed beside `benches/pyarrow_read.py`
//! without a fit.
//! `cargo run --release --example read_profile -- DATA_DIR [REPEATS]`
use nsfsim::data::features::FeatureSet;
use nsfsim::models::train::load_data;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    // The allocator thresholds the `nsfsim` binary sets (src/main.rs).
    // SAFETY: mallopt only changes glibc thresholds, before other threads.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DATA_DIR"));
    let repeats: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    let attrs = FeatureSet::Full.attributes()?;
    for _ in 0..repeats {
        let t = Instant::now();
        let data = load_data(&dir, &attrs)?;
        println!(
            "read {:.2} s ({} rows × {} features)",
            t.elapsed().as_secs_f64(),
            data.rows(),
            data.design.x.ncols()
        );
    }
    Ok(())
}
