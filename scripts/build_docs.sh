#!/usr/bin/env bash
# Build the documentation site as CI does: warnings are errors, nothing from the network.
# Needs the docs extra: pip install -e ".[docs]". Output: docs/_build/html/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
JAX_PLATFORMS=cpu python3 -m sphinx -W --keep-going -q -b html docs docs/_build/html "$@"
echo "docs built: $(pwd)/docs/_build/html/index.html"
