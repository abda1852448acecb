#!/usr/bin/env bash
# One command from a fresh Debian machine with rustup to a working Trainbook kernel:
# build, install the kernelspec, install JupyterLab if there is no Jupyter, precompile the
# prelude, and run the tour notebook headless. Safe to run again; a second run is quick.
#
#   ./install.sh [--no-jupyter] [--cuda]
#
# --cuda builds the prelude with candle's CUDA backend (models then train on GPU 0 through
# `default_device()` / `Device::cuda_if_available(0)`). It uses the CUDA toolkit whose nvcc is
# on PATH (or CUDA_HOME), else installs CUDA 13.0's compiler and libraries from PyPI
# (requirements-cuda.txt). It needs the NVIDIA driver; without one it only sets up the CUDA
# toolchain (for bench/cuda_check.sh pack) and stops. The GPU architecture comes from
# nvidia-smi, or CUDA_COMPUTE_CAP (e.g. 90 for an H100/H200, 89 for an L4, 80 for an A100).
set -euo pipefail
cd "$(dirname "$0")"

WITH_JUPYTER=1
WITH_CUDA=0
for arg in "$@"; do
    case "$arg" in
        --no-jupyter) WITH_JUPYTER=0 ;;
        --cuda) WITH_CUDA=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
    echo "install.sh: cargo not found. Install Rust with rustup (https://rustup.rs) first." >&2
    exit 1
fi

# evcxr's rust-analyzer reads the standard library's source for completions and hover docs
# (inspecting `Vec::new` finds nothing without it); rustup ships it as a component.
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ] && command -v rustup >/dev/null; then
    rustup component add rust-src
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

CACHE="${TRAINBOOK_CACHE_DIR:-$HOME/.cache/trainbook}"

# Everything a CUDA build of the prelude needs, exported for the build here and copied into
# the kernelspec by `trainbook install` (Jupyter starts kernels with its own environment).
setup_cuda() {
    if [ -z "${CUDA_HOME:-}" ] && command -v nvcc >/dev/null; then
        CUDA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    fi
    if [ -z "${CUDA_HOME:-}" ]; then
        say "installing CUDA 13.0's compiler and libraries from PyPI into $CACHE/cuda-venv"
        [ -x "$CACHE/cuda-venv/bin/python" ] || python3 -m venv "$CACHE/cuda-venv"
        "$CACHE/cuda-venv/bin/pip" install -q --disable-pip-version-check -r requirements-cuda.txt
        CUDA_HOME="$("$CACHE/cuda-venv/bin/python" -c \
            'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
        # The wheels carry only versioned libraries (libcublas.so.13); the linker asks for
        # the plain names.
        for lib in "$CUDA_HOME"/lib/lib*.so.[0-9]*; do
            plain="${lib%%.so.*}.so"
            [ -e "$plain" ] || ln -s "$(basename "$lib")" "$plain"
        done
    fi
    if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
        echo "install.sh: no nvcc in CUDA_HOME=$CUDA_HOME/bin" >&2
        exit 1
    fi
    # The driver library to link against: the toolkit's stub, else the driver's own, else a
    # stub made from the symbols cudarc declares (building here for a GPU machine elsewhere).
    if ! ls "$CUDA_HOME"/lib*/stubs/libcuda.so "$CUDA_HOME"/lib*/libcuda.so >/dev/null 2>&1; then
        mkdir -p "$CUDA_HOME/lib/stubs"
        driver="$( (ldconfig -p 2>/dev/null || true) | awk '/libcuda\.so\.1 /{print $NF; exit}')"
        if [ -n "$driver" ]; then
            ln -sf "$driver" "$CUDA_HOME/lib/stubs/libcuda.so"
        else
            cargo fetch --locked
            version="$(awk '/^name = "cudarc"/{getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)"
            sys="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-"$version"/src/driver/sys/mod.rs | head -1)"
            grep -oE '\bcu[A-Z][A-Za-z0-9_]*\b' "$sys" | sort -u \
                | awk '{print "void " $1 "(void) {}"}' > "$CUDA_HOME/lib/stubs/libcuda.c"
            cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA_HOME/lib/stubs/libcuda.so" \
                "$CUDA_HOME/lib/stubs/libcuda.c"
        fi
    fi
    if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
        CUDA_COMPUTE_CAP="$( (nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null || true) | head -1 | tr -d .)"
    fi
    if [ -z "$CUDA_COMPUTE_CAP" ]; then
        echo "install.sh: no GPU found by nvidia-smi. To build for a GPU elsewhere, set" \
            "CUDA_COMPUTE_CAP to its compute capability (90 for H100/H200, 89 for L4, 80 for A100)." >&2
        exit 1
    fi
    # "release 13.0," → 13000, so cudarc need not find nvcc on PATH in every build.
    CUDARC_CUDA_VERSION="$("$CUDA_HOME/bin/nvcc" --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\),.*/\10\20/p')"
    LD_LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    TRAINBOOK_FEATURES=cuda
    export CUDA_HOME CUDA_COMPUTE_CAP CUDARC_CUDA_VERSION LD_LIBRARY_PATH TRAINBOOK_FEATURES
    echo "CUDA: $CUDA_HOME (CUDA $CUDARC_CUDA_VERSION, compute capability $CUDA_COMPUTE_CAP)"
}
if [ "$WITH_CUDA" -eq 1 ]; then
    setup_cuda
    if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
        # A CUDA prelude links libcuda.so.1, so a kernel cannot even load it here.
        echo "install.sh: the CUDA toolchain is ready, but this machine has no NVIDIA driver" \
            "(libcuda.so.1), so a CUDA kernel cannot run here: run ./install.sh --cuda on the GPU" \
            "machine. To build the CUDA benchmark and tests here for a GPU elsewhere:" \
            "bench/cuda_check.sh pack." >&2
        exit 1
    fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainbook/target}"
say "building trainbook (release; the first build takes several minutes)"
# --workspace: the same feature resolution as test.sh's build, so the two share artifacts
# (-p trainbook-kernel resolved evcxr's dependencies differently and rebuilt them: 11 min).
cargo build --release --locked --workspace --bin trainbook
BIN="$CARGO_TARGET_DIR/release/trainbook"
# `trainbook` on PATH (next to cargo, and in ~/.local/bin); the name a new shell will find,
# and, when that is the full path, a note said again at the end.
PATH_NOTE="$(mktemp)"
TRAINBOOK_CMD="$(kernel/scripts/on_path.sh "$BIN" 2>"$PATH_NOTE")"

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
# Every command below works as printed in a new shell, from any folder.
echo "Trainbook is installed. Start JupyterLab and pick \"Rust (Trainbook)\":"
if [ -n "$JUPYTER" ]; then
    printf '    %q lab %q\n' "$JUPYTER" "$PWD/notebooks"
else
    printf '    jupyter lab %q      (install JupyterLab first, or rerun without --no-jupyter)\n' \
        "$PWD/notebooks"
fi
printf 'Run a notebook headless:  %q run %q\n' "$TRAINBOOK_CMD" "$PWD/notebooks/00_tour.ipynb"
cat "$PATH_NOTE"
rm -f "$PATH_NOTE"
