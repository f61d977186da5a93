"""A Telegram bot (python-telegram-bot): the channel
(:mod:`~channels.telegram.channel`), Bot API JSON ↔ records
(:mod:`~channels.telegram.updates`) and the HTTP plumbing beneath."""
