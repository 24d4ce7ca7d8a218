//! What a user is made of before any attribute is drawn: the latent traits and
//! the per-30-day event rates they imply. Shared by `population` (which draws
//! the attributes from them) and `outcome` (which runs the window on them), so
//! neither module depends on the other for its inputs.

use crate::sim::preset::ValidPreset;

/// Hidden traits of one user, in standard-deviation units. Kept out of the
/// output files: models see only their traces in the attributes.
#[derive(Debug, Clone, Copy)]
pub struct Latent {
    /// Income / liquidity.
    pub z_inc: f64,
    /// Wallet activity.
    pub z_act: f64,
    /// Financial stress.
    pub z_str: f64,
}

/// Per-30-day event rates of an active user (also drive the outcome window).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Payments.
    pub payment: f64,
    /// Remittances sent.
    pub remit_sent: f64,
    /// Remittances received.
    pub remit_received: f64,
    /// Top-ups.
    pub topup: f64,
    /// Withdrawals.
    pub withdrawal: f64,
    /// exp(0.5 z_inc): the income multiplier of amounts and of the window's
    /// inflow and outflow medians (computed once per user).
    pub income_mult: f64,
    /// exp(0.5 z_act): scales top-ups and the window's App Store purchases.
    pub act_mult: f64,
}

impl Rates {
    /// The rates of a user with latent traits `l`; `young` is 1 under 30, else 0.
    pub fn new(p: &ValidPreset, l: &Latent, young: f64) -> Rates {
        let w = &p.wallet;
        let act_mult = (0.5 * l.z_act).exp();
        Rates {
            payment: w.payment_median_30d * (0.6 * l.z_act + 0.2 * l.z_inc).exp(),
            remit_sent: w.remit_sent_median_30d * (0.5 * l.z_act + 0.3 * young).exp(),
            remit_received: w.remit_received_median_30d * (0.5 * l.z_act + 0.2 * l.z_str).exp(),
            topup: w.topup_median_30d * act_mult,
            withdrawal: w.withdrawal_median_30d * (0.3 * l.z_act + 0.6 * l.z_str).exp(),
            income_mult: (0.5 * l.z_inc).exp(),
            act_mult,
        }
    }
}

/// The logit shift of failure from the user's observed profile: younger
/// users and new accounts fail more often (CASE.md, E).
/// `outcome.age_effect * (40 - age) / 10 + outcome.tenure_effect * exp(-account_age_days / 365)`.
pub fn profile_risk(p: &ValidPreset, age_years: u8, account_age_days: u32) -> f64 {
    let o = &p.outcome;
    o.age_effect * (40.0 - age_years as f64) / 10.0
        + o.tenure_effect * (-(account_age_days as f64) / 365.0).exp()
}
