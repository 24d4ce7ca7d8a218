//! NSF score models. Each family fits on a design matrix and labels (with
//! optional sample weights) and predicts calibrated probabilities; no I/O
//! here. `family` holds the trait every family implements; the families are
//! registered below, one line each.

#[macro_use]
pub mod family;
pub mod dp_logistic;
pub mod gbdt;
pub mod logistic;
pub mod logistic_chord;
pub mod scorecard;
pub mod shadows;
pub mod train;

use crate::data::features::Design;
use crate::error::Result;

pub use family::{Capabilities, Family, FitData, ScoreModel};

families! {
    /// L2 logistic regression.
    Logistic(logistic::LogisticParams) = "logistic", body "model";
    /// Monotone-binned WoE scorecard with a points table.
    Scorecard(scorecard::ScorecardParams) = "scorecard", body "scorecard";
    /// Gradient-boosted trees (forust-ml).
    Gbdt(gbdt::GbdtParams) = "gbdt", body "booster";
    /// Differentially private logistic regression (objective perturbation).
    DpLogistic(dp_logistic::DpLogisticParams) = "dp-logistic", body "model";
}

/// A [`ModelSpec`] whose hyperparameters passed [`ModelSpec::check`]: the
/// only kind that fits.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidModelSpec(ModelSpec);

impl ValidModelSpec {
    /// The checked spec.
    pub fn spec(&self) -> &ModelSpec {
        &self.0
    }
}

impl std::ops::Deref for ValidModelSpec {
    type Target = ModelSpec;
    fn deref(&self) -> &ModelSpec {
        &self.0
    }
}

impl StoredModel {
    /// P(nsf = 1) for every row of the design.
    pub fn predict(&self, design: &Design) -> Result<Vec<f64>> {
        if self.native_missing()
            && let Some(x) = crate::data::table::with_gaps(design.x.view(), &design.names)
        {
            return self.model().predict_proba(x.view());
        }
        self.model().predict_proba(design.x.view())
    }

    /// The model's table in words (the scorecard's points), if its family
    /// has one.
    pub fn describe(&self) -> Option<String> {
        self.model().describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Stream, normal, sigmoid, uniform, user_stream};
    use ndarray::Array2;

    /// Columns age_years, account_age_days, auto_topup and an NSF outcome
    /// that falls with age and tenure and rises without auto top-up.
    fn synthetic(n: usize) -> (Vec<String>, Array2<f32>, Vec<bool>) {
        let attrs = ["age_years", "account_age_days", "auto_topup"].map(String::from);
        let mut x = Array2::<f32>::zeros((n, 3));
        let mut y = vec![false; n];
        for i in 0..n {
            let mut rng = user_stream(5, i as u64, Stream::Attributes, 0);
            let age = (40.0 + 12.0 * normal(&mut rng)).clamp(19.0, 80.0);
            let tenure = 3000.0 * uniform(&mut rng);
            let topup = uniform(&mut rng) < 0.4;
            x[[i, 0]] = age as f32;
            x[[i, 1]] = tenure as f32;
            x[[i, 2]] = topup as u8 as f32;
            let eta = -1.5 - 0.04 * (age - 40.0) - 0.0004 * tenure - 0.8 * topup as u8 as f64;
            y[i] = uniform(&mut rng) < sigmoid(eta);
        }
        (attrs.to_vec(), x, y)
    }

    fn fit(
        name: &str,
        x: &Array2<f32>,
        attrs: &[String],
        y: &[bool],
        w: Option<&[f64]>,
    ) -> StoredModel {
        let rows: Vec<usize> = (0..y.len()).collect();
        let data = FitData {
            x: x.view(),
            attributes: attrs,
            rows: &rows,
            y,
            weights: w,
            seed: 3,
        };
        ModelSpec::parse(name)
            .unwrap()
            .check()
            .unwrap()
            .fit(&data, attrs, None)
            .unwrap()
    }

    #[test]
    fn every_family_takes_weights_unit_weights_change_nothing() {
        let (attrs, x, y) = synthetic(4000);
        let ones = vec![1.0; y.len()];
        for name in ModelSpec::NAMES {
            let plain = fit(name, &x, &attrs, &y, None);
            let unit = fit(name, &x, &attrs, &y, Some(&ones));
            assert_eq!(plain, unit, "{name}: weights of 1 must equal no weights");
        }
    }

    #[test]
    fn every_family_follows_its_weights() {
        // Positives weighted 3: the weighted NSF share is about 3 times the
        // observed one, and every family's mean prediction must move up.
        let (attrs, x, y) = synthetic(4000);
        let w: Vec<f64> = y.iter().map(|&v| if v { 3.0 } else { 1.0 }).collect();
        let rate = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
        for name in ModelSpec::NAMES {
            let mean = |m: &StoredModel| {
                let p = m.model().predict_proba(x.view()).unwrap();
                p.iter().sum::<f64>() / p.len() as f64
            };
            let (plain, weighted) = (
                mean(&fit(name, &x, &attrs, &y, None)),
                mean(&fit(name, &x, &attrs, &y, Some(&w))),
            );
            assert!(
                weighted > plain + 0.5 * rate,
                "{name}: mean prediction {plain:.4} unweighted, {weighted:.4} weighted (rate {rate:.4})"
            );
        }
    }

    #[test]
    fn logistic_integer_weights_equal_repeated_rows() {
        // Without the L2 term (whose standardized scale depends on the rows)
        // the weighted log loss equals the log loss of repeated rows.
        let (attrs, x, y) = synthetic(3000);
        let w: Vec<f64> = (0..y.len()).map(|i| (i % 3 + 1) as f64).collect();
        let rows: Vec<usize> = (0..y.len())
            .flat_map(|i| std::iter::repeat_n(i, i % 3 + 1))
            .collect();
        let yr: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
        let spec = ModelSpec::Logistic(logistic::LogisticParams {
            c: 1e9,
            ..Default::default()
        })
        .check()
        .unwrap();
        let all: Vec<usize> = (0..y.len()).collect();
        let data = |rows, y, weights| FitData {
            x: x.view(),
            attributes: &attrs,
            rows,
            y,
            weights,
            seed: 3,
        };
        let weighted = spec.fit(&data(&all, &y, Some(&w)), &attrs, None).unwrap();
        let repeated = spec.fit(&data(&rows, &yr, None), &attrs, None).unwrap();
        let (a, b) = (
            weighted.model().predict_proba(x.view()).unwrap(),
            repeated.model().predict_proba(x.view()).unwrap(),
        );
        let worst = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-8, "largest difference {worst}");
    }
}
