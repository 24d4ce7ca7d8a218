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
    // Scoring: the flat predictor, then forust's own (the path before it),
    // on 1,000 rows and on every held-out registered user.
    for n in [1000.min(hold.len()), hold.len()] {
        let xs = x.x.slice(ndarray::s![..n, ..]);
        let t = Instant::now();
        let fast = model.predict_margin(xs)?;
        let us_fast = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        let slow = model.predict_margin_forust(xs)?;
        let us_slow = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let same = fast
            .iter()
            .zip(&slow)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        println!(
            "predict {n} rows: flat {us_fast:.3} us/row, forust {us_slow:.3} us/row, identical {same}"
        );
    }
    let p = model.predict_proba(x.x.view())?;
    let yh: Vec<bool> = hold.iter().map(|&i| data.nsf[i]).collect();
    println!("auc {:.4}", nsfsim::stats::metrics::auc(&p, &yh));
    Ok(())
}
