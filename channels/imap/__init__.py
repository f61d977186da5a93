"""An e-mail channel: an IMAP mailbox read with imapclient
(:mod:`~channels.imap.channel`, connection, scan, XOAUTH2 tokens) and the
citizens answered over SMTP (:mod:`~channels.imap.smtp`)."""
