"""Dataset containers, the loader registry and the seeded splitting shared by every loader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hwprune.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """One split: images ``x`` (N, C, H, W) float32 in [0, 1] and labels ``y`` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset split into train, validation and test, with what a model needs to know."""

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, int, int]
    num_classes: int
    #: levels of the source pixels (``x * input_scale`` is an integer); 255 for 8-bit images
    input_scale: float = 255.0

    @property
    def input_size(self) -> int:
        """Number of input values per sample (C*H*W)."""
        c, h, w = self.input_shape
        return c * h * w


Loader = Callable[..., DatasetSplits]
_REGISTRY: dict[str, Loader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    """Register loader ``fn(data_dir: Path | None, seed: int) -> DatasetSplits`` as ``name``."""

    def deco(fn: Loader) -> Loader:
        _REGISTRY[name] = fn
        return fn

    return deco


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    _import_loaders()
    return sorted(_REGISTRY)


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0) -> DatasetSplits:
    """Load dataset ``name`` with deterministic splits for ``seed``.

    Raises :class:`hwprune.errors.DataError` naming the file and how to get it when data is
    missing or corrupt, and :class:`hwprune.errors.ConfigError` for an unknown name.
    """
    _import_loaders()
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown dataset '{name}'; choose one of: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](Path(data_dir) if data_dir is not None else None, seed)


def split_arrays(
    name: str,
    x_trainval: np.ndarray,
    y_trainval: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    *,
    seed: int,
    input_scale: float,
    num_classes: int,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> DatasetSplits:
    """Turn NCHW float arrays into seeded splits.

    When the source has no test set (``x_test is None``), ``test_fraction`` of the samples are
    held out as test; ``val_fraction`` of the remainder become validation. Splits are
    stratified-free permutations seeded by ``seed``, so the same seed gives the same split.
    """
    rng = np.random.default_rng(seed)
    x_trainval = np.ascontiguousarray(x_trainval, dtype=np.float32)
    y_trainval = np.asarray(y_trainval, dtype=np.int64)
    order = rng.permutation(len(y_trainval))
    if x_test is None:
        n_test = int(round(test_fraction * len(order)))
        test_idx, order = order[:n_test], order[n_test:]
        x_test, y_test = x_trainval[test_idx], y_trainval[test_idx]
    n_val = int(round(val_fraction * len(order)))
    val_idx, train_idx = order[:n_val], order[n_val:]

    def mk(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            torch.from_numpy(np.asarray(y, dtype=np.int64)),
        )

    shape = tuple(int(s) for s in x_trainval.shape[1:])
    assert len(shape) == 3, f"{name}: expected NCHW arrays, got shape {x_trainval.shape}"
    return DatasetSplits(
        name=name,
        train=mk(x_trainval[train_idx], y_trainval[train_idx]),
        val=mk(x_trainval[val_idx], y_trainval[val_idx]),
        test=mk(x_test, y_test),  # type: ignore[arg-type]
        input_shape=shape,  # type: ignore[arg-type]
        num_classes=num_classes,
        input_scale=input_scale,
    )


def _import_loaders() -> None:
    """Import the loader modules so that they register themselves."""
    from hwprune.data import cifar, digits, mnist  # noqa: F401
