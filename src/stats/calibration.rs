//! Calibration on its own: the logistic recalibration fit
//! logit P(y = 1) = intercept + slope · logit(p). A calibrated model has
//! intercept 0 and slope 1; slope < 1 means over-confident predictions.

/// (intercept, slope) of the recalibration fit, by Newton's method on the
/// two-parameter log likelihood (NaN when it does not converge or a class
/// is missing).
pub fn calibration_fit(probs: &[f64], labels: &[bool]) -> (f64, f64) {
    let pos = labels.iter().filter(|&&y| y).count();
    if pos == 0 || pos == labels.len() {
        return (f64::NAN, f64::NAN);
    }
    let z: Vec<f64> = probs
        .iter()
        .map(|&p| {
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            (p / (1.0 - p)).ln()
        })
        .collect();
    // The usual IRLS start: the base rate's log-odds, slope 0.
    let rate = pos as f64 / labels.len() as f64;
    let (mut a, mut b) = ((rate / (1.0 - rate)).ln(), 0.0f64);
    for _ in 0..50 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (zi, &y) in z.iter().zip(labels) {
            let m = 1.0 / (1.0 + (-(a + b * zi)).exp());
            let r = y as u8 as f64 - m;
            let w = m * (1.0 - m);
            g0 += r;
            g1 += r * zi;
            h00 += w;
            h01 += w * zi;
            h11 += w * zi * zi;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 {
            return (f64::NAN, f64::NAN);
        }
        let (da, db) = ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det);
        a += da;
        b += db;
        if da.abs() + db.abs() < 1e-10 {
            return (a, b);
        }
    }
    if a.is_finite() && b.is_finite() {
        (a, b)
    } else {
        (f64::NAN, f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Stream, sigmoid, uniform, user_stream};

    /// Outcomes drawn from P = sigmoid(eta); predictions sigmoid(k·eta + c).
    fn sample(k: f64, c: f64) -> (Vec<f64>, Vec<bool>) {
        let mut p = Vec::new();
        let mut y = Vec::new();
        for i in 0..40_000u64 {
            let mut rng = user_stream(9, i, Stream::Attributes, 0);
            let eta = -2.0 + 2.0 * (uniform(&mut rng) - 0.5) * 2.0;
            y.push(uniform(&mut rng) < sigmoid(eta));
            p.push(sigmoid(k * eta + c));
        }
        (p, y)
    }

    #[test]
    fn calibrated_predictions_give_zero_and_one() {
        let (p, y) = sample(1.0, 0.0);
        let (a, b) = calibration_fit(&p, &y);
        assert!(a.abs() < 0.08 && (b - 1.0).abs() < 0.06, "{a} {b}");
    }

    #[test]
    fn overconfident_predictions_give_slope_below_one() {
        // Predictions with twice the true log-odds: slope ≈ 1/2. Shifted
        // by +0.5: intercept ≈ −0.5 at slope 1.
        let (p, y) = sample(2.0, 0.0);
        let (_, b) = calibration_fit(&p, &y);
        assert!((b - 0.5).abs() < 0.04, "slope {b}");
        let (p, y) = sample(1.0, 0.5);
        let (a, b) = calibration_fit(&p, &y);
        assert!((a + 0.5).abs() < 0.08 && (b - 1.0).abs() < 0.06, "{a} {b}");
    }
}
