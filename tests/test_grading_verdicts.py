"""Correct and classically buggy implementations of every graded function of A1-A4, each graded by the real
pipeline (``grade_part``: inputs drawn, the sandbox, the check) and given the verdict it deserves.

Most buggy versions are the reference answer with one slip put in (a textual edit that the test asserts
took place); the A1 losses also get whole implementations written the way students write them. The bug list
per part is in autograder/FORMAT.md; the expected score of each case is the sum of the shares the slip leaves
(each part's named shares, ``Part.shares``; tests/test_shares_<a>.py checks them share by share over many
seeds). Backward passes that
are numerical gradients in disguise (complex step or central differences through a private copy of the forward,
per entry or a row/column at a time) earn nothing for what they fake: each such part runs a large problem last,
on which only a derived backward pass fits in the time limit.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import checks, grading, notebook

ROOT = Path(__file__).resolve().parent.parent
_SOURCES = {}


def solution(assignment: str) -> dict:
    if assignment not in _SOURCES:
        _SOURCES[assignment] = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    return _SOURCES[assignment]


def answer(assignment: str, grade_id: str) -> str:
    for cell in solution(assignment)["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise KeyError(grade_id)


def cells_with(assignment: str, grade_id: str, source: str) -> list[str]:
    nb = json.loads(json.dumps(solution(assignment)))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    return notebook.answer_cells(nb)


def slip(assignment, grade_id, *edits) -> str:
    """The reference answer with textual edits (old, new); each must apply."""
    src = answer(assignment, grade_id)
    for old, new in edits:
        assert old in src, f"{grade_id}: {old!r} is not in the reference answer"
        src = src.replace(old, new)
    return src


def fn(signature: str, body: str) -> str:
    return f"def {signature}:\n" + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n"


SMV = "softmax_loss_vectorized(W, X, y, reg)"
UNSTABLE = fn(SMV, '''
N = X.shape[0]
P = np.exp(X @ W)
P /= P.sum(axis=1, keepdims=True)
loss = -np.log(P[np.arange(N), y]).mean() + reg * np.sum(W * W)
P[np.arange(N), y] -= 1
return loss, X.T @ P / N + 2 * reg * W
''')
COMPLEX_STEP_PRIVATE = fn(SMV, '''
def private(W_):
    S = X @ W_
    S = S - S.real.max(axis=1, keepdims=True)
    return -(S[np.arange(len(y)), y] - np.log(np.exp(S).sum(axis=1))).mean() + reg * np.sum(W_ * W_)
dW = np.zeros(W.shape)
for idx in np.ndindex(W.shape):
    Wc = W.astype(complex)
    Wc[idx] += 1e-30j
    dW[idx] = private(Wc).imag / 1e-30
return float(private(W).real), dW
''')
COMPLEX_STEP_BATCHED = fn(SMV, '''
def private(W_):                    # W_: (K, D, C), K nudged copies at once
    S = np.einsum("nd,kdc->knc", X, W_)
    S = S - S.real.max(axis=2, keepdims=True)
    rows = np.arange(len(y))
    return -(S[:, rows, y] - np.log(np.exp(S).sum(axis=2))).mean(axis=1) + reg * np.sum(W_ * W_, axis=(1, 2))
D, C = W.shape
dW = np.zeros(W.size)
for start in range(0, W.size, 256):
    k = np.arange(start, min(start + 256, W.size))
    Wc = np.repeat(W[None].astype(complex), len(k), axis=0).reshape(len(k), -1)
    Wc[np.arange(len(k)), k] += 1e-30j
    dW[k] = private(Wc.reshape(len(k), D, C)).imag / 1e-30
return float(private(W[None])[0].real), dW.reshape(D, C)
''')
FORWARD_DIFFERENCE = fn(SMV, '''
def f(W_):
    S = X @ W_
    S = S - S.max(axis=1, keepdims=True)
    return -(S[np.arange(len(y)), y] - np.log(np.exp(S).sum(axis=1))).mean() + reg * np.sum(W_ * W_)
base, dW, h = f(W), np.zeros_like(W), 1e-7
for idx in np.ndindex(W.shape):
    Wh = W.copy()
    Wh[idx] += h
    dW[idx] = (f(Wh) - base) / h
return base, dW
''')
LABELS_C = fn(SMV, '''
N = X.shape[0]
S = X @ W
S = S - S.max(axis=1, keepdims=True)
logp = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
loss = -logp[np.arange(N), y].mean() + reg * np.sum(W * W)
Y = np.eye(int(y.max()) + 1)[y]          # C from the labels in this batch
return loss, X.T @ (np.exp(logp) - Y) / N + 2 * reg * W
''')
INPLACE = slip("A1", "ans_softmax_vectorized",
               ("dW = X.T @ G / N + 2 * reg * W", "dW = W\n    dW *= 2 * reg\n    dW += X.T @ G / N"))

def bug(assignment, part, cell, edits, expected, why):
    """A case: the reference answer of ``cell`` with ``edits`` (old, new) made, and the score it deserves."""
    return assignment, part, cell, slip(assignment, cell, *edits), expected, why


def own(assignment, part, cell, source, expected, why):
    """A case: an implementation written whole."""
    return assignment, part, cell, source, expected, why


def ref(assignment, part, cell, points):
    return own(assignment, part, cell, answer(assignment, cell), points, "reference")


SVM_N, SM_N, SM_V = "ans_svm_naive", "ans_softmax_naive", "ans_softmax_vectorized"
LOSS_V = "loss = -log_probs[rows, y].mean() + reg * np.sum(W * W)"
DW_V = "dW = X.T @ G / N + 2 * reg * W"
COMPLEX_STEP_LINEAR = answer("A2", "answer_linear").split("def linear_backward")[0] + fn(
    "linear_backward(dout, cache)", '''
x, W = cache
def forward(x_, W_, b_):
    return np.sum((x_ @ W_ + b_) * dout)
def step(v, others):
    g = np.zeros(v.shape)
    for idx in np.ndindex(v.shape):
        vc = v.astype(complex)
        vc[idx] += 1e-30j
        g[idx] = others(vc).imag / 1e-30
    return g
b = np.zeros(W.shape[1])
return (step(x, lambda v: forward(v, W, b)), step(W, lambda v: forward(x, v, b)),
        step(b, lambda v: forward(x, W, v)))
''')
# the same, with one nudge per column of x (the rows of x are independent) and per row of W (the columns of
# the output are): 2 D + 1 forwards instead of one per entry
COMPLEX_STEP_LINEAR_BATCHED = answer("A2", "answer_linear").split("def linear_backward")[0] + fn(
    "linear_backward(dout, cache)", '''
x, W = cache
b = np.zeros(W.shape[1], dtype=complex)
dx, dW = np.zeros(x.shape), np.zeros(W.shape)
for j in range(x.shape[1]):
    xc = x.astype(complex)
    xc[:, j] += 1e-30j
    dx[:, j] = ((xc @ W + b) * dout).sum(axis=1).imag / 1e-30
for i in range(W.shape[0]):
    Wc = W.astype(complex)
    Wc[i, :] += 1e-30j
    dW[i, :] = ((x @ Wc + b) * dout).sum(axis=0).imag / 1e-30
db = ((x @ W + (b + 1e-30j)) * dout).sum(axis=0).imag / 1e-30
return dx, dW, db
''')
CASES = [
    ref("A1", "svm_naive", SVM_N, 2),
    bug("A1", "svm_naive", SVM_N, [("            if j == y[i]:\n                continue\n", "")], 1.5,
        "the correct class's margin counted: loss +1, dW unchanged"),
    bug("A1", "svm_naive", SVM_N, [("    loss /= N\n", "")], 1.5, "missing /N in the loss (SVM)"),
    bug("A1", "svm_naive", SVM_N, [("loss += reg * np.sum(W * W)", "loss += 0.5 * reg * np.sum(W * W)"),
                                   ("dW += 2 * reg * W", "dW += reg * W")], 1.5, "0.5 * reg in loss and dW"),
    bug("A1", "svm_naive", SVM_N, [("N, C = X.shape[0], W.shape[1]", "N, C = X.shape[0], int(y.max()) + 1")], 1.75,
        "C from the labels"),
    bug("A1", "svm_naive", SVM_N, [("N, C = X.shape[0], W.shape[1]", "N, C = X.shape[0], len(np.unique(y))")], 1.75,
        "C as the number of distinct labels"),
    bug("A1", "svm_naive", SVM_N, [("N, C = X.shape[0], W.shape[1]", "N, C = X.shape[0], W.shape[0]")], 0,
        "C from the wrong axis (works only when square)"),
    ref("A1", "svm_vectorized", "ans_svm_vectorized", 2),
    bug("A1", "svm_vectorized", "ans_svm_vectorized", [(DW_V, "dW = -(X.T @ G / N + 2 * reg * W)")], 1,
        "dW with the sign flipped"),
    bug("A1", "svm_vectorized", "ans_svm_vectorized", [(DW_V, "dW = X.T @ G / N")], 1.5, "regulariser missing from dW"),
    bug("A1", "svm_vectorized", "ans_svm_vectorized", [("loss = margins.sum() / N + reg * np.sum(W * W)",
                                                        "loss = (margins.sum() + reg * np.sum(W * W)) / N")], 1.5,
        "the regulariser divided by N too"),
    ref("A1", "softmax_naive", SM_N, 2),
    bug("A1", "softmax_naive", SM_N, [("shifted = scores - np.max(scores)", "shifted = scores")], 1.75,
        "exp without the row maximum subtracted"),
    bug("A1", "softmax_naive", SM_N, [("        loss += log_total - shifted[y[i]]\n",
                                       "        loss += -np.log(np.exp(shifted[y[i]]) / np.sum(np.exp(shifted)))\n")],
        1.75, "-log(p) that underflows to inf"),
    bug("A1", "softmax_naive", SM_N, [("    dW /= N\n", "")], 1.5, "missing /N in dW"),
    ref("A1", "softmax_vectorized", SM_V, 2),
    own("A1", "softmax_vectorized", SM_V, UNSTABLE, 1.75, "unstable: no max subtracted, -log(p)"),
    bug("A1", "softmax_vectorized", SM_V, [("S - S.max(axis=1, keepdims=True)", "S - S.max()")], 1.75,
        "a global instead of a row maximum"),
    bug("A1", "softmax_vectorized", SM_V, [(LOSS_V, LOSS_V.replace(".mean()", ".sum()"))], 1.5,
        "missing /N in the loss"),
    bug("A1", "softmax_vectorized", SM_V, [(LOSS_V, LOSS_V.replace("+ reg", "+ 0.5 * reg"))], 1.5,
        "0.5 * reg in the loss only"),
    bug("A1", "softmax_vectorized", SM_V, [(LOSS_V, "loss = -log_probs[rows, y].mean()"), (DW_V, "dW = X.T @ G / N")],
        1.5, "no regulariser at all"),
    own("A1", "softmax_vectorized", SM_V, LABELS_C, 1.75, "C from the labels present in the batch"),
    own("A1", "softmax_vectorized", SM_V, INPLACE, 1.75, "dW built in the caller's W"),
    own("A1", "softmax_vectorized", SM_V, COMPLEX_STEP_PRIVATE, 0.5, "complex step through a private copy"),
    own("A1", "softmax_vectorized", SM_V, COMPLEX_STEP_BATCHED, 0.5, "complex step, batched nudges"),
    own("A1", "softmax_vectorized", SM_V, FORWARD_DIFFERENCE, 0.5, "forward differences"),
    ref("A1", "predict", "ans_predict", 1),
    bug("A1", "predict", "ans_predict", [("np.argmax(X @ W, axis=1)", "np.argmax(X @ W, axis=0)")], 0, "wrong axis"),
    ref("A1", "sgd", "ans_sgd", 2),
    bug("A1", "sgd", "ans_sgd", [("replace=True", "replace=False")], 0, "batches without replacement"),
    bug("A1", "sgd", "ans_sgd", [("W = W - learning_rate * dW", "W = W + learning_rate * dW")], 0, "ascent"),
    bug("A1", "digits", "ans_digits", [("learning_rate=0.3", "learning_rate=1e-6")], 0, "no learning"),
    # A2: backprop by hand
    ref("A2", "linear", "answer_linear", 2),
    bug("A2", "linear", "answer_linear", [("db = dout.sum(axis=0)", "db = dout.sum(axis=1)")], 1.5,
        "db over the wrong axis"),
    bug("A2", "linear", "answer_linear", [("dW = x.T @ dout", "dW = (dout.T @ x).T * 2")], 1.5, "dW off by 2"),
    own("A2", "linear", "answer_linear", COMPLEX_STEP_LINEAR, 0.5, "complex step through a private forward"),
    own("A2", "linear", "answer_linear", COMPLEX_STEP_LINEAR_BATCHED, 0.5,
        "complex step through a private forward, a column of x or a row of W at a time"),
    bug("A2", "relu", "answer_relu", [("dx = dout * (x > 0)", "dx = dout * (x >= 0)")], 0.5, "gradient 1 at the kink"),
    bug("A2", "sigmoid", "answer_sigmoid", [("out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))",
                                             "out = 1.0 / (1.0 + np.exp(-x))")], 0.75, "overflowing exp"),
    bug("A2", "dropout", "answer_dropout", [("mask = keep / (1 - p)", "mask = keep * 1.0")], 1.5, "not inverted"),
    bug("A2", "dropout", "answer_dropout", [("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape) < p")], 1,
        "p as the keep probability (A2)"),
    ref("A2", "two_layer", "answer_two_layer", 3),
    bug("A2", "two_layer", "answer_two_layer", [('"W1": dW1 + 2 * reg * W1', '"W1": dW1 + reg * W1')], 2.5,
        "half the regulariser's gradient"),
    bug("A2", "two_layer", "answer_two_layer", [("    dscores /= N\n", "")], 1.5, "missing /N in the gradients"),
    bug("A2", "two_layer", "answer_two_layer", [("da = relu_backward(dh, cache_relu)", "da = dh")], 1.5,
        "the ReLU's gradient left out"),
    # A3: the autodiff engine
    ref("A3", "tensor_core", "answer_tensor_core", 2),
    bug("A3", "tensor_core", "answer_tensor_core", [("other.grad += unbroadcast(out.grad, other.shape)",
                                                     "other.grad += out.grad.sum() * np.ones(other.shape)")], 1.5,
        "broadcast gradient summed over everything (the broadcasting share only)"),
    ref("A3", "backward", "answer_backward", 3),
    bug("A3", "backward", "answer_backward", [("for node in reversed(topological_order(self)):",
                                               "for node in topological_order(self):")], 2,
        "wrong order (the backward() share only)"),
    bug("A3", "backward", "answer_tensor_core", [("self.grad += unbroadcast(out.grad, self.shape)",
                                                  "self.grad = unbroadcast(out.grad, self.shape)")], 2.25,
        "= instead of += : gradients do not add at branches (that share only)"),
    bug("A3", "elementwise", "answer_elementwise", [("self.grad += (1.0 - out.data ** 2) * out.grad",
                                                     "self.grad += (1.0 - self.data ** 2) * out.grad")], 2.5,
        "tanh's derivative at the input (the tanh share only)"),
    bug("A3", "elementwise", "answer_elementwise", [("self.grad += out.grad / self.data",
                                                     "self.grad += out.grad / out.data")], 2.5,
        "log's VJP at the output (the log share only: the neuron's gradient is not judged then)"),
    bug("A3", "matmul_sum", "answer_matmul_sum", [("self.grad += out.grad @ other.data.T",
                                                   "self.grad += out.grad @ other.data")], 1,
        "no transpose (the A @ W share only)"),
    bug("A3", "forward_mode", "answer_forward_mode", [
        ("return Dual(self.value * other.value, self.tangent * other.value + self.value * other.tangent)",
         "return Dual(self.value * other.value, self.tangent * other.tangent)")], 2,
        "product rule forgotten (the product rule's share only)"),
    # A4: optimisation
    bug("A4", "momentum", "answer_momentum", [
        ('v = config["momentum"] * config["velocity"] + dw',
         'v = config["momentum"] * config["velocity"] + config["lr"] * dw'),
        ('next_w = w - config["lr"] * v', 'next_w = w - v')], 1, "CS231n's velocity, not PyTorch's"),
    bug("A4", "rmsprop", "answer_rmsprop", [('np.sqrt(s) + config["eps"]', 'np.sqrt(s + config["eps"])')], 1,
        "eps inside the square root"),
    ref("A4", "adam", "answer_adam", 3),
    bug("A4", "adam", "answer_adam", [("m_hat = m / (1 - beta1 ** t)", "m_hat = m"),
                                      ("v_hat = v / (1 - beta2 ** t)", "v_hat = v")], 1.5, "no bias correction"),
    bug("A4", "adam", "answer_adam", [('config["m"], config["v"], config["t"] = m, v, t',
                                       'config["m"], config["v"], config["t"] = m_hat, v_hat, t')], 1.5,
        "bias-corrected moments stored"),
    bug("A4", "init", "answer_init", [("np.sqrt(2.0 / (fan_in + fan_out))", "np.sqrt(1.0 / fan_in)")], 1.5,
        "Xavier with 1/fan_in"),
    bug("A4", "dropout", "answer_dropout", [("(rng.random(x.shape) >= p)", "(rng.random(x.shape) < p)")], 1,
        "p as the keep probability"),
    bug("A4", "early_stopping", "answer_early_stopping", [("elif epoch - best_epoch >= patience:",
                                                           "elif epoch - best_epoch > patience:")], 1,
        "stops one epoch late"),
    bug("A4", "early_stopping", "answer_early_stopping", [("if loss < best - min_delta:",
                                                           "if loss <= best - min_delta:")], 1,
        "a tie counts as an improvement"),
]


# Backward passes that are numerical gradients in disguise: a private copy of the forward evaluated at nudged
# inputs, one entry at a time, by complex step (exact to ~1e-15) or by central differences. Each earns nothing
# for the backward it fakes: on the part's large problem only a derived backward fits in the time limit.
NUMERICAL = {
    "complex step": '''
def _nd(f, v):
    g = np.zeros(np.shape(v))
    for idx in np.ndindex(np.shape(v)):
        vc = np.array(v, dtype=complex)
        vc[idx] += 1e-30j
        g[idx] = np.sum(f(vc)).imag / 1e-30
    return g
''',
    "central differences": '''
def _nd(f, v, h=1e-6):
    g = np.zeros(np.shape(v))
    for idx in np.ndindex(np.shape(v)):
        up, down = np.array(v, dtype=float), np.array(v, dtype=float)
        up[idx] += h
        down[idx] -= h
        g[idx] = (np.sum(f(up)) - np.sum(f(down))).real / (2 * h)
    return g
''',
}
NUMERICAL_LINEAR = fn("linear_backward(dout, cache)", '''
x, W = cache
b = np.zeros(W.shape[1])
return (_nd(lambda v: (v @ W + b) * dout, x), _nd(lambda v: (x @ v + b) * dout, W),
        _nd(lambda v: (x @ W + v) * dout, b))
''')
NUMERICAL_RELU = fn("relu_backward(dout, cache)", '''
x = cache
return _nd(lambda v: np.where(v.real > 0, v, 0) * dout, x)
''')
NUMERICAL_SIGMOID = fn("sigmoid_backward(dout, cache)", '''
x = np.log(cache / (1 - cache))            # the input back from the output: sigmoid's inverse
return _nd(lambda v: dout / (1 + np.exp(-v)), x)
''')
NUMERICAL_DROPOUT = fn("dropout_backward(dout, cache)", '''
mask, mode = cache
if mode == "eval":
    return dout
return _nd(lambda v: v * mask * dout, np.zeros(dout.shape))
''')
NUMERICAL_BATCHNORM = fn("batchnorm_backward(dout, cache)", '''
x, gamma, beta, eps, mode, mean, var = cache
def forward(x_, gamma_, beta_):
    if mode == "train":
        mu = x_.mean(axis=0)
        xc = x_ - mu
        v = (xc ** 2).mean(axis=0)
    else:
        xc, v = x_ - mean, var
    return (gamma_ * xc / np.sqrt(v + eps) + beta_) * dout
return (_nd(lambda v: forward(v, gamma, beta), x), _nd(lambda v: forward(x, v, beta), gamma),
        _nd(lambda v: forward(x, gamma, v), beta))
''')
# complex step a row of x at a time (the columns are independent): N forwards instead of one per entry
COMPLEX_STEP_BATCHNORM_ROWS = fn("batchnorm_backward(dout, cache)", '''
x, gamma, beta, eps, mode, mean, var = cache
def forward(x_, gamma_, beta_):
    if mode == "train":
        xc = x_ - x_.mean(axis=0)
        v = (xc ** 2).mean(axis=0)
    else:
        xc, v = x_ - mean, var
    return ((gamma_ * xc / np.sqrt(v + eps) + beta_) * dout).sum(axis=0)
dx = np.zeros(x.shape)
for i in range(x.shape[0]):
    xc = x.astype(complex)
    xc[i, :] += 1e-30j
    dx[i, :] = forward(xc, gamma, beta).imag / 1e-30
return dx, forward(x, gamma + 1e-30j, beta).imag / 1e-30, forward(x, gamma, beta + 1e-30j).imag / 1e-30
''')
NUMERICAL_TWO_LAYER = fn("two_layer_loss(params, X, y=None, reg=0.0)", '''
names = ("W1", "b1", "W2", "b2")
def forward(p):
    a = X @ p["W1"] + p["b1"]
    s = np.where(a.real > 0, a, 0) @ p["W2"] + p["b2"]
    if y is None:
        return s
    s = s - s.real.max(axis=1, keepdims=True)
    log_probs = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean() + reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
if y is None:
    return forward(params)
grads = {k: _nd(lambda v, k=k: forward({**params, k: v}), params[k]) for k in names}
return float(forward(params).real), grads
''')
NUMERICAL_FC_NET = fn("fc_net_loss(params, X, y=None, reg=0.0, dropout=0.0, seed=None)", '''
L = len(params) // 2
masks = {}
def forward(p):
    h = X
    for l in range(1, L):
        a = h @ p[f"W{l}"] + p[f"b{l}"]
        h = np.where(a.real > 0, a, 0)
        if y is not None and dropout > 0:
            if l not in masks:
                rng = np.random.default_rng(None if seed is None else seed + l)
                masks[l] = (rng.random(h.shape) >= dropout) / (1 - dropout)
            h = h * masks[l]
    s = h @ p[f"W{L}"] + p[f"b{L}"]
    if y is None:
        return s
    s = s - s.real.max(axis=1, keepdims=True)
    log_probs = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean() + reg * sum(np.sum(p[f"W{l}"] ** 2) for l in range(1, L + 1))
if y is None:
    return forward(params)
loss = float(forward(params).real)
return loss, {k: _nd(lambda v, k=k: forward({**params, k: v}), params[k]) for k in params}
''')
BN_CACHE = ("cache = (xhat, xc, inv_std, gamma, mode)",
            "cache = (x, gamma, beta, eps, mode, running_mean, running_var)")
A3_MUL = ("self.grad += unbroadcast(out.grad * other.data, self.shape)\n"
          "            other.grad += unbroadcast(out.grad * self.data, other.shape)")
A3_ADD = ("self.grad += unbroadcast(out.grad, self.shape)\n"
          "            other.grad += unbroadcast(out.grad, other.shape)")
A3_MATMUL = "self.grad += out.grad @ other.data.T\n        other.grad += self.data.T @ out.grad"


def _pair(op, indent):
    """The VJPs of a binary op as numerical gradients of a private copy of its forward."""
    return (f"self.grad += _nd(lambda v: ({op.format('v', 'other.data')}) * out.grad, self.data)\n{indent}"
            f"other.grad += _nd(lambda v: ({op.format('self.data', 'v')}) * out.grad, other.data)")


A3_ELEMENTWISE = [
    ("self.grad += k * self.data ** (k - 1) * out.grad", "self.grad += _nd(lambda v: v ** k * out.grad, self.data)"),
    ("self.grad += out.data * out.grad", "self.grad += _nd(lambda v: np.exp(v) * out.grad, self.data)"),
    ("self.grad += out.grad / self.data", "self.grad += _nd(lambda v: np.log(v) * out.grad, self.data)"),
    ("self.grad += (self.data > 0) * out.grad",
     "self.grad += _nd(lambda v: np.where(v.real > 0, v, 0) * out.grad, self.data)"),
    ("self.grad += out.data * (1.0 - out.data) * out.grad",
     "self.grad += _nd(lambda v: 1 / (1 + np.exp(-v)) * out.grad, self.data)"),
    ("self.grad += (1.0 - out.data ** 2) * out.grad", "self.grad += _nd(lambda v: np.tanh(v) * out.grad, self.data)"),
]
A3_SUM = ("self.grad += np.broadcast_to(g, self.shape)",
          "self.grad += _nd(lambda v: v.sum(axis=axis, keepdims=keepdims) * out.grad, self.data)")
NUMERICAL_BACKWARD = fn("backward(self, grad=None)", '''
g = np.ones_like(self.data) if grad is None else np.array(grad, dtype=np.float64)
self.grad = g
order = topological_order(self)
def replay(leaf, value):            # the graph evaluated again from its leaves, one leaf replaced
    values = {}
    for node in order:
        if not node._parents:
            values[id(node)] = value if node is leaf else node.data
        else:
            a, b = (values[id(p)] for p in node._parents)
            values[id(node)] = a + b if node._op == "+" else a * b
    return values[id(self)] * g
for node in order:
    if not node._parents:
        node.grad = node.grad + _nd(lambda v, node=node: replay(node, v), node.data)
''')


def _edit(src, *edits):
    for old, new in edits:
        assert old in src, old
        src = src.replace(old, new)
    return src


def numerical_cases(kind):
    nd = NUMERICAL[kind]
    tc, bw = answer("A3", "answer_tensor_core"), answer("A3", "answer_backward")
    if kind == "complex step":      # linear's per-entry complex step is COMPLEX_STEP_LINEAR
        extra = [own("A2", "batchnorm", "answer_batchnorm", slip("A2", "answer_batchnorm", BN_CACHE).split(
            "def batchnorm_backward")[0] + COMPLEX_STEP_BATCHNORM_ROWS, 1.5,
            "complex step through a private forward, a row of x at a time (batchnorm)")]
    else:
        extra = [own("A2", "linear", "answer_linear", answer("A2", "answer_linear").split("def linear_backward")[0]
                     + nd + NUMERICAL_LINEAR, 0.5, f"{kind} through a private forward (linear)")]
    return extra + [
        own("A2", "sigmoid", "answer_sigmoid", answer("A2", "answer_sigmoid").split("def sigmoid_backward")[0] + nd
            + NUMERICAL_SIGMOID, 0.5, f"{kind} through a private forward (sigmoid)"),
        own("A2", "dropout", "answer_dropout", answer("A2", "answer_dropout").split("def dropout_backward")[0] + nd
            + NUMERICAL_DROPOUT, 1.5, f"{kind} through a private forward (dropout)"),
        own("A2", "relu", "answer_relu", answer("A2", "answer_relu").split("def relu_backward")[0] + nd
            + NUMERICAL_RELU, 0.5, f"{kind} through a private forward (relu)"),
        own("A2", "batchnorm", "answer_batchnorm", slip("A2", "answer_batchnorm", BN_CACHE).split(
            "def batchnorm_backward")[0] + nd + NUMERICAL_BATCHNORM, 1.5,
            f"{kind} through a private forward (batchnorm: forward and running statistics only)"),
        own("A2", "two_layer", "answer_two_layer", nd + NUMERICAL_TWO_LAYER, 1,
            f"{kind} through a private forward (two-layer net)"),
        own("A2", "fc_net", "answer_fc_net", answer("A2", "answer_fc_net").split("def fc_net_loss")[0] + nd
            + NUMERICAL_FC_NET, 1.25, f"{kind} through a private forward (fc net: initialisation, scores, data loss)"),
        own("A3", "tensor_core", "answer_tensor_core", nd + _edit(tc, (A3_MUL, _pair("{} * {}", " " * 12)),
                                                                   (A3_ADD, _pair("{} + {}", " " * 12))), 0.25,
            f"{kind} through a private forward (+ and * VJPs: numbers on either side only)"),
        own("A3", "elementwise", "answer_elementwise", nd + slip("A3", "answer_elementwise", *A3_ELEMENTWISE), 0.25,
            f"{kind} through a private forward (elementwise VJPs: sigmoid's no-overflow forward only)"),
        own("A3", "matmul_sum", "answer_matmul_sum", nd + slip("A3", "answer_matmul_sum", (
            A3_MATMUL, _pair("{} @ {}", " " * 8)), A3_SUM), 0, f"{kind} through a private forward (@ and sum VJPs)"),
        own("A3", "backward", "answer_backward", nd + bw.split("@add_to_class(Tensor)")[0]
            + "@add_to_class(Tensor)\n" + NUMERICAL_BACKWARD, 2,
            f"{kind} through a replayed graph (backward(): order, branches and the deep chain only)"),
    ]


CASES += numerical_cases("complex step") + numerical_cases("central differences")


def _grade(case):
    assignment, part_name, grade_id, source, _, _ = case
    module = checks.load(assignment)
    index = [p.name for p in module.PARTS].index(part_name)
    result = grading.grade_part(module.PARTS[index], cells_with(assignment, grade_id, source), "verdicts",
                                20261201, [])
    return result


@pytest.fixture(scope="module")
def verdicts():
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_grade, CASES))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}-{c[1]}-{c[5]}" for c in CASES])
def test_each_implementation_gets_its_verdict(verdicts, i):
    assignment, part, _, _, expected, why = CASES[i]
    result = verdicts[i]
    detail = (result.status, [line.text for line in result.lines][:8])
    if expected is None:
        assert 0 < result.score < result.points, detail
    else:
        assert result.score == pytest.approx(expected, abs=1e-3), detail


def test_feedback_names_the_slip(verdicts):
    def said(why):
        i = next(k for k, c in enumerate(CASES) if c[5] == why)
        return " ".join(line.text for line in verdicts[i].lines)

    assert "0.5 * reg" in said("0.5 * reg in the loss only")
    assert "summed over the N examples" in said("missing /N in the loss")
    assert "correct class's own margin" in said("the correct class's margin counted: loss +1, dW unchanged")
    assert "subtract each row's own maximum" in said("a global instead of a row maximum").lower()
    assert "numerical gradient" in said("complex step through a private copy")
    assert "W.shape[1]" in said("C from the labels present in the batch")
    assert "in place" in said("dW built in the caller's W")
    # the unstable softmax's NaN gradient was derived: no "numerical gradient" note for it
    assert "numerical gradient" not in said("unstable: no max subtracted, -log(p)")


def test_a_numerical_backward_is_told_it_earns_nothing(verdicts):
    cases = [i for i, c in enumerate(CASES) if c[0] in ("A2", "A3") and (c[5].startswith(tuple(NUMERICAL))
                                                                      or "private forward" in c[5])]
    assert len(cases) >= 2 * len(numerical_cases("complex step"))
    for i in cases:
        said = " ".join(line.text for line in verdicts[i].lines)
        assert verdicts[i].status == "timeout", (CASES[i][5], verdicts[i].status)
        assert "A numerical gradient earns nothing: derive the backward pass" in said, (CASES[i][5], said)


def test_feedback_never_shows_a_reference_value(verdicts):
    for result in verdicts:
        for line in result.lines:
            assert "(numerical)" not in line.text and "numerical one" not in line.text, line.text
