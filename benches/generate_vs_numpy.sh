#!/usr/bin/env bash
# Side by side: `nsfsim generate --preset case` (40.45 M users: attributes,
# outcome simulation, Parquet, the file's SHA-256) against numpy's bare draw
# of 40.45 M x 24 float32 (../shared/anchors/anchor_bench.py, gen stage: no
# outcome, no file), alternated RUNS times, with the load average before each.
# Usage: flock /work/wt/notes/big.lock benches/generate_vs_numpy.sh [RUNS] [OUT_DIR]
# (NSFSIM=binary to time another build; ANCHORS=folder of anchor_bench.py)
# (after cargo build --release; numpy holds ~4 GB; REPEAT=n draws per numpy run, best shown).
# The data set (3.9 GB) is written to OUT_DIR and deleted after each run.
set -u
cd "$(dirname "$0")/.." && ROOT=$PWD
B=${NSFSIM:-$ROOT/target/release/nsfsim}
RUNS=${1:-2}
OUT=${2:-/tmp/nsfsim-gen-bench}; mkdir -p "$OUT"
PY=${PY:-$HOME/anchors-venv/bin/python}
# The reference scripts: ../shared/anchors beside the checkout, or ANCHORS.
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
for i in $(seq 1 "$RUNS"); do
  echo "== run $i: $(uptime)"
  /usr/bin/time -f "numpy-gen wall %e user %U sys %S rss %M" env -u OPENBLAS_CORETYPE \
    $PY "$ANCHORS/anchor_bench.py" --sizes 40450000 --stages gen --no-md --repeat "${REPEAT:-3}" \
    --json-out "$OUT/numpy$i.json" 2>&1 | grep -E "gen |numpy-gen"
  echo "== $(uptime)"
  rm -rf "$OUT/case"
  /usr/bin/time -f "nsfsim-generate wall %e user %U sys %S rss %M" \
    $B generate --preset case --out "$OUT/case" --quiet 2>&1
  rm -rf "$OUT/case"
done
