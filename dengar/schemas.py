"""Generate the JSON Schemas kept in the repository from the models.

``python -m dengar.schemas`` rewrites them; a test fails when they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.settings import Settings
from contracts.records import Complaint

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS: dict[Path, Any] = {
    ROOT / "docs" / "schema" / "complaint.json": Complaint,
    ROOT / "config" / "dengar.schema.json": Settings,
}


def render(model: Any, path: Path) -> str:
    """The schema text for ``model`` as stored at ``path``."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://dengar.id/schema/{path.name}"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    """Write every schema file."""
    for path, model in SCHEMAS.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(model, path), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
