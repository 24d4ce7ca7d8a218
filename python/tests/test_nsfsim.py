"""The Python package against the built wheel: every function on a small
population, errors as exceptions with the command line's messages, and the
same results as the `nsfsim` binary where one is built (NSFSIM_BIN)."""

import json
import math
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import nsfsim

USERS = 20_000


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("nsfsim")


@pytest.fixture(scope="module")
def data(work):
    out = work / "pop"
    nsfsim.generate(preset="small", users=USERS, seed=11, out=out, threads=2)
    return out


@pytest.fixture(scope="module")
def registry(work):
    return work / "registry"


@pytest.fixture(scope="module")
def trained(data, registry):
    return nsfsim.train(data, population="registered", registry=registry, threads=2)


def test_generate_returns_an_arrow_table_with_the_schema(work):
    t = nsfsim.generate(preset="small", users=5_000, seed=3, out=work / "g", threads=1)
    assert isinstance(t, pa.Table)
    assert t.num_rows == 5_000
    assert t.column_names[0] == "user_id"
    for c in ["phone_sha256", "apple_registered", "consented", "nsf", "nsf_prob"]:
        assert c in t.column_names
    assert t.schema.field("phone_sha256").type == pa.binary(32)
    df = t.to_pandas()
    assert df.user_id.tolist() == list(range(5_000))


def test_generate_is_deterministic_across_threads(work):
    a = nsfsim.generate(preset="small", users=3_000, seed=5, out=work / "t1", threads=1)
    b = nsfsim.generate(preset="small", users=3_000, seed=5, out=work / "t2", threads=2)
    assert a.equals(b)
    assert (work / "t1" / "users.parquet").read_bytes() == (work / "t2" / "users.parquet").read_bytes()


def test_read_dataset_selects_columns(data):
    t = nsfsim.read_dataset(data, columns=["user_id", "nsf"])
    assert t.column_names == ["user_id", "nsf"]
    assert t.num_rows == USERS
    assert nsfsim.manifest(data)["users"] == USERS


def test_csv_data_set_reads_back(work):
    t = nsfsim.generate(preset="small", users=1_000, out=work / "csv", format="csv")
    assert t.num_rows == 1_000


def test_bad_input_raises_input_error_with_the_cli_message(work):
    with pytest.raises(nsfsim.InputError, match="--users"):
        nsfsim.generate(preset="small", users=0, out=work / "bad")
    with pytest.raises(nsfsim.InputError, match="--threads"):
        nsfsim.generate(preset="small", users=10, out=work / "bad", threads=0)
    with pytest.raises(nsfsim.InputError, match="--format"):
        nsfsim.generate(preset="small", users=10, out=work / "bad", format="xlsx")
    with pytest.raises(nsfsim.InputError, match="no-such-preset"):
        nsfsim.generate(preset="no-such-preset", out=work / "bad")
    assert issubclass(nsfsim.InputError, nsfsim.NsfsimError)


def test_existing_output_is_refused_without_force(data):
    with pytest.raises(nsfsim.InputError):
        nsfsim.generate(preset="small", users=USERS, seed=11, out=data)


def test_tampered_data_set_is_refused(work):
    out = work / "tamper"
    nsfsim.generate(preset="small", users=2_000, out=out)
    p = out / "users.parquet"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(nsfsim.InputError, match="SHA-256"):
        nsfsim.read_dataset(out)


def test_train_score_evaluate(trained, data, registry, work):
    assert trained["population_rule"] == "registered"
    mid = trained["model_id"]
    assert nsfsim.model(mid, registry=registry)["model_id"] == mid
    s = nsfsim.score(mid, data, work / "scores.parquet", registry=registry)
    assert s.num_rows == USERS
    assert set(s.column_names) >= {"user_id", "score", "prob", "holdout", "nsf"}
    e = nsfsim.evaluate(trained, data, registry=registry)
    assert 0.5 < e["auc"] <= 1.0
    assert e["auc"] == pytest.approx(trained["metrics"]["auc"])


def test_unknown_model_family_is_refused(data, registry):
    with pytest.raises(nsfsim.InputError, match="no-such-family"):
        nsfsim.train(data, model="no-such-family", registry=registry)


def test_same_message_as_the_command_line(data, registry):
    binary = os.environ.get("NSFSIM_BIN")
    if not binary:
        pytest.skip("NSFSIM_BIN not set")
    with pytest.raises(nsfsim.InputError) as e:
        nsfsim.evaluate("0" * 64, data, registry=registry)
    cli = subprocess.run(
        [binary, "evaluate", "--model", "0" * 64, "--data", str(data), "--registry", str(registry)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"error: {e.value}"


def test_compare_returns_tables_as_dataframes(work):
    run = nsfsim.compare(
        out=work / "run",
        registry=work / "run-registry",
        data_root=work / "run-data",
        users=20_000,
        replicates=1,
        bootstrap=20,
        families=["logistic"],
        threads=2,
    )
    assert run.summary and run.result["replicates"]
    m = run.metrics
    assert {"replicate", "arm", "family", "metric", "value", "low", "high"} <= set(m.columns)
    assert (m[m.metric == "auc"].value > 0.5).all()
    assert not run.learning_curve.empty
    assert "metrics" in run.tables
    assert nsfsim.Run.open(work / "run").result == run.result
    with pytest.raises(nsfsim.InputError, match="replicates"):
        nsfsim.compare(out=work / "run2", replicates=0)


def test_dp_logistic_trains_and_the_lawful_compare_reports_it(data, registry, work):
    # The DP family by name (ε = 1, its default), then the `dp-all` arms of
    # the lawful experiment at a chosen ε: reported as family dp-logistic.
    m = nsfsim.train(data, model="dp-logistic", registry=registry, threads=2)
    assert m["family"] == "dp-logistic"
    assert m["hyperparameters"]["epsilon"] == 1.0
    assert 0.5 < nsfsim.evaluate(m, data, registry=registry)["auc"] <= 1.0
    run = nsfsim.compare(
        "lawful",
        out=work / "lawful",
        registry=work / "lawful-registry",
        data_root=work / "lawful-data",
        users=20_000,
        replicates=1,
        bootstrap=20,
        threads=2,
        set=["lawful.epsilons=[0.5]", "lawful.audit_users=500", "lawful.audit_shadows=4"],
    )
    arm = next(a for a in run.result["summary"] if a["arm"] == "dp-all-eps0.5")
    assert arm["family"] == "dp-logistic"
    assert 0.5 < arm["auc"]["mean"] <= 1.0
    model_id = next(a for a in run.result["replicates"][0]["arms"] if a["arm"] == "dp-all-eps0.5")["model_id"]
    dp = nsfsim.model(model_id, registry=work / "lawful-registry")
    assert dp["family"] == "dp-logistic"
    assert dp["hyperparameters"]["epsilon"] == 0.5
    t = run.metrics
    assert set(t[t.arm == "dp-all-eps0.5"].family) == {"dp-logistic"}
    assert set(t[t.arm == "all"].family) == {"logistic"}
    bound = t[(t.arm == "dp-all-eps0.5") & (t.metric == "bound_tpr_at_0_1pct_fpr")].value
    assert bound.tolist() == [pytest.approx(0.001 * math.exp(0.5))]


def test_train_sets_epsilon_for_dp_logistic(data, registry):
    # ε could not be set from Python (nor from the command line): now the
    # `epsilon` keyword is `--epsilon`, checked once, with its messages.
    m = nsfsim.train(data, model="dp-logistic", epsilon=0.25, registry=registry, threads=2)
    assert m["family"] == "dp-logistic"
    assert m["hyperparameters"]["epsilon"] == 0.25
    for bad in [0.0, -1.0, float("nan"), float("inf")]:
        with pytest.raises(nsfsim.InputError, match="--epsilon.*finite number > 0"):
            nsfsim.train(data, model="dp-logistic", epsilon=bad, registry=registry)
    with pytest.raises(nsfsim.InputError, match="--epsilon.*dp-logistic only"):
        nsfsim.train(data, model="logistic", epsilon=1.0, registry=registry)


def test_unknown_spec_field_is_refused(work):
    with pytest.raises(nsfsim.InputError, match="no_such_field"):
        nsfsim.compare(out=work / "run3", no_such_field=1)


def test_audit_returns_findings_and_tables(trained, data, registry, work):
    a = nsfsim.audit(
        trained,
        data,
        out=work / "audit",
        registry=registry,
        eval_users=500,
        shadows=4,
        bootstrap=20,
        control_users=300,
        attribute_users=5_000,
        threads=2,
    )
    assert a.findings
    assert {"section", "metric", "value"} <= set(a.audit.columns)
    assert not a.roc.empty


ORDER = {
    "order_issuer": "PIPC (synthetic)",
    "order_ref": "PIPC 2025-01",
    "order_date": "2025-01-22",
    "order_scope": "the NSF score model and everything derived from it",
    "operator": "test operator",
    "validator": "test validator",
    "data_disposition": "keep",
    "reason": "kept for the audit",
}


def test_destroy_dry_run_then_order_then_verify(data, work):
    reg = work / "reg-destroy"
    m = nsfsim.train(data, registry=reg, threads=2)
    nsfsim.score(m, data, work / "to-destroy.parquet", registry=reg)
    plan = nsfsim.destroy(m, dry_run=True, registry=reg, runs=work / "no-runs")
    assert plan.record["model_id"] == m["model_id"]
    assert (work / "to-destroy.parquet").exists()
    d = nsfsim.destroy(m, order=ORDER, registry=reg, runs=work / "no-runs")
    assert d.record["status"] == "complete"
    assert d.record["order"]["reference"] == "PIPC 2025-01"
    assert not (work / "to-destroy.parquet").exists()
    assert "scores" in set(d.artifacts.kind)
    record = reg / "destroyed" / f"{m['model_id']}.json"
    assert nsfsim.verify_destruction(record)["files_checked"] >= 1
    with pytest.raises(nsfsim.InputError, match="issuer"):
        nsfsim.destroy(m, registry=reg, issuer="nobody")


def test_stubs_cover_the_native_module():
    stub = Path(nsfsim.__file__).with_name("_nsfsim.pyi").read_text()
    for name in dir(nsfsim._nsfsim):
        if not name.startswith("_"):
            assert name in stub, name
    assert Path(nsfsim.__file__).with_name("py.typed").exists()


def test_a_copy_found_leaves_the_order_incomplete_with_the_record(data, work):
    reg = work / "reg-copy"
    m = nsfsim.train(data, registry=reg, threads=2)
    nsfsim.score(m, data, work / "copied.parquet", registry=reg)
    shared = work / "shared"
    shared.mkdir()
    (shared / "backup.parquet").write_bytes((work / "copied.parquet").read_bytes())
    with pytest.raises(nsfsim.IncompleteError, match="is incomplete: copy found") as e:
        nsfsim.destroy(m, order=ORDER, scan=[shared], registry=reg, runs=work / "no-runs")
    assert e.value.destruction.record["verification"]["copies_found"]
    (shared / "backup.parquet").unlink()
    d = nsfsim.destroy(m, order=ORDER, scan=[shared], registry=reg, runs=work / "no-runs")
    assert d.already_destroyed and d.record["status"] == "complete"


GERMAN = Path(__file__).resolve().parents[2] / "tests" / "data" / "german_credit.parquet"
GERMAN_ARGS = dict(label="creditability", positive="bad", simulate_consent="random", consent_rate=0.5)


def test_compare_on_your_own_table_returns_dataframes(work):
    run = nsfsim.compare(
        data=GERMAN,
        **GERMAN_ARGS,
        families=["logistic"],
        replicates=2,
        bootstrap=20,
        out=work / "own",
        registry=work / "own-registry",
        threads=2,
    )
    assert run.own_data["rows"] == 1_000
    assert run.own_data["simulated_consent"]["mechanism"] == "random"
    assert run.result["spec"]["currency"] == "units"
    assert "creditability" in run.columns and "label" in run.columns
    m = run.metrics
    auc = m[(m.metric == "auc") & (m.arm == "all") & m.replicate.isna()].value
    assert len(auc) == 1 and 0.6 < auc.iloc[0] < 0.95
    assert set(m.arm) >= {"all", "consented", "consented-ipw"}
    assert "KRW" not in run.report
    assert "units per 1,000" in run.report


def test_own_table_run_equals_the_command_lines(work):
    binary = os.environ.get("NSFSIM_BIN")
    if not binary:
        pytest.skip("NSFSIM_BIN not set")
    run = nsfsim.compare(data=GERMAN, **GERMAN_ARGS, families="logistic,gbdt", replicates=1, bootstrap=20,
                         currency="EUR", out=work / "own-py", registry=work / "own-reg-py", threads=1)
    cli = subprocess.run(
        [binary, "compare", "--data", str(GERMAN), "--label", "creditability", "--positive", "bad",
         "--simulate-consent", "random", "--consent-rate", "0.5", "--families", "logistic,gbdt",
         "--replicates", "1", "--set", "bootstrap=20", "--currency", "EUR", "--quiet", "--threads", "2",
         "--out", str(work / "own-cli"), "--registry", str(work / "own-reg-cli")],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stderr.startswith(run.columns)
    a = run.metrics
    b = nsfsim.Run.open(work / "own-cli").metrics
    assert a.equals(b)
    assert "EUR per 1,000" in run.report


def test_table_flags_need_data_and_a_label(work):
    with pytest.raises(nsfsim.InputError, match="--label"):
        nsfsim.compare(data=GERMAN, simulate_consent="random", out=work / "own-bad")
    with pytest.raises(nsfsim.InputError, match="`--label`: applies to your own table only"):
        nsfsim.compare(label="creditability", out=work / "own-bad")
    with pytest.raises(nsfsim.InputError, match="--consent"):
        nsfsim.compare(data=GERMAN, label="creditability", positive="bad", out=work / "own-bad")
    with pytest.raises(nsfsim.InputError, match="no column `nope`"):
        nsfsim.compare(data=GERMAN, label="nope", simulate_consent="random", out=work / "own-bad")
    with pytest.raises(nsfsim.InputError, match="currency"):
        nsfsim.compare(data=GERMAN, **GERMAN_ARGS, currency="<b>", out=work / "own-bad")


def test_exceptions_print_as_nsfsim():
    for e in (nsfsim.NsfsimError, nsfsim.InputError, nsfsim.IncompleteError):
        assert e.__module__ == "nsfsim"
        assert repr(e) == f"<class 'nsfsim.{e.__name__}'>"


def test_signed_destruction_verified_with_the_public_key(data, work):
    keys = nsfsim.destroy_keygen(work / "order.key")
    assert keys["public_key"] == work / "order.key.pub"
    assert (keys["secret_key"].stat().st_mode & 0o777) == 0o600
    with pytest.raises(nsfsim.InputError, match="never replaced"):
        nsfsim.destroy_keygen(work / "order.key")
    reg = work / "reg-signed"
    m = nsfsim.train(data, registry=reg, threads=2)
    d = nsfsim.destroy(m, order=ORDER, sign_key=keys["secret_key"], registry=reg, runs=work / "no-runs")
    assert d.record["status"] == "complete"
    record = reg / "destroyed" / f"{m['model_id']}.json"
    v = nsfsim.destroy_verify(record, public_key=keys["public_key"], validator="auditor",
                              sign_key=keys["secret_key"])
    pk = keys["public_key"].read_text().strip()
    assert v["signed_by"] == pk
    assert v["validation"]["by"] == "auditor"
    other = nsfsim.destroy_keygen(work / "other.key")
    with pytest.raises(nsfsim.IncompleteError):
        nsfsim.destroy_verify(record, public_key=other["public_key"])
