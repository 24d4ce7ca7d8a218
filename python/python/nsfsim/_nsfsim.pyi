# Type stubs of the native module (python/src/lib.rs). The public API is
# nsfsim/__init__.py; these are its building blocks.
from typing import List, Optional, Sequence, Tuple

import pyarrow as pa

__version__: str

class NsfsimError(Exception): ...
class InputError(NsfsimError): ...
class IncompleteError(NsfsimError): ...

def generate(
    *,
    preset: str = "default",
    seed: Optional[int] = None,
    users: Optional[int] = None,
    set: Sequence[str] = ...,
    out: Optional[str] = None,
    format: Optional[str] = None,
    threads: Optional[int] = None,
    force: bool = False,
) -> Tuple[str, str]: ...
def read_dataset(data: str, columns: Optional[Sequence[str]] = None) -> pa.Table: ...
def train(
    data: str,
    *,
    population: str = "all",
    features: str = "full",
    model: str = "logistic",
    seed: int = 0,
    teacher: Optional[str] = None,
    warm_start: Optional[str] = None,
    threads: Optional[int] = None,
    registry: Optional[str] = None,
    epsilon: Optional[float] = None,
) -> str: ...
def score(model: str, data: str, out: str, *, force: bool = False, registry: Optional[str] = None) -> str: ...
def evaluate(model: str, data: str, *, population: str = "registered", registry: Optional[str] = None) -> str: ...
def model_manifest(model: str, *, registry: Optional[str] = None) -> str: ...
def compare(
    spec: str = "default",
    *,
    set: Sequence[str] = ...,
    out: Optional[str] = None,
    force: bool = False,
    data_root: Optional[str] = None,
    threads: Optional[int] = None,
    export_predictions: bool = False,
    registry: Optional[str] = None,
) -> Tuple[str, List[str]]: ...
def compare_table(
    data: str,
    *,
    label: Optional[str] = None,
    positive: Optional[str] = None,
    consent: Optional[str] = None,
    target: Optional[str] = None,
    id: Optional[str] = None,
    features: str = "all",
    minimal: Optional[str] = None,
    categorical: Optional[str] = None,
    numeric: Optional[str] = None,
    families: Optional[str] = None,
    replicates: int = 5,
    simulate_consent: Optional[str] = None,
    consent_rate: float = 0.5,
    consent_strength: float = 1.0,
    currency: Optional[str] = None,
    spec: str = "default",
    set: Sequence[str] = ...,
    out: Optional[str] = None,
    force: bool = False,
    threads: Optional[int] = None,
    export_predictions: bool = False,
    registry: Optional[str] = None,
) -> Tuple[str, List[str], str]: ...
def audit(
    model: str,
    data: str,
    *,
    out: Optional[str] = None,
    force: bool = False,
    eval_users: Optional[int] = None,
    shadows: Optional[int] = None,
    bootstrap: Optional[int] = None,
    control_users: Optional[int] = None,
    attribute_users: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    registry: Optional[str] = None,
) -> Tuple[str, List[str]]: ...
def destroy(
    model: str,
    *,
    order: Sequence[Tuple[str, str]] = ...,
    dry_run: bool = False,
    scan: Sequence[str] = ...,
    runs: Optional[str] = None,
    registry: Optional[str] = None,
) -> Tuple[str, bool, List[str], Optional[str]]: ...
def verify_destruction(
    record: str,
    *,
    public_key: Optional[str] = None,
    validator: Optional[str] = None,
    sign_key: Optional[str] = None,
) -> str: ...
def destroy_keygen(out: str) -> Tuple[str, str]: ...
