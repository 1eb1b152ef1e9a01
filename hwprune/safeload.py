"""The one way hwprune reads a ``.pt`` file a user or a run folder provides: weights only.

``torch.load`` unpickles, and a pickle can run code. Every checkpoint hwprune reads (a user's
``checkpoint=``, a run folder's ``best/model.pt``, a cached parent) goes through
:func:`load_torch_dict`, which always passes ``weights_only=True`` explicitly (so
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` cannot turn the guard off) and accepts nothing but a
dict; :func:`load_state_dict` further requires a plain state dict (names -> tensors). Anything
else — a pickle with code in it, a truncated or foreign file, a whole pickled model — is a
:class:`~hwprune.errors.ModelError` with one line that names the file.

Example:
    >>> import tempfile, torch
    >>> p = tempfile.mkdtemp() + "/m.pt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), p)
    >>> sorted(load_state_dict(p))
    ['bias', 'weight']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hwprune.errors import ModelError

__all__ = [
    "load_state_dict",
    "load_torch_dict",
    "load_user_json",
    "parse_user_json",
    "read_user_text",
]

_HOW = "save it with torch.save(model.state_dict(), path) and use that file"


def load_torch_dict(path: str | os.PathLike[str], what: str = "checkpoint") -> dict[str, Any]:
    """Read a torch file with ``weights_only=True``; it must hold a dict.

    Raises :class:`ModelError` (one line, naming ``path`` and ``what`` it is) when the file is
    missing, unreadable, not a torch file, holds objects a weights-only load refuses (code), or
    is not a dict.

    Example:
        >>> import tempfile, torch
        >>> p = tempfile.mkdtemp() + "/c.pt"
        >>> torch.save({"state_dict": {}, "epochs": 3}, p)
        >>> load_torch_dict(p)["epochs"]
        3
    """
    import pickle

    import torch

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{what} '{p}' does not exist or is not a file; check the path")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights-only refusal: code or foreign objects
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "Unsupported" in ln or "Unpickler" in ln), "")
        why = f" ({why[:160]})" if why else ""
        raise ModelError(
            f"refusing to load {what} '{p}': it holds more than named tensors{why}; use a "
            "file you trust, saved with torch.save(model.state_dict(), path)"
        ) from None
    except OSError as exc:
        raise ModelError(
            f"cannot read {what} '{p}' ({exc.strerror or exc}); check the file"
        ) from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, foreign format, bad env, ...
        raise ModelError(
            f"cannot read {what} '{p}' as a torch file ({type(exc).__name__}); {_HOW}"
        ) from None
    if not isinstance(obj, dict):
        raise ModelError(f"{what} '{p}' holds a {type(obj).__name__}, not a state dict; {_HOW}")
    return obj


def load_state_dict(path: str | os.PathLike[str], what: str = "checkpoint") -> dict[str, Any]:
    """Read a plain state dict (parameter name -> tensor) from ``path``, weights only.

    A ``{"state_dict": {...}, ...}`` wrapper (as written by hwprune's parent cache) is
    unwrapped. Raises :class:`ModelError` with one line for anything else.

    Example:
        >>> import tempfile, torch
        >>> p = tempfile.mkdtemp() + "/w.pt"
        >>> torch.save({"w": torch.ones(2)}, p)
        >>> load_state_dict(p)["w"].tolist()
        [1.0, 1.0]
    """
    import torch

    obj = load_torch_dict(path, what)
    inner = obj.get("state_dict")
    state = inner if isinstance(inner, dict) else obj
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelError(
            f"{what} '{path}' is not a plain state dict (entry {str(bad[0])[:60]!r} is not a "
            f"named tensor); {_HOW}"
        )
    return state


def read_user_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """The UTF-8 text of a file a user gives (a recipe, target, design, run.json).

    Raises :class:`~hwprune.errors.ConfigError` with one line when the file is missing, is a
    folder, cannot be read, or is not UTF-8 text.

    Example:
        >>> import tempfile
        >>> p = tempfile.mkdtemp() + "/r.toml"
        >>> _ = open(p, "w").write("name = 'x'")
        >>> read_user_text(p, "recipe")
        "name = 'x'"
    """
    from hwprune.errors import ConfigError

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} '{p}' ({exc.strerror or type(exc).__name__}); check the path "
            "and its permissions"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} '{p}' is not UTF-8 text (byte {exc.start}); write it as UTF-8 text "
            "(e.g. iconv -t UTF-8)"
        ) from None


def load_user_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """Parse a JSON file a user or a run folder gives; one-line error when it is malformed.

    Malformed, non-UTF-8, absurdly deep (a ``RecursionError`` in the parser) or unreadable
    files raise :class:`~hwprune.errors.ConfigError`.

    Example:
        >>> import tempfile
        >>> p = tempfile.mkdtemp() + "/d.json"
        >>> _ = open(p, "w").write('{"a": [1]}')
        >>> load_user_json(p)
        {'a': [1]}
    """
    return parse_user_json(read_user_text(path, what), f"{what} '{path}'")


def parse_user_json(text: str, where: str = "JSON") -> Any:
    """``json.loads`` with one-line :class:`~hwprune.errors.ConfigError` s.

    Example:
        >>> parse_user_json("[1, 2]")
        [1, 2]
    """
    import json

    from hwprune.errors import ConfigError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}); fix its syntax"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{where} is nested too deeply to be a design or run file; check that it is the "
            "right file"
        ) from None
