//! `train --data FILE` and `score --data FILE`: a model trained on, or
//! scoring, a table file. Two kinds of file: nsfsim's own data set
//! rewritten by another tool (pandas, polars, …: the columns `user_id`,
//! `apple_registered`, `consented`, `nsf`, `nsf_prob` and the attributes, no
//! manifest), or any table with `--label` (its encoding is stored with the
//! model so `score` rebuilds the same columns). Held-out rows of a file:
//! `is_holdout(split seed, ID)`, the generated data sets' rule keyed by
//! `--split-seed` (default 0; the data set's own seed reproduces its split).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::features::{design_matrix, flag_column, numeric_column};
use crate::data::table::{self, Column, Encoding, TableFile, TableOptions, Values};
use crate::error::{NsfError, Result};
use crate::lineage::registry::{DataRef, ModelManifest};
use crate::models::train::{self, LoadedData, PopulationRule, ValidModelSpec, is_holdout};

/// Stored with a model trained on a file (its hyperparameters' `table`):
/// what `score` needs to rebuild the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSpec {
    /// `nsfsim` (a rewritten nsfsim data set) or `table`.
    pub schema: String,
    /// Seed of the held-out split.
    pub split_seed: u64,
    /// A table's roles (`table` schema).
    pub options: Option<TableOptions>,
    /// A table's encodings (`table` schema).
    pub encodings: Vec<Encoding>,
}

/// The columns of nsfsim's data sets a rewritten one must have.
const NSFSIM_COLUMNS: [&str; 5] = [
    "user_id",
    "apple_registered",
    "consented",
    "nsf",
    "nsf_prob",
];

/// Whether the file's columns are nsfsim's data set's.
fn is_nsfsim(columns: &[Column]) -> bool {
    NSFSIM_COLUMNS
        .iter()
        .all(|n| columns.iter().any(|c| c.name == *n))
}

/// The lineage of rows read from `file` (its SHA-256 is of the bytes
/// decoded); `columns_sha` stands in for a manifest.
fn data_ref(
    path: &Path,
    file: &TableFile,
    columns_sha: &[u8],
    split_seed: u64,
    rows: usize,
) -> DataRef {
    DataRef {
        dir: path.display().to_string(),
        manifest_sha256: hex::encode(Sha256::digest(columns_sha)),
        data_sha256: file.sha256.clone(),
        preset: "table".into(),
        seed: split_seed,
        users: rows as u64,
    }
}

/// The columns as one record batch (numbers as Float64, text as Utf8).
fn batch(columns: &[Column]) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let ty = match c.values {
                Values::Number(_) => DataType::Float64,
                Values::Text(_) => DataType::Utf8,
            };
            Field::new(&c.name, ty, true)
        })
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| match &c.values {
            Values::Number(v) => Arc::new(Float64Array::from(v.clone())) as ArrayRef,
            Values::Text(v) => Arc::new(StringArray::from(v.clone())) as ArrayRef,
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns of equal length")
}

/// A rewritten nsfsim data set with the design of `attributes`.
fn nsfsim_data(
    path: &Path,
    file: &TableFile,
    attributes: &[String],
    seed: u64,
) -> Result<LoadedData> {
    let columns = &file.columns;
    for a in attributes {
        table::find(path, columns, a, "an attribute the model uses")?;
    }
    let b = [batch(columns)];
    let input = |e: NsfError| NsfError::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let user_id: Vec<u64> = numeric_column(&b, "user_id")
        .map_err(input)?
        .into_iter()
        .map(|v| v as u64)
        .collect();
    let names: Vec<&str> = attributes.iter().map(String::as_str).collect();
    let sha = serde_json::to_vec(&names).expect("names serialize");
    Ok(LoadedData {
        manifest: None,
        holdout: user_id.iter().map(|&u| is_holdout(seed, u)).collect(),
        data_ref: data_ref(path, file, &sha, seed, user_id.len()),
        registered: flag_column(&b, "apple_registered").map_err(input)?,
        consented: flag_column(&b, "consented").map_err(input)?,
        nsf: flag_column(&b, "nsf").map_err(input)?,
        nsf_prob: numeric_column(&b, "nsf_prob").map_err(input)?,
        ground_truth: true,
        design: design_matrix(&b, attributes).map_err(input)?,
        user_id,
    })
}

/// A table with `spec`'s roles; `encodings` rebuild a trained model's
/// columns (else they come from the table itself).
fn table_data(
    path: &Path,
    file: &TableFile,
    spec: &FileSpec,
) -> Result<(LoadedData, Vec<Encoding>)> {
    let options = spec.options.clone().unwrap_or_default();
    let t = table::load_file(path, file, &options)?;
    let (design, encodings) = if spec.encodings.is_empty() {
        (t.design.clone(), t.encodings.clone())
    } else {
        (
            table::design(path, &file.columns, &spec.encodings)?,
            spec.encodings.clone(),
        )
    };
    let sha = serde_json::to_vec(&(&options, &encodings)).expect("options serialize");
    let n = t.rows();
    let data = LoadedData {
        manifest: None,
        holdout: t
            .ids
            .iter()
            .map(|&u| is_holdout(spec.split_seed, u))
            .collect(),
        data_ref: data_ref(path, file, &sha, spec.split_seed, n),
        user_id: t.ids.clone(),
        registered: t.target.clone(),
        consented: t.consent.clone().unwrap_or_else(|| vec![false; n]),
        nsf_prob: t.label.iter().map(|&y| y as u8 as f64).collect(),
        ground_truth: false,
        nsf: t.label,
        design,
    };
    Ok((data, encodings))
}

/// What `train --data FILE` needs.
pub struct FileTrain<'a> {
    /// The table's roles (`label` empty: a rewritten nsfsim data set).
    pub options: TableOptions,
    /// nsfsim attributes (a rewritten nsfsim data set).
    pub attributes: Vec<String>,
    /// Training population.
    pub rule: PopulationRule,
    /// Model family.
    pub family: &'a ValidModelSpec,
    /// Training seed.
    pub seed: u64,
    /// Seed of the held-out split.
    pub split_seed: u64,
    /// The score scale of the manifest's mapping and score bands.
    pub scale: crate::stats::scale::ScoreScale,
}

/// Trains on a table file and registers the model (its hyperparameters
/// carry the `table` record `score` needs).
pub fn train_file(
    path: &Path,
    job: &FileTrain,
    registry: &Path,
) -> Result<(String, ModelManifest)> {
    let file = table::read_table(path)?;
    let (data, spec, attrs) = if job.options.label.is_empty() {
        if !is_nsfsim(&file.columns) {
            return Err(NsfError::param(
                "--label",
                format!(
                    "{} is not an nsfsim data set (no {} columns): name the outcome column with --label",
                    path.display(),
                    NSFSIM_COLUMNS.join("/")
                ),
            ));
        }
        let spec = FileSpec {
            schema: "nsfsim".into(),
            split_seed: job.split_seed,
            options: None,
            encodings: Vec::new(),
        };
        let data = nsfsim_data(path, &file, &job.attributes, job.split_seed)?;
        (data, spec, job.attributes.clone())
    } else {
        let mut spec = FileSpec {
            schema: "table".into(),
            split_seed: job.split_seed,
            options: Some(job.options.clone()),
            encodings: Vec::new(),
        };
        let (data, enc) = table_data(path, &file, &spec)?;
        spec.encodings = enc;
        let names = data.design.names.clone();
        (data, spec, names)
    };
    if job.rule == PopulationRule::Consented
        && spec.schema == "table"
        && job.options.consent.is_none()
    {
        return Err(NsfError::param(
            "--population",
            "consented needs --consent COL",
        ));
    }
    let members = train::training_rows(&data, job.rule);
    train::check_classes(&data, &members, "training members")?;
    let (stored, mut hyper) = train::fit_model(
        &data.design,
        &attrs,
        &members,
        &data.nsf,
        None,
        job.family,
        job.seed,
    )?;
    hyper["table"] = serde_json::to_value(&spec).expect("spec serializes");
    let reg = train::Registration {
        population_rule: job.rule.as_str(),
        members: &members,
        hyperparameters: hyper,
        seed: job.seed,
        parents: Vec::new(),
        scale: job.scale,
    };
    train::register_model_on(&data, &data.design, &stored, reg, registry)
}

/// The rows of a table file for scoring with the model of `manifest`:
/// its stored `table` record, else a rewritten nsfsim data set with the
/// held-out split of `split_seed`.
pub fn score_data(
    path: &Path,
    manifest: &ModelManifest,
    features: &[String],
    split_seed: u64,
) -> Result<LoadedData> {
    let spec = manifest
        .hyperparameters
        .get("table")
        .map(|v| serde_json::from_value::<FileSpec>(v.clone()))
        .transpose()
        .map_err(|e| NsfError::Input {
            path: path.to_path_buf(),
            message: format!(
                "model {}'s table record is unreadable: {e}",
                manifest.model_id
            ),
        })?;
    let file = table::read_table(path)?;
    match spec {
        Some(spec) if spec.schema == "table" => Ok(table_data(path, &file, &spec)?.0),
        Some(spec) => nsfsim_data(path, &file, features, spec.split_seed),
        None => nsfsim_data(path, &file, features, split_seed),
    }
}
