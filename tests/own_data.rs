//! Your own data (README, "Your own data"): `compare --data` on the real
//! German credit table (tests/data, CC BY 4.0) with a simulated consent
//! flag, every Parquet codec and CSV read alike, `train`/`score` on table
//! files, and one clear line per bad input.

mod common;

use std::path::{Path, PathBuf};

use common::{nsfsim, ok, refused, s};
use std::sync::Arc;

use nsfsim::data::table::{Values, read_table};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: generate the fixtures with `python3 notebooks/export_real_data.py --from-csv`",
        p.display()
    );
    p
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

const GERMAN: [&str; 6] = [
    "--label",
    "creditability",
    "--positive",
    "bad",
    "--simulate-consent",
    "attributes",
];

#[test]
fn german_credit_compare_with_simulated_consent() {
    let dir = tempfile::tempdir().unwrap();
    let (out, reg) = (dir.path().join("run"), dir.path().join("reg"));
    let data = fixture("german_credit.parquet");
    let mut args = vec!["compare", "--data", s(&data)];
    args.extend(GERMAN);
    args.extend([
        "--minimal",
        "duration_in_month,credit_amount,age_in_years",
        "--replicates",
        "2",
        "--families",
        "logistic,scorecard",
        "--quiet",
        "--out",
        s(&out),
        "--registry",
        s(&reg),
    ]);
    ok(&args);
    let m = json(&out.join("metrics.json"));
    let own = &m["own_data"];
    assert_eq!(own["rows"], 1000);
    assert_eq!(own["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(own["simulated_consent"]["mechanism"], "attributes");
    assert!((own["positive_share"].as_f64().unwrap() - 0.3).abs() < 1e-12);
    let all = m["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == "all" && a["family"] == "logistic")
        .unwrap();
    let auc = all["auc"]["mean"].as_f64().unwrap();
    assert!((0.7..0.9).contains(&auc), "German credit AUC {auc}");
    // No ground truth: the oracle is left out, and the report says so.
    assert!(m["replicates"][0]["arms"][0]["evaluation"]["oracle_auc"].is_null());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("no true outcome probability"), "{report}");
    // The run manifest holds the file's SHA-256 and the column table.
    let manifest = json(&out.join("manifest.json"));
    assert_eq!(manifest["data"][0]["own_data"]["sha256"], own["sha256"]);
    assert!(
        manifest["data"][0]["own_data"]["columns"]
            .as_array()
            .unwrap()
            .len()
            == 21
    );
    // Every arm is registered with its lineage: `models show` finds it.
    let id = m["replicates"][0]["arms"][0]["model_id"].as_str().unwrap();
    ok(&["models", "show", id, "--registry", s(&reg)]);
}

#[test]
fn every_codec_and_csv_reads_the_same_table() {
    let dir = fixture("codecs");
    let read = |name: &str| {
        let path = dir.join(name);
        let t = read_table(&path).unwrap();
        // The digest is of the file read (sha2 over the whole file here).
        let want = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
        assert_eq!(t.sha256, want, "{name}");
        t.columns
    };
    let reference = read("german40_snappy.parquet");
    for codec in ["gzip", "zstd", "lz4", "brotli", "none", "plain"] {
        let t = read(&format!("german40_{codec}.parquet"));
        assert_eq!(t, reference, "{codec}");
    }
    // Nullable columns: two missing durations, one missing housing.
    let col = |name: &str| reference.iter().find(|c| c.name == name).unwrap();
    let missing = |v: &Values| (0..v.len()).filter(|&i| v.is_missing(i)).count();
    assert_eq!(missing(&col("duration_in_month").values), 2);
    assert_eq!(missing(&col("housing").values), 1);
    // CSV: the same values (numbers and text), the same gaps.
    let csv = read("german40.csv");
    assert_eq!(csv.len(), reference.len());
    for (a, b) in csv.iter().zip(&reference) {
        assert_eq!(a.name, b.name);
        for i in 0..a.values.len() {
            assert_eq!(a.values.text(i), b.values.text(i), "{} row {i}", a.name);
        }
    }
}

#[test]
fn train_and_score_a_table_file() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let data = fixture("german_credit.parquet");
    let mut args = vec!["train", "--data", s(&data), "--registry", s(&reg)];
    args.extend(&GERMAN[..4]);
    args.extend(["--quiet"]);
    let id = ok(&args).trim().lines().last().unwrap().to_string();
    let out = dir.path().join("scores.csv");
    ok(&[
        "score",
        "--model",
        &id,
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--registry",
        s(&reg),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("user_id,score,prob,holdout,nsf"),
        "{}",
        &text[..80]
    );
    assert_eq!(text.lines().count(), 1001);
}

/// `train --data TABLE` recorded an oracle AUC of 1.0 (the table's label
/// stood in for the true probability): a table has no oracle, so the
/// model's manifest, `models show` and the training line claim none. A
/// rewritten nsfsim data set keeps its real oracle (tests/python).
#[test]
fn a_model_trained_on_a_table_claims_no_oracle_auc() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let data = fixture("german_credit.parquet");
    let mut args = vec!["train", "--data", s(&data), "--registry", s(&reg)];
    args.extend(&GERMAN[..4]);
    let o = nsfsim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!err.contains("oracle"), "{err}");
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let m = json(&reg.join(&id).join("manifest.json"));
    assert!(m["metrics"]["auc"].as_f64().unwrap() > 0.5, "{m}");
    assert!(m["metrics"]["oracle_auc"].is_null(), "{}", m["metrics"]);
    // The manifest reads back (the registry recomputes the ID from it).
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["models", "show", &id, "--registry", s(&reg)])).unwrap();
    assert!(shown["metrics"]["oracle_auc"].is_null(), "{shown}");
}

/// A CSV of `rows` rows with a label, a text column and a number.
fn small_csv(dir: &Path, rows: usize, label: impl Fn(usize) -> String) -> PathBuf {
    let p = dir.join("t.csv");
    let mut s = String::from("y,colour,amount,consent\n");
    for i in 0..rows {
        let colour = ["red", "blue", "green"][i % 3];
        s.push_str(&format!(
            "{},{colour},{},{}\n",
            label(i),
            i * 7 % 100,
            i % 2
        ));
    }
    std::fs::write(&p, s).unwrap();
    p
}

fn compare_refused(data: &Path, extra: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (out, reg) = (dir.path().join("run"), dir.path().join("reg"));
    let mut args = vec!["compare", "--data", s(data), "--quiet"];
    args.extend_from_slice(extra);
    args.extend(["--out", s(&out), "--registry", s(&reg)]);
    refused(&args, needle);
}

#[test]
fn label_not_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = small_csv(dir.path(), 300, |i| (i % 3).to_string());
    compare_refused(
        &p,
        &["--label", "y", "--consent", "consent"],
        "label `y` is not binary",
    );
}

#[test]
fn consent_not_boolean_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = small_csv(dir.path(), 300, |i| (i % 2).to_string());
    compare_refused(
        &p,
        &["--label", "y", "--consent", "colour"],
        "--consent column `colour` is not boolean",
    );
}

#[test]
fn too_few_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = small_csv(dir.path(), 50, |i| (i % 2).to_string());
    compare_refused(
        &p,
        &["--label", "y", "--consent", "consent"],
        "at least 100 are needed",
    );
}

#[test]
fn unknown_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = small_csv(dir.path(), 300, |i| (i % 2).to_string());
    compare_refused(
        &p,
        &["--label", "nope", "--consent", "consent"],
        "no column `nope`",
    );
    compare_refused(
        &p,
        &[
            "--label",
            "y",
            "--consent",
            "consent",
            "--features",
            "amount,size",
        ],
        "no column `size`",
    );
}

#[test]
fn no_positive_in_the_target_test_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // One positive row among 300: the stratified test set gets none.
    let p = small_csv(dir.path(), 300, |i| ((i == 5) as u8).to_string());
    compare_refused(
        &p,
        &["--label", "y", "--consent", "consent"],
        "has no positive label",
    );
}

#[test]
fn a_label_with_two_words_needs_positive() {
    let data = fixture("german_credit.parquet");
    compare_refused(
        &data,
        &["--label", "creditability", "--simulate-consent", "random"],
        "--positive",
    );
}

#[test]
fn identifier_like_and_text_columns_are_not_features_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ids.csv");
    let mut text = String::from("id,name,y,c,x\n");
    for i in 0..200 {
        text.push_str(&format!(
            "{i},person{i},{},{},{}\n",
            i % 2,
            (i / 2) % 2,
            i % 7
        ));
    }
    std::fs::write(&p, text).unwrap();
    compare_refused(
        &p,
        &["--label", "y", "--consent", "c", "--features", "x,name"],
        "column `name` cannot be a feature: it is identifier-like text",
    );
    let o = nsfsim(&[
        "compare",
        "--data",
        s(&p),
        "--label",
        "y",
        "--consent",
        "c",
        "--replicates",
        "1",
        "--families",
        "logistic",
        "--quiet",
        "--out",
        s(&dir.path().join("r")),
        "--registry",
        s(&dir.path().join("g")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The column table marks `id` and `name` identifier-like, unused.
    assert!(
        err.lines().any(|l| l.starts_with("name")
            && l.contains("identifier-like")
            && l.contains("unused")),
        "{err}"
    );
}

/// Issue 14: `audit` on a model trained with `train --data FILE` (it was
/// refused in one line): the attacks, the same-family control and the
/// attribute inference on the table's columns; the replacement cost under
/// the true probability and the simulator's attributes are left out, and
/// the report says so.
#[test]
fn audit_on_a_table_file_reports_attacks_and_attribute_inference() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, out) = (dir.path().join("reg"), dir.path().join("audit"));
    let data = fixture("german_credit.parquet");
    let mut args = vec![
        "train",
        "--data",
        s(&data),
        "--registry",
        s(&reg),
        "--quiet",
    ];
    args.extend(&GERMAN[..4]);
    let id = ok(&args).trim().lines().last().unwrap().to_string();
    ok(&[
        "audit",
        "--model",
        &id,
        "--data",
        s(&data),
        "--registry",
        s(&reg),
        "--out",
        s(&out),
        "--shadows",
        "8",
        "--bootstrap",
        "50",
        "--quiet",
    ]);
    let r = json(&out.join("audit.json"));
    let model = json(&reg.join(&id).join("manifest.json"));
    // Members: the 800-odd training rows; non-members: the held-out rows.
    assert_eq!(
        r["membership"]["training_members"],
        model["training_members"]["count"]
    );
    assert!(
        r["model"]["metrics"]["oracle_auc"].is_null(),
        "no oracle on a table"
    );
    let attacks = r["membership"]["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), 4, "{attacks:?}");
    for a in attacks {
        let auc = a["auc"]["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{a}");
    }
    // Attribute inference: one row per model column, from the score.
    let cols = model["feature_columns"].as_array().unwrap();
    let attrs = r["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), cols.len());
    assert_eq!(r["attribute_sample"], 1000);
    let best = attrs
        .iter()
        .map(|a| a["r2_score"]["value"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    assert!(best > 0.05, "the score carries nothing about any column?");
    assert_eq!(r["uniqueness"].as_array().unwrap().len(), 1);
    assert!(
        !r["same_family_control"]["sizes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Left out, and said so.
    assert!(r["replacement"].is_null());
    assert!(r["disclosure"].as_array().unwrap().is_empty());
    let left = r["left_out"].as_array().unwrap();
    assert!(
        left.iter()
            .any(|l| l.as_str().unwrap().contains("true NSF probability")),
        "{left:?}"
    );
    let md = std::fs::read_to_string(out.join("audit.md")).unwrap();
    assert!(md.contains("Left out"), "{md}");
    assert!(out.join("audit.parquet").is_file());
}

#[test]
fn a_table_run_is_byte_identical_at_1_2_and_8_threads() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let data = fixture("german_credit.parquet");
    let mut bytes = Vec::new();
    for t in ["1", "2", "8"] {
        let out = dir.path().join(format!("run{t}"));
        let mut args = vec!["compare", "--data", s(&data)];
        args.extend(GERMAN);
        args.extend(["--replicates", "2", "--threads", t, "--quiet"]);
        args.extend(["--out", s(&out), "--registry", s(&reg)]);
        ok(&args);
        bytes.push(std::fs::read(out.join("metrics.json")).unwrap());
    }
    assert!(bytes[0] == bytes[1] && bytes[1] == bytes[2]);
}

/// Regression (2026-12-04): the table reader decoded a file, then `train`
/// and `score` hashed it by path for the lineage (and scoring with stored
/// encodings read it a second time), so a file replaced or rewritten in
/// between was recorded under another file's SHA-256. Now the digest is of
/// the bytes decoded. A thread keeps swapping the file between two of one
/// length (Parquet, then CSV); every read is refused, or returns one
/// file's values with that file's digest, or (a read torn between the two)
/// a digest of neither.
#[test]
fn a_table_swapped_while_read_gives_the_hashed_file_or_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    for csv in [false, true] {
        let write = |base: i64| match csv {
            true => {
                let rows: String = (0..12).map(|i| format!("{i},{}\n", base + i)).collect();
                format!("id,x\n{rows}").into_bytes()
            }
            false => parquet_bytes(base),
        };
        let (a, b) = (write(1_000_001), write(2_000_001));
        let digest = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
        let (sha_a, sha_b) = (digest(&a), digest(&b));
        let path = dir.path().join(if csv { "t.csv" } else { "t.parquet" });
        let (read, refused) = common::while_swapped(&path, &a, &b, 2000, || {
            read_table(&path).map(|t| {
                let x = &t.columns.iter().find(|c| c.name == "x").unwrap().values;
                // A read torn between the two files hashes neither.
                let base = match &t.sha256 {
                    d if *d == sha_a => 1_000_001.0,
                    d if *d == sha_b => 2_000_001.0,
                    _ => return,
                };
                let want = Values::Number((0..12).map(|i| Some(base + i as f64)).collect());
                assert_eq!(x, &want, "values of one file under the other's digest");
            })
        });
        assert!(read > 0, "csv {csv}: {read} read, {refused} refused");
    }
}

/// A 12-row Parquet file of columns `id` and `x` (`base + row`), plain
/// and uncompressed, so files of other bases have one length.
fn parquet_bytes(base: i64) -> Vec<u8> {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use parquet::file::properties::WriterProperties;
    let col =
        |f: &dyn Fn(i64) -> i64| Arc::new(Int64Array::from_iter_values((0..12).map(f))) as ArrayRef;
    let batch =
        RecordBatch::try_from_iter([("id", col(&|i| i)), ("x", col(&|i| base + i))]).unwrap();
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .build();
    let mut out = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}
