#!/usr/bin/env bash
# Idle side-by-side: nsfsim gbdt vs LightGBM on the default 1 M population.
# Usage: benches/gbdt_vs_lightgbm.sh [DATA_DIR] [OUT_DIR] (after cargo build --release --examples).
set -u
cd "$(dirname "$0")/.." && ROOT=$PWD
B=$ROOT/target/release/nsfsim
D=${1:-/tmp/gbdt-bench/d1m}
OUT=${2:-/tmp/gbdt-bench}; mkdir -p "$OUT"
PY=${PY:-$HOME/anchors-venv/bin/python}
cd "$OUT"
[ -f $D/users.parquet ] || $B generate --preset default --users 1000000 --out $D --quiet
for i in 1 2 3; do
  rm -rf $OUT/reg$i
  /usr/bin/time -f "nsfsim-train wall %e user %U sys %S rss %M" $B train --data $D --model gbdt --registry $OUT/reg$i --quiet > train$i.out 2> train$i.time
  /usr/bin/time -f "lightgbm wall %e user %U sys %S rss %M" env -u OPENBLAS_CORETYPE $PY $ROOT/../shared/anchors/lgbm_holdout.py $D > lgbm$i.out 2> lgbm$i.time
  for r in 40 50; do
    /usr/bin/time -f "profile$r wall %e user %U sys %S rss %M" $ROOT/target/release/examples/gbdt_profile $D $r > prof$r-$i.out 2> prof$r-$i.time
  done
done
tail -n +1 train*.out train*.time lgbm*.out lgbm*.time prof*.time
