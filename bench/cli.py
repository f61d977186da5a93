"""Start-up time of the ``dengar`` command against a bare Python start.

    python -m bench.cli                 # 10 rounds
    python -m bench.readme cli -- python -m bench.cli --rounds 20

Each round runs ``python -c pass``, ``dengar --help`` and ``dengar status``
(on the example configuration, in a scratch directory where the example has
run once) one after the other, so a busy machine slows all three alike; the
table gives the median and the best wall time of each, its ratio to
``python -c pass`` and its median CPU time (user + system): on a machine
shared with other work the wall time is mostly waiting for a core, the CPU
time is what the command itself costs. Target: ``--help`` and ``status``
under 0.5 s.

Every command reads its bytecode from a cache in the scratch directory
(``PYTHONPYCACHEPREFIX``), filled by one untimed run of each, as an installed
Dengar does: a shell that sets ``PYTHONDONTWRITEBYTECODE`` would otherwise
charge each start with compiling Dengar's own modules (about a tenth of
``status``), which no installation pays.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "dengar.example.yaml"
TARGET = 0.5


def _env(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    # the scratch directory is the working directory: keep this checkout first
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH", "")])
    )
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command``."""
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        env=_env(cwd / "pycache"),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    dengar = [sys.executable, "-m", "dengar"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dengar --help": [*dengar, "--help"],
        "dengar status": [*dengar, "--config", str(CONFIG), "status"],
    }
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        shutil.copytree(ROOT / "examples", cwd / "examples")
        # the database exists and is migrated, as it is on a running install
        subprocess.run(
            [*dengar, "--config", str(CONFIG), "run", "--once"],
            cwd=cwd,
            env=_env(cwd / "pycache"),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for command in commands.values():
            _timed(command, cwd)  # fills the bytecode cache; not counted
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                wall, used = _timed(command, cwd)
                times[name].append(wall)
                cpu[name].append(used)
    base = statistics.median(times["python -c pass"])
    print(
        f"{'command':<16} {'median s':>9} {'best s':>7} {'x pass':>7} "
        f"{'cpu s':>6}  target"
    )
    for name, values in times.items():
        median = statistics.median(values)
        target = "" if name.startswith("python") else f"< {TARGET} s"
        verdict = ""
        if target:
            verdict = " met" if median < TARGET else " missed"
        print(
            f"{name:<16} {median:>9.3f} {min(values):>7.3f} "
            f"{median / base:>7.1f} {statistics.median(cpu[name]):>6.3f}  "
            f"{target}{verdict}"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"({args.rounds} rounds, interleaved; {os.cpu_count()} cores; "
        f"load average at the end {load})"
    )


if __name__ == "__main__":
    main()
