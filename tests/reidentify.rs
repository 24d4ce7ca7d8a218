//! `nsfsim reidentify`: unsalted SHA-256 of phone numbers gives every number
//! back over the 010 space; keyed digests give none.

use std::process::Command;

mod common;

#[test]
fn unsalted_hashes_are_all_recovered_and_keyed_ones_are_not() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "generate",
            "--preset",
            "small",
            "--users",
            "5000",
            "--quiet",
            "--out",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args(["reidentify", "--data", data.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["candidates"], 100_000_000);
    assert_eq!(r["users"], 5000);
    assert_eq!(r["recovered"], 5000, "{r}");
    assert_eq!(r["correct"], 5000, "{r}");
    assert_eq!(r["recovered_keyed"], 0, "{r}");
    // The keyed control tried every candidate.
    assert_eq!(r["keyed_candidates"], 100_000_000, "{r}");
    // Half the space finds about half of the numbers (they are spread uniformly).
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "reidentify",
            "--data",
            data.to_str().unwrap(),
            "--json",
            "--candidates",
            "50000000",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let share = r["recovered_share"].as_f64().unwrap();
    assert!((share - 0.5).abs() < 0.03, "{share}");
}

/// The enumeration's own digests (in-place digit increments, batches of 16,
/// both kernels) equal sha2's digest of the formatted number at the edges of
/// the space and across every digit carry.
#[test]
fn fast_path_digests_equal_sha2_at_the_space_edges() {
    use nsfsim::audit::reidentify::{Kernel, PHONE_SPACE, candidate_digests};
    use nsfsim::sim::population::phone_string;
    use sha2::{Digest, Sha256};
    let mut kernels = vec![Kernel::Sha2];
    if Kernel::detect() != Kernel::Sha2 {
        kernels.push(Kernel::detect());
    }
    let mut starts = vec![0u64, 1, 5, PHONE_SPACE - 37];
    // 09999999 -> 10000000 and every shorter carry (9 -> 10, 99 -> 100, ...).
    for p in 1..8 {
        starts.push(10u64.pow(p) - 19);
    }
    for k in kernels {
        for &s in &starts {
            let got = candidate_digests(k, s, 37);
            for (i, d) in got.iter().enumerate() {
                let n = s + i as u64;
                let want: [u8; 32] = Sha256::digest(phone_string(n)).into();
                assert_eq!(d, &want, "{k:?}: candidate {n}");
            }
        }
        assert_eq!(
            candidate_digests(k, PHONE_SPACE - 1, 1)[0],
            <[u8; 32]>::from(Sha256::digest(b"01099999999"))
        );
        assert_eq!(
            candidate_digests(k, 0, 1)[0],
            <[u8; 32]>::from(Sha256::digest(b"01000000000"))
        );
    }
}

/// A data set whose `phone_sha256` column holds hex strings instead of
/// 32-byte digests is refused with one line naming the column (exit 2), not
/// an Arrow panic.
#[test]
fn string_digest_column_is_refused() {
    use std::sync::Arc;

    use arrow_array::{Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    common::ok(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "300",
        "--quiet",
        "--out",
        common::s(&data),
    ]);
    let file = data.join("users.parquet");
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let rewritten: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let i = b.schema().index_of("phone_sha256").unwrap();
            let d = b
                .column(i)
                .as_any()
                .downcast_ref::<arrow_array::FixedSizeBinaryArray>()
                .unwrap();
            let hex: StringArray = (0..d.len())
                .map(|r| Some(hex::encode(d.value(r))))
                .collect();
            let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
            fields[i] = Arc::new(arrow_schema::Field::new(
                "phone_sha256",
                arrow_schema::DataType::Utf8,
                false,
            ));
            let mut cols = b.columns().to_vec();
            cols[i] = Arc::new(hex);
            RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap()
        })
        .collect();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&file).unwrap(),
        rewritten[0].schema(),
        None,
    )
    .unwrap();
    rewritten.iter().for_each(|b| w.write(b).unwrap());
    w.close().unwrap();
    // The manifest made to describe the rewritten file (the file check
    // comes first: see the next test), so the column type is what is refused.
    let mpath = data.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    m["files"][0]["sha256"] = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)).into();
    m["files"][0]["bytes"] = bytes.len().into();
    std::fs::write(&mpath, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    common::refused(
        &[
            "reidentify",
            "--data",
            common::s(&data),
            "--candidates",
            "1000",
        ],
        "phone_sha256",
    );
}

/// `reidentify` read the data file without checking it against its
/// manifest (every other reader does): a file replaced after it was
/// generated (here by another seed's, a valid data set of the same size)
/// is refused in one line naming the file and the SHA-256, exit 2.
#[test]
fn reidentify_refuses_a_data_file_changed_after_it_was_generated() {
    let d = tempfile::tempdir().unwrap();
    let (data, other) = (d.path().join("data"), d.path().join("other"));
    common::generate("small", 500, Some(1), &data);
    common::generate("small", 500, Some(2), &other);
    std::fs::copy(other.join("users.parquet"), data.join("users.parquet")).unwrap();
    let args = [
        "reidentify",
        "--data",
        data.to_str().unwrap(),
        "--candidates",
        "1000",
    ];
    common::refused(&args, "differs from the manifest");
    let o = common::nsfsim(&args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("users.parquet") && err.contains("SHA-256"),
        "{err}"
    );
}
