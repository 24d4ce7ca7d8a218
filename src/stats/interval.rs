//! Intervals: percentiles of bootstrap values and Student-t intervals of
//! per-replicate values.

use serde::{Deserialize, Serialize};

/// Mean and 95% interval across replicates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Interval {
    /// Mean over replicates.
    pub mean: f64,
    /// 95% interval: Student t across replicates, or the paired bootstrap
    /// when there is one replicate.
    pub ci95: [f64; 2],
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (1.96
/// above 30).
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 {
        f64::NAN
    } else if df <= 30 {
        T[df - 1]
    } else {
        1.96
    }
}

/// Mean and 95% interval of per-replicate values (Student t; `single_ci`
/// when there is one value).
pub fn interval(values: &[f64], single_ci: Option<[f64; 2]>) -> Interval {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Interval {
            mean,
            ci95: single_ci.unwrap_or([mean, mean]),
        };
    }
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let h = t975(n - 1) * sd / (n as f64).sqrt();
    Interval {
        mean,
        ci95: [mean - h, mean + h],
    }
}

/// Linear-interpolated quantile `q` of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// 95% percentile interval of bootstrap values.
pub fn ci95(mut values: Vec<f64>) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    [percentile(&values, 0.025), percentile(&values, 0.975)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_and_ci_brackets() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.025), 2.5);
        assert_eq!(ci95(v.into_iter().rev().collect()), [2.5, 97.5]);
    }

    #[test]
    fn student_interval_of_two_values() {
        let i = interval(&[1.0, 3.0], None);
        assert_eq!(i.mean, 2.0);
        // sd = sqrt(2), h = 12.706 * sqrt(2) / sqrt(2).
        assert!((i.ci95[1] - 2.0 - 12.706).abs() < 1e-12);
        assert_eq!(interval(&[4.0], Some([1.0, 5.0])).ci95, [1.0, 5.0]);
    }
}
