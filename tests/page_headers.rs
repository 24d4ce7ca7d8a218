//! Regression tests for the last item of issue 11: a Parquet page header
//! that claims more than its column chunk holds. libFuzzer found one (a
//! map of 237 million doubles in an unknown field) that kept `train`'s
//! loader busy for 334 s; it is kept in `fuzz/regressions/parquet_data/`.
//! Every reader must refuse such a file quickly, with one line naming it
//! (`data::chunks`). The hand-made inputs patch a valid data set.

mod common;
use common::*;

#[path = "../fuzz/entry.rs"]
mod fuzz_entry;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: the refusals take milliseconds; the found input took 334 s.
const LIMIT: Duration = Duration::from_secs(10);

const FUZZ_INPUT: &str =
    "fuzz/regressions/parquet_data/page-header-claims-more-than-its-chunk-slow-unit-1178dada";

/// `users.parquet` with `bytes` in a data set folder `dir`, under the fuzz
/// seed's manifest (its file record pointed at these bytes), as
/// `fuzz/entry.rs` presents an input.
fn data_set(dir: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("users.parquet");
    std::fs::write(&path, bytes).unwrap();
    let rows = nsfsim::data::artifact::open_parquet(&path)
        .unwrap()
        .metadata()
        .file_metadata()
        .num_rows();
    data_set_of(dir, bytes, rows)
}

/// [`data_set`] with its row count given (for a file whose footer the
/// readers refuse).
fn data_set_of(dir: &Path, bytes: &[u8], rows: i64) -> PathBuf {
    use sha2::{Digest, Sha256};
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("users.parquet");
    std::fs::write(&path, bytes).unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed).unwrap()).unwrap();
    m["files"][0]["sha256"] = hex::encode(Sha256::digest(bytes)).into();
    m["files"][0]["rows"] = rows.into();
    m["files"][0]["bytes"] = (bytes.len() as u64).into();
    std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
    path
}

/// Runs nsfsim with `args`, killed after `LIMIT`; asserts exit 2 with one
/// line on stderr that names `file` and contains `needle`.
fn refused_quickly(args: &[&str], file: &Path, needle: &str) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args(args)
        .env_remove("NSFSIM_REGISTRY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("{args:?} still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.contains(s(file)),
        "{args:?}: `{err}` does not name {file:?}"
    );
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
}

/// `f` run on a thread; panics unless it returns within `LIMIT`.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{what} did not return within {LIMIT:?}"))
}

/// Every reader of nsfsim refuses `path` (a data set's `users.parquet`
/// with a bad page header in `column`) within `LIMIT`, in one line naming
/// the file and `needle`: the train/score/evaluate loader, the audit's
/// reads; the table reader of own data (which reads every column, so it
/// may meet another damaged column first: `table_needle`); the footer-only
/// readers (stream-volume, the wallet's sizes, destroy's key-value scan)
/// and the fuzz entry return.
fn every_reader_refuses(path: &Path, column: &'static str, needle: &str, table_needle: &str) {
    use nsfsim::data::{artifact, features::FeatureSet, table};
    let dir = path.parent().unwrap().to_path_buf();
    let expect = |what: &str, r: nsfsim::Result<()>, needle: &str| {
        let e = r
            .err()
            .unwrap_or_else(|| panic!("{what} read it"))
            .to_string();
        assert!(e.contains(s(path)) && e.contains(needle), "{what}: {e}");
        assert_eq!(e.lines().count(), 1, "{what}: {e}");
    };
    let (d, p) = (dir.clone(), path.to_path_buf());
    let r = within("load_data", move || {
        let full = FeatureSet::Full.attributes().unwrap();
        nsfsim::models::train::load_data(&d, &full).map(drop)
    });
    expect("load_data", r, needle);
    let r = within("read_parquet_columns", move || {
        artifact::read_parquet_columns(&p, &["user_id", column]).map(drop)
    });
    expect("read_parquet_columns", r, needle);
    let p = path.to_path_buf();
    let r = within("read_table", move || table::read_table(&p).map(drop));
    expect("read_table", r, table_needle);
    let p = path.to_path_buf();
    within("footer readers", move || {
        let _ = nsfsim::stream::volume::user_record_bytes(&p);
        let _ = nsfsim::stream::wallet::column_bytes_per_row(&p, &["user_id"]);
        let _ = artifact::parquet_key_values(&p);
    });
    let bytes = std::fs::read(path).unwrap();
    within("the fuzz entry", move || fuzz_entry::parquet_data(&bytes));
}

#[test]
fn a_page_header_claiming_more_than_its_chunk_is_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let input = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FUZZ_INPUT)).unwrap();
    let data = tmp.path().join("data");
    let users = data_set(&data, &input);
    let needle = "column `account_age_days`: the page header at byte 28868 claims a collection of 236974660 elements";
    // The table reader meets a damaged page of `phone_sha256` first.
    every_reader_refuses(&users, "account_age_days", needle, "");
    let reg = tmp.path().join("reg");
    refused_quickly(
        &["train", "--data", s(&data), "--registry", s(&reg)],
        &users,
        needle,
    );
    // Own data: the table reader.
    let own = tmp.path().join("own.parquet");
    std::fs::write(&own, &input).unwrap();
    refused_quickly(
        &[
            "compare",
            "--data",
            s(&own),
            "--label",
            "nsf",
            "--consent",
            "consented",
        ],
        &own,
        "cannot decode",
    );
}

/// A valid 400-user data set's `users.parquet` and the byte range of its
/// `column` chunk.
fn valid_file(dir: &Path, column: &str) -> (Vec<u8>, u64, u64) {
    generate("small", 400, Some(7), dir);
    let path = dir.join("users.parquet");
    let builder = nsfsim::data::artifact::open_parquet(&path).unwrap();
    let rg = builder.metadata().row_group(0);
    let c = rg
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .unwrap();
    let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset()) as u64;
    (
        std::fs::read(&path).unwrap(),
        start,
        c.compressed_size() as u64,
    )
}

/// Varint (ULEB128) bytes of `v`.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v > 0x7f {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

#[test]
fn a_hand_made_page_header_claiming_more_than_its_chunk_is_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let (valid, start, len) = valid_file(&tmp.path().join("valid"), "account_age_days");
    let at = start as usize;
    let big = (1u64 << 31) - 1;
    // The found input's shape in a valid file: the first page header
    // opens with field 15, a map of 2^31-1 (double, double) entries.
    let mut map = vec![0xfb];
    map.extend(varint(big));
    map.push(0x77);
    // Lists of 2^31-1 booleans: the parquet crate skips them without
    // reading a byte; 50 of them are minutes of work.
    let mut bools = vec![0xf9, 0xf9];
    bools.extend(varint(50));
    for _ in 0..50 {
        bools.push(0xf1);
        bools.extend(varint(big));
    }
    // A binary of 2^31-1 bytes.
    let mut binary = vec![0xf8];
    binary.extend(varint(big));
    let cases = [
        (map, "claims a collection of 2147483647 elements"),
        (bools, "claims a collection of 2147483647 elements"),
        (binary, "claims a binary field of 2147483647 bytes"),
    ];
    for (k, (header, needle)) in cases.into_iter().enumerate() {
        assert!(header.len() as u64 <= len);
        let mut bytes = valid.clone();
        bytes[at..at + header.len()].copy_from_slice(&header);
        let data = tmp.path().join(format!("case{k}"));
        let users = data_set(&data, &bytes);
        let needle = format!("column `account_age_days`: the page header at byte {start} {needle}");
        every_reader_refuses(&users, "account_age_days", &needle, &needle);
        let reg = tmp.path().join("reg");
        refused_quickly(
            &["train", "--data", s(&data), "--registry", s(&reg)],
            &users,
            &needle,
        );
    }
}

/// A page whose header claims 2^31-1 compressed bytes (the header grows by
/// the longer varint; the column's chunk is the last of the file, so only
/// the footer moves, and it is found from the end).
#[test]
fn a_page_claiming_a_huge_compressed_size_is_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let (valid, start, _) = valid_file(&tmp.path().join("valid"), "nsf_prob");
    let at = start as usize;
    // Fields 1 (type), 2 (uncompressed size), 3 (compressed size): each
    // `0x15` and a zigzag varint.
    let mut p = at;
    let mut field3 = 0..0;
    for field in 1..=3 {
        assert_eq!(valid[p], 0x15, "field {field} of the page header");
        let from = p + 1;
        p = from;
        while valid[p] & 0x80 != 0 {
            p += 1;
        }
        p += 1;
        field3 = from..p;
    }
    let mut bytes = valid[..field3.start].to_vec();
    bytes.extend(varint(((1u64 << 31) - 1) << 1));
    bytes.extend_from_slice(&valid[field3.end..]);
    let data = tmp.path().join("data");
    let users = data_set(&data, &bytes);
    let reg = tmp.path().join("reg");
    let needle = format!(
        "column `nsf_prob`: the page header at byte {start} claims a page of 2147483647 bytes"
    );
    every_reader_refuses(&users, "nsf_prob", &needle, &needle);
    refused_quickly(
        &["train", "--data", s(&data), "--registry", s(&reg)],
        &users,
        &needle,
    );
}

/// `valid` with `field` (a Thrift field) added at the end of its footer's
/// `FileMetaData`, the footer length updated.
fn with_footer_field(valid: &[u8], field: &[u8]) -> Vec<u8> {
    let n = valid.len();
    let len = u32::from_le_bytes(valid[n - 8..n - 4].try_into().unwrap()) as usize;
    assert_eq!(&valid[n - 4..], b"PAR1");
    assert_eq!(valid[n - 9], 0, "FileMetaData's stop byte");
    let mut out = valid[..n - 9].to_vec();
    out.extend_from_slice(field);
    out.push(0);
    out.extend(((len + field.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    out
}

/// The regression of the footer's item of issue 11: an unknown field of a
/// few bytes claiming a list of 2^31-1 booleans kept the parquet crate
/// busy 13-18 s (nested ones multiply that); every reader refuses it in
/// milliseconds (`data::chunks::check_footer`).
#[test]
fn a_footer_field_claiming_more_than_the_footer_is_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let (valid, _, _) = valid_file(&tmp.path().join("valid"), "account_age_days");
    let big = (1u64 << 31) - 1;
    // Field 100 (long form): a list of 2^31-1 booleans.
    let mut flat = vec![0x09, 0xc8, 0x01, 0xf1];
    flat.extend(varint(big));
    // Field 100: a list of 50 such lists.
    let mut nested = vec![0x09, 0xc8, 0x01, 0xf9];
    nested.extend(varint(50));
    for _ in 0..50 {
        nested.push(0xf1);
        nested.extend(varint(big));
    }
    let needle = "its footer claims a collection of 2147483647 elements";
    for (k, field) in [flat, nested].iter().enumerate() {
        let bytes = with_footer_field(&valid, field);
        let data = tmp.path().join(format!("case{k}"));
        let users = data_set_of(&data, &bytes, 400);
        every_reader_refuses(&users, "account_age_days", needle, needle);
        assert!(nsfsim::data::artifact::parquet_key_values(&users).is_none());
        let reg = tmp.path().join("reg");
        refused_quickly(
            &["train", "--data", s(&data), "--registry", s(&reg)],
            &users,
            needle,
        );
    }
    // The same field with a fitting size (one i32) is read as before.
    let ok = with_footer_field(&valid, &[0x05, 0xc8, 0x01, 0x02]);
    let data = tmp.path().join("fits");
    let users = data_set(&data, &ok);
    nsfsim::data::artifact::read_parquet_columns(&users, &["user_id"]).unwrap();
}

/// The footer walk accepts every footer nsfsim writes and those of the
/// fixtures written by other tools (pandas/pyarrow, every codec).
#[test]
fn footers_written_by_nsfsim_and_other_tools_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("gen");
    generate("small", 400, Some(7), &generated);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [generated, fixtures.clone(), fixtures.join("codecs")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 9, "{files:?}");
    for p in &files {
        let f = std::fs::File::open(p).unwrap();
        let len = f.metadata().unwrap().len();
        nsfsim::data::chunks::check_footer(&f, len).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        nsfsim::data::artifact::open_parquet(p).unwrap();
    }
}
