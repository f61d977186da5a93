"""The shared contracts at the bottom of Dengar: what travels between the
channels, the normalizer, the dispatcher and the application shell.

- :mod:`contracts.records`: the records (an inbound message, a rejected
  item, a reply to send, a delivery report, case statuses);
- :mod:`contracts.channel`: the fetch result and the channel and replier
  protocols;
- :mod:`contracts.policy`: how the pipeline treats one channel's items
  (session window, triage, reply templates and rate limit, loop domain),
  built once at start-up from the channel's settings;
- :mod:`contracts.errors`: the one error tree (fatal, retriable with
  ``retry_after``, skippable, unreachable) and :mod:`contracts.backoff`;
- :mod:`contracts.tracking`, :mod:`contracts.mail_ids`,
  :mod:`contracts.single_line`, :mod:`contracts.folding`: formats both sides
  of a boundary must agree on (tracking numbers, mail identities and loop
  marks, one-line header text, text folded for comparison);
- :mod:`contracts.registry`: type names resolved lazily to classes.

It imports nothing of Dengar, so every layer may import it, config included
(the floors are checked by import-linter, see ``[tool.importlinter]`` in
pyproject.toml).
"""
