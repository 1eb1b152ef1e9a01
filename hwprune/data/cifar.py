"""CIFAR-10 from its "python version" pickle batches (``data_batch_1..5``, ``test_batch``).

The folder given as ``--data-dir`` may hold the six batch files directly, the unpacked
``cifar-10-batches-py/`` folder, or just the downloaded ``cifar-10-python.tar.gz`` (read in place,
not unpacked). Each batch is a pickled dict with ``data`` (uint8, N x 3072: 1024 red, 1024 green,
1024 blue values, each a row-major 32x32 plane, so it reshapes straight to NCHW) and ``labels``
(N ints in 0..9). The 50k training images become train + validation (10%, seeded), the 10k test
images the test split.

Pickles can run code when loaded, so batches are read with a restricted unpickler that only
rebuilds numpy arrays and plain containers; anything else is refused as a corrupt file.

Example:
    >>> from hwprune.data import load_dataset
    >>> ds = load_dataset("cifar10", data_dir="data/cifar10")  # doctest: +SKIP
    >>> ds.input_shape, len(ds.train), len(ds.test)  # doctest: +SKIP
    ((3, 32, 32), 45000, 10000)
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.data.base import DatasetSplits, register, split_arrays
from hwprune.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_DIR = "cifar-10-batches-py"
HOW_TO_GET = "get it with `hwprune data download cifar10 --dir DIR` and pass --data-dir DIR"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and builtin containers only."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR-10 batch pickle into (uint8 N x 3 x 32 x 32 images, int64 labels).

    Example:
        >>> import pickle
        >>> raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 4]})
        >>> x, y = read_batch(raw, "demo"); x.shape, y.tolist()
        ((2, 3, 32, 32), [3, 4])
    """
    try:
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as exc:  # any failure to decode is a corrupt file, whatever it raised
        raise DataError(
            f"CIFAR-10 batch {source} is truncated or not a CIFAR pickle ({type(exc).__name__}: "
            f"{exc}); delete it and {HOW_TO_GET}"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(
            f"CIFAR-10 batch {source} holds a {type(obj).__name__}, not a dict; "
            f"delete it and {HOW_TO_GET}"
        )
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    if "data" not in d or "labels" not in d:
        raise DataError(
            f"CIFAR-10 batch {source} lacks 'data' or 'labels' (keys: "
            f"{sorted(map(str, d))}); is it CIFAR-100? {HOW_TO_GET}"
        )
    data = np.asarray(d["data"])
    labels = np.asarray(d["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"CIFAR-10 batch {source} has data {data.dtype} {data.shape}, expected "
            f"uint8 (N, 3072); delete it and {HOW_TO_GET}"
        )
    if labels.ndim != 1 or len(labels) != len(data) or labels.dtype.kind not in "iu":
        raise DataError(
            f"CIFAR-10 batch {source} has {len(data)} images but labels of shape "
            f"{labels.shape} ({labels.dtype}); delete it and {HOW_TO_GET}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(
            f"CIFAR-10 batch {source} has labels outside 0..9; delete it and {HOW_TO_GET}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


class _Py2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Pickler that writes ``bytes`` as Python 2 strings, as the real CIFAR-10 batches hold them."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<I", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def write_batch(path: str | Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write uint8 (N, 3, 32, 32) images and labels as a CIFAR-10 batch pickle.

    The file has the layout of the real batches (written by Python 2): protocol 2, keys and the
    pixel buffer as Python 2 strings, arrays rebuilt by ``numpy.core.multiarray._reconstruct``.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "test_batch"
        >>> write_batch(p, np.zeros((1, 3, 32, 32), np.uint8), np.array([7]))
        >>> read_batch(p.read_bytes(), str(p))[1].tolist()
        [7]
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    payload = {
        b"batch_label": b"written by hwprune",
        b"labels": [int(v) for v in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    buf = io.BytesIO()
    _Py2StylePickler(buf, protocol=2).dump(payload)
    raw = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    Path(path).write_bytes(raw)


def _read_all(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    names = (*TRAIN_BATCHES, TEST_BATCH)
    for folder in (directory, directory / ARCHIVE_DIR):
        if all((folder / n).is_file() for n in names):
            out = {}
            for n in names:
                try:
                    raw = (folder / n).read_bytes()
                except OSError as exc:
                    raise DataError(
                        f"cannot read CIFAR-10 batch {folder / n} ({exc.strerror}); {HOW_TO_GET}"
                    ) from None
                out[n] = read_batch(raw, str(folder / n))
            return out
    archive = directory / ARCHIVE
    if archive.is_file():
        return _read_archive(archive, names)
    present = [
        n for n in names if (directory / n).is_file() or (directory / ARCHIVE_DIR / n).is_file()
    ]
    missing = [n for n in names if n not in present]
    raise DataError(
        f"CIFAR-10 batch file {directory / missing[0]} not found (missing: {', '.join(missing)}; "
        f"nor is there {archive}); {HOW_TO_GET}"
    )


def _read_archive(
    archive: Path, names: tuple[str, ...]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    try:
        with tarfile.open(archive) as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for n in names:
                if n not in members:
                    raise DataError(
                        f"archive {archive} has no member {n}; delete it and {HOW_TO_GET}"
                    )
                fh = tar.extractfile(members[n])
                assert fh is not None
                out[n] = read_batch(fh.read(), f"{archive}:{members[n].name}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"archive {archive} is truncated or corrupt ({exc}); delete it and {HOW_TO_GET}"
        ) from None
    return out


@register("cifar10")
def load_cifar10(data_dir: Path | None, seed: int) -> DatasetSplits:
    """CIFAR-10 (50k/10k, 3x32x32) from the python pickle batches in ``data_dir``."""
    if data_dir is None:
        raise DataError(f"dataset cifar10 needs its files: {HOW_TO_GET}")
    batches = _read_all(data_dir)
    xtr = np.concatenate([batches[n][0] for n in TRAIN_BATCHES])
    ytr = np.concatenate([batches[n][1] for n in TRAIN_BATCHES])
    xte, yte = batches[TEST_BATCH]

    def unit(x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float32)
        out /= np.float32(255.0)  # division keeps x * 255 an exact integer
        return out

    return split_arrays(
        "cifar10", unit(xtr), ytr, unit(xte), yte, seed=seed, input_scale=255.0, num_classes=10
    )
