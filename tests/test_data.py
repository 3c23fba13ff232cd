"""deepgrad.data: toy sets, real-data loaders on small files in the real formats, splits and batches."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad import data as D

TOYS = {
    "blobs": D.make_blobs,
    "xor": D.make_xor,
    "circles": D.make_circles,
    "bullseye": D.make_bullseye,
    "spiral": D.make_spiral,
    "moons": D.make_moons,
}
CLASSES = {"blobs": 3, "xor": 2, "circles": 2, "bullseye": 2, "spiral": 3, "moons": 2}


def least_squares_accuracy(X, y):
    """Training accuracy of the best linear classifier in the least-squares sense (one-hot targets)."""
    A = np.c_[X, np.ones(len(X))]
    W = np.linalg.lstsq(A, np.eye(y.max() + 1)[y], rcond=None)[0]
    return np.mean(np.argmax(A @ W, axis=1) == y)


# -------------------------------------------------------------------------------------------- toy sets
@pytest.mark.parametrize("name", TOYS)
@pytest.mark.parametrize("n", [1, 7, 101])
def test_toy_shapes_dtypes_balance(name, n):
    X, y = TOYS[name](n, seed=3)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=CLASSES[name])
    assert len(counts) == CLASSES[name] and y.min() >= 0
    assert counts.max() - counts.min() <= 1  # balanced as far as n allows
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", TOYS)
def test_toy_seeds(name):
    X1, y1 = TOYS[name](60, seed=5)
    X2, y2 = TOYS[name](60, seed=5)
    X3, _ = TOYS[name](60, seed=6)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", TOYS)
def test_toy_rows_are_shuffled(name):
    _, y = TOYS[name](300, seed=0)
    assert len(np.unique(y[:30])) == CLASSES[name]  # the first rows are not all one class


@pytest.mark.parametrize("name", ["xor", "circles", "bullseye", "spiral"])
def test_not_linearly_separable(name):
    X, y = TOYS[name](400, seed=0)
    assert least_squares_accuracy(X, y) < 0.7  # near chance


def test_blobs_are_linearly_separable():
    X, y = D.make_blobs(300, std=0.5, seed=0)
    assert least_squares_accuracy(X, y) > 0.98


def test_blobs_custom_centres():
    centres = np.array([[10.0, 0.0], [-10.0, 0.0]])
    X, y = D.make_blobs(200, centers=centres, std=0.1, seed=0)
    np.testing.assert_allclose([X[y == k].mean(axis=0) for k in range(2)], centres, atol=0.05)
    with pytest.raises(ValueError, match=r"centers must be .*\(K, 2\).*\(3,\)"):
        D.make_blobs(10, centers=[1.0, 2.0, 3.0])


def test_noise_free_geometry():
    X, y = D.make_circles(200, noise=0.0, factor=0.3, seed=0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.where(y == 0, 1.0, 0.3))
    X, y = D.make_xor(40, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    X, y = D.make_moons(100, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0)
    X, y = D.make_spiral(90, classes=3, noise=0.0, seed=0)
    assert np.linalg.norm(X, axis=1).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: D.make_blobs(0), ValueError, "n must be an integer >= 1, got 0"),
        (lambda: D.make_xor(10.5), TypeError, "n must be an integer >= 1, got 10.5"),
        (lambda: D.make_xor(True), TypeError, r"n must be an integer >= 1, got True \(a bool\)"),
        (lambda: D.make_moons(10, noise=-1), ValueError, "noise must be a finite number >= 0, got -1"),
        (lambda: D.make_circles(10, factor=1.0), ValueError, r"factor .* must be a finite number in \(0, 1\)"),
        (lambda: D.make_spiral(10, classes=1), ValueError, "classes must be an integer >= 2"),
    ],
)
def test_toy_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------- digits
def test_load_digits():
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    assert set(np.unique(y)) == set(range(10))
    images, y2 = D.load_digits(return_images=True, scale=True)
    assert images.shape == (1797, 8, 8) and images.max() == 1.0
    np.testing.assert_array_equal(images.reshape(1797, 64) * 16, X)
    np.testing.assert_array_equal(y, y2)


def test_load_digits_reads_exactly_what_scikit_learn_loads():
    """load_digits reads scikit-learn's CSV itself (no sklearn import); it must be the same data, in order."""
    from sklearn.datasets import load_digits as sklearn_digits
    bunch = sklearn_digits()
    X, y = D.load_digits()
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    np.testing.assert_array_equal(D.load_digits(return_images=True)[0], bunch.images)


# the digits moved and noised
def moved(images, dy, dx):
    """``images`` (N, 8, 8) moved by dy rows and dx columns, the pixels that leave the frame lost (zeros enter)."""
    out = np.zeros_like(images)
    out[:, max(dy, 0):8 + min(dy, 0), max(dx, 0):8 + min(dx, 0)] = \
        images[:, max(-dy, 0):8 - max(dy, 0), max(-dx, 0):8 - max(dx, 0)]
    return out


def test_jittered_digits_shapes_and_labels():
    plain, labels = D.load_digits(return_images=True, scale=True)
    X, y = D.load_jittered_digits(copies=3)
    assert X.shape == (3 * 1797, 64) and X.dtype == np.float64 and y.shape == (3 * 1797,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.repeat(labels, 3))         # the copies of a digit are consecutive rows
    images, _ = D.load_jittered_digits(copies=3, return_images=True)
    assert images.shape == (3 * 1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(-1, 64), X)     # the same set, as images


def test_jittered_digits_are_the_same_for_a_seed_and_differ_between_seeds():
    X, y = D.load_jittered_digits(seed=3)
    np.testing.assert_array_equal(X, D.load_jittered_digits(seed=3)[0])
    assert not np.array_equal(X, D.load_jittered_digits(seed=4)[0])
    rng = np.random.default_rng(3)       # a generator: its stream goes on, so two calls differ
    assert not np.array_equal(D.load_jittered_digits(seed=rng)[0], D.load_jittered_digits(seed=rng)[0])


def test_without_moves_or_noise_the_jittered_digits_are_the_plain_scaled_ones():
    plain, _ = D.load_digits(scale=True)
    X, _ = D.load_jittered_digits(copies=2, shift=0, noise=0.0, seed=1)
    np.testing.assert_array_equal(X, np.repeat(plain, 2, axis=0))


@pytest.mark.parametrize("shift", [1, 2])
def test_each_moved_image_is_its_digit_moved_by_at_most_shift_pixels(shift):
    plain, _ = D.load_digits(return_images=True, scale=True)
    copies = 2
    images, _ = D.load_jittered_digits(copies=copies, shift=shift, noise=0.0, seed=5, return_images=True)
    originals = np.repeat(plain, copies, axis=0)
    moves = [(dy, dx) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)]
    matches = np.array([np.all(images == moved(originals, dy, dx), axis=(1, 2)) for dy, dx in moves])
    assert np.all(matches.any(axis=0))                   # every image is one of the allowed moves of its own digit
    # every move is drawn (an image unchanged by every move, all ink inside the frame's centre, counts for all)
    assert np.all(matches.sum(axis=1) > len(images) / len(moves) / 2)


def test_the_noise_is_gaussian_with_the_standard_deviation_asked_for():
    plain, _ = D.load_digits(scale=True)
    X, _ = D.load_jittered_digits(copies=2, shift=0, noise=0.3, seed=2)
    noise = X - np.repeat(plain, 2, axis=0)
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.3) < 0.01        # 230 000 draws: both within 3e-3
    assert not np.array_equal(noise[0::2], noise[1::2])                      # each copy its own noise


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(copies=0), ValueError, "copies must be an integer >= 1, got 0"),
    (dict(copies=1.5), TypeError, "copies must be an integer"),
    (dict(shift=4), ValueError, r"shift must be an integer in \[0, 3\], got 4"),
    (dict(shift=-1), ValueError, "shift must be an integer"),
    (dict(noise=-0.1), ValueError, "noise must be a finite number >= 0"),
    (dict(noise=float("nan")), ValueError, "noise must be a finite number"),
    (dict(seed="a"), TypeError, "seed must be None, an integer seed >= 0 or a numpy.random.Generator"),
])
def test_jittered_digits_errors_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        D.load_jittered_digits(**kwargs)


# -------------------------------------------------------------------------------------------- CIFAR-10
def write_cifar_batch(path, images, labels, str_keys=False):
    """A batch in the official layout: rows of 3072 bytes, the R plane, then G, then B."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    key = (lambda k: k) if str_keys else (lambda k: k.encode())
    with open(path, "wb") as f:
        pickle.dump({key("data"): rows, key("labels"): list(map(int, labels)), key("batch_label"): "x"}, f)


@pytest.fixture
def cifar_dir(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    truth = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=4)
        write_cifar_batch(folder / name, images, labels, str_keys=(i == 2))
        truth[name] = (images, labels)
    return folder, truth


def test_load_cifar10(cifar_dir):
    folder, truth = cifar_dir
    Xtr, ytr, Xte, yte = D.load_cifar10(folder)
    assert Xtr.shape == (20, 32, 32, 3) and Xtr.dtype == np.uint8
    assert ytr.shape == (20,) and ytr.dtype == np.int64
    np.testing.assert_array_equal(Xtr, np.concatenate([truth[f"data_batch_{k}"][0] for k in range(1, 6)]))
    np.testing.assert_array_equal(ytr, np.concatenate([truth[f"data_batch_{k}"][1] for k in range(1, 6)]))
    np.testing.assert_array_equal(Xte, truth["test_batch"][0])
    np.testing.assert_array_equal(yte, truth["test_batch"][1])
    # the parent folder of cifar-10-batches-py works too
    np.testing.assert_array_equal(D.load_cifar10(folder.parent)[2], Xte)


def test_cifar_pixel_layout(tmp_path):
    """A pure-red image must come back red: channels are last after loading."""
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[..., 0] = 255
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(tmp_path / name, image, [3])
    with open(tmp_path / "test_batch", "rb") as f:
        rows = pickle.load(f)[b"data"]
    assert np.all(rows[0, :1024] == 255) and np.all(rows[0, 1024:] == 0)  # the file layout itself
    Xte = D.load_cifar10(tmp_path)[2]
    assert np.all(Xte[..., 0] == 255) and np.all(Xte[..., 1:] == 0)


def test_cifar_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        D.load_cifar10(tmp_path / "nowhere")
    message = str(err.value)
    assert str(tmp_path / "nowhere") in message
    assert "data_batch_1" in message and "CIFAR-10 python version" in message and "Toronto" in message


# ----------------------------------------------------------------------------------------------- MNIST
def write_idx(path, array, gz):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist(tmp_path, rng, gz):
    truth = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=6, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=3, dtype=np.uint8),
    }
    for name, array in truth.items():
        write_idx(tmp_path / name, array, gz)
    Xtr, ytr, Xte, yte = D.load_mnist(tmp_path)
    assert Xtr.dtype == np.uint8 and ytr.dtype == np.int64
    for got, name in zip((Xtr, ytr, Xte, yte), truth, strict=True):
        np.testing.assert_array_equal(got, truth[name])


def test_mnist_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        D.load_mnist(tmp_path)
    assert str(tmp_path) in str(err.value) and "train-images-idx3-ubyte" in str(err.value)
    assert "MNIST" in str(err.value) and "LeCun" in str(err.value)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"]:
        write_idx(tmp_path / name, np.zeros((2, 28, 28) if "images" in name else (2,), np.uint8), gz=False)
    broken = tmp_path / "t10k-images-idx3-ubyte"
    broken.write_bytes(broken.read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated"):
        D.load_mnist(tmp_path)
    broken.write_bytes(b"\x12\x34\x08\x03" + bytes(20))
    with pytest.raises(ValueError, match="not an IDX file"):
        D.load_mnist(tmp_path)


# -------------------------------------------------------------------------------------- split, scale
@pytest.mark.parametrize("stratify", [True, False])
def test_split_is_a_partition(stratify):
    X = np.arange(200, dtype=float)[:, None] * [1.0, -1.0]
    y = np.repeat([0, 1, 2, 3], 50)
    Xtr, ytr, Xva, yva, Xte, yte = D.train_val_test_split(X, y, val=0.1, test=0.2, seed=1, stratify=stratify)
    assert (len(Xtr), len(Xva), len(Xte)) == (140, 20, 40)
    rows = np.concatenate([Xtr[:, 0], Xva[:, 0], Xte[:, 0]])
    np.testing.assert_array_equal(np.sort(rows), X[:, 0])  # every example exactly once
    for Xs, ys in ((Xtr, ytr), (Xva, yva), (Xte, yte)):
        np.testing.assert_array_equal(ys, y[Xs[:, 0].astype(int)])  # rows stay with their labels
    if stratify:
        assert list(np.bincount(yte)) == [10] * 4 and list(np.bincount(yva)) == [5] * 4
    again = D.train_val_test_split(X, y, val=0.1, test=0.2, seed=1, stratify=stratify)
    np.testing.assert_array_equal(again[0], Xtr)


def test_split_errors():
    X, y = np.zeros((10, 2)), np.zeros(10, int)
    with pytest.raises(ValueError, match=r"X and y must have the same number.*\(10, 2\).*\(9,\)"):
        D.train_val_test_split(X, y[:9])
    with pytest.raises(ValueError, match=r"val must be a finite number in \[0, 1\), got -0.1"):
        D.train_val_test_split(X, y, val=-0.1)
    with pytest.raises(ValueError, match=r"test must be a finite number in \[0, 1\), got 1.0"):
        D.train_val_test_split(X, y, test=1.0)
    with pytest.raises(ValueError, match="val \\+ test must be < 1"):
        D.train_val_test_split(X, y, val=0.5, test=0.5)


def test_standardize_uses_training_statistics(rng):
    Xtr = rng.normal(3.0, 2.0, size=(100, 4))
    Xtr[:, 2] = 7.0  # a constant feature: centred, not divided by 0
    Xte = rng.normal(size=(10, 4))
    Ztr, Zte, mean, std = D.standardize(Xtr, Xte)
    np.testing.assert_allclose(Ztr.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Ztr.std(axis=0), [1.0, 1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(mean, Xtr.mean(axis=0))
    assert std[2] == 1.0
    np.testing.assert_allclose(Zte, (Xte - Xtr.mean(axis=0)) / std)  # the TRAIN statistics
    Z32, m32, _ = D.standardize(Xtr.astype(np.float32))
    assert Z32.dtype == np.float32
    assert D.standardize(np.arange(6, dtype=np.uint8).reshape(3, 2))[0].dtype == np.float64
    with pytest.raises(ValueError, match=r"others\[0\] must have per-example shape \(4,\)"):
        D.standardize(Xtr, np.ones((3, 5)))


# ------------------------------------------------------------------------------------------ batches
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 50), batch_size=st.integers(1, 60), shuffle=st.booleans(), seed=st.integers(0, 99))
def test_minibatches_cover_every_example_once(n, batch_size, shuffle, seed):
    X = np.arange(n * 2, dtype=float).reshape(n, 2)
    y = np.arange(n)
    batches = list(D.minibatches(X, y, batch_size, shuffle=shuffle, seed=seed))
    sizes = [len(yb) for _, yb in batches]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), y)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # rows stay with their labels
    if not shuffle:
        np.testing.assert_array_equal(seen, y)
    dropped = list(D.minibatches(X, y, batch_size, shuffle=shuffle, seed=seed, drop_last=True))
    assert [len(yb) for _, yb in dropped] == [batch_size] * (n // batch_size)


def test_minibatches_seeded_shuffle():
    X, y = np.zeros((100, 1)), np.arange(100)
    order = lambda seed: np.concatenate([yb for _, yb in D.minibatches(X, y, 16, seed=seed)])
    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))
    assert not np.array_equal(order(3), y)


def test_minibatch_errors():
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        next(D.minibatches(X, y, 0))
    with pytest.raises(ValueError, match="X and y must have the same number"):
        next(D.minibatches(X, y[:5], 2))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        D.DataLoader(D.TensorDataset(X, y), batch_size=-1)
    with pytest.raises(ValueError, match="same number of examples"):
        D.TensorDataset(X, y[:3])


def test_dataloader():
    X = np.arange(22, dtype=float).reshape(11, 2)
    y = np.arange(11)
    ds = D.TensorDataset(X, y)
    assert len(ds) == 11
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, [6.0, 7.0])
    assert yi == 3
    loader = D.DataLoader(ds, batch_size=4, shuffle=True, generator=0)
    assert len(loader) == 3
    epochs = [np.concatenate([yb for _, yb in loader]) for _ in range(2)]
    for seen in epochs:
        np.testing.assert_array_equal(np.sort(seen), y)
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch
    again = D.DataLoader(ds, batch_size=4, shuffle=True, generator=0)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in again]), epochs[0])
    plain = D.DataLoader(ds, batch_size=4, drop_last=True)
    assert len(plain) == 2
    batches = list(plain)
    np.testing.assert_array_equal(batches[1][0], X[4:8])
    np.testing.assert_array_equal(batches[1][1], y[4:8])


@pytest.mark.gpu
def test_batches_and_split_on_cupy():
    import cupy as cp

    X, y = D.make_spiral(90, seed=0)
    gX, gy = cp.asarray(X), cp.asarray(y)
    parts = D.train_val_test_split(gX, gy, seed=0)
    assert all(isinstance(p, cp.ndarray) for p in parts)
    np.testing.assert_array_equal(cp.asnumpy(parts[0]), D.train_val_test_split(X, y, seed=0)[0])
    for xb, yb in D.minibatches(gX, gy, 32, seed=0):
        assert isinstance(xb, cp.ndarray) and isinstance(yb, cp.ndarray)
    for xb, _yb in D.DataLoader(D.TensorDataset(gX, gy), batch_size=32, shuffle=True, generator=0):
        assert isinstance(xb, cp.ndarray)
    Z, mean, std = D.standardize(gX)
    assert isinstance(Z, cp.ndarray) and float(abs(Z.mean())) < 1e-12
