//! Outputs other tools read and a command line as people expect it: tidy
//! tables agree with metrics.json value by value (read independently),
//! outputs validate against the checked-in JSON Schemas (which equal the
//! generated ones), CSV score files, the holdout column, completions,
//! `models list`, lineage, and report.html holding every report.md heading.

mod common;
use common::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use arrow_array::{
    Array, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray, UInt8Array,
    UInt64Array,
};
use serde_json::Value;

/// One small `compare` run (2 replicates, predictions exported), shared by
/// the tests of this file.
struct Run {
    _tmp: tempfile::TempDir,
    out: PathBuf,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        let reg = tmp.path().join("registry");
        let data = tmp.path().join("data");
        ok(&[
            "compare",
            "--quiet",
            "--set",
            "users=20000",
            "--set",
            "replicates=2",
            "--set",
            "bootstrap=20",
            "--export-predictions",
            "--out",
            s(&out),
            "--registry",
            s(&reg),
            "--data-root",
            s(&data),
        ]);
        Run { _tmp: tmp, out }
    })
}

/// A small data set and registry with one model trained on all users.
struct Models {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    reg: PathBuf,
    model: String,
}

fn models() -> &'static Models {
    static M: OnceLock<Models> = OnceLock::new();
    M.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let data = root.join("data");
        let reg = root.join("registry");
        generate("small", 8000, None, &data);
        let model = train_id(&data, &reg, &["--population", "all"]);
        Models {
            _tmp: tmp,
            root,
            data,
            reg,
            model,
        }
    })
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn read_parquet(p: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(p).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

type Key = (Option<i32>, String, String, String);
type Row = (Option<f64>, Option<f64>, Option<f64>);

/// The metrics table as a map (replicate, family, arm, metric) → (value,
/// low, high); refuses duplicate keys.
fn metric_map(batches: &[RecordBatch]) -> HashMap<Key, Row> {
    let mut m = HashMap::new();
    for b in batches {
        let rep = col::<Int32Array>(b, "replicate");
        let (arm, fam, met) = (
            col::<StringArray>(b, "arm"),
            col::<StringArray>(b, "family"),
            col::<StringArray>(b, "metric"),
        );
        let f = |name: &str, i: usize| {
            let c = col::<Float64Array>(b, name);
            (!c.is_null(i)).then(|| c.value(i))
        };
        for i in 0..b.num_rows() {
            let key = (
                (!rep.is_null(i)).then(|| rep.value(i)),
                fam.value(i).to_string(),
                arm.value(i).to_string(),
                met.value(i).to_string(),
            );
            let row = (f("value", i), f("low", i), f("high", i));
            assert!(m.insert(key.clone(), row).is_none(), "duplicate {key:?}");
        }
    }
    m
}

fn get(m: &HashMap<Key, Row>, rep: Option<i32>, fam: &str, arm: &str, metric: &str) -> Row {
    *m.get(&(rep, fam.into(), arm.into(), metric.into()))
        .unwrap_or_else(|| panic!("no row {rep:?} {fam} {arm} {metric}"))
}

#[test]
fn tidy_metrics_agree_with_metrics_json_value_by_value() {
    let r = run();
    let mj = json(&r.out.join("metrics.json"));
    let batches = read_parquet(&r.out.join("metrics.parquet"));
    let schema = batches[0].schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        [
            "replicate",
            "arm",
            "family",
            "metric",
            "value",
            "low",
            "high"
        ]
    );
    use arrow_schema::DataType::*;
    let types: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(types, [Int32, Utf8, Utf8, Utf8, Float64, Float64, Float64]);
    let m = metric_map(&batches);
    let num = |v: &Value| v.as_f64().unwrap();
    let mut checked = 0;
    for (i, rep) in mj["replicates"].as_array().unwrap().iter().enumerate() {
        let ri = Some(i as i32 + 1);
        for a in rep["arms"].as_array().unwrap() {
            let (fam, arm) = (a["family"].as_str().unwrap(), a["arm"].as_str().unwrap());
            let ev = &a["evaluation"];
            let g = |metric: &str| get(&m, ri, fam, arm, metric);
            assert_eq!(
                g("auc"),
                (
                    Some(num(&ev["auc"])),
                    Some(num(&a["auc_ci95"][0])),
                    Some(num(&a["auc_ci95"][1]))
                )
            );
            assert_eq!(
                g("auc_diff_vs_all"),
                (
                    Some(num(&a["auc_diff_vs_all"])),
                    Some(num(&a["auc_diff_ci95"][0])),
                    Some(num(&a["auc_diff_ci95"][1]))
                )
            );
            assert_eq!(
                g("loss_equal_rate_diff_vs_all").0,
                Some(num(&a["loss_equal_rate_diff_vs_all"]))
            );
            for k in ["gini", "ks", "brier", "ece", "oracle_auc"] {
                assert_eq!(g(k), (Some(num(&ev[k])), None, None), "{k}");
            }
            for k in [
                "training_members",
                "expected_loss_krw_per_1000",
                "calibration_slope",
            ] {
                assert_eq!(g(k), (Some(num(&a[k])), None, None), "{k}");
            }
            checked += 1;
        }
    }
    for a in mj["summary"].as_array().unwrap() {
        let (fam, arm) = (a["family"].as_str().unwrap(), a["arm"].as_str().unwrap());
        let iv = |v: &Value| {
            (
                Some(num(&v["mean"])),
                Some(num(&v["ci95"][0])),
                Some(num(&v["ci95"][1])),
            )
        };
        for k in [
            "auc",
            "auc_diff_vs_all",
            "loss_diff_vs_all",
            "ece",
            "psi_vs_all",
        ] {
            assert_eq!(get(&m, None, fam, arm, k), iv(&a[k]), "{arm} {k}");
        }
        if a["split"].is_object() {
            assert_eq!(
                get(&m, None, fam, arm, "selection_auc"),
                iv(&a["split"]["selection_auc"])
            );
        }
    }
    assert!(checked >= 2 * 2 * 6, "{checked}");
    // The CSV holds the same rows: read back with arrow-csv.
    let csv = std::fs::File::open(r.out.join("metrics.csv")).unwrap();
    let csv_schema = std::sync::Arc::new(batches[0].schema().as_ref().clone());
    let reader = arrow_csv::ReaderBuilder::new(csv_schema)
        .with_header(true)
        .build(csv)
        .unwrap();
    let from_csv: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(metric_map(&from_csv), m);
}

#[test]
fn subgroup_learning_curve_and_plot_tables_redraw_the_figures() {
    let r = run();
    let mj = json(&r.out.join("metrics.json"));
    let sub = read_parquet(&r.out.join("subgroups.parquet"));
    let mut found = 0;
    for b in &sub {
        let (rep, fam, dim, level, arm, metric) = (
            col::<Int32Array>(b, "replicate"),
            col::<StringArray>(b, "family"),
            col::<StringArray>(b, "dimension"),
            col::<StringArray>(b, "level"),
            col::<StringArray>(b, "arm"),
            col::<StringArray>(b, "metric"),
        );
        let value = col::<Float64Array>(b, "value");
        for i in 0..b.num_rows() {
            assert!(!dim.value(i).contains(' '), "{}", dim.value(i));
            if rep.is_null(i) && metric.value(i) == "auc_diff_vs_all" && arm.value(i) == "consented"
            {
                let label = format!("{} {}", dim.value(i), level.value(i));
                let g = mj["subgroups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| g["group"] == label.as_str() && g["family"] == fam.value(i))
                    .unwrap();
                let k = mj["spec"]["arms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .position(|a| a == "consented")
                    .unwrap();
                let want = g["auc_diff_vs_all"][k]["mean"].as_f64();
                if value.value(i).is_nan() {
                    assert_eq!(want, None, "NaN is null in metrics.json");
                } else {
                    assert_eq!(want, Some(value.value(i)));
                }
                found += 1;
            }
        }
    }
    assert!(found >= 6, "{found}");
    let lc: usize = read_parquet(&r.out.join("learning_curve.parquet"))
        .iter()
        .map(|b| b.num_rows())
        .sum();
    let want: usize = mj["replicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["learning_curve"].as_array().unwrap().len())
        .sum();
    assert_eq!(lc, want);
    // Score histogram: per replicate × family × arm the shares sum to 1 and
    // the users to the test users.
    let mut sums: HashMap<(i32, String, String), (f64, i64)> = HashMap::new();
    for b in read_parquet(&r.out.join("score_histogram.parquet")) {
        let (rep, fam, arm) = (
            col::<Int32Array>(&b, "replicate"),
            col::<StringArray>(&b, "family"),
            col::<StringArray>(&b, "arm"),
        );
        let share = col::<Float64Array>(&b, "share");
        let users = col::<arrow_array::Int64Array>(&b, "users");
        for i in 0..b.num_rows() {
            let e = sums
                .entry((rep.value(i), fam.value(i).into(), arm.value(i).into()))
                .or_default();
            e.0 += share.value(i);
            e.1 += users.value(i);
        }
    }
    assert_eq!(sums.len(), 2 * 2 * 9);
    for ((rep, _, _), (share, users)) in &sums {
        assert!((share - 1.0).abs() < 1e-9);
        let test_users = mj["replicates"][(*rep - 1) as usize]["test_users"]
            .as_i64()
            .unwrap();
        assert_eq!(*users, test_users);
    }
    for t in ["roc", "calibration", "cost_curve"] {
        let n: usize = read_parquet(&r.out.join(format!("{t}.parquet")))
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert!(n > 2 * 2 * 6 * 10, "{t}: {n} rows");
    }
}

/// AUC by pairwise comparison (ties count half).
fn auc(p: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&k| y[idx[k]]).count() as f64 * r;
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[test]
fn exported_predictions_reproduce_each_arms_auc() {
    let r = run();
    let mj = json(&r.out.join("metrics.json"));
    type Arm = (i32, String, String); // replicate, family, arm
    let mut by: HashMap<Arm, (Vec<f64>, Vec<bool>)> = HashMap::new();
    for b in read_parquet(&r.out.join("predictions.parquet")) {
        let (rep, fam, arm) = (
            col::<Int32Array>(&b, "replicate"),
            col::<StringArray>(&b, "family"),
            col::<StringArray>(&b, "arm"),
        );
        let (p, y) = (
            col::<Float64Array>(&b, "prob"),
            col::<BooleanArray>(&b, "nsf"),
        );
        col::<UInt64Array>(&b, "user_id");
        for i in 0..b.num_rows() {
            let e = by
                .entry((rep.value(i), fam.value(i).into(), arm.value(i).into()))
                .or_default();
            e.0.push(p.value(i));
            e.1.push(y.value(i));
        }
    }
    for (i, rep) in mj["replicates"].as_array().unwrap().iter().enumerate() {
        for a in rep["arms"].as_array().unwrap() {
            let key = (
                i as i32 + 1,
                a["family"].as_str().unwrap().to_string(),
                a["arm"].as_str().unwrap().to_string(),
            );
            let (p, y) = &by[&key];
            assert_eq!(p.len() as u64, rep["test_users"].as_u64().unwrap());
            let want = a["evaluation"]["auc"].as_f64().unwrap();
            assert!((auc(p, y) - want).abs() < 1e-9, "{key:?}");
        }
    }
}

/// Headings of Markdown `md` (lines starting with `#`), backticks removed.
fn md_headings(md: &str) -> Vec<String> {
    md.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().replace('`', ""))
        .collect()
}

/// Text of every `<hN>` element of `html`, tags stripped and unescaped.
fn html_headings(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<h") {
        let after = &rest[i + 2..];
        if after.starts_with(|c: char| ('1'..='6').contains(&c)) {
            let level = &after[..1];
            let start = after.find('>').unwrap() + 1;
            let end = after.find(&format!("</h{level}>")).unwrap();
            let mut text = String::new();
            let mut in_tag = false;
            for c in after[start..end].chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    _ if !in_tag => text.push(c),
                    _ => {}
                }
            }
            out.push(
                text.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&"),
            );
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    out
}

#[test]
fn report_html_holds_every_markdown_section() {
    let r = run();
    let md = std::fs::read_to_string(r.out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(r.out.join("report.html")).unwrap();
    let want = md_headings(&md);
    for h in ["Per replicate", "Learning curves", "Plots"] {
        assert!(want.iter().any(|w| w.starts_with(h)), "report.md lacks {h}");
    }
    assert!(want.iter().any(|w| w.starts_with("Who pays")));
    assert_eq!(html_headings(&html), want);
    let tables = |t: &str, pat: &str| t.matches(pat).count();
    assert_eq!(tables(&html, "<table>"), tables(&md, "\n|---|"));
    assert_eq!(tables(&html, "<svg"), tables(&md, "]("));
}

/// Errors of `v` against `schema` (`root` resolves `$ref`s): the JSON
/// Schema keywords schemars emits (`$ref`, `type`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `prefixItems`,
/// `minItems`, `maxItems`, `enum`, `const`, `anyOf`, `oneOf`, `allOf`,
/// `minimum`); an unknown keyword other than annotations fails the test.
fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(o) = schema.as_object() else {
        return;
    };
    let mut fail = |m: String| errors.push(format!("{at}: {m}"));
    for (k, want) in o {
        match k.as_str() {
            "$ref" => {
                let name = want.as_str().unwrap().trim_start_matches("#/$defs/");
                let mut e = Vec::new();
                check(root, &root["$defs"][name], v, at, &mut e);
                e.into_iter().for_each(&mut fail);
            }
            "type" => {
                let is = |t: &str| match t {
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "number" => v.is_number(),
                    "integer" => v.is_u64() || v.is_i64(),
                    "boolean" => v.is_boolean(),
                    "null" => v.is_null(),
                    _ => panic!("unknown type {t}"),
                };
                let ok = match want {
                    Value::String(t) => is(t),
                    Value::Array(ts) => ts.iter().any(|t| is(t.as_str().unwrap())),
                    _ => false,
                };
                if !ok {
                    fail(format!("{v} is not of type {want}"));
                }
            }
            "properties" => {
                for (name, sub) in want.as_object().unwrap() {
                    if let Some(x) = v.get(name) {
                        let mut e = Vec::new();
                        check(root, sub, x, &format!("{at}/{name}"), &mut e);
                        e.into_iter().for_each(&mut fail);
                    }
                }
            }
            "required" => {
                for name in want.as_array().unwrap() {
                    if v.is_object() && v.get(name.as_str().unwrap()).is_none() {
                        fail(format!("missing {name}"));
                    }
                }
            }
            "additionalProperties" if want == &Value::Bool(false) => {
                let known = o["properties"].as_object().unwrap();
                for name in v.as_object().into_iter().flat_map(|x| x.keys()) {
                    if !known.contains_key(name) {
                        fail(format!("unexpected property {name}"));
                    }
                }
            }
            "items" | "prefixItems" => {
                for (i, x) in v.as_array().into_iter().flatten().enumerate() {
                    let sub = if k == "items" { want } else { &want[i] };
                    let mut e = Vec::new();
                    check(root, sub, x, &format!("{at}/{i}"), &mut e);
                    e.into_iter().for_each(&mut fail);
                }
            }
            "minItems" | "maxItems" => {
                let n = v.as_array().map_or(0, |a| a.len()) as u64;
                let lim = want.as_u64().unwrap();
                if v.is_array() && ((k == "minItems" && n < lim) || (k == "maxItems" && n > lim)) {
                    fail(format!("{n} items, {k} {lim}"));
                }
            }
            "enum" if !want.as_array().unwrap().contains(v) => fail(format!("{v} not in {want}")),
            "const" if want != v => fail(format!("{v} is not {want}")),
            "minimum" if v.as_f64().is_some_and(|x| x < want.as_f64().unwrap()) => {
                fail(format!("{v} < {want}"))
            }
            "maximum" if v.as_f64().is_some_and(|x| x > want.as_f64().unwrap()) => {
                fail(format!("{v} > {want}"))
            }
            "anyOf" | "oneOf" | "allOf" => {
                let passing = want
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        check(root, sub, v, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                let n = want.as_array().unwrap().len();
                let ok = match k.as_str() {
                    "anyOf" => passing >= 1,
                    "oneOf" => passing == 1,
                    _ => passing == n,
                };
                if !ok {
                    fail(format!("{passing} of {n} {k} branches pass for {v}"));
                }
            }
            "$schema"
            | "$defs"
            | "title"
            | "description"
            | "format"
            | "default"
            | "additionalProperties"
            | "enum"
            | "const"
            | "minimum"
            | "maximum" => {}
            other => panic!("schema keyword {other} not checked by this test"),
        }
    }
}

/// Validates `instance` against the checked-in schema `schemas/<kind>.json`.
fn validate(kind: &str, instance: &Value) {
    let schema = json(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schemas/{kind}.json")));
    let mut errors = Vec::new();
    check(&schema, &schema, instance, "", &mut errors);
    errors.truncate(5);
    assert!(errors.is_empty(), "{kind}: {errors:#?}");
}

/// The validator itself rejects what it should.
#[test]
fn schema_check_rejects_wrong_outputs() {
    let schema = json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/model-manifest.json"));
    let m = models();
    let good = json(&m.reg.join(&m.model).join("manifest.json"));
    let errs = |v: &Value| {
        let mut e = Vec::new();
        check(&schema, &schema, v, "", &mut e);
        e
    };
    assert!(errs(&good).is_empty(), "{:?}", errs(&good));
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("family");
    assert!(!errs(&bad).is_empty());
    let mut bad = good.clone();
    bad["training_members"]["count"] = Value::from("many");
    assert!(!errs(&bad).is_empty());
    let mut bad = good;
    bad["metrics"]["bands"] = Value::from(3);
    assert!(!errs(&bad).is_empty());
}

#[test]
fn checked_in_schemas_equal_the_generated_ones_and_outputs_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for kind in [
        "metrics",
        "audit",
        "model-manifest",
        "data-manifest",
        "scores-manifest",
        "destruction",
    ] {
        let generated = ok(&["schema", "--json-schema", kind]);
        let path = dir.join(format!("{kind}.json"));
        if std::env::var_os("NSFSIM_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "schemas/{kind}.json differs from `nsfsim schema --json-schema {kind}`; rerun with NSFSIM_UPDATE_SCHEMAS=1"
        );
    }
    refused(&["schema", "--json-schema", "nope"], "--json-schema");
    let r = run();
    validate("metrics", &json(&r.out.join("metrics.json")));
    let m = models();
    validate("data-manifest", &json(&m.data.join("manifest.json")));
    validate(
        "model-manifest",
        &json(&m.reg.join(&m.model).join("manifest.json")),
    );
    let scores = m.root.join("schema-scores.parquet");
    ok(&[
        "score",
        "--model",
        &m.model,
        "--data",
        s(&m.data),
        "--out",
        s(&scores),
        "--registry",
        s(&m.reg),
        "--force",
    ]);
    validate(
        "scores-manifest",
        &json(&m.root.join("schema-scores.parquet.manifest.json")),
    );
    // An audit and a destruction order on their own model and registry.
    let reg = m.root.join("audit-registry");
    let id = train_id(&m.data, &reg, &["--population", "registered"]);
    let out = m.root.join("audit");
    ok(&[
        "audit",
        "--quiet",
        "--model",
        &id,
        "--data",
        s(&m.data),
        "--out",
        s(&out),
        "--registry",
        s(&reg),
        "--eval-users",
        "300",
        "--shadows",
        "4",
        "--bootstrap",
        "20",
        "--control-users",
        "200",
        "--attribute-users",
        "2000",
    ]);
    let audit = json(&out.join("audit.json"));
    validate("audit", &audit);
    assert!(read_parquet(&out.join("audit.parquet"))[0].num_rows() > 10);
    audit_parquet_has_the_issue_13_fields(&out, &audit);
    ok(&with_order(&[
        "destroy",
        "--model",
        &id,
        "--registry",
        s(&reg),
        "--runs",
        s(&m.root.join("none")),
    ]));
    validate(
        "destruction",
        &json(&reg.join("destroyed").join(format!("{id}.json"))),
    );
}

#[test]
fn score_writes_csv_for_a_csv_name_with_the_holdout_split_of_evaluate() {
    let m = models();
    let csv = m.root.join("scores.csv");
    let pq = m.root.join("scores.parquet");
    for out in [&csv, &pq] {
        ok(&[
            "score",
            "--model",
            &m.model,
            "--data",
            s(&m.data),
            "--out",
            s(out),
            "--registry",
            s(&m.reg),
            "--force",
            "--quiet",
        ]);
    }
    assert!(!std::fs::read(&csv).unwrap().starts_with(b"PAR1"));
    let file = std::fs::File::open(&csv).unwrap();
    let (schema, _) = arrow_csv::reader::Format::default()
        .with_header(true)
        .infer_schema(file, None)
        .unwrap();
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["user_id", "score", "prob", "holdout", "nsf"]);
    let reader = arrow_csv::ReaderBuilder::new(std::sync::Arc::new(schema))
        .with_header(true)
        .build(std::fs::File::open(&csv).unwrap())
        .unwrap();
    let from_csv: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let from_pq = read_parquet(&pq);
    let rows = |b: &[RecordBatch]| b.iter().map(|x| x.num_rows()).sum::<usize>();
    assert_eq!(rows(&from_csv), 8000);
    assert_eq!(rows(&from_pq), 8000);
    // Same probabilities and flags in both formats.
    let pq_prob: Vec<f64> = from_pq
        .iter()
        .flat_map(|b| col::<Float64Array>(b, "prob").values().to_vec())
        .collect();
    let csv_prob: Vec<f64> = from_csv
        .iter()
        .flat_map(|b| col::<Float64Array>(b, "prob").values().to_vec())
        .collect();
    assert_eq!(pq_prob, csv_prob);
    // The holdout flag is evaluate's split: registered held-out users, the
    // same count and AUC as `evaluate --population registered`.
    let users = read_parquet(&m.data.join("users.parquet"));
    let registered: Vec<bool> = users
        .iter()
        .flat_map(|b| {
            col::<BooleanArray>(b, "apple_registered")
                .iter()
                .map(|v| v.unwrap())
        })
        .collect();
    let (mut p, mut y) = (Vec::new(), Vec::new());
    let mut k = 0;
    for b in &from_pq {
        let (h, prob, nsf) = (
            col::<BooleanArray>(b, "holdout"),
            col::<Float64Array>(b, "prob"),
            col::<BooleanArray>(b, "nsf"),
        );
        col::<UInt8Array>(b, "score");
        for i in 0..b.num_rows() {
            if h.value(i) && registered[k] {
                p.push(prob.value(i));
                y.push(nsf.value(i));
            }
            k += 1;
        }
    }
    let ev: Value = serde_json::from_str(&ok(&[
        "evaluate",
        "--model",
        &m.model,
        "--data",
        s(&m.data),
        "--json",
        "--registry",
        s(&m.reg),
    ]))
    .unwrap();
    assert_eq!(p.len() as u64, ev["users"].as_u64().unwrap());
    assert!((auc(&p, &y) - ev["auc"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = ok(&["completions", shell]);
        assert!(out.contains("nsfsim"), "{shell}");
        assert!(
            out.contains("compare") && out.contains("lineage"),
            "{shell}"
        );
    }
    refused(&["completions", "tcsh"], "tcsh");
}

#[test]
fn train_help_lists_every_family() {
    let help = ok(&["train", "--help"]);
    for f in ["logistic", "scorecard", "gbdt"] {
        assert!(help.contains(f), "{f}: {help}");
    }
}

#[test]
fn models_list_is_an_aligned_table_and_survives_head() {
    let m = models();
    let list = ok(&["models", "list", "--registry", s(&m.reg)]);
    let lines: Vec<&str> = list.lines().collect();
    let header = lines[0];
    for h in [
        "ID",
        "family",
        "population",
        "features",
        "members",
        "AUC",
        "created from",
    ] {
        assert!(header.contains(h), "{header}");
    }
    assert!(lines.len() >= 2 && lines[1].starts_with(&m.model), "{list}");
    // Left-aligned columns start where their header does.
    for h in ["family", "population", "created from"] {
        let at = header.find(h).unwrap();
        for l in &lines[1..] {
            let b = l.as_bytes();
            assert!(
                b[at - 1] == b' ' && b[at] != b' ',
                "`{h}` misaligned in `{l}`"
            );
        }
    }
    // Right-aligned numbers end where their header ends.
    let end = header.find("AUC").unwrap() + 3;
    for l in &lines[1..] {
        let b = l.as_bytes();
        assert!(
            b[end - 1] != b' ' && b[end] == b' ',
            "AUC misaligned in `{l}`"
        );
    }
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' models list --registry '{}' | head -1",
            env!("CARGO_BIN_EXE_nsfsim"),
            s(&m.reg)
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim_end(),
        header.trim_end()
    );
}

#[test]
fn lineage_and_show_name_parents_and_children() {
    let m = models();
    let reg = m.root.join("lineage-registry");
    let a = train_id(&m.data, &reg, &["--population", "all"]);
    let w = train_id(
        &m.data,
        &reg,
        &["--population", "registered", "--warm-start", &a],
    );
    let scores = m.root.join("lineage-scores.parquet");
    ok(&[
        "score",
        "--model",
        &w,
        "--data",
        s(&m.data),
        "--out",
        s(&scores),
        "--registry",
        s(&reg),
        "--force",
    ]);
    let shown: Value =
        serde_json::from_str(&ok(&["models", "show", &a, "--registry", s(&reg)])).unwrap();
    assert_eq!(shown["children"][0]["id"], w.as_str());
    let shown: Value =
        serde_json::from_str(&ok(&["models", "show", &w, "--registry", s(&reg)])).unwrap();
    assert_eq!(shown["parents"][0], a.as_str());
    assert_eq!(shown["children"][0]["kind"], "scores");
    let dot = ok(&["models", "lineage", &w, "--dot", "--registry", s(&reg)]);
    assert!(dot.starts_with("digraph lineage {") && dot.trim_end().ends_with('}'));
    let edges: Vec<(String, String)> = dot
        .lines()
        .filter_map(|l| l.trim().strip_suffix(';')?.split_once(" -> "))
        .map(|(p, c)| {
            (
                p.trim_matches('"').to_string(),
                c.trim_matches('"').to_string(),
            )
        })
        .collect();
    assert_eq!(edges.len(), 2, "{dot}");
    assert!(edges.contains(&(a.clone(), w.clone())), "{dot}");
    assert!(edges.iter().any(|(p, c)| p == &w && c != &a), "{dot}");
    for l in dot.lines().skip(2) {
        let l = l.trim();
        assert!(l == "}" || l.ends_with(';'), "{l}");
    }
    let text = ok(&["models", "lineage", &a, "--registry", s(&reg)]);
    assert!(text.contains(&format!("model {a} ")) && text.contains(&format!("-> model {w}")));
    assert!(text.contains("-> scores "), "{text}");
}

/// Issue 13: the audit's new figures (the same-family control per size,
/// disclosure per grade, the raw-scale R²) are rows of `audit.parquet`,
/// equal to `audit.json`'s.
fn audit_parquet_has_the_issue_13_fields(out: &Path, audit: &Value) {
    type Key = (String, String, String);
    let mut rows: HashMap<Key, (Option<f64>, Option<f64>)> = HashMap::new();
    for b in read_parquet(&out.join("audit.parquet")) {
        let (sec, item, metric) = (
            col::<StringArray>(&b, "section"),
            col::<StringArray>(&b, "item"),
            col::<StringArray>(&b, "metric"),
        );
        let (v, lo) = (
            col::<Float64Array>(&b, "value"),
            col::<Float64Array>(&b, "low"),
        );
        for i in 0..b.num_rows() {
            let key = (
                sec.value(i).into(),
                item.value(i).into(),
                metric.value(i).into(),
            );
            let low = (!lo.is_null(i)).then(|| lo.value(i));
            rows.insert(key, ((!v.is_null(i)).then(|| v.value(i)), low));
        }
    }
    let get = |s: &str, i: &str, m: &str| {
        *rows
            .get(&(s.into(), i.into(), m.into()))
            .unwrap_or_else(|| panic!("audit.parquet lacks {s} / {i} / {m}"))
    };
    let size = &audit["same_family_control"]["sizes"][0];
    let item = format!("{} training users", size["training_users"]);
    let (v, lo) = get("same_family_control", &item, "sizes.attack_auc");
    assert_eq!(v, size["attack_auc"]["value"].as_f64());
    assert_eq!(lo, size["attack_auc"]["ci95"][0].as_f64());
    let leaks = size["leaks"].as_bool().unwrap() as u8 as f64;
    assert_eq!(
        get("same_family_control", &item, "sizes.leaks").0,
        Some(leaks)
    );
    get("same_family_control", &item, "sizes.canaries_found_share");
    let a = &audit["disclosure"][0];
    let g = a["grade"].as_str().unwrap();
    assert_eq!(
        get("disclosure", g, "p_zero_balance").0,
        a["p_zero_balance"].as_f64()
    );
    assert_eq!(
        get("disclosure", g, "balance_quantiles_krw[1]").0,
        a["balance_quantiles_krw"][1].as_f64()
    );
    let (raw, _) = get("attributes", "balance_krw", "r2_score_raw");
    assert!(raw.is_some());
}
