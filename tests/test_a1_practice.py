"""A1's practitioner parts (sanity checks, grid search on the validation set): the solution earns them, the
stub does not, and the slips students make each get the verdict they deserve (graded in-process, as in
test_assignment_content)."""
from __future__ import annotations

import pytest

from tests.test_assignment_content import _answers, _stub, grade

SOLUTION = _answers("A1")
NEW = ("sanity", "grid_search")


def _edit(old, new):
    hits = [s for s in SOLUTION if old in s]
    assert len(hits) == 1, old
    return [s.replace(old, new) for s in SOLUTION]


BUGS = {
    "sanity": {
        "chance_loss_in_base_10": (_edit("float(np.log(C))", "float(np.log10(C))"), 2 / 3),
        "initial_loss_regularised": (_edit("loss_fn(W0, X, y, 0.0)", "loss_fn(W0, X, y, 1e-3)"), 2 / 3),
        # accuracy measured on the whole training set, not on the subset that was learned
        "tiny_accuracy_on_all_of_X": (_edit("np.mean(np.argmax(X_tiny @ W, axis=1) == y_tiny)",
                                            "np.mean(np.argmax(X @ W, axis=1) == y)"), 2 / 3),
    },
    "grid_search": {
        "chosen_on_training_accuracy": (_edit("np.argmax(val_acc), val_acc.shape", "np.argmax(train_acc), val_acc.shape"),
                                        0.6),
        # "validation" accuracy measured on the training set: both the grid and the choice are wrong
        "validated_on_training_set": (_edit("np.mean(np.argmax(X_val @ W, axis=1) == y_val)",
                                            "np.mean(np.argmax(X_train @ W, axis=1) == y_train)"), 0.2),
        "argmin_instead_of_argmax": (_edit("np.argmax(val_acc), val_acc.shape", "np.argmin(val_acc), val_acc.shape"), 0.6),
    },
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solution_earns_the_new_parts_and_the_stub_nothing(seed):
    assert grade("A1", SOLUTION, seed, only=NEW) == {"sanity": 1.0, "grid_search": 1.0}
    if seed == 0:
        assert grade("A1", [_stub(s) for s in SOLUTION], only=NEW) == {"sanity": 0.0, "grid_search": 0.0}


@pytest.mark.parametrize("part", NEW)
def test_classic_slips_get_what_they_deserve(part):
    got = {name: grade("A1", sources, seed=5, only=(part,))[part] for name, (sources, _) in BUGS[part].items()}
    assert got == {name: expected for name, (_, expected) in BUGS[part].items()}
