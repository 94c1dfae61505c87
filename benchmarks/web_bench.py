"""Reports over HTTP: the web channel's conversation API under load, against a bare aiohttp route.

Run:  python benchmarks/web_bench.py [--quick] [--rounds N] [--profile [--profile-out DIR]]
                                     [--think-ms MS] [--no-pin] [--redis-binary PATH]

The real application (`create_app`) serves on 127.0.0.1 in a process of its own, on a redis-server
this script starts on a free port. Simulated reporters (tasks on one aiohttp.ClientSession in this
process) each start a conversation and walk the ten-turn main report path to the receipt, 10 and
then 100 conversations at once. Beside it, in the same run, the baseline: a bare aiohttp application
(no middleware, one route doing one Redis INCR per request) in a process of its own, hit by the same
client with the same number of requests at the same concurrency.

CPU placement on two cores: the server under test alone on one CPU; redis-server and this load
generator on the other, the same for both servers, so the ratio compares what one server core does
with a turn against what it does with a bare request. Each phase records the CPU time the server,
redis-server and the client used, so a run the client rather than the server held back shows.

Targets (issue): turn throughput at least half the baseline's requests/s; p99 turn latency under
50 ms at 100 concurrent conversations; the widget's script and styles at most 20 KB gzipped. A
missed target is a measurement, not an error. Each level runs `--rounds` times (app, then baseline);
the median round by the throughput ratio is reported. `--profile` adds a cProfile pass of each
server at 100 concurrent conversations. `--think-ms` makes reporters pause before each message
instead of the default closed loop (the heaviest load N conversations can make).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import harness
from frontdoor.runtime import loop_factory

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
BASELINE_KEY = "bench:baseline"
ms, rate, ratio = harness.ms, harness.rate, harness.ratio


# -- the servers (each in a process of its own: `web_bench.py --serve app|baseline`) ---------------


def bench_settings(data_dir: Path) -> Any:
    """Rate limits raised out of the way: every simulated reporter comes from 127.0.0.1, so the default
    10 conversations and 60 messages a minute would stop the run. The limiter still counts every request."""
    from frontdoor.settings import WebSettings

    return harness.bench_settings(data_dir, web=WebSettings(conversations_per_min=10**6, messages_per_min=10**6))


def baseline_app(redis_url: str) -> Any:
    """The floor for an aiohttp + Redis request: no middleware, one route, one INCR, a small JSON reply,
    through the Redis client frontdoor makes (storage.client.connect)."""
    from aiohttp import web

    from frontdoor.settings import Settings
    from frontdoor.storage.client import Client, connect

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


async def serve(kind: str, redis_url: str, port: int, data_dir: Path) -> None:
    """Serve as `web.run_app` would but without an access log (for both servers alike), until told to stop."""
    from aiohttp import web

    from frontdoor.app import create_app

    app = create_app(bench_settings(data_dir), redis_url, housekeeping=False) if kind == "app" else baseline_app(redis_url)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    try:
        await harness.serve_commands()
    finally:
        await runner.cleanup()


def server(kind: str, redis_url: str, log_dir: Path) -> harness.ServerProcess:
    return harness.ServerProcess(__file__, kind, redis_url, log_dir, ready_timeout_s=30)


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


async def phase(target_server: harness.ServerProcess, redis: tuple[str, int], measure: Any, count_of: str,
                unit: str) -> dict[str, Any]:
    """One measured phase against one server, with the CPU its processes and Redis spent meanwhile."""
    url, redis_pid = redis
    pids = {"server": target_server.pid, "redis": redis_pid}
    queued = await harness.queue_counts(url) if unit == "turn" else None
    cpu0, cmd0, t0 = harness.cpu_snapshot(pids), harness.redis_commands(url), time.perf_counter()
    out = await measure
    cpu1, cmd1, t1 = harness.cpu_snapshot(pids), harness.redis_commands(url), time.perf_counter()
    if queued is not None:  # every receipt shown names a stored report
        out["queued_reports"] = (await harness.queue_counts(url))["reports"] - queued["reports"]
    out["cpu_share"] = harness.cpu_use(cpu0, cpu1, t1 - t0)
    out[f"server_cpu_us_per_{unit}"] = harness.cpu_us_per(cpu0, cpu1, "server", out[count_of])
    out[f"redis_commands_per_{unit}"] = round((cmd1 - cmd0 - 1) / out[count_of], 2)  # less the first INFO
    return out


async def warm_up(app: harness.ServerProcess, baseline: harness.ServerProcess) -> None:
    """Lua scripts loaded, schema validators compiled, caches filled and pools open in both servers."""
    async with client_session(10) as session:
        await run_dialogs(session, app.base, 10, 30, "warm-up", 5)
        await run_baseline(session, baseline.base, 10, 300, 5)


async def measure_level(app: harness.ServerProcess, baseline: harness.ServerProcess, redis: tuple[str, int],
                        concurrency: int, conversations: int, rounds: int, budget: Budget,
                        think_s: float) -> dict[str, Any]:
    turns: list[int] = []  # the app's turns this round: the baseline gets as many requests

    async def web_phase(r: int) -> dict[str, Any]:
        async with client_session(concurrency) as session:
            got = await phase(app, redis, run_dialogs(session, app.base, concurrency, conversations,
                                                      f"c{concurrency}-r{r}", budget.next_phase(), think_s),
                              "turns", "turn")
        turns.append(got["turns"])
        return got

    async def baseline_phase(r: int) -> dict[str, Any]:
        async with client_session(concurrency) as session:
            return await phase(baseline, redis, run_baseline(session, baseline.base, concurrency, turns[-1],
                                                             budget.next_phase(), think_s), "requests", "request")

    samples = await harness.alternate(rounds, {"web": web_phase, "baseline": baseline_phase},
                                      lambda s: ratio(s["web"]["turns_per_s"], s["baseline"]["requests_per_s"]))
    kept = harness.median_round(samples)
    web, base = kept["web"], kept["baseline"]
    goal = TARGETS["turn_throughput_vs_baseline"]
    out: dict[str, Any] = {
        "concurrency": concurrency,
        "web": web,
        "baseline": base,
        "turn_throughput_vs_baseline": harness.target(kept["ratio"] or 0.0, goal),
        "server_cpu_per_request_baseline_vs_turn": ratio(base["server_cpu_us_per_request"], web["server_cpu_us_per_turn"]),
        "round_spread": {
            "turn_throughput_vs_baseline": [s["ratio"] for s in samples],
            "turns_per_s": [s["web"]["turns_per_s"] for s in samples],
            "baseline_requests_per_s": [s["baseline"]["requests_per_s"] for s in samples],
            "p99_turn_ms": [s["web"]["turn_ms"]["p99"] for s in samples],
        },
    }
    if concurrency == 100:
        out["p99_turn_ms"] = harness.target(web["turn_ms"]["p99"], TARGETS["p99_turn_ms_at_100"], below=True)
    return out


# -- profiles of the servers ----------------------------------------------------------------------

# Cumulative time (own frames and everything they call, while not suspended) of the steps of a turn.
STEPS = {
    "post_message (whole handler)": ("frontdoor/channels/web/chat.py", "post_message"),
    "start_conversation (whole handler)": ("frontdoor/channels/web/chat.py", "start_conversation"),
    "security middleware": ("frontdoor/http/security.py", "middleware"),
    "error guard": ("frontdoor/http/errors.py", "guarded"),
    "rate limit (RequestLimits.admit)": ("frontdoor/http/ratelimit.py", "admit"),
    "read_json (body read + parse)": ("frontdoor/http/errors.py", "read_json"),
    "Dialog.turn": ("frontdoor/dialog/engine.py", "turn"),
    "Dialog.start": ("frontdoor/dialog/engine.py", "start"),
    "ConversationStore.load": ("frontdoor/dialog/store.py", "load"),
    "ConversationStore.commit": ("frontdoor/dialog/store.py", "commit"),
    "ReportIntake.prepare (build_report)": ("frontdoor/reports/intake.py", "prepare"),
    "ReportIntake.enqueue": ("frontdoor/reports/intake.py", "enqueue"),
    "TriageQueue.submit": ("frontdoor/queue/triage.py", "submit"),
    "redis-py execute_command": ("redis/asyncio/client.py", "execute_command"),
    "aiohttp data_received (parse)": ("aiohttp/web_protocol.py", "data_received"),
}
PROFILE_NOTE = ("cProfile in each server process (the app, then the baseline) over one pass at 100 concurrent "
                "conversations or as many bare requests, warm-up excluded (`profile on`/`profile off` on the "
                "server's stdin). cProfile inflates Python calls far more than C, so read shares and the "
                "app-minus-baseline difference, not absolute times. busy_us_per_request leaves out the event loop's "
                "wait in epoll; cumulative_us_per_request_by_step counts a step with what it calls while running "
                "(a coroutine's time suspended on Redis or the network is not counted); steps nest.")


async def profiled_pass(kind: str, redis_url: str, placement: harness.Placement, tmp: Path, conversations: int,
                        budget_s: float) -> dict[str, Any]:
    out = tmp / f"{kind}.prof"
    target = server(kind, redis_url, tmp)
    try:
        placement.server(target.pid)
        async with client_session(100) as session:
            if kind == "app":
                await run_dialogs(session, target.base, 10, 30, f"profile-warm-up-{kind}", 5)
            else:
                await run_baseline(session, target.base, 10, 300, 5)
            target.command("profile on")
            if kind == "app":
                result = await run_dialogs(session, target.base, 100, conversations, "profile", budget_s)
                requests, rate_figure = result["turns"], result["turns_per_s"]
            else:
                result = await run_baseline(session, target.base, 100, conversations * TURNS_PER_CONVERSATION, budget_s)
                requests, rate_figure = result["requests"], result["requests_per_s"]
            target.command(f"profile off {out}")
    finally:
        target.stop()
    breakdown = harness.profile_breakdown(out, requests, "request", STEPS, top=25)
    breakdown.pop("_steps_s")
    breakdown.pop("_busy_s")
    breakdown["requests_per_s_while_profiled"] = rate_figure
    return breakdown


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


def run(binary: str, quick: bool, rounds: int, pin: bool, profile: bool, profile_out: Path | None = None,
        think_ms: float = 0.0) -> dict[str, Any]:
    bench = harness.Run()
    sizes = QUICK_CONVERSATIONS if quick else CONVERSATIONS
    budget_s = MEASURE_BUDGET_S[quick]
    profiled = None
    with harness.redis_server(binary, "frontdoor-web-bench-") as (redis, tmp):
        redis_pid = harness.redis_pid(redis.url)
        placement = harness.Placement(redis_pid, pin=pin, server_under_test=True)
        header = bench.header(redis, binary, placement.described)
        app = server("app", redis.url, tmp)
        baseline: harness.ServerProcess | None = None
        try:
            baseline = server("baseline", redis.url, tmp)
            for s in (app, baseline):
                placement.server(s.pid)

            async def measure() -> dict[str, Any]:
                assert baseline is not None
                await warm_up(app, baseline)
                budget = Budget(budget_s, 2 * rounds * len(LEVELS))
                return {str(c): await measure_level(app, baseline, (redis.url, redis_pid), c, sizes[c], rounds, budget,
                                                    think_ms / 1000) for c in LEVELS}

            levels = harness.run_loop(measure())
        finally:
            for proc in (app, baseline):
                if proc is not None:
                    proc.stop()
        if profile:
            n = sizes[100] if quick else PROFILE_CONVERSATIONS
            profiled = {kind: harness.run_loop(profiled_pass(kind, redis.url, placement, tmp, n, PROFILE_BUDGET_S[quick]))
                        for kind in ("app", "baseline")}
            profiled["note"] = PROFILE_NOTE
            if profile_out is not None:
                profile_out.mkdir(parents=True, exist_ok=True)
                for kind in ("app", "baseline"):
                    shutil.copy(tmp / f"{kind}.prof", profile_out / f"{kind}.prof")

    out: dict[str, Any] = {
        "quick": quick, "rounds": rounds, "think_ms": think_ms, "turns_per_conversation": TURNS_PER_CONVERSATION,
        **header,
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
        "levels": levels,
        "widget": widget_weight(),
    }
    out["targets"] = {"turn_throughput_vs_baseline": {c: v["turn_throughput_vs_baseline"] for c, v in levels.items()},
                      "p99_turn_ms_at_100": levels["100"]["p99_turn_ms"],
                      "widget_gzip_bytes": {"value": out["widget"]["total_gzip_bytes"],
                                            "target": TARGETS["widget_gzip_bytes"], "met": out["widget"]["met"]}}
    if profiled is not None:
        out["profile"] = profiled
    out["warnings"] = [
        f"{c} concurrent: in the app phase the server used {v['web']['cpu_share']['server']} of its CPU (below "
        f"{SATURATED_SHARE}): other load on the machine took the rest, so rates and latencies are pessimistic; "
        f"server_cpu_us_per_* stay comparable"
        for c, v in levels.items()
        if placement.described is not None and (v["web"]["cpu_share"]["server"] or 1.0) < SATURATED_SHARE and not think_ms]
    out["notes"] = {
        "servers": "the app is frontdoor.app.create_app(settings, redis_url, housekeeping=False) with all its middleware; "
                   "the baseline a bare aiohttp Application with one POST route doing one Redis INCR and answering "
                   "{\"count\": n}. Each runs in a process of its own under web.AppRunner(access_log=None) + TCPSite on "
                   "127.0.0.1 (no access log for either; production's AccessLogger is left out of both), on the event loop "
                   "`frontdoor serve` runs (frontdoor.runtime: uvloop where installed, the start-up heap frozen out of the garbage collector's sight), with frontdoor.storage.client.connect as its Redis client, against one redis-server "
                   "this script started (no persistence).",
        "settings": "Settings defaults with a fixed secret, and the rate limits raised with web=WebSettings("
                    "conversations_per_min=10**6, messages_per_min=10**6): every simulated reporter comes from "
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
    return {**out, **bench.footer()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    harness.common_args(parser, rounds=5)
    parser.add_argument("--profile", action="store_true", help="add a cProfile pass of each server at 100 conversations")
    parser.add_argument("--profile-out", default=None, help="with --profile: keep app.prof and baseline.prof here")
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="pause before each message (default 0: closed loop, every reporter always has a request in flight)")
    harness.serve_args(parser, ("app", "baseline"))
    args = parser.parse_args(argv)
    if args.serve:
        harness.run_loop(serve(args.serve, args.redis_url, args.port, Path(args.data_dir)))
        return 0
    binary = harness.redis_binary(parser, args.redis_binary)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so `finally` stops the servers and redis
    return harness.emit(run(binary, args.quick, args.rounds or (1 if args.quick else 5), not args.no_pin, args.profile,
                            Path(args.profile_out) if args.profile_out else None, args.think_ms))


if __name__ == "__main__":
    sys.exit(main())
