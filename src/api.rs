//! The parameters that the command line and the Python package (`python/`)
//! share, defined once: each struct's fields carry the flag names (`--users`
//! is `users`, `--data-root` is `data_root`), their defaults are the
//! command line's, and each function here is what both front ends call.
//! `cli` maps its clap arguments onto these structs; the Python package maps
//! keyword arguments of the same names. Neither holds logic of its own.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::data::generate::{self, Format, GenerateOptions, PopulationManifest};
use crate::error::NsfError;
use crate::lineage::destroy::{DestroyOptions, Outcome};
use crate::models::train::{self, DerivedFrom, Trained};
use crate::sim::preset::{self, ValidPreset};
use crate::stats::metrics::Evaluation;
use crate::{Result, experiment};

/// `--registry`: the model registry (default `$NSFSIM_REGISTRY`, else
/// `models/registry`).
pub fn registry_path(registry: Option<&Path>) -> PathBuf {
    registry
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("NSFSIM_REGISTRY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crate::lineage::registry::DEFAULT_REGISTRY))
}

/// `--threads`: a worker pool of that many threads (default all cores,
/// capped at 4 × cores with a note on stderr). Results never depend on it.
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(NsfError::param("--threads", "must be at least 1"));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = threads.map(|t| {
        if t > 4 * cores {
            eprintln!("--threads {t}: capped at {} (4 x {cores} cores)", 4 * cores);
        }
        t.min(4 * cores)
    });
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| NsfError::param("--threads", format!("cannot start worker threads: {e}")))
}

/// The world a population is drawn from (`generate`, `stream`).
#[derive(Debug, Clone, PartialEq)]
pub struct PresetParams {
    /// `--preset`: small, default, case or a TOML file.
    pub preset: String,
    /// `--seed`: master seed (overrides the preset's).
    pub seed: Option<u64>,
    /// `--users`: number of users (overrides the preset's).
    pub users: Option<i64>,
    /// `--set KEY=VALUE`: any preset field.
    pub set: Vec<String>,
}

impl Default for PresetParams {
    fn default() -> Self {
        PresetParams {
            preset: "default".into(),
            seed: None,
            users: None,
            set: Vec::new(),
        }
    }
}

impl PresetParams {
    /// The preset after overrides, checked.
    pub fn load(&self) -> Result<ValidPreset> {
        let mut p = preset::load(&self.preset, &self.set)?;
        if let Some(s) = self.seed {
            p.seed = s;
        }
        if let Some(u) = self.users {
            if u < 1 {
                return Err(NsfError::param(
                    "--users",
                    format!("{u}: must be at least 1"),
                ));
            }
            p.users = u as u64;
        }
        p.check()
    }
}

/// `generate`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenerateParams {
    /// The preset and its overrides.
    pub world: PresetParams,
    /// `--out`: output folder (default `synthetic/out/<preset name>`).
    pub out: Option<PathBuf>,
    /// `--format`: `parquet` (default) or `csv`.
    pub format: Option<String>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--force`: replace an existing output folder.
    pub force: bool,
}

/// `--format` by name.
pub fn parse_format(s: &str) -> Result<Format> {
    match s {
        "parquet" => Ok(Format::Parquet),
        "csv" => Ok(Format::Csv),
        _ => Err(NsfError::param(
            "--format",
            format!("{s:?}: expected parquet or csv"),
        )),
    }
}

/// Generates a population; `progress` receives the users written so far.
/// Returns its manifest and the folder written.
pub fn generate(
    p: &GenerateParams,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(PopulationManifest, PathBuf)> {
    let preset = p.world.load()?;
    let format = parse_format(p.format.as_deref().unwrap_or("parquet"))?;
    if p.out.is_none() {
        crate::data::artifact::check_output_name("name", &preset.name)?;
    }
    let out = p
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("synthetic/out").join(&preset.name));
    let pool = thread_pool(p.threads)?;
    let opts = GenerateOptions {
        out: out.clone(),
        format,
        force: p.force,
    };
    let manifest = pool.install(|| generate::run(&preset, &opts, progress))?;
    Ok((manifest, out))
}

/// A generated data set's rows (Parquet), checked like every reader checks
/// them: the file is the manifest's (SHA-256), its rows and values are
/// valid. `columns` selects columns (all of the generator's by default).
pub fn read_dataset(dir: &Path, columns: Option<&[String]>) -> Result<Vec<RecordBatch>> {
    let manifest = generate::read_manifest(dir)?;
    if manifest.format != Format::Parquet {
        return Err(NsfError::Input {
            path: dir.to_path_buf(),
            message: "read_dataset reads Parquet data sets (generate without --format csv)".into(),
        });
    }
    let schema = generate::arrow_schema();
    let all: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let names: Vec<&str> = columns.unwrap_or(&all).iter().map(String::as_str).collect();
    let record = &manifest.files[0];
    crate::data::columns::read_checked(&dir.join(&record.name), record, &names)
}

/// `train`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// `--data`: data set folder.
    pub data: PathBuf,
    /// `--population`: all, registered or consented.
    pub population: String,
    /// `--features`: full, minimal or a comma-separated list.
    pub features: String,
    /// `--model`: logistic, scorecard, gbdt or dp-logistic.
    pub model: String,
    /// `--epsilon`: dp-logistic's privacy budget ε (default its 1.0).
    pub epsilon: Option<f64>,
    /// `--seed`.
    pub seed: u64,
    /// `--teacher MODEL_ID`: distil from this model's scores.
    pub teacher: Option<String>,
    /// `--warm-start MODEL_ID`.
    pub warm_start: Option<String>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--registry`.
    pub registry: Option<PathBuf>,
}

impl TrainParams {
    /// The command line's defaults for a data set.
    pub fn new(data: PathBuf) -> Self {
        TrainParams {
            data,
            population: "all".into(),
            features: "full".into(),
            model: "logistic".into(),
            epsilon: None,
            seed: 0,
            teacher: None,
            warm_start: None,
            threads: None,
            registry: None,
        }
    }

    /// `--model` with `--epsilon`, checked once
    /// ([`train::model_spec`]).
    pub fn model_spec(&self) -> Result<train::ValidModelSpec> {
        train::model_spec(&self.model, self.epsilon)
    }
}

/// Trains and registers a model.
pub fn train(p: &TrainParams) -> Result<Trained> {
    train_on_scale(p, crate::stats::scale::ScoreScale::Probability)
}

/// `train --score-scale`: [`train`] with the model's score mapping and
/// score bands on `scale`.
pub fn train_on_scale(p: &TrainParams, scale: crate::stats::scale::ScoreScale) -> Result<Trained> {
    let rule = train::PopulationRule::parse(&p.population)?;
    let features = crate::data::features::FeatureSet::parse(&p.features)?;
    let spec = p.model_spec()?;
    let pool = thread_pool(p.threads)?;
    pool.install(|| {
        train::train(
            &p.data,
            rule,
            &features,
            &spec,
            p.seed,
            &registry_path(p.registry.as_deref()),
            DerivedFrom {
                teacher: p.teacher.as_deref(),
                warm_start: p.warm_start.as_deref(),
                scale,
            },
        )
    })
}

/// `score`: writes the score file; returns its manifest.
pub fn score(
    model: &str,
    data: &Path,
    out: &Path,
    force: bool,
    registry: Option<&Path>,
) -> Result<train::ScoresManifest> {
    let scale = crate::stats::scale::ScoreScale::Probability;
    train::score(&registry_path(registry), model, data, out, scale, force)
}

/// `evaluate` (population default `registered`).
pub fn evaluate(
    model: &str,
    data: &Path,
    population: &str,
    registry: Option<&Path>,
) -> Result<Evaluation> {
    let rule = train::PopulationRule::parse(population)?;
    train::evaluate_model(&registry_path(registry), model, data, rule)
}

/// `compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareParams {
    /// `--spec`: default, case, sweep-consent or a TOML file.
    pub spec: String,
    /// `--set KEY=VALUE`: any spec field.
    pub set: Vec<String>,
    /// `--out`: run folder (default `runs/<name>`).
    pub out: Option<PathBuf>,
    /// `--force`: replace an earlier run.
    pub force: bool,
    /// `--data-root`: where replicate populations are cached.
    pub data_root: PathBuf,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--export-predictions`.
    pub export_predictions: bool,
    /// `--registry`.
    pub registry: Option<PathBuf>,
}

impl Default for CompareParams {
    fn default() -> Self {
        CompareParams {
            spec: "default".into(),
            set: Vec::new(),
            out: None,
            force: false,
            data_root: PathBuf::from("synthetic/out/experiments"),
            threads: None,
            export_predictions: false,
            registry: None,
        }
    }
}

/// Runs an experiment and writes its run folder; `progress` receives one
/// line per stage. Returns the result and the folder written.
pub fn compare(
    p: &CompareParams,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(experiment::ExperimentResult, PathBuf)> {
    let spec = experiment::load_spec(&p.spec, &p.set)?.check()?;
    if p.out.is_none() {
        crate::data::artifact::check_output_name("name", &spec.name)?;
    }
    let out = p
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));
    let pool = thread_pool(p.threads)?;
    let registry = registry_path(p.registry.as_deref());
    let to = crate::report::experiment::CompareOutput {
        out: &out,
        registry: &registry,
        data_root: &p.data_root,
        force: p.force,
        export_predictions: p.export_predictions,
        table: None,
    };
    pool.install(|| crate::report::experiment::compare(&spec, &to, progress))
}

/// `compare --data FILE`: the experiment on your own table (README, "Your
/// own data"). The fields are the flags of that heading (`--simulate-consent`
/// is `simulate_consent`); lists are comma-separated as on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct TableParams {
    /// `--data`: the table (Parquet, or CSV with a header).
    pub data: PathBuf,
    /// `--label`: the binary outcome column (required).
    pub label: Option<String>,
    /// `--positive`: the label's positive (event) value.
    pub positive: Option<String>,
    /// `--consent`: the consent (lawfully usable) flag column.
    pub consent: Option<String>,
    /// `--target`: who needs a score (flag column; default every row).
    pub target: Option<String>,
    /// `--id`: row ID column (default the row number).
    pub id: Option<String>,
    /// `--features`: a comma-separated list, or `all`.
    pub features: String,
    /// `--minimal`: the minimal feature set (adds the -minimal arms).
    pub minimal: Option<String>,
    /// `--categorical`: columns to treat as categorical.
    pub categorical: Option<String>,
    /// `--numeric`: columns to treat as numeric.
    pub numeric: Option<String>,
    /// `--families`: model families (default the spec's).
    pub families: Option<String>,
    /// `--replicates`: seeded held-out test sets.
    pub replicates: u32,
    /// `--simulate-consent`: random, attributes or risk.
    pub simulate_consent: Option<String>,
    /// `--consent-rate`: simulated consent share.
    pub consent_rate: f64,
    /// `--consent-strength`: simulated consent logit slope.
    pub consent_strength: f64,
    /// `--currency`: the unit money figures are labelled in (default
    /// `units` on a table: nsfsim cannot know your table's currency).
    pub currency: Option<String>,
}

impl TableParams {
    /// The command line's defaults for a table.
    pub fn new(data: PathBuf) -> Self {
        TableParams {
            data,
            label: None,
            positive: None,
            consent: None,
            target: None,
            id: None,
            features: "all".into(),
            minimal: None,
            categorical: None,
            numeric: None,
            families: None,
            replicates: 5,
            simulate_consent: None,
            consent_rate: 0.5,
            consent_strength: 1.0,
            currency: None,
        }
    }

    /// The table options, checked for the flags a table needs.
    pub fn options(&self) -> Result<crate::data::table::TableOptions> {
        let label = self.label.clone().ok_or_else(|| {
            NsfError::param("--label", "--data needs --label COL (the binary outcome)")
        })?;
        Ok(crate::data::table::TableOptions {
            label,
            positive: self.positive.clone(),
            consent: self.consent.clone(),
            target: self.target.clone(),
            id: self.id.clone(),
            features: (self.features != "all").then(|| comma_list(Some(&self.features))),
            minimal: self.minimal.as_deref().map(|m| comma_list(Some(m))),
            categorical: comma_list(self.categorical.as_deref()),
            numeric: comma_list(self.numeric.as_deref()),
        })
    }
}

/// A comma-separated flag value as a list (blanks dropped).
pub fn comma_list(s: Option<&str>) -> Vec<String> {
    s.map(|v| {
        v.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// A table run ready to start: its checked spec, the table and the folder.
pub struct TableRun {
    /// The spec: the `--spec` file with the table's arms, replicates and
    /// families, then `--set`.
    pub spec: experiment::ValidSpec,
    /// The table, its consent (observed or drawn) and its record.
    pub own: crate::experiment::own::OwnData,
    /// The run folder.
    pub out: PathBuf,
}

/// Reads the table and builds the run's spec (`compare --data`, before
/// training: the command line prints the column table in between).
pub fn prepare_table(p: &CompareParams, t: &TableParams) -> Result<TableRun> {
    let mut spec = experiment::load_spec(&p.spec, &[])?;
    let stem = t
        .data
        .file_stem()
        .map_or("table".into(), |s| s.to_string_lossy().to_string());
    spec.name = format!("own-{stem}");
    spec.description = format!("The minimization experiment on {}.", t.data.display());
    spec.preset = format!("table:{}", t.data.display());
    spec.replicates = t.replicates;
    spec.currency = t.currency.clone().unwrap_or_else(|| "units".into());
    spec.arms = vec!["all".into(), "consented".into(), "consented-ipw".into()];
    if t.minimal.is_some() {
        spec.arms
            .extend(["all-minimal".into(), "consented-minimal".into()]);
    }
    if t.target.is_some() {
        spec.arms.insert(1, "registered".into());
    }
    if let Some(f) = &t.families {
        spec.families = comma_list(Some(f));
        spec.model = None;
    }
    spec.sweep = None;
    // `--set` last, over the table's defaults.
    let text = toml::to_string(&spec).map_err(|e| NsfError::param("--spec", e.to_string()))?;
    let mut spec: experiment::ExperimentSpec =
        crate::sim::preset::parse_with_overrides(&p.spec, &text, &p.set)?;
    let options = t.options()?;
    let table = crate::data::table::load(&t.data, &options)?;
    let simulated = t
        .simulate_consent
        .as_ref()
        .map(|m| crate::experiment::own::SimulatedConsent {
            mechanism: m.clone(),
            rate: t.consent_rate,
            strength: t.consent_strength,
            seed: spec.seed,
        });
    let own = crate::experiment::own::OwnData::new(table, simulated)?;
    spec.users = own.record.rows;
    spec.minimal_features = t
        .minimal
        .as_deref()
        .map(|m| comma_list(Some(m)))
        .unwrap_or_default();
    // Learning curves refit every family many times: small tables only.
    spec.learning_curves = spec.learning_curves && own.record.rows <= 20_000;
    let full = own.table.design.names.clone();
    let spec = spec.check_table(full, own.table.minimal_columns.clone())?;
    if p.out.is_none() {
        crate::data::artifact::check_output_name("name", &spec.name)?;
    }
    let out = p
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));
    Ok(TableRun { spec, own, out })
}

/// Runs a prepared table run and writes its folder.
pub fn run_table(
    p: &CompareParams,
    run: &TableRun,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(experiment::ExperimentResult, PathBuf)> {
    let pool = thread_pool(p.threads)?;
    let registry = registry_path(p.registry.as_deref());
    let to = crate::report::experiment::CompareOutput {
        out: &run.out,
        registry: &registry,
        data_root: &p.data_root,
        force: p.force,
        export_predictions: p.export_predictions,
        table: Some(&run.own),
    };
    pool.install(|| crate::report::experiment::compare(&run.spec, &to, progress))
}

/// `compare --data FILE`: [`prepare_table`] then [`run_table`].
pub fn compare_table(
    p: &CompareParams,
    t: &TableParams,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(experiment::ExperimentResult, PathBuf)> {
    run_table(p, &prepare_table(p, t)?, progress)
}

/// `audit`: the settings are [`crate::audit::AuditParams`] (same names as
/// the flags, defaults its `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRun {
    /// `--model`.
    pub model: String,
    /// `--data`: the data set it was trained on.
    pub data: PathBuf,
    /// `--out` (default `runs/audit-<model>`).
    pub out: Option<PathBuf>,
    /// `--force`.
    pub force: bool,
    /// `--eval-users`, `--shadows`, `--bootstrap`, `--control-users`,
    /// `--attribute-users`, `--seed`.
    pub params: crate::audit::AuditParams,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--registry`.
    pub registry: Option<PathBuf>,
}

/// Audits a model and writes its folder. Returns the result and the folder.
pub fn audit(
    a: &AuditRun,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(crate::audit::AuditResult, PathBuf)> {
    let params = a.params.clone().check()?;
    crate::lineage::registry::check_id(&a.model)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("audit-{}", a.model)));
    let pool = thread_pool(a.threads)?;
    let registry = registry_path(a.registry.as_deref());
    pool.install(|| {
        crate::report::audit::audit(
            &registry, &a.model, &a.data, &params, &out, a.force, progress,
        )
    })
}

/// `destroy`. The order is described by `order`: (field, value) pairs with
/// the flag names without `--` (today `order_ref`), so that a front end
/// passes an order through without knowing its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct DestroyParams {
    /// `--model`: the model named in the order.
    pub model: String,
    /// The order's fields, e.g. `("order_ref", "PIPC decision 2025-xx")`.
    pub order: Vec<(String, String)>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--scan DIR` (repeatable).
    pub scan: Vec<PathBuf>,
    /// `--runs` (default `runs`).
    pub runs: PathBuf,
    /// `--registry`.
    pub registry: Option<PathBuf>,
}

impl DestroyParams {
    /// The command line's defaults for a model.
    pub fn new(model: &str) -> Self {
        DestroyParams {
            model: model.into(),
            order: Vec::new(),
            dry_run: false,
            scan: Vec::new(),
            runs: PathBuf::from("runs"),
            registry: None,
        }
    }

    /// The library's options, every order field placed; an unknown field
    /// is refused, naming the known ones; a missing required field is
    /// refused as the command line refuses it (unless a dry run).
    pub fn options(&self) -> Result<DestroyOptions> {
        use crate::lineage::destroy_record::{DeletionMethod, Disposition, NOT_GIVEN, Order};
        let get = |name: &str| {
            self.order
                .iter()
                .rev()
                .find(|(f, _)| f == name)
                .map(|(_, v)| v.clone())
        };
        if let Some((field, _)) = self
            .order
            .iter()
            .find(|(f, _)| !ORDER_FIELDS.contains(&f.as_str()))
        {
            return Err(NsfError::param(
                "order",
                format!(
                    "unknown field {field:?} (known: {})",
                    ORDER_FIELDS.join(", ")
                ),
            ));
        }
        let missing: Vec<&str> = ORDER_FIELDS[..8]
            .iter()
            .copied()
            .filter(|f| get(f).is_none())
            .collect();
        if !self.dry_run && !missing.is_empty() {
            return Err(NsfError::param(
                format!("--{}", missing[0].replace('_', "-")),
                format!(
                    "required for a destruction order, with {} (give a value or `{NOT_GIVEN}`)",
                    missing.join(", ")
                ),
            ));
        }
        let v = |f: &str| get(f).unwrap_or_else(|| NOT_GIVEN.into());
        Ok(DestroyOptions {
            registry: registry_path(self.registry.as_deref()),
            model_id: self.model.clone(),
            order: Order {
                issuer: v("order_issuer"),
                reference: v("order_ref"),
                date: v("order_date"),
                scope: v("order_scope"),
                operator: v("operator"),
                validator: v("validator"),
            },
            data_disposition: Disposition::parse(
                &get("data_disposition").unwrap_or_else(|| "keep".into()),
            )?,
            data_reason: v("reason"),
            deletion_method: DeletionMethod::parse(
                &get("deletion_method").unwrap_or_else(|| "unlink".into()),
            )?,
            sign_key: get("sign_key").map(PathBuf::from),
            dry_run: self.dry_run,
            runs: self.runs.clone(),
            scan: self.scan.clone(),
        })
    }
}

/// The order's fields a front end may pass (the `destroy` flags without
/// `--`); the first eight are required unless a dry run.
pub const ORDER_FIELDS: [&str; 10] = [
    "order_issuer",
    "order_ref",
    "order_date",
    "order_scope",
    "operator",
    "validator",
    "data_disposition",
    "reason",
    "deletion_method",
    "sign_key",
];

/// Carries out (or with `dry_run` plans) a destruction order.
pub fn destroy(p: &DestroyParams) -> Result<Outcome> {
    crate::lineage::destroy::destroy(&p.options()?)
}

/// `destroy verify RECORD`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VerifyParams {
    /// The record: `<registry>/destroyed/<model_id>.json`.
    pub record: PathBuf,
    /// `--public-key`: trusted Ed25519 public key (file or hex).
    pub public_key: Option<String>,
    /// `--validator`: record a successful verification in this name.
    pub validator: Option<String>,
    /// `--sign-key`: sign the validation entry (needs `validator`).
    pub sign_key: Option<PathBuf>,
}

/// Verifies a destruction record: digest, signature, Markdown, the log's
/// hash chain, deleted files still absent.
pub fn destroy_verify(p: &VerifyParams) -> Result<crate::lineage::destroy::VerifyReport> {
    if p.sign_key.is_some() && p.validator.is_none() {
        return Err(NsfError::param(
            "--sign-key",
            "signs the validation entry: give --validator NAME too",
        ));
    }
    crate::lineage::destroy::verify(&crate::lineage::destroy::VerifyOptions {
        record: p.record.clone(),
        public_key: p
            .public_key
            .as_deref()
            .map(crate::lineage::destroy_sign::load_public_key)
            .transpose()?,
        validator: p.validator.clone(),
        sign_key: p.sign_key.clone(),
    })
}

/// `destroy keygen --out FILE`: a new Ed25519 key pair, FILE (secret, mode
/// 0600) and FILE.pub; returns both paths.
pub fn destroy_keygen(out: &Path) -> Result<(PathBuf, PathBuf)> {
    crate::lineage::destroy_sign::keygen(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_is_refused_naming_the_flag() {
        let e = thread_pool(Some(0)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--threads"), "{e}");
    }

    #[test]
    fn users_below_one_are_refused_naming_the_flag() {
        let p = PresetParams {
            users: Some(0),
            ..Default::default()
        };
        let e = p.load().unwrap_err();
        assert!(e.to_string().contains("--users"), "{e}");
    }

    #[test]
    fn preset_overrides_apply() {
        let p = PresetParams {
            preset: "small".into(),
            seed: Some(99),
            users: Some(1234),
            set: vec!["consent.rate=0.5".into()],
        };
        let v = p.load().unwrap();
        assert_eq!((v.seed, v.users), (99, 1234));
    }

    #[test]
    fn unknown_format_is_refused_naming_the_flag() {
        assert!(parse_format("csv").is_ok());
        let e = parse_format("xlsx").unwrap_err();
        assert!(e.to_string().contains("--format"), "{e}");
    }

    #[test]
    fn destroy_order_fields_are_placed_and_unknown_ones_refused() {
        let mut p = DestroyParams::new("abc");
        p.order.push(("order_ref".into(), "PIPC 1".into()));
        let e = p.options().unwrap_err();
        assert!(e.to_string().contains("--order-issuer"), "{e}");
        for f in &ORDER_FIELDS[..8] {
            if *f != "order_ref" {
                let value = if *f == "data_disposition" {
                    "keep"
                } else {
                    "not-given"
                };
                p.order.push((f.to_string(), value.into()));
            }
        }
        assert_eq!(p.options().unwrap().order.reference, "PIPC 1");
        p.order.push(("issuer".into(), "x".into()));
        let e = p.options().unwrap_err();
        assert!(e.to_string().contains("issuer"), "{e}");
    }

    #[test]
    fn defaults_are_the_command_lines() {
        let t = TrainParams::new("d".into());
        assert_eq!(
            (t.population.as_str(), t.features.as_str()),
            ("all", "full")
        );
        assert_eq!(t.model, "logistic");
        let c = CompareParams::default();
        assert_eq!(c.spec, "default");
        assert_eq!(c.data_root, PathBuf::from("synthetic/out/experiments"));
        assert_eq!(DestroyParams::new("m").runs, PathBuf::from("runs"));
    }
}
