//! The run record: the run's `manifest.json` (copies of the manifests of
//! every data set and model used) and its entry in the registry's lineage.

use std::path::Path;

use crate::data::generate;
use crate::error::Result;
use crate::experiment::ExperimentResult;

/// The run's `manifest.json`: the spec, and a copy of the manifest of every
/// data set and model used (so the run stays interpretable after they go).
pub fn run_manifest(result: &ExperimentResult, registry: &Path) -> Result<serde_json::Value> {
    let mut data = Vec::new();
    // A table: its file, SHA-256, column table and choices, once.
    if let Some(own) = &result.own_data {
        data.push(serde_json::json!({ "file": own.file, "own_data": own }));
    }
    for r in result
        .replicates
        .iter()
        .filter(|_| result.own_data.is_none())
    {
        let m = generate::read_manifest(Path::new(&r.data))?;
        data.push(serde_json::json!({ "dir": r.data, "manifest": m }));
    }
    let mut models = Vec::new();
    for cell in result.replicates.iter().flat_map(|r| &r.arms) {
        let (m, _) = crate::lineage::registry::load(registry, &cell.model_id)?;
        models
            .push(serde_json::json!({ "arm": cell.arm, "model_id": cell.model_id, "manifest": m }));
    }
    Ok(serde_json::json!({
        "kind": "run",
        "nsfsim_version": env!("CARGO_PKG_VERSION"),
        "spec": result.spec,
        "data": data,
        "models": models,
        "sweep_models": "not listed: sweep cells' models are in the registry, one per arm, cell and replicate",
        "files": ["report.md", "report.html", "metrics.json", "plots/"],
    }))
}

/// Publishes a finished run folder through the registry's lineage (pending
/// record, rename into place, complete record): every file of the run
/// derives from every model it reports on (a destruction order on one of
/// them takes the run with it). Returns the published folder.
pub fn record_run(
    registry: &Path,
    staged: crate::data::artifact::StagedDir,
    manifest: &serde_json::Value,
) -> Result<std::path::PathBuf> {
    let parents: Vec<String> = manifest["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["model_id"].as_str().map(String::from))
        .collect();
    crate::lineage::registry::publish_folder(registry, "run", staged, &parents)
}
