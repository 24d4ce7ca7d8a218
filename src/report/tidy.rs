//! Tidy (long-format) tables beside `metrics.json` and `audit.json`, so
//! that pandas, polars, R or DuckDB read every figure without walking the
//! nested JSON: one row per replicate × arm × family × metric, and the data
//! behind every plot (ROC points, calibration bins, score histograms, cost
//! curves), so any figure can be redrawn. Parquet (zstd) and, for the
//! metrics, CSV. The exact schemas are in the README ("Tidy outputs").

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use crate::error::{NsfError, Result};
use crate::experiment::{ExperimentResult, PlotData};
use crate::stats::metrics;

/// One column of a tidy table.
pub enum Column {
    /// int32, nullable.
    Int32(Vec<Option<i32>>),
    /// int64.
    Int64(Vec<i64>),
    /// uint64.
    UInt64(Vec<u64>),
    /// float64, nullable.
    Float64(Vec<Option<f64>>),
    /// utf8.
    Utf8(Vec<String>),
    /// boolean, nullable.
    Boolean(Vec<Option<bool>>),
}

impl Column {
    fn array(&self) -> (DataType, ArrayRef) {
        match self {
            Column::Int32(v) => (DataType::Int32, Arc::new(Int32Array::from(v.clone()))),
            Column::Int64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Column::UInt64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v.clone()))),
            Column::Float64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Column::Utf8(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
            Column::Boolean(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
        }
    }
}

/// A table: named columns of equal length.
pub struct Table(pub Vec<(&'static str, Column)>);

impl Table {
    /// The table as one Arrow batch (every column nullable).
    pub fn batch(&self) -> RecordBatch {
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = self
            .0
            .iter()
            .map(|(name, c)| {
                let (t, a) = c.array();
                (Field::new(*name, t, true), a)
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns match")
    }
}

/// Writes `table` as Parquet (zstd).
pub fn write_parquet(path: &Path, table: &Table) -> Result<()> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let perr = |e: parquet::errors::ParquetError| NsfError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let batch = table.batch();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(perr)?))
        .build();
    let file = std::fs::File::create(path).map_err(|e| NsfError::io(path, e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(perr)?;
    w.write(&batch).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(())
}

/// Writes `table` as CSV with a header (nulls as empty fields).
pub fn write_csv(path: &Path, table: &Table) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| NsfError::io(path, e))?;
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(std::io::BufWriter::new(file));
    w.write(&table.batch()).map_err(|e| NsfError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    use std::io::Write;
    w.into_inner().flush().map_err(|e| NsfError::io(path, e))
}

/// Rows of the metrics table.
#[derive(Default)]
struct MetricRows {
    replicate: Vec<Option<i32>>,
    arm: Vec<String>,
    family: Vec<String>,
    metric: Vec<String>,
    value: Vec<Option<f64>>,
    low: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
}

impl MetricRows {
    fn push(
        &mut self,
        rep: Option<i32>,
        arm: &str,
        family: &str,
        metric: &str,
        v: [Option<f64>; 3],
    ) {
        self.replicate.push(rep);
        self.arm.push(arm.into());
        self.family.push(family.into());
        self.metric.push(metric.into());
        self.value.push(v[0]);
        self.low.push(v[1]);
        self.high.push(v[2]);
    }

    fn table(self) -> Table {
        Table(vec![
            ("replicate", Column::Int32(self.replicate)),
            ("arm", Column::Utf8(self.arm)),
            ("family", Column::Utf8(self.family)),
            ("metric", Column::Utf8(self.metric)),
            ("value", Column::Float64(self.value)),
            ("low", Column::Float64(self.low)),
            ("high", Column::Float64(self.high)),
        ])
    }
}

/// `value` as the JSON written to `name`.
fn as_json<T: serde::Serialize>(value: &T, name: &str) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| NsfError::Output {
        path: name.into(),
        message: e.to_string(),
    })
}

/// A `[low, high]` JSON pair.
fn pair(v: Option<&Value>) -> [Option<f64>; 2] {
    match v.and_then(Value::as_array) {
        Some(a) if a.len() == 2 => [a[0].as_f64(), a[1].as_f64()],
        _ => [None, None],
    }
}

/// The scalar figures of one arm object: its own numbers, those of its
/// `evaluation` and `split` objects, each with its `<name>_ci95` interval
/// when it has one, and every `{mean, ci95}` interval object. Undefined
/// figures (NaN, written as null) have no row.
fn arm_metrics(arm: &Value) -> Vec<(String, [Option<f64>; 3])> {
    let mut flat = serde_json::Map::new();
    for part in [Some(arm), arm.get("evaluation"), arm.get("split")]
        .into_iter()
        .flatten()
    {
        if let Some(o) = part.as_object() {
            flat.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut out = Vec::new();
    for (k, v) in &flat {
        if k.ends_with("_ci95") {
            continue;
        }
        if let Some(x) = v.as_f64() {
            // `auc_diff_vs_all` has its interval in `auc_diff_ci95`.
            let ci = flat.get(&format!("{k}_ci95")).or_else(|| {
                let stem = k.strip_suffix("_vs_all")?;
                flat.get(&format!("{stem}_ci95"))
            });
            let [lo, hi] = pair(ci);
            out.push((k.clone(), [Some(x), lo, hi]));
        } else if let (Some(m), Some(_)) = (v.get("mean").and_then(Value::as_f64), v.get("ci95")) {
            let [lo, hi] = pair(v.get("ci95"));
            out.push((k.clone(), [Some(m), lo, hi]));
        }
    }
    out
}

/// `metrics.parquet` / `metrics.csv`: one row per replicate × arm × family
/// × metric (replicate 1, 2, …; null for the across-replicate summary),
/// then the learning-curve fits (replicate null, metric
/// `learning_curve_fit_<a|b|c|rmse>`).
pub fn metrics_table(r: &ExperimentResult) -> Result<Table> {
    let v = as_json(r, "metrics.json")?;
    let mut rows = MetricRows::default();
    let s = |a: &Value, k: &str| a[k].as_str().unwrap_or("").to_string();
    for (i, rep) in v["replicates"].as_array().into_iter().flatten().enumerate() {
        for arm in rep["arms"].as_array().into_iter().flatten() {
            for (m, x) in arm_metrics(arm) {
                rows.push(Some(i as i32 + 1), &s(arm, "arm"), &s(arm, "family"), &m, x);
            }
        }
    }
    for arm in v["summary"].as_array().into_iter().flatten() {
        for (m, x) in arm_metrics(arm) {
            rows.push(None, &s(arm, "arm"), &s(arm, "family"), &m, x);
        }
    }
    for f in &r.learning_curve_fits {
        for (m, x) in [("a", f.a), ("b", f.b), ("c", f.c), ("rmse", f.rmse)] {
            let name = format!("learning_curve_fit_{m}");
            rows.push(None, &f.arm, &f.family, &name, [Some(x), None, None]);
        }
    }
    for (arm, family, metric, v) in crate::report::lawful::metric_rows(r) {
        rows.push(None, &arm, &family, &metric, v);
    }
    Ok(rows.table())
}

/// A subgroup label split into dimension and level (`age 20s` → `age`,
/// `20s`), with the level's rank within its dimension (age bands and
/// tenure in their natural order, others as found).
pub fn dimension_level(group: &str) -> (String, String, i32) {
    let (d, l) = group.split_once(' ').unwrap_or((group, ""));
    let rank = match d {
        "age" => crate::data::features::AGE_BANDS
            .iter()
            .position(|b| *b == l)
            .map_or(99, |p| p as i32),
        "tenure" => ["<1y", "1-3y", "3y+"]
            .iter()
            .position(|b| *b == l)
            .map_or(99, |p| p as i32),
        _ => -1,
    };
    (d.to_string(), l.to_string(), rank)
}

/// Names of the arms of `family` in replicate order (the subgroup vectors'
/// order).
fn arm_names(r: &ExperimentResult, family: &str) -> Vec<String> {
    r.replicates
        .first()
        .map(|rep| {
            rep.arms
                .iter()
                .filter(|a| crate::experiment::lawful::block_family(&a.family, &a.arm) == family)
                .map(|a| a.arm.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// `subgroups.parquet`: per replicate the AUC of every arm within each
/// subgroup (metric `auc`), and across replicates each arm's AUC difference
/// to `all` with its interval, p- and q-value and flag (replicate null).
pub fn subgroups_table(r: &ExperimentResult) -> Table {
    let mut t = SubRows::default();
    for (i, rep) in r.replicates.iter().enumerate() {
        for g in &rep.subgroups {
            let names = arm_names(r, &g.family);
            for (k, auc) in g.auc.iter().enumerate() {
                let head = (Some(i as i32 + 1), g.family.as_str(), g.group.as_str());
                let arm = names.get(k).map_or("", String::as_str);
                let counts = (g.users as f64, g.nsf as f64, None);
                t.push(head, arm, counts, "auc", [Some(*auc), None, None]);
            }
        }
    }
    for g in &r.subgroups {
        let names = arm_names(r, &g.family);
        for (k, d) in g.auc_diff_vs_all.iter().enumerate() {
            let head = (None, g.family.as_str(), g.group.as_str());
            let arm = names.get(k).map_or("", String::as_str);
            let counts = (g.users, g.nsf, Some(g.enough_events));
            let iv = [Some(d.mean), Some(d.ci95[0]), Some(d.ci95[1])];
            t.push(head, arm, counts, "auc_diff_vs_all", iv);
            for (m, x) in [("p_value", g.p_value[k]), ("q_value", g.q_value[k])] {
                if let Some(x) = x {
                    t.push(head, arm, counts, m, [Some(x), None, None]);
                }
            }
            let flag = [Some(if g.flagged[k] { 1.0 } else { 0.0 }), None, None];
            t.push(head, arm, counts, "flagged", flag);
        }
    }
    t.table()
}

#[derive(Default)]
struct SubRows {
    replicate: Vec<Option<i32>>,
    family: Vec<String>,
    dimension: Vec<String>,
    level: Vec<String>,
    level_order: Vec<Option<i32>>,
    arm: Vec<String>,
    users: Vec<Option<f64>>,
    nsf_events: Vec<Option<f64>>,
    enough_events: Vec<Option<bool>>,
    metric: Vec<String>,
    value: Vec<Option<f64>>,
    low: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
}

impl SubRows {
    fn push(
        &mut self,
        (rep, family, group): (Option<i32>, &str, &str),
        arm: &str,
        (users, nsf, enough): (f64, f64, Option<bool>),
        metric: &str,
        v: [Option<f64>; 3],
    ) {
        let (d, l, rank) = dimension_level(group);
        self.replicate.push(rep);
        self.family.push(family.into());
        self.dimension.push(d);
        self.level.push(l);
        self.level_order.push(Some(rank));
        self.arm.push(arm.into());
        self.users.push(Some(users));
        self.nsf_events.push(Some(nsf));
        self.enough_events.push(enough);
        self.metric.push(metric.into());
        self.value.push(v[0]);
        self.low.push(v[1]);
        self.high.push(v[2]);
    }

    fn table(self) -> Table {
        Table(vec![
            ("replicate", Column::Int32(self.replicate)),
            ("family", Column::Utf8(self.family)),
            ("dimension", Column::Utf8(self.dimension)),
            ("level", Column::Utf8(self.level)),
            ("level_order", Column::Int32(self.level_order)),
            ("arm", Column::Utf8(self.arm)),
            ("users", Column::Float64(self.users)),
            ("nsf_events", Column::Float64(self.nsf_events)),
            ("enough_events", Column::Boolean(self.enough_events)),
            ("metric", Column::Utf8(self.metric)),
            ("value", Column::Float64(self.value)),
            ("low", Column::Float64(self.low)),
            ("high", Column::Float64(self.high)),
        ])
    }
}

/// `learning_curve.parquet`: AUC by training size, per replicate.
pub fn learning_curve_table(r: &ExperimentResult) -> Table {
    let (mut rep, mut fam, mut arm, mut n, mut auc) = (vec![], vec![], vec![], vec![], vec![]);
    for (i, x) in r.replicates.iter().enumerate() {
        for p in &x.learning_curve {
            rep.push(Some(i as i32 + 1));
            fam.push(p.family.clone());
            arm.push(p.arm.clone());
            n.push(p.training_users as i64);
            auc.push(Some(p.auc));
        }
    }
    Table(vec![
        ("replicate", Column::Int32(rep)),
        ("family", Column::Utf8(fam)),
        ("arm", Column::Utf8(arm)),
        ("training_users", Column::Int64(n)),
        ("auc", Column::Float64(auc)),
    ])
}

/// Points of a per-replicate curve: replicate, family, arm, x, y.
#[derive(Default)]
pub struct CurveRows {
    /// Replicate (1, 2, …; none for a mean across replicates).
    pub replicate: Vec<Option<i32>>,
    /// Model family.
    pub family: Vec<String>,
    /// Arm.
    pub arm: Vec<String>,
    /// x values.
    pub x: Vec<f64>,
    /// y values.
    pub y: Vec<f64>,
    /// Per-point count (calibration bin users, histogram users), if any.
    pub n: Vec<i64>,
}

impl CurveRows {
    fn push(&mut self, rep: Option<i32>, family: &str, arm: &str, x: f64, y: f64, n: i64) {
        self.replicate.push(rep);
        self.family.push(family.into());
        self.arm.push(arm.into());
        self.x.push(x);
        self.y.push(y);
        self.n.push(n);
    }

    /// The points of `family`/`arm` in replicate `rep`.
    pub fn points(&self, rep: Option<i32>, family: &str, arm: &str) -> Vec<(f64, f64)> {
        (0..self.x.len())
            .filter(|&i| self.replicate[i] == rep && self.family[i] == family && self.arm[i] == arm)
            .map(|i| (self.x[i], self.y[i]))
            .collect()
    }

    /// As a table with the given column names for x, y and n (n left out
    /// when `None`).
    pub fn table(&self, x: &'static str, y: &'static str, n: Option<&'static str>) -> Table {
        let mut cols = vec![
            ("replicate", Column::Int32(self.replicate.clone())),
            ("family", Column::Utf8(self.family.clone())),
            ("arm", Column::Utf8(self.arm.clone())),
            (
                x,
                Column::Float64(self.x.iter().map(|v| Some(*v)).collect()),
            ),
            (
                y,
                Column::Float64(self.y.iter().map(|v| Some(*v)).collect()),
            ),
        ];
        if let Some(n) = n {
            cols.push((n, Column::Int64(self.n.clone())));
        }
        Table(cols)
    }
}

/// ROC points of every arm in every replicate (about 300 per curve).
pub fn roc_rows(data: &[PlotData]) -> CurveRows {
    let mut t = CurveRows::default();
    for (i, d) in data.iter().enumerate() {
        for a in &d.arms {
            for (x, y) in metrics::roc_points(&a.probs, &d.labels, 300) {
                t.push(Some(i as i32 + 1), &a.family, &a.arm, x, y, 0);
            }
        }
    }
    t
}

/// Calibration by decile of predicted probability, per arm and replicate:
/// mean predicted, observed NSF rate, users in the bin.
pub fn calibration_rows(data: &[PlotData]) -> CurveRows {
    let mut t = CurveRows::default();
    for (i, d) in data.iter().enumerate() {
        let size = d.labels.len().div_ceil(10).max(1);
        for a in &d.arms {
            let pts = metrics::calibration_points(&a.probs, &d.labels, 10);
            for (b, (x, y)) in pts.into_iter().enumerate() {
                let n = size.min(d.labels.len().saturating_sub(b * size)) as i64;
                t.push(Some(i as i32 + 1), &a.family, &a.arm, x, y, n);
            }
        }
    }
    t
}

/// Test users at each score 0–100, per arm and replicate (x = score, y =
/// share, n = users).
pub fn histogram_rows(data: &[PlotData]) -> CurveRows {
    let mut t = CurveRows::default();
    for (i, d) in data.iter().enumerate() {
        for a in &d.arms {
            let mut counts = [0i64; 101];
            for &p in &a.probs {
                counts[(crate::models::train::score_of(p) as usize).min(100)] += 1;
            }
            let total = a.probs.len().max(1) as f64;
            for (s, &c) in counts.iter().enumerate() {
                t.push(
                    Some(i as i32 + 1),
                    &a.family,
                    &a.arm,
                    s as f64,
                    c as f64 / total,
                    c,
                );
            }
        }
    }
    t
}

/// Cost curves per replicate and their mean (replicate null).
pub fn cost_curve_rows(r: &ExperimentResult) -> CurveRows {
    let mut t = CurveRows::default();
    for (i, rep) in r.replicates.iter().enumerate() {
        for a in &rep.arms {
            for &(x, y) in &a.cost_curve {
                t.push(Some(i as i32 + 1), &a.family, &a.arm, x, y, 0);
            }
        }
    }
    for a in &r.summary {
        for &(x, y) in &a.cost_curve {
            t.push(None, &a.family, &a.arm, x, y, 0);
        }
    }
    t
}

/// Per-user test predictions of every arm × family × replicate.
pub fn predictions_table(data: &[PlotData]) -> Table {
    let (mut rep, mut user, mut fam, mut arm) = (vec![], vec![], vec![], vec![]);
    let (mut prob, mut score, mut nsf) = (vec![], vec![], vec![]);
    for (i, d) in data.iter().enumerate() {
        for a in &d.arms {
            for (k, &p) in a.probs.iter().enumerate() {
                rep.push(Some(i as i32 + 1));
                user.push(d.user_id[k]);
                fam.push(a.family.clone());
                arm.push(a.arm.clone());
                prob.push(Some(p));
                score.push(Some(crate::models::train::score_of(p) as i32));
                nsf.push(Some(d.labels[k]));
            }
        }
    }
    Table(vec![
        ("replicate", Column::Int32(rep)),
        ("user_id", Column::UInt64(user)),
        ("family", Column::Utf8(fam)),
        ("arm", Column::Utf8(arm)),
        ("prob", Column::Float64(prob)),
        ("score", Column::Int32(score)),
        ("nsf", Column::Boolean(nsf)),
    ])
}

/// Writes every tidy table of a run into `dir`; returns the file names.
pub fn write_run_tables(
    dir: &Path,
    r: &ExperimentResult,
    data: &[PlotData],
    export_predictions: bool,
) -> Result<Vec<String>> {
    let metrics = metrics_table(r)?;
    let mut tables: Vec<(&str, Table)> = vec![
        ("subgroups.parquet", subgroups_table(r)),
        ("learning_curve.parquet", learning_curve_table(r)),
        ("roc.parquet", roc_rows(data).table("fpr", "tpr", None)),
        (
            "calibration.parquet",
            calibration_rows(data).table("mean_predicted", "observed_rate", Some("users")),
        ),
        (
            "score_histogram.parquet",
            histogram_rows(data).table("score", "share", Some("users")),
        ),
        (
            "cost_curve.parquet",
            cost_curve_rows(r).table("share_refused", "loss_krw_per_1000", None),
        ),
    ];
    if export_predictions {
        tables.push(("predictions.parquet", predictions_table(data)));
    }
    write_csv(&dir.join("metrics.csv"), &metrics)?;
    write_parquet(&dir.join("metrics.parquet"), &metrics)?;
    let mut names = vec!["metrics.parquet".to_string(), "metrics.csv".to_string()];
    for (name, t) in tables {
        write_parquet(&dir.join(name), &t)?;
        names.push(name.to_string());
    }
    Ok(names)
}

/// Label of one element of an audit array: its identifying strings.
fn item_label(v: &Value, index: usize) -> String {
    let parts: Vec<&str> = ["target", "attack", "attribute", "key", "grade"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_str))
        .collect();
    match v.get("training_users").and_then(Value::as_u64) {
        // A size of the same-family control.
        Some(n) if parts.is_empty() => format!("{n} training users"),
        _ if parts.is_empty() => index.to_string(),
        _ => parts.join(" / "),
    }
}

/// Every figure under `v`: `{value, ci95}` estimates with their interval,
/// plain numbers without; metric = the dotted path below the item.
fn audit_walk(v: &Value, section: &str, item: &str, path: &str, out: &mut AuditRows) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Number(n) => out.push(section, item, path, [n.as_f64(), None, None]),
        // Flags (the control's `leaks`) as 1 / 0.
        Value::Bool(b) => out.push(section, item, path, [Some(*b as u8 as f64), None, None]),
        Value::Object(o) => {
            if let (Some(x), Some(_)) = (o.get("value").and_then(Value::as_f64), o.get("ci95")) {
                let [lo, hi] = pair(o.get("ci95"));
                out.push(section, item, path, [Some(x), lo, hi]);
                return;
            }
            for (k, x) in o {
                if !["model", "params", "roc"].contains(&k.as_str()) {
                    audit_walk(x, section, item, &join(k), out);
                }
            }
        }
        // A short list of numbers (the balance's quantiles per grade).
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_number) => {
            for (i, x) in a.iter().enumerate() {
                out.push(
                    section,
                    item,
                    &format!("{path}[{i}]"),
                    [x.as_f64(), None, None],
                );
            }
        }
        Value::Array(a) if a.iter().all(Value::is_object) => {
            for (i, x) in a.iter().enumerate() {
                let label = item_label(x, i);
                let item = if item.is_empty() {
                    label
                } else {
                    format!("{item} / {label}")
                };
                audit_walk(x, section, &item, path, out);
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct AuditRows {
    section: Vec<String>,
    item: Vec<String>,
    metric: Vec<String>,
    value: Vec<Option<f64>>,
    low: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
}

impl AuditRows {
    fn push(&mut self, section: &str, item: &str, metric: &str, v: [Option<f64>; 3]) {
        self.section.push(section.into());
        self.item.push(item.into());
        self.metric.push(metric.into());
        self.value.push(v[0]);
        self.low.push(v[1]);
        self.high.push(v[2]);
    }
}

/// `audit.parquet`: every figure of `audit.json` in long format: section
/// (its top-level key), item (e.g. `trained / loss` for an attack, the
/// attribute's name), metric (path below the item), value, low, high.
pub fn audit_table(r: &crate::audit::AuditResult) -> Result<Table> {
    let v = as_json(r, "audit.json")?;
    let mut rows = AuditRows::default();
    for (k, x) in v.as_object().into_iter().flatten() {
        if !["model", "params"].contains(&k.as_str()) {
            let metric = if x.is_number() { k.as_str() } else { "" };
            audit_walk(x, k, "", metric, &mut rows);
        }
    }
    Ok(Table(vec![
        ("section", Column::Utf8(rows.section)),
        ("item", Column::Utf8(rows.item)),
        ("metric", Column::Utf8(rows.metric)),
        ("value", Column::Float64(rows.value)),
        ("low", Column::Float64(rows.low)),
        ("high", Column::Float64(rows.high)),
    ]))
}

/// Writes `audit.parquet` and `audit_roc.parquet` (the membership ROC
/// points: target, attack, fpr, tpr) into `dir`; returns the file names.
pub fn write_audit_tables(dir: &Path, r: &crate::audit::AuditResult) -> Result<Vec<String>> {
    write_parquet(&dir.join("audit.parquet"), &audit_table(r)?)?;
    let (mut target, mut attack, mut fpr, mut tpr) = (vec![], vec![], vec![], vec![]);
    for a in &r.membership.attacks {
        for &(x, y) in &a.roc {
            target.push(a.target.clone());
            attack.push(a.attack.clone());
            fpr.push(Some(x));
            tpr.push(Some(y));
        }
    }
    let roc = Table(vec![
        ("target", Column::Utf8(target)),
        ("attack", Column::Utf8(attack)),
        ("fpr", Column::Float64(fpr)),
        ("tpr", Column::Float64(tpr)),
    ]);
    write_parquet(&dir.join("audit_roc.parquet"), &roc)?;
    Ok(vec!["audit.parquet".into(), "audit_roc.parquet".into()])
}
