"""Duplicate linking: an in-memory index of the open cases in the window
(:mod:`~normalizer.dedupe.index`), its candidate search and ranking, the
details that keep similar reports apart, paraphrase matching, and how the
index follows the database (:mod:`~normalizer.dedupe.rows`,
:mod:`~normalizer.dedupe.database`). See docs/dedupe.md."""
