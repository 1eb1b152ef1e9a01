"""Reader and writer for the IDX format of MNIST / Fashion-MNIST (raw or gzip-compressed).

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <number of dims>``, then one
big-endian uint32 per dimension, then the values in C order, big-endian. Gzip compression is
recognised by its own magic bytes (``1f 8b``), not by the file name, so a renamed file still
reads. Every way the file can be wrong (missing, not IDX, unknown type, truncated, trailing
bytes, broken gzip stream) raises :class:`hwprune.errors.DataError` naming the file.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> write_idx(p, np.arange(5, dtype=np.uint8))
    >>> read_idx(p).tolist()
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from hwprune.errors import DataError

#: IDX type code -> numpy dtype (big-endian where it matters)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path, *, hint: str = "") -> np.ndarray:
    """Read an IDX file (raw or gzip) into a numpy array of its shape.

    The array is a read-only view on the file's bytes (``np.frombuffer``, no Python loop), in
    native byte order for multi-byte types. ``hint`` (how to get the file) is appended to every
    error message.

    Example:
        >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").shape
        ... # doctest: +SKIP
        (10000,)
    """
    path = Path(path)
    suffix = f"; {hint}" if hint else ""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist{suffix}") from None
    except OSError as exc:
        raise DataError(f"cannot read data file {path} ({exc.strerror}){suffix}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(
                f"data file {path} is a truncated or corrupt gzip file ({exc}); "
                f"delete it and get it again{suffix}"
            ) from None
    return parse_idx(raw, source=str(path), hint=hint)


def parse_idx(raw: bytes, *, source: str = "<bytes>", hint: str = "") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file; see :func:`read_idx`.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])).tolist()
        [7, 9]
    """
    suffix = f"; {hint}" if hint else ""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"data file {source} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
            f"delete it and get it again{suffix}"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise DataError(
            f"data file {source} has unknown IDX type code 0x{code:02x}; "
            f"delete it and get it again{suffix}"
        )
    if ndim == 0:
        raise DataError(
            f"data file {source} declares 0 dimensions; delete it and get it again{suffix}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"data file {source} is truncated inside its header; delete it and get it again{suffix}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a garbage header cannot overflow
    body = len(raw) - header
    if body < expected:
        raise DataError(
            f"data file {source} is truncated or corrupt: its header declares "
            f"{'x'.join(map(str, dims))} values "
            f"({expected} bytes) but only {body} bytes follow; delete it and get it again{suffix}"
        )
    if body > expected:
        raise DataError(
            f"data file {source} has {body - expected} unexpected bytes after its "
            f"{'x'.join(map(str, dims))} values; delete it and get it again{suffix}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in ``.gz``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx3-ubyte"
        >>> write_idx(p, np.zeros((2, 3, 3), np.uint8)); read_idx(p).shape
        (2, 3, 3)
    """
    path = Path(path)
    array = np.asarray(array)
    matches = [
        (c, d)
        for c, d in IDX_DTYPES.items()
        if d.kind == array.dtype.kind and d.itemsize == array.dtype.itemsize
    ]
    if not matches:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    code, dtype = matches[0]
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores 1..255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
