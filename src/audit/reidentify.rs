//! The hashing failure of the case: phone numbers sent as unsalted SHA-256.
//! Enumerates the `010` number space, hashes every candidate and matches the
//! data set's digests; checks each match against the generator's truth; and
//! shows the same attack recovering nothing from keyed digests
//! (HMAC-SHA-256 with a secret key), which is what should have been sent.
//!
//! The enumeration is bound by SHA-256 itself: each candidate
//! `010XXXXXXXX` fits one padded 64-byte block, whose digits are incremented
//! in place and hashed with sha2's compression function (SHA-NI when the CPU
//! has it); the first 8 digest bytes are then looked up, in batches with
//! prefetching, in one sorted open-addressing table holding both the
//! unsalted and the keyed digests, and only a prefix hit compares full
//! digests.

use std::path::Path;
use std::time::Instant;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_schema::DataType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::block_api::compress256;

use crate::error::{NsfError, Result};
use crate::sim::population::{calibrate, phone_number, phone_string};

/// The 10^8 numbers `010` + 8 digits.
pub use crate::sim::schema::PHONE_SPACE;

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Candidates hashed together (one per lane of a 512-bit vector).
const BATCH: usize = 16;

/// Candidates per parallel work item.
const CHUNK: u64 = 1 << 20;

/// Final states of a batch, word-major: `batch[k][j]` is word `k` of the
/// digest of the batch's `j`-th candidate.
type Batch = [[u32; BATCH]; 8];

/// How the candidates are hashed. Both give the same digests (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// 16 candidates at a time in AVX-512 lanes (x86-64 with AVX-512F).
    Avx512x16,
    /// One candidate at a time with sha2's compression function (SHA-NI
    /// when the CPU has it, else sha2's portable code).
    Sha2,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Kernel::Avx512x16;
        }
        Kernel::Sha2
    }

    /// The kernel named by `NSFSIM_SHA_KERNEL` (`avx512` or `sha2`), else
    /// the fastest available.
    pub fn from_env() -> Result<Self> {
        let bad = |message: String| NsfError::Param {
            field: "NSFSIM_SHA_KERNEL".into(),
            message,
        };
        match std::env::var("NSFSIM_SHA_KERNEL").ok().as_deref() {
            None | Some("") => Ok(Self::detect()),
            Some("sha2") => Ok(Kernel::Sha2),
            Some("avx512") if Self::detect() == Kernel::Avx512x16 => Ok(Kernel::Avx512x16),
            Some("avx512") => Err(bad("this CPU has no AVX-512F".into())),
            Some(v) => Err(bad(format!("`{v}` is neither `avx512` nor `sha2`"))),
        }
    }

    /// Name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512x16 => "avx512-x16",
            Kernel::Sha2 => "sha2",
        }
    }
}

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
    /// Candidates tried against the keyed digests (every candidate hashed).
    pub keyed_candidates: u64,
    /// Seconds reading the digests and building the lookup table (including
    /// the keyed digests of the control), before the enumeration.
    pub load_seconds: f64,
    /// Seconds checking the recovered numbers against the truth.
    pub check_seconds: f64,
    /// Whether the CPU has the SHA extensions (SHA-NI) that sha2 uses.
    pub sha_ni: bool,
    /// The hashing kernel: `avx512-x16` or `sha2` (see [`Kernel`]).
    pub kernel: String,
}

/// Whether sha2's compression runs on SHA-NI here.
pub fn sha_ni() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

/// The padded single SHA-256 block of candidate `n`: `010` + 8 digits, the
/// 0x80 terminator, zeros and the bit length 88.
fn candidate_block(n: u64) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..11].copy_from_slice(&phone_string(n));
    b[11] = 0x80;
    b[56..].copy_from_slice(&(11u64 * 8).to_be_bytes());
    b
}

/// Advances the block to the next candidate by incrementing its ASCII digits
/// (the `010` prefix is never touched; 99999999 wraps to 00000000).
fn next_candidate(b: &mut [u8; 64]) {
    for i in (3..11).rev() {
        if b[i] == b'9' {
            b[i] = b'0';
        } else {
            b[i] += 1;
            return;
        }
    }
}

/// The digest bytes of a final state.
fn state_bytes(s: &[u32; 8]) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (o, w) in d.chunks_exact_mut(4).zip(s) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    d
}

/// Word `k` of the state of lane `j`.
fn lane_state(b: &Batch, j: usize) -> [u32; 8] {
    std::array::from_fn(|k| b[k][j])
}

/// Hashes the `m` (at most 16) candidates from `n` into `out`; `block` is
/// candidate `n`'s block and is advanced past them (the sha2 kernel's
/// in-place increments).
#[allow(clippy::needless_range_loop)] // lanes index word-major arrays
fn hash_batch(kernel: Kernel, n: u64, m: usize, block: &mut [u8; 64], out: &mut Batch) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512x16 => {
            // SAFETY: `Kernel::Avx512x16` is only chosen (`detect`,
            // `from_env`) when the CPU has AVX-512F.
            unsafe { x16::hash_batch(n, out) }
        }
        _ => {
            for j in 0..m {
                let mut s = IV;
                compress256(&mut s, std::slice::from_ref(block));
                next_candidate(block);
                (0..8).for_each(|k| out[k][j] = s[k]);
            }
        }
    }
}

/// Hashes candidates `start..end` in order and hands each batch of final
/// states to `f` with the number of its first candidate and its size.
fn hash_range(kernel: Kernel, start: u64, end: u64, mut f: impl FnMut(u64, &Batch, usize)) {
    let mut out: Batch = [[0u32; BATCH]; 8];
    let mut block = candidate_block(start);
    let mut n = start;
    while n < end {
        let m = ((end - n) as usize).min(BATCH);
        hash_batch(kernel, n, m, &mut block, &mut out);
        f(n, &out, m);
        n += m as u64;
    }
}

/// The fast path's SHA-256 digests of candidates `start..start + count`,
/// exactly as the enumeration computes them (for tests and benchmarks).
pub fn candidate_digests(kernel: Kernel, start: u64, count: u64) -> Vec<[u8; 32]> {
    let mut v = Vec::with_capacity(count as usize);
    hash_range(kernel, start, start + count, |_, b, m| {
        v.extend((0..m).map(|j| state_bytes(&lane_state(b, j))))
    });
    v
}

/// SHA-256 of 16 consecutive candidates in the lanes of AVX-512 vectors
/// (`reidentify/x16.rs`).
#[cfg(target_arch = "x86_64")]
mod x16;

mod huge;
use huge::Huge;

/// HMAC-SHA-256 (RFC 2104) with the key's inner and outer states computed
/// once, so that each 11-byte message costs two compressions.
pub struct KeyedSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl KeyedSha256 {
    /// Prepares the key (at most 64 bytes, as the control's key is).
    pub fn new(key: &[u8]) -> Self {
        assert!(key.len() <= 64, "keys longer than a block are hashed first");
        let pad = |x: u8| {
            let mut b = [x; 64];
            b.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            b
        };
        let (mut inner, mut outer) = (IV, IV);
        compress256(&mut inner, &[pad(0x36)]);
        compress256(&mut outer, &[pad(0x5c)]);
        Self { inner, outer }
    }

    /// HMAC of an 11-byte phone string.
    pub fn digest(&self, msg: &[u8; 11]) -> [u8; 32] {
        let mut b = [0u8; 64];
        b[..11].copy_from_slice(msg);
        b[11] = 0x80;
        b[56..].copy_from_slice(&((64 + 11) * 8u64).to_be_bytes());
        let mut s = self.inner;
        compress256(&mut s, &[b]);
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&state_bytes(&s));
        b[32] = 0x80;
        b[56..].copy_from_slice(&((64 + 32) * 8u64).to_be_bytes());
        let mut s = self.outer;
        compress256(&mut s, &[b]);
        state_bytes(&s)
    }
}

/// The first 8 digest bytes as a big-endian integer.
fn prefix(d: &[u8; 32]) -> u64 {
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Digests looked up by their first 8 bytes (the prefix). A blocked Bloom
/// filter (16 bits per digest, at most 8 MiB: three bits in the 64-bit word
/// the top prefix bits choose) turns away all but ~1 % of the candidates
/// that match nothing; the rest probe a linear-probing table filled in
/// prefix order (a probe stops at the first larger key), without
/// wrap-around, whose empty slots hold `u64::MAX` and no entry; only an
/// equal prefix compares the full digest. Filter and slots sit on huge
/// pages ([`huge::Huge`]).
pub struct DigestTable {
    filter: Huge<u64>,
    filter_shift: u32,
    slots: Huge<Slot>,
    shift: u32,
    digests: Vec<[u8; 32]>,
}

/// A table slot: the prefix and the index of its digest, on one cache line.
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    entry: u32,
}

const EMPTY: Slot = Slot {
    key: u64::MAX,
    entry: NO_ENTRY,
};

const NO_ENTRY: u32 = u32::MAX;

/// `(prefix, index)` of every digest in prefix order: a counting sort on the
/// top 16 bits (digests are uniform), then each small bucket sorted.
fn sorted_prefixes(digests: &[[u8; 32]]) -> Vec<(u64, u32)> {
    let mut start = vec![0usize; (1 << 16) + 1];
    for d in digests {
        start[(prefix(d) >> 48) as usize + 1] += 1;
    }
    for b in 1..start.len() {
        start[b] += start[b - 1];
    }
    let mut next = start.clone();
    let mut order = vec![(0u64, 0u32); digests.len()];
    for (i, d) in digests.iter().enumerate() {
        let p = prefix(d);
        let b = &mut next[(p >> 48) as usize];
        order[*b] = (p, i as u32);
        *b += 1;
    }
    for w in start.windows(2) {
        order[w[0]..w[1]].sort_unstable();
    }
    order
}

/// The filter bits of prefix `p` in its word: three positions from its low
/// 18 bits (the word is chosen by its top bits).
#[inline]
fn filter_bits(p: u64) -> u64 {
    (1 << (p & 63)) | (1 << ((p >> 6) & 63)) | (1 << ((p >> 12) & 63))
}

/// `64 - log2(size)` for a power-of-two size of at least `n` (and 2).
fn shift_for(n: usize) -> u32 {
    64 - n.max(2).next_power_of_two().trailing_zeros()
}

impl DigestTable {
    /// Builds the table; entry `i` is `digests[i]`.
    pub fn new(digests: Vec<[u8; 32]>) -> Self {
        assert!(digests.len() < NO_ENTRY as usize);
        let shift = shift_for(2 * digests.len());
        // 16 bits per digest in 64-bit words, at least 2 words, at most 2^20.
        let filter_shift = shift_for((digests.len() / 4).min(1 << 20));
        let mut filter = Huge::new(1usize << (64 - filter_shift), 0u64);
        let order = sorted_prefixes(&digests);
        // Each prefix goes to its home slot or the first slot after the
        // previous prefix's; a final empty slot ends every probe.
        let last = order
            .iter()
            .fold(0, |next, &(p, _)| next.max((p >> shift) as usize) + 1);
        let mut slots = Huge::new(last.max(1usize << (64 - shift)) + 1, EMPTY);
        let mut next = 0usize;
        for (p, i) in order {
            filter[(p >> filter_shift) as usize] |= filter_bits(p);
            let pos = next.max((p >> shift) as usize);
            slots[pos] = Slot { key: p, entry: i };
            next = pos + 1;
        }
        Self {
            filter,
            filter_shift,
            slots,
            shift,
            digests,
        }
    }

    /// False when no digest has prefix `p`; true when one may.
    #[inline]
    fn may_contain(&self, p: u64) -> bool {
        let bits = filter_bits(p);
        self.filter[(p >> self.filter_shift) as usize] & bits == bits
    }

    fn home(&self, p: u64) -> usize {
        (p >> self.shift) as usize
    }

    /// Calls `f` with the entry of each slot whose key is prefix `p`.
    #[inline]
    fn probe(&self, p: u64, mut f: impl FnMut(u32)) {
        let mut i = self.home(p);
        loop {
            let Slot { key, entry } = self.slots[i];
            if key > p || (key == p && entry == NO_ENTRY) {
                return;
            }
            if key == p {
                f(entry);
            }
            i += 1;
        }
    }

    /// Calls `f` with each entry whose digest equals `d`.
    #[cfg(test)]
    fn find(&self, d: &[u8; 32], mut f: impl FnMut(u32)) {
        self.probe(prefix(d), |e| {
            if self.digests[e as usize] == *d {
                f(e)
            }
        });
    }

    /// Entries matched by candidates `start..end`, with the candidate number.
    pub fn scan(&self, kernel: Kernel, start: u64, end: u64) -> Vec<(u32, u64)> {
        let mut s = Scan {
            table: self,
            bufs: [[[0u32; BATCH]; 8]; 2],
            batch: None,
            passed: Vec::with_capacity(BATCH),
            matched: Vec::new(),
            hits: Vec::new(),
        };
        let mut block = candidate_block(start);
        let (mut n, mut buf) = (start, 0);
        while n < end {
            let m = ((end - n) as usize).min(BATCH);
            hash_batch(kernel, n, m, &mut block, &mut s.bufs[buf]);
            s.step(Some((n, m, buf)));
            n += m as u64;
            buf ^= 1;
        }
        (0..3).for_each(|_| s.step(None));
        s.hits
    }
}

/// Hints the CPU to fetch the cache line holding `x`.
#[inline]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching has no architectural effect.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
}

/// The lookups of a scan as a software pipeline, one batch per stage, so
/// that each memory access is prefetched a batch ahead of its use: the
/// filter words of the newest batch, the slots of the previous batch's
/// candidates that pass the filter, and the digests of those whose prefix
/// is in the table are compared a batch later.
struct Scan<'a> {
    table: &'a DigestTable,
    /// The newest batch and the one before it, alternately.
    bufs: [Batch; 2],
    /// The previous batch: its first candidate, size and buffer.
    batch: Option<(u64, usize, usize)>,
    passed: Vec<(u64, [u32; 8])>,
    matched: Vec<(u64, [u32; 8], u32)>,
    hits: Vec<(u32, u64)>,
}

impl Scan<'_> {
    fn step(&mut self, next: Option<(u64, usize, usize)>) {
        let Scan {
            table: t,
            bufs,
            batch,
            passed,
            matched,
            hits,
        } = self;
        for (n, s, e) in matched.drain(..) {
            if t.digests[e as usize] == state_bytes(&s) {
                hits.push((e, n));
            }
        }
        for (n, s) in passed.drain(..) {
            t.probe(state_prefix(&s), |e| {
                prefetch(&t.digests[e as usize]);
                matched.push((n, s, e));
            });
        }
        if let Some((n0, m, buf)) = batch.take() {
            let b = &bufs[buf];
            for j in 0..m {
                let p = batch_prefix(b, j);
                if t.may_contain(p) {
                    prefetch(&t.slots[t.home(p)]);
                    passed.push((n0 + j as u64, lane_state(b, j)));
                }
            }
        }
        if let Some((n0, m, buf)) = next {
            for j in 0..m {
                prefetch(&t.filter[(batch_prefix(&bufs[buf], j) >> t.filter_shift) as usize]);
            }
            *batch = Some((n0, m, buf));
        }
    }
}

/// The first 8 digest bytes of lane `j`.
fn batch_prefix(b: &Batch, j: usize) -> u64 {
    ((b[0][j] as u64) << 32) | b[1][j] as u64
}

/// The first 8 digest bytes of a final state.
fn state_prefix(s: &[u32; 8]) -> u64 {
    ((s[0] as u64) << 32) | s[1] as u64
}

/// The user IDs and phone digests of a data set, checked against its
/// manifest like every other read (`columns::read_checked`: the file's
/// SHA-256 and rows, no nulls or duplicate IDs, the generator's column
/// types), with a clear error when a column does not have the type nsfsim
/// writes.
fn read_digests(
    path: &Path,
    record: &crate::data::artifact::FileRecord,
) -> Result<(Vec<u64>, Vec<[u8; 32]>)> {
    let batches = crate::data::columns::read_checked(path, record, &["user_id", "phone_sha256"])?;
    let bad = |c: &str, t: &DataType, want: &str| NsfError::Input {
        path: path.to_path_buf(),
        message: format!("column `{c}` is {t}, expected {want}"),
    };
    let (mut ids, mut digests) = (Vec::new(), Vec::new());
    for b in &batches {
        let id = b.column_by_name("user_id").expect("projected");
        if id.data_type() != &DataType::UInt64 {
            return Err(bad("user_id", id.data_type(), "UInt64"));
        }
        let d = b.column_by_name("phone_sha256").expect("projected");
        if d.data_type() != &DataType::FixedSizeBinary(32) {
            return Err(bad(
                "phone_sha256",
                d.data_type(),
                "FixedSizeBinary(32) (a 32-byte SHA-256 digest)",
            ));
        }
        if d.null_count() > 0 {
            return Err(bad("phone_sha256", d.data_type(), "no missing digests"));
        }
        ids.extend_from_slice(id.as_primitive::<UInt64Type>().values());
        let d = d.as_fixed_size_binary();
        digests.extend((0..d.len()).map(|i| {
            let a: [u8; 32] = d.value(i).try_into().expect("32 bytes");
            a
        }));
    }
    Ok((ids, digests))
}

/// Runs the attack on a generated data set over the first `candidates`
/// numbers of the `010` space (all 10^8 by default).
pub fn run(dir: &Path, candidates: u64) -> Result<ReidentifyReport> {
    let kernel = Kernel::from_env()?;
    let loading = Instant::now();
    let manifest = crate::data::generate::read_manifest(dir)?;
    let record = manifest.files.first().ok_or_else(|| NsfError::Input {
        path: dir.join("manifest.json"),
        message: "lists no data file".into(),
    })?;
    let path = dir.join(&record.name);
    let preset = manifest.preset.clone().check()?;
    let (read, cal) = rayon::join(
        || read_digests(&path, record),
        || calibrate(&preset, manifest.seed),
    );
    let (ids, plain) = read?;
    // The secret key a careful sender would use (never sent, never stored),
    // and the keyed digests it would have produced: entries users..2*users.
    let key = crate::sim::rng::mix64(manifest.seed ^ 0x5EC2E7)
        .to_le_bytes()
        .repeat(4);
    let mac = KeyedSha256::new(&key);
    let keyed: Vec<[u8; 32]> = ids
        .par_iter()
        .map(|&uid| mac.digest(&phone_string(phone_number(&cal, uid))))
        .collect();
    let users = ids.len() as u64;
    let mut digests = Vec::with_capacity(2 * ids.len());
    digests.extend(plain);
    digests.extend(keyed);
    let table = DigestTable::new(digests);
    let load_seconds = loading.elapsed().as_secs_f64();

    let candidates = candidates.min(PHONE_SPACE);
    let started = Instant::now();
    let found: Vec<Vec<(u32, u64)>> = (0..candidates.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| table.scan(kernel, c * CHUNK, ((c + 1) * CHUNK).min(candidates)))
        .collect();
    let seconds = started.elapsed().as_secs_f64();

    let checking = Instant::now();
    let (mut recovered, mut correct, mut recovered_keyed) = (0u64, 0u64, 0u64);
    for &(e, n) in found.iter().flatten() {
        if (e as u64) < users {
            recovered += 1;
            correct += (phone_number(&cal, ids[e as usize]) == n) as u64;
        } else {
            recovered_keyed += 1;
        }
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
        keyed_candidates: candidates,
        load_seconds,
        check_seconds: checking.elapsed().as_secs_f64(),
        sha_ni: sha_ni(),
        kernel: kernel.name().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};
    use sha2::{Digest, Sha256};

    #[test]
    fn keyed_digest_equals_the_hmac_crate() {
        for key in [&b"k"[..], &[7u8; 32], &[0xA5; 64]] {
            let mac = KeyedSha256::new(key);
            for n in [0u64, 12_345_678, 99_999_999] {
                let msg = phone_string(n);
                let mut h = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
                h.update(&msg);
                let want: [u8; 32] = h.finalize().into_bytes().into();
                assert_eq!(mac.digest(&msg), want, "key {key:?}, n {n}");
            }
        }
    }

    #[test]
    fn kernels_agree_over_a_range_of_carries() {
        let (start, n) = (9_990_000, 20_003);
        let want = candidate_digests(Kernel::Sha2, start, n);
        assert_eq!(want.len(), n as usize);
        assert_eq!(want[0], <[u8; 32]>::from(Sha256::digest(b"01009990000")));
        assert_eq!(candidate_digests(Kernel::detect(), start, n), want);
    }

    #[test]
    fn scan_finds_planted_digests_only() {
        let mut digests = candidate_digests(Kernel::Sha2, 1000, 3);
        digests.push([0x42; 32]);
        let table = DigestTable::new(digests);
        let hits = table.scan(Kernel::detect(), 0, 5000);
        assert_eq!(hits, vec![(0, 1000), (1, 1001), (2, 1002)]);
    }

    /// The filtered, pipelined scan finds exactly what comparing every
    /// candidate's sha2 digest with every table entry finds, with a table
    /// large enough for a multi-word filter and both batch paths of the
    /// AVX-512 kernel (batches crossing a thousand, partial last batch).
    #[test]
    fn scan_equals_a_brute_force_match() {
        let (start, end) = (1_234_567u64, 1_334_571u64);
        let mut digests: Vec<[u8; 32]> = (0..4000u64)
            .map(|i| Sha256::digest(phone_string(start + i * 25 + i % 7)).into())
            .collect();
        // Entries matching nothing, and one candidate just outside the range.
        digests.extend((0..4000u64).map(|i| <[u8; 32]>::from(Sha256::digest(i.to_le_bytes()))));
        digests.push(Sha256::digest(phone_string(end)).into());
        let index: std::collections::HashMap<[u8; 32], u32> = digests
            .iter()
            .enumerate()
            .map(|(e, d)| (*d, e as u32))
            .collect();
        let mut want: Vec<(u32, u64)> = (start..end)
            .filter_map(|n| {
                let d: [u8; 32] = Sha256::digest(phone_string(n)).into();
                index.get(&d).map(|&e| (e, n))
            })
            .collect();
        want.sort_unstable();
        assert_eq!(want.len(), 4000);
        let table = DigestTable::new(digests);
        for kernel in [Kernel::Sha2, Kernel::detect()] {
            let mut got = table.scan(kernel, start, end);
            got.sort_unstable();
            assert_eq!(got, want, "{kernel:?}");
        }
    }

    #[test]
    fn table_finds_every_entry_and_nothing_else() {
        let digests: Vec<[u8; 32]> = (0..5000u64)
            .map(|i| Sha256::digest(i.to_le_bytes()).into())
            .collect();
        let table = DigestTable::new(digests.clone());
        for (i, d) in digests.iter().enumerate() {
            let mut got = Vec::new();
            table.find(d, |e| got.push(e));
            assert_eq!(got, vec![i as u32]);
            // Same prefix, different tail: no match.
            let mut t = *d;
            t[31] ^= 1;
            table.find(&t, |_| panic!("false match"));
        }
    }

    #[test]
    fn table_handles_shared_prefixes_and_the_largest_prefix() {
        let mut digests = vec![[0xFF; 32], [0xFF; 32], [0u8; 32], [0u8; 32]];
        digests[1][31] = 0; // same prefix u64::MAX as entry 0
        digests[3][31] = 1; // same prefix 0 as entry 2
        let table = DigestTable::new(digests.clone());
        for (i, d) in digests.iter().enumerate() {
            let mut got = Vec::new();
            table.find(d, |e| got.push(e));
            assert_eq!(got, vec![i as u32]);
        }
        let mut none = [0xFF; 32];
        none[31] = 5;
        table.find(&none, |_| panic!("false match"));
    }
}
