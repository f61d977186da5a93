"""The WhatsApp Business Cloud API channel: webhook receiver, payload
conversion, Graph API calls and replies."""

from channels.whatsapp.channel import WhatsAppChannel

__all__ = ["WhatsAppChannel"]
