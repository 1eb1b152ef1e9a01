"""User-facing errors.

Every error a user can cause (bad input, missing data, impossible budget, ...) is raised as a
subclass of :class:`HwpruneError`. Its message is one sentence that says what was wrong and what
to do; the CLI prints it on one line and exits with code 2, without a traceback.

Example:
    >>> raise TargetError("unknown target 'pynq-z3'; run `hwprune targets` to list them")
    Traceback (most recent call last):
    ...
    hwprune.errors.TargetError: unknown target 'pynq-z3'; run `hwprune targets` to list them
"""

from __future__ import annotations


class HwpruneError(Exception):
    """Base class of every error caused by the user's input or environment."""


class ConfigError(HwpruneError):
    """A recipe, design description or command-line option is malformed or out of range."""


class TargetError(HwpruneError):
    """A hardware target is unknown or its file is malformed."""


class DataError(HwpruneError):
    """A dataset file is missing, unreadable or corrupt."""


class ModelError(HwpruneError):
    """A user model cannot be imported, built or loaded (checkpoint mismatch, ...)."""


class UnsupportedModelError(ModelError):
    """A model uses a layer, call or connection the hardware model cannot represent yet."""


class InfeasibleError(HwpruneError):
    """Nothing can satisfy the requested budget on the target."""


class LoweringError(HwpruneError):
    """A QONNX graph contains something the lowering to the integer IR cannot handle."""


class StorageError(HwpruneError):
    """An Optuna storage or run folder cannot be used."""


class IncompleteError(HwpruneError):
    """The work stopped short (trials missing, the export failed); what finished is kept."""
