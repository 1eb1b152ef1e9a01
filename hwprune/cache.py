"""A content-addressed file cache that several worker processes can share.

An entry is a file or a folder named by the hash of what produced it (recipe, model spec,
dataset, seed, library versions ...). The first worker that misses builds the entry in a
temporary place and publishes it with one atomic rename; a worker never sees a half-written
entry. While one worker builds, the others on the same machine wait on an ``fcntl`` lock
instead of building the same thing again (on NFSv4 the lock is honoured across machines as
well; where it is not, two machines may both build, and the second rename simply replaces an
identical entry — correct, just wasted work).

Example:
    >>> import tempfile, pathlib
    >>> cache = FileCache(pathlib.Path(tempfile.mkdtemp()))
    >>> key = content_key({"model": "tfc", "seed": 0})
    >>> p = cache.get_or_create(key, lambda tmp: tmp.write_text("weights"), suffix=".txt")
    >>> p.read_text(), cache.get_or_create(key, lambda tmp: 1 / 0, suffix=".txt") == p
    ('weights', True)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprune.atomic import fsync_dir
from hwprune.errors import StorageError

__all__ = ["FileCache", "content_key", "file_lock"]

logger = logging.getLogger(__name__)

_KEY_CHARS = set("0123456789abcdefghijklmnopqrstuvwxyz-_.")


def content_key(parts: Any, *, length: int = 24) -> str:
    """Hash any JSON-serialisable description into a short hex key (stable across runs).

    Dict keys are sorted, so ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` give the same key.
    Objects JSON cannot encode (paths, tuples inside sets, ...) are encoded with ``str``.

    Example:
        >>> content_key({"a": 1, "b": [2, 3]}) == content_key({"b": [2, 3], "a": 1})
        True
        >>> len(content_key("x"))
        24
    """
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if missing) for the block.

    The lock is released when the block ends or the process dies (the kernel drops it), so a
    killed worker never leaves a stale lock behind. ``timeout=None`` waits forever.

    Example:
        >>> import tempfile, os
        >>> with file_lock(os.path.join(tempfile.mkdtemp(), "x.lock")):
        ...     pass
    """
    lock_path = Path(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"timed out waiting for the lock {lock_path}") from None
                    time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class FileCache:
    """A folder of content-addressed entries, safe to share between processes.

    Attributes:
        root: the cache folder (created on first use). Put it on a shared file system to share
            it between machines, or keep one per machine.

    Example:
        >>> import tempfile, pathlib
        >>> c = FileCache(pathlib.Path(tempfile.mkdtemp()))
        >>> c.path_for("abc123", ".pt").name
        'abc123.pt'
    """

    root: Path

    def path_for(self, key: str, suffix: str = "") -> Path:
        """The final path of entry ``key`` (whether or not it exists yet)."""
        if not key or not set(key.lower()) <= _KEY_CHARS or key.startswith("."):
            raise ValueError(f"invalid cache key {key!r}: use content_key(...) to make one")
        return Path(self.root) / f"{key}{suffix}"

    def lookup(self, key: str, suffix: str = "") -> Path | None:
        """The entry's path if it has been published, else ``None``."""
        path = self.path_for(key, suffix)
        return path if path.exists() else None

    def get_or_create(
        self,
        key: str,
        build_fn: Callable[[Path], object],
        *,
        suffix: str = "",
        lock_timeout: float | None = None,
    ) -> Path:
        """Return entry ``key``, building it with ``build_fn(tmp_path)`` if it is missing.

        ``build_fn`` receives a path that does not exist yet, inside the cache folder, and must
        create a file or a folder there; its return value is ignored. The entry is then published
        with one atomic rename. If ``build_fn`` raises, nothing is published, the temporary
        output is deleted and the exception propagates (the next caller tries again).

        Concurrency: the fast path (entry exists) takes no lock. On a miss the caller takes the
        entry's lock, looks again (another process may have published it meanwhile), and builds
        only if it is still missing; other callers for the same key wait for the lock and then
        find the entry.

        Example:
            >>> import tempfile, pathlib
            >>> c = FileCache(pathlib.Path(tempfile.mkdtemp()))
            >>> calls = []
            >>> build = lambda tmp: (calls.append(1), tmp.write_text("x"))
            >>> _ = c.get_or_create("k1", build); _ = c.get_or_create("k1", build)
            >>> len(calls)
            1
        """
        final = self.path_for(key, suffix)
        if final.exists():
            return final
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the cache folder {final.parent}: {exc.strerror}; "
                "choose a writable folder"
            ) from exc
        lock = final.parent / f".{final.name}.lock"
        waited = time.monotonic()
        with file_lock(lock, timeout=lock_timeout):
            if final.exists():
                logger.debug(
                    "cache hit for %s after waiting %.1f s", final.name, time.monotonic() - waited
                )
                return final
            tmp = final.parent / f".tmp-{final.name}.{os.getpid()}"
            _remove(tmp)
            logger.info("cache miss: building %s", final.name)
            try:
                build_fn(tmp)
                if not tmp.exists():
                    raise RuntimeError(f"the cache build function did not create {tmp}")
                _sync_tree(tmp)
                try:
                    os.replace(tmp, final)
                except OSError:
                    # A folder entry published meanwhile by a process that does not share our
                    # lock (another machine): keep the published one, it is equivalent.
                    if not final.exists():
                        raise
                    _remove(tmp)
            except BaseException:
                _remove(tmp)
                raise
            fsync_dir(final.parent)
        return final

    def entries(self) -> list[Path]:
        """Published entries (temporary and lock files excluded), sorted by name."""
        root = Path(self.root)
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sync_tree(path: Path) -> None:
    """fsync a file, or every file and folder below a folder."""
    items = [path] if path.is_file() else [path, *path.rglob("*")]
    for item in items:
        if item.is_dir():
            fsync_dir(item)
        elif item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
