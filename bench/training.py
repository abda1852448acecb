"""Training side by side with PyTorch on the CPU: same architectures, data, batch size,
optimizer and thread count, in one script. Writes the data as .npy, runs the `training` bench
binary on it, and prints both.

    bench/.venv/bin/python bench/training.py [--runs 3] [--device cuda] [--binary PATH]

`--device cuda` runs both sides on GPU 0 (the binary built with `--features
trainbook-bench/cuda`); the thread count then only matters for the data shuffling.

(a) digits MLP 64-128-64-10 and (b) digits CNN conv16-conv32-pool-linear: 20 epochs of
Adam(1e-3), batch 64, on a stratified 75/25 split of digits scaled to [0, 1]; (c) MLP
256-512-512-10 on 100k x 256 synthetic samples (labels from a random teacher network), batch
256, 2 epochs. Time per epoch is the best of N runs; accuracy is on the test rows.

Both sides start from the same initialisation scheme (Trainbook's, candle-nn's: He normal
weights, biases uniform in +-1/sqrt(inputs)), so that the accuracies compare the training and not
the starting point; one more PyTorch run per workload with PyTorch's default initialisation
(uniform +-1/sqrt(fan_in) weights) is printed for reference, accuracy only.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

torch.set_num_threads(os.cpu_count())


def digits_data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def synthetic_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(110_000, 256)).astype(np.float32)
    teacher = rng.normal(size=(256, 10)) / 16
    y = (np.tanh(X @ rng.normal(size=(256, 256)) / 16) @ teacher + X @ teacher).argmax(1)
    return X[:100_000], X[100_000:], y[:100_000], y[100_000:]


def mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1]))


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 10))


def init_like_trainbook(model):
    """candle-nn's initialisation, which the prelude's layers use: He (Kaiming) normal weights
    for ReLU, fan-in; biases uniform in +-1/sqrt(input features or channels)."""
    for layer in model.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            bound = 1 / layer.weight.shape[1] ** 0.5
            torch.nn.init.uniform_(layer.bias, -bound, bound)
    return model


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train(make, data, epochs, batch, runs, device, image=False, init=init_like_trainbook):
    Xtr, Xte, ytr, yte = data
    shape = (-1, 1, 8, 8) if image else (len(Xtr[0]),)
    xtr = torch.tensor(Xtr).reshape(-1, *shape[1:]) if image else torch.tensor(Xtr)
    xte = torch.tensor(Xte).reshape(-1, *shape[1:]) if image else torch.tensor(Xte)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    xtr, xte, ytr, yte = (t.to(device) for t in (xtr, xte, ytr, yte))
    best = (float("inf"), 0.0)
    for run in range(runs):
        torch.manual_seed(run)
        model = init(make()).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(xtr), device=device)
            for i in range(0, len(xtr), batch):
                idx = order[i:i + batch]
                opt.zero_grad()
                loss = loss_fn(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
        synchronize(device)
        per_epoch = (time.perf_counter() - start) / epochs
        if per_epoch < best[0]:
            model.eval()
            with torch.no_grad():
                accuracy = (model(xte).argmax(1) == yte).float().mean().item()
            best = (per_epoch, accuracy)
    return {"epoch_s": best[0], "samples_per_s": len(xtr) / best[0], "accuracy": best[1]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--binary", help="the training bench binary (default: the release build)")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    binary = Path(args.binary) if args.binary else target / "release" / "training"
    device = torch.device(args.device)
    digits, synthetic = digits_data(), synthetic_data()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (Xtr, Xte, ytr, yte) in [("digits", digits), ("synthetic", synthetic)]:
            for part, array in [("train_x", Xtr), ("test_x", Xte), ("train_y", ytr), ("test_y", yte)]:
                np.save(Path(tmp) / f"{name}_{part}.npy", array.astype(np.float32 if "x" in part else np.int64))
        rust = json.loads(subprocess.run([str(binary), tmp, "--runs", str(args.runs), "--device", args.device],
                                         check=True, capture_output=True, text=True).stdout)
    workloads = {
        "mlp": (lambda: mlp([64, 128, 64, 10]), digits, 20, 64, args.runs),
        "cnn": (cnn, digits, 20, 64, args.runs),
        "wide_mlp": (lambda: mlp([256, 512, 512, 10]), synthetic, 2, 256, min(args.runs, 2)),
    }
    torch_results = {key: train(*w, device, image=key == "cnn") for key, w in workloads.items()}
    torch_default = {key: train(*w[:4], 1, device, image=key == "cnn", init=lambda model: model)
                     for key, w in workloads.items()}
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"PyTorch {torch.__version__} on {where}, trainbook on {rust['device']}, best of {args.runs}")
    for key, label in [("mlp", "digits MLP 64-128-64-10"), ("cnn", "digits CNN conv16-conv32-pool"),
                       ("wide_mlp", "MLP 256-512-512-10, 100k")]:
        t, r = torch_results[key], rust[key]
        print(f"{label:32} PyTorch {t['epoch_s']*1e3:8.1f} ms/epoch {t['samples_per_s']:9.0f}/s acc {t['accuracy']:.4f} | "
              f"trainbook {r['epoch_s']*1e3:8.1f} ms/epoch {r['samples_per_s']:9.0f}/s acc {r['accuracy']:.4f} | "
              f"throughput ratio {t['epoch_s'] / r['epoch_s']:.2f} | "
              f"PyTorch default init acc {torch_default[key]['accuracy']:.4f}")


if __name__ == "__main__":
    main()
