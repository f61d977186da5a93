"""Mail from files, for ``dengar import FILE…``: single ``.eml`` messages and
``mbox`` archives (mboxo and mboxrd, as written by Thunderbird, Gmail's
Takeout, ``mutt`` or Postfix), and folders holding them.

Archives are read as a stream, one message at a time, so a multi-gigabyte
Takeout does not need its size in memory. A file is an mbox when it starts
with a ``From `` line, whatever its name. Each message is handed over like
the IMAP channel does (raw RFC 822 bytes, the same ``external_id``), so
importing a file twice, or a mail already fetched over IMAP into the same
channel, creates nothing new.
"""

from __future__ import annotations

import email.policy
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from contracts.mail_ids import mail_external_id
from contracts.records import InboundMessage, RejectedItem

MB = 1_000_000
_ESCAPED_FROM = re.compile(rb"^>(>*From )")
Progress = Callable[[int, int], None]


def read_mail_files(
    paths: Iterable[str | os.PathLike[str]],
    channel_name: str,
    max_message_bytes: int = 25 * MB,
    progress: Progress | None = None,
) -> Iterator[InboundMessage | RejectedItem]:
    """Every message in ``paths`` (files or folders, folders recursively in
    name order), as ``InboundMessage``; a message that is empty, too large or
    unreadable as a ``RejectedItem`` with the reason. ``progress(done, total)``
    is called in bytes, for a progress bar."""
    files = list(_expand(paths))
    total = sum(_size(f) for f in files)
    done = 0
    for path in files:
        try:
            with path.open("rb") as handle:
                first = handle.read(5)
                handle.seek(0)
                if first == b"From ":
                    for item in _mbox(handle, path, channel_name, max_message_bytes):
                        yield item
                        # an archive is one file: report inside it as well
                        if progress is not None:
                            progress(done + handle.tell(), total)
                else:
                    raw = handle.read(max_message_bytes + 1)
                    yield _one(raw, path, None, channel_name, max_message_bytes)
        except OSError as exc:
            yield RejectedItem(
                channel=channel_name,
                external_id=f"file:{path}",
                raw=b"",
                reason=f"cannot read {path}: {exc.strerror or exc}",
            )
        done += _size(path)
        if progress is not None:
            progress(done, total)


def _expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mbox(
    handle: Iterable[bytes], path: Path, channel: str, limit: int
) -> Iterator[InboundMessage | RejectedItem]:
    lines: list[bytes] = []
    size = 0
    index = 0
    previous_blank = True
    for line in handle:
        if line.startswith(b"From ") and previous_blank:
            if index:
                yield _one(b"".join(lines), path, index, channel, limit, size)
            index += 1
            lines, size = [], 0
            previous_blank = False
            continue
        previous_blank = line in (b"\n", b"\r\n")
        size += len(line)
        if size <= limit + 1:
            # mboxrd escapes body lines starting "From " as ">From "
            lines.append(_ESCAPED_FROM.sub(rb"\1", line))
    if index:
        yield _one(b"".join(lines), path, index, channel, limit, size)


def _one(
    raw: bytes,
    path: Path,
    index: int | None,
    channel: str,
    limit: int,
    size: int | None = None,
) -> InboundMessage | RejectedItem:
    where = f"{path} message {index}" if index else str(path)
    size = len(raw) if size is None else size
    if index and raw.endswith(b"\n"):
        raw = raw[:-1]  # the blank line before the next "From " is the separator's
        raw = raw[:-1] if raw.endswith(b"\r") else raw
    if size > limit:
        return RejectedItem(
            channel=channel,
            external_id=f"file:{where}",
            raw=raw[:limit],
            reason=(
                f"{where} is over max_message_bytes ({limit}); "
                f"only its first {limit} bytes are kept here"
            ),
        )
    if not raw.strip():
        return RejectedItem(
            channel=channel,
            external_id=f"file:{where}",
            raw=raw,
            reason=f"{where} is empty",
        )
    metadata: dict[str, object] = {"source_file": str(path)}
    if index:
        metadata["mbox_index"] = index
    return InboundMessage(
        channel=channel,
        external_id=mail_external_id(raw),
        received_at=_received_at(raw, path),
        raw=raw,
        raw_format="rfc822",
        metadata=metadata,
    )


def _received_at(raw: bytes, path: Path) -> datetime:
    try:
        head = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        value = parsedate_to_datetime(str(head.get("Date", "")).strip())
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        return datetime.fromtimestamp(_mtime(path), UTC)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
