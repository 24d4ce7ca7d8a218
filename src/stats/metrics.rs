//! Score metrics computed the way credit-risk practitioners report them:
//! AUC (rank-based, ties averaged, as scikit-learn), Gini, KS, Brier.
//! Plain functions over slices; no I/O.

/// Area under the ROC curve of `score` for binary `label` (1 = positive),
/// with tied scores counted half (Mann–Whitney U). NaN if a class is empty.
pub fn auc(score: &[f64], label: &[bool]) -> f64 {
    assert_eq!(score.len(), label.len());
    let mut idx: Vec<u32> = (0..score.len() as u32).collect();
    idx.sort_unstable_by(|&a, &b| score[a as usize].total_cmp(&score[b as usize]));
    let (mut pos, mut neg) = (0u64, 0u64);
    let mut rank_sum = 0.0f64; // sum of (1-based, tie-averaged) ranks of positives
    let mut i = 0usize;
    while i < idx.len() {
        let mut j = i;
        let v = score[idx[i] as usize];
        let mut p_in_tie = 0u64;
        // total_cmp: a NaN is tied with itself (`==` would never advance).
        while j < idx.len() && score[idx[j] as usize].total_cmp(&v).is_eq() {
            p_in_tie += label[idx[j] as usize] as u64;
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * p_in_tie as f64;
        pos += p_in_tie;
        neg += (j - i) as u64 - p_in_tie;
        i = j;
    }
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - pos as f64 * (pos as f64 + 1.0) / 2.0) / (pos as f64 * neg as f64)
}

/// Rows ordered by score (ties by row index), with the start of every
/// group of tied scores marked: computed once per model, it gives the AUC
/// of any reweighting of the rows in one pass ([`auc_weighted`]), which is
/// what the paired bootstrap needs instead of a sort per resample.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Row indices from lowest to highest score.
    pub order: Vec<u32>,
    /// `new_group[j]`: `order[j]`'s score differs from `order[j - 1]`'s.
    pub new_group: Vec<bool>,
}

/// The [`Ranking`] of `score`.
pub fn rank_rows(score: &[f64]) -> Ranking {
    let mut order: Vec<u32> = (0..score.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        score[a as usize]
            .total_cmp(&score[b as usize])
            .then(a.cmp(&b))
    });
    let new_group = (0..order.len())
        .map(|j| {
            j == 0
                || score[order[j] as usize]
                    .total_cmp(&score[order[j - 1] as usize])
                    .is_ne()
        })
        .collect();
    Ranking { order, new_group }
}

/// AUC of the ranked rows when row `i` counts `weight[i]` times (a
/// bootstrap resample's multiplicities): Mann–Whitney U with ties counted
/// half, summed exactly in integers. Equals [`auc`] on the materialized
/// resample. NaN if a class has no weight.
pub fn auc_weighted(ranking: &Ranking, label: &[bool], weight: &[u32]) -> f64 {
    // twice U: every (positive, negative) pair scores 2 above, 1 tied.
    let (mut two_u, mut pos, mut neg_below) = (0u128, 0u128, 0u128);
    let (mut pos_g, mut neg_g) = (0u128, 0u128);
    for (j, &row) in ranking.order.iter().enumerate() {
        if ranking.new_group[j] {
            two_u += pos_g * (2 * neg_below + neg_g);
            pos += pos_g;
            neg_below += neg_g;
            (pos_g, neg_g) = (0, 0);
        }
        let w = weight[row as usize] as u128;
        if label[row as usize] {
            pos_g += w;
        } else {
            neg_g += w;
        }
    }
    two_u += pos_g * (2 * neg_below + neg_g);
    pos += pos_g;
    let neg = neg_below + neg_g;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    two_u as f64 / (2.0 * pos as f64 * neg as f64)
}

/// Brier score of probabilities.
pub fn brier(prob: &[f64], label: &[bool]) -> f64 {
    let s: f64 = prob
        .iter()
        .zip(label)
        .map(|(p, &y)| (p - y as u8 as f64).powi(2))
        .sum();
    s / prob.len() as f64
}

/// Kolmogorov–Smirnov statistic: the largest gap between the score
/// distributions of positives and negatives (ties processed together).
pub fn ks(score: &[f64], label: &[bool]) -> f64 {
    let mut idx: Vec<u32> = (0..score.len() as u32).collect();
    idx.sort_unstable_by(|&a, &b| score[a as usize].total_cmp(&score[b as usize]));
    let pos = label.iter().filter(|&&y| y).count() as f64;
    let neg = label.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let (mut cp, mut cn, mut best) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let v = score[idx[i] as usize];
        while i < idx.len() && score[idx[i] as usize].total_cmp(&v).is_eq() {
            if label[idx[i] as usize] {
                cp += 1.0;
            } else {
                cn += 1.0;
            }
            i += 1;
        }
        best = best.max((cp / pos - cn / neg).abs());
    }
    best
}

/// Mean log loss of probabilities (clipped to [1e-15, 1 − 1e-15], as scikit-learn).
pub fn log_loss(prob: &[f64], label: &[bool]) -> f64 {
    let s: f64 = prob
        .iter()
        .zip(label)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    s / prob.len() as f64
}

/// Expected calibration error over `bins` equal-width probability bins:
/// sum over bins of (share of users) × |mean predicted − observed rate|.
pub fn expected_calibration_error(prob: &[f64], label: &[bool], bins: usize) -> f64 {
    let mut n = vec![0u64; bins];
    let mut sp = vec![0.0f64; bins];
    let mut sy = vec![0u64; bins];
    for (&p, &y) in prob.iter().zip(label) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        n[b] += 1;
        sp[b] += p;
        sy[b] += y as u64;
    }
    let total = prob.len() as f64;
    (0..bins)
        .filter(|&b| n[b] > 0)
        .map(|b| n[b] as f64 / total * (sp[b] / n[b] as f64 - sy[b] as f64 / n[b] as f64).abs())
        .sum()
}

/// Population stability index of `actual` against `expected` score
/// distributions over the given score bands (a small floor avoids log 0).
pub fn psi(expected: &[u8], actual: &[u8], bands: &[(u8, u8)]) -> f64 {
    let share = |v: &[u8], (lo, hi): (u8, u8)| {
        (v.iter().filter(|&&s| s >= lo && s <= hi).count() as f64 / v.len().max(1) as f64).max(1e-4)
    };
    bands
        .iter()
        .map(|&b| {
            let (e, a) = (share(expected, b), share(actual, b));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Score bands of the 0–100 NSF score used in every evaluation table.
pub const SCORE_BANDS: [(u8, u8); 8] = [
    (0, 0),
    (1, 1),
    (2, 3),
    (4, 6),
    (7, 10),
    (11, 20),
    (21, 50),
    (51, 100),
];

/// One row of a score-band table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct BandRow {
    /// Lowest score in the band.
    pub score_from: u8,
    /// Highest score in the band.
    pub score_to: u8,
    /// Users in the band.
    pub users: u64,
    /// Observed NSF rate.
    pub observed_nsf_rate: f64,
    /// Mean predicted probability.
    pub predicted_nsf_rate: f64,
}

/// The score-band table: users, observed and predicted NSF rate per band.
pub fn score_bands(score: &[u8], prob: &[f64], label: &[bool]) -> Vec<BandRow> {
    SCORE_BANDS
        .iter()
        .map(|&(lo, hi)| {
            let (mut n, mut y, mut p) = (0u64, 0u64, 0.0f64);
            for i in 0..score.len() {
                if score[i] >= lo && score[i] <= hi {
                    n += 1;
                    y += label[i] as u64;
                    p += prob[i];
                }
            }
            let d = n.max(1) as f64;
            BandRow {
                score_from: lo,
                score_to: hi,
                users: n,
                observed_nsf_rate: y as f64 / d,
                predicted_nsf_rate: p / d,
            }
        })
        .collect()
}

/// Every metric of an evaluation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Evaluation {
    /// Users evaluated.
    pub users: u64,
    /// Their NSF rate.
    pub nsf_rate: f64,
    /// ROC AUC of the probability.
    pub auc: f64,
    /// Gini = 2·AUC − 1.
    pub gini: f64,
    /// Kolmogorov–Smirnov statistic.
    pub ks: f64,
    /// Brier score.
    pub brier: f64,
    /// Mean log loss.
    pub log_loss: f64,
    /// Expected calibration error (20 equal-width bins).
    pub ece: f64,
    /// AUC of the ground truth `nsf_prob` on the same users: the ceiling
    /// (null where there is no ground truth: a table's rows).
    #[serde(deserialize_with = "null_as_nan")]
    pub oracle_auc: f64,
    /// Score bands.
    pub bands: Vec<BandRow>,
}

/// Reads a number written by serde_json, where `null` stands for NaN (how
/// serde_json writes a NaN): a stored evaluation without an oracle reads
/// back as it was.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    let v: Option<f64> = serde::Deserialize::deserialize(d)?;
    Ok(v.unwrap_or(f64::NAN))
}

/// Computes every metric for probabilities `prob`, scores, labels and the
/// ground-truth probabilities.
pub fn evaluate(prob: &[f64], score: &[u8], label: &[bool], truth: &[f64]) -> Evaluation {
    let a = auc(prob, label);
    Evaluation {
        users: prob.len() as u64,
        nsf_rate: label.iter().filter(|&&y| y).count() as f64 / prob.len().max(1) as f64,
        auc: a,
        gini: 2.0 * a - 1.0,
        ks: ks(prob, label),
        brier: brier(prob, label),
        log_loss: log_loss(prob, label),
        ece: expected_calibration_error(prob, label, 20),
        oracle_auc: auc(truth, label),
        bands: score_bands(score, prob, label),
    }
}

/// ROC curve points (false-positive rate, true-positive rate), thinned to at
/// most `max_points` (plus the end points).
pub fn roc_points(score: &[f64], label: &[bool], max_points: usize) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_unstable_by(|&a, &b| score[b].total_cmp(&score[a]));
    let pos = label.iter().filter(|&&y| y).count().max(1) as f64;
    let neg = (label.len() as f64 - pos).max(1.0);
    let step = (idx.len() / max_points.max(1)).max(1);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = vec![(0.0, 0.0)];
    for (k, &i) in idx.iter().enumerate() {
        if label[i] {
            tp += 1.0
        } else {
            fp += 1.0
        }
        if k % step == step - 1 {
            out.push((fp / neg, tp / pos));
        }
    }
    out.push((1.0, 1.0));
    out
}

/// Calibration points: `bins` groups of equal size by predicted probability,
/// each (mean predicted, observed rate).
pub fn calibration_points(prob: &[f64], label: &[bool], bins: usize) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..prob.len()).collect();
    idx.sort_unstable_by(|&a, &b| prob[a].total_cmp(&prob[b]));
    idx.chunks(prob.len().div_ceil(bins.max(1)).max(1))
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|&i| prob[i]).sum::<f64>() / n,
                c.iter().filter(|&&i| label[i]).count() as f64 / n,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_pairwise_count() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2, 0.9, 0.4];
        let y = [false, false, true, true, true, false, true, false];
        let mut num = 0.0;
        let mut den = 0.0;
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] && !y[j] {
                    den += 1.0;
                    num += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!((auc(&s, &y) - num / den).abs() < 1e-12);
        assert!(auc(&[1.0, 2.0], &[true, true]).is_nan());
    }

    #[test]
    fn ks_logloss_ece_against_hand_computation() {
        let p = [0.1, 0.2, 0.8, 0.9];
        let y = [false, true, false, true];
        // CDFs: after 0.1 neg 1/2 pos 0 → .5; after 0.2 .5/.5 → 0; after 0.8 1/.5 → .5; end 0.
        assert!((ks(&p, &y) - 0.5).abs() < 1e-12);
        let want = -((0.9f64).ln() + (0.2f64).ln() + (0.2f64).ln() + (0.9f64).ln()) / 4.0;
        assert!((log_loss(&p, &y) - want).abs() < 1e-12);
        // Two bins: [0,.5): mean p .15, rate .5 → .35; [.5,1]: .85 vs .5 → .35.
        assert!((expected_calibration_error(&p, &y, 2) - 0.35).abs() < 1e-12);
        assert!(psi(&[1, 1, 2, 2], &[1, 1, 2, 2], &SCORE_BANDS).abs() < 1e-12);
        assert!(psi(&[1, 1, 1, 1], &[60, 60, 60, 60], &SCORE_BANDS) > 0.25);
    }
}
