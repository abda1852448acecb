#!/usr/bin/env bash
# The JupyterLab test: runs the tour in real JupyterLab in headless Chromium, checks the live
# chart redraws in place and renders, and refreshes docs/jupyterlab-tour.png for the README.
# Needs ./install.sh first (the kernel binary and prelude cache). Installs Chromium and
# ChromeDriver from Debian's packages when missing, and JupyterLab + Selenium into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainbook/target}"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -q chromium chromium-driver
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r tests/jupyterlab/requirements.txt
.venv/bin/python tests/jupyterlab/tour_in_jupyterlab.py "$CARGO_TARGET_DIR/release/trainbook" \
    docs/jupyterlab-tour.png
