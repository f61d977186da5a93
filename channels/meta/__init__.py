"""The regency's Facebook Page and Instagram professional account: webhook
receiver, payload conversion, catch-up reads and replies (Graph API)."""

from channels.meta.channel import MetaChannel

__all__ = ["MetaChannel"]
