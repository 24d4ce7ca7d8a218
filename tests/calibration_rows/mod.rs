//! The calibration targets of `../shared/CASE.md` that the presets claim to
//! meet, measured on a generated population. Shared by `tests/calibration.rs`
//! (which asserts every row) and `examples/diagnose.rs` (which prints them
//! while a preset is tuned).

use nsfsim::sim::outcome::window_purchases;
use nsfsim::sim::population::{Calibration, NEAR_ZERO_KRW, User, draw_pre_window};
use nsfsim::sim::preset::ValidPreset;
use nsfsim::sim::rng::{Stream, user_stream};
use rayon::prelude::*;

/// One target row: what CASE.md says, its mark, the accepted range and the
/// simulated value.
#[derive(Debug, Clone)]
pub struct Row {
    /// Short name of the target.
    pub target: &'static str,
    /// S (sourced), D (derived) or E (estimate).
    pub mark: &'static str,
    /// Accepted range, inclusive.
    pub range: [f64; 2],
    /// Simulated value.
    pub value: f64,
}

impl Row {
    /// Whether the simulated value lies in the range.
    pub fn met(&self) -> bool {
        self.range[0] <= self.value && self.value <= self.range[1]
    }
}

fn row(target: &'static str, mark: &'static str, range: [f64; 2], value: f64) -> Row {
    Row {
        target,
        mark,
        range,
        value,
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0u64), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn share<'a>(us: impl Iterator<Item = &'a User>, f: impl Fn(&User) -> bool) -> f64 {
    mean(us.map(|u| f(u) as u8 as f64))
}

fn nsf_rate<'a>(us: impl Iterator<Item = &'a User>) -> f64 {
    mean(us.map(|u| u.nsf as u8 as f64))
}

/// Any payment, remittance, top-up or withdrawal in the 30 days.
pub fn active(u: &User) -> bool {
    u.payment_count_30d > 0
        || u.topup_count_30d > 0
        || u.remit_sent_amount_30d_krw > 0
        || u.remit_received_amount_30d_krw > 0
        || u.withdrawal_amount_30d_krw > 0
}

const AGE_BANDS: [(u8, u8); 6] = [(0, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 255)];

fn in_band(u: &User, b: usize) -> bool {
    (AGE_BANDS[b].0..AGE_BANDS[b].1).contains(&u.age_years)
}

/// Profile rows: activity, iPhone, registration, age and region.
pub fn profile_rows(us: &[User]) -> Vec<Row> {
    let inactive: Vec<&User> = us.iter().filter(|u| !active(u)).collect();
    let ios_in = |b: usize| share(us.iter().filter(|u| in_band(u, b)), |u| u.ios);
    let band = |b: usize| share(us.iter(), |u| in_band(u, b));
    let region = |r: u8| share(us.iter(), |u| u.region == r);
    let ios: Vec<&User> = us.iter().filter(|u| u.ios).collect();
    vec![
        row(
            "monthly active share (19-24 M of 40.45 M)",
            "S",
            [0.47, 0.59],
            share(us.iter(), active),
        ),
        row(
            "inactive users at or near zero balance (< 1,000 KRW)",
            "D",
            [0.85, 1.0],
            share(inactive.iter().copied(), |u| {
                (u.balance_krw as f64) < NEAR_ZERO_KRW
            }),
        ),
        row(
            "iPhone share, all users (2018-2020)",
            "S",
            [0.17, 0.19],
            share(us.iter(), |u| u.ios),
        ),
        row("iPhone share, 20s (2018)", "S", [0.48, 0.52], ios_in(1)),
        row("iPhone share, 30s (2018)", "S", [0.23, 0.27], ios_in(2)),
        row("iPhone share, 40s (2018)", "S", [0.09, 0.13], ios_in(3)),
        row("iPhone share, 50s (2018)", "S", [0.04, 0.06], ios_in(4)),
        row("iPhone share, 60+ (2018)", "E", [0.01, 0.03], ios_in(5)),
        row(
            "registered with Apple, all users",
            "S",
            [0.17, 0.19],
            share(us.iter(), |u| u.apple_registered),
        ),
        row(
            "registered among iPhone users (most)",
            "D",
            [0.5, 1.0],
            share(ios.iter().copied(), |u| u.apple_registered),
        ),
        row("age < 20", "E", [0.06, 0.08], band(0)),
        row("age 20s", "E", [0.17, 0.19], band(1)),
        row("age 30s", "E", [0.18, 0.20], band(2)),
        row("age 40s", "E", [0.22, 0.24], band(3)),
        row("age 50s", "E", [0.17, 0.19], band(4)),
        row("age 60+", "E", [0.14, 0.16], band(5)),
        row("region Seoul", "S", [0.183, 0.193], region(0)),
        row("region Busan", "S", [0.061, 0.071], region(1)),
        row("region Daegu", "S", [0.043, 0.053], region(2)),
        row("region Incheon", "S", [0.052, 0.062], region(3)),
        row("region Gwangju", "S", [0.024, 0.032], region(4)),
        row("region Gyeonggi", "S", [0.247, 0.257], region(8)),
        row(
            "capital region (Seoul, Gyeonggi, Incheon)",
            "S",
            [0.49, 0.51],
            share(us.iter(), |u| [0, 3, 8].contains(&u.region)),
        ),
    ]
}

/// Balance and top-up rows.
pub fn balance_rows(us: &[User]) -> Vec<Row> {
    let bal = |u: &User| u.balance_krw as f64;
    let mut sorted: Vec<f64> = us.iter().map(bal).collect();
    sorted.sort_by(f64::total_cmp);
    let total: f64 = sorted.iter().sum();
    let top = sorted[sorted.len() - sorted.len() / 10..]
        .iter()
        .sum::<f64>()
        / total;
    let reg: Vec<&User> = us.iter().filter(|u| u.apple_registered).collect();
    vec![
        row(
            "largest balance (KRW, legal cap 2,000,000)",
            "S",
            [0.0, 2_000_000.0],
            sorted[sorted.len() - 1],
        ),
        row(
            "mean balance per user (KRW)",
            "D",
            [10_000.0, 12_000.0],
            mean(us.iter().map(bal)),
        ),
        row(
            "mean balance per active user (KRW)",
            "D",
            [16_000.0, 24_000.0],
            mean(us.iter().filter(|u| active(u)).map(bal)),
        ),
        row(
            "balances at or near zero (< 1,000 KRW)",
            "E",
            [0.5, 1.0],
            share(us.iter(), |u| bal(u) < NEAR_ZERO_KRW),
        ),
        row(
            "heavy tail: share of all balances held by the top 10 %",
            "E",
            [0.5, 1.0],
            top,
        ),
        row(
            "top-ups not in 10,000 KRW steps of at least 10,000",
            "S",
            [0.0, 0.0],
            share(us.iter(), |u| {
                u.topup_amount_30d_krw % 10_000 != 0
                    || u.topup_amount_30d_krw < 10_000 * u.topup_count_30d as i64
            }),
        ),
        row(
            "auto top-up among Apple-registered users",
            "E",
            [0.30, 0.50],
            share(reg.iter().copied(), |u| u.auto_topup),
        ),
    ]
}

/// Remittance and payment rows.
pub fn flow_rows(us: &[User]) -> Vec<Row> {
    let sum = |f: &dyn Fn(&User) -> f64| us.iter().map(f).sum::<f64>();
    let remit = sum(&|u| (u.remit_sent_amount_30d_krw + u.remit_received_amount_30d_krw) as f64);
    // 7-day counts are Binomial(30-day count, 7/30): 30/7 of them estimates the 30-day count.
    let remits_30d = sum(&|u| u.remit_count_7d as f64) * 30.0 / 7.0;
    let act: Vec<&User> = us.iter().filter(|u| active(u)).collect();
    let pay = sum(&|u| u.payment_amount_30d_krw as f64);
    let sent = sum(&|u| u.remit_sent_amount_30d_krw as f64);
    vec![
        row(
            "mean amount per remittance (KRW, 2018)",
            "D",
            [71_000.0, 74_000.0],
            remit / remits_30d,
        ),
        row(
            "remittances sent or received per active user a month",
            "S",
            [7.0, 9.0],
            mean(act.iter().map(|u| u.remit_count_7d as f64 * 30.0 / 7.0)),
        ),
        row(
            "payments' share of transaction value (payments + remittances sent)",
            "D",
            [0.16, 0.20],
            pay / (pay + sent),
        ),
    ]
}

/// A purchaser's App Store spend over 30 days, for the first `n` users:
/// the median over users (KRW).
pub fn median_monthly_spend(p: &ValidPreset, cal: &Calibration, n: u64) -> f64 {
    let mut q = p.preset().clone();
    q.outcome.window_days = 30;
    let q = q.check().expect("a 30-day window is valid");
    let mut spend: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|u| {
            let (_, state) = draw_pre_window(&q, cal, q.seed, u);
            window_purchases(&q, &state, &mut user_stream(q.seed, u, Stream::Realized, 0)).1
        })
        .collect();
    spend.sort_by(f64::total_cmp);
    spend[spend.len() / 2]
}

/// App Store and NSF rows.
pub fn outcome_rows(p: &ValidPreset, cal: &Calibration, us: &[User]) -> Vec<Row> {
    let o = &p.outcome;
    let tiers = [1200, 2500, 3900, 4900, 5900, 12000, 55000];
    let young = nsf_rate(us.iter().filter(|u| u.age_years < 30));
    let older = nsf_rate(us.iter().filter(|u| u.age_years >= 40));
    let new = nsf_rate(us.iter().filter(|u| u.account_age_days < 180));
    let old = nsf_rate(us.iter().filter(|u| u.account_age_days >= 730));
    let empty = |auto: bool| {
        nsf_rate(
            us.iter()
                .filter(|u| u.balance_krw == 0 && u.auto_topup == auto),
        )
    };
    let rest = nsf_rate(us.iter().filter(|u| u.balance_krw > 0 || u.auto_topup));
    vec![
        row(
            "price tiers are the 2018-2022 tiers (1 = yes)",
            "S",
            [1.0, 1.0],
            (o.price_tiers_krw == tiers) as u8 as f64,
        ),
        row(
            "grouping window (days)",
            "E",
            [1.0, 7.0],
            o.grouping_days as f64,
        ),
        row(
            "median monthly App Store spend of a purchaser (KRW)",
            "S",
            [12_000.0, 18_000.0],
            median_monthly_spend(p, cal, 20_000),
        ),
        row("NSF base rate", "E", [0.025, 0.035], nsf_rate(us.iter())),
        row(
            "NSF rate, under 30 / 40 and over",
            "E",
            [1.3, f64::INFINITY],
            young / older,
        ),
        row(
            "NSF rate, accounts < 180 days / >= 2 years",
            "E",
            [1.3, f64::INFINITY],
            new / old,
        ),
        row(
            "NSF rate, empty wallet: no auto top-up / auto top-up",
            "E",
            [1.3, f64::INFINITY],
            empty(false) / empty(true),
        ),
        row(
            "NSF rate, empty wallet without auto top-up / everyone else",
            "E",
            [2.0, f64::INFINITY],
            empty(false) / rest,
        ),
    ]
}

/// Every row the presets claim to meet, on the population `us` of preset `p`.
pub fn all_rows(p: &ValidPreset, cal: &Calibration, us: &[User]) -> Vec<Row> {
    let mut rows = profile_rows(us);
    rows.extend(balance_rows(us));
    rows.extend(flow_rows(us));
    rows.extend(outcome_rows(p, cal, us));
    rows
}
