"""Files a message brought word of but could not bring (too large, the
download failed): what the pipeline notes on the case and tells the citizen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def missing_files_metadata(
    missing: Sequence[dict[str, Any]], max_file_bytes: int | None = None
) -> dict[str, Any]:
    """The item metadata that tells the pipeline which files of a message
    could not be fetched (each ``{kind, filename, size, reason, file_id}``,
    with the ``limit`` it broke when known), for the case's history and the
    citizen's reply; empty when nothing is missing."""
    if not missing:
        return {}
    metadata: dict[str, Any] = {"files_not_downloaded": tuple(missing)}
    if max_file_bytes is not None:
        metadata["max_file_bytes"] = max_file_bytes
    # a scalar, so that it survives into the stored record's extras
    metadata["files_not_downloaded_ids"] = " ".join(m["file_id"] for m in missing)
    too_large = [m for m in missing if m["reason"] == "too_large"]
    if too_large:
        first = too_large[0]
        metadata["file_too_large"] = True
        metadata["file_too_large_name"] = first["filename"]
        if "limit" in first:
            metadata["max_file_bytes"] = first["limit"]
        metadata["file_too_large_bytes"] = first["size"]
    return metadata
