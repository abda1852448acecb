"""Data-preparation benchmark, side by side in one script: pandas + scikit-learn, then the
Trainbook prelude and hand-written polars (bench binary `data_prep`, same table).

    bench/.venv/bin/python bench/data_prep.py [--runs 10]

Table: 1,000,000 rows = 990,000 random rows + 10,000 exact copies of earlier rows (1%
duplicates); 8 float columns with 5% missing each; one string column with 10 values.
Steps: drop rows with a missing value, drop duplicates, 80/20 split, z-score the floats
(fitted on the training rows), one-hot the string column. Reading the file is not timed.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parent.parent
FLOATS = [f"f{i}" for i in range(8)]


def make_table(path):
    rng = np.random.default_rng(0)
    unique = 990_000
    data = {name: rng.normal(0, 1, unique) for name in FLOATS}
    data["cat"] = rng.choice([f"c{i}" for i in range(10)], unique)
    frame = pd.DataFrame(data)
    copies = frame.iloc[rng.integers(0, unique, 10_000)]
    frame = pd.concat([frame, copies], ignore_index=True)
    for name in FLOATS:
        frame.loc[rng.random(len(frame)) < 0.05, name] = np.nan
    frame.to_csv(path, index=False)
    return frame


def pandas_sklearn(frame):
    clean = frame.dropna().drop_duplicates()
    train, test = train_test_split(clean, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(train[FLOATS])
    encoder = OneHotEncoder(sparse_output=False).fit(train[["cat"]])
    out = []
    for part in (train, test):
        scaled = scaler.transform(part[FLOATS])
        dummies = encoder.transform(part[["cat"]])
        out.append(np.hstack([scaled, dummies]))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    binary = target / "release" / "data_prep"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: cargo build --release --locked --workspace first")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        frame = make_table(path)
        frame = pd.read_csv(path)  # what the Rust side reads, same dtypes
        best = float("inf")
        for _ in range(args.runs):
            start = time.perf_counter()
            train, test = pandas_sklearn(frame)
            best = min(best, time.perf_counter() - start)
        rust = json.loads(subprocess.run([str(binary), str(path), "--runs", str(args.runs)],
                                         check=True, capture_output=True, text=True).stdout)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}; best of {args.runs}")
    print(f"rows in {rust['rows_in']}, train {rust['train_rows']} (pandas {len(train)}), test {rust['test_rows']} (pandas {len(test)})")
    print(f"pandas + scikit-learn  {best:.3f} s")
    print(f"hand-written polars    {rust['hand_polars_s']:.3f} s")
    print(f"trainbook prelude      {rust['trainbook_s']:.3f} s")
    print(f"speed-up over pandas + scikit-learn: {best / rust['trainbook_s']:.2f}x (goal >= 4)")
    print(f"prelude / hand-written polars: {rust['trainbook_s'] / rust['hand_polars_s']:.2f}x (goal <= 1.2)")


if __name__ == "__main__":
    main()
