//! The lawful replacement: the audited model's family and features trained
//! on consented users only, registered, and compared with the audited model
//! on the same held-out registered users (the paired bootstrap `compare`
//! uses).

use serde::{Deserialize, Serialize};

use crate::audit::{AuditParams, Est, Target};
use crate::data::features::Design;
use crate::error::Result;
use crate::models::StoredModel;
use crate::models::train::{self, LoadedData, PopulationRule};
use crate::stats::bootstrap::paired_bootstrap;
use crate::stats::interval::ci95;
use crate::stats::metrics;
use crate::stats::money::expected_loss;

/// The lawful replacement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Replacement {
    /// Registered ID of the consented-only model.
    pub model_id: String,
    /// Its training users.
    pub training_users: u64,
    /// Held-out registered users both are evaluated on.
    pub test_users: u64,
    /// AUC of the audited model.
    pub auc_audited: f64,
    /// AUC of the replacement.
    pub auc_replacement: f64,
    /// Replacement − audited, paired bootstrap.
    pub auc_diff: Est,
    /// Expected KRW lost per 1,000 users: audited model.
    pub loss_audited: f64,
    /// Same for the replacement.
    pub loss_replacement: f64,
    /// Replacement − audited, paired bootstrap.
    pub loss_diff: Est,
}

/// Trains the replacement on the consented non-held-out users with the
/// audited model's family, features and training seed, registers it, and
/// compares the two.
pub(crate) fn lawful_replacement(t: &Target, registry: &std::path::Path) -> Result<Replacement> {
    let data = t.data;
    let consented: Vec<usize> = (0..data.rows())
        .filter(|&i| !data.holdout[i] && data.consented[i])
        .collect();
    let training_seed = t.manifest.training_seed;
    let (rmodel, hyper) = train::fit_model(
        t.design,
        t.attrs,
        &consented,
        &data.nsf,
        None,
        t.spec,
        training_seed,
    )?;
    let (rid, _) = train::register_model(
        data,
        t.design,
        "consented",
        &consented,
        &rmodel,
        hyper,
        training_seed,
        registry,
        Vec::new(),
    )?;
    replacement(
        data,
        t.design,
        t.model,
        &rmodel,
        rid,
        consented.len(),
        t.params,
    )
}

fn replacement(
    data: &LoadedData,
    design: &Design,
    audited: &StoredModel,
    repl: &StoredModel,
    model_id: String,
    training_users: usize,
    params: &AuditParams,
) -> Result<Replacement> {
    let test = train::holdout_rows(data, PopulationRule::Registered);
    let td = design.select_rows(&test);
    let (pa, pr) = (audited.predict(&td)?, repl.predict(&td)?);
    let y: Vec<bool> = test.iter().map(|&i| data.nsf[i]).collect();
    let truth: Vec<f64> = test.iter().map(|&i| data.nsf_prob[i]).collect();
    let sa: Vec<u8> = pa.iter().map(|&p| train::score_of(p)).collect();
    let sr: Vec<u8> = pr.iter().map(|&p| train::score_of(p)).collect();
    let (la, _) = expected_loss(&sa, &truth, &params.policy);
    let (lr, _) = expected_loss(&sr, &truth, &params.policy);
    let n = test.len() as u64;
    // The same machinery as `compare`: both models on the same resamples.
    let (aa, ar) = (metrics::auc(&pa, &y), metrics::auc(&pr, &y));
    let boot = paired_bootstrap(
        &[pa, pr],
        &[sa, sr],
        &y,
        &truth,
        &params.policy,
        params.bootstrap,
        params.seed ^ 0xC0DE,
    );
    let da: Vec<f64> = boot.iter().map(|v| v[1].0 - v[0].0).collect();
    let dl: Vec<f64> = boot.iter().map(|v| v[1].1 - v[0].1).collect();
    Ok(Replacement {
        model_id,
        training_users: training_users as u64,
        test_users: n,
        auc_audited: aa,
        auc_replacement: ar,
        auc_diff: Est {
            value: ar - aa,
            ci95: ci95(da),
        },
        loss_audited: la,
        loss_replacement: lr,
        loss_diff: Est {
            value: lr - la,
            ci95: ci95(dl),
        },
    })
}
