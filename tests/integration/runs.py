"""Running the whole of Dengar once in a test, as ``dengar run`` would."""

from __future__ import annotations

from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner


async def run_once(settings: Settings) -> App:
    """One pass of every channel and the outbox; fails on any error. The
    returned app is closed: open sessions with ``app.sessions()``."""
    app = App.open(settings)
    try:
        summary = await Runner(app).run_once()
    finally:
        await app.close()
    assert not summary.errors
    return app
