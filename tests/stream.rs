//! Integration tests of `nsfsim stream` and `nsfsim stream-volume`, driving
//! the real binary and reading its Parquet files back independently.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow_array::{Array, Int64Array, StringArray, UInt32Array, UInt64Array};
use common::{nsfsim, ok, refused, s};
use nsfsim::data::artifact::{files_under, read_parquet_columns};

/// (date, user_id, category, count, amount)
type Row = (String, u64, String, u32, i64);

const USERS: &str = "40000";
/// Spans the case preset's snapshot window (as_of 2019-06-27).
const FROM: &str = "2019-06-20";
const TO: &str = "2019-07-02";

fn stream(out: &Path, shard: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "stream",
        "--preset",
        "case",
        "--users",
        USERS,
        "--from",
        FROM,
        "--to",
        TO,
        "--shard",
        shard,
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// Every row of every day file under a stream folder, with the date taken
/// from the partition path.
fn rows(dir: &Path) -> Vec<Row> {
    let mut out = Vec::new();
    for f in files_under(dir).unwrap() {
        let rel = f.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        if !rel.ends_with(".parquet") || rel.starts_with('_') {
            continue;
        }
        let date = rel
            .split('/')
            .next()
            .unwrap()
            .trim_start_matches("date=")
            .to_string();
        let cols = ["user_id", "category", "count", "amount_krw"];
        for b in read_parquet_columns(&f, &cols).unwrap() {
            let u = b.column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
            let c = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            let n = b.column(2).as_any().downcast_ref::<UInt32Array>().unwrap();
            let a = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                out.push((
                    date.clone(),
                    u.value(i),
                    c.value(i).into(),
                    n.value(i),
                    a.value(i),
                ));
            }
        }
    }
    out.sort();
    out
}

fn manifest(dir: &Path, k: u64, n: u64) -> serde_json::Value {
    let p = dir.join(format!("_manifests/shard={k}-of-{n}/manifest.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn shards_written_apart_are_the_one_process_stream() {
    let t = tempfile::tempdir().unwrap();
    let (one, many) = (t.path().join("one"), t.path().join("many"));
    stream(&one, "0/1", &[]);
    for k in 0..4 {
        stream(&many, &format!("{k}/4"), &["--threads", "1"]);
    }
    let (a, b) = (rows(&one), rows(&many));
    assert!(a.len() > 50_000, "{}", a.len());
    assert_eq!(a, b, "the union of 4 shards differs from one process");
    // No user in two shards; users split into contiguous ranges.
    let mut seen = BTreeSet::new();
    for k in 0..4 {
        let m = manifest(&many, k, 4);
        let r = m["user_range"].as_array().unwrap();
        let (lo, hi) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
        assert_eq!(lo, 10_000 * k);
        assert!(seen.insert(lo) && hi == lo + 10_000);
        assert_eq!(m["preset"]["name"], "case");
        assert_eq!(m["shard"]["count"], 4);
        // The manifest's hashes and sizes are the files'.
        for d in m["days"].as_array().unwrap() {
            let f = many.join(d["file"]["name"].as_str().unwrap());
            assert_eq!(
                nsfsim::data::artifact::sha256_file(&f).unwrap(),
                d["file"]["sha256"].as_str().unwrap()
            );
            assert_eq!(std::fs::metadata(&f).unwrap().len(), d["file"]["bytes"]);
        }
    }
    // Same shard at another thread count: byte-identical files.
    let again = t.path().join("again");
    stream(&again, "1/4", &["--threads", "2"]);
    let (x, y) = (manifest(&many, 1, 4), manifest(&again, 1, 4));
    assert_eq!(x["days"], y["days"]);
}

#[test]
fn manifest_tallies_match_the_rows_and_the_population() {
    let t = tempfile::tempdir().unwrap();
    let (st, pop) = (t.path().join("st"), t.path().join("pop"));
    stream(&st, "0/2", &[]);
    stream(&st, "1/2", &[]);
    ok(&[
        "generate",
        "--preset",
        "case",
        "--users",
        USERS,
        "--out",
        s(&pop),
        "--quiet",
    ]);
    let b = read_parquet_columns(
        &pop.join("users.parquet"),
        &["user_id", "apple_registered", "consented"],
    )
    .unwrap();
    let mut flags = BTreeMap::new();
    for batch in &b {
        let u = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        let r = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::BooleanArray>()
            .unwrap();
        let c = batch
            .column(2)
            .as_any()
            .downcast_ref::<arrow_array::BooleanArray>()
            .unwrap();
        for i in 0..u.len() {
            flags.insert(u.value(i), (r.value(i), c.value(i)));
        }
    }
    let all = rows(&st);
    let minimal = |c: &str| c == "topup" || c == "payment";
    let reg = all.iter().filter(|r| flags[&r.1].0).count() as u64;
    let con_min = all
        .iter()
        .filter(|r| flags[&r.1].1 && minimal(&r.2))
        .count() as u64;
    let out = ok(&[
        "stream-volume",
        "--stream",
        s(&st),
        "--population",
        s(&pop.join("users.parquet")),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &v["measured"];
    assert_eq!(m["rows"], all.len() as u64);
    assert_eq!(m["totals"]["rows_registered"], reg);
    assert_eq!(m["totals"]["rows_consented_minimal"], con_min);
    assert_eq!(
        m["users_registered"],
        flags.values().filter(|f| f.0).count() as u64
    );
    let sc = v["scenarios"].as_array().unwrap();
    assert_eq!(sc.len(), 6);
    let days = (TO[8..].parse::<f64>().unwrap() + 30.0) - FROM[8..].parse::<f64>().unwrap() + 1.0;
    let factor = 40_450_000.0 / USERS.parse::<f64>().unwrap();
    let want = all.len() as f64 / days * factor;
    assert!((sc[0]["rows_per_day"].as_f64().unwrap() - want).abs() < 1e-6 * want);
    assert_eq!(v["scale"]["days"], 1791);
    // Fewer rows for each narrower scenario; minimal records are smaller.
    let r = |i: usize| sc[i]["rows_per_day"].as_f64().unwrap();
    assert!(r(1) < r(0) && r(2) < r(0) && r(3) < r(0) && r(4) < r(1) && r(5) < r(2));
    let ub = &v["user_record_bytes"];
    assert!(ub["minimal_categories"].as_f64() < ub["all_categories"].as_f64());
}

#[test]
fn bad_input_is_refused_without_overwriting() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("st");
    let base = [
        "stream",
        "--preset",
        "small",
        "--users",
        "500",
        "--out",
        s(&out),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|x| x.to_string()).collect()
    };
    let run = |extra: &[&str], needle: &str| {
        let a = with(extra);
        let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
        refused(&a, needle);
    };
    run(
        &[
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--shard",
            "3/3",
        ],
        "--shard",
    );
    run(
        &["--from", "2020-01-01", "--to", "2020-01-02", "--shard", "x"],
        "--shard",
    );
    run(
        &[
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--shard",
            "0/0",
        ],
        "--shard",
    );
    run(&["--from", "2020-01-02", "--to", "2020-01-01"], "--to");
    run(&["--from", "2019-02-30", "--to", "2019-03-01"], "--from");
    run(
        &[
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--shard",
            "0/501",
        ],
        "--shard",
    );
    let days = ["--from", "2020-01-01", "--to", "2020-01-03"];
    let a = with(&days);
    let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    ok(&a);
    let before = rows(&out);
    refused(&a, "--force");
    assert_eq!(rows(&out), before, "a refused run changed the stream");
    let mut forced = a.clone();
    forced.push("--force");
    ok(&forced);
    assert_eq!(rows(&out), before);
    // A missing shard makes the volume refuse, naming it.
    let half = t.path().join("half");
    let h = [
        "stream",
        "--preset",
        "small",
        "--users",
        "500",
        "--from",
        "2020-01-01",
    ];
    let mut h: Vec<&str> = h.to_vec();
    h.extend(["--to", "2020-01-02", "--shard", "1/2", "--out", s(&half)]);
    ok(&h);
    refused(
        &["stream-volume", "--stream", s(&half)],
        "shard 0/2 is missing",
    );
    let o = nsfsim(&["stream-volume", "--stream", s(&t.path().join("none"))]);
    assert_eq!(o.status.code(), Some(2));
}
