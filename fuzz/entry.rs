//! The entry points the fuzz targets drive (`fuzz/fuzz_targets/*.rs`) and
//! the stable test replays (`tests/hardening.rs`,
//! `fuzzed_inputs_stay_fixed`): every TOML and Parquet reader of nsfsim,
//! fed one input. An input may be refused with an error; it may never
//! panic, hang or allocate without bound.
#![allow(dead_code)]

use std::path::Path;

use nsfsim::experiment::spec::ExperimentSpec;
use nsfsim::sim::preset::{self, Preset};

/// Users generated from an accepted preset (a small run of the real
/// generator: calibration, profile, wallet, outcome window, replays).
const SMALL_RUN_USERS: u64 = 48;

/// A preset or experiment spec: the lines before a line `---` are `--set`
/// overrides, the rest is the TOML file. An accepted preset is run at a
/// small size; an accepted spec's preset too.
pub fn toml_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sets, body): (Vec<String>, &str) = match text.split_once("\n---\n") {
        Some((head, body)) => (head.lines().map(str::to_string).collect(), body),
        None => (Vec::new(), text),
    };
    if let Ok(mut p) = preset::parse_with_overrides::<Preset>("fuzz", body, &sets) {
        p.users = p.users.min(SMALL_RUN_USERS);
        if let Ok(v) = p.check() {
            small_run(&v);
        }
    }
    if let Ok(mut spec) = preset::parse_with_overrides::<ExperimentSpec>("fuzz", body, &sets) {
        // The spec names its preset by name or path; a fuzzed path could
        // name any file of this machine (/dev/zero): only embedded ones.
        if !preset::EMBEDDED.iter().any(|(n, _)| *n == spec.preset) {
            spec.preset = "small".into();
        }
        let _ = spec.check();
    }
}

/// Generates the first users of an accepted preset and checks what the
/// generator promises of them.
pub fn small_run(p: &preset::ValidPreset) {
    use nsfsim::sim::population::{calibrate, generate_user};
    let cal = calibrate(p, p.seed);
    for u in 0..p.users.min(SMALL_RUN_USERS) {
        let user = generate_user(p, &cal, p.seed, u);
        assert!(
            (0.0..=1.0).contains(&user.nsf_prob),
            "nsf_prob {} of user {u}",
            user.nsf_prob
        );
    }
}

/// The data set manifest the Parquet input is presented under (that of
/// `seeds/users.parquet`), its file record pointed at the input.
const MANIFEST: &str = include_str!("seeds/manifest.json");

/// A Parquet file, read by every reader nsfsim has: as a data set's
/// `users.parquet` (through `data/validate`, with a manifest whose hash
/// is the input's), the audit's second read of its identifier columns, a
/// score file's footer metadata (`destroy`), and `stream-volume`'s column
/// sizes.
pub fn parquet_data(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("users.parquet");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = nsfsim::data::artifact::parquet_key_values(&path);
    let _ = nsfsim::stream::volume::user_record_bytes(&path);
    let _ = nsfsim::data::artifact::read_parquet_columns(&path, &["user_id", "score", "prob"]);
    let Ok(ids) = nsfsim::data::artifact::read_parquet_columns(&path, &["user_id"]) else {
        return;
    };
    let rows: usize = ids.iter().map(|b| b.num_rows()).sum();
    as_data_set(dir.path(), &path, data, rows as u64);
}

/// Presents the input as a generated data set and loads it as `train`,
/// `score`, `evaluate` and `audit` do.
fn as_data_set(dir: &Path, path: &Path, data: &[u8], rows: u64) {
    use sha2::{Digest, Sha256};
    let mut m: serde_json::Value = serde_json::from_str(MANIFEST).expect("seed manifest");
    m["files"][0]["sha256"] = hex::encode(Sha256::digest(data)).into();
    m["files"][0]["rows"] = rows.into();
    m["files"][0]["bytes"] = (data.len() as u64).into();
    let text = serde_json::to_string(&m).expect("json");
    if std::fs::write(dir.join("manifest.json"), text).is_err() {
        return;
    }
    let Ok(full) = nsfsim::data::features::FeatureSet::Full.attributes() else {
        return;
    };
    if let Ok(d) = nsfsim::models::train::load_data(dir, &full) {
        assert_eq!(d.rows() as u64, rows);
        let Some(manifest) = &d.manifest else {
            return;
        };
        let record = &manifest.files[0];
        let ids = ["account_id", "customer_no", "phone_sha256", "email_sha256"];
        let _ = nsfsim::data::columns::read_checked(path, record, &ids);
    }
}
