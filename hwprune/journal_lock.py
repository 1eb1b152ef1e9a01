"""The journal file's write lock, with its owner named, so that a dead owner's lock is broken
at once and a live owner's never.

Optuna's ``JournalFileSymlinkLock`` links ``<journal>.lock`` to the journal and judges a lock
stale when the *journal's* modification time has not changed for a grace period. When a
worker is killed while it holds the lock, every waiting worker reaches that verdict at the same
moment; the first breaks the lock and takes it, and a second, whose clock also ran out before
the first one wrote, breaks the *new* owner's lock too: two writers, and an owner that is told
at release that it "did not possess lock". Meanwhile no heartbeat can be written, so live
trials look dead.

:class:`OwnedSymlinkLock` keeps the symlink (an atomic create on every file system Optuna's
lock supports, NFS included) but points it at ``<host>:<pid>:<token>`` of its owner:

* an owner on this host whose process is gone is dead: its lock is broken at once;
* otherwise a lock is stale only when the symlink itself (``lstat``) is older than the grace
  period: a fresh lock is never mistaken for the dead one it replaced;
* breaking renames the link to a unique name and checks that it is still the link that was
  judged; a lock taken meanwhile by someone else is put back.

Example:
    >>> import tempfile
    >>> lock = OwnedSymlinkLock(tempfile.mktemp(suffix=".log"), grace_period=30)
    >>> lock.acquire(), lock.release()
    (True, None)
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid

from optuna.storages.journal._file import BaseJournalFileLock

_HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class OwnedSymlinkLock(BaseJournalFileLock):
    """``<path>.lock`` as a symlink naming its owner (see the module docstring).

    ``grace_period``: seconds after which a lock whose owner cannot be checked (another host)
    is broken; a lock of a dead process on this host is broken at once.
    """

    def __init__(self, path: str, grace_period: float = 30.0) -> None:
        self._lock_file = f"{path}.lock"
        self.grace_period = float(grace_period)
        self._me = ""

    def acquire(self) -> bool:
        """Take the lock, waiting (and breaking a dead owner's lock) as needed."""
        me = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        sleep = 0.001
        while True:
            try:
                os.symlink(me, self._lock_file)
                self._me = me
                return True
            except FileExistsError:
                owner = self._owner()
                if owner is not None and self._stale(owner):
                    self._break(owner)
                    sleep = 0.001
                    continue
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.2)

    def release(self) -> None:
        """Give the lock back; raises ``RuntimeError`` when this process no longer holds it."""
        if self._owner() != self._me:
            raise RuntimeError(f"did not possess the lock {self._lock_file}")
        os.unlink(self._lock_file)

    def _owner(self) -> str | None:
        try:
            return os.readlink(self._lock_file)
        except OSError:
            return None

    def _stale(self, owner: str) -> bool:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host == _HOST and pid.isdigit() and not _alive(int(pid)):
            return True
        try:
            age = time.time() - os.lstat(self._lock_file).st_mtime
        except OSError:
            return False  # released meanwhile
        return age > self.grace_period

    def _break(self, owner: str) -> None:
        aside = f"{self._lock_file}.{uuid.uuid4().hex}.broken"
        try:
            os.rename(self._lock_file, aside)
        except OSError:
            return  # someone else broke or released it
        try:
            taken = os.readlink(aside)
        finally:
            os.unlink(aside)
        if taken != owner:  # a new owner's lock was taken aside: put it back
            with contextlib.suppress(FileExistsError):
                os.symlink(taken, self._lock_file)
