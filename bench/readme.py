"""Run a benchmark and put its table into the README's performance section.

    python -m bench.readme email -- python -m bench.email --count 500

runs the command, shows its output as it comes, and replaces the block
between ``<!-- bench:email -->`` and ``<!-- /bench:email -->`` in README.md
with that output, the command and the machine it ran on.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the ``name`` block's content replaced by ``body``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {start} … {end} block")
    return pattern.sub(lambda _m: f"{start}\n{body}\n{end}", text)


def main() -> None:
    """Run the command after ``--`` and record its output under NAME."""
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        raise SystemExit("usage: python -m bench.readme NAME -- COMMAND …")
    name, command = args[0], args[2:]
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            lines.append(line.rstrip("\n"))
    if process.returncode != 0:
        raise SystemExit(
            f"benchmark failed (exit {process.returncode}); README unchanged"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    # show `python`, not the path of whichever interpreter ran it
    if Path(command[0]).name.startswith("python"):
        command = ["python", *command[1:]]
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    body = (
        f"`{' '.join(command)}` — {when}, {machine} (a shared machine: compare "
        "the ratios in one run, not absolute numbers across runs)\n\n"
        "```text\n" + "\n".join(lines).strip() + "\n```"
    )
    README.write_text(replace_block(README.read_text(encoding="utf-8"), name, body))
    print(f"\nwrote the {name} block of {README.name}")


if __name__ == "__main__":
    main()
