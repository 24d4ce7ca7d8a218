//! SHA-256 of 16 consecutive candidates in the lanes of AVX-512 vectors.
//!
//! Only message words 0..2 (`010` and the 8 digits) differ between
//! candidates; words 3..14 are zero and word 15 is the bit length 88 for
//! all of them, so the terms of the message schedule that only add those
//! zeros are left out (FIPS 180-4, 6.2.2 step 1). When the 16 candidates
//! share their first 5 digits (all but 16 of every 1,000), words 0 and 1
//! are the same in every lane and word 2 is one unaligned load from a
//! table; the rounds are written 8 at a time with the variables renamed
//! instead of moved.

use std::arch::x86_64::*;
use std::sync::LazyLock;

use super::{BATCH, Batch, IV};

/// The SHA-256 round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Message-word tables.
struct Words {
    /// `digits[k]`: the four ASCII digits of `k` (< 10^4), big-endian.
    digits: Vec<u32>,
    /// `low[k]`: message word 2 of a candidate ending in the three digits
    /// of `k` (< 1000): "ddd" + 0x80.
    low: Vec<u32>,
}

static WORDS: LazyLock<Words> = LazyLock::new(|| {
    let digits: Vec<u32> = (0..10_000u32)
        .map(|k| u32::from_be_bytes([0, 1, 2, 3].map(|i| b'0' + (k / 10u32.pow(3 - i) % 10) as u8)))
        .collect();
    let low = digits[..1000].iter().map(|&d| (d << 8) | 0x80).collect();
    Words { digits, low }
});

/// Message words 0..2 of candidate `n`: "010d", "dddd", "ddd" + 0x80.
fn words(t: &Words, n: u64) -> [u32; 3] {
    [
        0x3031_3030 + (n / 10_000_000) as u32,
        t.digits[(n / 1000 % 10_000) as usize],
        t.low[(n % 1000) as usize],
    ]
}

/// Hashes candidates `n..n + 16` into `out` (lanes past the space hold
/// digests of no candidate and are ignored by the caller).
///
/// # Safety
/// The CPU must have AVX-512F.
#[allow(clippy::needless_range_loop)] // lanes index word-major arrays
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn hash_batch(n: u64, out: &mut Batch) {
    let t = &*WORDS;
    let low = (n % 1000) as usize;
    let (w0, w1, w2) = if low <= 1000 - BATCH {
        // One thousand: words 0 and 1 are shared, word 2 is consecutive.
        let [a, b, _] = words(t, n);
        let c = &t.low[low..low + BATCH];
        // SAFETY: an unaligned load of 16 u32 from a slice of 16 u32.
        let w2 = unsafe { _mm512_loadu_si512(c.as_ptr().cast()) };
        (set1(a), set1(b), w2)
    } else {
        let mut w = [[0u32; BATCH]; 3];
        for j in 0..BATCH {
            let x = words(t, n + j as u64);
            (0..3).for_each(|k| w[k][j] = x[k]);
        }
        // SAFETY: unaligned loads of 16 u32 from arrays of 16 u32.
        let load = |a: &[u32; BATCH]| unsafe { _mm512_loadu_si512(a.as_ptr().cast()) };
        (load(&w[0]), load(&w[1]), load(&w[2]))
    };
    let s = compress(w0, w1, w2);
    for (o, v) in out.iter_mut().zip(s) {
        // SAFETY: an unaligned store of 16 u32 into an array of 16 u32.
        unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), v) };
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn set1(x: u32) -> __m512i {
    _mm512_set1_epi32(x as i32)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: __m512i, b: __m512i) -> __m512i {
    _mm512_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi32::<0x96>(a, b, c)
}

/// σ0 of the message schedule.
#[inline]
#[target_feature(enable = "avx512f")]
fn sigma0(x: __m512i) -> __m512i {
    xor3(
        _mm512_ror_epi32::<7>(x),
        _mm512_ror_epi32::<18>(x),
        _mm512_srli_epi32::<3>(x),
    )
}

/// σ1 of the message schedule.
#[inline]
#[target_feature(enable = "avx512f")]
fn sigma1(x: __m512i) -> __m512i {
    xor3(
        _mm512_ror_epi32::<17>(x),
        _mm512_ror_epi32::<19>(x),
        _mm512_srli_epi32::<10>(x),
    )
}

/// Message words 16..31 of words 0..2 followed by the fixed padding
/// (words 3..14 zero, word 15 = 88): W[t] = σ1(W[t-2]) + W[t-7] +
/// σ0(W[t-15]) + W[t-16], with the zero terms left out.
#[inline]
#[target_feature(enable = "avx512f")]
fn first_expansion(w0: __m512i, w1: __m512i, w2: __m512i) -> [__m512i; 16] {
    let w15 = set1(88);
    // x[i] is W[16 + i]; every entry is written below.
    let mut x = [w15; 16];
    x[0] = add(sigma0(w1), w0);
    x[1] = add(add(sigma1(w15), sigma0(w2)), w1);
    x[2] = add(sigma1(x[0]), w2);
    for i in 3..6 {
        x[i] = sigma1(x[i - 2]);
    }
    x[6] = add(sigma1(x[4]), w15);
    for i in 7..14 {
        x[i] = add(sigma1(x[i - 2]), x[i - 7]);
    }
    x[14] = add(add(sigma1(x[12]), x[7]), sigma0(w15));
    x[15] = add(add(sigma1(x[13]), x[8]), add(sigma0(x[0]), w15));
    x
}

/// The next 16 message words, in place: `x` holds W[t-16..t) at `t % 16`.
#[inline]
#[target_feature(enable = "avx512f")]
fn expand(x: &mut [__m512i; 16]) {
    for i in 0..16 {
        let s1 = sigma1(x[(i + 14) & 15]);
        let s0 = sigma0(x[(i + 1) & 15]);
        x[i] = add(add(s1, x[(i + 9) & 15]), add(s0, x[i]));
    }
}

/// `x[i] + K[from + i]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn plus_k(x: &[__m512i; 16], from: usize) -> [__m512i; 16] {
    let mut kw = *x;
    for (i, v) in kw.iter_mut().enumerate() {
        *v = add(*v, set1(K[from + i]));
    }
    kw
}

/// One round on the working variables in the roles `a..h`: `d` becomes
/// the new `e` and `h` the new `a`; the next round passes them renamed.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
fn round(
    a: __m512i,
    b: __m512i,
    c: __m512i,
    d: &mut __m512i,
    e: __m512i,
    f: __m512i,
    g: __m512i,
    h: &mut __m512i,
    kw: __m512i,
) {
    let s1 = xor3(
        _mm512_ror_epi32::<6>(e),
        _mm512_ror_epi32::<11>(e),
        _mm512_ror_epi32::<25>(e),
    );
    let ch = _mm512_ternarylogic_epi32::<0xCA>(e, f, g);
    let t1 = add(add(*h, s1), add(ch, kw));
    let s0 = xor3(
        _mm512_ror_epi32::<2>(a),
        _mm512_ror_epi32::<13>(a),
        _mm512_ror_epi32::<22>(a),
    );
    let maj = _mm512_ternarylogic_epi32::<0xE8>(a, b, c);
    *d = add(*d, t1);
    *h = add(t1, add(s0, maj));
}

/// 16 rounds from state `s`, given `W[t] + K[t]` of each.
#[inline]
#[target_feature(enable = "avx512f")]
fn rounds16(s: &mut [__m512i; 8], kw: &[__m512i; 16]) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *s;
    for r in kw.chunks_exact(8) {
        round(a, b, c, &mut d, e, f, g, &mut h, r[0]);
        round(h, a, b, &mut c, d, e, f, &mut g, r[1]);
        round(g, h, a, &mut b, c, d, e, &mut f, r[2]);
        round(f, g, h, &mut a, b, c, d, &mut e, r[3]);
        round(e, f, g, &mut h, a, b, c, &mut d, r[4]);
        round(d, e, f, &mut g, h, a, b, &mut c, r[5]);
        round(c, d, e, &mut f, g, h, a, &mut b, r[6]);
        round(b, c, d, &mut e, f, g, h, &mut a, r[7]);
    }
    *s = [a, b, c, d, e, f, g, h];
}

/// The compression of 16 single-block messages (words 0..2 per lane, then
/// the fixed padding) from the initial state; returns the final state
/// words (FIPS 180-4, 6.2.2). The schedule is computed 16 words at a time.
#[inline]
#[target_feature(enable = "avx512f")]
fn compress(w0: __m512i, w1: __m512i, w2: __m512i) -> [__m512i; 8] {
    // No closures here: they would not inherit AVX-512 and stay calls.
    let mut iv = [w0; 8];
    for (v, &x) in iv.iter_mut().zip(&IV) {
        *v = set1(x);
    }
    let mut s = iv;
    let mut kw = [w0; 16];
    for (t, v) in kw.iter_mut().enumerate() {
        *v = set1(K[t]);
    }
    kw[0] = add(kw[0], w0);
    kw[1] = add(kw[1], w1);
    kw[2] = add(kw[2], w2);
    kw[15] = add(kw[15], set1(88));
    rounds16(&mut s, &kw);
    let mut x = first_expansion(w0, w1, w2);
    rounds16(&mut s, &plus_k(&x, 16));
    for from in [32, 48] {
        expand(&mut x);
        rounds16(&mut s, &plus_k(&x, from));
    }
    for (v, i) in s.iter_mut().zip(iv) {
        *v = add(*v, i);
    }
    s
}
