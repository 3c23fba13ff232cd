"""A1 Part 10 (features against pixels), graded share by share: the reference and other right versions earn every
share on 50 seeds, the stub none, and each classic slip loses exactly the shares it deserves, with the feedback
naming it (its mistake code). tests/test_planted_slips.py and tests/test_visible_checks.py plant the same slips in
the notebook: the visible tests fail for each.
"""
from __future__ import annotations

import numpy as np
import pytest

import harness
from autograder.checks import A1

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")     # np.arctan(gy / gx) at 0 / 0, as meant

SEEDS = range(50)
PART = next(p for p in A1.PARTS if p.name == "features")
FULL = {s.name: s.points for s in A1.FEATURE_SHARES}
SOLUTION = harness.answers("A1")
UNSIGNED, SOFT, FLAT, CELLS, NORMALISED, COMPOSED = A1.UNSIGNED, A1.SOFT, A1.FLAT, A1.CELLS, A1.NORMALISED, A1.COMPOSED


def edited(*edits) -> list[str]:
    """The reference answer cells with textual edits (old, new), each found exactly once."""
    sources = list(SOLUTION)
    for old, new in edits:
        hits = [i for i, s in enumerate(sources) if old in s]
        assert len(hits) == 1 and sources[hits[0]].count(old) == 1, old
        sources[hits[0]] = sources[hits[0]].replace(old, new)
    return sources


def replaced(name: str, source: str) -> list[str]:
    return harness.replace_function(SOLUTION, name, source)


SOFT_VOTES = """    votes = ((1 - share_high) * length)[..., None] * (low[..., None] == k) \\
        + (share_high * length)[..., None] * ((low[..., None] + 1) % bins == k)"""
GRADIENTS = """    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2"""

# (why, answer cells, the shares lost, the mistake codes the feedback must name)
CASES = [
    ("unsigned as the absolute angle", edited(("np.degrees(np.arctan2(gy, gx)) % 180.0",
                                               "np.abs(np.degrees(np.arctan2(gy, gx)))")),
     (UNSIGNED,), ("signed_angles",)),
    ("signed angles, bins over 360 degrees", edited(("np.degrees(np.arctan2(gy, gx)) % 180.0",
                                                     "np.degrees(np.arctan2(gy, gx)) % 360.0"),
                                                    ("angle / (180.0 / bins)", "angle / (360.0 / bins)")),
     (UNSIGNED, SOFT), ("signed_angles",)),
    ("np.arctan(gy / gx)", edited(("np.arctan2(gy, gx)", "np.arctan(gy / gx)")), (FLAT,), ("arctan",)),
    ("hard votes to the nearest centre", edited((SOFT_VOTES, "    votes = length[..., None] * (np.round(position)"
                                                             ".astype(int)[..., None] % bins == k)")),
     (SOFT,), ("hard_votes",)),
    ("soft votes without the wrap-around", edited(("((low[..., None] + 1) % bins == k)", "(low[..., None] + 1 == k)")),
     (SOFT,), ("no_wrap",)),
    ("centres at k * 180 / bins", edited(("angle / (180.0 / bins) - 0.5", "angle / (180.0 / bins)")),
     (SOFT,), ("bin_centres",)),
    ("gx and gy swapped in the angle", edited(("np.arctan2(gy, gx)", "np.arctan2(gx, gy)")),
     (SOFT,), ("swapped_gradients",)),
    ("the squared length as the vote", edited(("np.hypot(gx, gy)", "(gx ** 2 + gy ** 2)")),
     (SOFT,), ("squared_length",)),
    ("cells by a reshape without the transpose",
     edited(("votes.reshape(n, h // cell, cell, w // cell, cell, bins).sum(axis=(2, 4))",
             "votes.reshape(n, h // cell, w // cell, cell, cell, bins).sum(axis=(3, 4))")),
     (CELLS,), ("cell_reshape",)),
    ("eps outside the square root", edited(("hist / np.sqrt(np.sum(hist * hist, axis=-1, keepdims=True) + eps * eps)",
                                            "hist / (np.sqrt(np.sum(hist * hist, axis=-1, keepdims=True)) + eps)")),
     (NORMALISED,), ("eps_outside",)),
    ("normalised over the whole image", edited(("np.sum(hist * hist, axis=-1, keepdims=True)",
                                                "np.sum(hist * hist, axis=(1, 2, 3), keepdims=True)")),
     (NORMALISED,), ("norm_scope",)),
    ("normalised without eps", edited(("np.sum(hist * hist, axis=-1, keepdims=True) + eps * eps)",
                                       "np.sum(hist * hist, axis=-1, keepdims=True))")),
     (NORMALISED,), ("not_finite",)),
    ("gx and gy swapped in hog_features", edited(("orientation_histograms(gx, gy, cell, bins)).reshape",
                                                  "orientation_histograms(gy, gx, cell, bins)).reshape")),
     (COMPOSED,), ("swapped_gradients",)),
    ("y growing upwards", edited(("gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2",
                                  "gy = (padded[:, :-2, 1:-1] - padded[:, 2:, 1:-1]) / 2")),
     (COMPOSED,), ("gradients",)),
    ("zero padding", edited((', (1, 1)), mode="edge")', ', (1, 1)))')), (COMPOSED,), ("gradients",)),
    ("np.gradient's one-sided borders", edited((GRADIENTS, "    gy, gx = np.gradient(images, axis=(1, 2))")),
     (COMPOSED,), ("gradients",)),
    ("flattened bins first", edited((".reshape(len(images), -1)", ".transpose(0, 3, 1, 2).reshape(len(images), -1)")),
     (COMPOSED,), ("flatten_order",)),
]

ADD_AT = '''
def orientation_histograms(gx, gy, cell, bins):
    n, h, w = gx.shape
    t = np.mod(np.arctan2(gy, gx), np.pi) * bins / np.pi - 0.5
    k0 = np.floor(t).astype(int)
    f = t - k0
    mag = np.sqrt(gx ** 2 + gy ** 2)
    hist = np.zeros((n, h // cell, w // cell, bins))
    i, r, c = np.indices((n, h, w))
    np.add.at(hist, (i, r // cell, c // cell, k0 % bins), (1 - f) * mag)
    np.add.at(hist, (i, r // cell, c // cell, (k0 + 1) % bins), f * mag)
    return hist
'''
LOOPS = '''
def orientation_histograms(gx, gy, cell, bins):
    import math
    n, h, w = gx.shape
    hist = np.zeros((n, h // cell, w // cell, bins))
    width = 180 / bins
    for i in range(n):
        for r in range(h):
            for c in range(w):
                angle = math.degrees(math.atan2(gy[i, r, c], gx[i, r, c])) % 180
                low = math.floor(angle / width - 0.5)
                up = angle / width - 0.5 - low
                length = math.hypot(gx[i, r, c], gy[i, r, c])
                hist[i, r // cell, c // cell, low % bins] += (1 - up) * length
                hist[i, r // cell, c // cell, (low + 1) % bins] += up * length
    return hist
'''
NORM_LINALG = '''
def normalize_cells(hist, eps=1e-3):
    return hist / np.sqrt(np.linalg.norm(hist, axis=3, keepdims=True) ** 2 + eps ** 2)
'''
HOG_HELPER = '''
def hog_features(images, cell=2, bins=9):
    def shifted(dr, dc):
        n, h, w = images.shape
        p = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
        return p[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
    gx, gy = (shifted(0, 1) - shifted(0, -1)) / 2, (shifted(1, 0) - shifted(-1, 0)) / 2
    hist = normalize_cells(orientation_histograms(gx, gy, cell, bins))
    return hist.reshape(hist.shape[0], -1)
'''
RIGHT = [
    ("reference", SOLUTION),
    ("radians, np.add.at", replaced("orientation_histograms", ADD_AT)),
    ("a loop over pixels", replaced("orientation_histograms", LOOPS)),
    # the bin index taken modulo bins already folds the angle modulo 180 degrees: right as it stands
    ("signed angles, the bins wrapped", edited(("np.degrees(np.arctan2(gy, gx)) % 180.0", "np.degrees(np.arctan2(gy, gx))"))),
    ("np.linalg.norm", replaced("normalize_cells", NORM_LINALG)),
    ("gradients by shifted copies", replaced("hog_features", HOG_HELPER)),
]

# In tests/test_a1_practice.py's form, for tests/test_visible_checks.py: why -> (answer cells, fraction earned)
BUGS = {why: (sources, 1 - sum(FULL[s] for s in lost) / PART.points) for why, sources, lost, _ in CASES}


def _said(graded) -> str:
    return " ".join(f"{line.text} [{line.code}]" for line in graded.feedback.lines)


@pytest.mark.parametrize("why, sources", RIGHT, ids=[r[0] for r in RIGHT])
def test_right_versions_earn_every_share(why, sources):
    for seed in SEEDS:
        graded = harness.grade_part(PART, sources, seed)
        assert graded.shares == pytest.approx(FULL), (seed, graded.shares, _said(graded)[:1500])


def test_the_stub_earns_nothing():
    for seed in range(5):
        assert harness.grade_part(PART, [harness.stub(s) for s in SOLUTION], seed).fraction == 0


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_slip_costs_its_shares_on_every_seed(case):
    why, sources, lost, codes = case
    expected = {**FULL, **dict.fromkeys(lost, 0.0)}
    for seed in SEEDS:
        graded = harness.grade_part(PART, sources, seed)
        assert graded.shares == pytest.approx(expected), (seed, graded.shares, _said(graded)[:1500])
        for code in codes:
            assert f"[{code}]" in _said(graded), (seed, code, _said(graded)[:1500])


def test_the_shares_add_up_and_the_worked_example_is_the_graders():
    assert sum(FULL.values()) == PART.points == 3
    # the notebook's worked example: (1, 0), (0, 2), (-1, -1), (-2, 0) in one 2 x 2 cell, 9 bins
    gx, gy = np.array([[[1.0, 0.0], [-1.0, -2.0]]]), np.array([[[0.0, 2.0], [-1.0, 0.0]]])
    np.testing.assert_allclose(A1.cell_sums(A1.pixel_votes(gx, gy, 9), 2).ravel(),
                               [1.5, 0.25 * np.sqrt(2), 0.75 * np.sqrt(2), 0, 2, 0, 0, 0, 1.5], atol=1e-12)
    text = next(c.source for c in harness.solution_notebook("A1").cells if c.get("id") == "a1-f-md-01")
    assert "(1.5, 0.354, 1.061, 0, 2, 0, 0, 0, 1.5)" in text


def test_the_inputs_isolate_each_share():
    for seed in range(10):
        inp = A1.features_inputs(np.random.default_rng(seed))
        gx, gy, cell, flat = inp["gx"], inp["gy"], inp["cell"], inp["flat"]
        assert np.all(gy > 0) and np.any(gx == 0)             # angles in (0, 180): signed = unsigned there
        assert gx.shape[1] % cell == 0 and gx.shape[2] % cell == 0 and gx.shape[1] != gx.shape[2]
        assert flat.any() and not flat.all()
        assert np.all(inp["hist"][0, 0, 0] == 0) and np.all(inp["hist"] >= 0)
        assert np.all(np.hypot(*A1.image_gradients(inp["images"])) > 0)   # no flat pixel: its slip is charged once
        assert gx.shape[2] // cell >= 2 and gx.shape[1] // cell >= 2        # several cells each way: a reshape shows
