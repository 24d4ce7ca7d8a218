//! Times one gbdt fit on a generated data set's training users (population
//! `all`, full feature set) and prints the fit seconds and the held-out
//! registered users' AUC, so fit settings can be compared under
//! `/usr/bin/time -v` or `perf record`.
//! `cargo run --release --example gbdt_profile -- DATA_DIR [ITERATIONS]`
use nsfsim::data::features::FeatureSet;
use nsfsim::models::ScoreModel;
use nsfsim::models::gbdt::{GbdtParams, fit};
use nsfsim::models::train::{PopulationRule, holdout_rows, load_data, training_rows};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DATA_DIR"));
    let mut params = GbdtParams::default();
    if let Some(n) = args.next() {
        params.iterations = n.parse()?;
    }
    let attrs = FeatureSet::Full.attributes()?;
    let t = Instant::now();
    let data = load_data(&dir, &attrs)?;
    let rows = training_rows(&data, PopulationRule::All);
    let y: Vec<bool> = rows.iter().map(|&i| data.nsf[i]).collect();
    println!("read {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let model = fit(data.design.x.view(), &rows, &y, None, &params, 7)?;
    println!("fit {:.2} s", t.elapsed().as_secs_f64());
    let hold = holdout_rows(&data, PopulationRule::Registered);
    let x = data.design.select_rows(&hold);
    let t = Instant::now();
    let p = model.predict_proba(x.x.view())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "predict {} rows {:.2} us/row",
        hold.len(),
        secs * 1e6 / hold.len() as f64
    );
    let yh: Vec<bool> = hold.iter().map(|&i| data.nsf[i]).collect();
    println!("auc {:.4}", nsfsim::stats::metrics::auc(&p, &yh));
    Ok(())
}
