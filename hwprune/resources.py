"""Locate the data folders that ship with hwprune: ``targets/``, ``search/``, ``hls_templates/``,
``rtl_templates/``.

In a wheel they live inside the package (``hwprune/_data/<kind>``); in a source checkout or an
editable install they are the top-level folders of the repository. Code never looks them up
relative to the working directory.

Example:
    >>> from hwprune.resources import resource_dir
    >>> (resource_dir("targets") / "pynq-z2.toml").exists()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

ResourceKind = Literal["targets", "search", "hls_templates", "rtl_templates"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(kind: ResourceKind) -> Path:
    """Return the folder that holds the shipped files of ``kind``."""
    for candidate in (_PACKAGE_DIR / "_data" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"hwprune's '{kind}' folder is missing from the installation; reinstall hwprune"
    )
