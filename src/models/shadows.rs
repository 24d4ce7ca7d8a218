//! The audit's shadow models: many fits of the audited family on subsets
//! of one design. Logistic shadows share one Hessian over the attacker's
//! pool and are fitted together (`logistic_chord`); the other families fit
//! each shadow from scratch.

use crate::data::features::Design;
use crate::error::Result;
use crate::models::logistic::{LogisticModel, LogisticParams};
use crate::models::logistic_chord::{PoolHessian, fit_many_chord, pool_hessian};
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

    /// Shadows `0..count` (at most [`crate::models::logistic_chord::GROUP`]): shadow `k` trains on the
    /// `pool` rows whose `member` word has bit `k` set, with seed
    /// `seed + k` (labels from `nsf`, indexed by row). Logistic shadows are
    /// fitted together, one pass over the pool per chord step.
    pub fn fit_group(
        &self,
        pool: &[usize],
        member: &[u32],
        count: usize,
        nsf: &[bool],
        seed: u64,
    ) -> Result<Vec<StoredModel>> {
        let Some((params, start, hessian)) = &self.chord else {
            return (0..count)
                .map(|k| {
                    let rows: Vec<usize> = (0..pool.len())
                        .filter(|&j| (member[j] >> k) & 1 == 1)
                        .map(|j| pool[j])
                        .collect();
                    let (m, _) = train::fit_model(
                        self.design,
                        self.attrs,
                        &rows,
                        nsf,
                        None,
                        self.spec,
                        seed + k as u64,
                    )?;
                    Ok(m)
                })
                .collect();
        };
        let y: Vec<bool> = pool.iter().map(|&i| nsf[i]).collect();
        let x = self.design.x.view();
        let fits = fit_many_chord(x, pool, member, &y, count, params, start, hessian)?;
        Ok(fits
            .into_iter()
            .map(|fitted| StoredModel::Logistic {
                features: self.attrs.to_vec(),
                feature_columns: self.design.names.clone(),
                fitted,
            })
            .collect())
    }
}
