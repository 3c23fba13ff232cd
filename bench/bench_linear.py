"""Naive (loops) versus vectorised SVM and softmax loss + gradient on CIFAR-sized data. Prints, never asserts.

    python bench/bench_linear.py            # 500 x 3073 inputs, W 3073 x 10 (CIFAR-10 with the bias column)
    python bench/bench_linear.py --n 200    # a smaller batch

Each function is timed as the best of a few repeats (the vectorised ones are repeated more often, as
they are fast enough for timer noise to matter).
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from deepgrad.linear import (
    add_bias_column, softmax_loss_naive, softmax_loss_vectorized, svm_loss_naive, svm_loss_vectorized,
)


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(n: int = 500, d: int = 3072, c: int = 10, reg: float = 5e-6, dtype=np.float64) -> dict:
    rng = np.random.default_rng(0)
    X = add_bias_column(rng.standard_normal((n, d)).astype(dtype))         # (N, D+1), like CIFAR + bias trick
    y = rng.integers(0, c, n)
    W = (1e-4 * rng.standard_normal((d + 1, c))).astype(dtype)
    print(f"linear classifier loss + gradient: X {X.shape}, W {W.shape}, {np.dtype(dtype).name}, "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'loss':8s} {'naive (ms)':>11s} {'vectorised (ms)':>16s} {'speed-up':>9s} {'max |dW diff|':>14s}")
    results = {}
    for name, naive, vectorised in (("svm", svm_loss_naive, svm_loss_vectorized),
                                    ("softmax", softmax_loss_naive, softmax_loss_vectorized)):
        t_naive = best_time(lambda naive=naive: naive(W, X, y, reg), 3)
        t_vec = best_time(lambda vectorised=vectorised: vectorised(W, X, y, reg), 20)
        diff = float(np.abs(naive(W, X, y, reg)[1] - vectorised(W, X, y, reg)[1]).max())
        results[name] = {"naive_s": t_naive, "vectorized_s": t_vec, "speedup": t_naive / t_vec}
        print(f"{name:8s} {1e3 * t_naive:11.1f} {1e3 * t_vec:16.2f} {t_naive / t_vec:8.0f}x {diff:14.1e}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="batch size N")
    parser.add_argument("--float32", action="store_true", help="time float32 instead of float64")
    args = parser.parse_args()
    main(n=args.n, dtype=np.float32 if args.float32 else np.float64)
