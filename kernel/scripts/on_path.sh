#!/usr/bin/env bash
# Puts a `trainbook` command on PATH for install.sh, and prints how to call it.
#
#   kernel/scripts/on_path.sh /path/to/trainbook
#
# Links the binary next to cargo when cargo lives in the user's own folder (rustup's
# ~/.cargo/bin, on PATH in every shell that can run cargo), and in ~/.local/bin. Then asks a
# new login shell (the user's $SHELL, with a clean environment, reading their profile) whether
# it finds `trainbook`: stdout is `trainbook` when it does, the link's full path when it does
# not, with a note on stderr saying which line to add to the profile.
set -euo pipefail
BIN="$1"
[ -x "$BIN" ] || { echo "on_path.sh: $BIN is not an executable" >&2; exit 2; }

dirs=("$HOME/.local/bin")
cargo_dir="$(dirname "$(command -v cargo 2>/dev/null || echo /nonexistent/cargo)")"
case "$cargo_dir" in
    "$HOME"/*) [ -w "$cargo_dir" ] && dirs=("$cargo_dir" "${dirs[@]}") ;;
esac
for dir in "${dirs[@]}"; do
    mkdir -p "$dir"
    ln -sfn "$BIN" "$dir/trainbook"
done

shell="${SHELL:-/bin/bash}"
[ -x "$shell" ] || shell=/bin/bash
found="$(env -i HOME="$HOME" USER="${USER:-}" TERM=dumb "$shell" -lic 'command -v trainbook' \
    </dev/null 2>/dev/null | tail -n 1 || true)"
for dir in "${dirs[@]}"; do
    if [ "$found" = "$dir/trainbook" ]; then
        echo trainbook
        exit 0
    fi
done
echo "note: a new shell does not find \`trainbook\` on its PATH; add this line to your" \
    "shell's profile (~/.profile or ~/.bashrc), or use the full path:" >&2
echo "    export PATH=\"${dirs[0]}:\$PATH\"" >&2
echo "${dirs[0]}/trainbook"
