//! The calibration targets of `../shared/CASE.md`: every row the presets
//! claim to meet (listed in `calibration_rows`), checked on 200,000 users of
//! the `default` preset generated in memory (users are i.i.d. and a pure
//! function of (preset, seed, user_id), so these are the first 200,000 users
//! of the `default` data set). The `case` preset differs from `default` only
//! in its name, description and size, which the last test checks.

#[allow(dead_code)]
mod calibration_rows;

use calibration_rows::{Row, all_rows};
use nsfsim::sim::population::{User, calibrate, generate_user};
use nsfsim::sim::preset::{ValidPreset, load};
use rayon::prelude::*;
use std::sync::OnceLock;

const USERS: u64 = 200_000;

fn population() -> &'static (ValidPreset, Vec<User>, Vec<Row>) {
    static POP: OnceLock<(ValidPreset, Vec<User>, Vec<Row>)> = OnceLock::new();
    POP.get_or_init(|| {
        let mut p = load("default", &[]).unwrap();
        p.users = USERS;
        let p = p.check().unwrap();
        let cal = calibrate(&p, p.seed);
        let us: Vec<User> = (0..USERS)
            .into_par_iter()
            .map(|u| generate_user(&p, &cal, p.seed, u))
            .collect();
        let rows = all_rows(&p, &cal, &us);
        (p, us, rows)
    })
}

/// Asserts every row whose name starts with one of `prefixes`; at least one
/// row must match each prefix (a renamed row cannot silently drop out).
fn check(prefixes: &[&str]) {
    let rows = &population().2;
    for prefix in prefixes {
        let hits: Vec<&Row> = rows
            .iter()
            .filter(|r| r.target.starts_with(prefix))
            .collect();
        assert!(!hits.is_empty(), "no calibration row named {prefix}");
        for r in hits {
            eprintln!(
                "{} {:<70} {:>14.4} {:?}",
                r.mark, r.target, r.value, r.range
            );
            assert!(
                r.met(),
                "{} ({}): {} outside {:?}",
                r.target,
                r.mark,
                r.value,
                r.range
            );
        }
    }
}

#[test]
fn activity_and_inactive_balances() {
    check(&["monthly active share", "inactive users at or near zero"]);
}

#[test]
fn iphone_shares_overall_and_by_age() {
    check(&["iPhone share"]);
}

#[test]
fn apple_registration() {
    check(&["registered with Apple", "registered among iPhone users"]);
}

#[test]
fn age_mix() {
    check(&["age "]);
}

#[test]
fn regions() {
    check(&["region ", "capital region"]);
}

#[test]
fn balances_cap_means_zero_inflation_and_tail() {
    check(&[
        "largest balance",
        "mean balance per user",
        "mean balance per active user",
        "balances at or near zero",
        "heavy tail",
    ]);
}

#[test]
fn top_ups_and_auto_top_up() {
    check(&["top-ups not in 10,000", "auto top-up among"]);
}

#[test]
fn remittances_and_payments() {
    check(&[
        "mean amount per remittance",
        "remittances sent or received",
        "payments' share",
    ]);
}

#[test]
fn app_store_prices_grouping_and_spend() {
    check(&[
        "price tiers",
        "grouping window",
        "median monthly App Store spend",
    ]);
}

#[test]
fn nsf_base_rate_and_who_fails_more() {
    check(&["NSF base rate", "NSF rate, "]);
}

#[test]
fn every_row_is_checked_by_a_test() {
    // The prefixes above, in one list: a row added to `calibration_rows`
    // without a test here fails.
    let prefixes = [
        "monthly active share",
        "inactive users at or near zero",
        "iPhone share",
        "registered with Apple",
        "registered among iPhone users",
        "age ",
        "region ",
        "capital region",
        "largest balance",
        "mean balance per user",
        "mean balance per active user",
        "balances at or near zero",
        "heavy tail",
        "top-ups not in 10,000",
        "auto top-up among",
        "mean amount per remittance",
        "remittances sent or received",
        "payments' share",
        "price tiers",
        "grouping window",
        "median monthly App Store spend",
        "NSF base rate",
        "NSF rate, ",
    ];
    for r in &population().2 {
        assert!(
            prefixes.iter().any(|p| r.target.starts_with(p)),
            "row {} has no test",
            r.target
        );
    }
}

#[test]
fn age_and_account_age_carry_information_on_nsf() {
    // Issue 13: the profile had information value 0.000. Information value of
    // the decile bins of age and of account age against the realized label.
    let (_, us, _) = population();
    let iv = |key: &dyn Fn(&User) -> f64| {
        let mut v: Vec<(f64, bool)> = us.iter().map(|u| (key(u), u.nsf)).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (bad, good) = (
            v.iter().filter(|x| x.1).count() as f64,
            v.iter().filter(|x| !x.1).count() as f64,
        );
        v.chunks(v.len() / 10)
            .map(|c| {
                let b = (c.iter().filter(|x| x.1).count() as f64 + 0.5) / bad;
                let g = (c.iter().filter(|x| !x.1).count() as f64 + 0.5) / good;
                (b - g) * (b / g).ln()
            })
            .sum::<f64>()
    };
    let age = iv(&|u| u.age_years as f64);
    let tenure = iv(&|u| u.account_age_days as f64);
    eprintln!("information value: age {age:.3}, account age {tenure:.3}");
    assert!(
        age > 0.05 && tenure > 0.02,
        "age {age}, account age {tenure}"
    );
}

#[test]
fn shipped_presets_share_the_calibrated_parameters() {
    // `small` and `case` are `default` with another name, description and size.
    let strip = |name: &str| {
        let mut p = load(name, &[]).unwrap();
        p.name = String::new();
        p.description = String::new();
        p.users = 0;
        p
    };
    assert_eq!(strip("case"), strip("default"));
    assert_eq!(strip("small"), strip("default"));
    assert_eq!(load("case", &[]).unwrap().users, 40_450_000);
    let p = &population().0;
    assert_eq!(p.population.as_of, "2019-06-27");
}
