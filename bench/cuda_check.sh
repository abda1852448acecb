#!/usr/bin/env bash
# The CUDA path on a GPU machine that has no Rust toolchain: build here, run there.
#
#   bench/cuda_check.sh pack   # here: build the CUDA training bench and the `cuda` test
#                              # binary, strip and compress them into .gpu/ (about 20 MB)
#   bench/cuda_check.sh run    # there: the `cuda` tests (GPU against the CPU kernels,
#                              # accuracy goals, checkpoint GPU -> CPU), then bench/training.py
#                              # --device cuda: the same workloads as on the CPU, side by side
#                              # with PyTorch on the same GPU. Writes $OUT/log.txt when $OUT is set.
#
# `pack` needs the CUDA toolchain that `install.sh --cuda` sets up: it reuses CUDA_HOME or
# nvcc on PATH, else ~/.cache/trainbook/cuda-venv from requirements-cuda.txt, and builds for
# CUDA_COMPUTE_CAP (default 90: H100/H200). `run` needs python3 with torch, numpy and
# scikit-learn, and the CUDA 13 libraries (found under python3's site-packages/nvidia, as
# PyTorch's CUDA wheels install them, or /usr/local/cuda*). .gpu/ is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

pack() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainbook/target}"
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
    if [ -z "${CUDA_HOME:-}" ] && ! command -v nvcc >/dev/null; then
        CUDA_HOME="$(ls -d "${TRAINBOOK_CACHE_DIR:-$HOME/.cache/trainbook}"/cuda-venv/lib/python3*/site-packages/nvidia/cu13 2>/dev/null | head -1)"
        if [ -z "$CUDA_HOME" ]; then
            echo "cuda_check.sh: no CUDA toolkit; run CUDA_COMPUTE_CAP=90 ./install.sh --cuda first" >&2
            exit 1
        fi
        export CUDA_HOME PATH="$CUDA_HOME/bin:$PATH"
    fi
    cargo build --release --locked --workspace --bin training --features trainbook-bench/cuda
    local test_binary
    test_binary="$(cargo test --release --locked --workspace --features trainbook/cuda --test cuda \
        --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cuda" and m.get("executable"):
        print(m["executable"])')"
    mkdir -p .gpu
    cp "$CARGO_TARGET_DIR/release/training" .gpu/training
    cp "$test_binary" .gpu/cuda-test
    strip .gpu/training .gpu/cuda-test
    xz -T2 -6 -f .gpu/training .gpu/cuda-test
    ls -la .gpu
}

run() {
    exec > >(tee "${OUT:-.gpu}/log.txt") 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    local site libs
    site="$(python3 -c 'import site; print(site.getsitepackages()[0])')"
    libs="$(find "$site/nvidia" /usr/local/cuda*/ \( -name 'libcublas.so.13' -o -name 'libcudart.so.13' \
        -o -name 'libcurand.so.10' -o -name 'libnvrtc.so.13' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | paste -sd:)"
    echo "CUDA libraries: $libs"
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    python3 - <<'PY'
import glob, lzma, shutil
for f in glob.glob(".gpu/*.xz"):
    with lzma.open(f) as src, open(f[:-3], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
    chmod +x .gpu/training .gpu/cuda-test
    ldd .gpu/training | grep -E 'cuda|cublas|curand|nvrtc|not found' || true
    echo "== cuda tests"
    RUST_BACKTRACE=1 timeout 240 .gpu/cuda-test --test-threads=1 --nocapture || echo "cuda tests failed: $?"
    echo "== training bench on the GPU"
    PYTHONUNBUFFERED=1 timeout 240 python3 bench/training.py --device cuda --runs 3 --binary .gpu/training \
        || echo "training bench failed: $?"
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
