"""The WhatsApp Business Cloud API channel: the channel
(:mod:`~channels.whatsapp.channel`), webhook payloads ↔ records, Graph API
calls and replies."""
