"""Writes scikit-learn's bundled datasets as CSV files the prelude embeds.

Run from the repository root with the benchmark venv (bench/requirements.txt):
    bench/.venv/bin/python prelude/data/export_sklearn_datasets.py
Values are written with Python's shortest round-trip float repr, so the prelude's tables
hold exactly scikit-learn's numbers.
"""
import json
from pathlib import Path

import sklearn
from sklearn import datasets

OUT = Path(__file__).parent
LOADERS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "diabetes": datasets.load_diabetes,
}

meta = {"sklearn_version": sklearn.__version__, "datasets": {}}
for name, load in LOADERS.items():
    bunch = load()
    features = [str(f) for f in bunch.feature_names]
    if name == "digits":
        # The pixels are small integers; keep them integer-looking in the file.
        rows = [[int(v) for v in row] for row in bunch.data]
    else:
        rows = [[repr(float(v)) for v in row] for row in bunch.data]
    is_regression = name == "diabetes"
    targets = [repr(float(t)) if is_regression else str(int(t)) for t in bunch.target]
    with open(OUT / f"{name}.csv", "w") as f:
        f.write(",".join(features + ["target"]) + "\n")
        for row, target in zip(rows, targets):
            f.write(",".join(str(v) for v in row) + "," + target + "\n")
    meta["datasets"][name] = {
        "rows": len(rows),
        "features": features,
        "target_names": [str(t) for t in getattr(bunch, "target_names", [])],
        "task": "regression" if is_regression else "classification",
    }
(OUT / "datasets.json").write_text(json.dumps(meta, indent=1) + "\n")
print({k: v["rows"] for k, v in meta["datasets"].items()})
