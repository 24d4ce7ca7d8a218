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
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let data = load_data(&dir, &attrs)?;
        let (user, sys) = (cpu_seconds().0 - cpu.0, cpu_seconds().1 - cpu.1);
        println!(
            "read {:.2} s, user {user:.2} s, sys {sys:.2} s ({} rows × {} features)",
            t.elapsed().as_secs_f64(),
            data.rows(),
            data.design.x.ncols()
        );
    }
    Ok(())
}

/// This process's user and system CPU seconds so far (all threads).
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage writes the struct it is given.
    let u = unsafe {
        let mut u = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (s(u.ru_utime), s(u.ru_stime))
}
