//! Attribute disclosure per score band: what knowing a user's grade (A–E,
//! bands of the score's P(nsf), `stats::scale`) tells about their
//! attributes. P(balance = 0 | band) and the balance's quantiles, and
//! P(flag | band) for the binary attributes, on every user.

use serde::{Deserialize, Serialize};

use crate::models::train::LoadedData;
use crate::stats::scale::{GRADES, grade};

/// One grade band.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct BandDisclosure {
    /// Grade letter.
    pub grade: String,
    /// Users in the band.
    pub users: u64,
    /// P(balance_krw = 0 | band).
    pub p_zero_balance: f64,
    /// balance_krw 10th, 50th and 90th percentile in the band (KRW).
    pub balance_quantiles_krw: [f64; 3],
    /// P(auto_topup on | band).
    pub p_auto_topup: f64,
    /// P(device_os = ios | band).
    pub p_ios: f64,
}

/// A design column's values (None when the data set lacks it).
fn column<'a>(data: &'a LoadedData, name: &str) -> Option<ndarray::ArrayView1<'a, f32>> {
    let j = data.design.names.iter().position(|n| n == name)?;
    Some(data.design.x.column(j))
}

/// The `q` quantile of sorted `v` (0 when empty).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The disclosure table of every user, graded by `p_all` (the audited
/// model's P(nsf) per user).
pub(crate) fn by_band(data: &LoadedData, p_all: &[f64]) -> Vec<BandDisclosure> {
    let bal = column(data, "log1p(balance_krw)");
    let topup = column(data, "auto_topup");
    let ios = column(data, "device_os=ios");
    let mut balances: Vec<Vec<f64>> = vec![Vec::new(); GRADES.len()];
    let mut flags = vec![[0u64; 2]; GRADES.len()];
    for (i, &p) in p_all.iter().enumerate() {
        let g = grade(p);
        balances[g].push(bal.map_or(f64::NAN, |c| (c[i] as f64).exp_m1().max(0.0)));
        flags[g][0] += topup.is_some_and(|c| c[i] > 0.5) as u64;
        flags[g][1] += ios.is_some_and(|c| c[i] > 0.5) as u64;
    }
    balances
        .into_iter()
        .zip(flags)
        .enumerate()
        .map(|(g, (mut b, f))| {
            b.sort_by(f64::total_cmp);
            let n = b.len().max(1) as f64;
            BandDisclosure {
                grade: GRADES[g].into(),
                users: b.len() as u64,
                // Balances are whole KRW: below 0.5 is 0 (f32 log1p).
                p_zero_balance: b.iter().filter(|&&v| v < 0.5).count() as f64 / n,
                balance_quantiles_krw: [0.1, 0.5, 0.9].map(|q| quantile(&b, q).round()),
                p_auto_topup: f[0] as f64 / n,
                p_ios: f[1] as f64 / n,
            }
        })
        .collect()
}
