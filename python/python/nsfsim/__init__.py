"""nsfsim from Python: the same library as the ``nsfsim`` command line.

Every function takes the command line's parameters under the same names
(``--data-root`` is ``data_root``) with the same defaults (they are defined
once, in the Rust crate's ``src/api.rs``), and raises the command line's
message as an exception: :class:`InputError` for bad input or a refused
operation (the command line's exit code 2), :class:`IncompleteError` for an
incomplete destruction order (3), :class:`NsfsimError` otherwise (1).

Data sets come back as ``pyarrow.Table`` (Arrow memory handed over from
Rust, no copy): ``.to_pandas()`` or ``polars.from_arrow(...)``. Runs and
audits come back as objects whose tidy tables are pandas DataFrames.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.parquet as pq

from . import _nsfsim
from ._nsfsim import IncompleteError, InputError, NsfsimError

__version__: str = _nsfsim.__version__

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "Audit",
    "Destruction",
    "IncompleteError",
    "InputError",
    "NsfsimError",
    "Run",
    "audit",
    "compare",
    "destroy",
    "destroy_keygen",
    "destroy_verify",
    "evaluate",
    "generate",
    "manifest",
    "model",
    "read_dataset",
    "score",
    "train",
    "verify_destruction",
]


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def _toml_value(v: Any) -> str:
    """A Python value as the text of a ``--set key=value`` override."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v))
    return str(v)


def _overrides(set: Optional[Sequence[str]], fields: Mapping[str, Any]) -> List[str]:
    out = list(set or [])
    out.extend(f"{k}={_toml_value(v)}" for k, v in fields.items())
    return out


def generate(
    *,
    preset: str = "default",
    seed: Optional[int] = None,
    users: Optional[int] = None,
    set: Optional[Sequence[str]] = None,
    out: Optional[PathLike] = None,
    format: str = "parquet",
    threads: Optional[int] = None,
    force: bool = False,
    **fields: Any,
) -> pa.Table:
    """``nsfsim generate``: draws a population into ``out`` (default
    ``synthetic/out/<preset name>``) and returns its rows. Preset fields can
    be overridden with ``set=["consent.rate=0.5"]`` or, for top-level fields,
    as keywords. A CSV data set (``format="csv"``) is read back with
    ``pyarrow.csv``."""
    folder, _ = _nsfsim.generate(
        preset=preset,
        seed=seed,
        users=users,
        set=_overrides(set, fields),
        out=_path(out),
        format=format,
        threads=threads,
        force=force,
    )
    if format == "csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(Path(folder) / "users.csv")
    return read_dataset(folder)


def read_dataset(data: PathLike, columns: Optional[Sequence[str]] = None) -> pa.Table:
    """A generated data set's rows (all columns, or ``columns``), checked
    against its manifest like every nsfsim reader does (SHA-256, rows,
    values)."""
    return _nsfsim.read_dataset(os.fspath(data), None if columns is None else list(columns))


def manifest(data: PathLike) -> Dict[str, Any]:
    """A data set's ``manifest.json``."""
    return json.loads((Path(data) / "manifest.json").read_text())


def train(
    data: PathLike,
    *,
    population: str = "all",
    features: str = "full",
    model: str = "logistic",
    seed: int = 0,
    teacher: Optional[str] = None,
    warm_start: Optional[str] = None,
    threads: Optional[int] = None,
    registry: Optional[PathLike] = None,
    epsilon: Optional[float] = None,
) -> Dict[str, Any]:
    """``nsfsim train``: fits and registers a model; returns its manifest
    (``["model_id"]`` is the ID the command line prints). ``epsilon`` is
    ``--epsilon``, dp-logistic's privacy budget ε (a finite number > 0)."""
    return json.loads(
        _nsfsim.train(
            os.fspath(data),
            population=population,
            features=features,
            model=model,
            seed=seed,
            teacher=teacher,
            warm_start=warm_start,
            threads=threads,
            registry=_path(registry),
            epsilon=epsilon,
        )
    )


def _model_id(model: Union[str, Mapping[str, Any]]) -> str:
    return model if isinstance(model, str) else str(model["model_id"])


def model(model: Union[str, Mapping[str, Any]], *, registry: Optional[PathLike] = None) -> Dict[str, Any]:
    """A registered model's manifest (``nsfsim models show`` without the
    children)."""
    return json.loads(_nsfsim.model_manifest(_model_id(model), registry=_path(registry)))


def score(
    model: Union[str, Mapping[str, Any]],
    data: PathLike,
    out: PathLike,
    *,
    force: bool = False,
    registry: Optional[PathLike] = None,
) -> pa.Table:
    """``nsfsim score``: writes the score file ``out`` (CSV when it ends in
    ``.csv``, else Parquet) and returns its rows."""
    _nsfsim.score(_model_id(model), os.fspath(data), os.fspath(out), force=force, registry=_path(registry))
    if os.fspath(out).endswith(".csv"):
        import pyarrow.csv as pcsv

        return pcsv.read_csv(out)
    return pq.read_table(out)


def evaluate(
    model: Union[str, Mapping[str, Any]],
    data: PathLike,
    *,
    population: str = "registered",
    registry: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """``nsfsim evaluate --json``: AUC, Gini, KS, Brier, ... on held-out users."""
    return json.loads(
        _nsfsim.evaluate(_model_id(model), os.fspath(data), population=population, registry=_path(registry))
    )


class _Folder:
    """A written folder whose tidy Parquet tables read as DataFrames."""

    folder: Path

    def table(self, name: str):  # -> pandas.DataFrame
        """The tidy table ``<folder>/<name>.parquet`` as a DataFrame."""
        path = self.folder / f"{name}.parquet"
        if not path.exists():
            raise InputError(f"{path}: no such table (tables: {', '.join(self.tables)})")
        return pq.read_table(path).to_pandas()

    @property
    def tables(self) -> List[str]:
        """The tidy tables present."""
        return sorted(p.stem for p in self.folder.glob("*.parquet"))


class Run(_Folder):
    """A ``compare`` run: its folder, report summary, ``metrics.json`` and
    tidy tables (``metrics``, ``subgroups``, ``learning_curve``, ``roc``,
    ``calibration``, ``score_histogram``, ``cost_curve``, ``predictions``)
    as DataFrames."""

    def __init__(self, folder: PathLike, summary: Optional[List[str]] = None):
        self.folder = Path(folder)
        self.summary: List[str] = summary or []
        self.result: Dict[str, Any] = json.loads((self.folder / "metrics.json").read_text())
        # The column table printed before training (runs on your own table).
        self.columns: str = ""

    @classmethod
    def open(cls, folder: PathLike) -> "Run":
        """An earlier run folder."""
        return cls(folder)

    @property
    def metrics(self):
        return self.table("metrics")

    @property
    def subgroups(self):
        return self.table("subgroups")

    @property
    def learning_curve(self):
        return self.table("learning_curve")

    @property
    def roc(self):
        return self.table("roc")

    @property
    def calibration(self):
        return self.table("calibration")

    @property
    def score_histogram(self):
        return self.table("score_histogram")

    @property
    def cost_curve(self):
        return self.table("cost_curve")

    @property
    def predictions(self):
        return self.table("predictions")

    @property
    def report(self) -> str:
        """``report.md``."""
        return (self.folder / "report.md").read_text()

    @property
    def own_data(self) -> Optional[Dict[str, Any]]:
        """A run on your own table: the file, its SHA-256, the column table
        and every choice (``metrics.json``'s ``own_data``); else ``None``."""
        return self.result.get("own_data")

    def __repr__(self) -> str:
        return f"Run({str(self.folder)!r})"


_COMPARE_PARAMS = ("out", "force", "data_root", "threads", "export_predictions", "registry")

# `compare --data`'s flags (README, "Your own data"): only with `data=`.
_TABLE_PARAMS = (
    "label",
    "positive",
    "consent",
    "target",
    "id",
    "minimal",
    "categorical",
    "numeric",
    "simulate_consent",
    "consent_rate",
    "consent_strength",
)

ColumnList = Union[str, Sequence[str]]


def _comma(v: Optional[ColumnList]) -> Optional[str]:
    """A list of columns as the command line's comma-separated value."""
    if v is None or isinstance(v, str):
        return v
    return ",".join(str(x) for x in v)


def compare(
    spec: str = "default",
    *,
    data: Optional[PathLike] = None,
    label: Optional[str] = None,
    positive: Optional[Any] = None,
    consent: Optional[str] = None,
    target: Optional[str] = None,
    id: Optional[str] = None,
    features: Optional[ColumnList] = None,
    minimal: Optional[ColumnList] = None,
    categorical: Optional[ColumnList] = None,
    numeric: Optional[ColumnList] = None,
    simulate_consent: Optional[str] = None,
    consent_rate: Optional[float] = None,
    consent_strength: Optional[float] = None,
    set: Optional[Sequence[str]] = None,
    out: Optional[PathLike] = None,
    force: bool = False,
    data_root: Optional[PathLike] = None,
    threads: Optional[int] = None,
    export_predictions: bool = False,
    registry: Optional[PathLike] = None,
    **overrides: Any,
) -> Run:
    """``nsfsim compare``: runs the experiment ``spec`` (default, case,
    sweep-consent or a TOML file) with spec fields overridden as keywords
    (``replicates=2, users=20_000, currency="EUR"``) or
    ``set=["policy.x=1"]``; returns the run.

    With ``data=`` it is ``nsfsim compare --data FILE``: the experiment on
    your own table (Parquet, or CSV with a header), with the flags of that
    command under the same names: ``label`` (required), ``positive``,
    ``consent`` (or ``simulate_consent="random"|"attributes"|"risk"`` with
    ``consent_rate``, ``consent_strength``), ``target``, ``id``,
    ``features`` (a list, or ``"all"``), ``minimal``, ``categorical``,
    ``numeric``, ``families``, ``replicates`` (default 5) and ``currency``
    (default ``"units"``). The run's ``columns`` holds the column table the
    command line prints before training."""
    table = dict(
        label=label,
        positive=None if positive is None else str(positive),
        consent=consent,
        target=target,
        id=id,
        minimal=_comma(minimal),
        categorical=_comma(categorical),
        numeric=_comma(numeric),
        simulate_consent=simulate_consent,
        consent_rate=consent_rate,
        consent_strength=consent_strength,
    )
    if data is None:
        given = [k for k in _TABLE_PARAMS if table[k] is not None]
        if features is not None:
            given.append("features")
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise InputError(f"invalid parameter `{flag}`: applies to your own table only: give data=FILE too")
        folder, summary = _nsfsim.compare(
            os.fspath(spec),
            set=_overrides(set, overrides),
            out=_path(out),
            force=force,
            data_root=_path(data_root),
            threads=threads,
            export_predictions=export_predictions,
            registry=_path(registry),
        )
        return Run(folder, summary)
    for k in ("families", "replicates", "currency"):
        if k in overrides:
            table[k] = _comma(overrides.pop(k)) if k == "families" else overrides.pop(k)
    table = {k: v for k, v in table.items() if v is not None}
    folder, summary, columns = _nsfsim.compare_table(
        os.fspath(data),
        features=_comma(features) or "all",
        spec=os.fspath(spec),
        set=_overrides(set, overrides),
        out=_path(out),
        force=force,
        threads=threads,
        export_predictions=export_predictions,
        registry=_path(registry),
        **table,
    )
    run = Run(folder, summary)
    run.columns = columns
    return run


class Audit(_Folder):
    """An audit: its folder, findings, ``audit.json`` and tidy tables
    (``audit``, ``audit_roc``) as DataFrames."""

    def __init__(self, folder: PathLike, findings: Optional[List[str]] = None):
        self.folder = Path(folder)
        self.findings: List[str] = findings or []
        self.result: Dict[str, Any] = json.loads((self.folder / "audit.json").read_text())

    @property
    def audit(self):
        return self.table("audit")

    @property
    def roc(self):
        return self.table("audit_roc")

    def __repr__(self) -> str:
        return f"Audit({str(self.folder)!r})"


def audit(
    model: Union[str, Mapping[str, Any]],
    data: PathLike,
    *,
    out: Optional[PathLike] = None,
    force: bool = False,
    eval_users: Optional[int] = None,
    shadows: Optional[int] = None,
    bootstrap: Optional[int] = None,
    control_users: Optional[int] = None,
    attribute_users: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    registry: Optional[PathLike] = None,
) -> Audit:
    """``nsfsim audit``: membership inference, attributes from the score,
    the lawful replacement. ``None`` settings take the command line's
    defaults (10,000 users attacked, 16 shadows, 200 resamples, ...)."""
    folder, findings = _nsfsim.audit(
        _model_id(model),
        os.fspath(data),
        out=_path(out),
        force=force,
        eval_users=eval_users,
        shadows=shadows,
        bootstrap=bootstrap,
        control_users=control_users,
        attribute_users=attribute_users,
        seed=seed,
        threads=threads,
        registry=_path(registry),
    )
    return Audit(folder, findings)


class Destruction:
    """What a destruction order did (or, dry run, would do): ``record`` is
    the destruction record (``destroyed/<model_id>.json``), ``written`` the
    files it wrote."""

    def __init__(self, record: Dict[str, Any], already_destroyed: bool, written: List[str]):
        self.record = record
        self.already_destroyed = already_destroyed
        self.written = written

    @property
    def artifacts(self):  # -> pandas.DataFrame
        """One row per file the order covers (kind, path, derivation, fate)."""
        import pandas as pd

        return pd.DataFrame(self.record.get("artifacts", []))

    def __repr__(self) -> str:
        return f"Destruction(model_id={self.record.get('model_id')!r}, status={self.record.get('status')!r})"


def destroy(
    model: Union[str, Mapping[str, Any]],
    *,
    order: Optional[Mapping[str, Any]] = None,
    dry_run: bool = False,
    scan: Sequence[PathLike] = (),
    runs: Optional[PathLike] = None,
    registry: Optional[PathLike] = None,
    sign_key: Optional[PathLike] = None,
    check: bool = True,
    **order_fields: Any,
) -> Destruction:
    """``nsfsim destroy``: carries out the order on ``model`` and everything
    derived from it. The order is described by ``order`` (a dict) and/or
    keywords named like the command line's order flags without ``--``
    (``order_ref="PIPC decision 2025-xx"``); an unknown field raises
    :class:`InputError` naming the known ones. An incomplete order (a file
    kept, a copy found) raises :class:`IncompleteError` with the command
    line's message and the outcome as ``.destruction``; with
    ``check=False`` it is returned instead (``.record["status"]``).
    ``sign_key`` (``--sign-key``) signs the record and its log entry with an
    Ed25519 secret key file (:func:`destroy_keygen`)."""
    fields = dict(order or {})
    fields.update(order_fields)
    if sign_key is not None:
        fields["sign_key"] = os.fspath(sign_key)
    record, already, written, incomplete = _nsfsim.destroy(
        _model_id(model),
        order=[(k, str(v)) for k, v in fields.items()],
        dry_run=dry_run,
        scan=[os.fspath(s) for s in scan],
        runs=_path(runs),
        registry=_path(registry),
    )
    outcome = Destruction(json.loads(record), already, written)
    if incomplete is not None and check:
        e = IncompleteError(incomplete)
        e.destruction = outcome  # type: ignore[attr-defined]
        raise e
    return outcome


def destroy_verify(
    record: PathLike,
    *,
    public_key: Optional[PathLike] = None,
    validator: Optional[str] = None,
    sign_key: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """``nsfsim destroy verify RECORD``: the record's digest (and Ed25519
    signature: with ``public_key``, a key file or hex, every signature must
    be by that key), its Markdown, the log's hash chain, every deleted file
    still absent; raises :class:`IncompleteError` with the first
    discrepancy. ``validator`` logs a successful verification in that name,
    signed with ``sign_key``. Returns ``entries``, ``files_checked``,
    ``files_scanned``, ``signed_by`` and ``validation``."""
    return json.loads(
        _nsfsim.verify_destruction(
            os.fspath(record),
            public_key=_path(public_key),
            validator=validator,
            sign_key=_path(sign_key),
        )
    )


verify_destruction = destroy_verify


def destroy_keygen(out: PathLike) -> Dict[str, Path]:
    """``nsfsim destroy keygen --out FILE``: a new Ed25519 key pair, ``FILE``
    (secret, mode 0600) and ``FILE.pub``; an existing file is never
    replaced."""
    secret, public = _nsfsim.destroy_keygen(os.fspath(out))
    return {"secret_key": Path(secret), "public_key": Path(public)}
