//! Many intervals at once: p-values of per-replicate differences (one-sample
//! t test) and the Holm and Benjamini–Hochberg corrections.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Two-sided p-value of "mean = 0" for per-replicate values (one-sample t
/// test, n − 1 degrees of freedom); NaN with fewer than two finite values
/// or no spread.
pub fn t_test_p(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n < 2 {
        return f64::NAN;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    if sd <= 0.0 {
        return if mean == 0.0 { 1.0 } else { 0.0 };
    }
    let t = mean / (sd / (n as f64).sqrt());
    match StudentsT::new(0.0, 1.0, (n - 1) as f64) {
        Ok(d) => 2.0 * (1.0 - d.cdf(t.abs())),
        Err(_) => f64::NAN,
    }
}

/// Benjamini–Hochberg adjusted p-values (q-values), in input order; NaN
/// inputs stay NaN and do not count as tests.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = idx.len() as f64;
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(p[i] * m / (rank + 1) as f64);
        out[i] = running.min(1.0);
    }
    out
}

/// Holm's step-down adjusted p-values, in input order; NaN stays NaN.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = idx.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in idx.iter().enumerate() {
        running = running.max(p[i] * (m - rank) as f64);
        out[i] = running.min(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_and_holm_match_hand_computation() {
        let p = [0.01, 0.04, 0.03, f64::NAN, 0.5];
        // Sorted 0.01, 0.03, 0.04, 0.5 (m = 4): BH 0.04, 0.0533, 0.0533, 0.5.
        let q = benjamini_hochberg(&p);
        assert!((q[0] - 0.04).abs() < 1e-12);
        assert!((q[2] - 0.04 * 4.0 / 3.0).abs() < 1e-12);
        assert!((q[1] - 0.04 * 4.0 / 3.0).abs() < 1e-12);
        assert!(q[3].is_nan() && (q[4] - 0.5).abs() < 1e-12);
        // Holm: 0.04, 0.09, max(0.09, 0.08) = 0.09, 0.5.
        let h = holm(&p);
        assert!((h[0] - 0.04).abs() < 1e-12);
        assert!((h[2] - 0.09).abs() < 1e-12 && (h[1] - 0.09).abs() < 1e-12);
        assert!((h[4] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn t_test_p_value_of_known_sample() {
        // mean 2, sd 1, n 4: t = 4, df 3 → two-sided p ≈ 0.0280.
        let p = t_test_p(&[1.0, 2.0, 3.0, 2.0 + 0.0]);
        let p2 = t_test_p(&[1.0, 2.0, 3.0, 2.0]);
        assert_eq!(p, p2);
        let v = [2.0 - 1.0, 2.0 + 1.0, 2.0 - 1.0, 2.0 + 1.0];
        // sd = sqrt(4/3) → t = 2 / (1.1547/2) = 3.4641, df 3 → p ≈ 0.0405.
        assert!((t_test_p(&v) - 0.0405).abs() < 0.001, "{}", t_test_p(&v));
        assert!(t_test_p(&[1.0]).is_nan());
    }
}
