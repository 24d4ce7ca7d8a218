//! `nsfsim reidentify`: unsalted SHA-256 of phone numbers gives every number
//! back over the 010 space; keyed digests give none.

use std::process::Command;

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
