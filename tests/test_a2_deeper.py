"""A2's deeper half (batch normalisation, a network of any depth, the training loop): the solution earns each
part, and the slips students make each get the verdict they deserve (graded in-process by
tests/harness.py; the sandboxed pipeline is exercised in test_assignment_content)."""
from __future__ import annotations

import pytest

from harness import answers, grade, replace_function

SOLUTION = answers("A2")


def _edit(old, new):
    """The solution with one snippet replaced (the snippet must be there: a test of nothing is no test)."""
    hits = [s for s in SOLUTION if old in s]
    assert len(hits) == 1, old
    return [s.replace(old, new) for s in SOLUTION]


BATCHNORM_BUGS = {
    # eval mode normalises with the batch's own statistics: a lone test example would come out as beta
    "eval_uses_batch_statistics": (_edit('''    if mode == "train":
        mu = x.mean(axis=0)''', '''    if True:
        mu = x.mean(axis=0)'''), 2.5 / 3),
    # the running mean copies the last batch instead of averaging with momentum
    "running_mean_without_momentum": (_edit(
        'bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu',
        'bn_param["running_mean"] = mu'), 2.5 / 3),
    # dx as if the batch mean and variance were constants: the eval-mode formula in train mode
    "backward_ignores_mean_and_variance": (_edit('''    if mode == "eval":
        return dxhat * inv_std, dgamma, dbeta''', '''    if True:
        return dxhat * inv_std, dgamma, dbeta'''), 2 / 3),
}

FC_NET_BUGS = {
    "dropout_at_test_time": (_edit("if train and dropout > 0:", "if dropout > 0:"), 2.5 / 3),
    # the two-layer net's regulariser carried over: deeper weight matrices go unregularised
    "only_W1_W2_regularised": (_edit("for l in range(1, L + 1):\n        W = params", "for l in range(1, 3):\n        W = params"), 2.5 / 3),
    # a hand-made mask that keeps units but does not rescale them by 1 / (1 - p)
    "dropout_not_rescaled": (_edit(
        'h, drop_cache = dropout_forward(h, dropout, "train", seed=None if seed is None else seed + l)',
        'keep = np.random.default_rng(None if seed is None else seed + l).random(h.shape) >= dropout\n'
        '            h, drop_cache = h * keep, (keep.astype(float), "train")'), 2.5 / 3),
}

TRAIN_NET_BUGS = {
    # the dictionary itself is kept while its arrays keep being updated in place
    "best_kept_by_reference": (_edit("best_params = {name: value.copy() for name, value in params.items()}",
                                     "best_params = params"), 0.5),
    # decaying after every mini-batch instead of every epoch
    "decay_per_batch": (_edit("            losses.append(loss)\n        scores",
                              "            losses.append(loss)\n            lr *= lr_decay\n        scores"), 0.0),
    # keeping the epoch with the lowest training loss: that is nearly always the last
    "best_by_training_loss": (_edit("if val_loss < best_loss:\n            best_loss = val_loss",
                                    "if np.mean(losses) < best_loss:\n            best_loss = np.mean(losses)"), 0.5),
    # keeping the epoch with the highest validation accuracy: "best" is the lowest validation loss, as in
    # lesson 12 and A4
    "best_by_validation_accuracy": (_edit("if val_loss < best_loss:\n            best_loss = val_loss",
                                          'if -history["val_acc"][-1] < best_loss:\n'
                                          '            best_loss = -history["val_acc"][-1]'), 0.5),
    # a tie replaces the best: the last of several epochs with the same validation loss is kept
    "tie_replaces_the_best": (_edit("if val_loss < best_loss:", "if val_loss <= best_loss:"), 0.5),
}


@pytest.mark.parametrize("seed", [0, 1])
def test_solution_earns_the_new_parts(seed):
    assert grade("A2", SOLUTION, seed, only=("batchnorm", "fc_net", "train_net")) == {
        "batchnorm": 1.0, "fc_net": 1.0, "train_net": 1.0}


@pytest.mark.parametrize("part, bugs", [("batchnorm", BATCHNORM_BUGS), ("fc_net", FC_NET_BUGS),
                                        ("train_net", TRAIN_NET_BUGS)])
def test_classic_slips_get_what_they_deserve(part, bugs):
    got = {name: grade("A2", sources, seed=3, only=(part,))[part] for name, (sources, _) in bugs.items()}
    assert got == {name: expected for name, (_, expected) in bugs.items()}


def test_a_numerical_batchnorm_backward_earns_nothing_for_dx():
    cheat = '''def batchnorm_backward(dout, cache):
    x, gamma, beta, bn_param = cache
    f = lambda x_: np.sum(batchnorm_forward(x_, gamma, beta, dict(bn_param))[0] * dout)
    dx, h = np.zeros_like(x), 1e-5
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + h; fp = f(x); x[i] = old - h; fm = f(x); x[i] = old
        dx[i] = (fp - fm) / (2 * h)
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
'''
    sources = replace_function(SOLUTION, "batchnorm_backward", cheat)
    sources = [s.replace("cache = (xhat, xc, inv_std, gamma, mode)",
                         "cache = (x.copy(), gamma, beta, {**bn_param, 'momentum': 0.0})") for s in sources]
    score = grade("A2", sources, seed=4, only=("batchnorm",))["batchnorm"]
    # the forward passes and the running statistics earn their shares (1.5 of 3); the backward passes earn
    # nothing: both dx (train and eval mode, differentiated numerically on columns of very different scales) are
    # wrong, and on the large training batch it runs out of time (dgamma and dbeta come back from that same call)
    assert score == 0.5, score
