//! `compare --data FILE`: the experiment on your own table (README, "Your
//! own data").

use std::path::PathBuf;
use std::time::Instant;

use crate::data::table::{self, TableOptions};

/// The flags of a run on a table.
#[derive(Debug, clap::Args)]
pub(super) struct TableArgs {
    /// Your own table (Parquet, or CSV with a header): runs the experiment
    /// on it instead of on simulated populations.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The binary outcome column (0/1, false/true, or two values with
    /// --positive).
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// The label's positive (event) value.
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// The consent (lawfully usable) flag column.
    #[arg(long, value_name = "COL")]
    pub consent: Option<String>,
    /// Who needs a score (flag column; default every row).
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Row ID column (non-negative integers; default the row number).
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Feature columns: a comma-separated list, or `all` (every numeric,
    /// categorical and binary column without a role).
    #[arg(long, value_name = "LIST|all", default_value = "all")]
    pub features: String,
    /// The minimal feature set (comma-separated; adds the -minimal arms).
    #[arg(long, value_name = "LIST")]
    pub minimal: Option<String>,
    /// Columns to treat as categorical (comma-separated).
    #[arg(long, value_name = "LIST")]
    pub categorical: Option<String>,
    /// Columns to treat as numeric (comma-separated).
    #[arg(long, value_name = "LIST")]
    pub numeric: Option<String>,
    /// Model families (comma-separated; default the spec's).
    #[arg(long, value_name = "LIST")]
    pub families: Option<String>,
    /// Replicates (seeded held-out test sets).
    #[arg(long, default_value_t = 5)]
    pub replicates: u32,
    /// No consent column: draw one (random, attributes or risk).
    #[arg(long, value_name = "MECHANISM")]
    pub simulate_consent: Option<String>,
    /// Simulated consent share.
    #[arg(long, default_value_t = 0.5)]
    pub consent_rate: f64,
    /// Simulated consent logit slope (attributes, risk).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub consent_strength: f64,
}

fn list(s: &Option<String>) -> Vec<String> {
    crate::api::comma_list(s.as_deref())
}

impl TableArgs {
    /// The API's parameters (same names; `currency` from `compare --currency`).
    pub(super) fn params(
        &self,
        data: PathBuf,
        currency: Option<String>,
    ) -> crate::api::TableParams {
        crate::api::TableParams {
            data,
            label: self.label.clone(),
            positive: self.positive.clone(),
            consent: self.consent.clone(),
            target: self.target.clone(),
            id: self.id.clone(),
            features: self.features.clone(),
            minimal: self.minimal.clone(),
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
            families: self.families.clone(),
            replicates: self.replicates,
            simulate_consent: self.simulate_consent.clone(),
            consent_rate: self.consent_rate,
            consent_strength: self.consent_strength,
            currency,
        }
    }
}

/// `compare --data FILE`: prints the column table before training.
pub(super) fn cmd_compare_table(
    p: crate::api::CompareParams,
    t: crate::api::TableParams,
    quiet: bool,
) -> anyhow::Result<()> {
    let run = crate::api::prepare_table(&p, &t)?;
    eprint!("{}", table::column_table(&run.own.table.columns));
    let started = Instant::now();
    let progress = super::progress_lines(quiet, started);
    let (result, out) = crate::api::run_table(&p, &run, &progress)?;
    drop(progress);
    super::print_compare(&result, &out, started);
    Ok(())
}

/// `train --data FILE`: a table file (README, "Your own data").
pub(super) fn cmd_train_file(a: super::TrainArgs) -> anyhow::Result<()> {
    let rule = crate::models::train::PopulationRule::parse(&a.population)?;
    let spec = crate::models::train::model_spec(&a.model, a.epsilon)?;
    let options = match &a.label {
        Some(label) => TableOptions {
            label: label.clone(),
            positive: a.positive.clone(),
            consent: a.consent.clone(),
            target: a.target.clone(),
            id: a.id.clone(),
            features: (a.features != "full" && a.features != "all")
                .then(|| list(&Some(a.features.clone()))),
            ..TableOptions::default()
        },
        None => TableOptions::default(),
    };
    let attributes = if a.label.is_none() {
        crate::data::features::FeatureSet::parse(&a.features)?.attributes()?
    } else {
        Vec::new()
    };
    let job = crate::experiment::own::FileTrain {
        options,
        attributes,
        rule,
        family: &spec,
        seed: a.seed,
        split_seed: a.split_seed,
        scale: crate::stats::scale::ScoreScale::parse(&a.score_scale, "--score-scale")?,
    };
    let pool = super::thread_pool(a.threads)?;
    let started = Instant::now();
    let (id, m) =
        pool.install(|| crate::experiment::own::train_file(&a.data, &job, &a.registry.path()))?;
    eprintln!(
        "trained {} on {} {} rows of {} ({} feature columns) in {:.1} s; held-out rows (hash of split seed {} and ID < {}): AUC {:.4}",
        m.family,
        m.training_members.count,
        m.population_rule,
        a.data.display(),
        m.feature_columns.len(),
        started.elapsed().as_secs_f64(),
        a.split_seed,
        crate::models::train::HOLDOUT_FRACTION,
        m.metrics.auc
    );
    println!("{id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// The flags' defaults are `api::TableParams::new`'s (the Python
    /// package's), so both front ends run the same experiment.
    #[test]
    fn table_flag_defaults_are_the_apis() {
        let cli = super::super::Cli::try_parse_from(["nsfsim", "compare", "--data", "t.csv"])
            .expect("parses");
        let super::super::Command::Compare(a) = cli.command else {
            panic!("not compare")
        };
        let path = a.table.data.clone().expect("--data");
        assert_eq!(
            a.table.params(path.clone(), None),
            crate::api::TableParams::new(path)
        );
    }
}
