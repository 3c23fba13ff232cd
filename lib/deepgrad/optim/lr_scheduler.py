"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

A scheduler rescales each parameter group's ``lr`` from its initial value; call ``scheduler.step()`` once
per epoch (after ``optimizer.step()``). Epochs are counted from 0: at construction the rate is
``base_lr · factor(0)``.

    >>> from deepgrad import Tensor, optim
    >>> opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)          # ÷10 every 10 epochs
    >>> for epoch in range(10):
    ...     sched.step()
    >>> round(sched.get_last_lr()[0], 6)
    0.01
    >>> sched = optim.lr_scheduler.InverseSqrtLR(opt)        # the notes' η_t = η_0 / √(t + 1)
"""
from __future__ import annotations

import math

from ..checks import check_int

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "ExponentialLR", "InverseSqrtLR"]


class LRScheduler:
    """Base class: ``factor(epoch)`` multiplies each group's initial learning rate."""

    def __init__(self, optimizer, last_epoch: int = -1):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def factor(self, epoch: int, base_lr: float) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        return [base * self.factor(self.last_epoch, base) for base in self.base_lrs]

    def step(self):
        """Advance one epoch and set the new learning rates."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict):
        self.last_epoch, self.base_lrs = state["last_epoch"], list(state["base_lrs"])


class LambdaLR(LRScheduler):
    """``lr = base_lr · lr_lambda(epoch)``; ``lr_lambda`` may be one function or one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(f"lr_lambda must be one function or {n} (one per group), got {len(lambdas)}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class StepLR(LRScheduler):
    """``lr = base_lr · gamma^(epoch // step_size)``: multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size, self.gamma = check_int(step_size, "step_size", minimum=1), gamma
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch, base_lr):
        return self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """``lr = base_lr · gamma^epoch``."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch, base_lr):
        return self.gamma ** epoch


class InverseSqrtLR(LRScheduler):
    """The lecture notes' decay ``lr = base_lr / √(epoch + 1)`` (same as ``LambdaLR(opt, lambda t: 1/√(t+1))``)."""

    def factor(self, epoch, base_lr):
        return 1.0 / math.sqrt(epoch + 1)
