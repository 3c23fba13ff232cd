"""deepgrad.layers.batchnorm_*: the reference A2 grades against, checked against centred differences."""
from __future__ import annotations

import numpy as np
import pytest

from deepgrad import layers as L
from tests.test_layers import assert_grad_close, num_grad


def _problem(rng, N=6, D=4):
    x = rng.standard_normal((N, D)) * rng.uniform(0.5, 3, D) + rng.uniform(-2, 2, D)
    return x, rng.uniform(0.5, 2, D), rng.standard_normal(D), rng.standard_normal((N, D))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batchnorm_backward_matches_numerical(rng, mode):
    x, gamma, beta, dout = _problem(rng)
    stats = {"running_mean": rng.standard_normal(4), "running_var": rng.uniform(0.5, 2, 4)}

    def loss():
        return np.sum(L.batchnorm_forward(x, gamma, beta, {"mode": mode, **stats})[0] * dout)

    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": mode, **stats})
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
    assert_grad_close(dx, num_grad(loss, x))
    assert_grad_close(dgamma, num_grad(loss, gamma))
    assert_grad_close(dbeta, num_grad(loss, beta))


def test_train_mode_normalises_and_moves_the_running_statistics(rng):
    x, gamma, beta, _ = _problem(rng, N=50)
    bn = {"mode": "train", "momentum": 0.25}
    out, _ = L.batchnorm_forward(x, np.ones(4), np.zeros(4), bn)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(bn["running_mean"], 0.25 * x.mean(axis=0))          # from zeros
    np.testing.assert_allclose(bn["running_var"], 0.75 + 0.25 * x.var(axis=0))     # from ones
    # eval mode uses the running statistics: one example alone gets the same output as in any batch
    bn["mode"] = "eval"
    alone = L.batchnorm_forward(x[:1], gamma, beta, bn)[0]
    np.testing.assert_allclose(alone, L.batchnorm_forward(x, gamma, beta, bn)[0][:1])
    np.testing.assert_allclose(alone, gamma * (x[:1] - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5) + beta)


def test_batchnorm_errors_name_the_argument():
    with pytest.raises(ValueError, match="bn_param\\['mode'\\]"):
        L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "test"})
    with pytest.raises(ValueError, match="gamma \\(2,\\)"):
        L.batchnorm_forward(np.ones((2, 3)), np.ones(2), np.zeros(3), {"mode": "train"})
