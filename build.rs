//! Embeds `NSFSIM_BUILD`: the SHA-256 of the sources the binary is compiled
//! from — every `.rs` file under `src/`, every file those embed
//! (`include_str!` / `include_bytes!`: the presets, the experiment specs,
//! the font), `Cargo.toml`, `Cargo.lock` and this script — by path, in
//! order. A destruction record names it, so the build that carried out an
//! order is identified without hashing the binary on every run.
//!
//! Cargo reruns the script only when one of those files changes (each is
//! named by `rerun-if-changed`; naming the `src` folder reran it for any
//! file touched there, an editor's backup or swap file included).

use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a/b/../c` → `a/c` (the embedded files are named relative to the file
/// that embeds them).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The files `source` (at `path`) embeds with `include_str!("…")` or
/// `include_bytes!("…")`.
fn embedded(path: &Path, source: &str) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for macro_name in ["include_str!(\"", "include_bytes!(\""] {
        for (at, _) in source.match_indices(macro_name) {
            let rest = &source[at + macro_name.len()..];
            if let Some(end) = rest.find('"') {
                let p = normalize(&dir.join(&rest[..end]));
                // A missing file would make Cargo rerun the script on
                // every build; rustc reports it anyway.
                if p.is_file() {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Every file the build digest covers, sorted.
fn sources() -> Vec<PathBuf> {
    let mut list = vec![
        PathBuf::from("Cargo.toml"),
        PathBuf::from("Cargo.lock"),
        PathBuf::from("build.rs"),
    ];
    let mut rs = Vec::new();
    rust_files(Path::new("src"), &mut rs);
    for p in &rs {
        if let Ok(text) = std::fs::read_to_string(p) {
            list.extend(embedded(p, &text));
        }
    }
    list.extend(rs);
    list.sort();
    list.dedup();
    list
}

fn main() {
    let list = sources();
    let mut h = Sha256::new();
    for p in &list {
        h.update(p.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(p).unwrap_or_default());
        h.update([0]);
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let digest = hex::encode(h.finalize());
    println!("cargo:rustc-env=NSFSIM_BUILD=sources-sha256:{digest}");
}
