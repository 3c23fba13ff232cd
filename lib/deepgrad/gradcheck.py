"""Numerical gradients and a gradient checker that explains what went wrong (lecture: computing gradients).

A derivative is a limit; a computer can only take a small step ``h`` and look. The *centred* difference

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h          error O(h^2)

is far more accurate than the *forward* difference ``(f(x + h e_i) - f(x)) / h`` (error O(h)), which is
why every check here uses it by default. Each coordinate costs two evaluations of ``f``, so numerical
gradients are for *checking* an analytic gradient on small inputs, never for training.

    >>> f = lambda x: float((x ** 2).sum())
    >>> x = np.array([1.0, -2.0, 3.0])
    >>> numerical_gradient(f, x)                 # ~ 2x
    array([ 2., -4.,  6.])
    >>> print(check_gradient(f, x, 2 * x, name="x"))
    Gradient check for x (shape (3,)): max relative error ...: good. ✓ OK

Conventions (as CS231n's ``gradient_check.py``): ``f`` is called as ``f(x)`` and returns a scalar; ``x`` is
perturbed **in place** and always restored, so ``f`` may ignore its argument and read the same array from
elsewhere (``lambda _: model.loss(X, y)[0]``). Work in float64: with float32 the rounding error of ``f``
divided by ``2h`` swamps the derivative.
"""
from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import backend

__all__ = [
    "numerical_gradient", "numerical_gradient_array", "numerical_jacobian", "rel_error",
    "check_gradient", "check_gradients", "ParameterCheck", "GradientReport", "Finding", "PrecisionWarning",
    "GOOD", "NEAR_KINK", "SUSPICIOUS", "WRONG", "WRONG_SHAPE", "CANNOT_TELL",
]

# The usual bands for the maximum relative error (CS231n's rules of thumb), as verdict words.
GOOD, NEAR_KINK, SUSPICIOUS, WRONG, WRONG_SHAPE = (
    "good", "acceptable only near a kink", "suspicious", "wrong", "wrong shape")
_BANDS = ((1e-7, GOOD), (1e-4, NEAR_KINK), (1e-2, SUSPICIOUS), (np.inf, WRONG))
# When rounding in f hides the gradient itself (float32, a huge |f|, a tiny h), no verdict is possible.
CANNOT_TELL = "cannot tell (finite differences too imprecise here)"
_SEVERITY = {GOOD: 0, NEAR_KINK: 1, SUSPICIOUS: 2, CANNOT_TELL: 2, WRONG: 3, WRONG_SHAPE: 4}
_METHODS = {"centred": "centred", "centered": "centred", "central": "centred",
            "forward": "forward", "backward": "backward"}


class PrecisionWarning(UserWarning):
    """A numerical gradient is being taken in a precision too low to check gradients reliably."""


# ------------------------------------------------------------------------------------------- helpers
def _check_x(x, name: str = "x"):
    """``x`` must be a float array we can perturb in place (that is how ``f`` sees the change)."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype") or isinstance(x, np.generic):
        raise TypeError(
            f"{name} must be a NumPy/CuPy array that f reads, because it is perturbed in place; "
            f"got {type(x).__name__}. Wrap a number as np.array(3.0)")
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array (it is nudged by h), got dtype {x.dtype}; "
            f"convert with {name}.astype(np.float64)")


def _check_h(h: float) -> float:
    if not isinstance(h, (int, float, np.floating)) or isinstance(h, bool) or not (0 < h < np.inf):
        raise ValueError(f"h must be a positive finite step size such as 1e-5, got {h!r}")
    return float(h)


def _check_method(method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be 'centred' or 'forward' (or 'backward'), got {method!r}")
    return _METHODS[method]


def _warn_precision(x, name: str, stacklevel: int = 3) -> None:
    if x.dtype != np.float64:
        warnings.warn(
            f"{name} has dtype {x.dtype}, not float64. A finite difference divides the rounding error of f "
            f"(about {np.finfo(x.dtype).eps:.0e} of |f| in {x.dtype}) by the step h, so with h=1e-5 the "
            f"numerical gradient is only good to a few digits and a correct gradient can look wrong. "
            f"Check gradients with {name}.astype(np.float64) (and float64 data).",
            PrecisionWarning, stacklevel=stacklevel)


def _scalar(value) -> float:
    """The value of ``f`` as a Python float, refusing arrays with more than one element."""
    size = getattr(value, "size", 1)
    if size != 1:
        raise ValueError(
            f"f must return a scalar (the loss), got an array of shape {getattr(value, 'shape', '?')}; "
            "for array-valued functions use numerical_gradient_array or numerical_jacobian")
    return float(value.item() if hasattr(value, "item") else value)


def _copy_out(value, xp):
    return xp.array(value, dtype=np.float64 if xp.asarray(value).dtype.kind != "f" else None, copy=True)


def _indices(x):
    return np.ndindex(x.shape) if x.ndim else [()]


def _nudges(f, x, steps):
    """Yield ``(idx, [f(x + s e_idx) for s in steps])`` for every index of ``x``.

    The one place that perturbs ``x`` in place: the entry is restored before each yield, and also when
    ``f`` raises, so the caller's array is never left nudged.
    """
    for idx in _indices(x):
        old = x[idx].copy()
        values = []
        try:
            for step in steps:
                x[idx] = old + step
                values.append(f(x))
        finally:
            x[idx] = old
        yield idx, values


# ------------------------------------------------------------------------------ numerical gradients
def numerical_gradient(f, x, h: float = 1e-5, method: str = "centred", *, warn: bool = True):
    """Numerical gradient of a scalar function by finite differences.

    Inputs:
    - f: callable, ``f(x)`` returns a scalar (a float or a one-element array)
    - x: float array of any shape, perturbed in place one entry at a time and restored afterwards
      (also when ``f`` raises)
    - h: step size
    - method: ``"centred"`` (``(f(x+h) - f(x-h)) / 2h``, error O(h^2), the default), ``"forward"``
      (``(f(x+h) - f(x)) / h``, error O(h)) or ``"backward"`` (``(f(x) - f(x-h)) / h``)
    - warn: emit a :class:`PrecisionWarning` when ``x`` is not float64 (the lesson on h turns it off
      on purpose to *show* the float32 error)

    Returns:
    - grad: array of the same shape (and array module) as ``x``, dtype float64 for float inputs
      narrower than that
    """
    _check_x(x)
    h, method = _check_h(h), _check_method(method)
    if warn:
        _warn_precision(x, "x")
    xp = backend.get_array_module(x)
    grad = xp.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
    # Each method as (steps, how its values make the slope): f0 is only needed by the one-sided ones.
    f0 = None if method == "centred" else _scalar(f(x))
    steps, slope = {"centred": ((h, -h), lambda fp, fm: (fp - fm) / (2 * h)),
                    "forward": ((h,), lambda fp: (fp - f0) / h),
                    "backward": ((-h,), lambda fm: (f0 - fm) / h)}[method]
    for idx, values in _nudges(lambda x_: _scalar(f(x_)), x, steps):
        grad[idx] = slope(*values)
    return grad


def numerical_gradient_array(f, x, dout, h: float = 1e-5, *, warn: bool = True):
    """Numerical gradient of ``sum(f(x) * dout)`` with respect to ``x`` (centred differences).

    This is what a layer's backward pass computes: the vector-Jacobian product ``dout^T J``.

    Inputs:
    - f: callable, ``f(x)`` returns an array of any shape (the same shape as ``dout``)
    - x: float array, perturbed in place and restored
    - dout: upstream gradient, shape of ``f(x)``
    - h: step size

    Returns:
    - dx: array shaped like ``x``
    """
    _check_x(x)
    h = _check_h(h)
    if warn:
        _warn_precision(x, "x")
    xp = backend.get_array_module(x)
    dout = xp.asarray(dout)
    grad = xp.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
    # copy: f may return the same buffer every call
    for idx, (fp, fm) in _nudges(lambda x_: _copy_out(f(x_), xp), x, (h, -h)):
        if fp.shape != dout.shape:
            raise ValueError(f"dout must have the shape of f(x) {fp.shape}, got {dout.shape}")
        grad[idx] = ((fp - fm) * dout).sum() / (2 * h)
    return grad


def numerical_jacobian(f, x, h: float = 1e-5, *, warn: bool = True):
    """Jacobian of an array-valued function by centred differences, in numerator layout.

    Inputs:
    - f: callable, ``f(x)`` returns an array (any shape)
    - x: float array (any shape), perturbed in place and restored
    - h: step size

    Returns:
    - J: array of shape ``(f(x).size, x.size)``; ``J[i, k] = d f(x).flat[i] / d x.flat[k]``
      (one row per output, one column per input, as the lecture's numerator layout)
    """
    _check_x(x)
    h = _check_h(h)
    if warn:
        _warn_precision(x, "x")
    xp = backend.get_array_module(x)
    columns = [((fp - fm) / (2 * h)).ravel()
               for _, (fp, fm) in _nudges(lambda x_: _copy_out(f(x_), xp), x, (h, -h))]
    if not columns:
        return xp.zeros((_copy_out(f(x), xp).size, 0))
    return xp.stack(columns, axis=1)


def rel_error(a, b) -> float:
    """Maximum elementwise relative error ``|a - b| / max(1e-8, |a| + |b|)`` (CS231n's definition).

    Inputs:
    - a, b: arrays of the same shape (or numbers)

    Returns:
    - the largest relative error, a float (0.0 for empty arrays)
    """
    a, b = backend.to_numpy(a).astype(np.float64), backend.to_numpy(b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got a with shape {a.shape} "
                         f"and b with shape {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


# --------------------------------------------------------------------------------- the checker
def _sweep(f, x, h: float):
    """Centred differences plus a kink test for every coordinate of ``x``.

    Besides ``f(x +- h)`` it evaluates ``f(x +- h/2)``. For a smooth ``f`` the centred estimates at h
    and h/2 agree to O(h^2) and the second difference ``f(x+h) - 2f(x) + f(x-h)`` is four times the one
    at h/2. A kink within ``+-h`` breaks at least one of the two (the first misses a kink exactly at x,
    the second one at distance h/3; never both). Returns ``(grad, kink_mask, resolution, lo, hi)``,
    where ``resolution`` is the smallest gradient difference that rounding in ``f`` lets us see, and
    the one-sided slopes ``(lo, hi)`` at each entry: at a kink any honest derivative lies between them.
    """
    raw = f(x)
    f0 = _scalar(raw)
    out_dtype = getattr(raw, "dtype", np.dtype(np.float64))
    grad = np.zeros(x.shape)
    jump = np.zeros(x.shape)        # estimated change of slope across a kink
    lo, hi = np.zeros(x.shape), np.zeros(x.shape)
    fmax = abs(f0)
    for idx, values in _nudges(lambda x_: _scalar(f(x_)), x, (h, -h, h / 2, -h / 2)):
        fp, fm, fp2, fm2 = values
        fmax = max(fmax, *(abs(v) for v in values))
        grad[idx] = (fp - fm) / (2 * h)
        lo[idx], hi[idx] = sorted(((fp - f0) / h, (f0 - fm) / h))
        centred_gap = abs(grad[idx] - (fp2 - fm2) / h)
        curvature_gap = abs((fp - 2 * f0 + fm) - 4 * (fp2 - 2 * f0 + fm2)) / h
        jump[idx] = max(2 * centred_gap, curvature_gap)
    eps = max(np.finfo(np.result_type(x.dtype, np.float32)).eps,
              np.finfo(out_dtype).eps if out_dtype.kind == "f" else 0.0)
    # Rounding in f is ~eps*|f| per evaluation; divided by h it becomes a slope error.
    resolution = 10 * eps * fmax / h
    # A kink must stand far clear of that noise (and of the O(h^2) smooth terms) before we call it one.
    return grad, jump > 1e3 * resolution + 1e-9, resolution, lo, hi


@dataclass(frozen=True)
class Finding:
    """One thing the checker found about a failing gradient: ``code`` names it for a program (the grader
    counts mistakes by it; rewording ``text`` never changes it), ``text`` says it to a person.

    The codes: ``sign``, ``factor_n`` (N or 1/N), ``factor_2`` (2 or 1/2), ``factor`` (another constant),
    ``no_reg``, ``half_reg``, ``double_reg`` (the regulariser's gradient missing, halved, doubled),
    ``transposed``, ``unstable`` (NaN or inf), ``zeros`` (all zeros), ``flat`` (f does not change with x),
    ``disagree`` (no single slip explains it: how many entries are wrong, quoting both values at the worst),
    ``shape`` (wrong shape), ``imprecise`` (finite differences cannot tell), ``small_error`` (small, and no
    kink to excuse it); ``None`` for a remark that names no mistake (where the errors sit, what to check).
    """

    code: str | None
    text: str


@dataclass(frozen=True)
class Against:
    """How the diagnoses name what the gradient is compared with. The checker compares with a numerical
    gradient (:data:`NUMERICAL`); the grader compares with an exact reference and passes its own words."""

    one: str            # "your gradient is twice <one>"
    kind: str           # "the <kind> gradient is zero", "versus 1.5 (<kind>)"
    symbol: str         # "(analytic ~ -<symbol>)"


NUMERICAL = Against("the numerical one", "numerical", "numeric")


def _band(err: float) -> str:
    return next(word for limit, word in _BANDS if err <= limit)


def _fmt(v: float) -> str:
    return f"{v:.1e}"


def _ratio(c: float, batch_size: int | None, against: Against) -> Finding | None:
    """What a constant ratio analytic/numeric says, or None when it is ~1. A line has one code: with a wrong
    sign and a wrong factor together, the sign's."""
    def near(a, b):
        return abs(a - b) <= 1e-3 * abs(b)
    sign = "" if c > 0 else "has the wrong sign and "
    m = abs(c)
    one = against.one
    if near(m, 1.0):
        return None if c > 0 else Finding(
            "sign", f"Your gradient has the opposite sign of {one} everywhere (analytic ~ -{against.symbol}): "
                    f"the loss goes up along your gradient. Check the sign of each term, e.g. a residual "
                    f"written (y - f) where (f - y) is meant, or (1 - p) where d(-log p)/ds needs (p - 1).")
    if batch_size and batch_size > 1 and near(m, batch_size):
        code, words = "factor_n", (f"is N = {batch_size} times {one}: the loss averages over the batch but your "
                                   f"gradient seems to sum; divide it by N.")
    elif batch_size and batch_size > 1 and near(m, 1 / batch_size):
        code, words = "factor_n", (f"is 1/N = 1/{batch_size} of {one}: it seems to divide by the batch size N once "
                                   f"more than the loss does (or the loss sums over the batch while your gradient "
                                   f"averages).")
    elif near(m, 2.0):
        code, words = "factor_2", (f"is twice {one}: a term may be counted twice, or a factor 1/2 (as in "
                                   f"0.5*x**2) is missing from the derivative.")
    elif near(m, 0.5):
        code, words = "factor_2", f"is half {one}: the derivative of x**2 is 2x, so a factor 2 may be missing."
    else:
        code, words = "factor", (f"is about {m:.4g} times {one} everywhere: the direction is right, so look for a "
                                 f"wrong constant factor (a scale, a learning rate or a batch size applied here).")
    return Finding(code if c > 0 else "sign", f"Your gradient {sign}{words}")


def _explains(a, b, floor: float) -> bool:
    """Does ``b`` explain ``a`` (a hypothesis about a mistake, or a transposed or reshaped gradient)?

    The relative error of the checker, with its noise floor: entries that should be zero come out of
    finite differences as rounding noise (~1e-11), and ``N * 1e-11`` against an exact 0 is a large
    *relative* error but no evidence against "your gradient is N times too large". Below ``floor``
    entries are compared in absolute terms, as in the verdict itself.
    """
    if a.size == 0:
        return True
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b)))) <= 1e-5


def _diagnose(numeric, analytic, kinks, reg_grad, batch_size, name, floor,
              against: Against = NUMERICAL) -> list[Finding]:
    """Plain-language guesses for a failing check; each test only fires when it fits the data well.

    ``floor`` is the checker's noise floor (see :func:`_explains`); pass ``1e-8`` when ``numeric`` is exact.
    ``against`` names what ``numeric`` is (a numerical gradient, unless the caller says otherwise).
    """
    def fits(a_, b_):
        return _explains(a_, b_, floor)
    smooth = ~kinks
    n, a = numeric[smooth], analytic[smooth]
    one = against.one
    out = []
    if not np.all(np.isfinite(analytic)):
        return [Finding("unstable", f"Your gradient for {name} contains NaN or inf: look for a log of 0, a division "
                                    f"by 0 or an overflowing exp (subtract the row maximum before exp).")]
    if not np.any(numeric):
        if np.any(analytic):
            out.append(Finding("flat", f"f did not change at all when {name} was nudged, so the {against.kind} "
                                       f"gradient is zero. Does f read the very array you passed (it is changed "
                                       f"in place), not a copy of it?"))
        return out
    if not np.any(analytic):
        return [Finding("zeros", f"Your gradient for {name} is all zeros: is it computed and returned (not only "
                                 f"initialised)?")]
    if a.size and fits(-a, n):
        return [_ratio(-1.0, batch_size, against)]
    if reg_grad is not None:
        r = reg_grad[smooth]
        for shift, finding in (
                (r, Finding("no_reg", f"Your gradient matches {one} once the regularisation gradient is added: "
                                      f"the regulariser's term (2*reg*W for reg*sum(W**2)) seems to be missing.")),
                (r / 2, Finding("half_reg", "Your regularisation gradient looks half as big as it should be: the "
                                            "derivative of reg*sum(W**2) is 2*reg*W, not reg*W.")),
                (-r, Finding("double_reg", "The regularisation gradient seems to be added twice.")),
                (2 * r, Finding("sign", "The regularisation gradient seems to be added with the wrong sign (it "
                                         "should pull the weights towards zero: + 2*reg*W)."))):
            if np.any(r) and fits(a + shift, n):
                return [finding]
    if numeric.ndim == 2 and numeric.shape[0] == numeric.shape[1] and numeric.shape[0] > 1 \
            and fits(analytic.T, numeric):
        return [Finding("transposed", f"Your gradient is the transpose of {one}: {name} has shape {numeric.shape}, "
                                      f"so dL/d{name} must be laid out like {name} itself (for W of shape (D, C) "
                                      f"use X.T @ dscores).")]
    # A constant factor on the whole gradient, or (when the regulariser is known) on its data part only.
    candidates = [(a, n, "")]
    if reg_grad is not None and np.any(reg_grad):
        r = reg_grad[smooth]
        candidates.append((a - r, n - r, "In the data part of the gradient (without the regulariser): "))
    for a_part, n_part, prefix in candidates:
        dot = float(np.dot(n_part, n_part))
        if dot > 0:
            c = float(np.dot(a_part, n_part) / dot)
            if c != 0 and fits(a_part, c * n_part):
                found = _ratio(c, batch_size, against)
                if found:
                    words = found.text
                    return [Finding(found.code, prefix + (words[0].lower() + words[1:] if prefix else words))]
    # No simple story: say where the disagreement lives.
    err = np.abs(analytic - numeric) / np.maximum(floor, np.abs(analytic) + np.abs(numeric))
    bad = (err > 1e-5) & smooth
    count = int(bad.sum())
    worst = np.unravel_index(int(np.argmax(np.where(smooth, err, -1))), err.shape) if err.ndim else ()
    if count:
        where = f"at index {tuple(int(i) for i in worst)}" if err.ndim else ""
        out.append(Finding(
            "disagree", f"{count} of {err.size} entries disagree; the worst {where} is {analytic[worst]:.6g} "
                        f"(yours) versus {numeric[worst]:.6g} ({against.kind})."))
        if err.ndim == 2 and err.shape[0] > 1:
            rows = np.flatnonzero(bad.any(axis=1))
            if rows.size == 1:
                last = " (the last row: the bias row if you use the bias trick)" \
                    if rows[0] == err.shape[0] - 1 else ""
                out.append(Finding(None, f"All of them are in row {rows[0]}{last}."))
            cols = np.flatnonzero(bad.any(axis=0))
            if cols.size == 1 and err.shape[1] > 1 and rows.size > 1:
                out.append(Finding(None, f"All of them are in column {cols[0]}: look at the term for that "
                                         f"class/unit, e.g. the correct class's score."))
        out.append(Finding(None, "No single slip (sign, constant factor, transpose, regulariser) explains it. "
                                 "Where a value feeds more than one operation, its gradient is the sum over all "
                                 "paths: check that every branch adds its share (+=), and that each local "
                                 "derivative is taken at the right value."))
    return out


@dataclass
class ParameterCheck:
    """The check of one parameter: errors, verdict, kinks found and what probably went wrong."""

    name: str
    shape: tuple
    max_rel_error: float                  # over all entries (inf when the shapes do not match)
    max_rel_error_away_from_kinks: float  # over entries where f is smooth within +-h
    kinks: int                            # entries with a kink within +-h, your value between its slopes
    verdict: str
    ok: bool
    findings: list[Finding] = field(default_factory=list)
    numeric: np.ndarray | None = field(default=None, repr=False)
    analytic: np.ndarray | None = field(default=None, repr=False)
    kink_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def diagnosis(self) -> list[str]:
        """The sentences of the findings: what probably went wrong."""
        return [f.text for f in self.findings]

    def __str__(self) -> str:
        head = f"Gradient check for {self.name} (shape {self.shape}): "
        if self.verdict == WRONG_SHAPE:
            head += "wrong shape."
        else:
            head += f"max relative error {_fmt(self.max_rel_error)}: {self.verdict}."
        if self.kinks:
            head += (f" f has a kink within ±h at {self.kinks} entr{'y' if self.kinks == 1 else 'ies'}; there "
                     f"the numerical gradient averages the two one-sided slopes, so those entries may "
                     f"disagree harmlessly. Away from the kinks the error is "
                     f"{_fmt(self.max_rel_error_away_from_kinks)}.")
        return " ".join([head, *self.diagnosis, "✓ OK" if self.ok else "✗ Not OK yet."])


def _check_one(f, x, analytic, h, name, batch_size, reg_grad, tol) -> ParameterCheck:
    _check_x(x, name)
    shape = tuple(x.shape)
    analytic_np = backend.to_numpy(analytic) if analytic is not None else None
    if analytic_np is None or not hasattr(analytic, "shape"):
        raise TypeError(f"the analytic gradient for {name} must be an array of shape {shape}, "
                        f"got {type(analytic).__name__}")
    numeric, kink_mask, resolution, lo, hi = _sweep(f, x, h)
    # CS231n's relative error, except that differences below what finite differences can resolve
    # (rounding in f divided by h) cannot count: entries that small are compared in absolute terms,
    # so a correct gradient with tiny entries is not failed for noise.
    floor = max(1e-8, resolution / _BANDS[0][0])
    if analytic_np.shape != shape:
        code, words = "shape", (f"Your gradient for {name} has shape {analytic_np.shape} but {name} has shape "
                                f"{shape}: a gradient always has the shape of the thing it is the gradient with "
                                f"respect to.")
        if analytic_np.shape == shape[::-1] and len(shape) == 2 and _explains(analytic_np.T, numeric, floor):
            code, words = "transposed", (words + " Transposed, it matches the numerical gradient: return its "
                                                 "transpose (e.g. X.T @ dout).")
        elif analytic_np.size == numeric.size and _explains(analytic_np.reshape(shape), numeric, floor):
            words += f" Its values are right; reshape it to {shape}."
        return ParameterCheck(name, shape, np.inf, np.inf, int(kink_mask.sum()), WRONG_SHAPE, False,
                              [Finding(code, words)], numeric, analytic_np, kink_mask)
    analytic_np = analytic_np.astype(np.float64)
    err = np.abs(analytic_np - numeric) / np.maximum(floor, np.abs(analytic_np) + np.abs(numeric))
    if not np.all(np.isfinite(analytic_np)):
        err = np.where(np.isfinite(err), err, np.inf)
    max_err = float(err.max()) if err.size else 0.0
    # A kink excuses an entry only if the analytic value is one of the slopes there (or between them).
    slack = 1e-5 * (np.abs(lo) + np.abs(hi)) + resolution
    kink_mask = kink_mask & (analytic_np >= lo - slack) & (analytic_np <= hi + slack)
    smooth = ~kink_mask
    max_smooth = float(err[smooth].max()) if smooth.any() else 0.0
    kinks = int(kink_mask.sum())
    ok = max_err <= tol or (kinks > 0 and max_smooth <= tol)
    verdict = _band(max_err)
    if kinks and ok and verdict != GOOD:
        verdict = NEAR_KINK            # the big errors sit exactly where f is not differentiable
    findings = [] if ok else _diagnose(numeric, analytic_np, kink_mask, reg_grad, batch_size, name, floor)
    scale = max(float(np.abs(numeric).max(initial=0)), float(np.abs(analytic_np).max(initial=0)))
    if scale > 0 and resolution > 1e-4 * scale and np.all(np.isfinite(analytic_np)):
        ok, verdict = False, CANNOT_TELL
        findings = [Finding("imprecise", f"This check cannot tell right from wrong here: rounding in f, divided by "
                                         f"h={h:g}, blurs the numerical gradient by about {resolution:.1e}, not far "
                                         f"below the gradient itself (largest entry {scale:.1e}). Check in float64 "
                                         f"(x and the data), and keep the loss near 1 (average rather than sum "
                                         f"over the batch).")]
    if not ok and not findings and verdict == NEAR_KINK and not kinks:
        findings.append(Finding("small_error", "No kink was found near this point, so an error this size is more "
                                               "than rounding: look for a small term that is missing or slightly "
                                               "wrong."))
    return ParameterCheck(name, shape, max_err, max_smooth, kinks, verdict, ok, findings,
                          numeric, analytic_np, kink_mask)


@dataclass
class GradientReport:
    """The result of :func:`check_gradient` / :func:`check_gradients`: one :class:`ParameterCheck` each.

    ``report.ok`` is True when every parameter passes; ``report.verdict`` is the worst verdict;
    ``report.diagnosis`` lists the sentences that explain failures, ``report.findings`` the same as
    :class:`Finding` (each with its code); ``str(report)`` is a readable paragraph (students see it in
    self-check cells and the autograder quotes it).
    """

    checks: dict[str, ParameterCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def verdict(self) -> str:
        return max((c.verdict for c in self.checks.values()), key=_SEVERITY.__getitem__, default=GOOD)

    @property
    def rel_errors(self) -> dict[str, float]:
        """Maximum relative error per parameter."""
        return {k: c.max_rel_error for k, c in self.checks.items()}

    @property
    def max_rel_error(self) -> float:
        return max(self.rel_errors.values(), default=0.0)

    @property
    def findings(self) -> list[Finding]:
        """Every parameter's findings; with several parameters each sentence starts with its name."""
        many = len(self.checks) > 1
        return [Finding(f.code, f"{k}: {f.text}" if many else f.text)
                for k, c in self.checks.items() for f in c.findings]

    @property
    def diagnosis(self) -> list[str]:
        return [f.text for f in self.findings]

    @property
    def kinks(self) -> int:
        return sum(c.kinks for c in self.checks.values())

    def __getitem__(self, name: str) -> ParameterCheck:
        return self.checks[name]

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self.checks.values())

    def _repr_html_(self) -> str:
        rows = []
        for c in self.checks.values():
            colour = "#1a7f37" if c.ok else "#b35806"
            err = "—" if c.verdict == WRONG_SHAPE else _fmt(c.max_rel_error)
            notes = " ".join(c.diagnosis)
            if c.kinks:
                notes = (f"kink within ±h at {c.kinks} entries (error away from them "
                         f"{_fmt(c.max_rel_error_away_from_kinks)}). " + notes)
            rows.append(
                f"<tr><td><code>{html.escape(c.name)}</code></td><td>{c.shape}</td><td>{err}</td>"
                f"<td style='color:{colour}'><b>{'✓ OK' if c.ok else '✗ not OK'}</b> "
                f"({html.escape(c.verdict)})</td><td>{html.escape(notes)}</td></tr>")
        return ("<table><thead><tr><th>parameter</th><th>shape</th><th>max rel. error</th><th>verdict</th>"
                "<th>notes</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def check_gradient(f, x, analytic, h: float = 1e-5, name: str = "x", *, batch_size: int | None = None,
                   reg: float | None = None, reg_grad=None, tol: float = 1e-7) -> GradientReport:
    """Compare an analytic gradient with a numerical one and explain any disagreement.

    Inputs:
    - f: callable, ``f(x)`` returns the scalar loss; ``x`` is perturbed in place, so ``f`` may also read
      it from elsewhere (``lambda _: loss(W, X, y, reg)[0]`` with ``x=W``)
    - x: float64 array, the point where the gradient is checked
    - analytic: your gradient, same shape as ``x``
    - h: finite-difference step
    - name: what to call ``x`` in the report
    - batch_size: N, when the loss averages over a batch (lets the report recognise a factor N or 1/N)
    - reg: L2 strength when ``f`` includes ``reg * sum(x**2)`` (our convention, no 1/2), so that a
      missing or halved regularisation gradient ``2 * reg * x`` can be recognised; or pass
    - reg_grad: the regulariser's gradient itself (any regulariser)
    - tol: the largest max relative error that passes (``1e-7``, the "good" band)

    Returns:
    - a :class:`GradientReport`; ``report.ok``, ``report.verdict``, ``report.diagnosis``, ``print(report)``

    Entries where ``f`` has a kink within ``±h`` (ReLU at 0, a hinge at margin 0) are detected and
    excluded from the pass/fail decision when the analytic value lies between the two one-sided slopes
    there (any choice of subgradient is fine; the centred difference averages the two). Differences
    smaller than rounding in ``f`` lets finite differences resolve (about ``10 eps |f| / h``) do not count.
    """
    return check_gradients(lambda params: f(params[name]), {name: x}, {name: analytic}, h,
                           batch_size=batch_size,
                           reg={name: reg} if reg is not None else None,
                           reg_grads={name: reg_grad} if reg_grad is not None else None, tol=tol)


def check_gradients(f, params: dict, analytic: dict, h: float = 1e-5, *, batch_size: int | None = None,
                    reg: float | dict | None = None, reg_grads: dict | None = None,
                    tol: float = 1e-7) -> GradientReport:
    """Check the gradients of several parameters of one scalar function.

    Inputs:
    - f: callable, ``f(params)`` returns the scalar loss; each array in ``params`` is perturbed in
      place in turn (so ``lambda p: net.loss(X, y)[0]`` works when ``p`` holds the net's own arrays)
    - params: ``{name: float64 array}``
    - analytic: ``{name: gradient}`` with the same names and shapes
    - h: finite-difference step
    - batch_size: N when the loss averages over a batch
    - reg: L2 strength (``reg * sum(W**2)``) as a float, applied to parameters whose name starts with
      ``"W"`` (weights, not biases, as in CS231n's nets), or a dict ``{name: reg}``
    - reg_grads: ``{name: regulariser gradient}`` for any other regulariser
    - tol: the largest max relative error that passes

    Returns:
    - a :class:`GradientReport` with one :class:`ParameterCheck` per parameter
    """
    if not isinstance(params, dict) or not isinstance(analytic, dict):
        raise TypeError("params and analytic must be dicts {name: array}, got "
                        f"{type(params).__name__} and {type(analytic).__name__}")
    missing = [k for k in params if k not in analytic]
    if missing:
        raise ValueError(f"analytic has no gradient for parameter(s) {missing}; it has {list(analytic)}")
    h = _check_h(h)
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int (N), got {batch_size!r}")
    if isinstance(reg, dict):
        regs = reg
    elif reg is not None:
        regs = {k: reg for k in params if k.startswith("W")}
    else:
        regs = {}
    checks = {}
    for name, x in params.items():
        _check_x(x, name)
        _warn_precision(x, name, stacklevel=4)
        reg_grad = None
        if reg_grads and name in reg_grads:
            reg_grad = backend.to_numpy(reg_grads[name]).astype(np.float64)
        elif regs.get(name):
            reg_grad = 2 * float(regs[name]) * backend.to_numpy(x).astype(np.float64)
        checks[name] = _check_one(lambda _x: f(params), x, analytic[name], h, name, batch_size, reg_grad, tol)
    return GradientReport(checks)
