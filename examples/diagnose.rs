//! Prints the realized shares, NSF rates and oracle AUC of a preset, computed
//! in memory (no files): the loop used to tune presets.
//! `cargo run --release --example diagnose -- [PRESET] [USERS] [KEY=VALUE...]`

#[path = "../tests/calibration_rows/mod.rs"]
#[allow(dead_code)]
mod calibration_rows;

use nsfsim::sim::population::calibrate;
use nsfsim::stats::metrics::auc;
use rayon::prelude::*;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().cloned().unwrap_or_else(|| "small".into());
    let users: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let sets: Vec<String> = args.iter().skip(2).cloned().collect();
    let mut p = nsfsim::sim::preset::load(&name, &sets)?;
    p.users = users;
    let p = p.check()?;
    let cal = calibrate(&p, p.seed);
    let us: Vec<_> = (0..users)
        .into_par_iter()
        .map(|u| nsfsim::sim::population::generate_user(&p, &cal, p.seed, u))
        .collect();
    let n = us.len() as f64;
    let share = |f: &dyn Fn(&nsfsim::sim::population::User) -> bool| {
        us.iter().filter(|u| f(u)).count() as f64 / n
    };
    let prob: Vec<f64> = us.iter().map(|u| u.nsf_prob).collect();
    let y: Vec<bool> = us.iter().map(|u| u.nsf).collect();
    println!("users {users}  cal {cal:?}");
    println!(
        "registered {:.4} consented {:.4} ios {:.4} auto {:.4} zero_bal {:.4}",
        share(&|u| u.apple_registered),
        share(&|u| u.consented),
        share(&|u| u.ios),
        share(&|u| u.auto_topup),
        share(&|u| u.balance_krw == 0)
    );
    println!(
        "inactive {:.4}",
        share(&|u| u.payment_count_30d == 0
            && u.topup_count_30d == 0
            && u.remit_count_7d == 0
            && u.remit_sent_amount_30d_krw == 0)
    );
    let reg: Vec<usize> = (0..us.len()).filter(|&i| us[i].apple_registered).collect();
    let rate = |ix: &[usize]| ix.iter().filter(|&&i| y[i]).count() as f64 / ix.len() as f64;
    let unreg: Vec<usize> = (0..us.len()).filter(|&i| !us[i].apple_registered).collect();
    println!(
        "nsf {:.4} mean_prob {:.4} nsf_reg {:.4} nsf_unreg {:.4}",
        share(&|u| u.nsf),
        prob.iter().sum::<f64>() / n,
        rate(&reg),
        rate(&unreg)
    );
    println!("oracle AUC all {:.4}", auc(&prob, &y));
    let zero: Vec<usize> = (0..us.len()).filter(|&i| prob[i] == 0.0).collect();
    println!(
        "nsf_prob = 0: {:.4} of users, their NSF rate {:.4}",
        zero.len() as f64 / n,
        zero.iter().filter(|&&i| y[i]).count() as f64 / zero.len().max(1) as f64
    );
    let pr: Vec<f64> = reg.iter().map(|&i| prob[i]).collect();
    let yr: Vec<bool> = reg.iter().map(|&i| y[i]).collect();
    println!("oracle AUC registered {:.4}", auc(&pr, &yr));
    let cons: Vec<usize> = (0..us.len()).filter(|&i| us[i].consented).collect();
    println!(
        "nsf consented {:.4} not {:.4}",
        rate(&cons),
        rate(
            &(0..us.len())
                .filter(|&i| !us[i].consented)
                .collect::<Vec<_>>()
        )
    );
    let mean =
        |f: &dyn Fn(&nsfsim::sim::population::User) -> f64| us.iter().map(f).sum::<f64>() / n;
    println!(
        "mean balance {:.0} avg {:.0} pay_amt {:.0} pay_cnt {:.2} remit_sent {:.0} topup_amt {:.0} cards {:.2}",
        mean(&|u| u.balance_krw as f64),
        mean(&|u| u.balance_avg_30d_krw as f64),
        mean(&|u| u.payment_amount_30d_krw as f64),
        mean(&|u| u.payment_count_30d as f64),
        mean(&|u| u.remit_sent_amount_30d_krw as f64),
        mean(&|u| u.topup_amount_30d_krw as f64),
        mean(&|u| u.registered_cards as f64)
    );
    // Single-attribute AUCs: how much each observed column says.
    type Column = Box<dyn Fn(&nsfsim::sim::population::User) -> f64>;
    let cols: Vec<(&str, Column)> = vec![
        ("balance", Box::new(|u| -(u.balance_krw as f64))),
        ("bal_min", Box::new(|u| -(u.balance_min_30d_krw as f64))),
        ("auto_off", Box::new(|u| !u.auto_topup as u8 as f64)),
        ("withdraw", Box::new(|u| u.withdrawal_amount_30d_krw as f64)),
        ("pay_cnt", Box::new(|u| u.payment_count_30d as f64)),
        (
            "remit_recv",
            Box::new(|u| u.remit_received_amount_30d_krw as f64),
        ),
        ("age", Box::new(|u| -(u.age_years as f64))),
        ("acct_age", Box::new(|u| -(u.account_age_days as f64))),
    ];
    for (name, f) in cols {
        let s: Vec<f64> = us.iter().map(&f).collect();
        print!("{name} {:.3}  ", auc(&s, &y));
    }
    println!();
    for r in calibration_rows::all_rows(&p, &cal, &us) {
        let flag = if r.met() { "  " } else { "XX" };
        println!(
            "{flag} {} {:<62} {:>12.4}  [{}, {}]",
            r.mark, r.target, r.value, r.range[0], r.range[1]
        );
    }
    Ok(())
}
