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

/// Generates `users` users of `preset` (its own seed unless `seed`) into `out`.
pub fn generate(preset: &str, users: u64, seed: Option<u64>, out: &Path) {
    let users = users.to_string();
    let seed = seed.map(|v| v.to_string());
    let mut args = vec!["generate", "--preset", preset, "--users", &users, "--quiet"];
    if let Some(seed) = &seed {
        args.extend(["--seed", seed.as_str()]);
    }
    args.extend(["--out", s(out)]);
    ok(&args);
}

/// Trains a model on `data` into `registry` (`extra` flags); returns its ID.
pub fn train_id(data: &Path, registry: &Path, extra: &[&str]) -> String {
    let mut args = vec!["train", "--data", s(data), "--registry", s(registry)];
    args.extend_from_slice(extra);
    ok(&args).lines().last().unwrap().trim().to_string()
}

/// A 400-user `small` data set and a score file of a model trained on it,
/// made under `dir`: the Parquet seeds of the fuzz replays (generated data,
/// so git does not track them). Returns (users.parquet, score file).
pub fn small_scored_data(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (data, reg) = (dir.join("d"), dir.join("r"));
    generate("small", 400, Some(7), &data);
    let id = train_id(&data, &reg, &[]);
    let scores = dir.join("s.parquet");
    ok(&[
        "score",
        "--model",
        &id,
        "--data",
        s(&data),
        "--out",
        s(&scores),
        "--registry",
        s(&reg),
    ]);
    (data.join("users.parquet"), scores)
}

/// A full set of destruction-order flags (`nsfsim destroy` requires them).
pub const ORDER: &[&str] = &[
    "--order-issuer",
    "Test Data Protection Authority",
    "--order-ref",
    "TEST-2026-001",
    "--order-date",
    "2026-01-15",
    "--order-scope",
    "the model and everything derived from it",
    "--operator",
    "test operator",
    "--validator",
    "test validator",
    "--data-disposition",
    "keep",
    "--reason",
    "other models are trained on the same data set",
];

/// `args` of a `destroy` call with the order flags inserted after
/// `destroy` (a flag the caller gives too overrides the default).
pub fn with_order<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args[..1].to_vec();
    v.extend_from_slice(ORDER);
    v.extend_from_slice(&args[1..]);
    v
}

/// Calls `read` `n` times while another thread keeps swapping the file at
/// `path` between the contents `a` and `b` (of one length): by renaming a
/// fresh copy over it, and by rewriting it in place. `read` makes its own
/// assertions and returns `Err` when the read was refused. Returns the
/// reads that succeeded and those refused.
pub fn while_swapped<E>(
    path: &Path,
    a: &[u8],
    b: &[u8],
    n: usize,
    mut read: impl FnMut() -> Result<(), E>,
) -> (usize, usize) {
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    assert_eq!(a.len(), b.len(), "one length");
    assert_ne!(a, b);
    std::fs::write(path, a).unwrap();
    let tmp = path.with_extension("next");
    let stop = AtomicBool::new(false);
    let (mut read_ok, mut refused) = (0, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for k in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let new = if k % 2 == 0 { b } else { a };
                if k % 4 < 2 {
                    std::fs::write(&tmp, new).unwrap();
                    std::fs::rename(&tmp, path).unwrap();
                } else {
                    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                    f.write_all_at(new, 0).unwrap();
                }
            }
        });
        // Stops the writer however the reads end (a failed assert too).
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        for _ in 0..n {
            match read() {
                Ok(()) => read_ok += 1,
                Err(_) => refused += 1,
            }
        }
    });
    (read_ok, refused)
}
