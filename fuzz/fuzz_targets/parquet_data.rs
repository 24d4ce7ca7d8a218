//! Parquet files through every reader nsfsim has (see `entry.rs`).
#![no_main]

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::parquet_data(data));
