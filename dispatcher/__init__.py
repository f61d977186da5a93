"""Routing, the outbox, agency sinks and citizen replies."""
