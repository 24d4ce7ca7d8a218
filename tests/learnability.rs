//! The generated label is learnable but not trivially: the oracle AUC of
//! `nsf_prob` lies in the documented band and a logistic regression on the
//! attributes (read back from the real `users.parquet`) is clearly better than
//! chance and below the oracle.

use std::process::Command;

use nsfsim::data::features::{FeatureSet, design_matrix, flag_column, numeric_column};
use nsfsim::models::logistic::{LogisticParams, fit};
use nsfsim::stats::metrics::auc;

#[test]
fn label_is_learnable_but_not_trivially() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pop");
    let o = Command::new(env!("CARGO_BIN_EXE_nsfsim"))
        .args([
            "generate",
            "--preset",
            "small",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let attrs = FeatureSet::Full.attributes().unwrap();
    let mut cols: Vec<&str> = attrs.iter().map(|s| s.as_str()).collect();
    cols.extend(["nsf", "nsf_prob"]);
    let batches =
        nsfsim::data::artifact::read_parquet_columns(&out.join("users.parquet"), &cols).unwrap();
    let design = design_matrix(&batches, &attrs).unwrap();
    let y = flag_column(&batches, "nsf").unwrap();
    let prob = numeric_column(&batches, "nsf_prob").unwrap();
    let n = y.len();
    assert_eq!(n, 100_000);
    let cut = n * 7 / 10; // users are i.i.d.: the first 70% train, the rest test
    let model = fit(
        design.x.slice(ndarray::s![..cut, ..]),
        &y[..cut],
        None,
        &LogisticParams::default(),
    )
    .unwrap();
    let scores = model.predict_proba(design.x.slice(ndarray::s![cut.., ..]));
    let model_auc = auc(&scores, &y[cut..]);
    let oracle_auc = auc(&prob[cut..], &y[cut..]);
    eprintln!("logistic AUC {model_auc:.4}, oracle AUC {oracle_auc:.4}");
    assert!(
        (0.80..=0.92).contains(&oracle_auc),
        "oracle AUC {oracle_auc}"
    );
    assert!(
        model_auc > 0.70,
        "logistic AUC {model_auc} is not clearly above chance"
    );
    assert!(
        model_auc < oracle_auc,
        "a model cannot beat the oracle: {model_auc} vs {oracle_auc}"
    );
}
