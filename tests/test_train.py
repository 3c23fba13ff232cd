"""The training loop: history, early stopping restores the best weights, NaN stop, real-digits accuracy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from deepgrad import data, init, nn, optim, train
from deepgrad.autograd import Tensor


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    return centres[y] + rng.normal(scale=0.5, size=(n, 2)), y


def test_accuracy_helper():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.1, 0.2]])
    assert train.accuracy(logits, np.array([0, 1, 1, 1])) == 0.75
    assert train.accuracy(Tensor(logits), Tensor(np.array([0, 0, 0, 0]))) == 0.5
    with pytest.raises(ValueError, match="shapes"):
        train.accuracy(logits, np.array([0, 1]))


def test_fit_learns_and_records_history():
    X, y = blobs()
    model = nn.MLP([2, 16, 3], generator=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    h = train.fit(model, nn.CrossEntropyLoss(), opt, (X[:90], y[:90]), val_data=(X[90:], y[90:]),
                  epochs=10, batch_size=16, scheduler=sched, progress=False)
    assert h.epochs == 10 and len(h.val_loss) == 10 and len(h.val_acc) == 10 and len(h.train_acc) == 10
    assert len(h.step_loss) == 10 * 6  # ceil(90 / 16) steps per epoch
    assert h.loss[-1] < h.loss[0] and h.val_acc[-1] >= 0.9 and h.stop_reason == "completed"
    assert h.lr[:6] == pytest.approx([0.1] * 5 + [0.05])
    assert model.training  # evaluation put it back in training mode
    loss, acc = train.evaluate(model, nn.CrossEntropyLoss(), (X[90:], y[90:]))
    assert loss == pytest.approx(h.val_loss[-1]) and acc == pytest.approx(h.val_acc[-1])


def test_fit_regression_without_accuracy_and_with_dataloader():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1, dtype=np.float64, generator=0)
    loader = data.DataLoader(data.TensorDataset(X, Y), batch_size=16, shuffle=True, generator=0)
    h = train.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=30, progress=False)
    assert h.train_acc[-1] is None and h.loss[-1] < 1e-3
    np.testing.assert_allclose(model.weight.data.ravel(), [1.0, -2.0, 0.5], atol=0.02)


def test_early_stopping_restores_best_parameters():
    # Memorise 6 noisy training points with a big net and a large step: the validation loss soon rises.
    X, y = blobs(200, seed=2)
    rng = np.random.default_rng(3)
    y_noisy = np.where(rng.uniform(size=200) < 0.4, rng.integers(0, 3, size=200), y)
    model = nn.MLP([2, 64, 64, 3], generator=1)
    snapshots = []

    class Recorder(nn.CrossEntropyLoss):
        def forward(self, input, target):
            if not model.training:  # evaluate() calls: one per epoch, after the epoch's updates
                snapshots.append(model.state_dict())
            return super().forward(input, target)

    h = train.fit(model, Recorder(), optim.Adam(model.parameters(), lr=0.02), (X[:30], y_noisy[:30]),
                  val_data=(X[100:], y[100:]), epochs=200, batch_size=30, patience=5, progress=False)
    assert h.stop_reason == "early_stopping"
    assert h.epochs == h.best_epoch + 6  # five epochs without improvement after the best, then stop
    assert h.best_epoch == int(np.argmin(h.val_loss))
    best = snapshots[h.best_epoch]
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, best[name])
    assert train.evaluate(model, nn.CrossEntropyLoss(), (X[100:], y[100:]))[0] == pytest.approx(min(h.val_loss))


def test_nonfinite_loss_stops_with_a_warning_before_the_update():
    X, y = blobs(64)
    X[40] = np.nan
    model = nn.MLP([2, 8, 3], generator=0)
    with pytest.warns(train.TrainingWarning, match=r"nan.*epoch 0, step 2"):
        h = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                      epochs=3, batch_size=16, shuffle=False, progress=False)
    assert h.stop_reason == "nonfinite_loss" and len(h.step_loss) == 2 and h.epochs == 0
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
                  batch_size=16, shuffle=False, progress=False, on_nonfinite="raise")


def test_diverging_learning_rate_is_caught():
    X, y = blobs(64)
    model = nn.MLP([2, 32, 3], generator=0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings on the way to inf
        with pytest.warns(train.TrainingWarning):
            h = train.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e6),
                          (X.astype(np.float32), np.eye(3, dtype=np.float32)[y]), epochs=50, batch_size=8,
                          progress=False)
    assert h.stop_reason == "nonfinite_loss"


def test_argument_errors_and_trainer():
    X, y = blobs(20)
    model = nn.MLP([2, 3], generator=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(model, nn.CrossEntropyLoss(), opt, (X, y), batch_size=0, progress=False)
    with pytest.raises(ValueError, match="same number"):
        train.fit(model, nn.CrossEntropyLoss(), opt, (X, y[:5]), progress=False)
    with pytest.raises(ValueError, match="patience"):
        train.fit(model, nn.CrossEntropyLoss(), opt, (X, y), patience=0, progress=False)
    t = train.Trainer(model, nn.CrossEntropyLoss(), opt, epochs=2, progress=False)
    assert t.fit((X, y)).epochs == 2 and t.history.epochs == 2
    assert t.evaluate((X, y))[1] is not None


def test_progress_bar_runs():
    X, y = blobs(20)
    model = nn.MLP([2, 3], generator=0)
    h = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
                  progress=True)
    assert h.epochs == 2


def _digits_split():
    X, y = data.load_digits(scale=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return (X[:1400], y[:1400]), (X[1400:], y[1400:])


@pytest.mark.parametrize("sizes,target", [([64, 10], 0.95), ([64, 128, 10], 0.97)], ids=["softmax", "mlp"])
def test_real_digits_accuracy(sizes, target):
    (Xtr, ytr), (Xte, yte) = _digits_split()
    init.manual_seed(0)
    model = nn.MLP(sizes)
    opt = optim.Adam(model.parameters(), lr=3e-3) if len(sizes) > 2 else optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train.fit(model, nn.CrossEntropyLoss(), opt, (Xtr, ytr), epochs=40, batch_size=32, progress=False)
    _, acc = train.evaluate(model, nn.CrossEntropyLoss(), (Xte, yte))
    assert acc >= target, f"test accuracy {acc:.3f} < {target}"
