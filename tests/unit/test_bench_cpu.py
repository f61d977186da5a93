"""The load benchmark's CPU accounting (bench/cpu.py)."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.cpu import CpuMeter, backends_of, process_cpu


def test_cpu_used_after_the_baseline_counts_and_outlives_the_process():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdin.readline(); sum(range(3 * 10**7))"
            "; sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
    )
    assert child.stdin is not None
    meter = CpuMeter()
    meter.sample({"child": [child.pid]})  # the baseline: start-up not counted
    child.stdin.write(b"work\n")
    child.stdin.flush()
    deadline = time.monotonic() + 30
    while meter.seconds().get("child", 0.0) < 0.1 and time.monotonic() < deadline:
        meter.sample({"child": [child.pid]})  # it works, we watch
    child.communicate(b"exit\n")  # gone, like a backend whose connection closed
    meter.sample({"child": [child.pid]})
    assert process_cpu(child.pid) is None
    assert meter.seconds()["child"] >= 0.1


def test_a_process_first_seen_after_the_baseline_counts_from_zero():
    meter = CpuMeter()
    meter.sample({"me": []})
    busy = subprocess.Popen(
        [sys.executable, "-c", "sum(range(2 * 10**7)); import time; time.sleep(5)"]
    )
    try:
        deadline = time.monotonic() + 30
        while (process_cpu(busy.pid) or 0) < 0.1 and time.monotonic() < deadline:
            time.sleep(0.01)
        meter.sample({"late": [busy.pid]})
        assert meter.seconds()["late"] >= 0.1
    finally:
        busy.kill()
        busy.wait()


def test_no_backends_for_a_database_nobody_uses():
    assert backends_of("no_such_database_anywhere") == []
