"""Types by name (``type: imap`` in the config), resolved lazily so that a
broken optional dependency only breaks its own channel or sink."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any


class UnknownType(LookupError):
    """No type of that name is registered."""


def resolve(types: Mapping[str, str], type_name: str, what: str) -> type[Any]:
    """The class ``types[type_name]`` names (``"module:Class"``), imported now;
    an unknown name raises :class:`UnknownType` listing the known ones and
    the closest match."""
    try:
        target = types[type_name]
    except KeyError:
        known = ", ".join(sorted(types))
        hint = difflib.get_close_matches(type_name, list(types), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UnknownType(
            f"unknown {what} type {type_name!r} (known: {known}){suggestion}"
        ) from None
    module_name, _, attr = target.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module_name), attr)
    return cls
