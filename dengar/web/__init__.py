"""The staff dashboard and the agency API (FastAPI, server-rendered
Indonesian pages): ``create_app(app)`` builds the ASGI application."""

from dengar.web.app import create_app

__all__ = ["create_app"]
