"""Read ``dengar.yaml``: YAML with line numbers, ``${VAR}`` interpolation,
validation, and every error reported at once with its path and line."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.redaction import remember_settings
from config.settings import Settings, cross_check

DEFAULT_PATH = Path("dengar.yaml")
# libyaml when PyYAML was built with it: the pure-Python parser alone took
# longer than a light command may take to start (bench/cli.py); its nodes
# carry the same line marks
_COMPOSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PathT = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration file."""

    path: PathT
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = format_path(self.path) or "(top level)"
        line = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{line}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}:\n{lines}")


def format_path(path: PathT) -> str:
    """``("channels", 2, "token")`` → ``channels[2].token``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """``--config``, else ``$DENGAR_CONFIG``, else ``./dengar.yaml``."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("DENGAR_CONFIG")
    return Path(from_env) if from_env else DEFAULT_PATH


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load and validate the configuration; raise ``ConfigError`` listing all
    problems. Nothing else (no database, no network) is touched."""
    config_path = resolve_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(config_path), [ConfigProblem((), f"cannot read: {exc.strerror}")]
        ) from None
    settings = parse_settings(text, str(config_path), environ)
    settings._source_dir = config_path.resolve().parent
    return settings


def parse_settings(
    text: str, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate configuration text; see ``load_settings``."""
    env = os.environ if environ is None else environ
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            source, [ConfigProblem((), f"not valid YAML: {problem}", line)]
        ) from None
    problems: list[ConfigProblem] = []
    lines: dict[PathT, int] = {}
    scalars = yaml.SafeLoader("")
    data: Any = (
        {} if node is None else _to_data(node, (), lines, env, problems, scalars)
    )
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigProblem((), "the file must be a mapping")])
    interpolation_paths = {p.path for p in problems}
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # a field whose ${VAR} is missing is already reported; say it once
        problems += [
            p
            for p in _problems_from(exc, data, lines)
            if p.path not in interpolation_paths
        ]
    problems += [
        ConfigProblem(path, message, _line_of(path, lines))
        for path, message in cross_check(data)
    ]
    if problems or settings is None:
        raise ConfigError(source, sorted(problems, key=_order))
    # from here on no log line may show them (see config.redaction)
    remember_settings(settings)
    return settings


def _order(problem: ConfigProblem) -> tuple[int, str]:
    return (problem.line or 0, format_path(problem.path))


def _to_data(
    node: yaml.Node,
    path: PathT,
    lines: dict[PathT, int],
    env: Mapping[str, str],
    problems: list[ConfigProblem],
    scalars: yaml.SafeLoader,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node)
            if key in out:
                problems.append(
                    ConfigProblem(
                        (*path, key), "duplicate key", key_node.start_mark.line + 1
                    )
                )
            out[key] = _to_data(value_node, (*path, key), lines, env, problems, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_data(item, (*path, i), lines, env, problems, scalars)
            for i, item in enumerate(node.value)
        ]
    value = scalars.construct_object(node)
    if isinstance(value, str) and "${" in value:
        return _interpolate(value, path, lines[path], env, problems)
    return value


def _interpolate(
    value: str,
    path: PathT,
    line: int,
    env: Mapping[str, str],
    problems: list[ConfigProblem],
) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            ConfigProblem(
                path, f"environment variable {name} is not set (no default)", line
            )
        )
        return ""

    return _VAR.sub(replace, value)


def _problems_from(
    exc: ValidationError, data: dict[str, Any], lines: dict[PathT, int]
) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        path = _data_path(error["loc"], data)
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            message = _unknown_type_message(error.get("ctx") or {})
            path = (*path, "type")
        elif error["type"] == "union_tag_not_found":
            message = "field required" + _known_types(error.get("ctx") or {})
            path = (*path, "type")
        elif error["type"] == "extra_forbidden":
            message = "unknown key" + _suggest_key(path, data)
        elif error["type"] == "missing":
            message = "field required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(path, message, _line_of(path, lines)))
    return problems


def _data_path(loc: tuple[int | str, ...], data: Any) -> PathT:
    """Drop pydantic's union-tag steps so the path names keys of the file."""
    path: list[str | int] = []
    current: Any = data
    for part in loc:
        if isinstance(current, dict):
            if part in current:
                current = current[part]
                path.append(part)
            elif current.get("type") == part:
                continue  # the discriminator step of a tagged union
            else:
                path.append(part)
                current = None
        elif isinstance(current, list) and isinstance(part, int):
            current = current[part] if part < len(current) else None
            path.append(part)
        else:
            path.append(part)
            current = None
    return tuple(path)


def _expected_tags(ctx: Mapping[str, Any]) -> list[str]:
    tags = str(ctx.get("expected_tags", ""))
    return [t.strip(" '") for t in tags.split(",")] if tags else []


def _known_types(ctx: Mapping[str, Any]) -> str:
    expected = _expected_tags(ctx)
    return f" (known types: {', '.join(expected)})" if expected else ""


def _unknown_type_message(ctx: Mapping[str, Any]) -> str:
    tag = str(ctx.get("tag", ""))
    expected = _expected_tags(ctx)
    message = f"unknown type {tag!r} (known: {', '.join(expected)})"
    close = difflib.get_close_matches(tag, expected, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def _suggest_key(path: PathT, data: Any) -> str:
    # "did you mean" needs the keys the model knows; the sibling keys are a
    # poor substitute, so suggest from the model's fields where we can find it
    from config.fields import known_keys

    parent, key = path[:-1], path[-1]
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, known_keys(parent, data), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _line_of(path: PathT, lines: dict[PathT, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
