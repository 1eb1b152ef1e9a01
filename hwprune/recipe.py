"""Search recipes: ``search/*.toml`` plus command-line overrides, validated with clear errors.

A recipe says *what* to search: the dataset, the base model, the search space (channel counts
per prunable layer, weight and activation bits per layer), the objectives, the hardware
constraints, the budgets, the pruning criterion, the distillation settings and the seed. It is a
TOML file with a few tables; every field has a default, so a recipe only lists what differs::

    name = "digits-mlp"
    dataset = "digits"
    model = "mlp-digits"

    [space]
    wbits = [1, 2, 3, 4, 6, 8]

    [budget]
    trials = 24
    epochs = 4

Every field can be overridden from the command line with its dotted name
(``--set budget.trials=40``) or with one of the named flags (``--trials 40``, see
:data:`FLAG_FIELDS`). A field that does not exist, or a value of the wrong type or out of
range, raises :class:`hwprune.errors.ConfigError` naming the field.

Example:
    >>> from hwprune.recipe import load_recipe
    >>> r = load_recipe("digits-mlp", overrides={"budget.trials": 5})
    >>> r.budget.trials, r.dataset, r.model
    (5, 'digits', 'mlp-digits')
    >>> try:
    ...     load_recipe("digits-mlp", overrides={"budget.trails": 5})
    ... except Exception as exc:
    ...     print(str(exc)[:70])
    unknown recipe field 'budget.trails' in command line; did you mean 'bu
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from hwprune.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_RECIPE = "digits-mlp"

#: objective name -> optimisation direction
OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize",
    "fps": "maximize",
    "latency_us": "minimize",
    "lut": "minimize",
    "ff": "minimize",
    "bram18": "minimize",
    "dsp": "minimize",
    #: the fraction of the device its binding resource uses (FPGA: max of LUT, FF, BRAM18, DSP
    #: over the device's; GPU: memory over the device's)
    "util": "minimize",
}
SAMPLERS = ("tpe", "nsga2", "random")
FOLDING_MODES = ("auto", "fastest", "smallest")
SELECT_RULES = ("max-accuracy", "knee", "max-fps", "min-resources")
CRITERIA = ("l1", "bn", "taylor", "activation")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class ParentConfig:
    """How the float parent is trained (once; cached on disk)."""

    epochs: int = 40
    lr: float = 0.01
    optimizer: str = "adam"
    #: L1 on BatchNorm scales while training the parent ("network slimming"); 0 disables it
    bn_l1: float = 0.0


@dataclass(frozen=True)
class SpaceConfig:
    """The search space.

    Channel counts offered for a prunable layer of parent width ``W`` are the multiples of
    ``channel_step`` from the floor up to ``W`` (``W`` itself is always offered). The floor is
    ``max(min_channels, min_ratio * W)`` rounded up to a multiple of the step. ``channel_step =
    0`` picks a divisor-friendly step from ``W`` (4 below 32, 8 below 128, 16 above), so that
    many PE/SIMD values divide the channel count.
    """

    channel_step: int = 0
    min_channels: int = 4
    min_ratio: float = 0.125
    #: search the channel counts (false: keep the parent's widths, search bits only)
    prune: bool = True
    #: weight bits offered for every layer (head included)
    wbits: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    #: activation (output) bits offered for every hidden layer
    abits: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    #: weight bits offered for the classifier head (empty: same as ``wbits``)
    head_wbits: tuple[int, ...] = ()
    #: one weight/activation width per layer (false: one shared pair for the whole network)
    per_layer_bits: bool = True
    input_bits: int = 8


@dataclass(frozen=True)
class ConstraintsConfig:
    """Hard constraints; 0 (or 0.0) means "no constraint"."""

    min_fps: float = 0.0
    max_latency_us: float = 0.0
    max_lut: int = 0
    max_ff: int = 0
    max_bram18: int = 0
    max_dsp: int = 0
    #: GPU targets: weights + peak activations (MB)
    max_memory_mb: float = 0.0
    #: minimum validation accuracy (0..1) of a trained candidate
    min_accuracy: float = 0.0
    #: utilisation cap of the target's resources (0: the target file's default)
    util_cap: float = 0.0


@dataclass(frozen=True)
class BudgetConfig:
    """How much work the search may do."""

    trials: int = 24
    #: QAT fine-tune epochs per trial
    epochs: int = 4
    #: fine-tune epochs of the chosen design after the search
    final_epochs: int = 12
    #: stop the search after this many seconds (0: no limit); running trials finish
    timeout: float = 0.0
    #: early-stopping patience on the validation accuracy inside one fine-tune (0: off)
    patience: int = 0
    #: torch CPU threads per process (0: torch's default). Small nets train fastest on 1
    #: thread; more threads only pay off for conv nets with wide layers.
    threads: int = 0


@dataclass(frozen=True)
class PruneConfig:
    """Channel importance used to choose which channels a candidate keeps."""

    criterion: str = "l1"


@dataclass(frozen=True)
class KdConfig:
    """Knowledge distillation from the float parent during the QAT fine-tune."""

    alpha: float = 0.5
    temperature: float = 4.0
    lr: float = 0.005


@dataclass(frozen=True)
class StudyConfig:
    """The Optuna study."""

    sampler: str = "tpe"
    #: random trials before TPE starts modelling (TPE only)
    startup_trials: int = 8
    #: a new study first tries up to this many *uniform* designs (one width ratio and one
    #: bit-width for every layer) that the cost model says fit, so the sampler starts from the
    #: designs an engineer would try by hand; they count in the trial budget (0: off)
    warm_start: int = 6
    population: int = 12
    #: "fastest": fastest folding that fits (the smallest that reaches the stream port's
    #: frame rate when the port binds); "smallest": smallest that meets ``min_fps``; "auto":
    #: "smallest" with a ``min_fps`` (frames/s above it are worth nothing: the fps objective is
    #: capped there), else "fastest"
    folding: str = "auto"
    #: how one design is chosen from the front: max-accuracy, knee, max-fps, min-resources
    select: str = "max-accuracy"
    #: max-accuracy: only designs within this fraction of the front's best frame rate (1: any)
    select_fps_within: float = 1.0
    #: min-resources: the required validation accuracy (0: the best front accuracy minus
    #: ``select_accuracy_drop``)
    select_min_accuracy: float = 0.0
    select_accuracy_drop: float = 0.01
    #: our early stop: evaluate after this many fine-tune epochs whether the candidate can
    #: still reach the current front (0: never stop early); the first ``startup_trials``
    #: trained candidates always finish
    early_stop_after: int = 2
    #: minimum optimistic accuracy gain assumed for the remaining epochs (see search docs)
    early_stop_margin: float = 0.03
    #: time every trained candidate on the target's local device (a measured target such as
    #: one written by ``hwprune calibrate``) and record it next to the predicted latency
    measure: bool = False


@dataclass(frozen=True)
class Recipe:
    """A validated search recipe (see the module docstring)."""

    name: str = DEFAULT_RECIPE
    description: str = ""
    dataset: str = "digits"
    #: zoo model name (``hwprune.models``) or ``package.module:factory``
    model: str = "mlp-digits"
    checkpoint: str = ""
    width_mult: float = 1.0
    data_dir: str = ""
    seed: int = 0
    objectives: tuple[str, ...] = ("accuracy", "fps", "lut")
    parent: ParentConfig = field(default_factory=ParentConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    kd: KdConfig = field(default_factory=KdConfig)
    study: StudyConfig = field(default_factory=StudyConfig)

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists); ``from_dict`` inverts it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "recipe") -> Recipe:
        """Validate ``data`` (the TOML/JSON structure) into a :class:`Recipe`."""
        return _build(cls, data, prefix="", source=source)

    def with_overrides(self, overrides: dict[str, Any]) -> Recipe:
        """Return a copy with dotted-name overrides applied (values may be strings)."""
        data = self.to_dict()
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        return Recipe.from_dict(data, source="command line")

    def fingerprint(self) -> str:
        """Short hash of what gives a trial's results their meaning, to detect clashes.

        Covers the data, model, parent training, space, objectives, constraints, folding
        mode, pruning criterion, distillation and the per-trial fine-tune (``budget.epochs``
        and ``budget.patience``: a trial's accuracy means "after this fine-tune", so trials of
        different lengths cannot share one front); not the other budgets (trials, timeout,
        final_epochs, threads), the sampler, the early-stop settings or the selection rule,
        which a resumed study may change.
        """
        return self._fingerprint(with_finetune=True)

    def _fingerprint(self, with_finetune: bool) -> str:
        d = self.to_dict()
        for key in ("budget", "description"):
            d.pop(key, None)
        if with_finetune:
            d["trial_finetune"] = {"epochs": self.budget.epochs, "patience": self.budget.patience}
        d["study"] = {"folding": self.folding_mode()}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def matches_fingerprint(self, stored: str, stored_budget: Any = None) -> bool:
        """True when a study or run folder stamped with ``stored`` holds this recipe's trials.

        Studies made before the fingerprint covered the per-trial fine-tune carry the older
        hash (without it); they still match when their stored budget (``stored_budget``, the
        study's recipe ``budget`` table; None: unknown) has the same epochs and patience.

        Example:
            >>> r = load_recipe("digits-mlp")
            >>> r.matches_fingerprint(r.fingerprint())
            True
            >>> old = r._fingerprint(with_finetune=False)
            >>> r.matches_fingerprint(old, {"epochs": r.budget.epochs})
            True
            >>> r.matches_fingerprint(old, {"epochs": r.budget.epochs + 1})
            False
        """
        if stored == self.fingerprint():
            return True
        if stored != self._fingerprint(with_finetune=False):
            return False
        if not isinstance(stored_budget, dict):
            return stored_budget is None
        return stored_budget.get("epochs") == self.budget.epochs and (
            "patience" not in stored_budget or stored_budget["patience"] == self.budget.patience
        )

    def directions(self) -> list[str]:
        """Optuna directions of :attr:`objectives`."""
        return [OBJECTIVES[o] for o in self.objectives]

    def folding_mode(self) -> str:
        """The folding mode that prices trials: ``"auto"`` resolved (see ``study.folding``).

        Example:
            >>> Recipe().folding_mode()
            'fastest'
        """
        if self.study.folding == "auto":
            return "smallest" if self.constraints.min_fps > 0 else "fastest"
        return self.study.folding

    def trial_seed(self, number: int) -> int:
        """Seed of trial ``number``'s fine-tune (the search and ``export --trial`` agree).

        Example:
            >>> Recipe(seed=3).trial_seed(5)
            1008
        """
        return self.seed + 1000 + int(number)

    def final_seed(self) -> int:
        """Seed of the chosen design's final fine-tune.

        Example:
            >>> Recipe(seed=3).final_seed()
            10
        """
        return self.seed + 7


#: upper bounds that keep a typo from asking for a lifetime of work or terabytes of memory
MAX_TRIALS = 100_000
MAX_EPOCHS = 10_000
MAX_WIDTH_MULT = 64.0


# --------------------------------------------------------------------------- field table
#: CLI flag (without ``--``) -> dotted recipe field; every other field is reachable via --set
FLAG_FIELDS: dict[str, str] = {
    "trials": "budget.trials",
    "epochs": "budget.epochs",
    "final-epochs": "budget.final_epochs",
    "timeout": "budget.timeout",
    "min-fps": "constraints.min_fps",
    "max-latency-us": "constraints.max_latency_us",
    "max-lut": "constraints.max_lut",
    "max-ff": "constraints.max_ff",
    "max-bram18": "constraints.max_bram18",
    "max-dsp": "constraints.max_dsp",
    "max-memory-mb": "constraints.max_memory_mb",
    "checkpoint": "checkpoint",
    "measure": "study.measure",
    "min-accuracy": "constraints.min_accuracy",
    "util-cap": "constraints.util_cap",
    "sampler": "study.sampler",
    "folding": "study.folding",
    "select": "study.select",
    "select-fps-within": "study.select_fps_within",
    "select-min-accuracy": "study.select_min_accuracy",
    "objectives": "objectives",
    "criterion": "prune.criterion",
    "seed": "seed",
    "dataset": "dataset",
    "model": "model",
    "data-dir": "data_dir",
    "wbits": "space.wbits",
    "abits": "space.abits",
}


def field_names() -> list[str]:
    """Every dotted field name a recipe accepts."""
    names: list[str] = []
    hints = get_type_hints(Recipe)
    for f in dataclasses.fields(Recipe):
        t = hints[f.name]
        if dataclasses.is_dataclass(t):
            names += [f"{f.name}.{g.name}" for g in dataclasses.fields(t)]
        else:
            names.append(f.name)
    return names


def list_recipes() -> list[str]:
    """Names of the recipes shipped in ``search/``."""
    from hwprune.resources import resource_dir

    return sorted(p.stem for p in resource_dir("search").glob("*.toml"))


def load_recipe(
    name_or_path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Recipe:
    """Load a shipped recipe by name, or a TOML file by path, and apply ``overrides``.

    ``overrides`` maps dotted field names to values (strings from the CLI are parsed to the
    field's type). Raises :class:`ConfigError` for a missing recipe, invalid TOML, an unknown
    field or a bad value.

    Example:
        >>> load_recipe(overrides={"constraints.min_fps": "1e5"}).constraints.min_fps
        100000.0
    """
    from hwprune.resources import resource_dir

    name = str(name_or_path) if name_or_path else DEFAULT_RECIPE
    path = Path(name)
    if not (path.suffix == ".toml" or path.exists()):
        from hwprune.runfolder import safe_name

        safe_name(name, "recipe", hint="pass a shipped recipe name or the path of a .toml file")
        path = resource_dir("search") / f"{name}.toml"
        if not path.exists():
            raise ConfigError(
                f"unknown recipe '{name}'; choose one of: {', '.join(list_recipes())} "
                "or pass the path of a .toml file"
            )
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"recipe file '{path}' {what}; check the path")
    from hwprune.safeload import read_user_text

    try:
        data = tomllib.loads(read_user_text(path, "recipe file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe '{path}' is not valid TOML ({exc}); fix the file") from None
    except RecursionError:
        raise ConfigError(f"recipe '{path}' is nested too deeply; fix the file") from None
    data.setdefault("name", path.stem)
    recipe = Recipe.from_dict(data, source=f"recipe '{path.name}'")
    if overrides:
        recipe = recipe.with_overrides(overrides)
    return recipe


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """Turn ``["budget.trials=40", "space.wbits=1,2,4"]`` into an overrides dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects FIELD=VALUE (e.g. budget.trials=40), got '{item}'")
        out[key.strip()] = value.strip()
    return out


# --------------------------------------------------------------------------- validation
def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"unknown recipe field '{key}'; {_suggest(key)}")
    if len(parts) == 2:
        sub = data.setdefault(parts[0], {})
        if not isinstance(sub, dict):
            raise ConfigError(f"unknown recipe field '{key}'; {_suggest(key)}")
        sub[parts[1]] = value
    else:
        data[parts[0]] = value


def _suggest(key: str) -> str:
    names = field_names()
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "run `hwprune search --list-fields` to see them"


def _build(cls: type, data: Any, prefix: str, source: str) -> Any:
    where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: field '{prefix.rstrip('.')}' must be a table of fields, got {data!r}"
        )
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
            raise ConfigError(
                f"unknown recipe field '{dotted}' in {source}; {hint}"
                f"(fields of {where}: {', '.join(sorted(known))})"
            )
        t = hints[key]
        if dataclasses.is_dataclass(t):
            kwargs[key] = _build(t, value, f"{dotted}.", source)
        else:
            kwargs[key] = _coerce(value, t, dotted, source)
    obj = cls(**kwargs)
    _check_ranges(obj, prefix, source)
    return obj


def _type_name(t: Any) -> str:
    origin = get_origin(t)
    if origin is tuple:
        return f"a list of {_type_name(get_args(t)[0])}s"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        t, str(t)
    )


def _coerce(value: Any, t: Any, name: str, source: str) -> Any:
    """Convert ``value`` to type ``t`` (accepting CLI strings), or raise naming ``name``."""
    origin = get_origin(t)
    if origin in (Union, types.UnionType):  # pragma: no cover - no optional fields today
        args = [a for a in get_args(t) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(value, args[0], name, source)
    bad = ConfigError(
        f"recipe field '{name}' must be {_type_name(t)}, got {value!r} (from {source})"
    )
    if origin is tuple:
        (elem,) = get_args(t)[:1]
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").strip("[]()").split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise bad
        return tuple(_coerce(v, elem, name, source) for v in value)
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise bad
    if t is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                raise bad from None
            if f.is_integer():
                return int(f)
        raise bad
    if t is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            v = float(value)
        elif isinstance(value, str):
            try:
                v = float(value)
            except ValueError:
                raise bad from None
        else:
            raise bad
        if not math.isfinite(v):
            raise bad
        return v
    if t is str:
        if isinstance(value, str):
            return value
        raise bad
    raise bad  # pragma: no cover


def _err(name: str, msg: str, source: str) -> ConfigError:
    return ConfigError(f"recipe field '{name}' {msg} (from {source})")


class _Ranges:
    """The value checks of one recipe section ``obj``; each error names the field (``prefix``
    + attribute) and what is allowed, and says where the value came from (``source``)."""

    def __init__(self, obj: Any, prefix: str, source: str) -> None:
        self.obj, self.prefix, self.source = obj, prefix, source

    def fail(self, attr: str, msg: str) -> ConfigError:
        return _err(f"{self.prefix}{attr}", msg, self.source)

    def nonneg(self, *attrs: str) -> None:
        for attr in attrs:
            if getattr(self.obj, attr) < 0:
                raise self.fail(attr, f"must be >= 0, got {getattr(self.obj, attr)}")

    def positive(self, *attrs: str) -> None:
        for attr in attrs:
            if getattr(self.obj, attr) <= 0:
                raise self.fail(attr, f"must be > 0, got {getattr(self.obj, attr)}")

    def one_of(self, attr: str, allowed: tuple[str, ...]) -> None:
        if getattr(self.obj, attr) not in allowed:
            raise self.fail(
                attr, f"must be one of {', '.join(allowed)}, got '{getattr(self.obj, attr)}'"
            )

    def at_most(self, attr: str, hi: float) -> None:
        value = getattr(self.obj, attr)
        if value > hi:
            raise self.fail(attr, f"must be at most {hi:g}, got {value:g}")

    def unit(self, attr: str, what: str = "in [0, 1]") -> None:
        """``attr`` in [0, 1]; ``what`` is how the message names the range."""
        if not 0.0 <= getattr(self.obj, attr) <= 1.0:
            raise self.fail(attr, f"must be {what}, got {getattr(self.obj, attr)}")

    def bits(self, attr: str, lo: int = 1, hi: int = 8, allow_empty: bool = False) -> None:
        vals = getattr(self.obj, attr)
        if not vals and not allow_empty:
            raise self.fail(attr, "must offer at least one bit width")
        for b in vals:
            if not lo <= b <= hi:
                raise self.fail(attr, f"has {b} bits; bit widths must be in {lo}..{hi}")


def _check_parent(c: _Ranges) -> None:
    c.positive("epochs")
    c.at_most("epochs", MAX_EPOCHS)
    c.positive("lr")
    c.nonneg("bn_l1")
    c.one_of("optimizer", OPTIMIZERS)


def _check_space(c: _Ranges) -> None:
    c.nonneg("channel_step")
    c.positive("min_channels")
    if not 0.0 < c.obj.min_ratio <= 1.0:
        raise c.fail("min_ratio", f"must be in (0, 1], got {c.obj.min_ratio}")
    c.bits("wbits")
    c.bits("abits")
    c.bits("head_wbits", allow_empty=True)
    if not 1 <= c.obj.input_bits <= 8:
        raise c.fail("input_bits", f"must be in 1..8, got {c.obj.input_bits}")


def _check_constraints(c: _Ranges) -> None:
    c.nonneg(
        "min_fps", "max_latency_us", "max_lut", "max_ff", "max_bram18", "max_dsp", "max_memory_mb"
    )
    c.unit("min_accuracy", "a fraction in [0, 1]")
    c.unit("util_cap")


def _check_budget(c: _Ranges) -> None:
    c.positive("trials", "epochs")
    c.nonneg("final_epochs")
    c.at_most("trials", MAX_TRIALS)
    c.at_most("epochs", MAX_EPOCHS)
    c.at_most("final_epochs", MAX_EPOCHS)
    c.nonneg("timeout", "patience", "threads")


def _check_prune(c: _Ranges) -> None:
    c.one_of("criterion", CRITERIA)


def _check_kd(c: _Ranges) -> None:
    c.unit("alpha")
    c.positive("temperature", "lr")


def _check_study(c: _Ranges) -> None:
    c.one_of("sampler", SAMPLERS)
    c.one_of("folding", FOLDING_MODES)
    c.one_of("select", SELECT_RULES)
    c.nonneg("startup_trials", "warm_start", "early_stop_after", "early_stop_margin")
    for attr in ("select_fps_within", "select_min_accuracy", "select_accuracy_drop"):
        c.unit(attr)
    if c.obj.population < 2:
        raise c.fail("population", f"must be >= 2, got {c.obj.population}")


def _check_recipe(c: _Ranges) -> None:
    obj, source = c.obj, c.source
    c.positive("width_mult")
    c.at_most("width_mult", MAX_WIDTH_MULT)
    if not 0 <= obj.seed < 2**31:
        raise _err("seed", f"must be in 0..{2**31 - 1}, got {obj.seed}", source)
    from hwprune.runfolder import safe_name

    safe_name(obj.name, "recipe name", hint=f"rename it (from {source})")
    if not obj.objectives:
        raise _err("objectives", "must name at least one objective", source)
    for o in obj.objectives:
        if o not in OBJECTIVES:
            raise _err(
                "objectives",
                f"has unknown objective '{o}'; choose from {', '.join(OBJECTIVES)}",
                source,
            )
    if len(set(obj.objectives)) != len(obj.objectives):
        raise _err("objectives", "lists an objective twice", source)
    if "accuracy" not in obj.objectives:
        raise _err("objectives", "must include 'accuracy'", source)
    if obj.study.folding == "smallest" and obj.constraints.min_fps <= 0:
        raise ConfigError(
            "folding 'smallest' needs a frames/s goal; set --min-fps (constraints.min_fps)"
        )
    if not obj.dataset:
        raise _err("dataset", "must not be empty", source)
    if not obj.model:
        raise _err("model", "must not be empty", source)


#: recipe section type -> its value checks (beyond the types :func:`_coerce` checks)
_RANGE_CHECKS: tuple[tuple[type, Callable[[_Ranges], None]], ...] = (
    (ParentConfig, _check_parent),
    (SpaceConfig, _check_space),
    (ConstraintsConfig, _check_constraints),
    (BudgetConfig, _check_budget),
    (PruneConfig, _check_prune),
    (KdConfig, _check_kd),
    (StudyConfig, _check_study),
    (Recipe, _check_recipe),
)


def _check_ranges(obj: Any, prefix: str, source: str) -> None:
    """Value checks beyond types; each error names the field and the allowed values."""
    for kind, check in _RANGE_CHECKS:
        if isinstance(obj, kind):
            check(_Ranges(obj, prefix, source))
            return


def overrides_from_flags(values: dict[str, Any]) -> dict[str, Any]:
    """Map named CLI flag values (``{"min-fps": 1e5, "trials": None}``) to dotted overrides."""
    out: dict[str, Any] = {}
    for flag, value in values.items():
        if value is None:
            continue
        out[FLAG_FIELDS[flag]] = value
    return out


__all__ = [
    "BudgetConfig",
    "ConstraintsConfig",
    "DEFAULT_RECIPE",
    "FLAG_FIELDS",
    "KdConfig",
    "OBJECTIVES",
    "ParentConfig",
    "PruneConfig",
    "Recipe",
    "SpaceConfig",
    "StudyConfig",
    "field_names",
    "list_recipes",
    "load_recipe",
    "overrides_from_flags",
    "parse_set_options",
]
