//! The synthetic population: latent traits, profile, Apple registration, the
//! 24 attributes of the 30 days before the snapshot, and consent. One user is
//! a pure function of (preset, calibration, seed, user_id).

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::sim::outcome::{self, OutcomeState};
use crate::sim::preset::{ConsentMechanism, ValidPreset};
use crate::sim::rng::{Stream, binomial, normal, poisson, sigmoid, uniform, user_stream};
use crate::sim::schema::PHONE_SPACE;
use crate::sim::traits::profile_risk;

pub use crate::sim::traits::{Latent, Rates};

/// One user's row: the 24 attributes, the flags and the outcome.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct User {
    pub user_id: u64,
    pub account_id: u64,
    pub customer_no: u64,
    pub phone_sha256: [u8; 32],
    pub email_sha256: [u8; 32],
    pub account_age_days: u32,
    pub age_years: u8,
    /// Index into `schema::REGIONS`.
    pub region: u8,
    pub ios: bool,
    pub balance_krw: i64,
    pub balance_avg_30d_krw: i64,
    pub balance_min_30d_krw: i64,
    pub topup_count_30d: u32,
    pub topup_amount_30d_krw: i64,
    pub auto_topup: bool,
    pub withdrawal_amount_30d_krw: i64,
    pub payment_count_30d: u32,
    pub payment_amount_30d_krw: i64,
    pub remit_sent_amount_30d_krw: i64,
    pub remit_received_amount_30d_krw: i64,
    pub registered_cards: u8,
    pub card_payment_amount_30d_krw: i64,
    pub topup_count_7d: u32,
    pub payment_count_7d: u32,
    pub remit_count_7d: u32,
    pub apple_registered: bool,
    pub consented: bool,
    pub nsf: bool,
    pub nsf_prob: f64,
}

/// Population-level constants solved once per run on a pilot sample, so that
/// realized shares match the preset's targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Registration probability of an iPhone user at z_act = 0.
    pub reg_ios_rate: f64,
    /// Intercept of the consent logit.
    pub consent_intercept: f64,
    /// Phone-number bijection: n = (a*u + b) mod 10^8.
    pub phone_a: u64,
    /// See `phone_a`.
    pub phone_b: u64,
    /// Account-ID bijection: id = 10^9 + (a*u + b) mod 9*10^9.
    pub account_a: u64,
    /// See `account_a`.
    pub account_b: u64,
}

/// Users in the calibration pilot (the first ones; users are i.i.d.).
pub const PILOT_USERS: u64 = 65_536;

const ACCOUNT_SPACE: u64 = 9_000_000_000;
const EMAIL_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
const BAND_LOW: [u32; 6] = [14, 20, 30, 40, 50, 60];
const BAND_WIDTH: [u32; 6] = [6, 10, 10, 10, 10, 20];
const MAX_BALANCE: f64 = 2_000_000.0;
/// Balances "at or near zero" are below this (KRW).
pub const NEAR_ZERO_KRW: f64 = 1_000.0;

/// A multiplier coprime to `modulus` (whose prime factors are 2, 3 and 5),
/// derived from the seed: makes (a*u + b) mod m a bijection.
fn coprime_multiplier(seed: u64, salt: u64, modulus: u64) -> u64 {
    let mut a = crate::sim::rng::mix64(seed ^ salt) % modulus;
    while a < 2 || a.is_multiple_of(2) || a.is_multiple_of(3) || a.is_multiple_of(5) {
        a = (a + 1) % modulus;
    }
    a
}

/// (a*u + b) mod m, exactly; in 64-bit arithmetic when a*u + b fits (always
/// for the phone and account spaces: a, b < 9*10^9 and u < 10^8 give less
/// than 2^60), since the 128-bit remainder is a slow library call.
fn affine(a: u64, b: u64, u: u64, m: u64) -> u64 {
    match a.checked_mul(u).and_then(|x| x.checked_add(b)) {
        Some(x) => x % m,
        None => ((a as u128 * u as u128 + b as u128) % m as u128) as u64,
    }
}

/// The user's phone number digits after "010" (a bijection of user_id).
pub fn phone_number(cal: &Calibration, user_id: u64) -> u64 {
    affine(cal.phone_a, cal.phone_b, user_id, PHONE_SPACE)
}

/// Formats a phone number as sent to the hash: "010" and 8 digits.
pub fn phone_string(number: u64) -> [u8; 11] {
    let mut s = *b"01000000000";
    let mut n = number;
    for i in (3..11).rev() {
        s[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    s
}

/// The user's synthetic email address, "w" + the 10-digit account ID + "@"
/// + a reserved domain (example.com/.net/.org); returns the bytes and length.
pub fn email_address(account_id: u64, user_id: u64) -> ([u8; 32], usize) {
    let mut buf = [0u8; 32];
    buf[0] = b'w';
    let mut n = account_id;
    for i in (1..=10).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf[11] = b'@';
    let domain = EMAIL_DOMAINS[(user_id % 3) as usize].as_bytes();
    buf[12..12 + domain.len()].copy_from_slice(domain);
    (buf, 12 + domain.len())
}

fn round_to(x: f64, step: f64) -> i64 {
    ((x / step).round() * step) as i64
}

/// Sum of `count` amounts with the given median: a lognormal total whose
/// spread shrinks with the count.
fn amount_total<R: RngCore>(rng: &mut R, count: u32, median: f64) -> i64 {
    if count == 0 {
        return 0;
    }
    let sd = 0.6 / (count as f64).sqrt();
    round_to(count as f64 * median * (sd * normal(rng)).exp(), 100.0)
}

/// Pieces of a user that come before registration, shared with the pilot.
struct Profile {
    lat: Latent,
    band: usize,
    ios: bool,
    reg_u: f64,
}

fn draw_profile<R: RngCore>(p: &ValidPreset, rng: &mut R) -> Profile {
    let pop = &p.population;
    let z_inc = normal(rng);
    let z_act = normal(rng);
    let rho = pop.stress_income_corr;
    let z_str = -rho * z_inc + (1.0 - rho * rho).sqrt() * normal(rng);
    let u = uniform(rng);
    let band = categorical(u, &pop.age_band_shares);
    let ios = uniform(rng) < pop.ios_share_by_age[band];
    let z_inc = if ios {
        z_inc + pop.ios_income_shift
    } else {
        z_inc
    };
    Profile {
        lat: Latent {
            z_inc,
            z_act,
            z_str,
        },
        band,
        ios,
        reg_u: uniform(rng),
    }
}

fn is_registered(p: &ValidPreset, cal: &Calibration, prof: &Profile) -> bool {
    let r = &p.registration;
    if prof.ios {
        let a = r.activity_effect;
        let prob = (cal.reg_ios_rate * (a * prof.lat.z_act - 0.5 * a * a).exp()).min(1.0);
        prof.reg_u < prob
    } else {
        prof.reg_u < r.android_rate
    }
}

/// The consent mechanism's index z for a user (before the logit slope).
pub fn consent_index(mech: ConsentMechanism, user: &User) -> f64 {
    match mech {
        ConsentMechanism::Random => 0.0,
        ConsentMechanism::Attributes => {
            0.8 * ((user.balance_avg_30d_krw as f64).ln_1p() - 5.8) / 4.4
                + 0.6 * (user.auto_topup as u8 as f64 - 0.37) / 0.48
        }
        ConsentMechanism::Risk => {
            let q = user.nsf_prob.clamp(1e-4, 1.0 - 1e-4);
            -((q / (1.0 - q)).ln() + 3.0) / 1.5
        }
    }
}

/// A user's identifiers: bijections of `user_id` and their unsalted digests.
struct Ids {
    account_id: u64,
    customer_no: u64,
    phone_sha256: [u8; 32],
    email_sha256: [u8; 32],
}

fn identifiers(cal: &Calibration, user_id: u64) -> Ids {
    let account_id = 1_000_000_000 + affine(cal.account_a, cal.account_b, user_id, ACCOUNT_SPACE);
    let (email, email_len) = email_address(account_id, user_id);
    Ids {
        account_id,
        customer_no: 100_000_000 + user_id,
        phone_sha256: Sha256::digest(phone_string(phone_number(cal, user_id))).into(),
        email_sha256: Sha256::digest(&email[..email_len]).into(),
    }
}

/// Index drawn from a categorical distribution given by `shares` (the last
/// index takes what rounding leaves).
fn categorical(u: f64, shares: &[f64]) -> usize {
    let mut acc = 0.0;
    for (i, s) in shares.iter().enumerate() {
        acc += s;
        if u < acc {
            return i;
        }
    }
    shares.len() - 1
}

/// Observed profile: age in the band, account age, region.
struct Demographics {
    age_years: u8,
    account_age_days: u32,
    region: u8,
}

fn draw_demographics<R: RngCore>(p: &ValidPreset, band: usize, rng: &mut R) -> Demographics {
    let pop = &p.population;
    let age_years = (BAND_LOW[band] + (uniform(rng) * BAND_WIDTH[band] as f64) as u32) as u8;
    let account_age_days = (p.tenure_span_days as f64 * uniform(rng).powf(pop.tenure_shape)) as u32;
    let region = categorical(uniform(rng), &pop.region_shares) as u8;
    Demographics {
        age_years,
        account_age_days,
        region,
    }
}

/// The 30 days before the snapshot: counts and amounts.
struct Activity {
    payment_count_30d: u32,
    payment_amount_30d_krw: i64,
    remit_sent_amount_30d_krw: i64,
    remit_received_amount_30d_krw: i64,
    topup_count_30d: u32,
    topup_amount_30d_krw: i64,
    withdrawal_amount_30d_krw: i64,
    registered_cards: u8,
    card_payment_amount_30d_krw: i64,
    topup_count_7d: u32,
    payment_count_7d: u32,
    remit_count_7d: u32,
}

/// Counts ~ Poisson(rate) for active users (all zero for inactive ones);
/// amounts are count * median * exp(0.5 z_inc) with a lognormal spread;
/// 7-day counts thin the 30-day ones binomially (7/30).
fn draw_activity<R: RngCore>(
    p: &ValidPreset,
    lat: &Latent,
    rates: &Rates,
    active: bool,
    rng: &mut R,
) -> Activity {
    let w = &p.wallet;
    let act = if active { 1.0 } else { 0.0 };
    let payment_count_30d = poisson(rng, act * rates.payment);
    let remit_sent = poisson(rng, act * rates.remit_sent);
    let remit_recv = poisson(rng, act * rates.remit_received);
    let topup_count_30d = poisson(rng, act * rates.topup);
    let withdrawals = poisson(rng, act * rates.withdrawal);
    let income_mult = rates.income_mult;
    let payment_amount_30d_krw = amount_total(
        rng,
        payment_count_30d,
        w.payment_amount_median_krw * income_mult,
    );
    let remit_median = w.remit_amount_median_krw * income_mult;
    let remit_sent_amount_30d_krw = amount_total(rng, remit_sent, remit_median);
    let remit_received_amount_30d_krw = amount_total(rng, remit_recv, remit_median);
    let withdrawal_amount_30d_krw = amount_total(
        rng,
        withdrawals,
        w.withdrawal_amount_median_krw * income_mult,
    );
    let extra_units = poisson(
        rng,
        topup_count_30d as f64 * (w.topup_units_mean - 1.0) * income_mult,
    );
    let registered_cards = poisson(rng, w.cards_mean * (0.4 * lat.z_inc).exp()).min(5) as u8;
    let card_payments = if registered_cards > 0 {
        binomial(rng, payment_count_30d, w.card_payment_share)
    } else {
        0
    };
    let card_payment_amount_30d_krw = amount_total(
        rng,
        card_payments,
        w.payment_amount_median_krw * income_mult,
    );
    let frac7 = 7.0 / 30.0;
    Activity {
        payment_count_30d,
        payment_amount_30d_krw,
        remit_sent_amount_30d_krw,
        remit_received_amount_30d_krw,
        topup_count_30d,
        topup_amount_30d_krw: 10_000 * (topup_count_30d + extra_units) as i64,
        withdrawal_amount_30d_krw,
        registered_cards,
        card_payment_amount_30d_krw,
        topup_count_7d: binomial(rng, topup_count_30d, frac7),
        payment_count_7d: binomial(rng, payment_count_30d, frac7),
        remit_count_7d: binomial(rng, remit_sent + remit_recv, frac7),
    }
}

/// Balance at the snapshot, 30-day average and minimum (KRW, rounded to 10).
struct Balance {
    current: i64,
    avg_30d: i64,
    min_30d: i64,
}

/// Zero-inflated with a heavy tail. At or near zero (0 with probability 0.7,
/// else uniform below `NEAR_ZERO_KRW`) with probability
/// sigmoid(logit + 0.8 z_str - 0.5 z_inc), the logit being
/// `wallet.balance_zero_logit` for active users and
/// `wallet.balance_zero_inactive_logit` for inactive ones; otherwise a
/// lognormal average (median `wallet.balance_median_krw`, shifted by income
/// and stress) capped at 2,000,000. The minimum is at most the current and
/// average balances.
fn draw_balance<R: RngCore>(p: &ValidPreset, lat: &Latent, active: bool, rng: &mut R) -> Balance {
    let w = &p.wallet;
    let logit = if active {
        w.balance_zero_logit
    } else {
        w.balance_zero_inactive_logit
    };
    let near_zero = uniform(rng) < sigmoid(logit + 0.8 * lat.z_str - 0.5 * lat.z_inc);
    let (avg, current, min) = if near_zero {
        let cur = if uniform(rng) < 0.7 {
            0.0
        } else {
            NEAR_ZERO_KRW * uniform(rng)
        };
        let avg = cur * (0.5 + uniform(rng));
        (avg, cur, cur.min(avg) * uniform(rng))
    } else {
        let avg = (w.balance_median_krw.ln() + 0.9 * lat.z_inc - 0.5 * lat.z_str
            + w.balance_sigma * normal(rng))
        .exp()
        .min(MAX_BALANCE);
        let cur = (avg * (0.6 * normal(rng) - 0.18).exp()).min(MAX_BALANCE);
        let depth = 1.0 + 3.0 * sigmoid(lat.z_str);
        (avg, cur, cur.min(avg) * uniform(rng).powf(depth))
    };
    let current = round_to(current, 10.0);
    let avg_30d = round_to(avg, 10.0);
    Balance {
        current,
        avg_30d,
        min_30d: round_to(min, 10.0).min(current).min(avg_30d),
    }
}

/// Draws everything a user is before the outcome window: the row without
/// `nsf`, `nsf_prob` and `consented`, and the state the window starts from.
pub fn draw_pre_window(
    p: &ValidPreset,
    cal: &Calibration,
    seed: u64,
    user_id: u64,
) -> (User, OutcomeState) {
    let mut rng = user_stream(seed, user_id, Stream::Attributes, 0);
    let prof = draw_profile(p, &mut rng);
    let registered = is_registered(p, cal, &prof);
    let ids = identifiers(cal, user_id);
    let demo = draw_demographics(p, prof.band, &mut rng);
    let young = if demo.age_years < 30 { 1.0 } else { 0.0 };
    let reg = if registered { 1.0 } else { 0.0 };
    let active = uniform(&mut rng)
        < sigmoid(p.population.active_logit + 1.5 * prof.lat.z_act + 0.5 * young + 0.5 * reg);
    let rates = Rates::new(p, &prof.lat, young);
    let a = draw_activity(p, &prof.lat, &rates, active, &mut rng);
    let bal = draw_balance(p, &prof.lat, active, &mut rng);
    let Latent { z_inc, z_str, .. } = prof.lat;
    let auto_topup = uniform(&mut rng)
        < sigmoid(p.wallet.auto_topup_logit + 0.6 * z_inc - 0.5 * z_str + 0.8 * reg);
    let state = OutcomeState::new(
        p,
        &prof.lat,
        &rates,
        active,
        registered,
        auto_topup,
        bal.current as f64,
        (normal(&mut rng), normal(&mut rng)),
        profile_risk(p, demo.age_years, demo.account_age_days),
    );
    let user = User {
        user_id,
        account_id: ids.account_id,
        customer_no: ids.customer_no,
        phone_sha256: ids.phone_sha256,
        email_sha256: ids.email_sha256,
        account_age_days: demo.account_age_days,
        age_years: demo.age_years,
        region: demo.region,
        ios: prof.ios,
        balance_krw: bal.current,
        balance_avg_30d_krw: bal.avg_30d,
        balance_min_30d_krw: bal.min_30d,
        topup_count_30d: a.topup_count_30d,
        topup_amount_30d_krw: a.topup_amount_30d_krw,
        auto_topup,
        withdrawal_amount_30d_krw: a.withdrawal_amount_30d_krw,
        payment_count_30d: a.payment_count_30d,
        payment_amount_30d_krw: a.payment_amount_30d_krw,
        remit_sent_amount_30d_krw: a.remit_sent_amount_30d_krw,
        remit_received_amount_30d_krw: a.remit_received_amount_30d_krw,
        registered_cards: a.registered_cards,
        card_payment_amount_30d_krw: a.card_payment_amount_30d_krw,
        topup_count_7d: a.topup_count_7d,
        payment_count_7d: a.payment_count_7d,
        remit_count_7d: a.remit_count_7d,
        apple_registered: registered,
        consented: false,
        nsf: false,
        nsf_prob: 0.0,
    };
    (user, state)
}

/// Generates one user (everything except consent, which needs the calibrated
/// intercept: see `with_consent`): the pre-window draw, the realized window
/// (`nsf`) and the replays (`nsf_prob`).
pub fn draw_user(p: &ValidPreset, cal: &Calibration, seed: u64, user_id: u64) -> User {
    let (mut user, state) = draw_pre_window(p, cal, seed, user_id);
    user.nsf = outcome::realized_nsf(
        p,
        &state,
        &mut user_stream(seed, user_id, Stream::Realized, 0),
    );
    user.nsf_prob = outcome::nsf_probability(p, &state, seed, user_id);
    user
}

/// Draws the consent flag from the user's own consent stream.
pub fn with_consent(p: &ValidPreset, cal: &Calibration, seed: u64, mut user: User) -> User {
    let c = &p.consent;
    let z = consent_index(c.mechanism, &user);
    let prob = sigmoid(cal.consent_intercept + c.strength * z);
    let mut rng = user_stream(seed, user.user_id, Stream::Consent, 0);
    user.consented = uniform(&mut rng) < prob;
    user
}

/// Generates one complete user.
pub fn generate_user(p: &ValidPreset, cal: &Calibration, seed: u64, user_id: u64) -> User {
    with_consent(p, cal, seed, draw_user(p, cal, seed, user_id))
}

/// Solves the population constants on a pilot of the first users: the
/// iPhone registration rate (so the registered share meets
/// `registration.share`) and the consent intercept (so the consent share meets
/// `consent.rate`, by bisection). Deterministic in (preset, seed).
pub fn calibrate(p: &ValidPreset, seed: u64) -> Calibration {
    let pilot = p.users.min(PILOT_USERS);
    let mut cal = Calibration {
        reg_ios_rate: 1.0,
        consent_intercept: 0.0,
        phone_a: coprime_multiplier(seed, 0x70686F6E65, PHONE_SPACE),
        phone_b: crate::sim::rng::mix64(seed ^ 0x62) % PHONE_SPACE,
        account_a: coprime_multiplier(seed, 0x6163636F756E74, ACCOUNT_SPACE),
        account_b: crate::sim::rng::mix64(seed ^ 0x61) % ACCOUNT_SPACE,
    };
    // Expected share of registered users given the rate r: sum over pilot users.
    let r = &p.registration;
    let a = r.activity_effect;
    let profiles: Vec<(bool, f64)> = (0..pilot)
        .map(|u| {
            let prof = draw_profile(p, &mut user_stream(seed, u, Stream::Attributes, 0));
            (prof.ios, (a * prof.lat.z_act - 0.5 * a * a).exp())
        })
        .collect();
    let expected = |rate: f64| -> f64 {
        profiles
            .iter()
            .map(|&(ios, m)| {
                if ios {
                    (rate * m).min(1.0)
                } else {
                    r.android_rate
                }
            })
            .sum::<f64>()
            / pilot as f64
    };
    cal.reg_ios_rate = bisect(0.0, 50.0, r.share, expected);

    let c = &p.consent;
    if c.mechanism == ConsentMechanism::Random || c.strength == 0.0 {
        cal.consent_intercept = logit(c.rate);
    } else {
        // In parallel, collected in user order: the sums below add in the
        // same order at any thread count.
        use rayon::prelude::*;
        let zs: Vec<f64> = (0..pilot)
            .into_par_iter()
            .map(|u| consent_index(c.mechanism, &draw_user(p, &cal, seed, u)))
            .collect();
        let share =
            |b: f64| zs.iter().map(|z| sigmoid(b + c.strength * z)).sum::<f64>() / pilot as f64;
        cal.consent_intercept = bisect(-40.0, 40.0, c.rate, share);
    }
    cal
}

fn logit(q: f64) -> f64 {
    let q = q.clamp(1e-12, 1.0 - 1e-12);
    (q / (1.0 - q)).ln()
}

/// Finds x in [lo, hi] with f(x) = target for nondecreasing f.
fn bisect(mut lo: f64, mut hi: f64, target: f64, f: impl Fn(f64) -> f64) -> f64 {
    if target <= 0.0 {
        return lo;
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::preset::load;

    /// The 64-bit shortcut of `affine` equals the 128-bit remainder, also
    /// where a*u + b overflows 64 bits (the fallback).
    #[test]
    fn affine_equals_the_128_bit_remainder() {
        let wide = |a: u64, b: u64, u: u64, m: u64| {
            ((a as u128 * u as u128 + b as u128) % m as u128) as u64
        };
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for _ in 0..100_000 {
            x = crate::sim::rng::mix64(x);
            let (a, b, u) = (x % ACCOUNT_SPACE, (x >> 7) % ACCOUNT_SPACE, x % 100_000_000);
            assert_eq!(affine(a, b, u, ACCOUNT_SPACE), wide(a, b, u, ACCOUNT_SPACE));
            assert_eq!(
                affine(x, x >> 3, x >> 1, 7_919),
                wide(x, x >> 3, x >> 1, 7_919)
            );
        }
    }

    fn preset(sets: &[&str]) -> ValidPreset {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let mut p = load("small", &sets).unwrap();
        p.users = 20_000;
        p.check().unwrap()
    }

    #[test]
    fn attributes_are_internally_consistent() {
        let p = preset(&[]);
        let cal = calibrate(&p, p.seed);
        for u in (0..p.users).map(|u| generate_user(&p, &cal, p.seed, u)) {
            assert!(
                u.balance_min_30d_krw <= u.balance_krw
                    && u.balance_min_30d_krw <= u.balance_avg_30d_krw
            );
            assert!((0..=2_000_000).contains(&u.balance_krw));
            assert!(u.balance_min_30d_krw >= 0);
            assert!(
                u.topup_count_7d <= u.topup_count_30d && u.payment_count_7d <= u.payment_count_30d
            );
            assert_eq!(u.topup_amount_30d_krw % 10_000, 0);
            assert!(u.topup_amount_30d_krw >= 10_000 * u.topup_count_30d as i64);
            assert!(u.registered_cards <= 5);
            assert!(u.registered_cards > 0 || u.card_payment_amount_30d_krw == 0);
            assert!((14..80).contains(&u.age_years));
            assert!((0.0..=1.0).contains(&u.nsf_prob));
            assert!((1_000_000_000..10_000_000_000).contains(&u.account_id));
        }
    }

    #[test]
    fn identifiers_are_unique_and_synthetic() {
        let p = preset(&[]);
        let cal = calibrate(&p, p.seed);
        let mut phones: Vec<u64> = (0..200_000).map(|u| phone_number(&cal, u)).collect();
        phones.sort_unstable();
        phones.dedup();
        assert_eq!(phones.len(), 200_000, "phone numbers are a bijection");
        assert!(phones.iter().all(|&n| n < 100_000_000));
        let u = generate_user(&p, &cal, p.seed, 42);
        let (email, len) = email_address(u.account_id, 42);
        let email = std::str::from_utf8(&email[..len]).unwrap();
        assert!(
            email.ends_with("@example.com")
                || email.ends_with("@example.net")
                || email.ends_with("@example.org")
        );
        let digest: [u8; 32] = Sha256::digest(email.as_bytes()).into();
        assert_eq!(digest, u.email_sha256);
        let phone: [u8; 32] = Sha256::digest(phone_string(phone_number(&cal, 42))).into();
        assert_eq!(phone, u.phone_sha256);
        assert_eq!(&phone_string(1234)[..], b"01000001234");
    }

    #[test]
    fn consent_settings_change_only_consent() {
        let a = preset(&[]);
        let b = preset(&["consent.rate=0.8", "consent.mechanism=\"random\""]);
        let (ca, cb) = (calibrate(&a, a.seed), calibrate(&b, b.seed));
        let mut differ = 0;
        for u in 0..5_000 {
            let (x, y) = (
                generate_user(&a, &ca, a.seed, u),
                generate_user(&b, &cb, b.seed, u),
            );
            differ += (x.consented != y.consented) as u32;
            assert_eq!(
                User {
                    consented: false,
                    ..x
                },
                User {
                    consented: false,
                    ..y
                }
            );
        }
        assert!(differ > 1_000, "consent must change: {differ}");
    }

    #[test]
    fn consent_mechanisms_select_as_documented() {
        let share = |sets: &[&str], pick: &dyn Fn(&User) -> bool| {
            let p = preset(sets);
            let cal = calibrate(&p, p.seed);
            let us: Vec<User> = (0..20_000)
                .map(|u| generate_user(&p, &cal, p.seed, u))
                .collect();
            let (sel, rest): (Vec<&User>, Vec<&User>) = us.iter().partition(|u| pick(u));
            let rate =
                |v: &[&User]| v.iter().filter(|u| u.consented).count() as f64 / v.len() as f64;
            (rate(&sel), rate(&rest))
        };
        // Users with money in the wallet consent more under "attributes".
        let (rich, poor) = share(
            &["consent.mechanism=\"attributes\"", "consent.strength=1.5"],
            &|u| u.balance_avg_30d_krw > 10_000,
        );
        assert!(rich > poor + 0.1, "{rich} vs {poor}");
        // Riskier users consent less under "risk".
        let (risky, safe) = share(
            &["consent.mechanism=\"risk\"", "consent.strength=1.5"],
            &|u| u.nsf_prob > 0.1,
        );
        assert!(risky + 0.1 < safe, "{risky} vs {safe}");
        // No selection at random.
        let (a, b) = share(&["consent.mechanism=\"random\""], &|u| u.nsf_prob > 0.1);
        assert!((a - b).abs() < 0.05, "{a} vs {b}");
    }

    #[test]
    fn registered_users_differ_and_shift_weakens_the_link() {
        let p = preset(&[]);
        let cal = calibrate(&p, p.seed);
        let us: Vec<User> = (0..20_000)
            .map(|u| generate_user(&p, &cal, p.seed, u))
            .collect();
        let reg: Vec<&User> = us.iter().filter(|u| u.apple_registered).collect();
        assert!(reg.iter().filter(|u| u.ios).count() as f64 / reg.len() as f64 > 0.95);
        let mean_age =
            |v: &[&User]| v.iter().map(|u| u.age_years as f64).sum::<f64>() / v.len() as f64;
        let all: Vec<&User> = us.iter().collect();
        assert!(mean_age(&reg) + 5.0 < mean_age(&all));
        // Among unregistered users, how well withdrawals (a trace of stress) rank risk
        // falls when registered_shift removes the stress link for them.
        let link = |shift: &str| {
            let q = preset(&[&format!("outcome.registered_shift={shift}")]);
            let cq = calibrate(&q, q.seed);
            let (score, label): (Vec<f64>, Vec<bool>) = (0..20_000)
                .map(|u| generate_user(&q, &cq, q.seed, u))
                .filter(|u| !u.apple_registered)
                .map(|u| (u.withdrawal_amount_30d_krw as f64, u.nsf_prob > 0.05))
                .unzip();
            (crate::stats::metrics::auc(&score, &label) - 0.5).abs()
        };
        let (same, shifted) = (link("0.0"), link("1.0"));
        assert!(same > shifted + 0.02, "{same} vs {shifted}");
    }
}
