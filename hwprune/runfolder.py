"""The run folder of a search: layout, atomic writes, ownership lock and identity check.

Layout of ``runs/<study-name>/`` (or ``--out``)::

    run.json              which study and recipe this folder belongs to (study, fingerprint,
                          epochs, cache_dir: the parent cache the latest search used)
    .lock                 held exclusively by the one `hwprune search` that owns the folder
    study.db              Optuna RDB storage (SQLite) unless --storage points elsewhere
    parent/               the cached float parent (content-addressed by the trainer)
    trials/<n>/design.json  the design (layers, bits, folding) priced for trial n
    pareto.json           the feasible Pareto front
    summary.json          what the search found (see hwprune.search)
    best/                 the chosen design after the final fine-tune (+ export when available),
                          replaced as a whole (never a mixture of two designs' files)

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
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprune.atomic import atomic_write_json, atomic_write_text
from hwprune.errors import StorageError

RUN_META = "run.json"

__all__ = [
    "RunFolder",
    "TrialClaim",
    "atomic_write_json",
    "atomic_write_text",
    "claim_path",
    "folder_lock",
    "safe_name",
    "trial_claim",
]

logger = logging.getLogger(__name__)


#: what a name may look like before it becomes a file or folder name: no separators, no
#: ``..``, no leading dot or dash, no control characters, at most 100 characters
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@,:-]{0,99}")


def safe_name(name: object, what: str = "name", *, hint: str = "") -> str:
    """Return ``name`` if it can be a file or folder name on its own, else raise.

    Every name that hwprune turns into a path (a study name -> ``runs/<study>``, a recipe or
    target name -> ``<name>.toml``, a design name) goes through here first, so no name can
    reach outside the folder meant for it (``../x``, ``/abs``, ``a/b``, ``.``, ``..``).
    Letters, digits and ``_ . + = @ , : -`` are allowed; raises
    :class:`~hwprune.errors.ConfigError` with one line otherwise.

    Example:
        >>> safe_name("digits-mlp-pynq-z2", "study name")
        'digits-mlp-pynq-z2'
        >>> safe_name("../x", "study name")
        Traceback (most recent call last):
        ...
        hwprune.errors.ConfigError: study name '../x' cannot be a file or folder name ...
    """
    from hwprune.errors import ConfigError

    text = name if isinstance(name, str) else ""
    if not _SAFE_NAME.fullmatch(text) or text in (".", ".."):
        shown = repr(name)[:80]
        raise ConfigError(
            f"{what} {shown} cannot be a file or folder name (it must be 1-100 letters, "
            f"digits or _ . + = @ , : - without '/', '..' or a leading dot); "
            f"{hint or 'rename it'}"
        )
    return text


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder.

    Example:
        >>> RunFolder(Path("runs/x")).trial_dir(3).as_posix()
        'runs/x/trials/3'
    """

    root: Path

    @classmethod
    def for_study(cls, out: str | Path | None, study_name: str, base: str = "runs") -> RunFolder:
        """``out`` when given, else ``<base>/<study_name>`` once the name is checked safe.

        Example:
            >>> RunFolder.for_study(None, "s1").root.as_posix()
            'runs/s1'
        """
        if out:
            return cls(Path(out))
        name = safe_name(study_name, "study name", hint="pass --study-name NAME or --out FOLDER")
        return cls(Path(base) / name)

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

    def meta(self) -> dict[str, Any]:
        """The content of ``run.json`` (empty when it is missing or unreadable)."""
        try:
            data = json.loads((self.root / RUN_META).read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def cache_dir(self) -> Path:
        """The float parent's cache folder the latest search of this folder used.

        ``run.json``'s ``cache_dir`` (a search run with ``--cache-dir``) when that folder still
        exists, else :attr:`parent_dir`.
        """
        recorded = self.meta().get("cache_dir")
        if isinstance(recorded, str) and recorded:
            if Path(recorded).is_dir():
                return Path(recorded)
            logger.warning(
                "the parent cache %s recorded in %s is gone; using %s",
                recorded,
                self.root / RUN_META,
                self.parent_dir,
            )
        return self.parent_dir

    def check_identity(
        self,
        study_name: str,
        fingerprint: str,
        force: bool = False,
        *,
        epochs: int | None = None,
        cache_dir: Path | None = None,
        record: bool = True,
        matches: Callable[[str, Any], bool] | None = None,
    ) -> None:
        """Refuse a folder that belongs to another study (or a different search space).

        The first call writes ``run.json``; later calls compare against it and record the
        latest ``epochs`` and ``cache_dir`` (absolute; ``None``: the folder's own ``parent/``)
        — only when ``record`` (the caller owns the folder). When the recipes differ in the
        per-trial fine-tune length (``budget.epochs``, part of the fingerprint), the message
        says so and how to resume. ``matches(stored, stored_budget)`` (default: equality)
        decides whether a stored fingerprint is this recipe's (see
        :meth:`hwprune.recipe.Recipe.matches_fingerprint`).
        """
        meta_path = self.root / RUN_META
        old = self.meta() if meta_path.exists() else {}
        if old.get("study") not in (None, study_name) and not force:
            raise StorageError(
                f"run folder '{self.root}' belongs to study '{old.get('study')}', not "
                f"'{study_name}'; pass another --out or --study-name"
            )
        stored = old.get("fingerprint")
        budget = {"epochs": old["epochs"]} if "epochs" in old else None
        same = stored is None or (
            matches(stored, budget) if matches is not None else stored == fingerprint
        )
        if not same and not force:
            before = old.get("epochs")
            if isinstance(before, int) and epochs is not None and before != epochs:
                raise StorageError(
                    f"run folder '{self.root}' holds study '{study_name}' whose trials were "
                    f"fine-tuned for {before} epochs each, not {epochs} (accuracies of "
                    f"different fine-tune lengths cannot share one front); resume it with "
                    f"--epochs {before} and its other settings, or pass another --out or "
                    "--study-name to start a new study"
                )
            raise StorageError(
                f"run folder '{self.root}' holds study '{study_name}' with a different "
                "recipe (its space, data, model, constraints, training or per-trial --epochs "
                "differ); pass another --out, or --study-name to start a new study"
            )
        if not record and meta_path.exists():
            return
        meta = {**old, "study": study_name, "fingerprint": fingerprint}
        if epochs is not None:
            meta["epochs"] = int(epochs)
        meta["cache_dir"] = None if cache_dir is None else str(Path(cache_dir).resolve())
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


def claim_path(storage_file: Path | None) -> Path | None:
    """The trial-claim lock file of a storage file (``None`` for a database server).

    ``<folder>/.<name>.claim`` next to a SQLite or journal file, so that every process using
    that storage finds the same lock, whatever its ``--out``.

    Example:
        >>> claim_path(Path("runs/x/study.db")).as_posix()
        'runs/x/.study.db.claim'
    """
    if storage_file is None:
        return None
    return storage_file.parent / f".{storage_file.name}.claim"


class TrialClaim:
    """An ``flock`` on a storage's claim file: who runs trials on that storage holds it.

    Every process that runs trials on a storage file (a search, each ``hwprune worker``)
    holds the claim *shared* (:meth:`share`) for as long as it may have a trial RUNNING. A
    search that owns the run folder asks for it *exclusively* (:meth:`try_exclusive`) before
    it treats the RUNNING trials of its private storage as cut off: the kernel grants that
    only when no other live process holds the claim, and it drops a dead process's claim,
    even after SIGKILL. Lock failures (a file system without ``flock``) never stop the run:
    :meth:`try_exclusive` then answers False (nothing proven) and :meth:`share` goes on
    without the lock.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / ".study.db.claim"
        >>> with trial_claim(p) as a, trial_claim(p) as b:
        ...     a.share()
        ...     b.try_exclusive()
        False
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: Any = None
        self.mode: str | None = None  # None, "shared" or "exclusive"

    def _flock(self, flags: int) -> bool:
        import fcntl

        if self.path is None:
            return False
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a+")  # noqa: SIM115 - held until release()
            fcntl.flock(self._fh.fileno(), flags)
            return True
        except OSError as exc:
            if not flags & fcntl.LOCK_NB:
                logger.warning("cannot lock %s (%s); going on without it", self.path, exc)
            return False

    def try_exclusive(self) -> bool:
        """Take the claim exclusively if no other live process holds it (never waits)."""
        import fcntl

        if self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
            self.mode = "exclusive"
            return True
        return False

    def share(self) -> None:
        """Hold the claim shared (waiting while a search holds it exclusively, milliseconds).

        An exclusive claim of this process is turned into a shared one.
        """
        import fcntl

        if self._flock(fcntl.LOCK_SH):
            self.mode = "shared"

    def release(self) -> None:
        """Drop the claim."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        self.mode = None


@contextlib.contextmanager
def trial_claim(path: Path | None) -> Iterator[TrialClaim]:
    """A :class:`TrialClaim` on ``path`` (see :func:`claim_path`), released after the block."""
    claim = TrialClaim(path)
    try:
        yield claim
    finally:
        claim.release()
