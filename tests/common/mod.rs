//! Helpers shared by the integration tests: run the real binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs nsfsim with `args` (no registry from the environment).
pub fn nsfsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args(args)
        .env_remove("NSFSIM_REGISTRY")
        .output()
        .expect("run nsfsim")
}

/// Runs nsfsim, asserts success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = nsfsim(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs nsfsim, asserts exit code 2 with `needle` in stderr and no panic.
pub fn refused(args: &[&str], needle: &str) {
    let o = nsfsim(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
    assert!(!err.contains("panicked"));
}

/// A path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
