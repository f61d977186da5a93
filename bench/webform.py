"""Benchmark: the citizen web form /lapor under load, on SQLite.

``dengar serve`` runs in its own process on 127.0.0.1 (as in production).
Each form is fetched and its ALTCHA challenge solved before the clock
starts (the proof of work is the citizen's browser's cost; the bench runs
it with a small ``captcha_max_number`` so preparing stays short, the
server's check costs the same at any difficulty). Then, at ``--rate`` per
second for ``--seconds``, in the same run:

- baseline: ``GET /lacak?no=…`` (the public page nearest to it: one lookup);
- text: ``POST /lapor`` with text only (target p95 ≤ 300 ms at 50/s);
- photos: ``POST /lapor`` with 3 phone photos (1600x1200 JPEG with EXIF
  GPS) at ``--photo-rate`` (each costs the server far more CPU).

Prints answer p50/p95/max and the ``dengar serve`` process's CPU per
request for each, then the pipeline's CPU per submission when the runner
ingests the spooled forms in this process.

    python -m bench.webform [--rate 50] [--photo-rate 5] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from bench.cpu import process_cpu
from bench.stats import percentile
from channels.webform.captcha import solve
from config.loader import load_settings
from dengar.app import App
from dengar.runner import Runner
from tests.services import free_port

TEXT = (
    "Jalan di depan SDN 3 Semayap berlubang besar sejak dua minggu, sudah dua "
    "motor jatuh. Mohon segera ditambal sebelum musim hujan."
)
CONFIG = {
    "tracking_prefix": "KTB",
    "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
    "routing": {"default_agency": "PUPR"},
    "gazetteer": {
        "places": [
            {"name": "Pulau Laut Utara", "latitude": -3.24, "longitude": 116.22},
            {"name": "Semayap", "kind": "desa", "kecamatan": "Pulau Laut Utara"},
        ]
    },
}


def phone_photo(seed: int) -> bytes:
    """A 1600x1200 JPEG with EXIF GPS, about the size a phone sends."""
    # smooth detail, as a photo of a street has: about 370 kB at quality 85
    small = Image.effect_noise((200, 150), 60 + seed % 20).convert("RGB")
    image = small.resize((1600, 1200), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (3.0, 14.0, 30.0), 3: "E", 4: (116.0, 12.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


async def _prepared(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    forms = []
    for _ in range(count):
        page = (await client.get("/lapor")).text
        token = re.search(r'name="token" value="([^"]+)"', page)
        challenge = re.search(r'challengejson="([^"]+)"', page)
        assert token, "the form has no token"
        assert challenge, "the form has no ALTCHA challenge"
        forms.append(
            {
                "token": token.group(1),
                "altcha": solve(html.unescape(challenge.group(1))),
                "judul": "Jalan berlubang di depan SDN 3",
                "isi": TEXT,
                "tanggal": "2026-11-20",
                "kecamatan": "Pulau Laut Utara",
                "desa": "Semayap",
                "kerahasiaan": "biasa",
                "kontak": "none",
            }
        )
    return forms


async def _paced(
    rate: float, count: int, call: object
) -> tuple[list[float], list[int], float]:
    """Start ``call(n)`` at ``rate`` per second; latencies, statuses, seconds."""
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(n: int) -> None:
        started = time.perf_counter()
        try:
            status = await call(n)  # type: ignore[operator]
        except httpx.TransportError:
            status = 0  # counted as not answered
        latencies.append(time.perf_counter() - started)
        statuses.append(status)

    began = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = began + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return latencies, statuses, time.perf_counter() - began


async def run(
    rate: float, photo_rate: float, seconds: float, tmp: Path
) -> list[list[str]]:
    """Run the three loads and the pipeline; returns the table's rows."""
    count = int(rate * seconds)
    photo_count = int(photo_rate * seconds)
    port = free_port()
    config = dict(
        CONFIG,
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        web={
            "secret_key": "bench",
            "cookie_secure": False,
            "port": port,
            "tracking_per_minute": 1_000_000,
        },
        channels=[
            {
                "name": "formulir",
                "type": "webform",
                "spool_directory": str(tmp / "spool"),
                "captcha_max_number": 1000,
                "submissions_per_hour": 1_000_000,
            }
        ],
    )
    path = tmp / "dengar.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    app = App.open(load_settings(path))  # creates the database before serve
    log = (tmp / "serve.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "-m", "dengar", "--config", str(path), "serve"],
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    rows: list[list[str]] = []
    try:
        for _ in range(300):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.2),
            ):
                break
            await asyncio.sleep(0.1)
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as client:
            text_forms = await _prepared(client, count)
            photo_forms = await _prepared(client, photo_count)
        photos = [phone_photo(i) for i in range(3)]
        # fresh connections: the server closed the idle ones of the preparation
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as client:

            async def lookup(n: int) -> int:
                answer = await client.get("/lacak", params={"no": "KTB-7K3M-9Q2D"})
                return answer.status_code

            async def text(n: int) -> int:
                answer = await client.post("/lapor", data=text_forms[n])
                return answer.status_code

            async def with_photos(n: int) -> int:
                files = [
                    ("lampiran", (f"IMG_{i}.jpg", p, "image/jpeg"))
                    for i, p in enumerate(photos)
                ]
                answer = await client.post("/lapor", data=photo_forms[n], files=files)
                return answer.status_code

            for name, call, good, pace, sent in (
                ("baseline GET /lacak", lookup, 200, rate, count),
                ("POST /lapor, text", text, 303, rate, count),
                ("POST /lapor, 3 photos", with_photos, 303, photo_rate, photo_count),
            ):
                cpu = process_cpu(web.pid) or 0.0
                latencies, statuses, took = await _paced(pace, sent, call)
                cpu = (process_cpu(web.pid) or 0.0) - cpu
                ok = sum(1 for s in statuses if s == good)
                rows.append(
                    [
                        name,
                        f"{ok}/{sent}",
                        f"{sent / took:.1f}",
                        f"{percentile(latencies, 0.50) * 1000:.0f}",
                        f"{percentile(latencies, 0.95) * 1000:.0f}",
                        f"{max(latencies) * 1000:.0f}",
                        f"{cpu / sent * 1000:.1f}",
                    ]
                )
    finally:
        web.terminate()
        web.wait(timeout=30)
        log.close()
    cpu = time.process_time()
    summary = await Runner(app).run_once()
    cpu = time.process_time() - cpu
    stored = sum(s.new_cases for s in summary.channels.values())
    rows.append(
        [
            "pipeline: spool → case",
            f"{stored}/{int(rate * seconds) + photo_count}",
            "-",
            "-",
            "-",
            "-",
            f"{cpu / max(1, stored) * 1000:.1f}",
        ]
    )
    await app.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument(
        "--photo-rate",
        type=float,
        default=5.0,
        help="submissions with 3 photos per second (their CPU is what counts)",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        rows = asyncio.run(run(args.rate, args.photo_rate, args.seconds, Path(tmp_dir)))
    head = ["load", "answered ok", "req/s", "p50 ms", "p95 ms", "max ms", "CPU ms/req"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    load = os.getloadavg()[0]
    print(
        f"\nload average at the end: {load:.1f} on {os.cpu_count()} cores (other "
        "jobs on a shared machine inflate the latencies, far less the CPU)"
    )
    print(
        f"{args.rate:g}/s ({args.photo_rate:g}/s with photos) for "
        f"{args.seconds:g} s each; target: text p95 ≤ 300 ms. "
        "CPU ms/req: the dengar serve process (pipeline row: this process, "
        "runner ingesting the spooled forms)."
    )


if __name__ == "__main__":
    main()
