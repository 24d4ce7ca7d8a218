//! A score file: every user's score and probability under one model, with
//! the held-out flag of the model's split and the observed outcome, as
//! Parquet or (for a `.csv` name) CSV.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{BooleanArray, Float64Array, RecordBatch, UInt8Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};

use crate::data::artifact::{FileRecord, TableWriter, fault_point, partial_path};
use crate::error::{NsfError, Result};

/// File format of a score file, from its name: CSV for `.csv`, else Parquet.
pub fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The columns of a score file.
pub struct ScoreColumns<'a> {
    /// `user_id` per user.
    pub user_id: &'a [u64],
    /// Score 0–100.
    pub score: &'a [u8],
    /// P(nsf).
    pub prob: &'a [f64],
    /// Held out of every training set (the split `evaluate` uses).
    pub holdout: &'a [bool],
    /// The observed outcome (the target).
    pub nsf: &'a [bool],
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::UInt64, false),
        Field::new("score", DataType::UInt8, false),
        Field::new("prob", DataType::Float64, false),
        Field::new("holdout", DataType::Boolean, false),
        Field::new("nsf", DataType::Boolean, false),
    ]))
}

/// Writes the score file `path` (Parquet, or CSV for a `.csv` name) through
/// a temporary name and a rename; returns its record. A Parquet file's
/// footer says which model the scores derive from (`nsfsim.kind` =
/// `scores`, `nsfsim.model_id`, `nsfsim.version`).
pub fn write(path: &Path, model_id: &str, c: &ScoreColumns) -> Result<FileRecord> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| NsfError::Output {
            path: path.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
    }
    let schema = schema();
    let tmp = partial_path(path);
    let rows_per_group = 1 << 20;
    let meta = [
        ("nsfsim.kind", "scores".to_string()),
        ("nsfsim.model_id", model_id.to_string()),
        ("nsfsim.version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    let (mut table, factory) = if is_csv(path) {
        TableWriter::csv(&tmp)?
    } else {
        TableWriter::parquet_with_metadata(&tmp, Arc::clone(&schema), rows_per_group, &meta)?
    };
    let n = c.user_id.len();
    for (g, start) in (0..n).step_by(rows_per_group).enumerate() {
        let end = (start + rows_per_group).min(n);
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(UInt64Array::from(c.user_id[start..end].to_vec())),
                Arc::new(UInt8Array::from(c.score[start..end].to_vec())),
                Arc::new(Float64Array::from(c.prob[start..end].to_vec())),
                Arc::new(BooleanArray::from(c.holdout[start..end].to_vec())),
                Arc::new(BooleanArray::from(c.nsf[start..end].to_vec())),
            ],
        )
        .expect("columns match");
        let enc = factory
            .encoder(g)?
            .encode(&batch)
            .map_err(|message| NsfError::Parquet {
                path: path.to_path_buf(),
                message,
            })?;
        table.append(enc, (end - start) as u64)?;
    }
    let mut record = table.finish()?;
    std::fs::rename(&tmp, path).map_err(|e| NsfError::io(path, e))?;
    fault_point("publish-scores");
    record.name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(record)
}
