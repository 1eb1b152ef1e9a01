"""Download helper for the file-based datasets, with SHA-256 checks.

(This module is ``hwprune.data.remote``; ``hwprune.data.download`` is its :func:`download`.)

For machines with internet only: nothing in hwprune downloads at run time by itself, and the
tests replace :func:`fetch_url`. ``hwprune data download NAME --dir D`` calls :func:`download`;
afterwards ``--data-dir D`` finds the files.

Where the checksums come from (all restated from public sources, none invented):

- MNIST: SHA-256 and sizes as listed by TensorFlow Datasets' ``url_checksums/mnist.txt`` for the
  CVDF mirror; MD5s as listed by torchvision for the same four files (identical sizes).
- Fashion-MNIST: SHA-256 and sizes from TensorFlow Datasets' ``url_checksums/fashion_mnist.txt``;
  MD5s from the Fashion-MNIST README. Debian's ``dataset-fashion-mnist`` ships the same images
  re-wrapped in gzip (no stored file name, new time stamp: each file exactly 24 bytes smaller), so
  its ``.gz`` files do not match these hashes; ``content_sha256`` is the hash of the
  *decompressed* IDX bytes, measured here on the Debian files, and :func:`verify` accepts either.
- CIFAR-10 (python version): MD5 and size from the CIFAR-10 page / torchvision, SHA-256 as
  published alongside it in several public download scripts.

Example:
    >>> from hwprune.data.remote import SOURCES
    >>> [f.filename for f in SOURCES["mnist"].files][:2]
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwprune.errors import ConfigError, DataError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where to get it and what it must hash to."""

    filename: str
    urls: tuple[str, ...]
    sha256: str
    size: int
    md5: str | None = None
    #: SHA-256 of the decompressed bytes (for repackaged copies such as Debian's); optional
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSource:
    """The remote files of a dataset, and what to do with them once fetched."""

    name: str
    files: tuple[RemoteFile, ...]
    #: tar archives are unpacked into the target folder after verification
    extract: bool = False


def _mnist_file(name: str, sha256: str, size: int, md5: str) -> RemoteFile:
    return RemoteFile(
        filename=name,
        urls=(
            f"https://storage.googleapis.com/cvdf-datasets/mnist/{name}",
            f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}",
        ),
        sha256=sha256,
        size=size,
        md5=md5,
    )


def _fashion_file(name: str, sha256: str, size: int, md5: str, content_sha256: str) -> RemoteFile:
    return RemoteFile(
        filename=name,
        urls=(
            f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{name}",
            f"https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/{name}",
        ),
        sha256=sha256,
        size=size,
        md5=md5,
        content_sha256=content_sha256,
    )


SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        "mnist",
        (
            _mnist_file(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            ),
            _mnist_file(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
                "d53e105ee54ea40749a09fcbcd1e9432",
            ),
            _mnist_file(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
                "9fb629c4189551a2d022fa330f9573f3",
            ),
            _mnist_file(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
                "ec29112dd5afa0611ce80d1b7f02629c",
            ),
        ),
    ),
    "fashion-mnist": DatasetSource(
        "fashion-mnist",
        (
            _fashion_file(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26421880,
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            _fashion_file(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29515,
                "25c81989df183df01b3e8a0aad5dffbe",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            _fashion_file(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4422102,
                "bef4ecab320f06d8554ea6380940ec79",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            _fashion_file(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5148,
                "bb300cfdad3c16e7a12a480ee83cd310",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ),
    ),
    "cifar10": DatasetSource(
        "cifar10",
        (
            RemoteFile(
                filename="cifar-10-python.tar.gz",
                urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                size=170498071,
                md5="c58f30108f718f92721af3b95e74349a",
            ),
        ),
        extract=True,
    ),
}


def fetch_url(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Stream ``url`` into the file ``dest`` (the one function that touches the network).

    Example:
        >>> fetch_url("https://example.org/x.gz", Path("/tmp/x.gz"))  # doctest: +SKIP
    """
    with urllib.request.urlopen(url, timeout=timeout) as resp, dest.open("wb") as out:  # noqa: S310
        shutil.copyfileobj(resp, out, _CHUNK)


def file_digest(path: Path, algorithm: str = "sha256", *, decompress: bool = False) -> str:
    """Hex digest of a file (of its gunzipped bytes when ``decompress``), read in chunks.

    Example:
        >>> file_digest(Path("/etc/hostname"))  # doctest: +SKIP
        '3f2a...'
    """
    import gzip

    h = hashlib.new(algorithm)
    opener = gzip.open if decompress else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _source(name: str) -> DatasetSource:
    if name not in SOURCES:
        raise ConfigError(
            f"no download is known for dataset '{name}'; downloadable: {', '.join(sorted(SOURCES))}"
        )
    return SOURCES[name]


def _matches(path: Path, spec: RemoteFile) -> str | None:
    """How ``path`` matches ``spec`` ('sha256' or 'content sha256'), or None if it does not."""
    if path.stat().st_size == spec.size and file_digest(path) == spec.sha256:
        return "sha256"
    if spec.content_sha256 is not None:
        try:
            if file_digest(path, decompress=True) == spec.content_sha256:
                return "content sha256"
        except (OSError, EOFError):
            return None
    return None


def verify(name: str, directory: str | Path) -> dict[str, str]:
    """Check the files of ``name`` in ``directory``; map file name -> 'ok (...)' / problem.

    Example:
        >>> verify("fashion-mnist", "/usr/share/datasets/fashion-mnist")  # doctest: +SKIP
        {'train-images-idx3-ubyte.gz': 'ok (content sha256)', ...}
    """
    directory = Path(directory)
    status: dict[str, str] = {}
    for spec in _source(name).files:
        path = directory / spec.filename
        if not path.is_file():
            status[spec.filename] = "missing"
            continue
        how = _matches(path, spec)
        status[spec.filename] = f"ok ({how})" if how else "checksum mismatch"
    return status


def download(
    name: str,
    directory: str | Path,
    *,
    force: bool = False,
    fetch: Callable[[str, Path], None] | None = None,
) -> list[Path]:
    """Download dataset ``name`` into ``directory``, verify every file, unpack archives.

    Files already present with the right checksum are kept (unless ``force``). A file whose
    size or SHA-256 is wrong is deleted and the next mirror is tried; when no mirror gives the
    right bytes a :class:`DataError` names the file, the expected and the received hash.
    ``fetch(url, dest)`` defaults to :func:`fetch_url`. Returns the verified files.

    Example:
        >>> download("mnist", "data/mnist")  # doctest: +SKIP
        [PosixPath('data/mnist/train-images-idx3-ubyte.gz'), ...]
    """
    source = _source(name)
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create data folder {directory} ({exc.strerror}); choose a writable --dir"
        ) from None
    fetch = fetch or fetch_url
    done: list[Path] = []
    for spec in source.files:
        path = directory / spec.filename
        if not force and path.is_file() and _matches(path, spec):
            log.info("%s: already present and verified", path)
            done.append(path)
            continue
        _fetch_verified(spec, path, fetch)
        done.append(path)
        if source.extract:
            _extract(path, directory)
    return done


def _fetch_verified(spec: RemoteFile, path: Path, fetch: Callable[[str, Path], None]) -> None:
    part = path.with_name(path.name + ".part")
    problems: list[str] = []
    for url in spec.urls:
        log.info("downloading %s", url)
        try:
            fetch(url, part)
        except OSError as exc:  # URLError, HTTPError, timeouts are OSErrors
            problems.append(f"{url}: {exc}")
            part.unlink(missing_ok=True)
            continue
        size = part.stat().st_size if part.is_file() else -1
        digest = file_digest(part) if size >= 0 else "nothing written"
        if size == spec.size and digest == spec.sha256:
            part.replace(path)
            return
        problems.append(f"{url}: got {size} bytes with SHA-256 {digest}")
        part.unlink(missing_ok=True)
    raise DataError(
        f"could not get a verified {spec.filename} (expected {spec.size} bytes with SHA-256 "
        f"{spec.sha256}; {'; '.join(problems)}); check the network or place the file in "
        f"{path.parent} by hand"
    )


def _extract(archive: Path, directory: Path) -> None:
    """Unpack a verified tar archive, refusing members that would land outside ``directory``."""
    log.info("extracting %s", archive)
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(directory, filter="data")
            else:  # pragma: no cover - Python < 3.10.12
                root = directory.resolve()
                for member in tar.getmembers():
                    target = (directory / member.name).resolve()
                    if root not in target.parents or not (member.isfile() or member.isdir()):
                        raise DataError(
                            f"archive {archive} has unsafe member {member.name}; "
                            f"delete it and download again"
                        )
                tar.extractall(directory)  # noqa: S202
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot unpack {archive} ({exc}); delete it and download again") from None
