//! NSF score models. Each family fits on a design matrix and labels (with
//! optional sample weights) and predicts calibrated probabilities; no I/O
//! here. `family` holds the trait every family implements; the families are
//! registered below, one line each.

#[macro_use]
pub mod family;
pub mod gbdt;
pub mod logistic;
pub mod scorecard;
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

    #[test]
    fn every_registered_family_parses_checks_and_round_trips() {
        for name in ModelSpec::NAMES {
            let spec = ModelSpec::parse(name).unwrap();
            assert_eq!(spec.name(), *name);
            let json = serde_json::to_value(&spec).unwrap();
            assert_eq!(json["family"], *name);
            let back: ModelSpec = serde_json::from_value(json).unwrap();
            assert_eq!(back, spec);
            spec.check().unwrap();
        }
        assert!(ModelSpec::parse("forest").is_err());
    }
}
