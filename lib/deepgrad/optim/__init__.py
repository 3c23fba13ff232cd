"""Optimisers with PyTorch's names, update formulas and defaults (lecture: optimisers).

Each optimiser holds a list of parameters (any Tensors: a network's weights, or a single 2-D point for
the optimiser race) and updates them **in place** from their ``.grad``:

    >>> import numpy as np
    >>> from deepgrad import Tensor, optim
    >>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> loss = (w * w).sum()
    >>> opt.zero_grad(); loss.backward(); opt.step()
    >>> w.data.tolist()                  # w - 0.1 * 2w
    [0.8, -1.6]

Parameters whose ``.grad`` is None are skipped. As in PyTorch, ``params`` may also be a list of dicts
(parameter groups) with their own options, e.g. ``[{'params': body}, {'params': head, 'lr': 1e-2}]``.
Learning-rate schedules live in :mod:`deepgrad.optim.lr_scheduler`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from ..checks import check_number

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]


_BLOCK = 1 << 16  # elements: a block of a parameter and its temporary fit in the CPU's cache


def _sub_scaled_(param, scale, grad):
    """``param -= scale * grad`` in place (the update of plain SGD).

    A large NumPy parameter is updated in blocks: ``scale * grad`` on the whole array would make a temporary
    as big as the parameter, and writing it out and reading it back doubles the memory traffic of the step
    (NumPy has no fused multiply-subtract). Block by block the temporary stays in the cache. The arithmetic
    is the same, element by element, so the result is identical.
    """
    if not (isinstance(param, np.ndarray) and param.size > _BLOCK and param.shape == grad.shape
            and param.flags.c_contiguous and grad.flags.c_contiguous):
        param -= scale * grad
        return
    p, g = param.reshape(-1), grad.reshape(-1)  # views, since both are contiguous
    for i in range(0, p.size, _BLOCK):
        p[i:i + _BLOCK] -= scale * g[i:i + _BLOCK]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and ``step``."""

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors (e.g. model.parameters() or [x]), got a Tensor")
        params = list(params)
        if not params:
            raise ValueError("params is empty: the optimiser has nothing to update")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        for g in groups:
            group = {**self.defaults, **g, "params": list(g["params"])}
            for p in group["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"params must hold Tensors, got {type(p).__name__}")
                if not p.requires_grad:
                    raise ValueError(f"a parameter of shape {p.shape} does not require grad; "
                                     "create it with requires_grad=True")
            self.param_groups.append(group)
        for group in self.param_groups:
            self._check(group)

    _NONNEGATIVE = ("lr", "momentum", "dampening", "alpha", "eps", "lr_decay", "weight_decay")

    def _check(self, group):
        """Every hyperparameter of a group, in one style (as PyTorch's optimisers do)."""
        for key in self._NONNEGATIVE:
            if key in group:
                check_number(group[key], key, minimum=0)
        for i, beta in enumerate(group.get("betas", ())):
            check_number(beta, f"betas[{i}]", 0, 1, open_max=True)

    def zero_grad(self, set_to_none: bool = True):
        """Clear gradients before the next backward pass (they accumulate otherwise)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none else backend.get_array_module(p.data).zeros_like(p.data)

    def step(self):
        """Update every parameter that has a gradient."""
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        grad = p.grad.data
                        if group.get("weight_decay", 0) and not self._decoupled:
                            grad = grad + group["weight_decay"] * p.data  # L2 penalty folded into the gradient
                        self._update(p, grad, self.state.setdefault(p, {}), group)

    _decoupled = False

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Optimiser state by parameter index, and the groups' options (parameters replaced by indices)."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        state = {index[id(p)]: {k: (v.copy() if hasattr(v, "copy") else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = [{**g, "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        params = [p for g in self.param_groups for p in g["params"]]
        for g, saved in zip(self.param_groups, state_dict["param_groups"], strict=True):
            g.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {params[i]: {k: (v.copy() if hasattr(v, "copy") else v) for k, v in s.items()}
                      for i, s in state_dict["state"].items()}

    def __repr__(self):
        opts = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({opts})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (PyTorch's formulation).

    With momentum μ, the velocity ``b ← μ b + (1 − dampening) g`` (``b = g`` at the first step), and
    ``θ ← θ − lr · b`` (Nesterov: ``θ ← θ − lr · (g + μ b)``). ``weight_decay`` adds ``λ θ`` to g (L2).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, grad, state, group):
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:     # an array even for a 0-d parameter, whose gradient may be a NumPy scalar:
                # a scalar buffer would be rebound by *=, not updated, and momentum would never accumulate
                buf = state["momentum_buffer"] = backend.get_array_module(p.data).array(grad, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * grad
            grad = grad + mu * buf if group["nesterov"] else buf
        _sub_scaled_(p.data, group["lr"], grad)


class Adagrad(Optimizer):
    """Adagrad: divide each coordinate's step by the root of its summed squared gradients.

    ``G ← G + g²``, ``θ ← θ − lr_t · g / (√G + eps)`` with ``lr_t = lr / (1 + (t − 1) · lr_decay)``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, p, grad, state, group):
        if "sum" not in state:
            xp = backend.get_array_module(p.data)
            state["step"] = 0
            state["sum"] = xp.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        p.data -= clr * grad / (backend.get_array_module(p.data).sqrt(state["sum"]) + group["eps"])


class RMSprop(Optimizer):
    """RMSprop: like Adagrad with a leaky (exponential moving) average of squared gradients.

    ``v ← α v + (1 − α) g²``, ``θ ← θ − lr · g / (√v + eps)``; with momentum μ:
    ``b ← μ b + g / (√v + eps)``, ``θ ← θ − lr · b``.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum))

    def _update(self, p, grad, state, group):
        xp = backend.get_array_module(p.data)
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if group["momentum"]:
                state["momentum_buffer"] = xp.zeros_like(p.data)
        state["step"] += 1
        v = state["square_avg"]
        v *= group["alpha"]
        v += (1 - group["alpha"]) * grad * grad
        scaled = grad / (xp.sqrt(v) + group["eps"])
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += scaled
            scaled = buf
        p.data -= group["lr"] * scaled


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's formulation.

    ``m ← β1 m + (1 − β1) g``, ``v ← β2 v + (1 − β2) g²`` (raw moments, started at 0), then the bias-corrected
    step ``θ ← θ − lr · m̂ / (√v̂ + eps)`` with ``m̂ = m / (1 − β1^t)``, ``v̂ = v / (1 − β2^t)``. The moments
    themselves are never overwritten by their corrected copies (the deep-nets notes fold the correction into
    the recursion, which is not Adam).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, grad, state, group):
        xp = backend.get_array_module(p.data)
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        if self._decoupled and group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        state["step"] += 1
        t = state["step"]
        b1, b2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * (grad * grad)
        denom = xp.sqrt(v) * (1 / math.sqrt(1 - b2 ** t))
        denom += group["eps"]
        p.data -= (group["lr"] / (1 - b1 ** t)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``θ ← θ (1 − lr λ)`` before the Adam step."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


from . import lr_scheduler  # noqa: E402  (needs Optimizer defined)
