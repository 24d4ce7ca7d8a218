#!/usr/bin/env bash
# Side by side: `train`'s read of a generated data set (examples/read_profile:
# the columns of the full feature set, checked, the file's SHA-256 beside
# them, into the f32 design matrix; a fresh process, as `train` always is)
# against pyarrow reading the same 25 columns into an Arrow table
# (benches/pyarrow_read.py), once in a fresh process and best of 3 in one
# process (its 2nd and 3rd reads reuse the memory the 1st faulted in).
# Alternated RUNS times, with the load average and /usr/bin/time's user and
# system CPU of each: in a VM the fresh pages' cost (system time) varies
# from run to run, the user CPU much less.
# Usage: benches/read_vs_pyarrow.sh DATA_DIR [RUNS]
# (after cargo build --release --example read_profile; PY=python with pyarrow,
# default $HOME/anchors-venv/bin/python; READ=binary to time another build)
set -u
cd "$(dirname "$0")/.." && ROOT=$PWD
DATA=${1:?DATA_DIR (a generated data set, e.g. the case)}
RUNS=${2:-2}
READ=${READ:-$ROOT/target/release/examples/read_profile}
PY=${PY:-$HOME/anchors-venv/bin/python}
T='wall %e user %U sys %S rss %M'
for i in $(seq 1 "$RUNS"); do
  echo "== run $i: $(uptime)"
  /usr/bin/time -f "nsfsim-read $T" "$READ" "$DATA" 1 2>&1
  /usr/bin/time -f "pyarrow-fresh $T" env -u OPENBLAS_CORETYPE \
    "$PY" benches/pyarrow_read.py "$DATA" 1 2>&1
  /usr/bin/time -f "pyarrow-best-of-3 $T" env -u OPENBLAS_CORETYPE \
    "$PY" benches/pyarrow_read.py "$DATA" 3 2>&1
done
