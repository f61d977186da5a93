"""CPU seconds used by the processes of a benchmark, read from /proc.

A load benchmark on a shared 2-core machine cannot tell "Dengar is slow"
from "the machine is full". Counting the CPU each part used (the Dengar
processes, the PostgreSQL backends serving them, the load generator with
its emulators) gives CPU per item, which other jobs on the machine inflate
far less than latency, and says how many cores a rate needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and brackets: fields follow the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def backends_of(database: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to ``database`` (their
    process title is ``postgres: <cluster>: <user> <database> <client> …``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """The CPU of named groups of processes, sampled while they run.

    The first :meth:`sample` is the baseline (what the processes used
    before, e.g. starting up, does not count); a process first seen later
    counts from zero; a process's last reading counts after it exits (a
    PostgreSQL backend ends with its connection)."""

    _first: dict[tuple[str, int], float] = field(default_factory=dict)
    _last: dict[tuple[str, int], float] = field(default_factory=dict)
    _rounds: int = 0

    def sample(self, groups: dict[str, list[int]]) -> None:
        """Read the CPU of each group's pids."""
        for group, pids in groups.items():
            for pid in pids:
                used = process_cpu(pid)
                if used is None:
                    continue
                key = (group, pid)
                self._first.setdefault(key, used if self._rounds == 0 else 0.0)
                self._last[key] = used
        self._rounds += 1

    def seconds(self) -> dict[str, float]:
        """CPU seconds per group since the baseline."""
        out: dict[str, float] = {}
        for key, used in self._last.items():
            out[key[0]] = out.get(key[0], 0.0) + used - self._first[key]
        return out
