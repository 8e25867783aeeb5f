"""Load test of the HTTP API on loopback (bounded in count and time).

1. Single-sentence requests to POST /v1/sentences at a fixed rate (default 200/s for 10 s):
   latency p50/p99 (target p99 < 20 ms).
2. Whole-report requests (a 300-sentence report as JSON text to POST /v1/reports):
   latency and throughput (target < 100 ms per report).

Starts its own server on a free loopback port with the exported champion model.
Run: .venv/bin/python benchmarks/load.py [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _fixed_rate(url: str, sentences: list[str], n: int, rate: float) -> tuple[list[float], float]:
    """Open-loop load: request i is sent at start + i/rate whatever the earlier ones are doing."""
    lat: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=5, limits=limits) as client:
        for s in sentences:  # warm up
            await client.post("/v1/sentences", json={"sentences": [s]})

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            r = await client.post("/v1/sentences", json={"sentences": [sentences[i % len(sentences)]]})
            if r.status_code == 200:
                lat.append(time.perf_counter() - t0)

        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks, return_exceptions=True)
        return lat, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--reports", type=int, default=30)
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        sentences = ["Caseloads are manageable.", "Supervision is not always regular and reflective.",
                     "Ensure that return home interviews are timely.", "Inspectors visited the local authority in May."]
        n = int(args.rate * args.seconds)
        lat, wall = asyncio.run(_fixed_rate(url, sentences, n, args.rate))
        print(f"single sentences: {len(lat)}/{n} ok at {args.rate:.0f} req/s offered ({len(lat) / wall:.0f} req/s served)")
        print(f"  latency p50 {1000 * statistics.median(lat):.1f} ms  p90 {1000 * pct(lat, 0.9):.1f} ms  "
              f"p99 {1000 * pct(lat, 0.99):.1f} ms  max {1000 * max(lat):.1f} ms  (target p99 < 20 ms)")
        clients = [httpx.Client(base_url=url, timeout=30)]
        # whole reports of 300 sentences
        from pipeline.config import default_params
        from pipeline.data import load_sentences

        rows = [r for r in load_sentences(default_params()) if r["report"].startswith("barnet_")]
        text = "\n".join([r["text"] for r in rows if r["kind"] != "heading"][:300])  # 300 sentences, one per line
        body = {"text": text, "report": "load"}
        c = clients[0]
        got = c.post("/v1/reports", json=body, timeout=30).json()
        k = len(got["sentences"])
        times = []
        for _ in range(args.reports):
            t0 = time.perf_counter()
            c.post("/v1/reports", json=body, timeout=30)
            times.append(time.perf_counter() - t0)
        print(f"whole report ({k} sentences): median {1000 * statistics.median(times):.1f} ms, "
              f"p90 {1000 * pct(times, 0.9):.1f} ms, {args.reports / sum(times):.1f} reports/s, "
              f"{k * args.reports / sum(times):.0f} sentences/s (target < 100 ms for 300 sentences)")
        for cl in clients:
            cl.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
