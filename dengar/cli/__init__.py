"""The ``dengar`` command line: :mod:`dengar.cli.main` holds the group and
the everyday commands, one module per further command family (``case``,
``dedupe``, ``triage``, …), loaded only when run (:mod:`dengar.cli.lazy`);
:mod:`dengar.cli.common` what they share."""

from dengar.cli.main import main

__all__ = ["main"]
