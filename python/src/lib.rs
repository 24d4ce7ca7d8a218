//! `nsfsim._nsfsim`: the native half of the Python package. Every function
//! maps its keyword arguments onto `nsfsim::api` (the parameters the command
//! line uses, same names and defaults) and releases the GIL while the
//! library works. Tables cross as Arrow (C data interface, no copy) and
//! become `pyarrow.Table`; nested results cross as JSON text that the Python
//! half (`python/nsfsim/__init__.py`) parses. Errors raise `InputError`
//! (the command line's exit code 2), `IncompleteError` (3) or `NsfsimError`
//! (1), with the command line's message.

use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_pyarrow::{IntoPyArrow, Table};
use nsfsim::api;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    nsfsim,
    NsfsimError,
    PyException,
    "A failure during a run (the command line's exit code 1)."
);
create_exception!(
    nsfsim,
    InputError,
    NsfsimError,
    "Bad input or a refused operation (exit code 2)."
);
create_exception!(
    nsfsim,
    IncompleteError,
    NsfsimError,
    "A destruction order left incomplete (exit code 3)."
);

/// The command line's message (`error: ...` without the prefix) as the
/// matching Python exception.
fn py_err(e: nsfsim::NsfError) -> PyErr {
    let code = e.exit_code();
    let message = format!("{:#}", anyhow::Error::from(e));
    match code {
        2 => InputError::new_err(message),
        3 => IncompleteError::new_err(message),
        _ => NsfsimError::new_err(message),
    }
}

fn json_err(e: serde_json::Error) -> PyErr {
    NsfsimError::new_err(format!("cannot encode a result as JSON: {e}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(json_err)
}

/// Record batches as one `pyarrow.Table` (schema from the first batch, or
/// `schema` when there is none).
fn table<'py>(
    py: Python<'py>,
    batches: Vec<RecordBatch>,
    schema: arrow_schema::SchemaRef,
) -> PyResult<Bound<'py, PyAny>> {
    let schema = batches.first().map_or(schema, |b| b.schema());
    let t = Table::try_new(batches, schema)
        .map_err(|e| NsfsimError::new_err(format!("cannot build the table: {e}")))?;
    t.into_pyarrow(py)
}

/// Generates a population into `out`; returns the folder written and its
/// manifest (JSON).
#[pyfunction]
#[pyo3(signature = (*, preset="default".to_string(), seed=None, users=None, set=Vec::new(), out=None, format=None, threads=None, force=false))]
#[allow(clippy::too_many_arguments)]
fn generate(
    py: Python<'_>,
    preset: String,
    seed: Option<u64>,
    users: Option<i64>,
    set: Vec<String>,
    out: Option<PathBuf>,
    format: Option<String>,
    threads: Option<usize>,
    force: bool,
) -> PyResult<(String, String)> {
    let p = api::GenerateParams {
        world: api::PresetParams {
            preset,
            seed,
            users,
            set,
        },
        out,
        format,
        threads,
        force,
    };
    let (manifest, out) = py.detach(|| api::generate(&p, &|_| {})).map_err(py_err)?;
    Ok((out.display().to_string(), to_json(&manifest)?))
}

/// A generated data set's rows as a `pyarrow.Table`, checked against its
/// manifest.
#[pyfunction]
#[pyo3(signature = (data, columns=None))]
fn read_dataset(
    py: Python<'_>,
    data: PathBuf,
    columns: Option<Vec<String>>,
) -> PyResult<Bound<'_, PyAny>> {
    let batches = py
        .detach(|| api::read_dataset(&data, columns.as_deref()))
        .map_err(py_err)?;
    let schema = nsfsim::data::generate::arrow_schema();
    table(py, batches, schema)
}

/// Trains and registers a model; returns its manifest (JSON, with `model_id`).
#[pyfunction]
#[pyo3(signature = (data, *, population="all".to_string(), features="full".to_string(), model="logistic".to_string(), seed=0, teacher=None, warm_start=None, threads=None, registry=None, epsilon=None))]
#[allow(clippy::too_many_arguments)]
fn train(
    py: Python<'_>,
    data: PathBuf,
    population: String,
    features: String,
    model: String,
    seed: u64,
    teacher: Option<String>,
    warm_start: Option<String>,
    threads: Option<usize>,
    registry: Option<PathBuf>,
    epsilon: Option<f64>,
) -> PyResult<String> {
    let p = api::TrainParams {
        data,
        population,
        features,
        model,
        epsilon,
        seed,
        teacher,
        warm_start,
        threads,
        registry,
    };
    let t = py.detach(|| api::train(&p)).map_err(py_err)?;
    to_json(&t.manifest)
}

/// Scores a data set; returns the score file's manifest (JSON).
#[pyfunction]
#[pyo3(signature = (model, data, out, *, force=false, registry=None))]
fn score(
    py: Python<'_>,
    model: String,
    data: PathBuf,
    out: PathBuf,
    force: bool,
    registry: Option<PathBuf>,
) -> PyResult<String> {
    let m = py
        .detach(|| api::score(&model, &data, &out, force, registry.as_deref()))
        .map_err(py_err)?;
    to_json(&m)
}

/// Evaluates a model on held-out users; returns the evaluation (JSON).
#[pyfunction]
#[pyo3(signature = (model, data, *, population="registered".to_string(), registry=None))]
fn evaluate(
    py: Python<'_>,
    model: String,
    data: PathBuf,
    population: String,
    registry: Option<PathBuf>,
) -> PyResult<String> {
    let e = py
        .detach(|| api::evaluate(&model, &data, &population, registry.as_deref()))
        .map_err(py_err)?;
    to_json(&e)
}

/// A registered model's manifest (JSON).
#[pyfunction]
#[pyo3(signature = (model, *, registry=None))]
fn model_manifest(py: Python<'_>, model: String, registry: Option<PathBuf>) -> PyResult<String> {
    let (m, _) = py
        .detach(|| {
            nsfsim::lineage::registry::load(&api::registry_path(registry.as_deref()), &model)
        })
        .map_err(py_err)?;
    to_json(&m)
}

/// Runs an experiment; returns (run folder, summary lines).
#[pyfunction]
#[pyo3(signature = (spec="default".to_string(), *, set=Vec::new(), out=None, force=false, data_root=None, threads=None, export_predictions=false, registry=None))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    spec: String,
    set: Vec<String>,
    out: Option<PathBuf>,
    force: bool,
    data_root: Option<PathBuf>,
    threads: Option<usize>,
    export_predictions: bool,
    registry: Option<PathBuf>,
) -> PyResult<(String, Vec<String>)> {
    let defaults = api::CompareParams::default();
    let p = api::CompareParams {
        spec,
        set,
        out,
        force,
        data_root: data_root.unwrap_or(defaults.data_root),
        threads,
        export_predictions,
        registry,
    };
    let (result, out) = py
        .detach(|| api::compare(&p, &|_: &str| {}))
        .map_err(py_err)?;
    let lines = nsfsim::report::experiment::summary_lines(&result);
    Ok((out.display().to_string(), lines))
}

/// Runs the experiment on your own table (`compare --data FILE`); returns
/// (run folder, summary lines, the column table as printed).
#[pyfunction]
#[pyo3(signature = (data, *, label=None, positive=None, consent=None, target=None, id=None, features="all".to_string(), minimal=None, categorical=None, numeric=None, families=None, replicates=5, simulate_consent=None, consent_rate=0.5, consent_strength=1.0, currency=None, spec="default".to_string(), set=Vec::new(), out=None, force=false, threads=None, export_predictions=false, registry=None))]
#[allow(clippy::too_many_arguments)]
fn compare_table(
    py: Python<'_>,
    data: PathBuf,
    label: Option<String>,
    positive: Option<String>,
    consent: Option<String>,
    target: Option<String>,
    id: Option<String>,
    features: String,
    minimal: Option<String>,
    categorical: Option<String>,
    numeric: Option<String>,
    families: Option<String>,
    replicates: u32,
    simulate_consent: Option<String>,
    consent_rate: f64,
    consent_strength: f64,
    currency: Option<String>,
    spec: String,
    set: Vec<String>,
    out: Option<PathBuf>,
    force: bool,
    threads: Option<usize>,
    export_predictions: bool,
    registry: Option<PathBuf>,
) -> PyResult<(String, Vec<String>, String)> {
    let t = api::TableParams {
        data,
        label,
        positive,
        consent,
        target,
        id,
        features,
        minimal,
        categorical,
        numeric,
        families,
        replicates,
        simulate_consent,
        consent_rate,
        consent_strength,
        currency,
    };
    let p = api::CompareParams {
        spec,
        set,
        out,
        force,
        threads,
        export_predictions,
        registry,
        ..api::CompareParams::default()
    };
    let (result, out, columns) = py
        .detach(|| {
            let run = api::prepare_table(&p, &t)?;
            let columns = nsfsim::data::table::column_table(&run.own.table.columns);
            let (result, out) = api::run_table(&p, &run, &|_: &str| {})?;
            Ok::<_, nsfsim::NsfError>((result, out, columns))
        })
        .map_err(py_err)?;
    let lines = nsfsim::report::experiment::summary_lines(&result);
    Ok((out.display().to_string(), lines, columns))
}

/// Audits a model; returns (audit folder, findings). `None` settings take
/// the command line's defaults.
#[pyfunction]
#[pyo3(signature = (model, data, *, out=None, force=false, eval_users=None, shadows=None, bootstrap=None, control_users=None, attribute_users=None, seed=None, threads=None, registry=None))]
#[allow(clippy::too_many_arguments)]
fn audit(
    py: Python<'_>,
    model: String,
    data: PathBuf,
    out: Option<PathBuf>,
    force: bool,
    eval_users: Option<usize>,
    shadows: Option<usize>,
    bootstrap: Option<u32>,
    control_users: Option<usize>,
    attribute_users: Option<usize>,
    seed: Option<u64>,
    threads: Option<usize>,
    registry: Option<PathBuf>,
) -> PyResult<(String, Vec<String>)> {
    let d = nsfsim::audit::AuditParams::default();
    let run = api::AuditRun {
        model,
        data,
        out,
        force,
        params: nsfsim::audit::AuditParams {
            eval_users: eval_users.unwrap_or(d.eval_users),
            shadows: shadows.unwrap_or(d.shadows),
            bootstrap: bootstrap.unwrap_or(d.bootstrap),
            control_users: control_users.unwrap_or(d.control_users),
            attribute_users: attribute_users.unwrap_or(d.attribute_users),
            seed: seed.unwrap_or(d.seed),
            ..d
        },
        threads,
        registry,
    };
    let (result, out) = py
        .detach(|| api::audit(&run, &|_: &str| {}))
        .map_err(py_err)?;
    let findings = nsfsim::report::audit_findings(&result);
    Ok((out.display().to_string(), findings))
}

/// Carries out (or plans, `dry_run`) a destruction order; returns
/// (record JSON, already destroyed, files written, the command line's
/// "incomplete" message when the order is incomplete).
#[pyfunction]
#[pyo3(signature = (model, *, order=Vec::new(), dry_run=false, scan=Vec::new(), runs=None, registry=None))]
fn destroy(
    py: Python<'_>,
    model: String,
    order: Vec<(String, String)>,
    dry_run: bool,
    scan: Vec<PathBuf>,
    runs: Option<PathBuf>,
    registry: Option<PathBuf>,
) -> PyResult<(String, bool, Vec<String>, Option<String>)> {
    let mut p = api::DestroyParams::new(&model);
    p.order = order;
    p.dry_run = dry_run;
    p.scan = scan;
    p.runs = runs.unwrap_or(p.runs);
    p.registry = registry;
    let o = py.detach(|| api::destroy(&p)).map_err(py_err)?;
    let r = &o.record;
    let incomplete = (!dry_run && r.status != "complete").then(|| {
        format!(
            "the order on model {} is incomplete: {}",
            r.model_id,
            r.incomplete_reasons.join("; ")
        )
    });
    let written = o.written.iter().map(|p| p.display().to_string()).collect();
    Ok((to_json(r)?, o.already_destroyed, written, incomplete))
}

/// Verifies a destruction record (`destroy verify`); returns the report
/// (JSON: entries, files_checked, files_scanned, signed_by, validation).
#[pyfunction]
#[pyo3(signature = (record, *, public_key=None, validator=None, sign_key=None))]
fn verify_destruction(
    py: Python<'_>,
    record: PathBuf,
    public_key: Option<String>,
    validator: Option<String>,
    sign_key: Option<PathBuf>,
) -> PyResult<String> {
    let p = api::VerifyParams {
        record,
        public_key,
        validator,
        sign_key,
    };
    let v = py.detach(|| api::destroy_verify(&p)).map_err(py_err)?;
    to_json(&serde_json::json!({
        "entries": v.entries,
        "files_checked": v.files_checked,
        "files_scanned": v.files_scanned,
        "signed_by": v.signed_by,
        "validation": v.validation,
    }))
}

/// Writes a new Ed25519 key pair (`destroy keygen --out FILE`); returns
/// (secret key file, public key file).
#[pyfunction]
fn destroy_keygen(out: PathBuf) -> PyResult<(String, String)> {
    let (sk, pk) = api::destroy_keygen(&out).map_err(py_err)?;
    Ok((sk.display().to_string(), pk.display().to_string()))
}

#[pymodule]
fn _nsfsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NsfsimError", py.get_type::<NsfsimError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("IncompleteError", py.get_type::<IncompleteError>())?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(read_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(model_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_function(wrap_pyfunction!(destroy, m)?)?;
    m.add_function(wrap_pyfunction!(verify_destruction, m)?)?;
    m.add_function(wrap_pyfunction!(destroy_keygen, m)?)?;
    m.add_function(wrap_pyfunction!(compare_table, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
