"""Secrets kept out of every log line, at every level, from every library.

Debug logging of the libraries Dengar drives shows what they send: the Bot
API URL holds the bot token (python-telegram-bot, httpx, aiohttp), PTB logs
the parameters of each call (``setWebhook``'s ``secret_token``), imapclient
and SMTP debug output echo the conversation. Masking each library's logger
one by one misses the next library, so :func:`install` masks at the one
place every record passes through: the log record factory. Each record is
rendered there once (message, arguments, traceback) and every configured
secret value and every token-shaped URL in it is replaced before any handler
— ours, uvicorn's, pytest's — sees it.

Secrets come from the loaded settings (:func:`remember_settings`, called by
the loader): every ``SecretStr`` anywhere in them, and the password inside
URL-shaped values.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretBytes, SecretStr

MASK = "***"

# A Bot API URL: https://api.telegram.org/bot<id>:<key>/getMe and the file
# URL /file/bot<id>:<key>/photos/…; the one pattern for both
TOKEN_IN_URL = re.compile(r"/(file/)?bot\d+:[A-Za-z0-9_-]+")
# a bare bot token, as PTB may print it outside a URL
_BARE_TOKEN = re.compile(r"(?<![\w:])\d{5,}:[A-Za-z0-9_-]{30,}(?![\w-])")
# credentials in a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):([^/\s@]+)@")
# names whose value is a credential, as debug output prints them: HTTP
# headers, call parameters (PTB prints setWebhook's secret_token), form fields
_SENSITIVE = (
    r"authorization|x-telegram-bot-api-secret-token|secret_token|secret|password"
    r"|passwd|client_secret|refresh_token|access_token|bearer_token|api_key|token"
)
_SENSITIVE_KEY = re.compile(rf"(?i)^(?:{_SENSITIVE})$")
_AUTH_HEADER = re.compile(
    rf"(?i)\b({_SENSITIVE})(['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(bearer|basic)\s+)?[^\s'\",}&]+"
)

# shorter values (a test's "x") would mask ordinary words in every line
MIN_SECRET_LENGTH = 4


def redact_urls(text: str) -> str:
    """``text`` with Bot API tokens in URLs masked (``/bot<token>``)."""
    return TOKEN_IN_URL.sub(r"/\1bot<token>", text)


class SecretMasker:
    """The configured secret values, and the text masking them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        """Mask these values from now on (too short ones are ignored)."""
        with self._lock:
            fresh = {v for v in values if len(v) >= MIN_SECRET_LENGTH}
            if fresh <= self._secrets:
                return
            self._secrets = self._secrets | fresh
            # longest first: a secret that contains another is masked whole
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        """Forget every remembered value (tests)."""
        with self._lock:
            self._secrets = frozenset()
            self._pattern = None

    def mask(self, text: str) -> str:
        """``text`` with every secret value and credential pattern masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = redact_urls(text)
        text = _BARE_TOKEN.sub("<token>", text)
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
        return _AUTH_HEADER.sub(_masked_header, text)


def _masked_header(match: re.Match[str]) -> str:
    name, separator, scheme = match.group(1, 2, 3)
    return f"{name}{separator}{scheme + ' ' if scheme else ''}{MASK}"


MASKER = SecretMasker()


def secret_values(node: Any) -> Iterator[str]:
    """Every secret value in a settings tree: ``SecretStr``/``SecretBytes``
    values and the password part of any URL among them or in plain fields
    named ``*url``."""
    if isinstance(node, SecretStr):
        secret = node.get_secret_value()
        yield secret
        yield from _url_password(secret)
    elif isinstance(node, SecretBytes):
        yield node.get_secret_value().decode("utf-8", "replace")
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            field = getattr(node, name, None)
            if isinstance(field, str) and name.endswith("url"):
                yield from _url_password(field)
            else:
                yield from secret_values(field)
    elif isinstance(node, dict):
        for value in node.values():
            yield from secret_values(value)
    elif isinstance(node, list | tuple | set | frozenset):
        for value in node:
            yield from secret_values(value)


def _url_password(value: str) -> Iterator[str]:
    if "://" not in value:
        return
    try:
        password = urlsplit(value).password
    except ValueError:
        return
    if password:
        yield password
        yield unquote(password)


def remember_settings(settings: Any) -> None:
    """Mask every secret of ``settings`` in all later log records."""
    MASKER.add(secret_values(settings))


_installed: list[Any] = []


def install() -> None:
    """Mask secrets in every log record created from now on (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        mask_record(record)
        return record

    _installed.append(previous)
    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    if _installed:
        logging.setLogRecordFactory(_installed.pop())


def mask_record(record: logging.LogRecord) -> None:
    """Mask secrets in ``record``'s message, arguments and traceback.

    A record with nothing to mask is left as it is. Otherwise the template
    and the arguments are masked one by one, which keeps the arguments'
    shape for formatters that read them (uvicorn's access log unpacks the
    tuple); when that does not give a clean, formattable message (a secret
    split across them, or a template such as ``"token=%s"`` whose ``%s``
    the masking took), the rendered, masked message replaces both. The
    formatted traceback goes into ``exc_text``, which formatters use as is.
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken record is logging's to report
        message = None
    if message is not None and MASKER.mask(message) != message:
        _mask_parts(record, MASKER.mask(message))
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = MASKER.mask(text)
    if record.stack_info:
        record.stack_info = MASKER.mask(record.stack_info)


def _mask_parts(record: logging.LogRecord, masked: str) -> None:
    template, args = record.msg, record.args
    if isinstance(template, str) and MASKER.mask(template) != template:
        template = MASKER.mask(template)
        if template.count("%") != record.msg.count("%"):
            template = None  # the masking ate a placeholder
    elif not isinstance(template, str):
        template = None
    if template is not None and isinstance(args, tuple):
        args = tuple(_masked_arg(a) for a in args)
    elif template is not None and isinstance(args, Mapping):
        args = {
            k: MASK if _SENSITIVE_KEY.match(str(k)) else _masked_arg(v)
            for k, v in args.items()
        }
    if template is not None:
        record.msg, record.args = template, args
        try:
            clean = MASKER.mask(record.getMessage()) == record.getMessage()
        except Exception:  # noqa: BLE001 - the parts no longer format together
            clean = False
        if clean:
            return
    record.msg, record.args = masked, None


def _masked_arg(arg: object) -> object:
    if arg is None or isinstance(arg, bool | int | float):
        return arg  # keeps %d and %f working; no secret in a number
    for render in (str, repr):
        try:
            text = render(arg)
        except Exception:  # noqa: BLE001 - a broken __str__ is logging's to report
            continue
        masked = MASKER.mask(text)
        if masked != text:
            return masked
    return arg
