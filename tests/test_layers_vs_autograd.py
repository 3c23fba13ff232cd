"""The two worlds agree: a two-layer net by hand (deepgrad.layers + losses) and by autodiff (nn + functional)."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad.functional as F
from deepgrad import layers, losses, nn
from deepgrad.autograd import Tensor


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_two_layer_net_same_gradients(activation, loss):
    rng = np.random.default_rng(0)
    N, D, H, C = 8, 5, 7, 4
    X, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
    model = nn.Sequential(nn.Linear(D, H, dtype=np.float64, generator=1),
                          {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation](),
                          nn.Linear(H, C, dtype=np.float64, generator=2))
    W1, b1, W2, b2 = (p.data for p in model.parameters())
    W1, W2 = W1.T, W2.T  # nn.Linear stores (out, in) as PyTorch; the by-hand layers take W (D, M)

    # By hand: the modular forward/backward API of the backprop lecture.
    h, c1 = layers.linear_forward(X, W1, b1)
    a, c2 = getattr(layers, f"{activation}_forward")(h)
    scores, c3 = layers.linear_forward(a, W2, b2)
    if loss == "softmax":
        value, dscores = losses.softmax_loss(scores, y)
    else:
        value, dscores = losses.svm_loss(scores, y)
    da, dW2, db2 = layers.linear_backward(dscores, c3)
    dh = getattr(layers, f"{activation}_backward")(da, c2)
    dX, dW1, db1 = layers.linear_backward(dh, c1)

    # By autodiff. The notes' SVM loss is PyTorch's multi-margin loss times the number of classes.
    x = Tensor(X, requires_grad=True)
    out = model(x)
    auto = F.cross_entropy(out, y) if loss == "softmax" else F.multi_margin_loss(out, y) * C
    auto.backward()

    assert auto.item() == pytest.approx(value, rel=1e-12)
    for got, want in zip([x.grad, *(p.grad for p in model.parameters())], [dX, dW1.T, db1, dW2.T, db2],
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
