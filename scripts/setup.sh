#!/usr/bin/env bash
# Create .venv with Python >= 3.12 (jax >= 0.12 needs it) and install jinit into it.
#   bash scripts/setup.sh          # jinit with plotting
#   bash scripts/setup.sh dev      # jinit with every extra and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-plot}

find_python() {
  local c
  for c in python3.12 python3.13 python3 \
           "$HOME"/.pyenv/versions/3.12*/bin/python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
           /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] ||
   ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
  PY=$(find_python) || { echo "setup: no Python >= 3.12 found (jax >= 0.12 needs it)" >&2; exit 1; }
  echo "setup: creating .venv with $PY ($("$PY" --version))"
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "setup: installing jinit[$extras] with jax, optax and their dependencies (a few minutes; pip -q prints nothing meanwhile)"
.venv/bin/python -m pip install -q -e ".[$extras]"
.venv/bin/python -c "import jax, optax, jinit; print('setup: jax', jax.__version__, '| optax', optax.__version__, '| jinit', jinit.__version__)"
