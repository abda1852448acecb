"""Hyperparameter search side by side: Optuna (TPE, default settings), Hyperopt (TPE) and
random search here, Trainbook's Bayesian (GP + EI) and random search through the `tuning`
bench binary, in one script.

    bench/.venv/bin/python bench/tuning.py [--seeds 20]

Best value after 50 evaluations, median over the seeds, on Branin (minimum 0.397887) and
Hartmann-6 (minimum -3.32237); and each optimiser's own time per trial.
"""
import argparse
import json
import logging
import os
import statistics
import subprocess
import time
from pathlib import Path

import hyperopt
import numpy as np
import optuna

optuna.logging.set_verbosity(logging.WARNING)
TRIALS = 50


def branin(x, y):
    b, c, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 1 / (8 * np.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * np.cos(x) + 10


ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x):
    x = np.asarray(x)
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))


PROBLEMS = {
    "branin": ({"x": (-5.0, 10.0), "y": (0.0, 15.0)}, lambda p: branin(p["x"], p["y"])),
    "hartmann6": ({f"x{j}": (0.0, 1.0) for j in range(6)}, lambda p: hartmann6([p[f"x{j}"] for j in range(6)])),
}


def run_optuna(bounds, f, seed, sampler):
    study = optuna.create_study(sampler=sampler(seed=seed))
    study.optimize(lambda t: f({k: t.suggest_float(k, lo, hi) for k, (lo, hi) in bounds.items()}), n_trials=TRIALS)
    return study.best_value


def run_hyperopt(bounds, f, seed):
    space = {k: hyperopt.hp.uniform(k, lo, hi) for k, (lo, hi) in bounds.items()}
    trials = hyperopt.Trials()
    hyperopt.fmin(f, space, algo=hyperopt.tpe.suggest, max_evals=TRIALS, trials=trials,
                  rstate=np.random.default_rng(seed), show_progressbar=False)
    return min(trials.losses())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    rust = json.loads(subprocess.run([str(target / "release" / "tuning"), "--seeds", str(args.seeds)],
                                     check=True, capture_output=True, text=True).stdout)
    print(f"Optuna {optuna.__version__}, Hyperopt {hyperopt.__version__}; {TRIALS} evaluations, median of {args.seeds} seeds")
    for name, (bounds, f) in PROBLEMS.items():
        rows = []
        for label, run in [
            ("Optuna TPE", lambda s: run_optuna(bounds, f, s, optuna.samplers.TPESampler)),
            ("Hyperopt TPE", lambda s: run_hyperopt(bounds, f, s)),
            ("Optuna random", lambda s: run_optuna(bounds, f, s, optuna.samplers.RandomSampler)),
        ]:
            start = time.perf_counter()
            bests = [run(seed) for seed in range(args.seeds)]
            ms = (time.perf_counter() - start) * 1e3 / (args.seeds * TRIALS)
            rows.append((label, statistics.median(bests), ms))
        for key, label in [("bayesian", "Trainbook GP-EI"), ("random", "Trainbook random")]:
            r = rust[f"{name}_{key}"]
            rows.append((label, r["median_best"], r["ms_per_trial"]))
        print(f"\n{name}")
        for label, best, ms in rows:
            print(f"  {label:18} median best {best:9.4f}   {ms:7.2f} ms per trial (optimiser + objective)")


if __name__ == "__main__":
    main()
