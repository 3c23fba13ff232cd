"""PyTorch's ``torch.utils``: only :mod:`deepgrad.utils.data` (data sets and the ``DataLoader``)."""
from . import data

__all__ = ["data"]
