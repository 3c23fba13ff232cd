"""One training step of MLPs of growing size on NumPy, CuPy and (when installed) PyTorch CUDA, in one run.

A step is what training repeats: forward pass, cross-entropy loss, backward pass, Adam update. The data of
the step is already where the parameters are (on the GPU for CuPy and PyTorch: parameters stay on the
device, mini-batches move there one at a time; the separate "batch to GPU" column says what that copy
costs). GPU clocks are stopped only after synchronising the stream: kernels run asynchronously, and an
unsynchronised timer measures only the time to queue them.

    python bench/bench_gpu.py            # or: make bench (runs every benchmark)
    DEEPGRAD_FAST=1 python bench/bench_gpu.py   # the two smaller models only

Goals on an H100: CuPy >= 20x NumPy on the largest MLP, and at most 1.5x PyTorch CUDA's time.
Benchmarks print figures; they never assert.
"""
from __future__ import annotations

import os
import time

import numpy as np

import deepgrad
from deepgrad import backend

# (name, layer sizes, batch size)
MODELS = [
    ("784-256-10", (784, 256, 10), 128),
    ("3072-1024-10", (3072, 1024, 10), 256),
    ("4096-4096-4096-10", (4096, 4096, 4096, 10), 512),
]
DTYPE = np.float32
GOAL_SPEEDUP, GOAL_TORCH_RATIO = 20.0, 1.5


def step_flops(sizes, batch: int) -> float:
    """Floating-point operations of one step's matrix products: forward 2·N·D·M per layer, backward twice
    that (dx and dW). The first layer's dx is counted too, so this is a slight upper bound."""
    return sum(3 * 2 * batch * d * m for d, m in zip(sizes[:-1], sizes[1:], strict=True))


def _timeit(step, sync, budget_s: float = 1.0, min_repeats: int = 3, max_repeats: int = 50) -> float:
    """Fastest seconds of ``step()`` after two warm-up calls, ``sync()`` before each clock read. The fastest
    run, not the median: other load on the machine only ever slows a run down."""
    for _ in range(2):
        step()
    sync()
    times = []
    start_all = time.perf_counter()
    while len(times) < min_repeats or (len(times) < max_repeats and time.perf_counter() - start_all < budget_s):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def _batch(sizes, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(DTYPE)
    y = rng.integers(0, sizes[-1], size=batch)
    return x, y


# --------------------------------------------------------------------------------------------- DeepGrad
def deepgrad_step(sizes, batch: int, device: str):
    """A closure running one DeepGrad training step on ``device`` ('cpu' or 'cuda'), and the sync to use."""
    from deepgrad import functional as F, nn, optim

    deepgrad.init.manual_seed(0)
    layers = []
    for d, m in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(d, m, dtype=DTYPE), nn.ReLU()]
    model = nn.Sequential(*layers[:-1]).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(sizes, batch)
    xb = deepgrad.Tensor(backend.to_device(x, device))
    yb = backend.to_device(y, device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    return step, (lambda: backend.synchronize(xb.data))


def transfer_time(sizes, batch: int) -> float:
    """Seconds to copy one mini-batch (inputs and labels) from the host to the GPU."""
    x, y = _batch(sizes, batch)

    on_gpu = backend.to_device(np.zeros(1), "cuda")  # synchronising needs an array of the GPU's module

    def copy():
        backend.to_device(x, "cuda")
        backend.to_device(y, "cuda")

    return _timeit(copy, lambda: backend.synchronize(on_gpu), budget_s=0.3)


# ---------------------------------------------------------------------------------------- PyTorch CUDA
def torch_cuda_reason() -> str | None:
    """Why PyTorch CUDA is not benchmarked here, or None when it is."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (pip install torch, a CUDA build, to compare)"
    if not torch.cuda.is_available():
        return f"PyTorch {torch.__version__} sees no CUDA GPU"
    return None


def torch_step(sizes, batch: int):
    import torch

    torch.manual_seed(0)
    layers = []
    for d, m in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(d, m), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to("cuda")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(sizes, batch)
    xb, yb = torch.from_numpy(x).to("cuda"), torch.from_numpy(y).to("cuda")

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    return step, torch.cuda.synchronize


# ------------------------------------------------------------------------------------------------ main
def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1e3 * seconds:.2f}"


def _env_summary() -> str:
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i.get('internal_api')} {i.get('num_threads')} threads" for i in threadpool_info()
                if i.get("user_api") == "blas"]
    except ImportError:
        blas = []
    return f"NumPy {np.__version__} ({', '.join(blas) or 'BLAS threads unknown'}), float32"


def main(models=None) -> list[dict]:
    """Time one training step of each MLP on every available backend; print a table; return the rows."""
    if models is None:
        models = MODELS[:2] if os.environ.get("DEEPGRAD_FAST") == "1" else MODELS
    gpu = backend.gpu_available()
    torch_reason = torch_cuda_reason() if gpu else "no GPU"
    print(f"One training step (forward, cross-entropy, backward, Adam) — {_env_summary()}")
    if not gpu:
        why = ("CuPy is not installed (pip install -e '.[gpu]', or cupy-cuda13x for CUDA 13)"
               if not backend.cupy_available() else "CuPy is installed but sees no NVIDIA GPU")
        print(f"GPU columns are empty: {why}.")
    elif torch_reason:
        print(f"PyTorch CUDA column is empty: {torch_reason}.")

    header = (f"{'model':>20} {'batch':>5} {'GFLOP':>6} {'numpy ms':>9} {'cupy ms':>8} {'torch ms':>9} "
              f"{'batch→GPU ms':>12} {'cupy/numpy':>10} {'cupy÷torch':>10} {'cupy TFLOP/s':>12}")
    print(header)
    print("-" * len(header))
    rows = []
    for name, sizes, batch in models:
        flops = step_flops(sizes, batch)
        row = {"model": name, "batch": batch, "gflop": flops / 1e9, "numpy": None, "cupy": None, "torch": None,
               "transfer": None}
        step, sync = deepgrad_step(sizes, batch, "cpu")
        row["numpy"] = _timeit(step, sync, budget_s=2.0, max_repeats=20)
        if gpu:
            step, sync = deepgrad_step(sizes, batch, "cuda")
            row["cupy"] = _timeit(step, sync)
            row["transfer"] = transfer_time(sizes, batch)
            if torch_reason is None:
                step, sync = torch_step(sizes, batch)
                row["torch"] = _timeit(step, sync)
        speedup = f"{row['numpy'] / row['cupy']:.1f}×" if row["cupy"] else "—"
        ratio = f"{row['cupy'] / row['torch']:.2f}×" if row["cupy"] and row["torch"] else "—"
        tflops = f"{flops / row['cupy'] / 1e12:.1f}" if row["cupy"] else "—"
        print(f"{name:>20} {batch:>5} {flops / 1e9:>6.1f} {_ms(row['numpy']):>9} {_ms(row['cupy']):>8} "
              f"{_ms(row['torch']):>9} {_ms(row['transfer']):>12} {speedup:>10} {ratio:>10} {tflops:>12}")
        rows.append(row)

    numpy_rate = ", ".join(f"{r['model']} {r['gflop'] / r['numpy']:.1f}" for r in rows)
    print(f"NumPy achieved GFLOP/s (matrix products only): {numpy_rate}")
    big = rows[-1]
    if big["cupy"]:
        print(f"Goals on the largest model ({big['model']}): CuPy ≥ {GOAL_SPEEDUP:.0f}× NumPy — "
              f"{big['numpy'] / big['cupy']:.1f}×"
              + (f"; ≤ {GOAL_TORCH_RATIO}× PyTorch CUDA — {big['cupy'] / big['torch']:.2f}×" if big["torch"] else ""))
    return rows


if __name__ == "__main__":
    main()
