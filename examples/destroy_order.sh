#!/bin/bash
# Generates the README's example destruction record:
#   bash examples/destroy_order.sh target/release/nsfsim [WORKDIR]
# and prints the Markdown record.
set -euo pipefail
BIN=$(realpath "$1")
W=${2:-/tmp/nsf-example}
if [ -e "$W" ]; then echo "$W exists; give a new folder" >&2; exit 2; fi
mkdir -p "$W" && cd "$W"
$BIN generate --preset small --users 20000 --out data --quiet
A=$($BIN train --data data --registry registry --quiet | tail -1)
B=$($BIN train --data data --registry registry --teacher $A --quiet | tail -1)
C=$($BIN train --data data --registry registry --warm-start $A --seed 1 --quiet | tail -1)
$BIN score --model $A --data data --out scores/a.parquet --registry registry >/dev/null
$BIN score --model $B --data data --out scores/b.csv --registry registry >/dev/null
$BIN destroy keygen --out operator.key >/dev/null
$BIN destroy --model $A --registry registry --runs runs \
  --order-issuer "Personal Information Protection Commission" \
  --order-ref "PIPC 2026-041" --order-date 2026-03-02 \
  --order-scope "the NSF score model trained without consent, every model and score derived from it" \
  --operator "J. Kim, ML platform" --validator "S. Park, compliance" \
  --data-disposition keep --reason "the data set is the lawful basis of other models (registered users, consented)" \
  --sign-key operator.key
$BIN destroy verify registry/destroyed/$A.json --public-key operator.key.pub --validator "S. Park, compliance"
cat registry/destroyed/$A.md
