//! The audit's shadow models: many fits of the audited family on subsets
//! of one design. Logistic shadows share one Hessian over the attacker's
//! pool (`logistic_chord`); the other families fit each shadow from scratch.

use crate::data::features::Design;
use crate::error::Result;
use crate::models::logistic::{LogisticModel, LogisticParams};
use crate::models::logistic_chord::{PoolHessian, fit_rows_chord, pool_hessian};
use crate::models::train;
use crate::models::{ModelSpec, StoredModel, ValidModelSpec};

/// Fits shadows of one family on rows of one design.
pub struct Shadows<'a> {
    design: &'a Design,
    attrs: &'a [String],
    spec: &'a ValidModelSpec,
    chord: Option<(&'a LogisticParams, &'a LogisticModel, PoolHessian)>,
}

impl<'a> Shadows<'a> {
    /// Shadows of `spec` on `design`; a logistic `target` (the audited
    /// model) gives the chord fits their start and, over `pool`, their
    /// shared Hessian.
    pub fn new(
        design: &'a Design,
        attrs: &'a [String],
        spec: &'a ValidModelSpec,
        target: &'a StoredModel,
        pool: &[usize],
    ) -> Self {
        let chord = match (spec.spec(), target) {
            (ModelSpec::Logistic(p), StoredModel::Logistic { fitted, .. })
                if fitted.coef.len() == design.x.ncols() =>
            {
                Some((p, fitted, pool_hessian(design.x.view(), pool, fitted)))
            }
            _ => None,
        };
        Shadows {
            design,
            attrs,
            spec,
            chord,
        }
    }

    /// One shadow trained on `rows` (labels from `nsf`, indexed by row).
    pub fn fit(&self, rows: &[usize], nsf: &[bool], seed: u64) -> Result<StoredModel> {
        let Some((params, start, hessian)) = &self.chord else {
            let (m, _) =
                train::fit_model(self.design, self.attrs, rows, nsf, None, self.spec, seed)?;
            return Ok(m);
        };
        let y: Vec<bool> = rows.iter().map(|&i| nsf[i]).collect();
        let fitted = fit_rows_chord(self.design.x.view(), rows, &y, params, start, hessian)?;
        Ok(StoredModel::Logistic {
            features: self.attrs.to_vec(),
            feature_columns: self.design.names.clone(),
            fitted,
        })
    }
}
