"""A salted fingerprint of a settings block, to notice that it changed.

A channel stopped by a fatal error (a refused login, a revoked token) stays
stopped while its settings are the same: retrying would only be refused
again, and repeated failed logins can lock the mailbox. Once an operator
changes them and restarts, the fingerprint differs and the channel is tried
again. The secrets are part of what is hashed (a new password must count),
hence the salt, stored in the clear before the ``$``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr


def settings_fingerprint(settings: BaseModel, salt: str) -> str:
    """``salt$sha256(salt, settings with their secret values)``."""
    payload = json.dumps(
        settings.model_dump(mode="python"), default=_plain, sort_keys=True
    )
    digest = hashlib.sha256(f"{salt}\0{payload}".encode()).hexdigest()
    return f"{salt}${digest}"


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return repr(value.get_secret_value())
    return str(value)
