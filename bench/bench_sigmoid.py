"""The price of an accurate sigmoid: the library's formula against the two textbook ones (prints, never asserts).

``losses.sigmoid`` (used by ``Tensor.sigmoid`` and ``layers.sigmoid_forward``) keeps full relative accuracy
far below 0; the tanh form it replaced rounds sigmoid(-40) to 0, and ``where`` is how it is usually written.
"""
from __future__ import annotations

import timeit

import numpy as np

from deepgrad import losses


def _tanh_form(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def _where_form(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def main() -> None:
    for dtype in (np.float32, np.float64):
        a = np.random.default_rng(0).standard_normal((1000, 1000)).astype(dtype)
        row = []
        for name, f in (("losses.sigmoid", losses.sigmoid), ("tanh form", _tanh_form), ("where form", _where_form)):
            seconds = min(timeit.repeat(lambda f=f, a=a: f(a), number=3, repeat=5)) / 3
            row.append(f"{name} {seconds * 1e3:.1f} ms")
        print(f"sigmoid of 10^6 {np.dtype(dtype).name}: " + ", ".join(row))
    print(f"sigmoid(-40): library {float(losses.sigmoid(-40.0)):.6g}, tanh form {float(_tanh_form(-40.0)):.6g} "
          "(exact: 4.24835e-18)")


if __name__ == "__main__":
    main()
