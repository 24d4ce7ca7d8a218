//! JSON Schemas of nsfsim's JSON outputs, generated from the serde types
//! (schemars); checked in under `schemas/` and compared with the generated
//! ones by `tests/outputs.rs`.

use crate::error::{NsfError, Result};

/// Every kind with a schema, and the file it describes.
pub const KINDS: [(&str, &str); 6] = [
    ("metrics", "metrics.json of a `compare` run"),
    ("audit", "audit.json of an `audit`"),
    ("model-manifest", "manifest.json of a registered model"),
    ("data-manifest", "manifest.json of a generated data set"),
    ("scores-manifest", "<out>.manifest.json of a score file"),
    (
        "destruction",
        "<registry>/destroyed/<model_id>.json, the destruction record",
    ),
];

/// The JSON Schema of output `kind` (one of [`KINDS`]), pretty-printed.
pub fn json_schema(kind: &str) -> Result<String> {
    let schema = match kind {
        "metrics" => schemars::schema_for!(crate::experiment::ExperimentResult),
        "audit" => schemars::schema_for!(crate::audit::AuditResult),
        "model-manifest" => schemars::schema_for!(crate::lineage::registry::ModelManifest),
        "data-manifest" => schemars::schema_for!(crate::data::generate::PopulationManifest),
        "scores-manifest" => schemars::schema_for!(crate::models::train::ScoresManifest),
        "destruction" => schemars::schema_for!(crate::lineage::destroy::DestructionRecord),
        _ => {
            let names: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
            return Err(NsfError::param(
                "--json-schema",
                format!("unknown kind `{kind}`: use one of {}", names.join(", ")),
            ));
        }
    };
    let fail = |e: serde_json::Error| NsfError::Output {
        path: kind.into(),
        message: e.to_string(),
    };
    let mut v = serde_json::to_value(&schema).map_err(fail)?;
    nan_as_null(&mut v);
    serde_json::to_string_pretty(&v).map_err(fail)
}

/// serde_json writes a NaN or infinite `f64` as `null`: every `number` of
/// the schema may also be `null`.
fn nan_as_null(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            if o.get("type").and_then(|t| t.as_str()) == Some("number") {
                o.insert("type".into(), serde_json::json!(["number", "null"]));
            }
            o.values_mut().for_each(nan_as_null);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(nan_as_null),
        _ => {}
    }
}
