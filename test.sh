#!/usr/bin/env bash
# The test command: builds everything once (release, locked), precompiles the prelude, then
# runs the Jupyter conformance suite against the installed kernel and `cargo test` (unit tests,
# doc examples, end-to-end tests over ZeroMQ, and every notebook through `trainbook run`).
set -euo pipefail
cd "$(dirname "$0")"

# Builds and the prelude cache live outside the clone so repeated runs stay warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainbook/target}"
CACHE="${TRAINBOOK_CACHE_DIR:-$HOME/.cache/trainbook}"
BIN="$CARGO_TARGET_DIR/release/trainbook"
# The kernel finds the prelude sources by the path it was compiled at; cargo can reuse a binary
# compiled in another clone that shares the target directory, so name this clone's prelude.
export TRAINBOOK_PRELUDE_DIR="$PWD/prelude"
# Tests must not write into the user's own history or kernelspecs.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
export TRAINBOOK_DATA_DIR="$SCRATCH/data"

step() { printf '\n== %s\n' "$*"; }

step "build"
# evcxr's rust-analyzer reads the standard library's source for completions and hover docs
# (inspecting `Vec::new` finds nothing without it); rustup ships it as a component.
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ] && command -v rustup >/dev/null; then
    rustup component add rust-src
fi
start=$SECONDS
cargo build --release --locked --workspace --all-targets
echo "built in $((SECONDS - start)) s"

step "format and lints"
# A minimal rustup profile has neither; the default one has both.
for tool in fmt clippy; do
    if ! cargo "$tool" --version >/dev/null 2>&1 && command -v rustup >/dev/null; then
        rustup component add "$([ "$tool" = fmt ] && echo rustfmt || echo clippy)"
    fi
done
cargo fmt --all --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings

step "prelude cache"
"$BIN" precompile

step "Jupyter kernel conformance suite (jupyter_kernel_test)"
VENV="$CACHE/kernel-test-venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/conformance/requirements.txt
JUPYTER_DATA_DIR="$SCRATCH/jupyter" "$BIN" install --user
set -o pipefail
(cd tests/conformance && JUPYTER_DATA_DIR="$SCRATCH/jupyter" JUPYTER_PATH="$SCRATCH/jupyter" \
    "$VENV/bin/python" -m unittest -v test_trainbook 2>&1 | grep -v '^\[trainbook' \
    | tee "$SCRATCH/conformance.log")

step "cargo test"
cargo test --release --locked --workspace 2>&1 | tee "$SCRATCH/cargo-test.log"

# One closing line for the whole run: cargo's per-binary lines end on a doc-test binary with
# no tests, which reads as if nothing ran.
passed=$(grep -o '^test result: ok\. [0-9]* passed' "$SCRATCH/cargo-test.log" | awk '{s+=$4} END {print s+0}')
conformance_ok=$(grep -c ' \.\.\. ok$' "$SCRATCH/conformance.log" || true)
echo
echo "summary: $((passed + conformance_ok)) passed, 0 failed"
