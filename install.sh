#!/usr/bin/env bash
# One command from a fresh Debian machine with rustup to a working Trainbook kernel:
# build, install the kernelspec, install JupyterLab if there is no Jupyter, precompile the
# prelude, and run the tour notebook headless. Safe to run again; a second run is quick.
#
#   ./install.sh [--no-jupyter]
set -euo pipefail
cd "$(dirname "$0")"

WITH_JUPYTER=1
for arg in "$@"; do
    case "$arg" in
        --no-jupyter) WITH_JUPYTER=0 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
    echo "install.sh: cargo not found. Install Rust with rustup (https://rustup.rs) first." >&2
    exit 1
fi

# A fast linker makes every cell link faster; evcxr uses mold when it is on PATH.
if ! command -v mold >/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
    if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
        say "installing the mold linker"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq mold >/dev/null \
            || echo "could not install mold; cells will link with the system linker"
    else
        echo "note: install the mold linker for faster cells (apt-get install mold)"
    fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainbook/target}"
say "building trainbook (release; the first build takes several minutes)"
cargo build --release --locked -p trainbook-kernel
BIN="$CARGO_TARGET_DIR/release/trainbook"
mkdir -p "$HOME/.local/bin"
ln -sf "$BIN" "$HOME/.local/bin/trainbook"

say "installing the kernelspec"
"$BIN" install --user

JUPYTER="$(command -v jupyter || true)"
if [ -z "$JUPYTER" ] && [ "$WITH_JUPYTER" -eq 1 ]; then
    say "installing JupyterLab into ./.venv"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-jupyter.txt
    JUPYTER="$PWD/.venv/bin/jupyter"
fi

say "precompiling the prelude (once per toolchain and prelude version)"
"$BIN" precompile

say "running the tour notebook headless"
OUT="$(mktemp -d)/00_tour.ipynb"
"$BIN" run notebooks/00_tour.ipynb -o "$OUT"

say "done"
echo "Trainbook is installed. Start JupyterLab and pick \"Rust (Trainbook)\":"
if [ -n "$JUPYTER" ]; then
    echo "    $JUPYTER lab notebooks/"
else
    echo "    jupyter lab notebooks/      (install JupyterLab first, or rerun without --no-jupyter)"
fi
echo "Run a notebook headless:  trainbook run notebooks/00_tour.ipynb"
