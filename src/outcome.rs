//! Outcome simulation: the days after the snapshot, with small App Store
//! purchases grouped into later charges against the wallet balance, inflows,
//! spending and automatic top-ups moving it. Gives the realized `nsf` flag and
//! the ground-truth `nsf_prob` (a Rao-Blackwellized Monte Carlo estimate over
//! independent replays of the same pre-window state).

use rand::RngCore;

use crate::population::{Latent, Rates};
use crate::preset::ValidPreset;
use crate::rng::{Stream, sigmoid, uniform, user_stream};

/// Everything the window simulation needs about one user, fixed before the
/// window starts.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeState {
    balance0: f64,
    /// Mean days between inflows (remittances received, manual top-ups).
    gap_in: f64,
    in_median: f64,
    /// Mean days between outflows (payments, remittances sent, withdrawals).
    gap_out: f64,
    out_median: f64,
    /// Mean days between extra App Store purchases.
    gap_app: f64,
    /// Probability that a charge the balance cannot cover fails.
    fail_prob: f64,
}

/// exp(0.6 z) at the 256 equiprobable midpoint quantiles of z ~ N(0, 1): the
/// spread of a single inflow or outflow around its median, drawn with one
/// byte instead of a normal variate and an exp (the hot loop's main cost).
fn lognormal_table() -> &'static [f64; 256] {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; 256];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (0.6 * inverse_normal_cdf((i as f64 + 0.5) / 256.0)).exp();
        }
        t
    })
}

/// Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inverse_normal_cdf(1.0 - p)
    }
}

impl OutcomeState {
    /// Builds the state from the user's latent traits, rates and attributes.
    pub fn new(
        p: &ValidPreset,
        lat: &Latent,
        rates: &Rates,
        active: bool,
        registered: bool,
        auto_topup: bool,
        balance0: f64,
    ) -> OutcomeState {
        let w = &p.wallet;
        let o = &p.outcome;
        // Inactive users mostly stay inactive: a tenth of their latent rates.
        let act = if active { 1.0 } else { 0.1 };
        let gap = |per_day: f64| {
            if per_day > 0.0 {
                1.0 / per_day
            } else {
                f64::INFINITY
            }
        };
        let daily = |per30: f64| gap(act * per30 / 30.0);
        let income_mult = (0.5 * lat.z_inc).exp();
        let k = if registered {
            1.0
        } else {
            1.0 - o.registered_shift
        };
        let fail_prob = if auto_topup {
            sigmoid(
                o.bank_fail_logit
                    + k * (o.bank_fail_stress * lat.z_str - o.bank_fail_income * lat.z_inc),
            )
        } else {
            1.0 - sigmoid(
                o.rescue_logit + k * (o.rescue_income * lat.z_inc - o.rescue_stress * lat.z_str),
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
            gap_in: daily(in_rate),
            in_median,
            gap_out: daily(out_rate),
            out_median,
            gap_app: gap(o.app_purchase_rate * (0.5 * lat.z_act).exp()),
            fail_prob,
        }
    }
}

/// Days until the next event of a process with daily rate 1/`mean_gap`: the
/// event days of a Bernoulli(1 - exp(-rate)) per day process, drawn by
/// skipping (floor of Exp(1) * mean gap) instead of testing every day.
#[inline]
fn skip<R: RngCore>(rng: &mut R, mean_gap: f64) -> u32 {
    let e: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, rng);
    (e * mean_gap).min((u32::MAX / 4) as f64) as u32
}

/// Runs one replay of the window, day by day in event order: inflows,
/// outflows and purchases of a day happen before that day's grouped charge;
/// a charge falls on the last day of each `grouping_days` cycle that holds a
/// pending purchase. With `realized`, each uncovered charge fails with
/// `fail_prob` by a draw and the result is 0 or 1; otherwise the draw is
/// integrated out (the top-up is taken to succeed and the path continues)
/// and the result is P(no failure | this path), which has the same
/// expectation and less variance. Returns the probability of NO failure.
fn run_window<R: RngCore>(p: &ValidPreset, s: &OutcomeState, rng: &mut R, realized: bool) -> f64 {
    const NEVER: u32 = u32::MAX / 2;
    let o = &p.outcome;
    let g = o.grouping_days;
    let window = o.window_days;
    let charge_span = (window / g) * g;
    let spread = lognormal_table();
    let tiers = &o.price_tiers_krw;
    let weights = &o.price_tier_weights;
    let price = |u: f64| -> f64 {
        let mut acc = 0.0;
        for (t, w) in tiers.iter().zip(weights) {
            acc += w;
            if u < acc {
                return *t as f64;
            }
        }
        *tiers.last().unwrap() as f64
    };
    let mut forced = (uniform(rng) * charge_span as f64) as u32;
    let mut next_in = skip(rng, s.gap_in);
    let mut next_out = skip(rng, s.gap_out);
    let mut next_app = skip(rng, s.gap_app);
    let mut balance = s.balance0;
    let mut pending = 0.0;
    let mut charge_day = NEVER;
    let mut survive = 1.0;
    loop {
        let day = next_in.min(next_out).min(next_app).min(forced);
        if charge_day < day {
            // The grouped charge at the end of `charge_day`.
            if balance >= pending {
                balance -= pending;
            } else {
                if realized {
                    if uniform(rng) < s.fail_prob {
                        return 0.0;
                    }
                } else {
                    survive *= 1.0 - s.fail_prob;
                }
                // A top-up in 10,000 KRW steps covers the shortfall.
                let topup = ((pending - balance) / 10_000.0).ceil() * 10_000.0;
                balance += topup - pending;
            }
            pending = 0.0;
            charge_day = NEVER;
            continue;
        }
        if day >= window {
            break;
        }
        let bytes = rng.next_u64();
        if next_in == day {
            balance = (balance + s.in_median * spread[(bytes & 0xFF) as usize]).min(2_000_000.0);
            next_in = day + 1 + skip(rng, s.gap_in);
        }
        if next_out == day {
            balance -= balance.min(s.out_median * spread[((bytes >> 8) & 0xFF) as usize]);
            next_out = day + 1 + skip(rng, s.gap_out);
        }
        if next_app == day || forced == day {
            pending += price((bytes >> 16) as f64 * (1.0 / (1u64 << 48) as f64));
            if charge_day == NEVER {
                let end_of_cycle = (day / g) * g + g - 1;
                charge_day = if end_of_cycle < window {
                    end_of_cycle
                } else {
                    NEVER - 1
                };
            }
            if forced == day {
                forced = NEVER;
            } else {
                next_app = day + 1 + skip(rng, s.gap_app);
            }
        }
    }
    survive
}

/// The realized outcome: 1 when a grouped charge could not be covered.
pub fn realized_nsf<R: RngCore>(p: &ValidPreset, s: &OutcomeState, rng: &mut R) -> bool {
    run_window(p, s, rng, true) == 0.0
}

/// A stream's mirror image: every 64-bit word complemented. Each word is
/// still uniform, so a replay driven by it is an exact draw of the window;
/// paired with the original it makes antithetic replays (more inflow in one,
/// less in the other), which lowers the variance of their mean.
struct Mirror<R>(R);

impl<R: RngCore> RngCore for Mirror<R> {
    fn next_u32(&mut self) -> u32 {
        !self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        !self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
        for b in dest.iter_mut() {
            *b = !*b;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Ground truth: estimated P(nsf = 1 | pre-window state), the mean over
/// `outcome.prob_paths` replays (streams independent of the realized one) of
/// 1 − P(no failure | replay path). Replays come in antithetic pairs: replay
/// 2j runs on stream j, replay 2j+1 on its mirror.
pub fn nsf_probability(p: &ValidPreset, s: &OutcomeState, seed: u64, user_id: u64) -> f64 {
    let m = p.outcome.prob_paths as u64;
    let mut total = 0.0;
    for k in 0..m {
        let rng = user_stream(seed, user_id, Stream::Replay, k / 2);
        total += if k % 2 == 0 {
            run_window(p, s, &mut { rng }, false)
        } else {
            run_window(p, s, &mut Mirror(rng), false)
        };
    }
    1.0 - total / m as f64
}
