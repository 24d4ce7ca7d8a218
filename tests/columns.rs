//! Reading a data set row group by row group (issue 17: the case's peak
//! memory) gives what reading the file whole gives: the same design matrix
//! and columns (checked against an independent element-by-element
//! computation from the whole file), the same identifier values, and the
//! same refusals, even when the bad values sit in later row groups.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt8Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use nsfsim::data::artifact::{FileRecord, read_parquet_columns};
use nsfsim::data::columns::{identifier_values, read_checked, read_model_columns};
use nsfsim::data::features::FeatureSet;
use nsfsim::sim::schema::REGIONS;

/// 300,000 users: three row groups (131,072 rows each at most).
fn population(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("pop");
    common::generate("default", 300_000, Some(11), &out);
    out
}

/// Every column as f64 through arrow's own cast (not nsfsim's reader).
fn as_f64(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for b in batches {
        let c = arrow_cast::cast(b.column_by_name(name).unwrap(), &DataType::Float64).unwrap();
        out.extend_from_slice(c.as_primitive::<Float64Type>().values());
    }
    out
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(name).unwrap().as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

/// The design matrix's columns computed element by element from the whole
/// file: one-hot regions (Seoul the base), iOS 0/1, raw age and tenure and
/// auto top-up, log1p of every other attribute.
fn expected_columns(batches: &[RecordBatch], attrs: &[String]) -> Vec<Vec<f32>> {
    let mut cols = Vec::new();
    for a in attrs {
        match a.as_str() {
            "region" => {
                let v = strings(batches, a);
                for r in &REGIONS[1..] {
                    cols.push(v.iter().map(|x| (x == r) as u8 as f32).collect());
                }
            }
            "device_os" => {
                let v = strings(batches, a);
                cols.push(v.iter().map(|x| (x == "ios") as u8 as f32).collect());
            }
            "age_years" | "account_age_days" | "auto_topup" => {
                cols.push(as_f64(batches, a).iter().map(|&v| v as f32).collect())
            }
            _ => cols.push(
                as_f64(batches, a)
                    .iter()
                    .map(|&v| v.max(0.0).ln_1p() as f32)
                    .collect(),
            ),
        }
    }
    cols
}

#[test]
fn row_groups_read_streamed_equal_the_whole_file_read_element_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let out = population(dir.path());
    let attrs = FeatureSet::Full.attributes().unwrap();
    let data = nsfsim::models::train::load_data(&out, &attrs).unwrap();
    let path = out.join("users.parquet");
    let mut names: Vec<&str> = attrs.iter().map(|s| s.as_str()).collect();
    names.extend([
        "user_id",
        "apple_registered",
        "consented",
        "nsf",
        "nsf_prob",
    ]);
    let whole = read_parquet_columns(&path, &names).unwrap();
    assert!(whole.len() >= 3, "the test needs several row groups");
    let n = data.rows();
    assert_eq!(n, 300_000);
    let ids: Vec<u64> = whole
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("user_id").unwrap();
            c.as_primitive::<UInt64Type>().values().to_vec()
        })
        .collect();
    assert_eq!(data.user_id, ids);
    let flag =
        |name: &str| -> Vec<bool> { as_f64(&whole, name).iter().map(|&v| v != 0.0).collect() };
    assert_eq!(data.registered, flag("apple_registered"));
    assert_eq!(data.consented, flag("consented"));
    assert_eq!(data.nsf, flag("nsf"));
    let prob = as_f64(&whole, "nsf_prob");
    assert!(
        data.nsf_prob
            .iter()
            .zip(&prob)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    let want = expected_columns(&whole, &attrs);
    assert_eq!(data.design.x.dim(), (n, want.len()));
    for (j, col) in want.iter().enumerate() {
        for (i, &v) in col.iter().enumerate() {
            assert_eq!(
                data.design.x[[i, j]].to_bits(),
                v.to_bits(),
                "row {i}, column {}",
                data.design.names[j]
            );
        }
    }
}

#[test]
fn identifier_values_at_unsorted_rows_equal_the_whole_file_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = population(dir.path());
    let path = out.join("users.parquet");
    let manifest = nsfsim::data::generate::read_manifest(&out).unwrap();
    let names = ["account_id", "customer_no", "phone_sha256", "email_sha256"];
    let whole = read_parquet_columns(&path, &names).unwrap();
    // Unsorted, across every row group, with the last row and a repeat.
    let mut rows: Vec<usize> = (0..300_000).rev().step_by(7919).collect();
    rows.extend([0, 131_072, 299_999, 5]);
    let got = identifier_values(&path, &manifest.files[0], &names, &rows).unwrap();
    for (k, name) in names.iter().enumerate() {
        let all: Vec<f64> = whole
            .iter()
            .flat_map(|b| {
                let c = b.column_by_name(name).unwrap();
                match c.data_type() {
                    DataType::UInt64 => c
                        .as_primitive::<UInt64Type>()
                        .values()
                        .iter()
                        .map(|&v| v as f64)
                        .collect::<Vec<f64>>(),
                    _ => {
                        let f = c.as_fixed_size_binary();
                        (0..f.len())
                            .map(|i| u64::from_le_bytes(f.value(i)[..8].try_into().unwrap()) as f64)
                            .collect()
                    }
                }
            })
            .collect();
        let want: Vec<f64> = rows.iter().map(|&i| all[i]).collect();
        assert_eq!(got[k], want, "{name}");
    }
}

/// A file of 12 rows in row groups of 4, with `balance_krw` and the other
/// columns as given.
fn small_file(path: &Path, ids: Vec<u64>, prob: Vec<f64>, balance: Vec<Option<i64>>) {
    small_file_with(path, ids, prob, balance, vec![], true);
}

/// `small_file` with the columns `extra` after `balance_krw`, strings
/// dictionary-encoded (as pyarrow and nsfsim write them) or plain.
fn small_file_with(
    path: &Path,
    ids: Vec<u64>,
    prob: Vec<f64>,
    balance: Vec<Option<i64>>,
    extra: Vec<(&str, ArrayRef)>,
    dictionary: bool,
) {
    let n = ids.len();
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("user_id", Arc::new(UInt64Array::from(ids))),
        (
            "apple_registered",
            Arc::new(BooleanArray::from(vec![true; n])),
        ),
        ("consented", Arc::new(BooleanArray::from(vec![false; n]))),
        ("nsf", Arc::new(UInt8Array::from(vec![0u8; n]))),
        ("nsf_prob", Arc::new(Float64Array::from(prob))),
        ("balance_krw", Arc::new(Int64Array::from(balance))),
    ];
    cols.extend(extra);
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect()).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(4))
        .set_dictionary_enabled(dictionary)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The manifest record of `small_file`'s 12 rows at `path`, as written now.
fn small_record(path: &Path) -> FileRecord {
    FileRecord {
        name: "users.parquet".into(),
        rows: 12,
        bytes: std::fs::metadata(path).unwrap().len(),
        sha256: nsfsim::data::artifact::sha256_file(path).unwrap(),
    }
}

/// Reading `path` row group by row group for `attrs` is refused with the
/// message the whole-file read of `cols` gives, which contains `needle`.
fn assert_refused_as_whole(path: &Path, cols: &[&str], attrs: &[String], needle: &str) {
    let record = small_record(path);
    let whole = read_parquet_columns(path, cols).unwrap();
    assert_eq!(whole.len(), 3, "three row groups");
    let want = nsfsim::data::validate::check_batches(path, &record, &whole)
        .unwrap_err()
        .to_string();
    let got = read_model_columns(path, &record, attrs)
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(got, want);
    assert!(
        got.contains(needle) && got.contains("users.parquet"),
        "{got}"
    );
}

/// The columns `small_file` writes before `balance_krw`, then `attrs`.
fn small_cols<'a>(attrs: &[&'a str]) -> Vec<&'a str> {
    let mut cols = vec![
        "user_id",
        "apple_registered",
        "consented",
        "nsf",
        "nsf_prob",
    ];
    cols.extend(attrs);
    cols
}

#[test]
fn refusals_in_later_row_groups_read_as_the_whole_file_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.parquet");
    let attrs = vec!["balance_krw".to_string()];
    let cols = small_cols(&["balance_krw"]);
    let ok_ids: Vec<u64> = (0..12).collect();
    let ok_prob = vec![0.25; 12];
    let ok_bal: Vec<Option<i64>> = (0..12).map(Some).collect();
    let mut nulls = ok_bal.clone();
    (nulls[5], nulls[9]) = (None, None);
    let mut dup = ok_ids.clone();
    dup[10] = 3;
    let mut bad_prob = ok_prob.clone();
    bad_prob[11] = 1.5;
    let cases = [
        (
            ok_ids.clone(),
            ok_prob.clone(),
            nulls,
            "`balance_krw` has 2 null values",
        ),
        (dup, ok_prob.clone(), ok_bal.clone(), "repeats user 3"),
        (
            ok_ids.clone(),
            bad_prob,
            ok_bal.clone(),
            "`nsf_prob` has 1.5",
        ),
    ];
    for (ids, prob, bal, needle) in cases {
        small_file(&path, ids, prob, bal);
        assert_refused_as_whole(&path, &cols, &attrs, needle);
    }
    small_file(&path, ok_ids, ok_prob, ok_bal);
    let record = small_record(&path);
    let read = read_model_columns(&path, &record, &attrs).unwrap();
    assert_eq!(read.design.names, ["log1p(balance_krw)"]);
    let bad_rows = FileRecord { rows: 13, ..record };
    let e = read_model_columns(&path, &bad_rows, &attrs).err().unwrap();
    assert!(
        e.to_string().contains("has 12 rows; its manifest says 13"),
        "{e}"
    );
}

/// `region` and `device_os` are read as dictionaries row group by row group
/// (`columns::RowGroups`): their design columns, their unknown categories
/// (named at their first row, in a later row group) and their nulls and
/// wrong types are what reading the file whole as strings gives, whether
/// the file's pages are dictionary-encoded or plain.
#[test]
fn categories_read_as_dictionaries_equal_and_refuse_as_strings_do() {
    use arrow_array::StringArray;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.parquet");
    let attrs = vec!["region".to_string(), "device_os".to_string()];
    let cols = small_cols(&["region", "device_os"]);
    let regions = |r: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(r)) };
    let ok: Vec<Option<&str>> = (0..12).map(|i| Some(REGIONS[(i * 5) % 17])).collect();
    let os: Vec<Option<&str>> = (0..12).map(|i| Some(["ios", "android"][i % 2])).collect();
    let mut unknown = ok.clone();
    (unknown[6], unknown[9]) = (Some("Atlantis"), Some("Mars"));
    let mut null = ok.clone();
    null[7] = None;
    let cases: Vec<(ArrayRef, ArrayRef, &str)> = vec![
        (
            regions(unknown),
            regions(os.clone()),
            "`region` has unknown category `Atlantis`",
        ),
        (
            regions(null),
            regions(os.clone()),
            "`region` has 1 null values",
        ),
        (
            regions(ok.clone()),
            regions(
                vec![Some("ios"); 11]
                    .into_iter()
                    .chain([Some("palm")])
                    .collect(),
            ),
            "`device_os` has unknown category `palm`",
        ),
        (
            Arc::new(Int64Array::from(vec![1i64; 12])),
            regions(os.clone()),
            "`region` has type Int64, not a string",
        ),
    ];
    let file = |region: ArrayRef, os: ArrayRef, dictionary: bool| {
        let ids: Vec<u64> = (0..12).collect();
        let extra = vec![("region", region), ("device_os", os)];
        small_file_with(
            &path,
            ids,
            vec![0.25; 12],
            (0..12).map(Some).collect(),
            extra,
            dictionary,
        );
    };
    for dictionary in [true, false] {
        for (region, os, needle) in cases.clone() {
            file(region, os, dictionary);
            assert_refused_as_whole(&path, &cols, &attrs, needle);
        }
        file(regions(ok.clone()), regions(os.clone()), dictionary);
        let whole = read_parquet_columns(&path, &cols).unwrap();
        let want = expected_columns(&whole, &attrs);
        let read = read_model_columns(&path, &small_record(&path), &attrs).unwrap();
        assert_eq!(read.design.x.ncols(), want.len());
        for (j, column) in want.iter().enumerate() {
            assert_eq!(
                read.design.x.column(j).to_vec(),
                *column,
                "{} (dictionary pages: {dictionary})",
                read.design.names[j]
            );
        }
        assert!(
            want.iter().flatten().any(|&v| v == 1.0),
            "some region and iOS cells are 1"
        );
    }
}

/// Regression (found reading `train::load_data`, 2026-12-03): the data
/// file was hashed on one handle and decoded on others, each opened by
/// path, so a file replaced or rewritten between the two could be trained
/// on while the lineage named the file the manifest's SHA-256 describes.
/// Now each row group's bytes are hashed as they are read and decoded from
/// that buffer, on one handle. Here a thread keeps replacing the file (by
/// rename) and rewriting it in place with another of the same layout and
/// other balances: every read either is refused or gives the balances of
/// the file the manifest describes.
#[test]
fn a_file_swapped_while_read_gives_the_hashed_file_or_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, path) = swappable_files(dir.path());
    let record = small_record(&a);
    let attrs = vec!["balance_krw".to_string()];
    let want: Vec<f32> = (1..13).map(|v| (v as f64).ln_1p() as f32).collect();
    let (read, refused) = common::while_swapped(&path, &a_bytes(&a), &a_bytes(&b), 2000, || {
        read_model_columns(&path, &record, &attrs).map(|got| {
            assert_eq!(got.design.x.column(0).to_vec(), want, "a mix of two files");
        })
    });
    assert!(
        read > 0 && refused > 0,
        "{read} read, {refused} refused: no race was run"
    );
}

/// The same race for `read_checked` (what `reidentify` and Python's
/// `nsfsim.read_dataset` read): it hashed one read of the file and decoded
/// another, so a swapped file's values could come back under the
/// manifest's digest.
#[test]
fn read_checked_of_a_file_swapped_while_read_gives_the_hashed_file_or_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, path) = swappable_files(dir.path());
    let record = small_record(&a);
    let want: Vec<f64> = (1..13).map(|v| v as f64).collect();
    let (read, refused) = common::while_swapped(&path, &a_bytes(&a), &a_bytes(&b), 2000, || {
        read_checked(&path, &record, &["user_id", "balance_krw"]).map(|got| {
            assert_eq!(as_f64(&got, "balance_krw"), want, "a mix of two files");
        })
    });
    assert!(
        read > 0 && refused > 0,
        "{read} read, {refused} refused: no race was run"
    );
}

/// Two small files of one layout and other balances (1..=12 in the first),
/// and the path the races read.
fn swappable_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (a, b) = (dir.join("a.parquet"), dir.join("b.parquet"));
    let ids: Vec<u64> = (0..12).collect();
    let balances = |base: i64| (0..12).map(|i| Some(base + i)).collect::<Vec<_>>();
    small_file_with(&a, ids.clone(), vec![0.25; 12], balances(1), vec![], false);
    small_file_with(&b, ids, vec![0.25; 12], balances(1_000_001), vec![], false);
    (a, b, dir.join("users.parquet"))
}

fn a_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}
