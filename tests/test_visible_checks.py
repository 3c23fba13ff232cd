"""The visible tests students see for A1's and A2's new parts: the solution passes them, and each classic slip
(the same buggy versions the hidden checks are tested with) fails one of them, before any grading."""
from __future__ import annotations


import pytest

from tests import test_a1_features, test_a1_practice, test_a2_deeper
from harness import meta, notebook_quietly, solution_dir, solution_notebook

SLIPS = {"A1": {**test_a1_practice.BUGS, "features": test_a1_features.BUGS},
         "A2": {"batchnorm": test_a2_deeper.BATCHNORM_BUGS, "fc_net": test_a2_deeper.FC_NET_BUGS,
                "train_net": test_a2_deeper.TRAIN_NET_BUGS}}
SOLUTIONS = {"A1": test_a1_practice.SOLUTION, "A2": test_a2_deeper.SOLUTION}


@pytest.fixture(scope="module")
def executed():
    """Each notebook run once in fast mode up to its last cell: the namespace a student's kernel would hold."""
    runs = {}
    for a in SLIPS:
        nb = solution_notebook(a)
        ns = {"__name__": "__main__"}
        with notebook_quietly(solution_dir(a)):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    exec(compile(cell.source, cell.id, "exec"), ns)
        runs[a] = nb, ns
    return runs


def _visible_run(nb, ns, part, sources):
    """Redefine the answers from ``sources``, rerun the part's self-check cells and its visible tests."""
    ns = dict(ns)
    for source in sources:
        exec(source, ns)
    cells = nb.cells
    test = next(i for i, c in enumerate(cells) if meta(c).get("grade_id") == part)
    answer = max(i for i in range(test) if meta(cells[i]).get("solution") and cells[i].cell_type == "code")
    for cell in cells[answer + 1:test]:
        if cell.cell_type == "code":
            exec(cell.source, ns)
    exec(cells[test].source.split("### BEGIN HIDDEN TESTS")[0], ns)


CASES = [(a, part, slip) for a, parts in SLIPS.items() for part, slips in parts.items() for slip in slips]


@pytest.mark.parametrize("a, part", sorted({(a, part) for a, part, _ in CASES}))
def test_the_solution_passes_the_visible_tests(executed, a, part):
    _visible_run(*executed[a], part, SOLUTIONS[a])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")    # np.arctan(gy / gx) at gx = 0, as meant
@pytest.mark.parametrize("a, part, slip", CASES)
def test_each_slip_fails_a_visible_test(executed, a, part, slip):
    with pytest.raises(Exception):  # noqa: B017 - a visible test fails by its assert or by the error it hits
        _visible_run(*executed[a], part, SLIPS[a][part][slip][0])
