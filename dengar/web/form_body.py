"""A form body read through a byte cap, for the public form ``/lapor``:
the request stream is counted as it arrives and parsing stops past the cap,
so an endless or lying upload costs no more than the cap."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException


class TooLarge(Exception):
    """The body went over the cap."""


class Unreadable(ValueError):
    """The body is no form the parser reads (no boundary, broken multipart,
    more parts than allowed); the message is the parser's, in English."""

    @property
    def too_many_parts(self) -> bool:
        """More fields or files than a form of ours has."""
        return str(self).startswith("Too many")


async def read_form(
    request: Request, limit: int, names: Collection[str], file_field: str
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The text fields in ``names`` (the first of each, cut at 20,000
    characters) and the files of ``file_field`` of a multipart (or
    urlencoded) body; ``TooLarge`` past ``limit`` bytes, counted as they
    arrive, whatever ``Content-Length`` said; ``Unreadable`` for a body the
    parser refuses."""
    received = 0

    async def capped() -> Any:
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise TooLarge
            yield chunk

    try:
        parsed = await Request(request.scope, _replay(capped())).form(
            max_files=10, max_fields=50
        )
    except HTTPException as exc:
        # Starlette's answer to a multipart it refuses: ours is the form's
        raise Unreadable(str(exc.detail)) from None
    fields: dict[str, str] = {}
    uploads: list[tuple[str, bytes]] = []
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                if name == file_field:
                    uploads.append((value.filename or "", await value.read()))
            elif name in names and name not in fields:
                fields[name] = value[:20_000]
    finally:
        await parsed.close()
    return fields, uploads


def _replay(chunks: Any) -> Any:
    async def receive() -> dict[str, Any]:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive
