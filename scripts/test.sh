#!/usr/bin/env bash
# Everything the tests need on a fresh Debian/Ubuntu machine, then the test suite.
# Usage: bash scripts/test.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install -q -r requirements-dev.txt

# The browser tests drive the distribution's Chromium (Playwright's own browser download needs
# internet access that CI and air-gapped machines do not have); the speech recognition tests synthesise
# speech with a known transcript with espeak-ng.
MISSING=""
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v espeak-ng >/dev/null 2>&1 || MISSING="$MISSING espeak-ng"
# Chinese glyphs, so that the screenshots of the zh-CN browser test (tests/test_browser_i18n.py) are legible.
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || MISSING="$MISSING fonts-wqy-microhei"
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi

# torch must stay the pinned build: anything that upgraded it would break the CPU wheel here.
"$PYTHON" -c "import torch, sys; v = torch.__version__; print('torch', v); sys.exit(0 if v.startswith('2.13.0') else 1)"

# Lint first (seconds): the code stays ruff-clean and formatted.
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .

# Every tier: plain `pytest` runs only the fast one (tests/conftest.py)
exec "$PYTHON" -m pytest --all-tiers "$@"
