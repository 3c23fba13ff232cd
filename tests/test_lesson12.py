"""Lesson 12's experiments show what its text says, over several seeds.

Each test runs one of `deepgrad.generalization`'s experiments with the settings of the lesson's fast mode
(the lesson's full mode trains longer on more seeds, which only widens these effects) and checks that the
effect has the sign the lesson states, by a margin the spread across seeds does not reach.
"""
from __future__ import annotations

import numpy as np
import pytest

from deepgrad import generalization as G

SEEDS = (0, 1)
EPOCHS = 40


@pytest.fixture(scope="module")
def noisy_runs():
    """Per-epoch histories of the noisy-label task: no regulariser, dropout 0.5, a bottleneck of 8."""
    return {name: [G.noisy_labels(seed, EPOCHS, **kwargs) for seed in SEEDS]
            for name, kwargs in (("base", {}), ("dropout", {"dropout": 0.5}), ("bottleneck", {"bottleneck": 8}))}


def _mean(values):
    return float(np.mean(values))


def test_weight_decay_lowers_test_error_and_shrinks_weights():
    decays = [0.0, 0.1, 1.0, 30.0]
    for seed in range(3):
        r = G.ridge_regression(seed, decays)
        assert r["test_mse"][2] < r["test_mse"][0] / 2, f"seed {seed}: decay did not halve the test error"
        assert np.all(np.diff(r["train_mse"]) > 0), "training error must rise with the decay"
        assert np.all(np.diff(r["weight_norm"]) < 0), "the weights must shrink with the decay"
        assert r["test_mse"][3] > r["test_mse"][2], "too much decay must cost test error again"


def test_sgd_with_weight_decay_reaches_the_closed_form():
    import deepgrad
    from deepgrad import nn, optim

    wd = 1.0
    r = G.ridge_regression(0, [wd])
    X, y = deepgrad.Tensor(r["X"]), deepgrad.Tensor(r["y"][:, None])
    model = nn.Linear(50, 1, bias=False, dtype=np.float64, generator=0)
    opt = optim.SGD(model.parameters(), lr=0.1, weight_decay=wd)
    for _ in range(300):
        opt.zero_grad()
        nn.MSELoss()(model(X), y).backward()
        opt.step()
    assert np.linalg.norm(model.weight.data) == pytest.approx(r["weight_norm"][0], rel=1e-6)


def test_the_network_memorises_wrong_labels_and_validation_accuracy_falls(noisy_runs):
    base = noisy_runs["base"]
    right = [float((G.flip_labels(y, 0.3, seed) == y).mean()) for seed, y in ((s, G.digits_split(s, 200)[1]) for s in SEEDS)]
    assert _mean([h.train_acc[-1] for h in base]) > _mean(right) + 0.03, "training accuracy should exceed the right labels' share"
    assert _mean([max(h.val_acc) - h.val_acc[-1] for h in base]) > 0.03, "validation accuracy should fall from its peak"


def test_early_stopping_beats_training_to_the_end(noisy_runs):
    kept = [h.val_acc[int(np.argmin(h.val_loss))] for h in noisy_runs["base"]]
    end = [h.val_acc[-1] for h in noisy_runs["base"]]
    assert _mean(kept) > _mean(end) + 0.02


def test_the_smallest_gap_is_no_guide():
    """The notes' rule, stop when the train-validation gap is smallest, would favour networks that learnt nothing."""
    from deepgrad import nn
    from deepgrad.train import evaluate

    Xs, ys, Xval, yval = G.digits_split(0, 200)
    untrained = G.mlp(seed=0)
    train_loss, _ = evaluate(untrained, nn.CrossEntropyLoss(), (Xs, G.flip_labels(ys, 0.3, 0)))
    val_loss, val_acc = evaluate(untrained, nn.CrossEntropyLoss(), (Xval, yval))
    assert abs(val_loss - train_loss) < 0.05 and val_acc < 0.25
    r = G.ridge_regression(0, [0.0, 1.0, 10.0])
    gap = r["test_mse"] - r["train_mse"]
    assert gap[2] < gap[1] < gap[0] and r["test_mse"][1] < r["test_mse"][2]


def test_dropout_slows_memorising_and_ends_with_higher_validation_accuracy(noisy_runs):
    base, dropped = noisy_runs["base"], noisy_runs["dropout"]
    assert all(d.val_acc[-1] > b.val_acc[-1] for b, d in zip(base, dropped, strict=True))
    assert _mean([d.train_acc[-1] for d in dropped]) < _mean([b.train_acc[-1] for b in base]) - 0.05


def test_the_bottleneck_does_not_regularise(noisy_runs):
    base, narrow, dropped = noisy_runs["base"], noisy_runs["bottleneck"], noisy_runs["dropout"]
    assert _mean([max(h.val_acc) for h in narrow]) < _mean([max(h.val_acc) for h in base])
    assert _mean([h.val_acc[-1] for h in narrow]) < _mean([h.val_acc[-1] for h in dropped])
    assert _mean([h.train_acc[-1] for h in narrow]) > 0.7, "the bottleneck still memorises wrong labels"


def test_random_placement_augmentation_helps():
    accs = np.array([G.augmentation(seed, EPOCHS * 3 // 4) for seed in SEEDS])
    assert np.all(accs[:, 1] > accs[:, 0] + 0.05)


def test_weight_decay_alone_regularises_the_noisy_label_network(noisy_runs):
    """The notes' "a regulariser does not work in isolation" fails: Adam's weight decay alone helps on every seed."""
    decayed = [G.noisy_labels(seed, EPOCHS, weight_decay=0.01) for seed in SEEDS]
    assert all(d.val_acc[-1] > b.val_acc[-1] + 0.01 for b, d in zip(noisy_runs["base"], decayed, strict=True))


def test_accuracy_grows_with_the_amount_of_data():
    curves = np.array([G.learning_curve(seed, [25, 100, 400], steps=100) for seed in SEEDS])
    assert np.all(np.diff(curves.mean(axis=0)) > 0.01)


def test_random_features_show_double_descent():
    widths = [10, 20, 50, 80, 100, 120, 150, 200, 300, 1000, 3000]
    mse, acc, rank, dead = map(np.array, zip(*[G.random_features(seed, widths) for seed in range(5)], strict=True))
    # the peak sits where the features first reach rank n = 100 (dead ReLUs keep the rank below p), per seed
    first_full = {widths[int(np.argmax(r >= 100))] for r in rank}
    assert np.all(rank <= np.minimum(100, np.array(widths))) and np.all(rank[:, widths.index(100)] < 100)
    assert np.all(rank <= np.array(widths) - dead), "a dead feature adds nothing to the rank"
    mse, acc = mse.mean(axis=0), acc.mean(axis=0)
    peak = widths[int(np.argmax(mse))]
    assert peak in first_full, f"the error peaks at p = {peak}, the rank first reaches 100 at {first_full}"
    below = max(acc[i] for i, p in enumerate(widths) if p < 100)
    assert acc[-1] > below + 0.05 and acc[-1] > acc[widths.index(peak)] + 0.2


@pytest.mark.parametrize("call, name", [
    (lambda: G.digits_split(0, 0), "n_train"),
    (lambda: G.digits_split(-1), "seed"),
    (lambda: G.flip_labels(np.zeros(3, int), 1.5, 0), "fraction"),
    (lambda: G.mlp(bottleneck=0), "bottleneck"),
    (lambda: G.place_on_canvas(np.zeros((2, 64)), np.random.default_rng(0)), "images"),
    (lambda: G.ridge_regression(0, [-1.0]), "weight_decays"),
])
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_flipped_labels_are_always_wrong_and_about_the_asked_fraction():
    y = np.arange(2000) % 10
    flipped = G.flip_labels(y, 0.3, seed=0)
    changed = flipped != y
    assert 0.26 < changed.mean() < 0.34
    assert np.all((flipped >= 0) & (flipped < 10))


def test_place_on_canvas_keeps_the_digit_whole():
    images = np.random.default_rng(0).random((50, 8, 8))
    placed = G.place_on_canvas(images, np.random.default_rng(1)).reshape(50, 10, 10)
    assert np.allclose(placed.sum(axis=(1, 2)), images.sum(axis=(1, 2)))
    corners = {tuple(np.argwhere(p > 0).min(axis=0)) for p in placed}
    assert len(corners) > 1, "positions should vary"


def test_an_experiment_moves_its_progress_bar_by_one_run_a_little_at_a_time():
    """Lesson 12's bars count runs: each run moves its bar by exactly one, in a tick per epoch."""
    import io

    from tqdm import tqdm

    with tqdm(total=2, file=io.StringIO()) as bar:
        ticks = []
        bar.update = lambda n, _update=bar.update: (ticks.append(n), _update(n))
        G.noisy_labels(0, 7, n_train=50, progress=bar)
        assert len(ticks) == 7 and bar.n == 1.0
        G.random_features(1, [10, 20, 30], progress=bar)
        assert len(ticks) == 10 and bar.n == 2.0
