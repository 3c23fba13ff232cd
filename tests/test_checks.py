"""One way to check arguments: every bad call across the public API names the argument, shows its value
and says what was expected, in the style of deepgrad.checks."""
from __future__ import annotations

import re

import numpy as np
import pytest

from deepgrad import autograd, checks, data, init, layers, linear, losses, nn, optim, train
from deepgrad import functional as F
from deepgrad.autograd import Tensor

X, Y = np.zeros((8, 2)), np.zeros(8, dtype=np.int64)


def _model():
    return nn.MLP([2, 3], generator=0)


def _fit(**options):
    model = _model()
    return train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, Y),
                     progress=False, **options)


def _params():
    return [Tensor(np.zeros(2), requires_grad=True)]


# (id, call, exception, the message: argument name, value shown, what was expected)
BAD_CALLS = [
    ("fit batch_size bool", lambda: _fit(batch_size=True), TypeError,
     "batch_size must be an integer >= 1, got True (a bool)"),
    ("fit batch_size float", lambda: _fit(batch_size=8.0), TypeError, "batch_size must be an integer >= 1, got 8.0"),
    ("fit batch_size 0", lambda: _fit(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
    ("fit epochs", lambda: _fit(epochs=-1), ValueError, "epochs must be an integer >= 0, got -1"),
    ("fit patience", lambda: _fit(patience=0), ValueError, "patience must be an integer >= 1, got 0"),
    ("fit on_nonfinite", lambda: _fit(on_nonfinite="ignore"), ValueError,
     "on_nonfinite must be one of ('warn', 'raise'), got 'ignore'"),
    ("fit seed", lambda: _fit(seed="zero"), TypeError,
     "seed must be None, an integer seed >= 0 or a numpy.random.Generator, got 'zero'"),
    ("evaluate batch_size", lambda: train.evaluate(_model(), nn.CrossEntropyLoss(), (X, Y), batch_size=True),
     TypeError, "batch_size must be an integer >= 1, got True (a bool)"),
    ("minibatches batch_size bool", lambda: next(data.minibatches(X, Y, True)), TypeError,
     "batch_size must be an integer >= 1, got True (a bool)"),
    ("minibatches seed", lambda: next(data.minibatches(X, Y, 2, seed=1.5)), TypeError,
     "seed must be None, an integer seed >= 0 or a numpy.random.Generator, got 1.5"),
    ("DataLoader batch_size", lambda: data.DataLoader(data.TensorDataset(X, Y), batch_size=0), ValueError,
     "batch_size must be an integer >= 1, got 0"),
    ("DataLoader generator", lambda: data.DataLoader(data.TensorDataset(X, Y), generator=-1), TypeError,
     "generator must be None, an integer seed >= 0 or a numpy.random.Generator, got -1"),
    ("make_blobs n", lambda: data.make_blobs(np.float64(10)), TypeError,
     "n must be an integer >= 1, got 10.0 (a numpy.float64)"),
    ("make_moons noise", lambda: data.make_moons(10, noise=float("nan")), ValueError,
     "noise must be a finite number >= 0, got nan"),
    ("split val", lambda: data.train_val_test_split(X, Y, val=1.5), ValueError,
     "val must be a finite number in [0, 1), got 1.5"),
    ("grad argnums count", lambda: autograd.grad(lambda a, b: a * b, argnums=1)(Tensor(1.0)), TypeError,
     "argnums=1 requires at least 2 positional argument(s), got 1"),
    ("grad argnums kind", lambda: autograd.grad(lambda a: a, argnums="0"), TypeError,
     "argnums must be an integer >= 0, got '0'"),
    ("Linear in_features", lambda: nn.Linear(2.0, 3), TypeError, "in_features must be an integer >= 1, got 2.0"),
    ("Linear out_features", lambda: nn.Linear(2, 0), ValueError, "out_features must be an integer >= 1, got 0"),
    ("Dropout p", lambda: nn.Dropout(1.5), ValueError, "p must be a finite number in [0, 1], got 1.5"),
    ("F.dropout p", lambda: F.dropout(Tensor(np.ones(3)), p=-0.1), ValueError,
     "p must be a finite number in [0, 1], got -0.1"),
    ("MLP activation", lambda: nn.MLP([2, 3], activation="gelu"), ValueError,
     "activation must be one of ('identity', 'leaky_relu', 'relu', 'sigmoid', 'tanh'), got 'gelu'"),
    ("cross_entropy reduction", lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), np.zeros(2, int), "avg"),
     ValueError, "reduction must be one of ('mean', 'sum', 'none'), got 'avg'"),
    ("cross_entropy labels range", lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 3])),
     ValueError, "target must hold labels in [0, 3) (one per class column), found 3"),
    ("cross_entropy labels dtype", lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0])),
     TypeError, "target must hold integer class labels, got dtype float64; convert with target.astype(int)"),
    ("SGD lr", lambda: optim.SGD(_params(), lr=-1), ValueError, "lr must be a finite number >= 0, got -1"),
    ("SGD momentum", lambda: optim.SGD(_params(), lr=0.1, momentum="0.9"), TypeError,
     "momentum must be a finite number >= 0, got '0.9'"),
    ("Adam betas", lambda: optim.Adam(_params(), betas=(1.0, 0.999)), ValueError,
     "betas[0] must be a finite number in [0, 1), got 1.0"),
    ("Adam eps", lambda: optim.Adam(_params(), eps=-1e-8), ValueError, "eps must be a finite number >= 0, got -1e-08"),
    ("StepLR step_size", lambda: optim.lr_scheduler.StepLR(optim.SGD(_params(), lr=0.1), step_size=0), ValueError,
     "step_size must be an integer >= 1, got 0"),
    ("normal_ std", lambda: init.normal_(np.zeros(3), std=-1.0), ValueError,
     "std must be a finite number >= 0, got -1.0"),
    ("kaiming mode", lambda: init.kaiming_normal_(np.zeros((2, 3)), mode="fan_avg"), ValueError,
     "mode must be one of ('fan_in', 'fan_out'), got 'fan_avg'"),
    ("F.linear bias", lambda: F.linear(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4, 3))), Tensor(np.zeros(3))),
     ValueError, "bias must have shape (4,), got shape (3,)"),
    ("linear_forward W", lambda: layers.linear_forward(np.zeros((2, 3)), np.zeros(3), np.zeros(1)), ValueError,
     "W must have shape (D, M), got shape (3,)"),
    ("init generator", lambda: init.uniform_(np.zeros(3), generator=True), TypeError,
     "generator must be None, an integer seed >= 0 or a numpy.random.Generator, got True (a bool)"),
    ("dropout_forward p", lambda: layers.dropout_forward(np.ones(3), p=1), ValueError,
     "p (the drop probability) must be a finite number in [0, 1), got 1"),
    ("dropout_forward mode", lambda: layers.dropout_forward(np.ones(3), mode="test"), ValueError,
     "mode must be one of ('train', 'eval'), got 'test'"),
    ("leaky_relu slope", lambda: layers.leaky_relu_forward(np.ones(3), negative_slope=None), TypeError,
     "negative_slope must be a finite number, got None"),
    ("l2_penalty reg", lambda: losses.l2_penalty(np.ones(3), reg=-0.5), ValueError,
     "reg must be a finite number >= 0, got -0.5"),
    ("svm_loss labels", lambda: losses.svm_loss(np.zeros((2, 3)), np.array([0, 1.0])), TypeError,
     "y must hold integer class labels, got dtype float64"),
    ("LinearSVM batch_size", lambda: linear.LinearSVM(seed=0).train(X, Y, batch_size=0), ValueError,
     "batch_size must be an integer >= 1, got 0"),
    ("LinearSVM learning_rate", lambda: linear.LinearSVM(seed=0).train(X, Y, learning_rate="big"), TypeError,
     "learning_rate must be a finite number >= 0, got 'big'"),
    ("Softmax reg", lambda: linear.Softmax(reg=float("inf")), ValueError, "reg must be a finite number >= 0, got inf"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_every_bad_call_says_which_argument_its_value_and_what_was_expected(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value).startswith(message), f"{info.value!r} should start with {message!r}"


@pytest.mark.parametrize("good", [np.int64(2), np.int32(2), np.uint8(2), 2])
def test_numpy_integers_are_integers_everywhere(good):
    assert checks.check_int(good, "n", minimum=1) == 2 and type(checks.check_int(good, "n")) is int
    assert len(list(data.minibatches(X, Y, batch_size=good * 2))) == 2
    history = _fit(batch_size=good * 2, epochs=1)
    assert len(history.step_loss) == 2  # 8 examples, 4 per step: not one-example steps
    assert nn.Linear(good, good).weight.shape == (2, 2)


@pytest.mark.parametrize("bad, shown", [(True, "True (a bool)"), (np.bool_(True), "True (a bool)"), (2.0, "2.0"),
                                        ("2", "'2'"), (None, "None"), (np.array([2]), "an array of shape (1,)")])
def test_check_int_refuses_what_is_not_an_integer(bad, shown):
    with pytest.raises(TypeError, match=f"^n must be an integer, got {re.escape(shown)}$"):
        checks.check_int(bad, "n")
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got 0 \(a numpy.int64\)$"):
        checks.check_int(np.int64(0), "n", minimum=1)


def test_check_number_refuses_nan_inf_and_ranges():
    assert checks.check_number(np.float32(0.5), "lr", minimum=0) == 0.5
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match=re.escape(f"lr must be a finite number >= 0, got {bad!r}")):
            checks.check_number(bad, "lr", minimum=0)
    with pytest.raises(ValueError, match=r"factor must be a finite number in \(0, 1\), got 0"):
        checks.check_number(0, "factor", 0, 1, open_min=True, open_max=True)
    assert checks.check_probability(1, "p") == 1.0
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        checks.check_probability(1, "p", allow_one=False)


def test_check_shape_and_dtype_name_what_was_expected():
    assert checks.check_shape(np.zeros((4, 3)), "W", ("D", 3)).shape == (4, 3)
    with pytest.raises(ValueError, match=r"^b must have shape \(3,\), got shape \(4,\)$"):
        checks.check_shape(np.zeros(4), "b", (3,))
    with pytest.raises(ValueError, match=r"^W must have shape \(D, 3\), got shape \(3,\)$"):
        checks.check_shape(np.zeros(3), "W", ("D", 3))
    with pytest.raises(TypeError, match=r"^x must hold real \(bool, integer or float\) values, got dtype <U1$"):
        checks.check_array(np.array(["a"]), "x")
    with pytest.raises(TypeError, match="^y must hold integer values, got dtype float64$"):
        checks.check_dtype(np.zeros(3), "y", "iu")
    assert checks.check_dtype(np.zeros(3, np.float32), "x", "f").dtype == np.float32


def test_check_labels_and_generator():
    np.testing.assert_array_equal(checks.check_labels([0, 2], "y", 2, 3), [0, 2])
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 3\) \(one per class column\), found -1"):
        checks.check_labels(np.array([-1, 0]), "y", 2, 3)
    g = np.random.default_rng(0)
    assert checks.check_generator(g) is g and checks.check_generator(None, default=g) is g
    assert checks.check_generator(np.int64(5)).random() == np.random.default_rng(5).random()
