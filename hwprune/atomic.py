"""Atomic writes: a file (or a folder) is either absent or complete, never half-written.

Every artefact that several workers (or a crash) could observe half-made — a trial's design
JSON, a checkpoint, a cached parent model, a whole trial folder — is written to a temporary
name in the same folder, flushed to disk and then renamed over the final name with
:func:`os.replace`. A rename inside one file system is atomic on POSIX (and on NFS, for one
client): a reader sees the old file, or no file, or the new complete file.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = atomic_write_json(d / "design.json", {"layers": []})
    >>> (d / "design.json").read_text()
    '{\\n  "layers": []\\n}\\n'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_dir",
    "atomic_path",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "clean_stale_temps",
    "fsync_dir",
]

logger = logging.getLogger(__name__)

_TMP_PREFIX = ".tmp-"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entry table to disk so a rename inside it survives a power cut.

    Silently does nothing on file systems that cannot open folders for syncing.

    Example:
        >>> fsync_dir(".")
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _temp_name(final: Path, *, directory: bool = False) -> Path:
    """A fresh, unused temporary path next to ``final`` (same folder, so same file system)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{final.name}.", dir=final.parent)
        # mkdtemp makes 0700 folders; give the final folder the permissions a plain mkdir() would
        os.chmod(tmp, 0o777 & ~_UMASK)
        return Path(tmp)
    fd, name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{final.name}.", dir=final.parent)
    os.close(fd)
    # mkstemp makes 0600 files; give the final file the permissions a plain open() would
    os.chmod(name, 0o666 & ~_UMASK)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces ``path`` atomically.

    The caller writes the temporary file however it likes (a library that wants a file name,
    e.g. ``onnx.save``). If the block raises, the temporary file is removed and ``path`` is left
    untouched.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_bytes(b"ok")
        >>> out.read_bytes()
        b'ok'
    """
    final = Path(path)
    tmp = _temp_name(final)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(final.parent)


def _write_with(path: str | os.PathLike[str], mode: str, write: Callable[[IO[Any]], None]) -> Path:
    final = Path(path)
    with atomic_path(final) as tmp, open(tmp, mode) as fh:
        write(fh)
        fh.flush()
    return final


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    Example:
        >>> import tempfile, pathlib
        >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "x.bin", b"abc")
        >>> p.read_bytes()
        b'abc'
    """
    return _write_with(path, "wb", lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path.

    Example:
        >>> import tempfile, pathlib
        >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "n.txt", "hi").read_text()
        'hi'
    """
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> Path:
    """Serialise ``obj`` as JSON (with a final newline) into ``path`` atomically.

    Example:
        >>> import tempfile, pathlib, json
        >>> p = atomic_write_json(pathlib.Path(tempfile.mkdtemp()) / "d.json", {"fps": 1.5})
        >>> json.loads(p.read_text())
        {'fps': 1.5}
    """
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n"
    return atomic_write_text(path, text)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)``, atomically (a crash never leaves a truncated checkpoint).

    Example:
        >>> import tempfile, pathlib, torch
        >>> p = atomic_torch_save({"w": torch.ones(2)}, pathlib.Path(tempfile.mkdtemp()) / "c.pt")
        >>> torch.load(p)["w"].tolist()
        [1.0, 1.0]
    """
    import torch

    final = Path(path)
    with atomic_path(final) as tmp:
        torch.save(obj, tmp)
    return final


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    owned: Collection[str] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``path`` in one rename.

    Use it for an artefact made of several files (a trial folder, an HLS project): readers see
    the whole folder or none of it. If ``path`` already exists it is replaced when ``overwrite``
    is true (the old folder is moved aside first; the swap itself is two renames, so a crash
    between them leaves the old folder under a ``.tmp-`` name and no ``path``, never a
    mixture); otherwise :class:`FileExistsError` is raised. If the block raises, the temporary
    folder is deleted and ``path`` is left untouched.

    Only what hwprune wrote is deleted with the old folder: the entries named in ``owned``
    (the names the caller writes there; ``None``: the entries that were there when the block
    started, which the caller has vouched for, and every name the new folder holds). Anything
    else in the old folder — a user's file, or one dropped in while the block ran — is moved
    into the new folder.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "trial_0"
        >>> with atomic_dir(out) as tmp:
        ...     _ = (tmp / "design.json").write_text("{}")
        >>> sorted(p.name for p in out.iterdir())
        ['design.json']
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists")
    before = _entries(final)
    tmp = _temp_name(final, directory=True)
    try:
        yield tmp
        for sub in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            fsync_dir(sub)
        try:
            os.replace(tmp, final)  # works when ``final`` is absent or an empty folder
        except OSError:
            if not final.exists():
                raise
            if not overwrite:
                raise FileExistsError(f"{final} already exists") from None
            old = _temp_name(final, directory=True)
            old.rmdir()
            os.replace(final, old)
            os.replace(tmp, final)
            _dispose_old(old, final, set(owned) if owned is not None else before)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)


def _entries(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir() if not p.name.startswith(_TMP_PREFIX)}
    except OSError:
        return set()


def _dispose_old(old: Path, final: Path, ours: set[str]) -> None:
    """Delete the replaced folder ``old``, but move what hwprune did not write into ``final``.

    A name the new folder holds is hwprune's (it has just written it) and is replaced.
    """
    foreign = sorted(_entries(old) - ours - _entries(final))
    for name in foreign:
        os.replace(old / name, final / name)
    if foreign:
        logger.info("kept %s in %s (not written by hwprune)", ", ".join(foreign[:3]), final)
    shutil.rmtree(old, ignore_errors=True)


def clean_stale_temps(
    folder: str | os.PathLike[str],
    *,
    older_than_s: float = 3600.0,
    finals: Collection[str] | None = None,
) -> int:
    """Delete ``.tmp-*`` leftovers of writes that a crash (SIGKILL) cut off; return how many.

    Only entries with hwprune's temporary prefix, directly in ``folder``, whose last change is
    older than ``older_than_s`` seconds are removed: a live writer's temporary name is fresh
    (it is created and renamed within one write), so a concurrent worker's work in progress is
    never touched. ``finals`` limits the cleaning to temporaries of those final names (e.g.
    ``{"best"}`` removes ``.tmp-best.*`` only).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); (d / ".tmp-x.1").mkdir()
        >>> clean_stale_temps(d, older_than_s=0.0)
        1
    """
    import time

    root = Path(folder)
    removed = 0
    now = time.time()
    try:
        entries = [
            p
            for p in root.iterdir()
            if p.name.startswith(_TMP_PREFIX)
            and (finals is None or p.name[len(_TMP_PREFIX) :].rsplit(".", 1)[0] in finals)
        ]
    except OSError:
        return 0
    for p in entries:
        try:
            if now - p.lstat().st_mtime < older_than_s:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed += 1
        except OSError as exc:
            logger.debug("could not remove stale %s: %s", p, exc)
    if removed:
        logger.info(
            "removed %d stale temporary entr%s in %s", removed, "y" if removed == 1 else "ies", root
        )
    return removed
