"""scale_bench.py's load generators: POST /api/v1/reports, a new URL each, closed loop.

wrk (C, Debian's package) is preferred: on a small machine the load generator competes with the
servers for CPU, and wrk spends a fraction of what a Python client does per request. The aiohttp
fallback is the same load from one event loop. Both count 201s only as acknowledged reports.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import harness

# Each wrk thread numbers its requests; `tag` (a wrk argument) keeps phases' URLs apart.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  tag, n, created, other = args[1] or "x", 0, 0, 0
end
function request()
  n = n + 1
  local body = '{"category":"csam","urls":["https://example.com/scale/' .. tag .. '/' .. id .. '/' .. n .. '"]}'
  return wrk.format("POST", "/api/v1/reports", {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format('JSON{"created":%d,"other_status":%d,"duration_us":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n', c, o, summary.duration, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_load(base: str, connections: int, seconds: float, cpus: set[int] | None, *, tag: str) -> dict[str, Any]:
    threads = max(1, min(len(cpus) if cpus else 1, 4))
    with tempfile.TemporaryDirectory(prefix="scale-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(max(connections, threads)),
                              "-d", f"{max(1, round(seconds))}s", "--timeout", "15s", "-s", str(script), base, "--", tag],
                             capture_output=True, text=True, timeout=seconds + 60)
    lines = [line[4:] for line in out.stdout.splitlines() if line.startswith("JSON{")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary (exit {out.returncode}): {out.stderr[-1000:]}{out.stdout[-1000:]}")
    got = json.loads(lines[0])
    return {"acknowledged": got["created"], "seconds": got["duration_us"] / 1e6,
            "errors": {k: got[k] for k in ("other_status", "connect", "read", "write", "timeout")},
            "latency_ms": {"p50": got["p50_us"] / 1000, "p99": got["p99_us"] / 1000, "max": got["max_us"] / 1000}}


def aiohttp_load(base: str, connections: int, seconds: float, cpus: set[int] | None, *, tag: str) -> dict[str, Any]:
    return harness.run_loop(_aiohttp(base, connections, seconds, tag))  # type: ignore[no-any-return]


async def _aiohttp(base: str, connections: int, seconds: float, tag: str) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = {"other_status": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0}
    began = time.perf_counter()
    deadline = began + seconds

    async def reporter(session: aiohttp.ClientSession, worker: int) -> int:
        created = n = 0
        while time.perf_counter() < deadline:
            n += 1
            body = {"category": "csam", "urls": [f"https://example.com/scale/{tag}/{worker}/{n}"]}
            t0 = time.perf_counter()
            try:
                async with session.post(f"{base}/api/v1/reports", json=body) as resp:
                    await resp.read()
                    if resp.status == 201:
                        created += 1
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors["other_status"] += 1
            except asyncio.TimeoutError:
                errors["timeout"] += 1
            except aiohttp.ClientError:
                errors["read"] += 1
        return created

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15)) as session:
        ids = iter(range(connections))
        created = await harness.run_workers(connections, lambda: reporter(session, next(ids)))
    figures = harness.ms(latencies) if latencies else {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {"acknowledged": created, "seconds": time.perf_counter() - began, "errors": errors,
            "latency_ms": {k: figures[k] for k in ("p50", "p99", "max")}}
