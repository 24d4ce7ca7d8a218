//! The hashing failure of the case: phone numbers sent as unsalted SHA-256.
//! Enumerates the `010` number space, hashes every candidate and matches the
//! data set's digests; checks each match against the generator's truth; and
//! shows the same attack recovering nothing from keyed digests
//! (HMAC-SHA-256 with a secret key), which is what should have been sent.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use hmac::{KeyInit, Mac};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{NsfError, Result};
use crate::sim::population::{calibrate, phone_number, phone_string};

/// The 10^8 numbers `010` + 8 digits.
pub const PHONE_SPACE: u64 = 100_000_000;

/// SHA-256 digests are uniform: their first 8 bytes are already a hash.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(b);
    }
}

type DigestMap = HashMap<[u8; 32], u64, BuildHasherDefault<PrefixHasher>>;

/// What `nsfsim reidentify` found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReidentifyReport {
    /// Users in the data set.
    pub users: u64,
    /// Candidates hashed (`010` numbers tried).
    pub candidates: u64,
    /// Users whose phone number was recovered from the unsalted digest.
    pub recovered: u64,
    /// `recovered / users`.
    pub recovered_share: f64,
    /// Recovered numbers that equal the generator's truth.
    pub correct: u64,
    /// Seconds of the enumeration (both attacks share it).
    pub seconds: f64,
    /// SHA-256 candidates per second, all threads.
    pub candidates_per_second: f64,
    /// Threads used.
    pub threads: usize,
    /// Users recovered from keyed (HMAC-SHA-256) digests by the same attack.
    pub recovered_keyed: u64,
}

fn hmac_digest(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Runs the attack on a generated data set over the first `candidates`
/// numbers of the `010` space (all 10^8 by default).
pub fn run(dir: &Path, candidates: u64) -> Result<ReidentifyReport> {
    let manifest = crate::data::generate::read_manifest(dir)?;
    let path = dir.join(&manifest.files[0].name);
    let batches = crate::data::artifact::read_parquet_columns(&path, &["user_id", "phone_sha256"])?;
    crate::data::validate::check_batches(&path, &manifest.files[0], &batches)?;
    let preset = manifest.preset.clone().check()?;
    let cal = calibrate(&preset, manifest.seed);
    // The secret key a careful sender would use (never sent, never stored).
    let key = crate::sim::rng::mix64(manifest.seed ^ 0x5EC2E7)
        .to_le_bytes()
        .repeat(4);
    let mut plain = DigestMap::default();
    let mut keyed = DigestMap::default();
    for b in &batches {
        let ids = b
            .column_by_name("user_id")
            .expect("projected")
            .as_primitive::<UInt64Type>();
        let digests = b
            .column_by_name("phone_sha256")
            .expect("projected")
            .as_fixed_size_binary();
        for i in 0..b.num_rows() {
            let d: [u8; 32] = digests.value(i).try_into().map_err(|_| NsfError::Input {
                path: path.clone(),
                message: "phone_sha256 is not a 32-byte digest".into(),
            })?;
            let uid = ids.value(i);
            plain.insert(d, uid);
            keyed.insert(
                hmac_digest(&key, &phone_string(phone_number(&cal, uid))),
                uid,
            );
        }
    }
    let users = plain.len() as u64;
    let candidates = candidates.min(PHONE_SPACE);
    let started = Instant::now();
    const CHUNK: u64 = 1 << 20;
    let found: Vec<(Vec<(u64, u64)>, u64)> = (0..candidates.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (mut hits, mut keyed_hits) = (Vec::new(), 0u64);
            for n in c * CHUNK..((c + 1) * CHUNK).min(candidates) {
                let d: [u8; 32] = Sha256::digest(phone_string(n)).into();
                if let Some(&uid) = plain.get(&d) {
                    hits.push((uid, n));
                }
                keyed_hits += keyed.contains_key(&d) as u64;
            }
            (hits, keyed_hits)
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let mut recovered = 0u64;
    let mut correct = 0u64;
    let mut recovered_keyed = 0u64;
    for (hits, k) in &found {
        recovered += hits.len() as u64;
        correct += hits
            .iter()
            .filter(|&&(uid, n)| phone_number(&cal, uid) == n)
            .count() as u64;
        recovered_keyed += k;
    }
    Ok(ReidentifyReport {
        users,
        candidates,
        recovered,
        recovered_share: recovered as f64 / users.max(1) as f64,
        correct,
        seconds,
        candidates_per_second: candidates as f64 / seconds.max(1e-9),
        threads: rayon::current_num_threads(),
        recovered_keyed,
    })
}
