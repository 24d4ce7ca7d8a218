//! Issue 14's "missing values: each family handles them the documented
//! way": on a table with gaps, gbdt reads the gap itself (NaN: forust's
//! missing bin and learned default direction) while the logistic regression
//! keeps median + indicator; and money on a table is labelled in `units`
//! unless `--currency` names the unit (KRW is the simulator's).

mod common;

use std::path::{Path, PathBuf};

use common::{ok, s};
use nsfsim::data::table::{self, TableOptions};
use nsfsim::models::{FitData, ModelSpec, ScoreModel, StoredModel, gbdt};
use nsfsim::sim::rng::{Stream, normal, sigmoid, uniform, user_stream};

/// A table of `rows` rows: `x` (a gap in about a quarter of the rows, more
/// often when the latent risk is high: missing not at random), `z`, a
/// category `c` (one gap), a label `y` and a consent flag. Returns the file
/// and, per row, `x` (None when blank), `z` and the label.
fn gappy_csv(dir: &Path, rows: usize) -> (PathBuf, Vec<Option<f64>>, Vec<f64>, Vec<bool>) {
    let p = dir.join("gappy.csv");
    let mut text = String::from("y,x,z,c,ok\n");
    let (mut xs, mut zs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        let mut rng = user_stream(41, i as u64, Stream::Attributes, 0);
        let x = (100.0 * normal(&mut rng)).round() / 10.0;
        let z = (100.0 * normal(&mut rng)).round() / 10.0;
        let gap = uniform(&mut rng) < if x > 5.0 { 0.6 } else { 0.15 };
        let y = uniform(&mut rng) < sigmoid(-1.0 + 0.3 * x - 0.1 * z);
        let c = if i == 7 { "" } else { ["a", "b", "c"][i % 3] };
        let xt = if gap { String::new() } else { x.to_string() };
        text.push_str(&format!("{},{xt},{z},{c},{}\n", y as u8, i % 2));
        xs.push((!gap).then_some(x));
        zs.push(z);
        ys.push(y);
    }
    std::fs::write(&p, text).unwrap();
    (p, xs, zs, ys)
}

fn options() -> TableOptions {
    TableOptions {
        label: "y".into(),
        consent: Some("ok".into()),
        ..TableOptions::default()
    }
}

fn fit(name: &str, t: &table::Table, rows: &[usize], y: &[bool]) -> StoredModel {
    let attrs: Vec<String> = t.encodings.iter().map(|e| e.name().to_string()).collect();
    let d = FitData {
        x: t.design.x.view(),
        attributes: &attrs,
        rows,
        y,
        weights: None,
        seed: 9,
    };
    let spec = ModelSpec::parse(name).unwrap().check().unwrap();
    spec.fit(&d, &t.design.names, None).unwrap()
}

#[test]
fn gbdt_reads_gaps_natively_on_an_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let (path, xs, zs, ys) = gappy_csv(dir.path(), 3000);
    let t = table::load(&path, &options()).unwrap();
    assert_eq!(
        &t.design.names[..3],
        ["x", "x=missing", "z"],
        "median + indicator in the shared design"
    );
    let rows: Vec<usize> = (0..t.rows()).collect();
    let stored = fit("gbdt", &t, &rows, &ys);
    // Independently: the same columns built from the values written, with
    // NaN in the gaps, fitted by gbdt directly.
    let mut raw = t.design.x.clone();
    for (i, x) in xs.iter().enumerate() {
        raw[[i, 0]] = x.map_or(f32::NAN, |v| v as f32);
        assert_eq!(raw[[i, 1]], x.is_none() as u8 as f32, "indicator row {i}");
        assert_eq!(raw[[i, 2]], zs[i] as f32);
    }
    let direct = gbdt::fit(raw.view(), &rows, &ys, None, &Default::default(), 9).unwrap();
    let StoredModel::Gbdt { fitted, .. } = &stored else {
        panic!("not a gbdt model")
    };
    assert_eq!(fitted.json(), direct.json(), "gbdt was fitted on NaN gaps");
    let filled = gbdt::fit(t.design.x.view(), &rows, &ys, None, &Default::default(), 9).unwrap();
    assert_ne!(fitted.json(), filled.json(), "not on the median fill");
    // Scoring the design (median + indicator) reads the gaps as NaN too.
    let p = stored.predict(&t.design).unwrap();
    let q = direct.predict_proba(raw.view()).unwrap();
    assert!(p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()));
    // The logistic regression keeps median + indicator.
    let logistic = fit("logistic", &t, &rows, &ys);
    let StoredModel::Logistic { fitted, .. } = &logistic else {
        panic!("not a logistic model")
    };
    let reference = nsfsim::models::logistic::fit_rows(
        t.design.x.view(),
        &rows,
        &ys,
        None,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(fitted, &reference);
}

#[test]
fn gaps_are_not_restored_without_an_indicator() {
    let names: Vec<String> = ["log1p(balance_krw)", "c=missing", "age_years"]
        .map(String::from)
        .to_vec();
    let x = ndarray::Array2::<f32>::ones((4, 3));
    assert!(table::with_gaps(x.view(), &names).is_none());
    let names: Vec<String> = ["x", "x=missing", "c=b", "c=missing"]
        .map(String::from)
        .to_vec();
    let x = ndarray::array![[2.0f32, 1.0, 0.0, 1.0], [3.0, 0.0, 1.0, 0.0]];
    let g = table::with_gaps(x.view(), &names).unwrap();
    assert!(g[[0, 0]].is_nan());
    assert_eq!(g.row(1).to_vec(), vec![3.0, 0.0, 1.0, 0.0]);
    assert_eq!(g[[0, 2]], 0.0, "a categorical column keeps its 0/1");
}

fn table_run(dir: &Path, data: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("run{}", extra.len()));
    let mut args = vec![
        "compare",
        "--data",
        s(data),
        "--label",
        "y",
        "--consent",
        "ok",
        "--replicates",
        "1",
        "--set",
        "bootstrap=20",
        "--quiet",
        "--out",
        s(&out),
        "--registry",
    ];
    let reg = dir.join("reg");
    args.push(s(&reg));
    args.extend_from_slice(extra);
    ok(&args);
    out
}

/// Everything a reader sees of a run: report.md, report.html, the plots.
fn shown(out: &Path) -> String {
    let mut text = std::fs::read_to_string(out.join("report.md")).unwrap();
    text.push_str(&std::fs::read_to_string(out.join("report.html")).unwrap());
    for e in std::fs::read_dir(out.join("plots")).unwrap() {
        text.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
    }
    text
}

#[test]
fn own_table_money_is_in_units_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ..) = gappy_csv(dir.path(), 1200);
    let out = table_run(dir.path(), &path, &["--families", "logistic,gbdt"]);
    let text = shown(&out);
    assert!(!text.contains("KRW"), "a table's money is not KRW");
    assert!(text.contains("units per 1,000"));
    assert!(text.contains("gbdt reads the gap itself"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["spec"]["currency"], "units");
    let out = table_run(
        dir.path(),
        &path,
        &["--families", "logistic", "--currency", "EUR"],
    );
    let text = shown(&out);
    assert!(!text.contains("KRW") && text.contains("EUR per 1,000"));
    common::refused(
        &[
            "compare",
            "--data",
            s(&path),
            "--label",
            "y",
            "--consent",
            "ok",
            "--currency",
            "<b>",
            "--out",
            s(&dir.path().join("bad")),
        ],
        "currency",
    );
}
