//! Presets and experiment specs, with `--set` overrides (see `entry.rs`).
#![no_main]

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::toml_config(data));
