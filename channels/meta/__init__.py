"""The regency's Facebook Page and Instagram professional account: the
channel (:mod:`~channels.meta.channel`), webhook payloads ↔ records, the
Graph API catch-up and replies."""
