"""How fast every explorer in ``deepgrad.widgets`` reacts to its controls. Prints, never asserts.

    python bench/bench_widgets.py                    # every explorer, every control, 6 moves each
    python bench/bench_widgets.py --moves 10 init_explorer optimizer_race

Measured headlessly, as a kernel would run the handler: set a control's ``.value``, then time until the
explorer's first new figure is published ("first frame") and until it is idle again ("done": the same
for explorers that draw once; the whole training run for those that stream). Each control gets a quick
gesture (``deepgrad.widgets._common.moves``: a drag through neighbouring values, clicks through options).
CPU seconds of this process are printed too: unlike wall time they hardly grow when other jobs share the
cores. The goal on a 2-core machine: every first frame within 100 ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np

from deepgrad import widgets
from deepgrad.widgets._common import controls_of, moves


def time_change(ex, ctl, value) -> tuple[float, float, float]:
    """(first frame, done, CPU) in milliseconds for one control change."""
    frames = ex.frames
    cpu, start = time.process_time(), time.perf_counter()
    ctl.value = value
    while ex.frames == frames and (ex._busy or ex._pending):
        time.sleep(0.0005)
    first = time.perf_counter()
    ex.wait(timeout=600)
    done = time.perf_counter()
    if ex.frames == frames:
        first = done  # nothing to redraw (the value did not change what is shown)
    return 1e3 * (first - start), 1e3 * (done - start), 1e3 * (time.process_time() - cpu)


def bench(name: str, n_moves: int, rng) -> list[tuple]:
    start = time.perf_counter()
    ex = getattr(widgets, name)().wait(timeout=600)
    build = time.perf_counter() - start
    rows = []
    for key, ctl in controls_of(ex).items():
        if ctl.disabled:
            continue
        values = []
        for v in moves(ctl, rng, n_moves, span=0.5):
            if v != (values[-1] if values else ctl.value):  # a move that changes nothing is not timed
                values.append(v)
        if not values:
            continue
        frames = ex.frames
        first, done, cpu = zip(*(time_change(ex, ctl, v) for v in values), strict=True)
        if ex.frames == frames:
            print(f"{name}: {key} redraws nothing (it takes effect at the next press of a button)")
            continue
        rows.append((name, key, first, done, cpu))
    if ex.errors:
        print(f"!! {name} showed {len(ex.errors)} errors; the last:\n{ex.errors[-1]}")
    print(f"{name}: built in {build:.2f} s, {'streams in the background' if ex.background else 'draws at once'}",
          flush=True)
    return rows


def main(argv=()) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="explorers to time (default: all of deepgrad.widgets.__all__)")
    ap.add_argument("--moves", type=int, default=6, help="values per control (default 6)")
    args = ap.parse_args(list(argv))
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    rng = np.random.default_rng(0)
    rows = [r for name in (args.names or widgets.__all__) for r in bench(name, args.moves, rng)]
    head = (f"{'explorer':28} {'control':16} {'first frame ms':>16} {'done ms':>16} {'CPU ms':>16}\n"
            f"{'':28} {'':16} {'median  worst':>16} {'median  worst':>16} {'median  worst':>16}")
    print("\n" + head)
    for name, key, first, done, cpu in rows:
        cells = " ".join(f"{statistics.median(v):7.0f} {max(v):6.0f}  " for v in (first, done, cpu))
        print(f"{name:28} {key:16} {cells}")
    by = {}
    for name, _, first, done, cpu in rows:
        by.setdefault(name, []).append((first, done, cpu))
    print(f"\n{'explorer (all its controls)':44} {'first frame ms':>16} {'done ms':>16} {'CPU ms':>16}")
    for name, parts in by.items():
        cols = [sum((list(p[i]) for p in parts), []) for i in range(3)]
        cells = " ".join(f"{statistics.median(v):7.0f} {max(v):6.0f}  " for v in cols)
        print(f"{name:44} {cells}")


if __name__ == "__main__":
    main(sys.argv[1:])
