"""What the Page and Instagram channel makes of Meta's errors: a fetch that
cannot go on (a missing permission stops the channel), a reply to retry
later, or one that can never go (``RecipientUnreachable``, with a reason
``dispatcher.wording`` says in Indonesian for staff)."""

from __future__ import annotations

from channels.meta.graph import (
    GONE_SUBCODE,
    NOT_AVAILABLE,
    OUTSIDE_WINDOW,
    PERMISSION,
    GraphError,
)
from channels.meta_graph import channel_error
from contracts.errors import FatalChannelError, RecipientUnreachable, ReplyRetriable


def tagged_refusal(media_id: str, exc: GraphError | None) -> str:
    """Why a public reply to an Instagram media we are mentioned or tagged
    in cannot go (``dispatcher.wording`` says it in Indonesian for staff)."""
    if exc is None:
        return (
            f"Instagram media {media_id} only tags the account: Meta allows no "
            "reply there; answer the citizen in the Instagram app"
        )
    return (
        f"Meta refused a comment on Instagram media {media_id} "
        f"(code {exc.code}): the account is only tagged in it, comments are "
        f"off, or the comment permission is missing ({exc}); answer the "
        "citizen in the Instagram app"
    )


def comment_refused(exc: GraphError) -> bool:
    """Meta's documented "not allowed here" answers to a comment: 10
    (permission denied for this action), 200 (permissions error), 100 with
    subcode 33 (the object does not support this operation)."""
    return exc.code in (OUTSIDE_WINDOW, PERMISSION) or (
        exc.code == 100 and exc.subcode == GONE_SUBCODE
    )


def fetch_error(exc: GraphError) -> Exception:
    """The channel error of a failed read (a missing permission is fatal)."""
    if exc.code == PERMISSION:
        return FatalChannelError(
            f"Meta refused a permission the channel needs ({exc}); see docs/meta.md"
        )
    return channel_error("Meta", exc)


def reply_error(exc: GraphError) -> Exception:
    """The error of a failed reply: unreachable, or retried later."""
    if exc.code in (NOT_AVAILABLE, OUTSIDE_WINDOW) or (
        exc.code == 100 and exc.subcode == GONE_SUBCODE
    ):
        return RecipientUnreachable(f"Meta: {exc}")
    if exc.rate_limited:
        return ReplyRetriable(f"Meta rate limit: {exc}", exc.retry_after or 60.0)
    if exc.token_rejected:
        return ReplyRetriable("Meta rejected the Page access token", 300)
    if exc.code == PERMISSION:
        return ReplyRetriable(f"Meta refused a permission: {exc}", 3600)
    return ReplyRetriable(f"Meta: {exc}", exc.retry_after)
