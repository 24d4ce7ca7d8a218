//! The command line: the only module that knows clap. Parses flags into typed
//! settings, calls the library, and prints results. Errors go back to
//! `main`, which maps them to exit codes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::NsfError;
use crate::models::train;
use crate::sim::{preset, schema};

mod destroy;
mod own;

/// nsfsim: simulate data minimization in NSF credit-risk scoring.
#[derive(Debug, Parser)]
#[command(name = "nsfsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a synthetic wallet population with NSF outcomes.
    Generate(GenerateArgs),
    /// Print the data schema (24 attributes, flags, outcome), or the JSON
    /// Schema of an output file.
    Schema {
        /// Print JSON instead of a Markdown table.
        #[arg(long)]
        json: bool,
        /// Print the JSON Schema of an output instead: metrics, audit,
        /// model-manifest, data-manifest, scores-manifest or destruction.
        #[arg(long, value_name = "KIND")]
        json_schema: Option<String>,
    },
    /// Print a shell completion script: `nsfsim completions bash >
    /// /etc/bash_completion.d/nsfsim` (also zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Run a minimization experiment and write its report (the main job).
    Compare(CompareArgs),
    /// Train an NSF score model and register it (prints its ID last).
    Train(TrainArgs),
    /// Score every user of a data set with a registered model.
    Score {
        /// Model ID.
        #[arg(long)]
        model: String,
        /// Data set folder (from `generate`), or a table file (Parquet or
        /// CSV; README, "Your own data").
        #[arg(long)]
        data: PathBuf,
        /// A table file's held-out rows, for a model not trained on a file:
        /// hash of this seed and `user_id` (see `train --split-seed`).
        #[arg(long, default_value_t = 0)]
        split_seed: u64,
        /// Output file (user_id, score, prob, holdout, nsf): CSV when the
        /// name ends in `.csv`, else Parquet.
        #[arg(long)]
        out: PathBuf,
        /// The 0–100 score scale: probability (round(100·P)) or log-odds
        /// (10 points double the odds, 50 at odds 1:32).
        #[arg(long, value_name = "SCALE", default_value = "probability")]
        score_scale: String,
        /// No progress spinner.
        #[arg(long)]
        quiet: bool,
        /// Replace an existing output file (never one inside the registry or
        /// a data set).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Evaluate a registered model on held-out users.
    Evaluate {
        /// Model ID.
        #[arg(long)]
        model: String,
        /// Data set folder.
        #[arg(long)]
        data: PathBuf,
        /// Held-out population to evaluate on.
        #[arg(long, default_value = "registered")]
        population: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Re-identify phone numbers from their unsalted SHA-256 digests.
    Reidentify {
        /// Data set folder (from `generate`).
        #[arg(long)]
        data: PathBuf,
        /// Candidates to try from the start of the 010 space (default all 10^8).
        #[arg(long, default_value_t = crate::audit::reidentify::PHONE_SPACE)]
        candidates: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Carry out a destruction order: delete a model and everything derived
    /// from it, write a destruction record, scan for copies.
    Destroy(Box<destroy::DestroyArgs>),
    /// Audit what a model still reveals: membership inference, attributes
    /// from the score, the lawful replacement.
    Audit(AuditArgs),
    /// List or show registered models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Write one shard of the daily transfer stream (event rows per user,
    /// day and category) as Hive-partitioned Parquet.
    Stream(StreamArgs),
    /// Records and bytes of a stream sample, projected to the case's users
    /// and period for each minimization scenario.
    StreamVolume(StreamVolumeArgs),
    /// Print a preset after overrides, as TOML.
    Preset {
        /// Preset name (small, default, case) or path to a TOML file.
        #[arg(long, default_value = "default")]
        preset: String,
        /// Override a field: --set consent.rate=0.5 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The model to audit.
    #[arg(long)]
    model: String,
    /// The data set it was trained on (membership truth comes from it): a
    /// generated data set folder, or the table file of `train --data FILE`.
    #[arg(long)]
    data: PathBuf,
    /// Output folder (default runs/audit-<model>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output folder (only an earlier audit).
    #[arg(long)]
    force: bool,
    /// Members attacked (and as many non-members).
    #[arg(long, default_value_t = crate::audit::AuditParams::default().eval_users)]
    eval_users: usize,
    /// Shadow models for LiRA.
    #[arg(long, default_value_t = crate::audit::AuditParams::default().shadows)]
    shadows: usize,
    /// Bootstrap resamples per interval.
    #[arg(long, default_value_t = crate::audit::AuditParams::default().bootstrap)]
    bootstrap: u32,
    /// Training users of the overfit positive control.
    #[arg(long, default_value_t = crate::audit::AuditParams::default().control_users)]
    control_users: usize,
    /// Users sampled for attribute inference (all when fewer).
    #[arg(long, default_value_t = crate::audit::AuditParams::default().attribute_users)]
    attribute_users: usize,
    /// Seed of samples, shadows and resamples.
    #[arg(long, default_value_t = crate::audit::AuditParams::default().seed)]
    seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArg,
}

#[derive(Debug, clap::Args)]
struct RegistryArg {
    /// Model registry folder (default: $NSFSIM_REGISTRY or models/registry).
    #[arg(long)]
    registry: Option<PathBuf>,
}

impl RegistryArg {
    fn path(&self) -> PathBuf {
        crate::api::registry_path(self.registry.as_deref())
    }
}

#[derive(Debug, Subcommand)]
enum ModelsAction {
    /// An aligned table of the registered models (ID, family, population,
    /// features, members, AUC, created from).
    List {
        /// Print the manifests as a JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// A scorecard's points table (Markdown).
    Points {
        /// Model ID.
        id: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// A model's manifest (JSON) with its `children`: models trained from
    /// it and the score files, runs and audits derived from it.
    Show {
        /// Model ID.
        id: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// A model's lineage: what it derives from and everything derived from
    /// it, as text or Graphviz DOT (`| dot -Tsvg > lineage.svg`).
    Lineage {
        /// Model ID.
        id: String,
        /// Print Graphviz DOT.
        #[arg(long)]
        dot: bool,
        #[command(flatten)]
        registry: RegistryArg,
    },
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// Experiment spec: default, case, or a path to a TOML file.
    #[arg(long, default_value = "default")]
    spec: String,
    /// Override a spec field: --set replicates=3 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder (default runs/<name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output folder (only an earlier run).
    #[arg(long)]
    force: bool,
    /// Where replicate populations are cached.
    #[arg(long, default_value = "synthetic/out/experiments")]
    data_root: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// Also write predictions.parquet: every test user's P(nsf), score and
    /// outcome under every arm × family × replicate.
    #[arg(long)]
    export_predictions: bool,
    /// The 0–100 score scale the policy is stated on: probability or
    /// log-odds (same as --set score_scale=...).
    #[arg(long, value_name = "SCALE")]
    score_scale: Option<String>,
    /// The unit money figures are labelled in (default KRW for simulated
    /// runs, `units` for --data tables; same as --set currency=...).
    #[arg(long, value_name = "NAME")]
    currency: Option<String>,
    /// Your own table instead of simulated populations (README, "Your own
    /// data").
    #[command(flatten, next_help_heading = "Your own data")]
    table: own::TableArgs,
    #[command(flatten)]
    registry: RegistryArg,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Data set folder (from `generate`), or a table file (Parquet or CSV):
    /// nsfsim's data set rewritten by another tool, or any table with
    /// --label.
    #[arg(long)]
    data: PathBuf,
    /// A table file's binary outcome column (omit for a rewritten nsfsim
    /// data set).
    #[arg(long, value_name = "COL")]
    label: Option<String>,
    /// The label's positive value.
    #[arg(long, value_name = "VALUE")]
    positive: Option<String>,
    /// A table file's consent flag column (for --population consented).
    #[arg(long, value_name = "COL")]
    consent: Option<String>,
    /// A table file's target flag column (--population registered).
    #[arg(long, value_name = "COL")]
    target: Option<String>,
    /// A table file's row ID column (default the row number).
    #[arg(long, value_name = "COL")]
    id: Option<String>,
    /// A table file's held-out rows: hash of this seed and the row ID (the
    /// data set's own seed reproduces a generated data set's split).
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Training population: all, registered or consented.
    #[arg(long, default_value = "all")]
    population: String,
    /// Features: full, minimal or a comma-separated list of attributes.
    #[arg(long, default_value = "full")]
    features: String,
    /// Model family: logistic, scorecard, gbdt or dp-logistic.
    #[arg(long, default_value = "logistic", value_name = "FAMILY")]
    model: String,
    /// dp-logistic's privacy budget ε (pure ε-DP, δ = 0; default 1): a
    /// finite number above 0.
    #[arg(long, value_name = "EPS", allow_negative_numbers = true)]
    epsilon: Option<f64>,
    /// Training seed (recorded; the logistic fit is deterministic).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The 0–100 score scale of the model's manifest (its score mapping
    /// and score bands): probability or log-odds.
    #[arg(long, default_value = "probability", value_name = "SCALE")]
    score_scale: String,
    /// Train on this registered model's scores instead of the observed
    /// outcomes (distillation; families with soft labels, e.g. logistic).
    /// The teacher becomes the parent.
    #[arg(long, value_name = "MODEL_ID")]
    teacher: Option<String>,
    /// Start the fit from this registered model (same family, which must
    /// support a warm start, e.g. logistic; same features). It becomes the
    /// parent.
    #[arg(long, value_name = "MODEL_ID")]
    warm_start: Option<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress spinner.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Parquet,
    Csv,
}

/// The preset flags shared by `generate` and `stream`.
#[derive(Debug, clap::Args)]
struct PresetArgs {
    /// Preset name (small, default, case) or path to a TOML file.
    #[arg(long, default_value = "default")]
    preset: String,
    /// Master seed (overrides the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of users (overrides the preset's).
    #[arg(long, allow_negative_numbers = true)]
    users: Option<i64>,
    /// Override any preset field: --set consent.rate=0.5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    world: PresetArgs,
    /// Output folder (default synthetic/out/<preset name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data file format.
    #[arg(long, value_enum, default_value = "parquet")]
    format: FormatArg,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Replace an existing output folder.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn thread_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    Ok(crate::api::thread_pool(threads)?)
}

impl PresetArgs {
    fn params(&self) -> crate::api::PresetParams {
        crate::api::PresetParams {
            preset: self.preset.clone(),
            seed: self.seed,
            users: self.users,
            set: self.set.clone(),
        }
    }
}

fn load_preset(a: &PresetArgs) -> anyhow::Result<preset::ValidPreset> {
    Ok(a.params().load()?)
}

fn cmd_generate(a: GenerateArgs) -> anyhow::Result<()> {
    let users = a.world.params().load()?.users;
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(users);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} generate [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} users ({rate} users/s, eta {eta})",
            )
            .expect("valid template")
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", crate::report::plot::thousands(s.per_sec() as i64));
            }),
        );
        Some(b)
    } else {
        None
    };
    let started = Instant::now();
    let params = crate::api::GenerateParams {
        world: a.world.params(),
        out: a.out,
        format: Some(
            match a.format {
                FormatArg::Parquet => "parquet",
                FormatArg::Csv => "csv",
            }
            .into(),
        ),
        threads: a.threads,
        force: a.force,
    };
    let (manifest, out) = crate::api::generate(&params, &|done| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let s = &manifest.summary;
    println!(
        "wrote {}: {} users in {:.1} s ({:.0} users/s); registered {:.2}%, consented {:.2}%, nsf {:.2}% (mean nsf_prob {:.2}%)",
        out.display(),
        manifest.users,
        secs,
        manifest.users as f64 / secs,
        100.0 * s.registered_share,
        100.0 * s.consented_share,
        100.0 * s.nsf_rate,
        100.0 * s.mean_nsf_prob,
    );
    Ok(())
}

fn print_evaluation(e: &crate::stats::metrics::Evaluation) {
    println!(
        "users {}  nsf rate {:.4}  AUC {:.4}  Gini {:.4}  KS {:.4}  Brier {:.5}  log loss {:.5}  ECE {:.5}  oracle AUC {:.4}",
        e.users, e.nsf_rate, e.auc, e.gini, e.ks, e.brier, e.log_loss, e.ece, e.oracle_auc
    );
    println!("| score band | users | observed NSF rate | predicted NSF rate |");
    println!("|---|---|---|---|");
    for b in &e.bands {
        println!(
            "| {}-{} | {} | {:.4} | {:.4} |",
            b.score_from, b.score_to, b.users, b.observed_nsf_rate, b.predicted_nsf_rate
        );
    }
}

fn cmd_compare(a: CompareArgs) -> anyhow::Result<()> {
    let mut set = a.set.clone();
    if let Some(s) = &a.score_scale {
        crate::stats::scale::ScoreScale::parse(s, "--score-scale")?;
        set.push(format!("score_scale=\"{s}\""));
    }
    let table = a
        .table
        .data
        .clone()
        .map(|path| a.table.params(path, a.currency.clone()));
    if let (Some(c), None) = (&a.currency, &table) {
        set.push(format!("currency={}", toml::Value::String(c.clone())));
    }
    let params = crate::api::CompareParams {
        spec: a.spec,
        set,
        out: a.out,
        force: a.force,
        data_root: a.data_root,
        threads: a.threads,
        export_predictions: a.export_predictions,
        registry: a.registry.registry,
    };
    if let Some(t) = table {
        return own::cmd_compare_table(params, t, a.quiet);
    }
    let started = Instant::now();
    let progress = progress_lines(a.quiet, started);
    let (result, out) = crate::api::compare(&params, &progress)?;
    drop(progress);
    print_compare(&result, &out, started);
    Ok(())
}

/// `compare`'s summary lines and where its report went.
fn print_compare(
    result: &crate::experiment::ExperimentResult,
    out: &std::path::Path,
    started: Instant,
) {
    for line in crate::report::experiment::summary_lines(result) {
        println!("{line}");
    }
    println!(
        "wrote {}/report.md, report.html, metrics.json in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
}

/// Progress on stderr: a spinner with the elapsed time and the current
/// step, on a terminal only (none when `quiet` or when stderr is a file or
/// a pipe).
fn progress_lines(quiet: bool, _started: Instant) -> impl Fn(&str) {
    let bar = spinner(quiet, "");
    move |line: &str| {
        if let Some(b) = &bar {
            b.set_message(line.trim().to_string());
        }
    }
}

/// A ticking spinner with `message` on a terminal (none when `quiet` or
/// stderr is not a terminal); cleared when dropped.
fn spinner(quiet: bool, message: &str) -> Option<Spinner> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("valid template"),
    );
    b.set_message(message.to_string());
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(Spinner(b))
}

/// A spinner that clears itself when dropped.
struct Spinner(indicatif::ProgressBar);

impl std::ops::Deref for Spinner {
    type Target = indicatif::ProgressBar;
    fn deref(&self) -> &indicatif::ProgressBar {
        &self.0
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn cmd_audit(a: AuditArgs) -> anyhow::Result<()> {
    let run = crate::api::AuditRun {
        model: a.model,
        data: a.data,
        out: a.out,
        force: a.force,
        params: crate::audit::AuditParams {
            eval_users: a.eval_users,
            shadows: a.shadows,
            bootstrap: a.bootstrap,
            control_users: a.control_users,
            attribute_users: a.attribute_users,
            seed: a.seed,
            ..Default::default()
        },
        threads: a.threads,
        registry: a.registry.registry,
    };
    let started = Instant::now();
    let progress = progress_lines(a.quiet, started);
    let (result, out) = crate::api::audit(&run, &progress)?;
    drop(progress);
    for f in crate::report::audit_findings(&result) {
        println!("- {f}");
    }
    println!(
        "wrote {}/audit.md, audit.html, audit.json in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cmd_train(a: TrainArgs) -> anyhow::Result<()> {
    if a.data.is_file() {
        return own::cmd_train_file(a);
    }
    let params = crate::api::TrainParams {
        data: a.data,
        population: a.population,
        features: a.features,
        model: a.model,
        epsilon: a.epsilon,
        seed: a.seed,
        teacher: a.teacher,
        warm_start: a.warm_start,
        threads: a.threads,
        registry: a.registry.registry,
    };
    let name = params.model_spec()?.name();
    let scale = crate::stats::scale::ScoreScale::parse(&a.score_scale, "--score-scale")?;
    let started = Instant::now();
    let bar = spinner(a.quiet, &format!("training {name}"));
    let t = crate::api::train_on_scale(&params, scale)?;
    drop(bar);
    let m = &t.manifest;
    eprintln!(
        "trained {} on {} {} users ({} features) in {:.1} s (read {:.1} s, fit {:.1} s, evaluate+register {:.1} s); held-out registered users: AUC {:.4} (oracle {:.4})",
        m.family,
        m.training_members.count,
        m.population_rule,
        m.feature_columns.len(),
        started.elapsed().as_secs_f64(),
        t.seconds[0],
        t.seconds[1],
        t.seconds[2],
        m.metrics.auc,
        m.metrics.oracle_auc
    );
    println!("{}", t.model_id);
    Ok(())
}

fn cmd_reidentify(
    data: PathBuf,
    candidates: u64,
    threads: Option<usize>,
    json: bool,
) -> anyhow::Result<()> {
    let pool = thread_pool(threads)?;
    let r = pool.install(|| crate::audit::reidentify::run(&data, candidates))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "unsalted SHA-256: recovered {} of {} phone numbers ({:.2}%, {} checked correct) by hashing {} candidates in {:.1} s ({} candidates/s on {} threads); keyed HMAC-SHA-256: {} recovered",
            r.recovered,
            r.users,
            100.0 * r.recovered_share,
            r.correct,
            r.candidates,
            r.seconds,
            crate::report::plot::thousands(r.candidates_per_second as i64),
            r.threads,
            r.recovered_keyed
        );
    }
    Ok(())
}

fn cmd_score(
    model: String,
    (data, split_seed): (PathBuf, u64),
    out: PathBuf,
    score_scale: String,
    force: bool,
    quiet: bool,
    registry: RegistryArg,
) -> anyhow::Result<()> {
    let bar = spinner(
        quiet,
        &format!("scoring {} with model {model}", data.display()),
    );
    let scale = crate::stats::scale::ScoreScale::parse(&score_scale, "--score-scale")?;
    let m = if data.is_file() {
        train::score_with(
            &registry.path(),
            &model,
            &out,
            scale,
            force,
            &|m, stored| {
                crate::experiment::own::score_data(&data, m, stored.features(), split_seed)
            },
        )?
    } else {
        train::score(&registry.path(), &model, &data, &out, scale, force)?
    };
    drop(bar);
    println!(
        "wrote {}: {} users scored by model {}",
        out.display(),
        m.files[0].rows,
        m.model_id
    );
    Ok(())
}

fn cmd_evaluate(
    model: String,
    data: PathBuf,
    population: String,
    json: bool,
    registry: RegistryArg,
) -> anyhow::Result<()> {
    let e = crate::api::evaluate(&model, &data, &population, registry.registry.as_deref())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print_evaluation(&e);
    }
    Ok(())
}

fn cmd_models(action: ModelsAction) -> anyhow::Result<()> {
    match action {
        ModelsAction::List { json, registry } => {
            let models = crate::lineage::registry::list(&registry.path())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models)?);
                return Ok(());
            }
            print!("{}", models_table(&models));
            Ok(())
        }
        ModelsAction::Points { id, registry } => {
            match train::load_model(&registry.path(), &id)?.1.describe() {
                Some(table) => {
                    print!("{table}");
                    Ok(())
                }
                None => Err(NsfError::param("ID", format!("model {id} is not a scorecard")).into()),
            }
        }
        ModelsAction::Show { id, registry } => {
            let (m, _) = crate::lineage::registry::load(&registry.path(), &id)?;
            let mut v = serde_json::to_value(&m)?;
            let children = crate::report::lineage::children(&registry.path(), &id);
            v["children"] = children
                .iter()
                .map(|c| serde_json::json!({"kind": c.kind, "id": c.id, "label": c.label}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        ModelsAction::Lineage { id, dot, registry } => {
            crate::lineage::registry::load(&registry.path(), &id)?;
            let l = crate::report::lineage::lineage(&registry.path(), &id);
            print!("{}", if dot { l.dot() } else { l.text(&id) });
            Ok(())
        }
    }
}

/// `models list`: a header and one aligned row per model.
fn models_table(models: &[crate::lineage::registry::ModelManifest]) -> String {
    let header = [
        "ID",
        "family",
        "population",
        "features",
        "members",
        "AUC",
        "created from",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for m in models {
        let from = if m.parents.is_empty() {
            format!("data {}", m.data.dir)
        } else {
            format!("models {} on data {}", m.parents.join(", "), m.data.dir)
        };
        rows.push(vec![
            m.model_id.clone(),
            m.family.clone(),
            m.population_rule.clone(),
            m.features.len().to_string(),
            m.training_members.count.to_string(),
            format!("{:.4}", m.metrics.auc),
            from,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0))
        .collect();
    let numeric = [false, false, false, true, true, true, false];
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, c)| match (numeric[j], j + 1 == r.len()) {
                (_, true) => c.clone(),
                (true, _) => format!("{c:>w$}", w = widths[j]),
                (false, _) => format!("{c:<w$}", w = widths[j]),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `nsfsim completions SHELL`.
fn cmd_completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "nsfsim", &mut std::io::stdout());
    Ok(())
}

/// `nsfsim schema --json-schema KIND`.
fn cmd_json_schema(kind: &str) -> anyhow::Result<()> {
    let schema = crate::report::schemas::json_schema(kind)?;
    println!("{schema}");
    Ok(())
}

fn cmd_schema(json: bool) -> anyhow::Result<()> {
    if json {
        let cols: Vec<schema::ColumnRecord> = schema::all_columns()
            .iter()
            .map(schema::ColumnRecord::from)
            .collect();
        println!("{}", serde_json::to_string_pretty(&cols)?);
    } else {
        print!("{}", schema::markdown_table());
    }
    Ok(())
}

fn cmd_preset(preset: String, set: Vec<String>) -> anyhow::Result<()> {
    let p = preset::load(&preset, &set)?;
    let v = p.clone().check()?;
    drop(v);
    print!("{}", toml::to_string(&p)?);
    Ok(())
}

#[derive(Debug, clap::Args)]
struct StreamArgs {
    #[command(flatten)]
    world: PresetArgs,
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    /// Last day (inclusive), YYYY-MM-DD.
    #[arg(long)]
    to: String,
    /// The part of the users to write, K/N (shard K of N, from 0).
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// The stream's root folder, shared by all shards.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Replace this shard's earlier output.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct StreamVolumeArgs {
    /// The stream folder (all shards written).
    #[arg(long)]
    stream: PathBuf,
    /// Users to project to.
    #[arg(long, default_value_t = 40_450_000)]
    scale_users: u64,
    /// First day of the projected period.
    #[arg(long, default_value = "2019-06-27")]
    period_from: String,
    /// Last day of the projected period (inclusive).
    #[arg(long, default_value = "2024-05-21")]
    period_to: String,
    /// A `users.parquet` of the same preset: measures one user's daily
    /// record (all vs minimal categories).
    #[arg(long, value_name = "FILE")]
    population: Option<PathBuf>,
    /// Also write the JSON to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn cmd_stream(a: StreamArgs) -> anyhow::Result<()> {
    let p = load_preset(&a.world)?;
    let opts = crate::stream::shard::StreamOptions {
        out: a.out,
        from: a.from,
        to: a.to,
        shard: crate::stream::shard::ShardSpec::parse(&a.shard)?,
        force: a.force,
    };
    let pool = thread_pool(a.threads)?;
    let m = pool.install(|| crate::stream::shard::run(&p, &opts))?;
    println!(
        "wrote shard {}/{} of {}: users {}..{}, {} days, {} rows, {} bytes in {:.1} s ({:.0} rows/s)",
        m.shard.index,
        m.shard.count,
        opts.out.display(),
        m.user_range[0],
        m.user_range[1],
        m.days.len(),
        m.totals.rows,
        m.bytes,
        m.seconds,
        m.totals.rows as f64 / m.seconds.max(1e-9)
    );
    Ok(())
}

fn cmd_stream_volume(a: StreamVolumeArgs) -> anyhow::Result<()> {
    let v = crate::stream::volume::volume(
        &a.stream,
        a.scale_users,
        &a.period_from,
        &a.period_to,
        a.population.as_deref(),
    )?;
    if let Some(out) = &a.out {
        crate::data::artifact::write_json_atomic(out, &v)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", crate::stream::volume::markdown(&v));
    }
    Ok(())
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(a) => cmd_generate(a),
        Command::Train(a) => cmd_train(a),
        Command::Compare(a) => cmd_compare(a),
        Command::Destroy(a) => destroy::cmd_destroy(*a),
        Command::Audit(a) => cmd_audit(a),
        Command::Stream(a) => cmd_stream(a),
        Command::StreamVolume(a) => cmd_stream_volume(a),
        Command::Reidentify {
            data,
            candidates,
            threads,
            json,
        } => cmd_reidentify(data, candidates, threads, json),
        Command::Score {
            model,
            data,
            split_seed,
            out,
            score_scale,
            force,
            quiet,
            registry,
        } => cmd_score(
            model,
            (data, split_seed),
            out,
            score_scale,
            force,
            quiet,
            registry,
        ),
        Command::Evaluate {
            model,
            data,
            population,
            json,
            registry,
        } => cmd_evaluate(model, data, population, json, registry),
        Command::Models { action } => cmd_models(action),
        Command::Schema { json, json_schema } => match json_schema {
            Some(kind) => cmd_json_schema(&kind),
            None => cmd_schema(json),
        },
        Command::Completions { shell } => cmd_completions(shell),
        Command::Preset { preset, set } => cmd_preset(preset, set),
    }
}
