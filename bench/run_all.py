"""Run every benchmark in bench/ and print their figures (`make bench`). Benchmarks never assert.

    python bench/run_all.py                # all of them
    python bench/run_all.py engine linear  # only bench_engine.py and bench_linear.py
"""
from __future__ import annotations

import glob
import os
import runpy
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(names: list[str]) -> None:
    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    if names:
        scripts = [s for s in scripts if os.path.basename(s)[6:-3] in names]
    for script in scripts:
        print(f"\n=== {os.path.basename(script)} ===", flush=True)
        start = time.perf_counter()
        module = runpy.run_path(script)
        module["main"]()
        print(f"({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
