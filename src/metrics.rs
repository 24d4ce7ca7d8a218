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
        while j < idx.len() && score[idx[j] as usize] == v {
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

/// Brier score of probabilities.
pub fn brier(prob: &[f64], label: &[bool]) -> f64 {
    let s: f64 = prob
        .iter()
        .zip(label)
        .map(|(p, &y)| (p - y as u8 as f64).powi(2))
        .sum();
    s / prob.len() as f64
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
}
