"""Personal data in complaint text, for the pages: the finding and masking
live with the agency message (``dispatcher.privacy``), so that a sink, the
API and the dashboard mask the same things."""

from __future__ import annotations

from dispatcher.privacy import PII_LABELS, find_pii, mask_pii

__all__ = ["PII_LABELS", "find_pii", "mask_pii"]
