"""The run folder of a search: layout, atomic writes, ownership lock and identity check.

Layout of ``runs/<study-name>/`` (or ``--out``)::

    run.json              which study and recipe this folder belongs to
    study.db              Optuna RDB storage (SQLite) unless --storage points elsewhere
    parent/               the cached float parent (content-addressed by the trainer)
    trials/<n>/design.json  the design (layers, bits, folding) priced for trial n
    pareto.json           the feasible Pareto front
    summary.json          what the search found (see hwprune.search)
    best/                 the chosen design after the final fine-tune (+ export when available)

Example:
    >>> import tempfile, json
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = atomic_write_json(d / "a" / "x.json", {"k": 1})
    >>> json.loads((d / "a" / "x.json").read_text())
    {'k': 1}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hwprune.atomic import atomic_write_json, atomic_write_text
from hwprune.errors import StorageError

RUN_META = "run.json"

__all__ = ["RunFolder", "atomic_write_json", "atomic_write_text", "folder_lock"]


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder.

    Example:
        >>> RunFolder(Path("runs/x")).trial_dir(3).as_posix()
        'runs/x/trials/3'
    """

    root: Path

    @property
    def db_path(self) -> Path:
        """SQLite file of the default storage."""
        return self.root / "study.db"

    @property
    def default_storage_url(self) -> str:
        """Optuna URL of the default SQLite storage."""
        return f"sqlite:///{self.db_path.resolve()}"

    @property
    def parent_dir(self) -> Path:
        """Cache folder of the float parent."""
        return self.root / "parent"

    @property
    def best_dir(self) -> Path:
        """Folder of the chosen design."""
        return self.root / "best"

    def trial_dir(self, number: int) -> Path:
        """Folder of trial ``number``'s artefacts."""
        return self.root / "trials" / str(number)

    @property
    def pareto_path(self) -> Path:
        """The Pareto front (JSON)."""
        return self.root / "pareto.json"

    @property
    def summary_path(self) -> Path:
        """The run summary (JSON)."""
        return self.root / "summary.json"

    def prepare(self) -> None:
        """Create the folder (and parents) or raise :class:`StorageError` saying why not."""
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(
                f"run folder '{self.root}' is a file; pass another --out or remove the file"
            )
        try:
            (self.root / "trials").mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise StorageError(
                f"cannot write to run folder '{self.root}' ({exc.strerror}); "
                "pass a writable --out folder"
            ) from None

    def check_identity(self, study_name: str, fingerprint: str, force: bool = False) -> None:
        """Refuse a folder that belongs to another study (or a different search space).

        The first call writes ``run.json``; later calls compare against it.
        """
        meta_path = self.root / RUN_META
        meta = {"study": study_name, "fingerprint": fingerprint}
        if meta_path.exists():
            try:
                old = json.loads(meta_path.read_text())
            except (OSError, json.JSONDecodeError):
                old = {}
            if old.get("study") not in (None, study_name) and not force:
                raise StorageError(
                    f"run folder '{self.root}' belongs to study '{old.get('study')}', not "
                    f"'{study_name}'; pass another --out or --study-name"
                )
            if old.get("fingerprint") not in (None, fingerprint) and not force:
                raise StorageError(
                    f"run folder '{self.root}' holds study '{study_name}' with a different "
                    "recipe (its space, data, model, constraints or training differ); pass "
                    "another --out, "
                    "or --study-name to start a new study"
                )
        atomic_write_json(meta_path, meta)


@contextlib.contextmanager
def folder_lock(root: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on ``root/.lock`` while the block runs.

    Yields True when this process got the lock (no other live process owns the folder; any
    trial left RUNNING in its private storage was therefore cut off), False otherwise. The
    kernel drops the lock when the process dies, even by SIGKILL.
    """
    import fcntl

    root.mkdir(parents=True, exist_ok=True)
    fh = open(root / ".lock", "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except OSError:
            got = False
        yield got
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
