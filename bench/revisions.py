"""The same benchmarks on two revisions, interleaved in one run.

    python -m bench.revisions 18a8751 HEAD            # the default set
    python -m bench.readme revisions -- python -m bench.revisions 18a8751 HEAD

A refactoring must leave speed alone, and this machine is shared and noisy:
numbers from two runs an hour apart say little. So each benchmark runs on
revision A, then B, then A … (``--rounds`` times each), each from its own
``git worktree``, and the table gives, per benchmark, the median CPU time the
benchmark's processes used (user + system, children included) and the
ratio B / A. CPU time is what a refactoring changes; wall time mostly
measures the neighbours. A ratio within about ±10 % is noise here.
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

# name -> command, run in the revision's checkout; small sizes, so that the
# whole comparison fits in minutes, but each one goes through the real path
BENCHMARKS: dict[str, list[str]] = {
    "email ingest (Maildir, 300 mails)": [
        "-m", "bench.email", "--count", "300", "--runs", "1", "--no-dovecot",
    ],
    "telegram (2,000 updates)": [
        "-m", "bench.telegram", "--updates", "2000", "--chats", "200",
    ],
    "text steps": ["-m", "bench.textsteps", "--runs", "1"],
    "dispatch (SQLite, database sink, 2,000 cases)": [
        "-m", "bench.dispatch", "--cases", "2000", "--sinks", "database",
        "--workers", "1", "--db", "sqlite",
    ],
}  # fmt: skip


def _checkout(revision: str, into: Path) -> Path:
    """A detached worktree of ``revision`` (with ``../shared`` beside it, as
    the benchmarks expect when they read the shared data)."""
    path = into / revision.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(path),
         revision],
        check=True,
    )  # fmt: skip
    shared = ROOT.parent / "shared"
    if shared.exists() and not (into / "shared").exists():
        (into / "shared").symlink_to(shared)
    return path


def _cpu_of(command: list[str], cwd: Path) -> tuple[float, float, bool]:
    """CPU seconds (user + system of the children) and wall seconds of one
    run, and whether it succeeded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    done = subprocess.run(
        [sys.executable, *command], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
    return cpu, wall, done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="comma-separated words; run benchmarks naming one"
    )
    args = parser.parse_args()
    chosen = {
        name: command
        for name, command in BENCHMARKS.items()
        if not args.only or any(w in name for w in args.only.split(","))
    }
    scratch = Path(tempfile.mkdtemp(prefix="dengar-revisions-"))
    try:
        before = _checkout(args.before, scratch)
        after = _checkout(args.after, scratch)
        rows = []
        for name, command in chosen.items():
            cpu: dict[str, list[float]] = {"a": [], "b": []}
            failed = False
            for _ in range(args.rounds):
                for key, tree in (("a", before), ("b", after)):
                    spent, _wall, ok = _cpu_of(command, tree)
                    failed |= not ok
                    cpu[key].append(spent)
            a, b = statistics.median(cpu["a"]), statistics.median(cpu["b"])
            rows.append((name, a, b, b / a if a else float("nan"), failed))
            print(f"  {name}: {a:.2f} s → {b:.2f} s", file=sys.stderr, flush=True)
    finally:
        for tree in scratch.iterdir():
            if tree.is_dir() and not tree.is_symlink():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force",
                     str(tree)],
                    check=False,
                )  # fmt: skip
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"CPU time per benchmark, median of {args.rounds} interleaved runs: "
        f"A = {args.before}, B = {args.after}"
    )
    print(f"{'benchmark':<48} {'A (s)':>8} {'B (s)':>8} {'B/A':>6}")
    for name, a, b, ratio, failed in rows:
        note = "  (a run failed)" if failed else ""
        print(f"{name:<48} {a:>8.2f} {b:>8.2f} {ratio:>6.2f}{note}")


if __name__ == "__main__":
    main()
