//! Population presets: the typed parameters of the generator, loaded from TOML
//! (embedded presets or a path), overridden from the command line, and
//! validated once (`Preset::check` → `ValidPreset`, linfa's ParamGuard shape).

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{NsfError, Result};
use crate::sim::schema::REGIONS;

/// Presets shipped with nsfsim (also in `synthetic/`).
pub const EMBEDDED: [(&str, &str); 3] = [
    ("small", include_str!("../../synthetic/small.toml")),
    ("default", include_str!("../../synthetic/default.toml")),
    ("case", include_str!("../../synthetic/case.toml")),
];

/// Largest population: phone numbers are a bijection onto the 10^8 `010` numbers.
pub const MAX_USERS: u64 = crate::sim::schema::PHONE_SPACE;

/// A population preset as written in TOML. Field meanings are documented in
/// `synthetic/default.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Preset name (recorded in manifests).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Number of users N.
    pub users: u64,
    /// Master seed.
    pub seed: u64,
    /// Profile and latent-trait parameters.
    pub population: PopulationParams,
    /// Apple registration.
    pub registration: RegistrationParams,
    /// Consent to the overseas transfer.
    pub consent: ConsentParams,
    /// Wallet activity in the 30 days before the snapshot.
    pub wallet: WalletParams,
    /// The simulated outcome window.
    pub outcome: OutcomeParams,
}

/// Profile and latent traits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PopulationParams {
    /// Snapshot date (YYYY-MM-DD).
    pub as_of: String,
    /// Oldest possible sign-up date (YYYY-MM-DD).
    pub launch_date: String,
    /// Account age = span * U^tenure_shape.
    pub tenure_shape: f64,
    /// Shares of the age bands <20, 20s, 30s, 40s, 50s, 60+.
    pub age_band_shares: [f64; 6],
    /// iPhone share in each age band.
    pub ios_share_by_age: [f64; 6],
    /// Shares of the 17 regions in `schema::REGIONS` order.
    pub region_shares: [f64; 17],
    /// Correlation rho between income and (minus) stress.
    pub stress_income_corr: f64,
    /// Income shift of iPhone users (sd units).
    pub ios_income_shift: f64,
    /// Intercept of the 30-day activity logit.
    pub active_logit: f64,
}

/// Apple registration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationParams {
    /// Expected share of all users registered with Apple.
    pub share: f64,
    /// Probability that an Android user is registered.
    pub android_rate: f64,
    /// Effect of activity on registration among iPhone users.
    pub activity_effect: f64,
}

/// How consent depends on the user.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMechanism {
    /// Missing completely at random.
    Random,
    /// On observed attributes (age, payment activity).
    Attributes,
    /// On the outcome risk itself (not ignorable).
    Risk,
}

/// Consent to the overseas transfer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentParams {
    /// Expected consent share.
    pub rate: f64,
    /// Selection mechanism.
    pub mechanism: ConsentMechanism,
    /// Logit slope on the mechanism's index.
    pub strength: f64,
}

/// Wallet activity in the 30 days before the snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WalletParams {
    pub payment_median_30d: f64,
    pub payment_amount_median_krw: f64,
    pub remit_sent_median_30d: f64,
    pub remit_received_median_30d: f64,
    pub remit_amount_median_krw: f64,
    pub topup_median_30d: f64,
    pub topup_units_mean: f64,
    pub withdrawal_median_30d: f64,
    pub withdrawal_amount_median_krw: f64,
    pub cards_mean: f64,
    pub card_payment_share: f64,
    pub balance_zero_logit: f64,
    pub balance_zero_inactive_logit: f64,
    pub balance_median_krw: f64,
    pub balance_sigma: f64,
    pub auto_topup_logit: f64,
}

/// The simulated outcome window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OutcomeParams {
    pub window_days: u32,
    pub grouping_days: u32,
    pub price_tiers_krw: Vec<u32>,
    pub price_tier_weights: Vec<f64>,
    pub app_purchase_rate: f64,
    pub bank_fail_logit: f64,
    pub bank_fail_stress: f64,
    pub bank_fail_income: f64,
    pub rescue_logit: f64,
    pub rescue_stress: f64,
    pub rescue_income: f64,
    pub registered_shift: f64,
    pub age_effect: f64,
    pub tenure_effect: f64,
    pub prob_paths: u32,
}

/// A preset that passed `Preset::check`; the only input the generator accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPreset {
    preset: Preset,
    /// Days from launch to snapshot.
    pub tenure_span_days: u32,
    /// Price of a purchase by a 10-bit random code: the tier weights resolved
    /// at 1/1024 (`PRICE_CODES` entries).
    pub price_by_code: Vec<f64>,
}

/// Entries of `ValidPreset::price_by_code`.
pub const PRICE_CODES: usize = 1024;

impl ValidPreset {
    /// The validated parameters.
    pub fn preset(&self) -> &Preset {
        &self.preset
    }
}

impl std::ops::Deref for ValidPreset {
    type Target = Preset;
    fn deref(&self) -> &Preset {
        &self.preset
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Earliest and latest year of a date nsfsim accepts.
pub const YEARS: std::ops::RangeInclusive<i64> = 1900..=2100;

/// Days in month `m` of year `y` (proleptic Gregorian).
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DD` (a calendar date of the years `YEARS`, written with
/// 4, 2 and 2 digits) into days since the epoch; `2024-02-30` is refused.
pub fn parse_date(field: &str, s: &str) -> Result<i64> {
    let bad = |why: &str| NsfError::param(field, format!("`{s}` is not a date YYYY-MM-DD{why}"));
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2) {
        return Err(bad(""));
    }
    let y: i64 = parts[0].parse().map_err(|_| bad(""))?;
    let m: u32 = parts[1].parse().map_err(|_| bad(""))?;
    let d: u32 = parts[2].parse().map_err(|_| bad(""))?;
    if !YEARS.contains(&y) {
        return Err(bad(&format!(
            " of the years {}-{}",
            YEARS.start(),
            YEARS.end()
        )));
    }
    if !(1..=12).contains(&m) {
        return Err(bad(&format!(": there is no month {m}")));
    }
    if !(1..=days_in_month(y, m)).contains(&d) {
        return Err(bad(&format!(
            ": month {m} of {y} has {} days",
            days_in_month(y, m)
        )));
    }
    Ok(days_from_civil(y, m, d))
}

/// The valid range of a numeric preset or spec field: `lo` to `hi`
/// inclusive (`lo` excluded when `lo_open`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldRange {
    /// Dotted field name (`[i]` for every element of a list).
    pub field: &'static str,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound (inclusive).
    pub hi: f64,
    /// The lower bound itself is not valid.
    pub lo_open: bool,
}

/// `[lo, hi]`.
pub const fn closed(field: &'static str, lo: f64, hi: f64) -> FieldRange {
    FieldRange {
        field,
        lo,
        hi,
        lo_open: false,
    }
}

/// `(lo, hi]`.
pub const fn above(field: &'static str, lo: f64, hi: f64) -> FieldRange {
    FieldRange {
        field,
        lo,
        hi,
        lo_open: true,
    }
}

impl FieldRange {
    /// Whether `v` lies in the range (never for NaN).
    pub fn contains(&self, v: f64) -> bool {
        (if self.lo_open {
            v > self.lo
        } else {
            v >= self.lo
        }) && v <= self.hi
    }

    /// `[lo, hi]` or `(lo, hi]`.
    pub fn shown(&self) -> String {
        let open = if self.lo_open { "(" } else { "[" };
        format!("{open}{}, {}]", number(self.lo), number(self.hi))
    }

    /// Refuses `v` outside the range, naming `field` (which may carry an
    /// index) and the value given.
    pub fn check(&self, field: &str, v: f64) -> Result<()> {
        if self.contains(v) {
            return Ok(());
        }
        Err(NsfError::param(
            field,
            format!("{} is outside the valid range {}", number(v), self.shown()),
        ))
    }
}

/// A number as a person writes it: `3`, `0.25`, `1e308`, `NaN`.
pub fn number(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The valid range of every numeric field of a preset (README, "Valid
/// values"). Beyond these a logit or slope only saturates a probability
/// (|20| moves it within 2e-9 of 0 or 1), a median leaves anything the case
/// describes, or the model's formulas stop meaning what they say
/// (`registered_shift` > 2 would widen the spread of risk). Also checked:
/// shares of a distribution sum to 1, `grouping_days` <= `window_days`,
/// `launch_date` < `as_of`, `registration.share` reachable.
pub const PRESET_RANGES: [FieldRange; 44] = [
    closed("users", 1.0, MAX_USERS as f64),
    // TOML integers are i64.
    closed("seed", 0.0, i64::MAX as f64),
    closed("population.tenure_shape", 0.05, 20.0),
    closed("population.age_band_shares[i]", 0.0, 1.0),
    closed("population.ios_share_by_age[i]", 0.0, 1.0),
    closed("population.region_shares[i]", 0.0, 1.0),
    closed("population.stress_income_corr", -1.0, 1.0),
    closed("population.ios_income_shift", -3.0, 3.0),
    closed("population.active_logit", -20.0, 20.0),
    closed("registration.share", 0.0, 1.0),
    closed("registration.android_rate", 0.0, 1.0),
    closed("registration.activity_effect", -3.0, 3.0),
    closed("consent.rate", 0.0, 1.0),
    closed("consent.strength", -10.0, 10.0),
    above("wallet.payment_median_30d", 0.0, 300.0),
    above("wallet.payment_amount_median_krw", 0.0, 1e8),
    above("wallet.remit_sent_median_30d", 0.0, 300.0),
    above("wallet.remit_received_median_30d", 0.0, 300.0),
    above("wallet.remit_amount_median_krw", 0.0, 1e8),
    above("wallet.topup_median_30d", 0.0, 300.0),
    closed("wallet.topup_units_mean", 1.0, 1000.0),
    above("wallet.withdrawal_median_30d", 0.0, 300.0),
    above("wallet.withdrawal_amount_median_krw", 0.0, 1e8),
    above("wallet.cards_mean", 0.0, 10.0),
    closed("wallet.card_payment_share", 0.0, 1.0),
    closed("wallet.balance_zero_logit", -20.0, 20.0),
    closed("wallet.balance_zero_inactive_logit", -20.0, 20.0),
    above("wallet.balance_median_krw", 0.0, 2e6),
    above("wallet.balance_sigma", 0.0, 5.0),
    closed("wallet.auto_topup_logit", -20.0, 20.0),
    closed("outcome.window_days", 1.0, 366.0),
    closed("outcome.grouping_days", 1.0, 366.0),
    closed("outcome.price_tiers_krw[i]", 1.0, 1e7),
    closed("outcome.price_tier_weights[i]", 0.0, 1.0),
    closed("outcome.app_purchase_rate", 0.0, 10.0),
    closed("outcome.bank_fail_logit", -20.0, 20.0),
    closed("outcome.bank_fail_stress", -10.0, 10.0),
    closed("outcome.bank_fail_income", -10.0, 10.0),
    closed("outcome.rescue_logit", -20.0, 20.0),
    closed("outcome.rescue_stress", -10.0, 10.0),
    closed("outcome.rescue_income", -10.0, 10.0),
    closed("outcome.registered_shift", 0.0, 2.0),
    closed("outcome.age_effect", -5.0, 5.0),
    closed("outcome.tenure_effect", -10.0, 10.0),
];

/// The range of `outcome.prob_paths` (an integer; the replays per user).
pub const PROB_PATHS: std::ops::RangeInclusive<u32> = 1..=256;

/// The range of `field` in `ranges` (`name[3]` looks up `name[i]`).
pub fn range_of(ranges: &[FieldRange], field: &str) -> Option<FieldRange> {
    let key = match field.split_once('[') {
        Some((head, _)) => format!("{head}[i]"),
        None => field.to_string(),
    };
    ranges.iter().find(|r| r.field == key).copied()
}

/// Checks `v` against `field`'s entry in `PRESET_RANGES`.
fn check_range(field: &str, v: f64) -> Result<()> {
    range_of(&PRESET_RANGES, field)
        .expect("every numeric preset field has a range")
        .check(field, v)
}

fn check_distribution(field: &str, v: &[f64]) -> Result<()> {
    for (i, x) in v.iter().enumerate() {
        check_range(&format!("{field}[{i}]"), *x)?;
    }
    let sum: f64 = v.iter().sum();
    if (sum - 1.0).abs() > 1e-3 {
        return Err(NsfError::param(
            field,
            format!("shares sum to {sum}, not 1"),
        ));
    }
    Ok(())
}

impl Preset {
    /// Validates every field once; the generator only takes a `ValidPreset`.
    pub fn check(self) -> Result<ValidPreset> {
        if self.users == 0 {
            return Err(NsfError::param("users", "must be at least 1"));
        }
        if self.users > MAX_USERS {
            return Err(NsfError::param(
                "users",
                format!(
                    "{} exceeds {MAX_USERS} (the 010 phone-number space)",
                    self.users
                ),
            ));
        }
        let tenure_span_days = self.population.check()?;
        self.registration.check(&self.population)?;
        check_range("consent.rate", self.consent.rate)?;
        check_range("consent.strength", self.consent.strength)?;
        self.wallet.check()?;
        self.outcome.check()?;
        let price_by_code = self.outcome.price_table();
        Ok(ValidPreset {
            preset: self,
            tenure_span_days,
            price_by_code,
        })
    }
}

impl PopulationParams {
    /// Checks the profile parameters; returns the days from launch to snapshot.
    fn check(&self) -> Result<u32> {
        let as_of = parse_date("population.as_of", &self.as_of)?;
        let launch = parse_date("population.launch_date", &self.launch_date)?;
        if as_of <= launch {
            return Err(NsfError::param(
                "population.as_of",
                format!(
                    "{} is not after population.launch_date {}",
                    self.as_of, self.launch_date
                ),
            ));
        }
        check_range("population.tenure_shape", self.tenure_shape)?;
        check_distribution("population.age_band_shares", &self.age_band_shares)?;
        check_distribution("population.region_shares", &self.region_shares)?;
        debug_assert_eq!(self.region_shares.len(), REGIONS.len());
        for (i, x) in self.ios_share_by_age.iter().enumerate() {
            check_range(&format!("population.ios_share_by_age[{i}]"), *x)?;
        }
        for (f, v) in [
            ("population.stress_income_corr", self.stress_income_corr),
            ("population.ios_income_shift", self.ios_income_shift),
            ("population.active_logit", self.active_logit),
        ] {
            check_range(f, v)?;
        }
        Ok((as_of - launch) as u32)
    }

    /// Expected iPhone share: the age mix weighted by the iPhone share by age.
    pub fn ios_share(&self) -> f64 {
        self.age_band_shares
            .iter()
            .zip(&self.ios_share_by_age)
            .map(|(a, b)| a * b)
            .sum()
    }
}

impl RegistrationParams {
    /// Checks that the registered share is reachable with the iPhone share.
    fn check(&self, pop: &PopulationParams) -> Result<()> {
        check_range("registration.share", self.share)?;
        check_range("registration.android_rate", self.android_rate)?;
        check_range("registration.activity_effect", self.activity_effect)?;
        let ios = pop.ios_share();
        let reachable = ios + (1.0 - ios) * self.android_rate;
        if self.share > reachable + 1e-9 {
            return Err(NsfError::param(
                "registration.share",
                format!(
                    "{} is more than the iPhone share allows ({reachable:.4}); raise population.ios_share_by_age",
                    self.share
                ),
            ));
        }
        if self.share < (1.0 - ios) * self.android_rate {
            return Err(NsfError::param(
                "registration.share",
                format!(
                    "{} is below the share of registered Android users ({:.4}, registration.android_rate)",
                    self.share,
                    (1.0 - ios) * self.android_rate
                ),
            ));
        }
        Ok(())
    }
}

impl WalletParams {
    fn check(&self) -> Result<()> {
        for (f, v) in [
            ("wallet.payment_median_30d", self.payment_median_30d),
            (
                "wallet.payment_amount_median_krw",
                self.payment_amount_median_krw,
            ),
            ("wallet.remit_sent_median_30d", self.remit_sent_median_30d),
            (
                "wallet.remit_received_median_30d",
                self.remit_received_median_30d,
            ),
            (
                "wallet.remit_amount_median_krw",
                self.remit_amount_median_krw,
            ),
            ("wallet.topup_median_30d", self.topup_median_30d),
            ("wallet.topup_units_mean", self.topup_units_mean),
            ("wallet.withdrawal_median_30d", self.withdrawal_median_30d),
            (
                "wallet.withdrawal_amount_median_krw",
                self.withdrawal_amount_median_krw,
            ),
            ("wallet.cards_mean", self.cards_mean),
            ("wallet.card_payment_share", self.card_payment_share),
            ("wallet.balance_zero_logit", self.balance_zero_logit),
            (
                "wallet.balance_zero_inactive_logit",
                self.balance_zero_inactive_logit,
            ),
            ("wallet.balance_median_krw", self.balance_median_krw),
            ("wallet.balance_sigma", self.balance_sigma),
            ("wallet.auto_topup_logit", self.auto_topup_logit),
        ] {
            check_range(f, v)?;
        }
        Ok(())
    }
}

impl OutcomeParams {
    fn check(&self) -> Result<()> {
        check_range("outcome.grouping_days", self.grouping_days as f64)?;
        check_range("outcome.window_days", self.window_days as f64)?;
        if self.window_days < self.grouping_days {
            return Err(NsfError::param(
                "outcome.window_days",
                format!(
                    "{} is shorter than outcome.grouping_days {}",
                    self.window_days, self.grouping_days
                ),
            ));
        }
        self.check_prices()?;
        for (f, v) in [
            ("outcome.app_purchase_rate", self.app_purchase_rate),
            ("outcome.bank_fail_logit", self.bank_fail_logit),
            ("outcome.bank_fail_stress", self.bank_fail_stress),
            ("outcome.bank_fail_income", self.bank_fail_income),
            ("outcome.rescue_logit", self.rescue_logit),
            ("outcome.rescue_stress", self.rescue_stress),
            ("outcome.rescue_income", self.rescue_income),
            ("outcome.registered_shift", self.registered_shift),
            ("outcome.age_effect", self.age_effect),
            ("outcome.tenure_effect", self.tenure_effect),
        ] {
            check_range(f, v)?;
        }
        if !PROB_PATHS.contains(&self.prob_paths) {
            return Err(NsfError::param(
                "outcome.prob_paths",
                format!(
                    "{} is outside the valid range [{}, {}]",
                    self.prob_paths,
                    PROB_PATHS.start(),
                    PROB_PATHS.end()
                ),
            ));
        }
        Ok(())
    }

    fn check_prices(&self) -> Result<()> {
        if self.price_tiers_krw.is_empty() {
            return Err(NsfError::param(
                "outcome.price_tiers_krw",
                "needs at least one positive price",
            ));
        }
        for (i, t) in self.price_tiers_krw.iter().enumerate() {
            check_range(&format!("outcome.price_tiers_krw[{i}]"), *t as f64)?;
        }
        if self.price_tier_weights.len() != self.price_tiers_krw.len() {
            return Err(NsfError::param(
                "outcome.price_tier_weights",
                "must have one weight per price tier",
            ));
        }
        check_distribution("outcome.price_tier_weights", &self.price_tier_weights)
    }

    /// The price of a purchase by its 10-bit random code (`PRICE_CODES`
    /// entries): the tier weights resolved at 1/1024.
    fn price_table(&self) -> Vec<f64> {
        (0..PRICE_CODES)
            .map(|i| {
                let u = (i as f64 + 0.5) / PRICE_CODES as f64;
                let mut acc = 0.0;
                for (t, w) in self.price_tiers_krw.iter().zip(&self.price_tier_weights) {
                    acc += w;
                    if u < acc {
                        return *t as f64;
                    }
                }
                *self.price_tiers_krw.last().expect("checked non-empty") as f64
            })
            .collect()
    }
}

/// Turns a TOML parse/deserialize error into one line naming the field and line.
fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{msg} (line {line})")
        }
        None => msg,
    }
}

/// Parses a TOML value given on the command line (`--set key=value`): a TOML
/// literal if it parses as one, otherwise a string.
fn parse_override_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// Applies `key.path=value` to a TOML table; the key must already exist.
fn apply_override(table: &mut toml::Table, source_name: &str, assignment: &str) -> Result<()> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| NsfError::Preset {
        source_name: source_name.into(),
        message: format!("--set `{assignment}` is not KEY=VALUE"),
    })?;
    let key = key.trim();
    let mut parts = key.split('.').peekable();
    let mut cur = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if !cur.contains_key(part) {
                return Err(NsfError::Preset {
                    source_name: source_name.into(),
                    message: format!("--set: unknown field `{key}`"),
                });
            }
            cur.insert(part.to_string(), parse_override_value(raw.trim()));
            return Ok(());
        }
        cur = match cur.get_mut(part) {
            Some(toml::Value::Table(t)) => t,
            _ => {
                return Err(NsfError::Preset {
                    source_name: source_name.into(),
                    message: format!("--set: unknown field `{key}`"),
                });
            }
        };
    }
    Ok(())
}

/// Parses TOML `text` into `T` after applying `--set` overrides; errors name
/// the source, the field and the line.
pub fn parse_with_overrides<T: serde::de::DeserializeOwned>(
    source_name: &str,
    text: &str,
    overrides: &[String],
) -> Result<T> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| NsfError::Preset {
            source_name: source_name.into(),
            message: toml_error_line(text, &e),
        })?;
    for o in overrides {
        apply_override(&mut table, source_name, o)?;
    }
    let rendered = toml::to_string(&table).unwrap_or_default();
    toml::from_str(&rendered).map_err(|e| NsfError::Preset {
        source_name: source_name.into(),
        message: match toml::from_str::<T>(text) {
            Err(orig) => toml_error_line(text, &orig),
            Ok(_) => bad_override::<T>(source_name, text, overrides)
                .unwrap_or_else(|| e.message().trim().replace('\n', " ")),
        },
    })
}

/// The first `--set` that makes an otherwise valid `text` unreadable, with
/// the reason (a value of the wrong type names no field on its own).
fn bad_override<T: serde::de::DeserializeOwned>(
    source_name: &str,
    text: &str,
    overrides: &[String],
) -> Option<String> {
    let mut table: toml::Table = text.parse().ok()?;
    for o in overrides {
        apply_override(&mut table, source_name, o).ok()?;
        let rendered = toml::to_string(&table).ok()?;
        if let Err(e) = toml::from_str::<T>(&rendered) {
            return Some(format!(
                "--set `{o}`: {}",
                e.message().trim().replace('\n', " ")
            ));
        }
    }
    None
}

/// Loads a preset by embedded name or by path, applies `--set` overrides, and
/// deserializes it (unknown fields refused). Validation is `Preset::check`.
pub fn load(name_or_path: &str, overrides: &[String]) -> Result<Preset> {
    let (source_name, text) = match EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        Some((n, t)) => (format!("`{n}`"), (*t).to_string()),
        None => {
            let path = Path::new(name_or_path);
            if !path.exists() {
                let names: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
                return Err(NsfError::Preset {
                    source_name: name_or_path.into(),
                    message: format!(
                        "unknown preset (not a file, and not one of: {})",
                        names.join(", ")
                    ),
                });
            }
            let text = std::fs::read_to_string(path).map_err(|e| NsfError::Preset {
                source_name: name_or_path.into(),
                message: format!("cannot read: {e}"),
            })?;
            (path.display().to_string(), text)
        }
    };
    parse_with_overrides(&source_name, &text, overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_presets_validate() {
        for (name, _) in EMBEDDED {
            let p = load(name, &[]).unwrap();
            assert_eq!(p.name, name);
            p.check().unwrap();
        }
    }

    #[test]
    fn overrides_apply_and_unknown_keys_fail() {
        let p = load(
            "small",
            &[
                "consent.rate=0.9".into(),
                "consent.mechanism=\"risk\"".into(),
            ],
        )
        .unwrap();
        assert_eq!(p.consent.rate, 0.9);
        assert_eq!(p.consent.mechanism, ConsentMechanism::Risk);
        let e = load("small", &["consent.rat=0.9".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("consent.rat"), "{e}");
    }

    #[test]
    fn shares_outside_unit_interval_are_refused() {
        let mut p = load("small", &[]).unwrap();
        p.consent.rate = 1.5;
        let e = p.check().unwrap_err().to_string();
        assert!(
            e.contains("consent.rate") && e.contains("1.5 is outside the valid range [0, 1]"),
            "{e}"
        );
    }

    /// Regression (issue 11): impossible dates, and a snapshot not after the
    /// launch, are refused naming the field and the value.
    #[test]
    fn impossible_dates_are_refused() {
        for (date, why) in [
            ("2024-02-30", "month 2 of 2024 has 29 days"),
            ("2023-02-29", "month 2 of 2023 has 28 days"),
            ("2019-04-31", "month 4 of 2019 has 30 days"),
            ("2019-13-01", "no month 13"),
            ("2019-6-27", "YYYY-MM-DD"),
            ("+2019-06-27", "YYYY-MM-DD"),
            ("9999-01-01", "years 1900-2100"),
        ] {
            let e = parse_date("population.as_of", date)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("`population.as_of`") && e.contains(date) && e.contains(why),
                "{e}"
            );
        }
        assert_eq!(
            parse_date("d", "2024-02-29").unwrap(),
            days_from_civil(2024, 3, 1) - 1
        );
        let e = load("small", &["population.launch_date=\"2020-01-01\"".into()])
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2019-06-27 is not after population.launch_date 2020-01-01"),
            "{e}"
        );
    }

    /// Regression (issue 11): `consent.strength=1e308`, NaN rates and
    /// negative medians are refused with the field and the value given.
    #[test]
    fn extreme_values_are_refused_with_the_value() {
        for (set, needle) in [
            (
                "consent.strength=1e308",
                "`consent.strength`: 1e308 is outside the valid range [-10, 10]",
            ),
            ("consent.rate=nan", "`consent.rate`: NaN is outside"),
            (
                "wallet.balance_sigma=-1",
                "`wallet.balance_sigma`: -1 is outside the valid range (0, 5]",
            ),
            (
                "outcome.app_purchase_rate=-0.5",
                "`outcome.app_purchase_rate`: -0.5 is outside",
            ),
            (
                "outcome.registered_shift=3",
                "`outcome.registered_shift`: 3 is outside the valid range [0, 2]",
            ),
            (
                "outcome.price_tiers_krw=[1200, 0]",
                "`outcome.price_tiers_krw[1]`: 0 is outside",
            ),
            (
                "outcome.prob_paths=0",
                "`outcome.prob_paths`: 0 is outside the valid range [1, 256]",
            ),
            (
                "outcome.window_days=2",
                "`outcome.window_days`: 2 is shorter than outcome.grouping_days 3",
            ),
        ] {
            let e = load("small", &[set.into()])
                .unwrap()
                .check()
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{set}: {e}");
        }
    }

    /// Every numeric field of a preset has an entry in `PRESET_RANGES`
    /// (found by walking the serialized preset, not from the list itself),
    /// and every entry names a field that exists.
    #[test]
    fn every_numeric_field_has_a_range() {
        fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, out);
                    }
                }
                toml::Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        walk(&format!("{prefix}[{i}]"), v, out);
                    }
                }
                toml::Value::Integer(_) | toml::Value::Float(_) => out.push(prefix.to_string()),
                _ => {}
            }
        }
        let p = load("default", &[]).unwrap();
        let mut fields = Vec::new();
        walk("", &toml::Value::try_from(&p).unwrap(), &mut fields);
        let mut covered = std::collections::HashSet::new();
        for f in &fields {
            if f == "outcome.prob_paths" {
                continue;
            }
            let r = range_of(&PRESET_RANGES, f).unwrap_or_else(|| panic!("{f} has no range"));
            covered.insert(r.field);
        }
        for r in PRESET_RANGES {
            assert!(covered.contains(r.field), "{} is not a field", r.field);
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2019, 6, 27) - days_from_civil(2014, 9, 5),
            1756
        );
    }
}
