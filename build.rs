//! Embeds `NSFSIM_BUILD`: the SHA-256 of the sources the binary is compiled
//! from (every file under `src/`, `Cargo.toml`, `Cargo.lock`, by path, in
//! order). A destruction record names it, so the build that carried out an
//! order is identified without hashing the binary on every run.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let mut list = vec![PathBuf::from("Cargo.toml"), PathBuf::from("Cargo.lock")];
    files(Path::new("src"), &mut list);
    list.sort();
    let mut h = Sha256::new();
    for p in &list {
        h.update(p.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(p).unwrap_or_default());
        h.update([0]);
    }
    let digest = hex::encode(h.finalize());
    println!("cargo:rustc-env=NSFSIM_BUILD=sources-sha256:{digest}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
}
