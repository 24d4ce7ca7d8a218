#!/usr/bin/env bash
# Builds the Python package (python/, maturin, release), installs it with
# notebooks/requirements.txt into a virtual environment, and executes every
# notebook headless (nbconvert), failing on the first cell error.
#
#   notebooks/run_all.sh [VENV]      # default VENV: .venv-notebooks
#
# Notebooks write only to a temporary folder (NSFSIM_NOTEBOOK_WORK); the
# executed copies (with outputs) land in target/notebooks/ for inspection,
# the .ipynb files in notebooks/ stay without outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-notebooks}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements.txt

# The wheel: one abi3 wheel for every CPython >= 3.9. It shares target/
# (and the compiled arrow crates) with `cargo build --release`.
wheels="target/wheels-notebooks"
rm -rf "$wheels"
"$venv/bin/maturin" build --release --quiet -m python/Cargo.toml --interpreter "$venv/bin/python" --out "$wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/nsfsim-*.whl

out="target/notebooks"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for nb in notebooks/*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  started=$SECONDS
  NSFSIM_NOTEBOOK_WORK="$work/$name" "$venv/bin/python" -m jupyter nbconvert \
    --to notebook --execute --ExecutePreprocessor.timeout=1200 \
    --ExecutePreprocessor.kernel_name=python3 \
    --output-dir "$out" --output "$name" "$nb" >/dev/null 2>"$work/$name.log" || {
    cat "$work/$name.log" >&2
    echo "notebook $nb failed (executed copy: $out/$name.ipynb)" >&2
    exit 1
  }
  echo "ran $nb in $((SECONDS - started)) s"
done
