"""Data sets and mini-batches, PyTorch's ``torch.utils.data``.

A map-style :class:`Dataset` gives one sample per ``dataset[i]``; :class:`DataLoader` draws the indices of a
batch (in order, or shuffled anew each epoch), fetches the samples and joins them with :func:`default_collate`
(tensors and arrays stacked into one Tensor along a new first axis, numbers into a 1-D Tensor, tuples and dicts
field by field). A data set whose ``__getitem__`` takes an index array and returns the batch says so with
``fetches_batches = True`` (a :class:`TensorDataset` does): the loader then fetches a whole batch at once, the
same batches without a Python loop over samples.

    >>> import numpy as np
    >>> loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10) % 2), batch_size=4)
    >>> [len(yb) for xb, yb in loader]
    [4, 4, 2]
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor, stack
from ..checks import check_generator, check_int, deprecated

__all__ = ["Dataset", "TensorDataset", "DataLoader", "default_collate"]


class Dataset:
    """Base class of map-style data sets: define ``__len__`` and ``__getitem__(i)`` (one sample)."""

    def __getitem__(self, index):
        raise NotImplementedError("a Dataset subclass defines __getitem__(index)")

    def __len__(self):
        raise NotImplementedError("a Dataset subclass defines __len__()")


class TensorDataset(Dataset):
    """Arrays or Tensors with the same first dimension, indexed together (PyTorch's ``TensorDataset``).

    ``dataset[i]`` is the tuple ``(X[i], y[i], ...)``; ``i`` may be an index array.
    """

    fetches_batches = True

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        tensors = tuple(t if hasattr(t, "shape") else np.asarray(t) for t in tensors)
        n = tensors[0].shape[0] if tensors[0].ndim else None
        if any(t.ndim < 1 or t.shape[0] != n for t in tensors):
            raise ValueError(f"all arrays must have the same number of examples (first dimension), "
                             f"got shapes {[t.shape for t in tensors]}")
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


def default_collate(batch):
    """Join a list of samples into a batch: Tensors and arrays stacked along a new first axis, Python ints
    into an int64 Tensor and floats into a float64 one, tuples/lists and dicts field by field."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor(np.stack(batch))
    if isinstance(first, bool | int):
        return Tensor(np.array(batch, dtype=np.bool_ if isinstance(first, bool) else np.int64))
    if isinstance(first, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    return batch  # strings and other objects: the list as it is


class DataLoader:
    """Iterate over a data set in mini-batches, one epoch per ``for`` loop (PyTorch's ``DataLoader``).

    ``dataset`` is a map-style :class:`Dataset` (one sample per index, joined by ``collate_fn``), or one with
    ``fetches_batches = True`` such as a :class:`TensorDataset` (fetched a batch at a time, by an index array). With ``shuffle`` every epoch gets a new order;
    ``generator`` (an int seed or a ``numpy.random.Generator``, PyTorch's argument name) makes the sequence of
    epochs reproducible. ``seed=`` is the deprecated spelling of ``generator=``.

    Inputs: dataset; batch_size (>= 1); shuffle; drop_last (drop a last, smaller batch); collate_fn.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, *,
                 generator=None, collate_fn=None, seed=None):
        if seed is not None:
            deprecated("DataLoader(seed=...)", "DataLoader(generator=...)")
            generator = seed if generator is None else generator
        self.dataset = dataset
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self._rng = check_generator(generator)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        batched = getattr(self.dataset, "fetches_batches", False) and self.collate_fn is None
        arrays = [t.data if isinstance(t, Tensor) else t for t in getattr(self.dataset, "tensors", ())]
        xp = backend.get_array_module(*arrays) if arrays else np
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if batched:
                yield self.dataset[xp.asarray(idx)]
            else:
                yield (self.collate_fn or default_collate)([self.dataset[int(i)] for i in idx])
