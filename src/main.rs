//! The `nsfsim` binary: parse, run, map errors to exit codes
//! (0 ok, 2 bad input or refused operation, 1 failure during a run).

use std::process::ExitCode;

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
