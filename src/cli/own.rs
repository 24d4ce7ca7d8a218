//! `compare --data FILE`: the experiment on your own table (README, "Your
//! own data").

use std::path::PathBuf;
use std::time::Instant;

use crate::data::table::{self, TableOptions};
use crate::experiment::own::{OwnData, SimulatedConsent};

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
    s.as_deref()
        .map(|v| {
            v.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl TableArgs {
    /// The table options, checked for the flags a table needs.
    pub(super) fn options(&self) -> anyhow::Result<TableOptions> {
        let label = self.label.clone().ok_or_else(|| {
            crate::error::NsfError::param(
                "--label",
                "--data needs --label COL (the binary outcome)",
            )
        })?;
        Ok(TableOptions {
            label,
            positive: self.positive.clone(),
            consent: self.consent.clone(),
            target: self.target.clone(),
            id: self.id.clone(),
            features: (self.features != "all").then(|| list(&Some(self.features.clone()))),
            minimal: self.minimal.as_ref().map(|m| list(&Some(m.clone()))),
            categorical: list(&self.categorical),
            numeric: list(&self.numeric),
        })
    }
}

/// Loads the table and prints its column table.
pub(super) fn load_own(
    a: &TableArgs,
    path: &std::path::Path,
    seed: u64,
) -> anyhow::Result<OwnData> {
    let options = a.options()?;
    let t = table::load(path, &options)?;
    eprint!("{}", table::column_table(&t.columns));
    let simulated = a.simulate_consent.as_ref().map(|m| SimulatedConsent {
        mechanism: m.clone(),
        rate: a.consent_rate,
        strength: a.consent_strength,
        seed,
    });
    Ok(OwnData::new(t, simulated)?)
}

/// `compare --data FILE`.
pub(super) fn cmd_compare_table(a: super::CompareArgs, path: PathBuf) -> anyhow::Result<()> {
    let t = &a.table;
    let mut spec = crate::experiment::load_spec(&a.spec, &[])?;
    let stem = path
        .file_stem()
        .map_or("table".into(), |s| s.to_string_lossy().to_string());
    spec.name = format!("own-{stem}");
    spec.description = format!("The minimization experiment on {}.", path.display());
    spec.preset = format!("table:{}", path.display());
    spec.replicates = t.replicates;
    spec.arms = vec!["all".into(), "consented".into(), "consented-ipw".into()];
    if t.minimal.is_some() {
        spec.arms
            .extend(["all-minimal".into(), "consented-minimal".into()]);
    }
    if t.target.is_some() {
        spec.arms.insert(1, "registered".into());
    }
    if let Some(f) = &t.families {
        spec.families = list(&Some(f.clone()));
        spec.model = None;
    }
    spec.sweep = None;
    // `--set` last, over the table's defaults.
    let text = toml::to_string(&spec).map_err(|e| anyhow::anyhow!("spec: {e}"))?;
    let mut spec: crate::experiment::ExperimentSpec =
        crate::sim::preset::parse_with_overrides(&a.spec, &text, &a.set)?;
    let own = load_own(t, &path, spec.seed)?;
    spec.users = own.record.rows;
    spec.minimal_features = t
        .minimal
        .as_ref()
        .map(|m| list(&Some(m.clone())))
        .unwrap_or_default();
    // Learning curves refit every family many times: small tables only.
    spec.learning_curves = spec.learning_curves && own.record.rows <= 20_000;
    let full = own.table.design.names.clone();
    let spec = spec.check_table(full, own.table.minimal_columns.clone())?;
    if a.out.is_none() {
        crate::data::artifact::check_output_name("name", &spec.name)?;
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));
    let pool = super::thread_pool(a.threads)?;
    let started = Instant::now();
    let progress = super::progress_lines(a.quiet, started);
    let registry = a.registry.path();
    let to = crate::report::experiment::CompareOutput {
        out: &out,
        registry: &registry,
        data_root: &a.data_root,
        force: a.force,
        export_predictions: a.export_predictions,
        table: Some(&own),
    };
    let (result, out) =
        pool.install(|| crate::report::experiment::compare(&spec, &to, &progress))?;
    drop(progress);
    super::print_compare(&result, &out, started);
    Ok(())
}

/// `train --data FILE`: a table file (README, "Your own data").
pub(super) fn cmd_train_file(a: super::TrainArgs) -> anyhow::Result<()> {
    let rule = crate::models::train::PopulationRule::parse(&a.population)?;
    let spec = crate::models::train::ModelSpec::parse(&a.model)?.check()?;
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
