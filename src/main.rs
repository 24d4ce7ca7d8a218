//! The `nsfsim` binary: parse, run, map errors to exit codes
//! (0 ok, 2 bad input or refused operation, 1 failure during a run).

use std::process::ExitCode;

// Chunks allocate and free large column buffers; mimalloc reuses them instead
// of returning pages to the kernel and faulting them in zeroed again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match nsfsim::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let user_error = match e.downcast_ref::<nsfsim::NsfError>() {
                Some(ne) => ne.is_user_error(),
                None => false,
            };
            eprintln!("error: {e:#}");
            ExitCode::from(if user_error { 2 } else { 1 })
        }
    }
}
