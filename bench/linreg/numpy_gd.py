#!/usr/bin/env python3
"""Reference for the in-process linreg epoch: the same full-batch gradient descent in numpy.

Prints one JSON object: the median epoch time in ms for float64 data (what a numpy user writes) and
for float32 data with float64 weights (the trainer's storage), over --epochs epochs.
"""
import argparse
import json
import statistics
import time

import numpy as np


def epochs(x, y, n_epochs, lr=0.1):
    w = np.zeros(x.shape[1])
    b = 0.0
    times = []
    for _ in range(n_epochs):
        start = time.perf_counter()
        r = x @ w + b - y                 # residuals
        g = x.T @ r                       # sum of r_i x_i
        w -= lr * g / len(y)
        b -= lr * r.sum() / len(y)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    x32 = rng.uniform(-1, 1, size=(args.rows, args.features)).astype(np.float32)
    y32 = (x32 @ rng.normal(size=args.features)).astype(np.float32)
    result = {
        "rows": args.rows, "features": args.features,
        "numpy": np.__version__,
        "float32_median_epoch_ms": epochs(x32, y32, args.epochs),
    }
    x64, y64 = x32.astype(np.float64), y32.astype(np.float64)
    del x32
    result["float64_median_epoch_ms"] = epochs(x64, y64, args.epochs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
