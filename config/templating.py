"""The sandboxed Jinja2 engine that renders an ``http`` sink's templates.

It lives beside the settings because a template is checked when the
configuration loads (syntax, unknown names, reaching into ``_private``
attributes), so a mistake is reported with its line like any other config
error instead of failing the first delivery.

What a template sees is the agency message v1 after confidentiality was
applied (every top-level key of it, and ``message`` for the whole), so it
can never reach what the agency may not see. Missing values render as
nothing (the reporter of an ``anonim`` case is ``None``; ``reporter.name``
is empty). Anything the sandbox refuses (``''.__class__``, calling unsafe
methods) raises :class:`TemplateProblem` at render time, never renders.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

# Jinja2 and MarkupSafe when a template is checked or rendered: a
# configuration without http sinks (and `dengar status`, bench/cli.py) never
# pays for importing them
if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup

# the top-level keys of the agency message v1 (dispatcher/message.py), a
# test keeps them equal; "$schema" is no name a template can write
MESSAGE_VARIABLES: frozenset[str] = frozenset(
    {
        "schema_version",
        "event",
        "idempotency_key",
        "dengar_id",
        "tracking_no",
        "agency",
        "status",
        "status_text",
        "confidentiality",
        "channel",
        "received_at",
        "category",
        "region",
        "subject",
        "text",
        "location",
        "reporter",
        "attachments",
        "follow_ups",
        "supporters",
        "supporter_reports",
        "routing_reason",
        "routing_reason_text",
    }
)
# ``redaction`` is in the message of a redaction only (empty otherwise)
DELIVERY_VARIABLES: frozenset[str] = MESSAGE_VARIABLES | {"message", "redaction"}
# a redaction request also knows the remote id of the delivery it redacts
REDACTION_VARIABLES: frozenset[str] = DELIVERY_VARIABLES | {"remote_id"}
# what a status request knows of the case it asks about
STATUS_VARIABLES: frozenset[str] = frozenset(
    {"remote_id", "tracking_no", "idempotency_key", "agency"}
)


class TemplateProblem(ValueError):
    """A template that cannot be compiled or rendered; says why, without data."""


def tojson(value: Any) -> Markup:
    """``value`` as JSON (a string quoted and escaped; nothing is ``null``)."""
    from jinja2 import Undefined
    from markupsafe import Markup

    if isinstance(value, Undefined):
        value = None
    return Markup(json.dumps(value, ensure_ascii=False, default=str))


def xml_escape(value: Any) -> Markup:
    """``value`` as XML character data or attribute text (``&<>"'`` escaped)."""
    from jinja2 import Undefined
    from markupsafe import Markup, escape

    if isinstance(value, Undefined) or value is None:
        return Markup("")
    return escape(str(value))


@functools.cache
def _environment(xml: bool) -> ImmutableSandboxedEnvironment:
    """The sandbox; XML bodies escape every value by default (a citizen's "<"
    cannot break the document) and ``tojson``/``xml_escape`` output is never
    escaped twice."""
    from jinja2 import ChainableUndefined, Undefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        # the default hands back an Undefined that prints as "": refuse loudly
        def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
            raise SecurityError(
                f"access to attribute {attribute!r} of a {type(obj).__name__} "
                "is not allowed"
            )

    env = Sandbox(
        autoescape=xml,
        undefined=ChainableUndefined,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = tojson
    env.filters["xml_escape"] = xml_escape
    return env


def check_template(
    source: str, allowed: Iterable[str], *, xml: bool = False
) -> list[str]:
    """What is wrong with ``source`` (empty when nothing): syntax errors with
    their line in the template, names the context will not have, and
    reaches into private attributes (sandbox escapes)."""
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.exceptions import TemplateError

    env = _environment(xml)
    try:
        tree = env.parse(source)
        env.compile(source)  # unknown filters and tests fail here
    except TemplateSyntaxError as exc:
        return [f"template error on line {exc.lineno} of the template: {exc.message}"]
    except TemplateError as exc:
        return [f"template error: {exc}"]
    problems: list[str] = []
    known = set(allowed)
    declared = {
        n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")
    }
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in known | declared:
            hint = difflib.get_close_matches(node.name, known, n=1)
            problems.append(
                f"unknown name {node.name!r} on line {node.lineno} of the template"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" (known: {', '.join(sorted(known))})"
            )
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = access.attr if isinstance(access, nodes.Getattr) else None
        if isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const):
            name = access.arg.value if isinstance(access.arg.value, str) else None
        if name is not None and name.startswith("_"):
            problems.append(
                f"{name!r} on line {access.lineno} of the template is not allowed "
                "(private attributes are out of a template's reach)"
            )
    return list(dict.fromkeys(problems))


@functools.lru_cache(maxsize=256)
def _compiled(source: str, xml: bool) -> Template:
    return _environment(xml).from_string(source)


def render_template(
    source: str, context: Mapping[str, Any], *, xml: bool = False
) -> str:
    """``source`` rendered in the sandbox; :class:`TemplateProblem` when the
    sandbox refuses something or the template fails."""
    from jinja2.exceptions import SecurityError, TemplateError

    try:
        return _compiled(source, xml).render(context)
    except SecurityError as exc:
        raise TemplateProblem(f"the template did something unsafe: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"the template failed: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(
            f"the template failed: {type(exc).__name__}: {exc}"
        ) from None
