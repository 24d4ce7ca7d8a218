//! A user's hidden traits and the event rates they drive: read by both the
//! population (the 30-day attributes) and the outcome window, so they sit
//! below both (no cycle between `population` and `outcome`).

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
}

impl Rates {
    pub(crate) fn new(p: &ValidPreset, l: &Latent, young: f64) -> Rates {
        let w = &p.wallet;
        Rates {
            payment: w.payment_median_30d * (0.6 * l.z_act + 0.2 * l.z_inc).exp(),
            remit_sent: w.remit_sent_median_30d * (0.5 * l.z_act + 0.3 * young).exp(),
            remit_received: w.remit_received_median_30d * (0.5 * l.z_act + 0.2 * l.z_str).exp(),
            topup: w.topup_median_30d * (0.5 * l.z_act).exp(),
            withdrawal: w.withdrawal_median_30d * (0.3 * l.z_act + 0.6 * l.z_str).exp(),
        }
    }
}
