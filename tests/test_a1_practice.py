"""A1's practitioner parts (sanity checks, grid search on the validation set): the solution earns them, the
stub does not, and the slips students make each get the verdict they deserve (graded in-process, as in
tests/harness.py)."""
from __future__ import annotations

import pytest

from harness import answers, grade, solution_dir, solution_notebook, stub

SOLUTION = answers("A1")
NEW = ("sanity", "grid_search")


def _edit(old, new):
    hits = [s for s in SOLUTION if old in s]
    assert len(hits) == 1, old
    return [s.replace(old, new) for s in SOLUTION]


BUGS = {
    "sanity": {
        "chance_loss_in_base_10": (_edit("float(np.log(C))", "float(np.log10(C))"), 0.75),
        "initial_loss_regularised": (_edit("loss_fn(W0, X, y, 0.0)", "loss_fn(W0, X, y, 1e-3)"), 0.75),
        # accuracy measured on the whole training set, not on the subset that was learned
        "tiny_accuracy_on_all_of_X": (_edit("np.mean(np.argmax(X_tiny @ W, axis=1) == y_tiny)",
                                            "np.mean(np.argmax(X @ W, axis=1) == y)"), 0.5),
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
        assert grade("A1", [stub(s) for s in SOLUTION], only=NEW) == {"sanity": 0.0, "grid_search": 0.0}


@pytest.mark.parametrize("part", NEW)
def test_classic_slips_get_what_they_deserve(part):
    got = {name: grade("A1", sources, seed=5, only=(part,))[part] for name, (sources, _) in BUGS[part].items()}
    assert got == pytest.approx({name: expected for name, (_, expected) in BUGS[part].items()})


def _fake_cifar(folder, per_batch=520, seed=0):
    """Files in the official "python version" layout, with random images (only the format matters here)."""
    import pickle

    import numpy as np
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, per_batch)
        data = np.clip(rng.normal(100 + 10 * labels[:, None], 40, (per_batch, 3072)), 0, 255).astype(np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels.tolist()}, f)


def _cifar_cell():
    return next(c for c in solution_notebook("A1").cells if c.cell_type == "code" and "DEEPGRAD_CIFAR10" in c.source)


def test_without_cifar_the_optional_part_says_how_to_get_it(monkeypatch, capsys):
    import os

    import numpy as np

    from deepgrad.data import CIFAR10_HELP
    monkeypatch.delenv("DEEPGRAD_CIFAR10", raising=False)
    exec(_cifar_cell().source, {"np": np, "os": os, "FAST": True})
    text = capsys.readouterr().out
    assert text.startswith("Part 11 is skipped") and CIFAR10_HELP in text, text


@pytest.mark.notebooks
def test_with_cifar_the_optional_part_runs_the_students_search(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("DEEPGRAD_FAST", "1")
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv("DEEPGRAD_CIFAR10", str(tmp_path / "cifar-10-batches-py"))
    nb = solution_notebook("A1")
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(solution_dir("A1"))}}).execute()
    cell = next(c for c in nb.cells if c.cell_type == "code" and "DEEPGRAD_CIFAR10" in c.source)
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    assert "CIFAR-10 initial loss" in text and "chosen learning_rate=" in text and "test" in text, text
    assert any("image/png" in o.get("data", {}) for o in cell.outputs), "the grid is drawn"
    nbformat.validate(nb)
