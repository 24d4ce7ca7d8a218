//! The `nsfsim` binary: parse, run, map errors to exit codes
//! (0 ok, 2 bad input or refused operation, 1 failure during a run).

use std::process::ExitCode;

/// Keeps freed chunk buffers in the heap instead of returning them to the
/// kernel: generation allocates and frees tens of MB per chunk, and faulting
/// fresh zeroed pages back in cost ~8% of the run (measured with perf).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc allocator thresholds; it is called
    // before any other thread exists.
    unsafe {
        // 32 MiB is the largest threshold glibc accepts (HEAP_MAX_SIZE / 2).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Restores the default SIGPIPE action, so that `nsfsim models list | head
/// -1` ends quietly when the reader goes away instead of panicking in
/// `println!`.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal disposition to its default before any
    // other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    quiet_broken_pipe();
    match nsfsim::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<nsfsim::NsfError>() {
                Some(ne) => ne.exit_code(),
                None => 1,
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}
