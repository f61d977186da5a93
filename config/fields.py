"""Which keys a section of the file may hold, for "did you mean" hints."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel

from config.settings import Settings


def known_keys(path: tuple[str | int, ...], data: Any) -> list[str]:
    """The field names of the model found at ``path`` of ``data``."""
    annotation: Any = Settings
    current = data
    for part in path:
        if isinstance(part, int):
            ok = isinstance(current, list) and part < len(current)
            current = current[part] if ok else None
            args = get_args(annotation)
            annotation = args[0] if get_origin(annotation) is list and args else None
            continue
        model = _model_of(annotation, current)
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return []
        annotation = field.annotation
        current = current.get(part) if isinstance(current, dict) else None
    model = _model_of(annotation, current)
    return list(model.model_fields) if model is not None else []


def _model_of(annotation: Any, value: Any) -> type[BaseModel] | None:
    tag = value.get("type") if isinstance(value, dict) else None
    for candidate in [annotation, *_flatten(annotation)]:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            type_field = candidate.model_fields.get("type")
            if tag is None or type_field is None:
                return candidate
            if tag in get_args(type_field.annotation):
                return candidate
    return None


def _flatten(annotation: Any) -> list[Any]:
    out: list[Any] = []
    for arg in get_args(annotation):
        out.append(arg)
        out.extend(_flatten(arg))
    return out
