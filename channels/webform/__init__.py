"""The citizen web form ``/lapor``: checks, files, captcha, spool, channel."""

from channels.webform.channel import WebformChannel

__all__ = ["WebformChannel"]
