"""The diagnosed mistakes as short codes, for counting them across a class (``deepgrad report``).

The checks speak to students in sentences; an instructor preparing the next lecture wants to know how many
students flipped a sign or forgot the regulariser. So each feedback line that names a mistake carries its code
(``results.Line.code``), set where the diagnosis is made: a check's ``fb.note``, ``fb.check`` or slip, the
gradient checker's findings, the pipeline's stub line. A part's status (a timeout, an error...) is a mistake of
its own. Nothing here reads the sentences, so rewording one never changes what the class report counts.
"""
from __future__ import annotations

from .results import STATUSES


def _statuses(*names: str) -> dict:
    """Statuses that are mistakes in themselves, labelled as results.STATUSES says."""
    return {name: STATUSES[name].label for name in names}


# code -> label for the report. Order matters only for the report's rows (ties keep this order).
MISTAKES = {
    "sign": "wrong sign",
    "factor_n": "a factor N (sum instead of mean, or /N twice)",
    "factor_2": "a factor 2",
    "factor": "another constant factor",
    "half_reg": "0.5 · reg instead of reg",
    "no_reg": "regulariser missing",
    "double_reg": "the regulariser's gradient added twice",
    "transposed": "transposed",
    "unstable": "unstable softmax (exp without the row maximum, log of 0)",
    "not_finite": "NaN or inf where a number was expected",
    "own_margin": "the correct class's margin counted",
    "classes_from_labels": "C taken from the labels",
    "in_place": "caller's arrays changed in place",
    "numerical": "a numerical gradient instead of a derived one",
    "zeros": "a gradient of all zeros (not computed or not returned)",
    "flat": "a gradient where the loss does not change",
    "disagree": "a wrong gradient that no single slip explains",
    "diverged": "training diverged (NaN or inf)",
    "relu_kink": "the ReLU's gradient at exactly 0 taken as 1",
    "keep_prob": "dropout's p read as the keep probability",
    "no_rescale": "dropout without the 1 / (1 - p) rescaling",
    "db_shape": "a bias gradient of shape (1, M) instead of (M,)",
    "eps_inside": "eps inside the square root",
    "t_order": "the step count t used before it is incremented",
    "beta_power": "the wrong power of beta in the bias correction",
    "no_bias_correction": "Adam without bias correction",
    "corrected_stored": "the bias-corrected moments stored as the state",
    "any_shape": "works only on 2-D input",
    # A2's codes (keep each assignment's new codes under its own line)
    "reg_bias": "the biases regularised too",
    "eval_scaled": "dropout's evaluation mode not the identity",
    "test_dropout": "dropout applied at test time",
    "bn_running": "batch norm's running statistics wrong",
    "bn_eval_batch": "batch norm's eval mode with the batch's own statistics",
    "bn_constant_stats": "batch norm's train-mode dx with the batch statistics taken as constants",
    "bn_missing_path": "batch norm's train-mode dx without its path through the batch mean or variance",
    "best_by_reference": "the best parameters kept by reference, changed by later updates",
    # A3's codes
    "assigned_grad": "= instead of += in a VJP (gradients do not add up at branches)",
    "reverse_order": "the VJPs run in topological order instead of its reverse",
    "recursion": "a recursive graph search too deep for a deep chain",
    "wrong_point": "a local derivative taken at the output instead of the input (or the reverse)",
    "power_rule": "k x^k instead of k x^(k-1)",
    "summed_all": "a broadcast gradient summed over every axis",
    "keepdims": "a summed axis not kept or not put back (keepdims)",
    "product_rule": "the product rule forgotten",
    "listed_twice": "a shared parameter listed twice",
    "step_order": "train_step's zero_grad, backward and step missing or in the wrong order",
    # A4's codes
    "velocity_convention": "momentum's velocity in CS231n's convention (lr times PyTorch's)",
    "raw_stored": "the notes' Adam storing the raw moments",
    "stop_off_by_one": "early stopping one epoch late or early",
    "tie_improves": "a tie counted as an improvement",
    "no_min_delta": "min_delta ignored",
    # A1's feature codes (Part 10)
    "signed_angles": "signed orientations where unsigned ones (modulo 180°) were asked for",
    "hard_votes": "a whole vote to the nearest bin instead of a split between the two nearest",
    "bin_centres": "bin centres at k · 180 / bins instead of (k + 0.5) · 180 / bins",
    "no_wrap": "orientation bins that do not wrap round from the last to the first",
    "squared_length": "the squared gradient length as the vote",
    "swapped_gradients": "gx and gy swapped",
    "arctan": "np.arctan(gy / gx): NaN at a zero gradient",
    "cell_reshape": "cells summed after a reshape that mixes pixels of different cells",
    "eps_outside": "eps added outside the square root of a norm",
    "norm_scope": "normalised over the wrong axes (the image or the array, not each cell)",
    "gradients": "image gradients other than the stated central differences",
    "flatten_order": "features flattened in another order",
    **_statuses("timeout", "memory", "error", "missing"),
    "stub": "not attempted (still the stub)",
    **_statuses("no_notebook", "crashed", "grader_error"),
}


def _code(line) -> str | None:
    """A line's code: a results.Line, or a record's {"ok", "text", "code"} (older records have no code)."""
    return line.get("code") if isinstance(line, dict) else line.code


def codes(status: str, lines: list) -> list[str]:
    """The codes of the mistakes a part's ``status`` and feedback ``lines`` name, each once, in MISTAKES'
    order. A stub is only a stub: its NotImplementedError is not counted as an error too."""
    found = {status, *map(_code, lines)}
    if "stub" in found:
        found.discard("error")
    return [c for c in MISTAKES if c in found]


def label(code: str) -> str:
    return MISTAKES.get(code, code)
