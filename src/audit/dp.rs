//! The membership audit of several registered models trained on one data
//! set (the `dp-all` arms at each ε, and `all`): the data set is loaded
//! once, and each model goes through the audit's own membership attacks
//! (`membership::membership`: the loss attack, LiRA with shadow models of
//! the model's own family and hyperparameters, and the overfit positive
//! control), exactly as `nsfsim audit` runs them. The control depends only
//! on the data, the features and the members, so models that share those
//! share one control fit (`membership::ControlCache`).

use std::path::Path;

use crate::audit::membership::{self, Membership};
use crate::audit::{Target, ValidAuditParams, members_of, spec_of};
use crate::error::Result;
use crate::models::train::{self, LoadedData};

/// One audited model: its membership results and its P(nsf) of every user
/// of the data set.
pub struct Audited {
    /// Registered model ID.
    pub model_id: String,
    /// Membership inference against it.
    pub membership: Membership,
    /// P(nsf) per row of the data set.
    pub p_all: Vec<f64>,
}

/// Runs the membership attacks against each model of `model_ids`, all
/// trained on `data` (loaded from `data_dir` with the full feature set).
pub fn audit_models(
    registry: &Path,
    model_ids: &[String],
    data: &LoadedData,
    data_dir: &Path,
    params: &ValidAuditParams,
    progress: &dyn Fn(&str),
) -> Result<Vec<Audited>> {
    let full = crate::data::features::FeatureSet::Full.attributes()?;
    let mut out = Vec::new();
    let mut controls = membership::ControlCache::default();
    for id in model_ids {
        progress(&format!("  membership audit of model {id}"));
        let (manifest, model) = train::load_model(registry, id)?;
        let spec = spec_of(&manifest)?;
        let (members, non_members) = members_of(data, &manifest, data_dir)?;
        let attrs = model.features().to_vec();
        let selected;
        let design = if attrs == full {
            &data.design
        } else {
            selected = data.design.select_attributes(&full, &attrs);
            &selected
        };
        let target = Target {
            data,
            design,
            attrs: &attrs,
            spec: &spec,
            model: &model,
            manifest: &manifest,
            params,
        };
        let p_all = model.predict(design)?;
        let split = membership::Split {
            members: &members,
            non_members: &non_members,
        };
        let membership = membership::membership(&target, &split, &p_all, &mut controls, &|_| {})?;
        out.push(Audited {
            model_id: id.clone(),
            membership,
            p_all,
        });
    }
    Ok(out)
}
