//! Integration tests of `nsfsim generate`, driving the real binary.

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nsfsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args(args)
        .output()
        .expect("run nsfsim")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn out_arg(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Users spanning three chunks (131,072 each), so thread count could matter.
const MULTI_CHUNK_USERS: &str = "300000";

fn generate(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "generate",
        "--preset",
        "small",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = nsfsim(&args);
    assert!(o.status.success(), "generate failed: {}", stderr(&o));
    out
}

#[test]
fn byte_identical_at_1_2_and_8_threads() {
    let d = tmp();
    let runs: Vec<PathBuf> = ["1", "2", "8"]
        .iter()
        .map(|t| {
            generate(
                d.path(),
                &format!("t{t}"),
                &["--users", MULTI_CHUNK_USERS, "--threads", t],
            )
        })
        .collect();
    let first_data = std::fs::read(runs[0].join("users.parquet")).unwrap();
    let first_manifest = std::fs::read(runs[0].join("manifest.json")).unwrap();
    for r in &runs[1..] {
        assert!(
            first_data == std::fs::read(r.join("users.parquet")).unwrap(),
            "parquet differs: {}",
            r.display()
        );
        assert!(
            first_manifest == std::fs::read(r.join("manifest.json")).unwrap(),
            "manifest differs: {}",
            r.display()
        );
    }
    // A different seed gives different data.
    let other = generate(d.path(), "seed2", &["--users", "20000", "--seed", "2"]);
    let same_size = generate(d.path(), "seed1", &["--users", "20000"]);
    assert_ne!(
        std::fs::read(other.join("users.parquet")).unwrap(),
        std::fs::read(same_size.join("users.parquet")).unwrap()
    );
}

#[test]
fn manifest_records_schema_files_and_shares() {
    let d = tmp();
    let out = generate(d.path(), "m", &["--users", "100000"]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["attributes"].as_array().unwrap().len(), 24);
    assert_eq!(m["columns"].as_array().unwrap().len(), 29);
    assert_eq!(m["users"], 100000);
    let file = &m["files"][0];
    assert_eq!(file["name"], "users.parquet");
    assert_eq!(file["rows"], 100000);
    let data = std::fs::read(out.join("users.parquet")).unwrap();
    assert_eq!(file["bytes"].as_u64().unwrap(), data.len() as u64);
    use sha2::Digest;
    assert_eq!(
        file["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&data))
    );
    // Documented bounds (README, "What the generator guarantees").
    let s = &m["summary"];
    let reg = s["registered_share"].as_f64().unwrap();
    let cons = s["consented_share"].as_f64().unwrap();
    let nsf = s["nsf_rate"].as_f64().unwrap();
    assert!((0.17..=0.19).contains(&reg), "registered share {reg}");
    assert!((cons - 0.35).abs() < 0.015, "consent share {cons}");
    // The NSF base rate of CASE.md (E: about 3 %), as tests/calibration.rs.
    assert!((0.025..=0.035).contains(&nsf), "nsf rate {nsf}");
    assert!((s["mean_nsf_prob"].as_f64().unwrap() - nsf).abs() < 0.005);
    assert!(s["ios_share"].as_f64().unwrap() > reg);
}

#[test]
fn csv_golden_file_is_stable() {
    // Regenerate with: NSFSIM_BLESS=1 cargo test --release --test generate csv_golden
    let d = tmp();
    let out = generate(
        d.path(),
        "g",
        &["--users", "60", "--format", "csv", "--seed", "7"],
    );
    let got = std::fs::read_to_string(out.join("users.csv")).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let golden = dir.join("tiny_seed7.csv");
    // `revision.txt`: the generator revision the golden file was drawn by and
    // the file's SHA-256; other data at the same revision would let
    // `compare` reuse stale cached data sets.
    let rev_path = dir.join("revision.txt");
    let digest = |t: &str| hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let rev = nsfsim::data::generate::GENERATOR_REVISION;
    let recorded = std::fs::read_to_string(&rev_path).unwrap_or_default();
    let old = std::fs::read_to_string(&golden).unwrap_or_default();
    if std::env::var_os("NSFSIM_BLESS").is_some() {
        assert!(
            got == old || !recorded.starts_with(&format!("{rev} ")),
            "generator output changed: bump generate::GENERATOR_REVISION, then bless"
        );
        std::fs::write(&golden, &got).unwrap();
        std::fs::write(&rev_path, format!("{rev} {}\n", digest(&got))).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (NSFSIM_BLESS=1 to create)");
    assert_eq!(got.lines().count(), 61);
    assert!(
        got == want,
        "generator output changed; if intended, bump generate::GENERATOR_REVISION and regenerate the golden file"
    );
    assert_eq!(
        std::fs::read_to_string(&rev_path).unwrap().trim(),
        format!("{rev} {}", digest(&want)),
        "tests/golden/revision.txt does not match this revision's golden file"
    );
}

fn assert_refused(args: &[&str], needle: &str) {
    let o = nsfsim(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: {err}");
    assert!(
        err.contains(needle),
        "args {args:?}: `{err}` lacks `{needle}`"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
}

#[test]
fn bad_input_is_one_clear_line_and_exit_2() {
    let d = tmp();
    let out = out_arg(&d.path().join("x"));
    assert_refused(
        &["generate", "--preset", "nope", "--out", &out],
        "unknown preset",
    );
    let typo = d.path().join("typo.toml");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("synthetic/small.toml"))
            .unwrap()
            .replace("[consent]\n", "[consent]\nrat = 0.4\n");
    std::fs::write(&typo, text).unwrap();
    assert_refused(
        &[
            "generate",
            "--preset",
            typo.to_str().unwrap(),
            "--out",
            &out,
        ],
        "unknown field `rat`",
    );
    assert_refused(
        &[
            "generate", "--preset", "small", "--users", "0", "--out", &out,
        ],
        "--users",
    );
    assert_refused(
        &[
            "generate", "--preset", "small", "--users", "-5", "--out", &out,
        ],
        "--users",
    );
    assert_refused(
        &[
            "generate",
            "--preset",
            "small",
            "--set",
            "consent.rate=1.5",
            "--out",
            &out,
        ],
        "consent.rate",
    );
    assert_refused(
        &[
            "generate",
            "--preset",
            "small",
            "--set",
            "registration.share=-0.1",
            "--out",
            &out,
        ],
        "registration.share",
    );
    // A file where a folder should be: the output cannot be created.
    let file = d.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = out_arg(&file.join("out"));
    assert_refused(
        &[
            "generate",
            "--preset",
            "small",
            "--users",
            "10",
            "--out",
            &under_file,
        ],
        "output",
    );
    // Existing output without --force.
    let ok = generate(d.path(), "exists", &["--users", "10"]);
    assert_refused(
        &[
            "generate",
            "--preset",
            "small",
            "--users",
            "10",
            "--out",
            ok.to_str().unwrap(),
        ],
        "--force",
    );
    let o = nsfsim(&[
        "generate",
        "--preset",
        "small",
        "--users",
        "12",
        "--out",
        ok.to_str().unwrap(),
        "--force",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Refuses to replace a folder that is not an nsfsim output, even with --force.
    let foreign = d.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    assert_refused(
        &[
            "generate",
            "--preset",
            "small",
            "--users",
            "10",
            "--out",
            foreign.to_str().unwrap(),
            "--force",
        ],
        "not an nsfsim output",
    );
    assert!(foreign.join("notes.txt").exists());
}

#[test]
fn killed_run_leaves_no_complete_looking_output() {
    let d = tmp();
    let out = d.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "generate",
            "--preset",
            "small",
            "--users",
            "5000000",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.exists(),
        "a killed run must not leave the output folder"
    );
    for entry in std::fs::read_dir(d.path()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with(".killed.partial-"), "unexpected {name}");
        assert!(
            !p.join("manifest.json").exists(),
            "staging folder must hold no manifest"
        );
    }
}

#[test]
fn schema_command_lists_24_attributes() {
    let o = nsfsim(&["schema", "--json"]);
    assert!(o.status.success());
    let cols: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cols = cols.as_array().unwrap();
    assert_eq!(cols.len(), 29);
    let attrs: Vec<_> = cols[1..25]
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(attrs.len(), 24);
    assert_eq!(attrs[0], "account_id");
    assert!(
        cols.iter()
            .all(|c| !c["category"].as_str().unwrap().is_empty())
    );
    let md = nsfsim(&["schema"]);
    assert_eq!(String::from_utf8_lossy(&md.stdout).lines().count(), 2 + 29);
}
