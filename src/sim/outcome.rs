//! Outcome simulation: the days after the snapshot, with small App Store
//! purchases grouped into later charges against the wallet balance, inflows,
//! spending and automatic top-ups moving it. Gives the realized `nsf` flag and
//! the ground-truth `nsf_prob` (a Rao-Blackwellized Monte Carlo estimate over
//! independent replays of the same pre-window state).

use rand::RngCore;

use crate::sim::preset::ValidPreset;
use crate::sim::rng::{Stream, StreamRng, sigmoid, user_stream};
use crate::sim::traits::{Latent, Rates};

/// Everything the window simulation needs about one user, fixed before the
/// window starts.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeState {
    balance0: f64,
    /// Daily probability of an inflow (remittance received, manual top-up).
    p_in: f64,
    in_median: f64,
    /// Daily probability of an outflow (payment, remittance sent, withdrawal).
    p_out: f64,
    out_median: f64,
    /// Daily probability of an extra App Store purchase.
    p_app: f64,
    /// Probability that a charge the balance cannot cover fails.
    fail_prob: f64,
}

/// Spread codes: 6 random bits pick one of 64 equiprobable quantiles.
const SPREAD_CODES: usize = 64;

/// exp(0.6 z) at the 64 equiprobable midpoint quantiles of z ~ N(0, 1): the
/// spread of a single inflow or outflow around its median, drawn with six
/// bits instead of a normal variate and an exp (the hot loop's main cost).
fn lognormal_table() -> &'static [f64; SPREAD_CODES] {
    static TABLE: std::sync::OnceLock<[f64; SPREAD_CODES]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; SPREAD_CODES];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (0.6 * inverse_normal_cdf((i as f64 + 0.5) / SPREAD_CODES as f64)).exp();
        }
        t
    })
}

/// Inverse standard normal CDF (statrs' inverse complementary error function).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

impl OutcomeState {
    /// Builds the state from the user's latent traits, rates and attributes;
    /// `shift_noise` is two independent N(0,1) draws used by the concept shift;
    /// `profile_risk` (`traits::profile_risk`: age and account age) shifts the
    /// failure logit of both the automatic top-up and the manual rescue.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &ValidPreset,
        lat: &Latent,
        rates: &Rates,
        active: bool,
        registered: bool,
        auto_topup: bool,
        balance0: f64,
        shift_noise: (f64, f64),
        profile_risk: f64,
    ) -> OutcomeState {
        let w = &p.wallet;
        let o = &p.outcome;
        // Inactive users mostly stay inactive: a tenth of their latent rates.
        let act = if active { 1.0 } else { 0.1 };
        // A Poisson process at `rate` per day has an event on a given day with
        // probability 1 - exp(-rate) (at most one counted per day).
        let daily = |per_day: f64| 1.0 - (-per_day).exp();
        let income_mult = rates.income_mult;
        // Concept shift: for unregistered users the traits that drive failure
        // are k * (their own stress, income) + sqrt(1 - k^2) * independent
        // noise, k = 1 - registered_shift: the same spread of risk, but less
        // (shift 1: none; shift > 1: reversed) of it visible in their data.
        let (z_str, z_inc) = if registered {
            (lat.z_str, lat.z_inc)
        } else {
            let k = 1.0 - o.registered_shift;
            let rest = (1.0 - k * k).max(0.0).sqrt();
            (
                k * lat.z_str + rest * shift_noise.0,
                k * lat.z_inc + rest * shift_noise.1,
            )
        };
        let fail_prob = if auto_topup {
            sigmoid(
                o.bank_fail_logit + o.bank_fail_stress * z_str - o.bank_fail_income * z_inc
                    + profile_risk,
            )
        } else {
            1.0 - sigmoid(
                o.rescue_logit + o.rescue_income * z_inc - o.rescue_stress * z_str - profile_risk,
            )
        };
        let in_rate = rates.remit_received + rates.topup;
        let out_rate = rates.payment + rates.remit_sent + rates.withdrawal;
        // Mean inflow mixes remittances and top-ups; outflow mixes payments,
        // remittances and withdrawals, each weighted by its rate.
        let in_median = income_mult
            * (rates.remit_received * w.remit_amount_median_krw
                + rates.topup * 10_000.0 * w.topup_units_mean)
            / in_rate.max(1e-9);
        let out_median = income_mult
            * (rates.payment * w.payment_amount_median_krw
                + rates.remit_sent * w.remit_amount_median_krw
                + rates.withdrawal * w.withdrawal_amount_median_krw)
            / out_rate.max(1e-9);
        OutcomeState {
            balance0,
            p_in: daily(act * in_rate / 30.0),
            in_median,
            p_out: daily(act * out_rate / 30.0),
            out_median,
            p_app: daily(o.app_purchase_rate * rates.act_mult),
            fail_prob,
        }
    }
}

/// Bernoulli thresholds are compared with 14-bit random fields: daily
/// probabilities are resolved at 1/16384.
const P_BITS: u32 = 14;
const P_MASK: u64 = (1 << P_BITS) - 1;

/// A daily probability as a threshold on a 14-bit uniform field.
fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * (1u64 << P_BITS) as f64).round() as u64
}

/// The per-user constants of the day loop.
struct DayRules<'a> {
    t_in: u64,
    t_out: u64,
    t_app: u64,
    in_median: f64,
    out_median: f64,
    charge_span: u32,
    spread: &'a [f64; SPREAD_CODES],
    prices: &'a [f64],
}

impl<'a> DayRules<'a> {
    fn new(p: &'a ValidPreset, s: &OutcomeState) -> Self {
        let g = p.outcome.grouping_days;
        DayRules {
            t_in: threshold(s.p_in),
            t_out: threshold(s.p_out),
            t_app: threshold(s.p_app),
            in_median: s.in_median,
            out_median: s.out_median,
            charge_span: (p.outcome.window_days / g) * g,
            spread: lognormal_table(),
            prices: &p.price_by_code,
        }
    }

    /// The day of the first purchase, uniform over the days whose purchases
    /// get charged inside the window.
    fn first_purchase(&self, w: u64) -> u32 {
        ((w >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * self.charge_span as f64) as u32
    }

    /// One day from one 64-bit word: three 14-bit fields decide whether an
    /// inflow, an outflow and an extra App Store purchase happen, two 6-bit
    /// codes give the inflow and outflow spreads, and 10 bits the purchase's
    /// price tier. Branch-free: the day costs the same whatever happens.
    #[inline(always)]
    fn step(&self, w: u64, first_purchase_today: bool, balance: &mut f64, pending: &mut f64) {
        let inflow = ((w & P_MASK) < self.t_in) as u8 as f64;
        let outflow = (((w >> P_BITS) & P_MASK) < self.t_out) as u8 as f64;
        let purchase =
            ((((w >> (2 * P_BITS)) & P_MASK) < self.t_app) | first_purchase_today) as u8 as f64;
        let in_spread = self.spread[((w >> 42) & 0x3F) as usize];
        let out_spread = self.spread[((w >> 48) & 0x3F) as usize];
        *balance = (*balance + inflow * self.in_median * in_spread).min(2_000_000.0);
        *balance -= outflow * balance.min(self.out_median * out_spread);
        *pending += purchase * self.prices[(w >> 54) as usize];
    }
}

/// Charges the pending purchases as one grouped charge; a shortfall is
/// covered by a top-up in 10,000 KRW steps. Returns whether the balance was
/// short (the top-up or rescue was needed). Branch-free.
#[inline(always)]
fn charge(balance: &mut f64, pending: &mut f64) -> bool {
    let short = *pending > *balance;
    *balance += (short as u8 as f64) * ((*pending - *balance) / 10_000.0).ceil() * 10_000.0;
    *balance -= *pending;
    *pending = 0.0;
    short
}

/// The realized outcome: the window day by day (`DayRules::step`); on the
/// last day of every `grouping_days` cycle the pending purchases are charged
/// as one, and a short charge fails with `fail_prob`. True when a grouped
/// charge could not be covered.
pub fn realized_nsf<R: RngCore>(p: &ValidPreset, s: &OutcomeState, rng: &mut R) -> bool {
    let rules = DayRules::new(p, s);
    let g = p.outcome.grouping_days;
    let first = rules.first_purchase(rng.next_u64());
    let (mut balance, mut pending) = (s.balance0, 0.0f64);
    let mut until_charge = g;
    // Days after the last charge cannot fail: the loop ends there.
    for day in 0..rules.charge_span {
        rules.step(rng.next_u64(), day == first, &mut balance, &mut pending);
        until_charge -= 1;
        if until_charge == 0
            && {
                until_charge = g;
                charge(&mut balance, &mut pending)
            }
            && crate::sim::rng::uniform(rng) < s.fail_prob
        {
            return true;
        }
    }
    false
}

/// The App Store purchases of one window path (the same draws as
/// `realized_nsf` on the same stream): their number and total price (KRW).
/// Run with `outcome.window_days = 30` it gives a purchaser's monthly spend.
pub fn window_purchases<R: RngCore>(p: &ValidPreset, s: &OutcomeState, rng: &mut R) -> (u32, f64) {
    let rules = DayRules::new(p, s);
    let first = rules.first_purchase(rng.next_u64());
    let (mut balance, mut count, mut total) = (s.balance0, 0u32, 0.0f64);
    for day in 0..p.outcome.window_days {
        let mut pending = 0.0;
        rules.step(rng.next_u64(), day == first, &mut balance, &mut pending);
        count += (pending > 0.0) as u32;
        total += pending;
    }
    (count, total)
}

/// Replays run in lock-step: `STREAMS` streams and their mirror images.
const STREAMS: usize = 4;

/// `2 * STREAMS` replays of the window at once: the streams and their mirror
/// images (every word complemented, so each lane is still an exact draw of
/// the window, and each mirror is antithetic to its stream: more inflow in
/// one, less in the other), run day by day in lock-step; interleaving
/// independent lanes lets the CPU overlap them. The failure draw is
/// integrated out: a lane returns P(no failure | its path) = product over
/// short charges of (1 − fail_prob), which has the realized outcome's
/// expectation and less variance. Lane 2k runs on stream k, lane 2k+1 on its
/// mirror.
fn run_replays(
    p: &ValidPreset,
    s: &OutcomeState,
    rngs: &mut [StreamRng; STREAMS],
) -> [f64; 2 * STREAMS] {
    const L: usize = 2 * STREAMS;
    let rules = DayRules::new(p, s);
    let g = p.outcome.grouping_days;
    let mirrored = |rngs: &mut [StreamRng; STREAMS]| -> [u64; L] {
        let mut w = [0u64; L];
        for (k, r) in rngs.iter_mut().enumerate() {
            let x = r.next_u64();
            w[2 * k] = x;
            w[2 * k + 1] = !x;
        }
        w
    };
    let first = mirrored(rngs).map(|w| rules.first_purchase(w));
    let mut balance = [s.balance0; L];
    let mut pending = [0.0f64; L];
    let mut survive = [1.0f64; L];
    let mut until_charge = g;
    for day in 0..rules.charge_span {
        let words = mirrored(rngs);
        for l in 0..L {
            rules.step(words[l], day == first[l], &mut balance[l], &mut pending[l]);
        }
        until_charge -= 1;
        if until_charge == 0 {
            until_charge = g;
            for l in 0..L {
                let short = charge(&mut balance[l], &mut pending[l]);
                survive[l] *= 1.0 - (short as u8 as f64) * s.fail_prob;
            }
        }
    }
    survive
}

/// Ground truth: estimated P(nsf = 1 | pre-window state), the mean over
/// `outcome.prob_paths` replays (streams independent of the realized one) of
/// 1 − P(no failure | replay path). Replays come in antithetic pairs: replay
/// 2j runs on stream j, replay 2j+1 on its mirror; they are computed
/// `2 * STREAMS` at a time (the lanes past `prob_paths` are dropped), or 16
/// at a time by the AVX2 / AVX-512 kernels (`sim::lanes`), which give the
/// same bits.
pub fn nsf_probability(p: &ValidPreset, s: &OutcomeState, seed: u64, user_id: u64) -> f64 {
    nsf_probability_using(ReplayKernel::best(), p, s, seed, user_id)
}

/// Which code runs the replays; all give the same bits (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKernel {
    /// `run_replays`, any CPU.
    Portable,
    /// `sim::lanes::run` (x86-64 with AVX2).
    Avx2,
    /// `sim::lanes::run512` (x86-64 with AVX-512F).
    Avx512,
}

impl ReplayKernel {
    /// The fastest kernel this CPU runs (detected once by std).
    pub fn best() -> ReplayKernel {
        if crate::sim::lanes::available_512() {
            ReplayKernel::Avx512
        } else if crate::sim::lanes::available() {
            ReplayKernel::Avx2
        } else {
            ReplayKernel::Portable
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn runs_here(self) -> bool {
        match self {
            ReplayKernel::Portable => true,
            ReplayKernel::Avx2 => crate::sim::lanes::available(),
            ReplayKernel::Avx512 => crate::sim::lanes::available_512(),
        }
    }
}

/// `nsf_probability` with a given kernel (falls back to the portable path
/// when the CPU cannot run it).
pub fn nsf_probability_using(
    kernel: ReplayKernel,
    p: &ValidPreset,
    s: &OutcomeState,
    seed: u64,
    user_id: u64,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if kernel != ReplayKernel::Portable && kernel.runs_here() {
        return nsf_probability_simd(kernel, p, s, seed, user_id);
    }
    let _ = kernel;
    nsf_probability_scalar(p, s, seed, user_id)
}

/// `nsf_probability` on the portable path (the reference the AVX2 kernel is
/// tested against).
pub fn nsf_probability_scalar(p: &ValidPreset, s: &OutcomeState, seed: u64, user_id: u64) -> f64 {
    let m = p.outcome.prob_paths as usize;
    let lanes_per_group = 2 * STREAMS;
    let mut total = 0.0;
    for group in 0..m.div_ceil(lanes_per_group) {
        let base = (group * STREAMS) as u64;
        let mut rngs: [StreamRng; STREAMS] =
            std::array::from_fn(|k| user_stream(seed, user_id, Stream::Replay, base + k as u64));
        let lanes = run_replays(p, s, &mut rngs);
        for (l, v) in lanes.iter().enumerate() {
            if group * lanes_per_group + l < m {
                total += v;
            }
        }
    }
    1.0 - total / m as f64
}

/// `nsf_probability` with a SIMD kernel (`kernel.runs_here()`): 8 streams
/// (16 lanes) per call, summed in the scalar path's lane order.
#[cfg(target_arch = "x86_64")]
fn nsf_probability_simd(
    kernel: ReplayKernel,
    p: &ValidPreset,
    s: &OutcomeState,
    seed: u64,
    user_id: u64,
) -> f64 {
    use crate::sim::lanes;
    let m = p.outcome.prob_paths as usize;
    let rules = DayRules::new(p, s);
    let prices: &[f64; crate::sim::preset::PRICE_CODES] = rules
        .prices
        .try_into()
        .expect("price table has PRICE_CODES entries");
    let lr = lanes::Rules {
        t_in: rules.t_in,
        t_out: rules.t_out,
        t_app: rules.t_app,
        in_median: rules.in_median,
        out_median: rules.out_median,
        charge_span: rules.charge_span,
        grouping_days: p.outcome.grouping_days,
        fail_prob: s.fail_prob,
        spread: rules.spread,
        prices,
    };
    let per_call = 2 * lanes::STREAMS;
    let mut total = 0.0;
    for call in 0..m.div_ceil(per_call) {
        let base = (call * lanes::STREAMS) as u64;
        let keys = std::array::from_fn(|k| {
            crate::sim::rng::stream_key(seed, user_id, Stream::Replay, base + k as u64)
        });
        let state = lanes::seed_states(&keys);
        // SAFETY: the caller checked `kernel.runs_here()`.
        let out = unsafe {
            match kernel {
                ReplayKernel::Avx512 => lanes::run512(&lr, &state, s.balance0),
                _ => lanes::run(&lr, &state, s.balance0),
            }
        };
        for (l, v) in out.iter().enumerate() {
            if call * per_call + l < m {
                total += v;
            }
        }
    }
    1.0 - total / m as f64
}
