"""The Optuna side of a search: storage (:func:`open_storage`), the study and its sampler
(:func:`open_study`), trial claims and the re-queue of cut-off trials (:func:`requeue_cut_off`).

Example:
    >>> import optuna
    >>> isinstance(open_storage("sqlite:///:memory:"), optuna.storages.BaseStorage)
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwprune.errors import ConfigError, HwpruneError, StorageError
from hwprune.recipe import Recipe
from hwprune.runfolder import RunFolder, claim_path
from hwprune.targets import FpgaTarget, Target, as_target

if TYPE_CHECKING:  # pragma: no cover
    import optuna

logger = logging.getLogger("hwprune.search")


def open_storage(
    url: str | None,
    run_dir: str | Path | None = None,
    *,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> Any:
    """Optuna storage for ``url`` (``None``: ``<run_dir>/study.db``), with heartbeats.

    Delegates to :func:`hwprune.storage.open_storage`: SQLite, any SQLAlchemy URL
    (PostgreSQL ...), or a journal file (``journal:///path/file.log``); a worker that dies
    mid-trial has its trial failed and re-queued by the heartbeat of the others (a heartbeat
    every ``heartbeat_s`` seconds, default 30; stale after ``grace_s``, default 120, or 4x
    ``heartbeat_s`` when only that is given). Raises :class:`StorageError` with a one-line
    reason when the storage cannot be used.

    Example:
        >>> import optuna
        >>> isinstance(open_storage("sqlite:///:memory:"), optuna.storages.BaseStorage)
        True
    """
    from hwprune import storage as hs

    # None means "default"; 0 or a negative value is passed on and refused by open_storage
    interval = hs.DEFAULT_HEARTBEAT_INTERVAL if heartbeat_s is None else heartbeat_s
    if grace_s is not None:
        grace = grace_s
    else:
        grace = 4 * heartbeat_s if heartbeat_s else hs.DEFAULT_GRACE_PERIOD
    return hs.open_storage(url, run_dir=run_dir, heartbeat_interval=interval, grace_period=grace)


def _mask(url: str) -> str:
    """Hide a password in a storage URL."""
    from hwprune.storage import redact_url

    return redact_url(url)


def _claim_file(url: str, run: RunFolder) -> Path | None:
    """The trial-claim lock file of storage ``url`` (none for a database server).

    Keyed on the storage file, not on ``--out``: a worker joining ``<run>/study.db`` from
    any folder holds the same claim as the search that owns ``<run>``.
    """
    from hwprune.storage import parse_storage

    try:
        return claim_path(parse_storage(url, run_dir=run.root).path)
    except HwpruneError:  # a bad URL is reported by open_storage, with its reason
        return None


def requeue_cut_off(study: optuna.Study, own_storage: bool) -> list[int]:
    """Fail trials that were cut off and re-queue their parameters; returns their numbers.

    Cut off = ``FAIL`` with the ``interrupted`` mark (Ctrl-C), or ``RUNNING`` when
    ``own_storage`` is true. Each is re-queued once (the study remembers which).

    ``own_storage`` must be true only when no live process can be running a trial of this
    storage. :func:`search` proves it for the run folder's private SQLite file alone: it holds
    the folder lock (:func:`~hwprune.runfolder.folder_lock`) *and* the storage's trial claim
    exclusively (:class:`~hwprune.runfolder.TrialClaim`; every process that runs trials on a
    storage file, each ``hwprune worker`` included, holds that claim shared while it runs).
    Without that proof a RUNNING trial may belong to a live worker, here or on another machine,
    and is left to the heartbeats: a worker that finds a trial whose last heartbeat is older
    than the grace period fails and re-queues it (Optuna's stale-trial check, run before each
    trial by :func:`hwprune.workers.run_worker`).
    """
    from optuna.trial import TrialState

    done = set(study.user_attrs.get("requeued", []))
    storage = study._storage
    requeued = []
    for t in study.get_trials(deepcopy=False):
        if t.number in done:
            continue
        cut = (own_storage and t.state == TrialState.RUNNING) or (
            t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
        )
        if not cut:
            continue
        if t.state == TrialState.RUNNING:
            with contextlib.suppress(Exception):
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        if not t.params:
            continue
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
        requeued.append(t.number)
    if requeued:
        study.set_user_attr("requeued", sorted(done | set(requeued)))
        logger.info("re-queued cut-off trials %s", requeued)
    return requeued


def default_study_name(recipe: Recipe, target_name: str) -> str:
    """``<recipe>-<target>``, e.g. ``digits-mlp-pynq-z2``."""
    return f"{recipe.name}-{target_name}"


def _target_toml(target: Target) -> str:
    src = target.source
    with contextlib.suppress(OSError):
        if src and Path(src).is_file():
            return Path(src).read_text()
    return ""


def _make_sampler(recipe: Recipe, offset: int) -> Any:
    import optuna

    seed = recipe.seed + offset
    s = recipe.study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if s.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(population_size=s.population, seed=seed)
        if s.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=s.startup_trials, constant_liar=True
        )


def _sampler_salt(joining: bool) -> int:
    """Seed offset that keeps concurrent processes on one study from proposing the same trials.

    A lone ``hwprune search`` gets 0 (reproducible). Local workers started with ``--workers K``
    get their index (``HWPRUNE_WORKER_INDEX``); a worker joining by hand, possibly on another
    machine, gets a value from its host name and process id.
    """
    index = os.environ.get("HWPRUNE_WORKER_INDEX")
    if index is not None and index.isdigit():
        return 1_000_003 * (int(index) + 1)
    if joining:
        digest = hashlib.sha256(f"{socket.gethostname()}:{os.getpid()}".encode()).digest()
        return int.from_bytes(digest[:4], "big")
    return 0


def open_study(
    recipe: Recipe, target: Target | str | Path, storage: Any, study_name: str, create: bool = True
) -> optuna.Study:
    """Create or load ``study_name`` in ``storage`` (checking it is the same search).

    ``target`` is a loaded target or a name/path (loaded here).
    """
    import optuna

    target = as_target(target)

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    try:
        existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    except Exception as exc:  # noqa: BLE001
        raise StorageError(
            f"cannot read the study list from the storage ({exc}); check it"
        ) from None
    n_before = 0
    if study_name in existing:
        summ = existing[study_name]
        fp = summ.user_attrs.get("fingerprint")
        budget = (summ.user_attrs.get("recipe") or {}).get("budget")
        if fp is not None and not recipe.matches_fingerprint(fp, budget):
            before = budget.get("epochs") if isinstance(budget, dict) else None
            if isinstance(before, int) and before != recipe.budget.epochs:
                raise StorageError(
                    f"study '{study_name}' in this storage holds trials fine-tuned for {before} "
                    f"epochs each, not {recipe.budget.epochs} (accuracies of different fine-tune "
                    f"lengths cannot share one front); resume it with --epochs {before} and its "
                    "other settings, or pass --study-name NEW to start a new study"
                )
            raise StorageError(
                f"study '{study_name}' in this storage was created by a different recipe "
                "(its space, data, model, constraints or training differ); pass --study-name NEW "
                "or --out NEW"
            )
        n_before = summ.n_trials
    elif not create:
        raise StorageError(
            f"no study '{study_name}' in this storage; start it with `hwprune search` first "
            "or check --study"
        )
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        directions=recipe.directions(),
        sampler=_make_sampler(recipe, n_before + _sampler_salt(joining=not create)),
        load_if_exists=True,
    )
    if create:  # the latest budgets, so that workers joining later follow them
        study.set_user_attr("recipe", recipe.to_dict())
    if study_name not in existing:
        study.set_user_attr("fingerprint", recipe.fingerprint())
        study.set_user_attr("objectives", list(recipe.objectives))
        study.set_user_attr("target", target.name)
        study.set_user_attr("target_toml", _target_toml(target))
        from hwprune import __version__

        study.set_user_attr("hwprune_version", __version__)
    return study


#: FPGA resources: no meaning on a GPU target
_FPGA_ONLY = ("lut", "ff", "bram18", "dsp")


def resolve_objectives(recipe: Recipe, target: Target | str | Path) -> Recipe:
    """The objectives for ``target``: on a GPU target the default objectives (accuracy, fps,
    and LUTs when they are the recipe's default) become (accuracy, latency); other FPGA
    resource objectives there are a :class:`ConfigError`.

    Example:
        >>> from hwprune.targets import load_target
        >>> resolve_objectives(Recipe(), load_target("jetson-orin-nano")).objectives
        ('accuracy', 'latency_us')
    """
    target = as_target(target)
    if isinstance(target, FpgaTarget):
        return recipe
    objs = tuple(recipe.objectives)
    if objs in (("accuracy", "fps"), ("accuracy", "fps", "lut")):
        return recipe.with_overrides({"objectives": ["accuracy", "latency_us"]})
    fpga = [o for o in objs if o in _FPGA_ONLY]
    if fpga:
        raise ConfigError(
            f"objective {fpga[0]} counts FPGA resources, but '{target.name}' "
            "is a GPU target; use util (the memory fraction) or latency_us, e.g. "
            "--objectives accuracy,latency_us,util"
        )
    return recipe


def _target_from_study(attrs: Mapping[str, Any]) -> Target:
    from hwprune.targets import load_target

    name = attrs.get("target", "")
    text = attrs.get("target_toml", "")
    if not text:  # studies that did not store the file: the shipped target of that name
        return load_target(name)
    # the exact file the study was priced with (a user's --target-file may reuse a shipped name)
    import tempfile

    from hwprune.runfolder import safe_name

    # the stored name becomes a file name: checked, so a crafted study cannot write elsewhere
    stem = safe_name(name or "target", "target name stored in the study", hint="check --study")
    with tempfile.TemporaryDirectory(prefix="hwprune-target-") as d:
        p = Path(d) / f"{stem}.toml"
        p.write_text(text)
        return load_target(str(p))
