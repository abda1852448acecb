"""Chart render time side by side: matplotlib here, Trainbook through the `charts` bench binary.

    bench/.venv/bin/python bench/charts.py [--runs 50]

Both draw a two-series 100-point line chart with a legend and axis labels, and a 10x10 heatmap
with every cell annotated and class names on both axes, to an SVG string (best of N, ms).
"""
import argparse
import io
import json
import os
import subprocess
import time
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def best_ms(runs, f):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        f()
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best


def line_svg():
    i = np.arange(100)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(i + 1, 1 / (1 + 0.1 * i), label="train")
    ax.plot(i + 1, 1 / (1 + 0.08 * i) + 0.001 * i, label="validation")
    ax.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax.legend()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()


def heatmap_svg():
    values = np.array([[((i * 7 + j * 3) % 11) / 10 for j in range(10)] for i in range(10)])
    labels = [f"class {i}" for i in range(10)]
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(10), labels, rotation=45)
    ax.set_yticks(range(10), labels)
    for i in range(10):
        for j in range(10):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center")
    ax.set_title("Confusion matrix")
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    line_ms = best_ms(args.runs, line_svg)
    heat_ms = best_ms(args.runs, heatmap_svg)
    rust = json.loads(subprocess.run([str(target / "release" / "charts"), "--runs", str(args.runs)],
                                     check=True, capture_output=True, text=True).stdout)
    print(f"matplotlib {matplotlib.__version__}, best of {args.runs}, SVG to a string")
    print(f"line chart 2x100   matplotlib {line_ms:6.1f} ms | trainbook {rust['line_ms']:6.2f} ms | ratio {line_ms / rust['line_ms']:.0f}x")
    print(f"heatmap 10x10      matplotlib {heat_ms:6.1f} ms | trainbook {rust['heatmap_ms']:6.2f} ms | ratio {heat_ms / rust['heatmap_ms']:.0f}x")


if __name__ == "__main__":
    main()
