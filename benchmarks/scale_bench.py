"""Reports per second through the public API with 1, 2, ... workers (`frontdoor serve --workers N`).

Run:  python benchmarks/scale_bench.py [--quick] [--rounds N] [--max-workers N] [--seconds S]
                                       [--connections C] [--redis-url URL] [--no-pin] [--redis-binary PATH]

Each phase starts the real `frontdoor serve --workers N` (its supervisor and N workers sharing the
port) on a redis-server this script starts on a free port (or on `--redis-url`: another Redis, or a
Redis Cluster as `redis+cluster://host:port,...`, flushed before every phase), and a load generator
POSTs a report with a new URL per request (a new case each) on `--connections` keep-alive
connections, closed loop, for `--seconds`. The load generator is wrk (Debian's package) where
installed, else aiohttp clients in a child process. The baseline is the same run's one worker:
every round runs each N in turn, and the ratio `reports/s with N ÷ (N × reports/s with one)` is
taken within a round; the median round is reported. Target (issue 13): at least 0.8.

Where the figures come from: acknowledged = 201s the load generator counted; stored = the queue's
own statistics afterwards (every acknowledged report must be there; a few answered after the load
generator stopped may be too). Redis work per report: INFO commandstats (every command, those run
inside the Lua scripts included) and INFO cpu of every node, before and after the phase; the
server's CPU from /proc for the supervisor and its workers.

CPU placement: redis-server alone on the last CPU. With at least N + 2 CPUs the workers get N CPUs
and the load generator the rest; with fewer (a 2-core machine) workers and load generator share
what Redis leaves, and the curve says more about that crowding than about the workers: the JSON's
`cpu_use` shows where the time went. Rate limits are raised out of the way (every request comes
from 127.0.0.1); access logging is off (FRONTDOOR_LOG_LEVEL=WARNING), as in web_bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import harness
from _load import aiohttp_load, wrk_load

TARGET_SCALING = 0.8
# Generous per-client limits: the load is one client. The per-client limits on POST /api/v1/reports
# are being added beside this (issue 13, section 4); their variables belong in this mapping too.
# One load generator is one client: every per-client limit out of the way (the settings' maxima).
LIMITS_ENV = {f"FRONTDOOR_RATE_{kind}_PER_MINUTE": "100000" for kind in ("CONVERSATIONS", "MESSAGES", "REPORTS", "RECEIPTS")}
READY_TIMEOUT_S = 60.0
# On a cluster: a few shards per primary, so that the shards' hash tags ({s0}, {s1}, ...) fall on
# every primary (3 shards on 3 primaries put two on one node and none on another).
SHARDS_PER_NODE = 4


def nodes_of(url: str) -> list[str]:
    """One plain URL per Redis node to ask INFO of: the cluster form names every primary."""
    if not url.startswith(("redis+cluster://", "rediss+cluster://")):
        return [url]
    scheme, rest = url.split("://", 1)
    auth, _, hosts = rest.rpartition("@")
    plain = scheme.replace("+cluster", "")
    return [f"{plain}://{auth + '@' if auth else ''}{host}/0" for host in hosts.rstrip("/").split(",")]


def node_figures(url: str) -> dict[str, Any]:
    """Command calls (without the INFO, FLUSHALL and PING this script sends), by command and in all,
    and CPU seconds so far."""
    by_command = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in harness.redis_info(url, "commandstats").items()
                  if k not in ("cmdstat_info", "cmdstat_flushall", "cmdstat_ping", "cmdstat_config")}
    cpu = harness.redis_info(url, "cpu")
    return {"calls": sum(by_command.values()), "by_command": by_command,
            "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])}


def flush(nodes: list[str]) -> None:
    import redis

    for url in nodes:
        client = redis.Redis.from_url(url)
        try:
            client.flushall()
            client.config_resetstat()  # commandstats from zero: each phase's own
        finally:
            client.close()


def process_tree(pid: int) -> list[int]:
    """The pid and its children (Linux /proc): the supervisor and its workers."""
    out = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # a process that ended while we looked
            continue
    return out


def tree_cpu_s(pids: list[int]) -> float:
    return sum(harness.proc_cpu_s(pid) or 0.0 for pid in pids)


class Frontdoor:
    """`frontdoor serve --workers N` in a scratch directory, on the server CPUs, until stopped."""

    def __init__(self, workers: int, redis_url: str, shards: int, tmp: Path, cpus: set[int] | None) -> None:
        self.port = harness.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
        env.update(LIMITS_ENV, FRONTDOOR_REDIS_URL=redis_url, FRONTDOOR_ALLOW_VOLATILE_REDIS="1",
                   FRONTDOOR_SMTP_PORT="0", FRONTDOOR_LOG_LEVEL="WARNING", FRONTDOOR_DATA_DIR=str(tmp / "data"),
                   FRONTDOOR_SECRET_KEY=harness.SECRET.decode(),
                   FRONTDOOR_QUEUE_SHARDS=str(shards))
        self.log = tmp / f"serve-{workers}-{self.port}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "frontdoor", "serve", "--port", str(self.port), "--workers", str(workers)],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_ready(workers)

    def _wait_ready(self, workers: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            announced = "frontdoor is listening on" in self.log.read_text()
            if announced and len(process_tree(self.proc.pid)) >= workers:
                try:
                    with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as response:
                        if response.status == 200:
                            return
                except OSError:  # not listening yet
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"frontdoor serve --workers {workers} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in process_tree(self.proc.pid):
                os.kill(pid, signal.SIGKILL)
            return self.proc.wait()


def phase(workers: int, redis_url: str, shards: int, tmp: Path, placement: dict[str, Any], seconds: float,
          connections: int) -> dict[str, Any]:
    nodes = nodes_of(redis_url)
    flush(nodes)
    server = Frontdoor(workers, redis_url, shards, tmp, placement["server_cpus"])
    try:
        load = wrk_load if placement["wrk"] else aiohttp_load
        load(server.base, connections, 0.5, placement["client_cpus"], tag=f"warm{workers}")  # connections, caches
        before_counts = harness.run_loop(harness.queue_counts(redis_url, shards))["reports"]
        pids = process_tree(server.proc.pid)
        before_nodes = [node_figures(url) for url in nodes]
        before_cpu, t0 = tree_cpu_s(pids), time.perf_counter()
        got = load(server.base, connections, seconds, placement["client_cpus"], tag=f"n{workers}")
        wall = time.perf_counter() - t0
        server_cpu = tree_cpu_s(pids) - before_cpu
        after_nodes = [node_figures(url) for url in nodes]
        stored = harness.run_loop(harness.queue_counts(redis_url, shards))["reports"] - before_counts
    finally:
        exit_code = server.stop()
    acked = got["acknowledged"]
    per_node = [{"calls_per_report": harness.ratio(a["calls"] - b["calls"], acked),
                 "cpu_us_per_report": round((a["cpu_s"] - b["cpu_s"]) / acked * 1e6, 1) if acked else None,
                 "cpu_use": round((a["cpu_s"] - b["cpu_s"]) / wall, 2)}
                for b, a in zip(before_nodes, after_nodes)]
    by_command: dict[str, int] = {}
    for b, a in zip(before_nodes, after_nodes):
        for command, calls in a["by_command"].items():
            by_command[command] = by_command.get(command, 0) + calls - b["by_command"].get(command, 0)
    return {"workers": workers, "reports_per_s": harness.rate(acked, got["seconds"]), "acknowledged": acked,
            "stored": stored, "errors": got["errors"], "latency_ms": got["latency_ms"],
            "server_cpu_us_per_report": round(server_cpu / acked * 1e6, 1) if acked else None,
            "cpu_use": {"server": round(server_cpu / wall, 2), "redis": [n["cpu_use"] for n in per_node]},
            "redis_per_node": per_node, "serve_exit_code": exit_code,
            "redis_calls_per_report_by_command": {k: harness.ratio(v, acked) for k, v in
                                                  sorted(by_command.items(), key=lambda kv: -kv[1]) if v > 0}}


def place(pin: bool, max_workers: int, redis_pid: int | None) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0)) if pin and hasattr(os, "sched_getaffinity") else []
    out: dict[str, Any] = {"server_cpus": None, "client_cpus": None, "described": None, "wrk": shutil.which("wrk")}
    if len(cpus) < 2:
        return out
    if redis_pid is not None:
        os.sched_setaffinity(redis_pid, {cpus[-1]})
    rest = cpus[:-1] if redis_pid is not None else cpus
    if len(rest) >= max_workers + 1:
        out["server_cpus"], out["client_cpus"] = set(rest[:max_workers]), set(rest[max_workers:])
    else:  # too few CPUs for the workers to have their own: they and the load generator share the rest
        out["server_cpus"] = out["client_cpus"] = set(rest)
    out["described"] = {"redis_server": [cpus[-1]] if redis_pid is not None else "not ours",
                        "workers": sorted(out["server_cpus"]), "load_generator": sorted(out["client_cpus"])}
    os.sched_setaffinity(0, out["client_cpus"])  # this script, and wrk with it
    return out


def redis_benchmark_ops_per_s(url: str) -> float | None:
    """Plain SETs from 50 clients (redis-benchmark, where installed): the server's round-trip ceiling."""
    binary = shutil.which("redis-benchmark")
    if binary is None or not url.startswith("redis://127.0.0.1:"):
        return None
    port = url.split(":")[2].split("/")[0]
    out = subprocess.run([binary, "-p", port, "-t", "set", "-n", "200000", "-c", "50", "-q", "--csv"],
                         capture_output=True, text=True, timeout=120).stdout
    rows = [line.split(",") for line in out.splitlines() if line.startswith('"SET"')]
    return round(float(rows[0][1].strip('"')), 1) if rows else None


def run(redis_url: str, redis_pid: int | None, version: str, args: argparse.Namespace) -> dict[str, Any]:
    began = harness.Run()
    max_workers = args.max_workers or len(os.sched_getaffinity(0))
    counts = list(range(1, max_workers + 1))
    placement = place(not args.no_pin, max_workers, redis_pid)
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    nodes = len(nodes_of(redis_url))
    shards = args.shards or (SHARDS_PER_NODE * nodes if nodes > 1 else 1)
    samples = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        for _ in range(rounds):
            sample: dict[str, Any] = {str(n): phase(n, redis_url, shards, Path(tmp), placement, seconds,
                                                    args.connections) for n in counts}
            one = sample["1"]["reports_per_s"]
            sample["ratio"] = harness.ratio(sample[str(counts[-1])]["reports_per_s"], counts[-1] * one)
            samples.append(sample)
    chosen = harness.median_round(samples)
    one = chosen["1"]
    levels = {str(n): {**chosen[str(n)], "scaling_vs_one_worker": harness.target(
        harness.ratio(chosen[str(n)]["reports_per_s"], n * one["reports_per_s"]) or 0.0, TARGET_SCALING),
        # What a report costs the server with N workers against with one: 1.0 is no contention among
        # them, so that N cores of their own would hold N times one worker's rate.
        "cpu_per_report_one_worker_vs_n": harness.ratio(one["server_cpu_us_per_report"],
                                                        chosen[str(n)]["server_cpu_us_per_report"])}
        for n in counts}
    busiest = max(node["cpu_us_per_report"] or 0.0 for node in one["redis_per_node"])
    redis = {"nodes": nodes, "calls_per_report_by_command": one["redis_calls_per_report_by_command"],
             "commands_per_report": harness.ratio(sum(n["calls_per_report"] or 0 for n in one["redis_per_node"]), 1),
             "cpu_us_per_report": round(sum(n["cpu_us_per_report"] or 0 for n in one["redis_per_node"]), 1),
             "busiest_node_cpu_us_per_report": busiest,
             # One Redis core busy all the time, and nothing else limiting: the ceiling of this Redis (or cluster).
             "reports_per_s_ceiling": round(1e6 / busiest) if busiest else None,
             "redis_benchmark_set_ops_per_s": None if args.quick or nodes > 1 else redis_benchmark_ops_per_s(redis_url)}
    redis["queue_shards"] = shards
    return {"redis_version": version, "python_version": platform.python_version(),
            "cpu_pinning": placement["described"], "cpu_count": os.cpu_count(),
            "load_generator": "wrk" if placement["wrk"] else "aiohttp", "connections": args.connections,
            "seconds_per_phase": seconds, "rounds": rounds,
            "curve": {str(n): levels[str(n)]["reports_per_s"] for n in counts},
            "levels": levels, "redis": redis,
            "targets": {"scaling_at_max_workers": levels[str(counts[-1])]["scaling_vs_one_worker"]},
            "samples": [{k: (v["reports_per_s"] if isinstance(v, dict) else v) for k, v in s.items()} for s in samples],
            "notes": {"limits_env": LIMITS_ENV, "baseline": "the same round's one worker"}, **began.footer()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    harness.common_args(parser, rounds=3)
    parser.add_argument("--max-workers", type=int, default=None, help="up to this many workers (default: the CPUs)")
    parser.add_argument("--seconds", type=float, default=None, help="load per phase (default 8, 2 with --quick)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("--shards", type=int, default=None,
                        help=f"FRONTDOOR_QUEUE_SHARDS (default 1; {SHARDS_PER_NODE} per node on a cluster)")
    parser.add_argument("--redis-url", default=None, help="an existing Redis or redis+cluster:// (FLUSHALLed!)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so `finally` stops the servers and redis
    if args.redis_url:
        version = harness.redis_info(nodes_of(args.redis_url)[0], "server")["redis_version"]
        return harness.emit(run(args.redis_url, None, version, args))
    with harness.redis_server(harness.redis_binary(parser, args.redis_binary), "scale-redis-") as (server, _tmp):
        return harness.emit(run(server.url, harness.redis_pid(server.url), server.version(), args))


if __name__ == "__main__":
    sys.exit(main())
