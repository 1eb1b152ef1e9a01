"""Import a user's model: ``"package.module:factory"`` (or ``"path/to/file.py:factory"``).

The factory is called without arguments and must return an ``nn.Module``; an optional checkpoint
(a state dict, or a dict with a ``"state_dict"`` entry) is loaded with
``torch.load(..., weights_only=True)`` and must match the model exactly.

Example:
    >>> load_user_model("hwprune.models.examples:nope")
    Traceback (most recent call last):
    ...
    hwprune.errors.ModelError: module 'hwprune.models.examples' has no attribute 'nope'; ...
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from torch import nn

from hwprune.errors import ModelError


def _import_factory(ref: str) -> object:
    if ref.count(":") != 1:
        raise ModelError(
            f"model reference '{ref}' must look like 'package.module:factory' or 'file.py:factory'"
        )
    mod_name, attr = ref.split(":")
    if not mod_name or not attr:
        raise ModelError(f"model reference '{ref}' must look like 'package.module:factory'")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise ModelError(f"model file '{path}' does not exist; check the path")
            spec = importlib.util.spec_from_file_location(f"_hwprune_user_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - report any import failure in one line
        raise ModelError(
            f"cannot import '{mod_name}' ({type(exc).__name__}: {exc}); make sure it is on "
            "PYTHONPATH (or installed) and imports cleanly"
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise ModelError(f"module '{mod_name}' has no attribute '{attr}'; check the factory name")
    return factory


def load_user_model(ref: str, checkpoint: str | Path | None = None) -> nn.Module:
    """Build the user's model from ``ref`` and load ``checkpoint`` if given.

    Raises :class:`ModelError` with a fix when the import fails, the factory does not return an
    ``nn.Module``, or the checkpoint does not fit the model.

    Example:
        >>> m = load_user_model("hwprune.models.examples:tiny_mlp")
        >>> type(m).__name__
        'Sequential'
    """
    factory = _import_factory(ref)
    if isinstance(factory, nn.Module):
        model = factory
    else:
        if not callable(factory):
            raise ModelError(f"'{ref}' is neither callable nor an nn.Module; point to a factory")
        try:
            model = factory()
        except Exception as exc:  # noqa: BLE001
            raise ModelError(
                f"calling '{ref}()' failed ({type(exc).__name__}: {exc}); the factory must work "
                "without arguments"
            ) from exc
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"'{ref}' returned a {type(model).__name__}, not a torch.nn.Module; return the model"
        )
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, f"the model from '{ref}'")
    return model


def load_checkpoint(model: nn.Module, checkpoint: str | Path, what: str = "the model") -> nn.Module:
    """Load a state dict saved with ``torch.save(model.state_dict(), path)`` into ``model``.

    Read with ``weights_only=True``; a ``{"state_dict": ...}`` wrapper is accepted. A missing or
    unreadable file, or one that does not fit ``model``, raises :class:`ModelError` naming the
    file and ``what`` it was meant for.

    Example:
        >>> import tempfile, torch
        >>> m = torch.nn.Linear(2, 2)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     torch.save(m.state_dict(), f"{d}/m.pt")
        ...     load_checkpoint(torch.nn.Linear(2, 2), f"{d}/m.pt") is not None
        True
    """

    from hwprune.safeload import load_state_dict

    path = Path(checkpoint)
    state = load_state_dict(path, "checkpoint")
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # size mismatch
        first = str(exc).strip().splitlines()[-1].strip()
        raise ModelError(
            f"checkpoint '{path}' does not fit {what} ({first}); use the "
            "checkpoint saved from this model"
        ) from exc
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        raise ModelError(
            f"checkpoint '{path}' does not match {what} (missing: "
            f"{missing[:3]}, unexpected: {unexpected[:3]}); use the checkpoint saved from "
            "this model"
        )
    return model
