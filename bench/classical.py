"""Classical models side by side: scikit-learn here, Trainbook through the `classical` bench
binary on the same data, in one script.

    bench/.venv/bin/python bench/classical.py [--runs 10]

RandomForest(100 trees) 5-fold on digits (accuracy, best of min(N, 3)); KMeans(10 clusters,
n_init=10) on digits (ARI against the digit labels; time best of N, ARI
for seed 0 and the mean over seeds 0..9); DBSCAN(eps=0.2, min_samples=5) on 2000 moons
(make_moons noise 0.05, seed 0; the same points are written for the Rust side);
LogisticRegression 5-fold on breast cancer (standardised in each fold, and on raw features
solved to convergence); SVC (RBF, gamma "scale") 5-fold on standardised breast cancer and on
raw digits; Ward agglomerative clustering into 10 on digits (ARI); RandomForestRegressor(100)
5-fold on diabetes (R²).
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.datasets import load_digits, make_moons
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.metrics import adjusted_rand_score


def best_of(runs, f):
    best, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    binary = target / "release" / "classical"
    X, y = load_digits(return_X_y=True)
    km_s, km = best_of(args.runs, lambda: KMeans(10, n_init=10, random_state=0).fit(X))
    km_ari = adjusted_rand_score(y, km.labels_)
    km_seeds = np.mean([adjusted_rand_score(y, KMeans(10, n_init=10, random_state=s).fit(X).labels_) for s in range(10)])
    rf_s, rf_scores = best_of(min(args.runs, 3), lambda: cross_val_score(RandomForestClassifier(100, random_state=0, n_jobs=-1), X, y, cv=5))
    mx, my = make_moons(2000, noise=0.05, random_state=0)
    db_s, db = best_of(args.runs, lambda: DBSCAN(eps=0.2, min_samples=5).fit(mx))
    db_ari = adjusted_rand_score(my, db.labels_)
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    lr_s, lr = best_of(args.runs, lambda: cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), Xc, yc, cv=5))
    lr_raw_s, lr_raw = best_of(min(args.runs, 3), lambda: cross_val_score(LogisticRegression(tol=1e-8, max_iter=100000), Xc, yc, cv=5))
    with warnings.catch_warnings():  # max_iter=100 stops early and says so, as expected here
        warnings.simplefilter("ignore")
        lr_default = cross_val_score(LogisticRegression(), Xc, yc, cv=5)
    svc_c_s, svc_c = best_of(args.runs, lambda: cross_val_score(make_pipeline(StandardScaler(), SVC()), Xc, yc, cv=5))
    svc_d_s, svc_d = best_of(min(args.runs, 3), lambda: cross_val_score(SVC(), X, y, cv=5))
    ward_s, ward = best_of(min(args.runs, 3), lambda: AgglomerativeClustering(10).fit(X))
    ward_ari = adjusted_rand_score(y, ward.labels_)
    rfr_s, rfr = best_of(min(args.runs, 3), lambda: cross_val_score(RandomForestRegressor(100, random_state=0, n_jobs=-1), Xd, yd, cv=5))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "moons.csv"
        pd.DataFrame({"x0": mx[:, 0], "x1": mx[:, 1], "target": my}).to_csv(path, index=False)
        rust = json.loads(subprocess.run([str(binary), str(path), "--runs", str(args.runs)],
                                         check=True, capture_output=True, text=True).stdout)
    print(f"scikit-learn {sklearn.__version__}, {os.cpu_count()} cores, best of {args.runs}")
    print(f"KMeans digits   sklearn {km_s*1e3:7.1f} ms ARI {km_ari:.3f} (mean of 10 seeds {km_seeds:.3f}) | "
          f"trainbook {rust['kmeans_s']*1e3:7.1f} ms ARI {rust['kmeans_ari']:.3f} (mean {rust['kmeans_ari_mean_10_seeds']:.3f}) | "
          f"speed ratio {km_s / rust['kmeans_s']:.2f}")
    print(f"RF(100) 5-fold  sklearn {rf_s:7.3f} s  acc {rf_scores.mean():.3f} | "
          f"trainbook {rust['forest_s']:7.3f} s  acc {rust['forest_accuracy']:.3f} | speed ratio {rf_s / rust['forest_s']:.2f}")
    print(f"DBSCAN moons    sklearn {db_s*1e3:7.1f} ms ARI {db_ari:.3f} | "
          f"trainbook {rust['dbscan_s']*1e3:7.1f} ms ARI {rust['dbscan_ari']:.3f} | speed ratio {db_s / rust['dbscan_s']:.2f}")

    print(f"LogReg cancer, scaled  sklearn {lr_s*1e3:7.1f} ms acc {lr.mean():.4f} | "
          f"trainbook {rust['logistic_s']*1e3:7.1f} ms acc {rust['logistic_accuracy']:.4f} | speed ratio {lr_s / rust['logistic_s']:.2f}")
    print(f"LogReg cancer, raw, converged  sklearn {lr_raw_s*1e3:7.1f} ms acc {lr_raw.mean():.4f} (default max_iter=100: {lr_default.mean():.4f}) | "
          f"trainbook {rust['logistic_raw_s']*1e3:7.1f} ms acc {rust['logistic_raw_accuracy']:.4f} | speed ratio {lr_raw_s / rust['logistic_raw_s']:.2f}")
    print(f"SVC rbf cancer, scaled  sklearn {svc_c_s*1e3:7.1f} ms acc {svc_c.mean():.4f} | "
          f"trainbook {rust['svc_cancer_s']*1e3:7.1f} ms acc {rust['svc_cancer_accuracy']:.4f} | speed ratio {svc_c_s / rust['svc_cancer_s']:.2f}")
    print(f"SVC rbf digits  sklearn {svc_d_s*1e3:7.1f} ms acc {svc_d.mean():.4f} | "
          f"trainbook {rust['svc_digits_s']*1e3:7.1f} ms acc {rust['svc_digits_accuracy']:.4f} | speed ratio {svc_d_s / rust['svc_digits_s']:.2f}")
    print(f"Ward(10) digits  sklearn {ward_s*1e3:7.1f} ms ARI {ward_ari:.4f} | "
          f"trainbook {rust['ward_s']*1e3:7.1f} ms ARI {rust['ward_ari']:.4f} | speed ratio {ward_s / rust['ward_s']:.2f}")
    print(f"RF regressor(100) diabetes 5-fold  sklearn {rfr_s:7.3f} s R2 {rfr.mean():.4f} | "
          f"trainbook {rust['forest_regressor_s']:7.3f} s R2 {rust['forest_regressor_r2']:.4f} | speed ratio {rfr_s / rust['forest_regressor_s']:.2f}")


if __name__ == "__main__":
    main()
