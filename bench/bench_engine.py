"""Speed of the autodiff engine: one training step (forward, loss, backward, optimiser step).

Cases (float32 unless stated):
- MLP 64-128-10, batch 128, cross-entropy, SGD          vs PyTorch CPU   (goal: <= 1.0x PyTorch's time)
- MLP 3072-1024-10, batch 256, cross-entropy, SGD       vs PyTorch CPU   (goal: <= 1.25x)
- micrograd's demo: MLP 2-16-16-1 on 100 moons, SVM max-margin loss + 1e-4 L2, SGD, float64
                                                         vs micrograd     (goal: >= 2000x faster)

PyTorch and micrograd are optional, for the benchmark only (`pip install torch==2.13.0 micrograd`; a plain
`torch` may pull a multi-GB CUDA build); missing ones are skipped with a message. PyTorch gets as many threads
as NumPy's BLAS uses, so both sides use the same cores. On a shared 2-core machine, one thread each is the
steadiest comparison: with two threads each library's workers compete with every other process, and the
ratio then measures the machine's load more than the code (the load average is printed for that reason).

    OMP_NUM_THREADS=1 python bench/bench_engine.py     # or: python bench/run_all.py engine
"""
from __future__ import annotations

import os
import time

import numpy as np

from deepgrad import data, nn, optim
from deepgrad import functional as F
from deepgrad.autograd import Tensor


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    return os.cpu_count() or 1


def timeit(*steps, block_time=0.5, blocks=4, warmup=3, max_reps=1000):
    """Best (minimum) seconds per call of each of ``steps``.

    The minimum, not the mean: other processes only ever add time, so the fastest run is the best estimate
    of the code's own cost (the advice of Python's ``timeit``). The contenders take turns in blocks of
    ``block_time`` seconds, so that both meet the same machine conditions on a shared machine; whole blocks
    rather than single calls, because a library's idle worker threads keep spinning for a moment after it
    returns and would slow the other library's threads down.
    """
    best = [float("inf")] * len(steps)
    for _ in range(blocks):
        for i, step in enumerate(steps):
            for _ in range(warmup):
                step()
            start, reps = time.perf_counter(), 0
            while (time.perf_counter() - start < block_time or reps < 2) and reps < max_reps:
                t0 = time.perf_counter()
                step()
                best[i] = min(best[i], time.perf_counter() - t0)
                reps += 1
    return best if len(steps) > 1 else best[0]


# ------------------------------------------------------------------------------------------ MLP steps
def deepgrad_mlp_step(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    model = nn.MLP(sizes, generator=seed)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = Tensor(X)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_mlp_step(torch, sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.from_numpy(rng.normal(size=(batch, sizes[0])).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, sizes[-1], size=batch))
    layers = []
    for i, (d, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(d, m))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        loss = torch.nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


# ------------------------------------------------------------------------------- micrograd's demo
ALPHA = 1e-4


def moons():
    X, y = data.make_moons(100, noise=0.1, seed=1)
    return X, (2 * y - 1).astype(np.float64)  # labels -1 / +1 as in the demo


def deepgrad_demo_step():
    X, y = moons()
    model = nn.MLP([2, 16, 16, 1], dtype=np.float64, generator=0)
    x, yc = Tensor(X), y[:, None]
    k = [0]

    def step():
        scores = model(x)
        data_loss = (1 - yc * scores).relu().mean()  # the SVM "max-margin" loss
        reg_loss = ALPHA * sum((p * p).sum() for p in model.parameters())
        loss = data_loss + reg_loss
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * (k[0] % 100) / 100
        for p in model.parameters():
            p.data -= lr * p.grad
        k[0] += 1
    return step


def micrograd_demo_step(mg_engine, mg_nn):
    X, y = moons()
    model = mg_nn.MLP(2, [16, 16, 1])
    k = [0]

    def step():  # micrograd's demo.ipynb, verbatim in substance
        inputs = [list(map(mg_engine.Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        lr = 1.0 - 0.9 * (k[0] % 100) / 100
        for p in model.parameters():
            p.data -= lr * p.grad
        k[0] += 1
    return step


def main():
    threads = blas_threads()
    load = f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if hasattr(os, "getloadavg") else ""
    print(f"NumPy BLAS threads: {threads}; numpy {np.__version__}{load}")
    try:
        import torch
        torch.set_num_threads(threads)
        print(f"PyTorch {torch.__version__} CPU, torch.set_num_threads({threads}) to match NumPy's BLAS")
    except ImportError:
        torch = None
        print("PyTorch not installed: skipping the PyTorch comparison (pip install torch)")

    print(f"\n{'one training step':<42}{'deepgrad':>12}{'PyTorch':>12}{'ratio':>9}")
    for sizes, batch in (([64, 128, 10], 128), ([3072, 1024, 10], 256)):
        name = f"MLP {'-'.join(map(str, sizes))}, batch {batch}, float32"
        if torch is not None:
            ours, theirs = timeit(deepgrad_mlp_step(sizes, batch), torch_mlp_step(torch, sizes, batch))
            print(f"{name:<42}{ours * 1e3:>10.3f}ms{theirs * 1e3:>10.3f}ms{ours / theirs:>8.2f}x")
        else:
            ours = timeit(deepgrad_mlp_step(sizes, batch))
            print(f"{name:<42}{ours * 1e3:>10.3f}ms{'-':>12}{'-':>9}")

    ours = timeit(deepgrad_demo_step())
    try:
        from micrograd import engine as mg_engine, nn as mg_nn
    except ImportError:
        print(f"\nmicrograd demo step (deepgrad): {ours * 1e3:.3f} ms; micrograd not installed (pip install micrograd)")
        return
    theirs = timeit(micrograd_demo_step(mg_engine, mg_nn), blocks=1, warmup=1, max_reps=3)
    print("\nmicrograd's demo (MLP 2-16-16-1, 100 moons, hinge + L2), one step:")
    print(f"  deepgrad {ours * 1e3:.3f} ms, micrograd {theirs * 1e3:.1f} ms: deepgrad is {theirs / ours:,.0f}x faster")


if __name__ == "__main__":
    main()
