//! One user's daily events: the snapshot's 30-day totals allocated to the
//! days of the window (so the window sums and 7-day counts are exact), and
//! every other day drawn from the user's window rates. A pure function of
//! (preset, seed, user, day).

use rand::RngCore;

use crate::sim::population::User;
use crate::sim::preset::ValidPreset;
use crate::sim::rng::{Stream, binomial, normal, poisson, uniform, user_stream};

/// The event categories of the stream, in row order within a user and day.
pub const CATEGORIES: [&str; 6] = [
    "topup",
    "payment",
    "card_payment",
    "remit_sent",
    "remit_received",
    "withdrawal",
];

/// The `users.parquet` columns each category's rows add up to over the
/// window (what an engine recomputes from the stream).
pub const DERIVES: [&[&str]; 6] = [
    &["topup_count_30d", "topup_amount_30d_krw", "topup_count_7d"],
    &[
        "payment_count_30d",
        "payment_amount_30d_krw",
        "payment_count_7d",
    ],
    &["card_payment_amount_30d_krw"],
    &["remit_sent_amount_30d_krw", "remit_count_7d"],
    &["remit_received_amount_30d_krw", "remit_count_7d"],
    &["withdrawal_amount_30d_krw"],
];

/// Days in the window (the snapshot day and the 29 before it).
pub const WINDOW_DAYS: i64 = 30;
/// Days counted by the 7-day columns (the snapshot day and the 6 before it).
pub const WEEK_DAYS: i64 = 7;
/// Stream index of the window allocation (day numbers never reach it).
const WINDOW_INDEX: u64 = u32::MAX as u64;

const TOPUP: usize = 0;
const PAYMENT: usize = 1;
const CARD: usize = 2;
const SENT: usize = 3;
const RECEIVED: usize = 4;
const WITHDRAWAL: usize = 5;
const TOPUP_UNIT: i64 = 10_000;
const AMOUNT_UNIT: i64 = 100;
/// Lognormal spread of one event's amount around the user's mean.
const EVENT_SIGMA: f64 = 0.6;

/// Whether a category's rows are all the minimal feature set needs.
pub fn is_minimal(category: usize) -> bool {
    DERIVES[category]
        .iter()
        .all(|c| crate::data::features::MINIMAL.contains(c))
}

/// Events of one category on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Events.
    pub count: u32,
    /// Their total, KRW.
    pub amount: i64,
}

/// What the stream needs of one user: the window totals and its allocation.
pub struct UserPlan {
    /// The user's row key.
    pub user_id: u64,
    /// Registered with Apple.
    pub registered: bool,
    /// Consented to the overseas transfer.
    pub consented: bool,
    /// Window events per category (count, amount).
    totals: [Cell; 6],
    /// Day number of the snapshot (last window day).
    as_of: i64,
    /// First day the user can have events outside the window (sign-up).
    signup: i64,
    /// Window cells, by day offset (0 = first window day) and category.
    window: Option<Box<[[Cell; 6]; WINDOW_DAYS as usize]>>,
}

/// Events per category of a user over the window, with the counts the
/// population does not publish (remittances, withdrawals, card payments)
/// set from the amounts: `max(1, round(amount / preset median))`.
fn window_totals(p: &ValidPreset, u: &User) -> [Cell; 6] {
    let w = &p.wallet;
    let by_median = |amount: i64, median: f64| -> u32 {
        if amount <= 0 {
            0
        } else {
            ((amount as f64 / median).round() as u32).max(1)
        }
    };
    let mut t = [Cell::default(); 6];
    t[TOPUP] = Cell {
        count: u.topup_count_30d,
        amount: u.topup_amount_30d_krw,
    };
    t[PAYMENT] = Cell {
        count: u.payment_count_30d,
        amount: u.payment_amount_30d_krw,
    };
    let card = u.card_payment_amount_30d_krw;
    let per_payment = u.payment_amount_30d_krw as f64 / u.payment_count_30d.max(1) as f64;
    t[CARD] = Cell {
        count: if card > 0 && u.payment_count_30d > 0 {
            by_median(card, per_payment.max(1.0)).min(u.payment_count_30d)
        } else {
            by_median(card, w.payment_amount_median_krw)
        },
        amount: card,
    };
    let sent = u.remit_sent_amount_30d_krw;
    let received = u.remit_received_amount_30d_krw;
    let mut n_sent = by_median(sent, w.remit_amount_median_krw);
    let mut n_received = by_median(received, w.remit_amount_median_krw);
    // The 7-day count needs at least that many remittances in the window.
    let deficit = u.remit_count_7d.saturating_sub(n_sent + n_received);
    if sent > 0 {
        n_sent += deficit;
    } else {
        n_received += deficit;
    }
    t[SENT] = Cell {
        count: n_sent,
        amount: sent,
    };
    t[RECEIVED] = Cell {
        count: n_received,
        amount: received,
    };
    t[WITHDRAWAL] = Cell {
        count: by_median(u.withdrawal_amount_30d_krw, w.withdrawal_amount_median_krw),
        amount: u.withdrawal_amount_30d_krw,
    };
    t
}

/// Splits `total` into `n` integer amounts in steps of `unit`, each at least
/// one unit when the total allows, proportional to lognormal weights; the
/// parts add up to `total` exactly (largest remainder, ties by index).
pub fn split_amount<R: RngCore>(rng: &mut R, total: i64, n: usize, unit: i64) -> Vec<i64> {
    if n == 0 {
        return Vec::new();
    }
    let units = total.div_euclid(unit);
    let rest = total.rem_euclid(unit);
    let base = if units >= n as i64 { 1 } else { 0 };
    let free = units - base * n as i64;
    let weights: Vec<f64> = (0..n).map(|_| (EVENT_SIGMA * normal(rng)).exp()).collect();
    let sum: f64 = weights.iter().sum();
    let mut parts: Vec<i64> = Vec::with_capacity(n);
    let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(n);
    for (i, w) in weights.iter().enumerate() {
        let share = free as f64 * w / sum;
        parts.push(base + share.floor() as i64);
        fracs.push((share - share.floor(), i));
    }
    let mut left = units - parts.iter().sum::<i64>();
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in fracs.iter().cycle() {
        if left <= 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    let mut out: Vec<i64> = parts.iter().map(|k| k * unit).collect();
    out[0] += rest;
    out
}

/// A day offset uniform in [lo, hi).
fn day_in<R: RngCore>(rng: &mut R, lo: i64, hi: i64) -> usize {
    (lo + (uniform(rng) * (hi - lo) as f64) as i64).min(hi - 1) as usize
}

/// Days of `n` events of which the first `n7` fall in the last 7 window days
/// and the others in the 23 days before (uniform within each part).
fn place<R: RngCore>(rng: &mut R, n: u32, n7: u32) -> Vec<usize> {
    let split = WINDOW_DAYS - WEEK_DAYS;
    (0..n)
        .map(|i| {
            if i < n7 {
                day_in(rng, split, WINDOW_DAYS)
            } else {
                day_in(rng, 0, split)
            }
        })
        .collect()
}

/// Fisher-Yates shuffle from the user's stream.
fn shuffle<R: RngCore, T>(rng: &mut R, v: &mut [T]) {
    let n = v.len();
    for i in 0..n {
        let j = i + (uniform(rng) * (n - i) as f64) as usize;
        v.swap(i, j.min(n - 1));
    }
}

/// Allocates the window totals to the 30 days.
fn allocate(seed: u64, u: &User, t: &[Cell; 6]) -> Box<[[Cell; 6]; WINDOW_DAYS as usize]> {
    let mut rng = user_stream(seed, u.user_id, Stream::Daily, WINDOW_INDEX);
    let mut days: [Vec<usize>; 6] = Default::default();
    days[TOPUP] = place(&mut rng, t[TOPUP].count, u.topup_count_7d);
    days[PAYMENT] = place(&mut rng, t[PAYMENT].count, u.payment_count_7d);
    // Card payments are a random subset of the payments (any day when the
    // user made none: a card payment the population counts apart).
    let mut pay = days[PAYMENT].clone();
    shuffle(&mut rng, &mut pay);
    let n_card = t[CARD].count as usize;
    days[CARD] = pay.into_iter().take(n_card).collect();
    while days[CARD].len() < n_card {
        days[CARD].push(day_in(&mut rng, 0, WINDOW_DAYS));
    }
    // Remittances: `remit_count_7d` of the sent + received events, chosen at
    // random, fall in the last 7 days.
    let n_remit = t[SENT].count + t[RECEIVED].count;
    let mut in_week: Vec<bool> = (0..n_remit).map(|i| i < u.remit_count_7d).collect();
    shuffle(&mut rng, &mut in_week);
    let split = WINDOW_DAYS - WEEK_DAYS;
    let remit_days: Vec<usize> = in_week
        .iter()
        .map(|&w| {
            if w {
                day_in(&mut rng, split, WINDOW_DAYS)
            } else {
                day_in(&mut rng, 0, split)
            }
        })
        .collect();
    days[SENT] = remit_days[..t[SENT].count as usize].to_vec();
    days[RECEIVED] = remit_days[t[SENT].count as usize..].to_vec();
    days[WITHDRAWAL] = (0..t[WITHDRAWAL].count)
        .map(|_| day_in(&mut rng, 0, WINDOW_DAYS))
        .collect();
    let mut cells = Box::new([[Cell::default(); 6]; WINDOW_DAYS as usize]);
    for c in 0..6 {
        let unit = if c == TOPUP { TOPUP_UNIT } else { AMOUNT_UNIT };
        let amounts = split_amount(&mut rng, t[c].amount, days[c].len(), unit);
        for (&d, a) in days[c].iter().zip(amounts) {
            cells[d][c].count += 1;
            cells[d][c].amount += a;
        }
    }
    cells
}

impl UserPlan {
    /// The plan of a generated user; allocates the window only when the
    /// requested days [from, to] reach it.
    pub fn new(p: &ValidPreset, seed: u64, as_of: i64, u: &User, from: i64, to: i64) -> UserPlan {
        let totals = window_totals(p, u);
        let first = as_of - WINDOW_DAYS + 1;
        let window = (from <= as_of && to >= first).then(|| allocate(seed, u, &totals));
        UserPlan {
            user_id: u.user_id,
            registered: u.apple_registered,
            consented: u.consented,
            totals,
            as_of,
            signup: as_of - u.account_age_days as i64,
            window,
        }
    }

    /// Whether the user has any event in the window (else none on any day).
    pub fn active(&self) -> bool {
        self.totals.iter().any(|c| c.count > 0)
    }

    /// The user's events on day number `day`, by category.
    pub fn day(&self, seed: u64, day: i64) -> [Cell; 6] {
        let offset = day - (self.as_of - WINDOW_DAYS + 1);
        if (0..WINDOW_DAYS).contains(&offset) {
            let w = self.window.as_ref().expect("window allocated for its days");
            return w[offset as usize];
        }
        let mut out = [Cell::default(); 6];
        if !self.active() || day < self.signup || day < 0 {
            return out;
        }
        let mut rng = user_stream(seed, self.user_id, Stream::Daily, day as u64);
        let t = &self.totals;
        let rate = |c: usize| t[c].count as f64 / WINDOW_DAYS as f64;
        let mean = |c: usize| t[c].amount as f64 / t[c].count.max(1) as f64;
        for c in [TOPUP, PAYMENT, SENT, RECEIVED, WITHDRAWAL] {
            out[c].count = poisson(&mut rng, rate(c));
        }
        let card_share = if t[PAYMENT].count > 0 {
            (t[CARD].count as f64 / t[PAYMENT].count as f64).min(1.0)
        } else {
            0.0
        };
        out[CARD].count = binomial(&mut rng, out[PAYMENT].count, card_share);
        for (c, cell) in out.iter_mut().enumerate() {
            for _ in 0..cell.count {
                cell.amount += if c == TOPUP {
                    let units = mean(c) / TOPUP_UNIT as f64;
                    TOPUP_UNIT * (1 + poisson(&mut rng, (units - 1.0).max(0.0))) as i64
                } else {
                    let x = mean(c) * (EVENT_SIGMA * normal(&mut rng) - 0.18).exp();
                    AMOUNT_UNIT * ((x / AMOUNT_UNIT as f64).round() as i64).max(1)
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::population::{calibrate, generate_user};

    #[test]
    fn split_amount_is_exact_and_positive() {
        let mut rng = user_stream(1, 2, Stream::Daily, 3);
        for (total, n, unit) in [
            (123_400, 7, 100),
            (50_000, 3, 10_000),
            (300, 5, 100),
            (0, 2, 100),
        ] {
            let parts = split_amount(&mut rng, total, n, unit);
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().sum::<i64>(), total);
            if total >= unit * n as i64 {
                assert!(
                    parts.iter().all(|&x| x >= unit && x % unit == 0),
                    "{parts:?}"
                );
            }
        }
    }

    #[test]
    fn window_reproduces_the_snapshot_columns() {
        let p = crate::sim::preset::load("small", &["users=3000".into()])
            .unwrap()
            .check()
            .unwrap();
        let cal = calibrate(&p, p.seed);
        let as_of = crate::sim::preset::parse_date("as_of", &p.population.as_of).unwrap();
        let mut active = 0;
        for id in 0..3000 {
            let u = generate_user(&p, &cal, p.seed, id);
            let plan = UserPlan::new(&p, p.seed, as_of, &u, as_of - 40, as_of + 5);
            let mut sum = [Cell::default(); 6];
            let mut week = [0u32; 6];
            for d in as_of - 29..=as_of {
                for (c, cell) in plan.day(p.seed, d).iter().enumerate() {
                    sum[c].count += cell.count;
                    sum[c].amount += cell.amount;
                    if d > as_of - 7 {
                        week[c] += cell.count;
                    }
                }
            }
            assert_eq!(sum[TOPUP].count, u.topup_count_30d);
            assert_eq!(sum[TOPUP].amount, u.topup_amount_30d_krw);
            assert_eq!(sum[PAYMENT].count, u.payment_count_30d);
            assert_eq!(sum[PAYMENT].amount, u.payment_amount_30d_krw);
            assert_eq!(sum[CARD].amount, u.card_payment_amount_30d_krw);
            assert_eq!(sum[SENT].amount, u.remit_sent_amount_30d_krw);
            assert_eq!(sum[RECEIVED].amount, u.remit_received_amount_30d_krw);
            assert_eq!(sum[WITHDRAWAL].amount, u.withdrawal_amount_30d_krw);
            assert_eq!(week[TOPUP], u.topup_count_7d);
            assert_eq!(week[PAYMENT], u.payment_count_7d);
            assert_eq!(week[SENT] + week[RECEIVED], u.remit_count_7d);
            active += plan.active() as u32;
            // Outside the window: only active users have events.
            let outside: u32 = (as_of + 1..=as_of + 5)
                .flat_map(|d| plan.day(p.seed, d))
                .map(|c| c.count)
                .sum();
            assert!(plan.active() || outside == 0);
        }
        assert!(active > 1000, "{active}");
    }

    #[test]
    fn only_topups_and_payments_are_minimal() {
        let minimal: Vec<&str> = (0..6)
            .filter(|&c| is_minimal(c))
            .map(|c| CATEGORIES[c])
            .collect();
        assert_eq!(minimal, ["topup", "payment"]);
    }
}
