//! The `nsf_prob` replays with AVX2: the replay lanes of one user run four to
//! a vector register. Every lane computes exactly what the scalar
//! `outcome::run_replays` computes (the same IEEE operations in the same
//! order: Rust fuses no multiply-add, and no value is NaN or a negative
//! zero, so `vminpd` equals `f64::min`); `tests/replay_lanes.rs` and the
//! golden file check it bit for bit.
//!
//! Hand-written because the compiler does not vectorize the scalar loop (the
//! three table lookups per lane and day need gathers, which its cost model
//! does not pick for generic x86-64-v3), and `std::simd` is nightly-only.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Streams per kernel call (two registers of four); lanes are the streams and
/// their mirror images.
pub const STREAMS: usize = 8;

/// The per-user constants of a replay run, as the scalar `DayRules` has them.
pub struct Rules<'a> {
    /// Thresholds of the 14-bit inflow / outflow / purchase fields.
    pub t_in: u64,
    /// See `t_in`.
    pub t_out: u64,
    /// See `t_in`.
    pub t_app: u64,
    /// Median inflow (KRW).
    pub in_median: f64,
    /// Median outflow (KRW).
    pub out_median: f64,
    /// Simulated days (the last charge's day).
    pub charge_span: u32,
    /// Days per grouped charge.
    pub grouping_days: u32,
    /// Probability that a short charge fails.
    pub fail_prob: f64,
    /// exp(0.6 z) at 64 quantiles.
    pub spread: &'a [f64; 64],
    /// Prices by 10-bit code.
    pub prices: &'a [f64; 1024],
}

/// Whether the AVX2 kernel can run on this CPU.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// xoshiro256++ state of `STREAMS` streams seeded by SplitMix64 from `keys`
/// (what `rand_xoshiro`'s `seed_from_u64` does), as four words per stream.
pub fn seed_states(keys: &[u64; STREAMS]) -> [[u64; STREAMS]; 4] {
    let mut s = [[0u64; STREAMS]; 4];
    for (k, &key) in keys.iter().enumerate() {
        let mut x = key;
        for row in s.iter_mut() {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            row[k] = z ^ (z >> 31);
        }
        if (0..4).all(|i| s[i][k] == 0) {
            // rand_xoshiro replaces an all-zero seed with seed_from_u64(0).
            let z = seed_states(&[0; STREAMS]);
            (0..4).for_each(|i| s[i][k] = z[i][0]);
        }
    }
    s
}

/// Runs the 16 replay lanes (lane 2k on stream k, lane 2k+1 on its mirror)
/// and returns P(no failure | path) per lane, in lane order.
///
/// # Safety
/// The CPU must have AVX2 (`available()`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn run(r: &Rules, state: &[[u64; STREAMS]; 4], balance0: f64) -> [f64; 2 * STREAMS] {
    let ld = |a: &[u64], i: usize| unsafe { _mm256_loadu_si256(a[4 * i..].as_ptr().cast()) };
    let mut s: [[__m256i; 2]; 4] = std::array::from_fn(|c| [ld(&state[c], 0), ld(&state[c], 1)]);
    let ones = _mm256_set1_epi64x(-1);
    // The first-purchase days, from the first word of every lane.
    let w0 = next(&mut s);
    let mut first = [_mm256_setzero_si256(); 4];
    for (v, w) in [
        w0[0],
        _mm256_xor_si256(w0[0], ones),
        w0[1],
        _mm256_xor_si256(w0[1], ones),
    ]
    .into_iter()
    .enumerate()
    {
        let mut words = [0u64; 4];
        unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), w) };
        let days = words.map(|w| {
            ((w >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * r.charge_span as f64) as u32 as i64
        });
        first[v] = unsafe { _mm256_loadu_si256(days.as_ptr().cast()) };
    }
    let mut lanes = [Lanes::new(balance0); 4];
    let mut until_charge = r.grouping_days;
    for day in 0..r.charge_span {
        let w = next(&mut s);
        let today = _mm256_set1_epi64x(day as i64);
        let words = [
            w[0],
            _mm256_xor_si256(w[0], ones),
            w[1],
            _mm256_xor_si256(w[1], ones),
        ];
        for v in 0..4 {
            let first_today = _mm256_cmpeq_epi64(first[v], today);
            unsafe { lanes[v].step(r, words[v], first_today) };
        }
        until_charge -= 1;
        if until_charge == 0 {
            until_charge = r.grouping_days;
            for l in lanes.iter_mut() {
                l.charge(r.fail_prob);
            }
        }
    }
    // Vector v holds lanes (stream 4*(v/2) + k, mirror v%2) for k = 0..4.
    let mut out = [0.0; 2 * STREAMS];
    for (v, l) in lanes.iter().enumerate() {
        let mut x = [0.0f64; 4];
        unsafe { _mm256_storeu_pd(x.as_mut_ptr(), l.survive) };
        for (k, x) in x.into_iter().enumerate() {
            out[2 * (4 * (v / 2) + k) + v % 2] = x;
        }
    }
    out
}

/// The next word of all streams (xoshiro256++ on four streams per register).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn next(s: &mut [[__m256i; 2]; 4]) -> [__m256i; 2] {
    std::array::from_fn(|i| {
        let (s0, s1, s2, s3) = (s[0][i], s[1][i], s[2][i], s[3][i]);
        let sum = _mm256_add_epi64(s0, s3);
        let rot = _mm256_or_si256(_mm256_slli_epi64::<23>(sum), _mm256_srli_epi64::<41>(sum));
        let result = _mm256_add_epi64(rot, s0);
        let t = _mm256_slli_epi64::<17>(s1);
        let s2 = _mm256_xor_si256(s2, s0);
        let s3 = _mm256_xor_si256(s3, s1);
        let s1 = _mm256_xor_si256(s1, s2);
        let s0 = _mm256_xor_si256(s0, s3);
        let s2 = _mm256_xor_si256(s2, t);
        let s3 = _mm256_or_si256(_mm256_slli_epi64::<45>(s3), _mm256_srli_epi64::<19>(s3));
        (s[0][i], s[1][i], s[2][i], s[3][i]) = (s0, s1, s2, s3);
        result
    })
}

/// 0.0 or 1.0 per lane: whether the 14-bit field of `w` is below `t`
/// (fields and thresholds are below 2^15, so the signed compare is exact).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn below(field: __m256i, t: u64) -> __m256i {
    let f = _mm256_and_si256(field, _mm256_set1_epi64x(0x3FFF));
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(t as i64), f)
}

/// A lane mask as 0.0 / 1.0.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn as_f64(m: __m256i) -> __m256d {
    _mm256_and_pd(_mm256_castsi256_pd(m), _mm256_set1_pd(1.0))
}

/// Four replay lanes' balances, pending purchases and survival products.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Lanes {
    balance: __m256d,
    pending: __m256d,
    survive: __m256d,
}

#[cfg(target_arch = "x86_64")]
impl Lanes {
    #[target_feature(enable = "avx2")]
    fn new(balance0: f64) -> Lanes {
        Lanes {
            balance: _mm256_set1_pd(balance0),
            pending: _mm256_setzero_pd(),
            survive: _mm256_set1_pd(1.0),
        }
    }

    /// `outcome::DayRules::step` on four lanes.
    ///
    /// # Safety
    /// AVX2; `r.spread` has 64 and `r.prices` 1024 entries (their types).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn step(&mut self, r: &Rules, w: __m256i, first_today: __m256i) {
        let inflow = as_f64(below(w, r.t_in));
        let outflow = as_f64(below(_mm256_srli_epi64::<14>(w), r.t_out));
        let purchase = as_f64(_mm256_or_si256(
            below(_mm256_srli_epi64::<28>(w), r.t_app),
            first_today,
        ));
        let six = _mm256_set1_epi64x(0x3F);
        let in_idx = _mm256_and_si256(_mm256_srli_epi64::<42>(w), six);
        let out_idx = _mm256_and_si256(_mm256_srli_epi64::<48>(w), six);
        let price_idx = _mm256_srli_epi64::<54>(w);
        // SAFETY: indices are < 64 and < 1024, the tables' lengths.
        let (in_spread, out_spread, price) = unsafe {
            (
                _mm256_i64gather_pd::<8>(r.spread.as_ptr(), in_idx),
                _mm256_i64gather_pd::<8>(r.spread.as_ptr(), out_idx),
                _mm256_i64gather_pd::<8>(r.prices.as_ptr(), price_idx),
            )
        };
        let inflow_amount = _mm256_mul_pd(
            _mm256_mul_pd(inflow, _mm256_set1_pd(r.in_median)),
            in_spread,
        );
        let b = _mm256_min_pd(
            _mm256_add_pd(self.balance, inflow_amount),
            _mm256_set1_pd(2_000_000.0),
        );
        let out_amount = _mm256_min_pd(b, _mm256_mul_pd(_mm256_set1_pd(r.out_median), out_spread));
        self.balance = _mm256_sub_pd(b, _mm256_mul_pd(outflow, out_amount));
        self.pending = _mm256_add_pd(self.pending, _mm256_mul_pd(purchase, price));
    }

    /// `outcome::charge` on four lanes, then the survival factor.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn charge(&mut self, fail_prob: f64) {
        let (b, p) = (self.balance, self.pending);
        let step = _mm256_set1_pd(10_000.0);
        let short = _mm256_and_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(p, b), _mm256_set1_pd(1.0));
        let units = _mm256_ceil_pd(_mm256_div_pd(_mm256_sub_pd(p, b), step));
        let b = _mm256_add_pd(b, _mm256_mul_pd(_mm256_mul_pd(short, units), step));
        self.balance = _mm256_sub_pd(b, p);
        self.pending = _mm256_setzero_pd();
        let fail = _mm256_mul_pd(short, _mm256_set1_pd(fail_prob));
        self.survive = _mm256_mul_pd(self.survive, _mm256_sub_pd(_mm256_set1_pd(1.0), fail));
    }
}

/// Whether the AVX-512 kernel can run on this CPU.
pub fn available_512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `run` with AVX-512: eight lanes per register (the eight streams in one,
/// their mirrors in the other), and the 64-entry spread table looked up in
/// registers (four two-register permutes and two blends) instead of
/// gathered from memory: the gathers were most of the AVX2 kernel's time.
///
/// # Safety
/// The CPU must have AVX-512F (`available_512()`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn run512(r: &Rules, state: &[[u64; STREAMS]; 4], balance0: f64) -> [f64; 2 * STREAMS] {
    let mut s: [__m512i; 4] =
        std::array::from_fn(|c| unsafe { _mm512_loadu_si512(state[c].as_ptr().cast()) });
    let ones = _mm512_set1_epi64(-1);
    let w0 = next512(&mut s);
    let mut first = [_mm512_setzero_si512(); 2];
    for (v, w) in [w0, _mm512_xor_si512(w0, ones)].into_iter().enumerate() {
        let mut words = [0u64; 8];
        unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), w) };
        let days = words.map(|w| {
            ((w >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * r.charge_span as f64) as u32 as i64
        });
        first[v] = unsafe { _mm512_loadu_si512(days.as_ptr().cast()) };
    }
    let table: [__m512d; 8] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_pd(r.spread[8 * i..].as_ptr()) });
    let mut lanes = [Lanes512::new(balance0); 2];
    let mut until_charge = r.grouping_days;
    for day in 0..r.charge_span {
        let w = next512(&mut s);
        let today = _mm512_set1_epi64(day as i64);
        let words = [w, _mm512_xor_si512(w, ones)];
        for (l, (w, f)) in lanes.iter_mut().zip(words.into_iter().zip(first)) {
            let first_today = _mm512_cmpeq_epi64_mask(f, today);
            unsafe { l.step(r, &table, w, first_today) };
        }
        until_charge -= 1;
        if until_charge == 0 {
            until_charge = r.grouping_days;
            for l in lanes.iter_mut() {
                l.charge(r.fail_prob);
            }
        }
    }
    let mut out = [0.0; 2 * STREAMS];
    for (v, l) in lanes.iter().enumerate() {
        let mut x = [0.0f64; 8];
        unsafe { _mm512_storeu_pd(x.as_mut_ptr(), l.survive) };
        for (k, x) in x.into_iter().enumerate() {
            out[2 * k + v] = x;
        }
    }
    out
}

/// The next word of the eight streams (xoshiro256++).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn next512(s: &mut [__m512i; 4]) -> __m512i {
    let [s0, s1, s2, s3] = *s;
    let result = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
    let t = _mm512_slli_epi64::<17>(s1);
    let s2 = _mm512_xor_si512(s2, s0);
    let s3 = _mm512_xor_si512(s3, s1);
    let s1 = _mm512_xor_si512(s1, s2);
    let s0 = _mm512_xor_si512(s0, s3);
    let s2 = _mm512_xor_si512(s2, t);
    *s = [s0, s1, s2, _mm512_rol_epi64::<45>(s3)];
    result
}

/// `spread[idx]` per lane from the table in eight registers: a permute of
/// two registers resolves the low four bits, blends on bits 4 and 5 pick
/// among the four results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn lookup64(t: &[__m512d; 8], idx: __m512i) -> __m512d {
    let q: [__m512d; 4] =
        std::array::from_fn(|j| _mm512_permutex2var_pd(t[2 * j], idx, t[2 * j + 1]));
    let bit4 = _mm512_test_epi64_mask(idx, _mm512_set1_epi64(16));
    let bit5 = _mm512_test_epi64_mask(idx, _mm512_set1_epi64(32));
    let lo = _mm512_mask_blend_pd(bit4, q[0], q[1]);
    let hi = _mm512_mask_blend_pd(bit4, q[2], q[3]);
    _mm512_mask_blend_pd(bit5, lo, hi)
}

/// Eight replay lanes (`Lanes` with AVX-512).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Lanes512 {
    balance: __m512d,
    pending: __m512d,
    survive: __m512d,
}

#[cfg(target_arch = "x86_64")]
impl Lanes512 {
    #[target_feature(enable = "avx512f")]
    fn new(balance0: f64) -> Lanes512 {
        Lanes512 {
            balance: _mm512_set1_pd(balance0),
            pending: _mm512_setzero_pd(),
            survive: _mm512_set1_pd(1.0),
        }
    }

    /// `outcome::DayRules::step` on eight lanes.
    ///
    /// # Safety
    /// AVX-512F; `r.prices` has 1024 entries (its type).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn step(&mut self, r: &Rules, table: &[__m512d; 8], w: __m512i, first_today: __mmask8) {
        let mask = _mm512_set1_epi64(0x3FFF);
        let below = |f: __m512i, t: u64| {
            _mm512_cmplt_epi64_mask(_mm512_and_si512(f, mask), _mm512_set1_epi64(t as i64))
        };
        let one = _mm512_set1_pd(1.0);
        let inflow = _mm512_maskz_mov_pd(below(w, r.t_in), one);
        let outflow = _mm512_maskz_mov_pd(below(_mm512_srli_epi64::<14>(w), r.t_out), one);
        let buy = below(_mm512_srli_epi64::<28>(w), r.t_app) | first_today;
        let purchase = _mm512_maskz_mov_pd(buy, one);
        let six = _mm512_set1_epi64(0x3F);
        let in_spread = lookup64(table, _mm512_and_si512(_mm512_srli_epi64::<42>(w), six));
        let out_spread = lookup64(table, _mm512_and_si512(_mm512_srli_epi64::<48>(w), six));
        // SAFETY: indices are below 1024, the table's length.
        let price =
            unsafe { _mm512_i64gather_pd::<8>(_mm512_srli_epi64::<54>(w), r.prices.as_ptr()) };
        let inflow_amount = _mm512_mul_pd(
            _mm512_mul_pd(inflow, _mm512_set1_pd(r.in_median)),
            in_spread,
        );
        let b = _mm512_min_pd(
            _mm512_add_pd(self.balance, inflow_amount),
            _mm512_set1_pd(2_000_000.0),
        );
        let out_amount = _mm512_min_pd(b, _mm512_mul_pd(_mm512_set1_pd(r.out_median), out_spread));
        self.balance = _mm512_sub_pd(b, _mm512_mul_pd(outflow, out_amount));
        self.pending = _mm512_add_pd(self.pending, _mm512_mul_pd(purchase, price));
    }

    /// `outcome::charge` on eight lanes, then the survival factor.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn charge(&mut self, fail_prob: f64) {
        let (b, p) = (self.balance, self.pending);
        let step = _mm512_set1_pd(10_000.0);
        let short =
            _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(p, b), _mm512_set1_pd(1.0));
        let units = _mm512_roundscale_pd::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(
            _mm512_div_pd(_mm512_sub_pd(p, b), step),
        );
        let b = _mm512_add_pd(b, _mm512_mul_pd(_mm512_mul_pd(short, units), step));
        self.balance = _mm512_sub_pd(b, p);
        self.pending = _mm512_setzero_pd();
        let fail = _mm512_mul_pd(short, _mm512_set1_pd(fail_prob));
        self.survive = _mm512_mul_pd(self.survive, _mm512_sub_pd(_mm512_set1_pd(1.0), fail));
    }
}
