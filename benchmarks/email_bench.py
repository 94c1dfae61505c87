"""Reports by e-mail: the SMTP channel end to end into the triage queue, against a bare aiosmtpd server.

Run:  python benchmarks/email_bench.py [--quick] [--rounds N] [--phase-s S] [--no-relay]
                                       [--profile | --no-profile] [--profile-out DIR] [--no-pin] [--redis-binary PATH]

The real application (`create_app` with the e-mail channel on, which starts aiosmtpd in the app's
own event loop) runs in a process of its own, on a redis-server this script starts on a free port.
smtplib clients, 1 and then 8 at once (threads in this process, each on its own connection: EHLO
once, then MAIL, RCPT, DATA per message), send a plain-text report e-mail of about 2.3 KB, each with
its own Message-ID, sender and link. Only messages answered 250 count, and after every phase the
queue must hold exactly that many more reports.

Beside it, in the same run, the baseline: a bare aiosmtpd server with the options EmailChannel
gives its server, whose handler answers "250 OK" and discards, in a process of its own, hit the same
way. Unless --no-relay, a third server: the app with an outbound relay (a second bare aiosmtpd
process), so each message also queues an auto-reply; reported separately, not part of the target.

Target (issue): e-mails/s into the queue at least half the baseline's rate, at 1 and at 8 clients.
A missed target is a measurement, not an error. Each level runs `--rounds` rounds (app, baseline,
app with relay); the median round by the ratio among the rounds other load did not disturb is
reported, each disturbed phase named in `warnings`. When a target is missed (or with --profile)
each server is run once more under cProfile at 8 clients, and the CPU-bound steps of a message are
timed directly in this process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import harness
from _mail import REPORT_TO, hostile_inputs, make_message, send_phase
from frontdoor.runtime import loop_factory

LEVELS = (1, 8)
TARGET_RATIO = 0.5
SMTP_HOSTNAME = "hotline.example"  # what EmailChannel derives from its first report address
DEFAULT_ROUNDS = 3
PHASE_S = {False: 2.0, True: 0.5}          # by --quick: how long each phase sends
WARM_UP_MESSAGES = {False: 150, True: 30}
MAX_MESSAGES_PER_PHASE = 20_000            # bounds Redis memory on a fast machine
PROFILE_S = 2.0
RUN_BUDGET_S = 80.0                        # no new round starts past this; the profile passes are skipped past it
SATURATED_SHARE = 0.85                     # at 8 clients the server's core should be busy; less: something else took it
OTHER_LOAD_CPUS = 0.25                     # CPUs used by processes not ours during a phase above which it is flagged
KINDS = ("app", "baseline", "app_relay")
ms, rate, ratio = harness.ms, harness.rate, harness.ratio


# -- the servers (each in a process of its own: `email_bench.py --serve KIND`) --------------------


class Discard:
    """The baseline's aiosmtpd handler: accept and discard, counting (so the accepted count is checked)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


async def serve(kind: str, redis_url: str, port: int, data_dir: Path, relay_port: int | None) -> None:
    """Serve SMTP until told to stop; `count` answers how many messages the bare handler took."""
    import asyncio

    from aiohttp import web
    from aiosmtpd.smtp import SMTP

    from frontdoor.app import create_app
    from frontdoor.settings import EmailSettings

    discard, runner, server = Discard(), None, None
    if kind in ("app", "app_relay"):
        email = EmailSettings(port=port, host="127.0.0.1", addresses=(REPORT_TO,),
                              relay=("127.0.0.1", relay_port) if relay_port else None)
        app = create_app(harness.bench_settings(data_dir, email=email), redis_url, housekeeping=False)
        # AppRunner.setup runs the app's cleanup_ctx: the queue's setup, the SMTP server and the outbox's
        # sender in this loop, as `frontdoor serve` does. No HTTP listener: the web side would sit idle.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
    else:
        loop = asyncio.get_running_loop()
        limit = EmailSettings().max_bytes
        server = await loop.create_server(
            lambda: SMTP(discard, data_size_limit=limit, enable_SMTPUTF8=True, hostname=SMTP_HOSTNAME,
                         ident="frontdoor", tls_context=None, require_starttls=False, loop=loop),
            host="127.0.0.1", port=port)
    try:
        await harness.serve_commands({"count": lambda _arg: str(discard.count)})
    finally:
        if runner is not None:
            await runner.cleanup()
        if server is not None:
            server.close()
            await server.wait_closed()


def smtp_server(kind: str, redis_url: str, log_dir: Path, relay_port: int | None = None) -> harness.ServerProcess:
    extra = ("--relay-port", str(relay_port)) if relay_port else ()
    return harness.ServerProcess(__file__, kind, redis_url, log_dir, extra_args=extra)


# -- what the queue holds, and what the machine did -------------------------------------------------


async def outbox(url: str, clear: bool) -> int:
    """Auto-replies waiting (Outbox.counts); with `clear`, the backlog dropped so that the relay variant's
    sender does not work on into later phases (it sends at most a batch a poll, one connection each)."""
    from frontdoor.app import CHANNELS
    from frontdoor.keyring import Keyring
    from frontdoor.outbox import Outbox
    from frontdoor.settings import OutboxSettings
    from frontdoor.storage import keys
    from frontdoor.storage.client import connect

    client = connect(url)
    try:
        box = Outbox(client, Keyring(harness.SECRET), OutboxSettings(), CHANNELS)
        waiting = (await box.counts())["waiting"]
        if clear:
            await client.delete(keys.outbox_stream("email"))
            await box.setup(["email"])
        return waiting
    finally:
        await client.aclose()


def measure_phase(server: harness.ServerProcess, pids: dict[str, int | None], clients: int, tag: str,
                  seconds: float, counts_url: str | None, redis_url: str) -> dict[str, Any]:
    """One phase against one server, with what its processes and the rest of the machine used meanwhile."""
    before = harness.run_loop(harness.queue_counts(counts_url)) if counts_url else None
    bare_before = int(server.command("count")) if server.kind == "baseline" else None
    cmd0 = harness.redis_commands(redis_url)
    cpu0, t0 = harness.cpu_snapshot(pids, machine=True), time.perf_counter()
    out = send_phase(server.port, clients, tag, seconds, MAX_MESSAGES_PER_PHASE)
    cpu1, t1 = harness.cpu_snapshot(pids, machine=True), time.perf_counter()
    cmd1 = harness.redis_commands(redis_url)
    share = harness.cpu_use(cpu0, cpu1, t1 - t0)
    machine, irq, steal = share.pop("machine_tasks"), share.pop("machine_irq"), share.pop("machine_steal")
    out["cpu_share"] = share
    # Rounded shares: a few hundredths of slack either way are rounding, not other load.
    ours = sum(v for v in share.values() if v is not None)
    out["other_processes_cpus"] = round(max(0.0, machine - ours), 2) if machine is not None else None
    out["irq_softirq_cpus"], out["steal_cpus"] = irq, steal
    out["server_cpu_us_per_email"] = harness.cpu_us_per(cpu0, cpu1, "server", out["accepted"])
    out["redis_commands_per_email"] = round((cmd1 - cmd0 - 1) / out["accepted"], 2)  # less the first INFO
    if before is not None and counts_url is not None:
        time.sleep(0.05)  # every 250 was answered after the submit; nothing is in flight, but be generous
        after = harness.run_loop(harness.queue_counts(counts_url))
        out["queued_reports"] = after["reports"] - before["reports"]
        out["lane_entries_added"] = after["lane_entries"] - before["lane_entries"]
        out["verified"] = out["queued_reports"] == out["accepted"] == out["lane_entries_added"]
        if server.kind == "app_relay":
            out["auto_replies_queued_not_yet_sent"] = harness.run_loop(outbox(counts_url, clear=True))
    if bare_before is not None:
        out["discarded_by_handler"] = int(server.command("count")) - bare_before
        out["verified"] = out["discarded_by_handler"] == out["accepted"]
    return out


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

# Cumulative time of the steps of a message (with what they call, while running). Steps nest.
STEPS = {
    "aiosmtpd _handle_client (the whole SMTP conversation)": ("aiosmtpd/smtp.py", "_handle_client"),
    "aiosmtpd smtp_MAIL": ("aiosmtpd/smtp.py", "smtp_MAIL"),
    "aiosmtpd smtp_RCPT": ("aiosmtpd/smtp.py", "smtp_RCPT"),
    "aiosmtpd smtp_DATA (reading lines, the handler, the reply)": ("aiosmtpd/smtp.py", "smtp_DATA"),
    "handle_DATA": ("channels/email/server.py", "handle_DATA"),
    "handle_DATA (bare handler)": ("benchmarks/email_bench.py", "handle_DATA"),
    "parse.parse_mail": ("channels/email/parse.py", "parse_mail"),
    "parse.submission": ("channels/email/parse.py", "submission"),
    "ReportIntake.submit": ("frontdoor/reports/intake.py", "submit"),
    "ReportIntake.prepare (build_report)": ("frontdoor/reports/intake.py", "prepare"),
    "TriageQueue.submit": ("frontdoor/queue/triage.py", "submit"),
    "Keyring.pseudonym": ("frontdoor/keyring.py", "pseudonym"),
    "Outbox.put": ("frontdoor/outbox/stream.py", "put"),
}


def where_time_goes(prof: dict[str, Any], cpu_us: float | None, app: bool) -> dict[str, Any]:
    """A message's server CPU split into its steps: cProfile's shares of busy time, scaled to the server
    CPU per e-mail measured unprofiled at 8 clients (cProfile inflates Python calls)."""
    s, n, busy = prof["_steps_s"], prof["emails_profiled"], prof["_busy_s"]
    conversation = s.get("aiosmtpd _handle_client (the whole SMTP conversation)", 0.0)
    handler = s.get("handle_DATA" if app else "handle_DATA (bare handler)", 0.0)
    parts = {"aiosmtpd: SMTP conversation (commands, DATA line reading, replies)": conversation - handler}
    if app:
        parse, intake = s.get("parse.parse_mail", 0.0), s.get("ReportIntake.submit", 0.0)
        parts.update({"parse.parse_mail": parse, "parse.submission": s.get("parse.submission", 0.0),
                      "ReportIntake.prepare (build_report)": s.get("ReportIntake.prepare (build_report)", 0.0),
                      "TriageQueue.submit (client side of the script call)": s.get("TriageQueue.submit", 0.0),
                      "handle_DATA rest (dedupe pseudonym, reply queueing, glue)":
                          handler - parse - intake - s.get("parse.submission", 0.0)})
    else:
        parts["bare handle_DATA"] = handler
    parts["event loop, transports, redis replies (outside the conversation)"] = busy - conversation
    out: dict[str, Any] = {k: {"profiled_us": round(v / n * 1e6, 1), "share": round(v / busy, 3),
                               "scaled_us": round(v / busy * cpu_us, 1) if cpu_us else None} for k, v in parts.items()}
    out["server_cpu_us_per_email_unprofiled"] = cpu_us
    return out


def profile_passes(servers: dict[str, harness.ServerProcess], tmp: Path, seconds: float, levels: dict[str, Any],
                   keep: Path | None) -> dict[str, Any]:
    """cProfile of the app and the baseline at 8 clients, in the servers already running."""
    out: dict[str, Any] = {"cprofile_8_clients": {}, "where_a_message_goes_8_clients_cpu": {}}
    for kind, name in (("app", "frontdoor"), ("baseline", "baseline")):
        path = tmp / f"{kind}.prof"
        servers[kind].command("profile on")
        sent = send_phase(servers[kind].port, 8, f"prof-{kind}", seconds, MAX_MESSAGES_PER_PHASE)
        servers[kind].command(f"profile off {path}")
        prof = harness.profile_breakdown(path, sent["accepted"], "email", STEPS)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, keep / f"email-{kind}.prof")
        prof["emails_per_s_while_profiled"] = sent["emails_per_s"]
        out["where_a_message_goes_8_clients_cpu"][name] = where_time_goes(
            prof, levels.get("8", {}).get(name, {}).get("server_cpu_us_per_email"), kind == "app")
        prof.pop("_steps_s")
        prof.pop("_busy_s")
        out["cprofile_8_clients"][name] = prof
    out["component_microbenchmarks_us"] = component_timings()
    out["note"] = ("cProfile (wall clock) in each server at 8 clients after the measured rounds; shares and the "
                   "split scaled to the unprofiled server CPU per e-mail are what to read. component_microbenchmarks_us: "
                   "the CPU-bound steps called directly in this process on the benchmark's message, no profiler; "
                   "indented rows are parts of the row above them.")
    return out


def component_timings(calls: int = 300) -> dict[str, Any]:
    """Each CPU-bound step of a message called directly: min, median and mean microseconds. The code is
    deterministic, so the fastest call is the best estimate of its cost on an undisturbed core."""
    from email import policy
    from email.parser import BytesParser

    from frontdoor.channels.email import parse as mailparse, topic
    from frontdoor.keyring import Keyring
    from frontdoor.reports import build, redaction, urls

    sender, raw = make_message("micro", 1)
    keyring = Keyring(harness.SECRET)
    mail = mailparse.parse_mail(raw, envelope_from=sender)
    fields = mailparse.submission(mail)
    description = mailparse.description(mail) or ""
    region = redaction.region_for(None, mail.locale)
    steps: dict[str, Any] = {
        "parse.parse_mail (whole)": lambda: mailparse.parse_mail(raw, envelope_from=sender),
        "  (for comparison: the stdlib BytesParser, policy.default, on the whole message)":
            lambda: BytesParser(policy=policy.default).parsebytes(raw),
        "  topic.category(subject and body)": lambda: topic.category(f"{mail.subject}\n{mail.body_text}"),
        "parse.submission (whole)": lambda: mailparse.submission(mail),
        "build_report (whole)": lambda: build.build_report(fields, channel="email", keyring=keyring,
                                                           shard_of_url=lambda _url: 0),
        "  build.check(submission schema)": lambda: build.check(build.SUBMISSION_SCHEMA, fields),
        "  urls.parse(link)": lambda: urls.parse(fields["urls"][0]),
        "  redaction.redact(description)": lambda: redaction.redact(description, region=region),
        "Keyring.pseudonym(message-id) (the dedupe id)": lambda: keyring.pseudonym("message-id", mail.message_id or "x"),
    }
    out: dict[str, Any] = {"description_chars": len(description), "calls_each": calls}
    for name, fn in steps.items():
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


# -- the run ----------------------------------------------------------------------------------------


def run(binary: str, quick: bool, rounds: int, phase_s: float, pin: bool, relay: bool, profile: bool | None,
        profile_out: Path | None = None) -> dict[str, Any]:
    bench = harness.Run()
    servers: dict[str, harness.ServerProcess] = {}
    profiled = None
    warnings: list[str] = []
    samples: dict[int, list[dict[str, Any]]] = {c: [] for c in LEVELS}
    with harness.redis_server(binary, "frontdoor-email-bench-") as (redis, tmp):
        redis_pid = harness.redis_pid(redis.url)
        placement = harness.Placement(redis_pid, pin=pin, server_under_test=True)
        header = bench.header(redis, binary, placement.described)
        url0 = redis.url
        url1 = url0.rsplit("/", 1)[0] + "/1"  # the relay variant's own database: its queue and outbox its own
        try:
            servers["app"] = smtp_server("app", url0, tmp)
            servers["baseline"] = smtp_server("baseline", url0, tmp)
            if relay:
                servers["relay"] = smtp_server("baseline", url0, tmp)  # the outbound relay: accepts and discards
                servers["app_relay"] = smtp_server("app_relay", url1, tmp, relay_port=servers["relay"].port)
                placement.helper(servers["relay"].pid)
            for kind in KINDS:
                if kind in servers:
                    placement.server(servers[kind].pid)
            for kind in KINDS:  # Lua scripts loaded, validators compiled, caches warm in every server
                if kind in servers and send_phase(servers[kind].port, 2, f"warm-{kind}", 30.0,
                                                  WARM_UP_MESSAGES[quick])["accepted"] < WARM_UP_MESSAGES[quick]:
                    raise RuntimeError(f"warm-up of {kind} lost messages")
            kinds = [k for k in KINDS if k in servers]
            relay_pid = servers["relay"].pid if relay else None
            rounds_done = 0
            for r in range(rounds):
                if r and time.perf_counter() - bench.began + len(LEVELS) * len(kinds) * (phase_s + 0.4) > RUN_BUDGET_S:
                    warnings.append(f"stopped after {r} of {rounds} rounds to stay within the run budget")
                    break
                for clients in LEVELS:
                    def phase(kind: str) -> Any:
                        pids = {"server": servers[kind].pid, "redis": redis_pid,
                                "relay": relay_pid if kind == "app_relay" else None}
                        counts_url = url1 if kind == "app_relay" else url0 if kind == "app" else None
                        return lambda _r: measure_phase(servers[kind], pids, clients, f"{kind}-c{clients}-r{r}",
                                                        phase_s, counts_url, url0)

                    sample = harness.one_round(r, {kind: phase(kind) for kind in kinds},
                                               lambda s: ratio(s["app"]["emails_per_s"], s["baseline"]["emails_per_s"]))
                    sample["disturbed"] = {k: why for k in kinds if (why := disturbed(sample[k], clients))}
                    samples[clients].append(sample)
                rounds_done = r + 1
            levels = {str(c): summarize_level(c, samples[c]) for c in LEVELS}
            missed = any(not v["ratio"]["met"] for v in levels.values())
            if profile if profile is not None else (missed and not quick):
                if time.perf_counter() - bench.began > RUN_BUDGET_S:
                    warnings.append("profile passes skipped: the run budget is spent")
                else:
                    profiled = profile_passes(servers, tmp, PROFILE_S if not quick else 0.5, levels, profile_out)
        finally:
            for server in servers.values():
                server.stop()

    for c, level in levels.items():
        unverified = [k for s in samples[int(c)] for k in KINDS if k in s and not s[k]["verified"]]
        if unverified:
            warnings.append(f"{c} clients: accepted count and queue/handler count differ in phases {unverified}")
        for r, s in enumerate(samples[int(c)]):
            for kind, why in s["disturbed"].items():
                warnings.append(f"{c} clients, round {r}, {kind}: disturbed ({'; '.join(why)})")
        share = level["baseline"]["cpu_share"]
        if placement.described and int(c) > 1 and (share.get("client") or 0) > 0.9 and (share.get("server") or 1) < SATURATED_SHARE:
            warnings.append(f"{c} clients: the baseline server used {share['server']} of its core while the clients "
                            f"used {share['client']}: the load generator held the baseline back, so the ratio flatters "
                            "frontdoor; server_cpu_per_email_baseline_vs_frontdoor does not")
    out: dict[str, Any] = {
        "quick": quick, "rounds": rounds, "rounds_completed": rounds_done, "phase_s": phase_s,
        "message_bytes": len(make_message("app-c8-r0", 12345)[1]), **header, "cpus": os.cpu_count(),
        "aiosmtpd_version": __import__("aiosmtpd").__version__, "event_loop": loop_factory()[0],
        "summary": {
            c: {"frontdoor_emails_per_s": v["frontdoor"]["emails_per_s"],
                "baseline_emails_per_s": v["baseline"]["emails_per_s"],
                "ratio": v["ratio"]["value"], "target": TARGET_RATIO, "met": v["ratio"]["met"],
                "ratio_of": v["median_of"], "ratio_all_rounds": v["round_spread"]["ratio"],
                "ratio_undisturbed_rounds": v["undisturbed_round_ratios"],
                "server_cpu_per_email_baseline_vs_frontdoor_median":
                    v["server_cpu_per_email_baseline_vs_frontdoor_median_of_rounds"],
                "frontdoor_p50_ms": v["frontdoor"]["latency_ms"]["p50"],
                "frontdoor_p99_ms": v["frontdoor"]["latency_ms"]["p99"],
                "baseline_p50_ms": v["baseline"]["latency_ms"]["p50"],
                "baseline_p99_ms": v["baseline"]["latency_ms"]["p99"],
                "frontdoor_server_cpu_us_per_email": v["frontdoor"]["server_cpu_us_per_email"],
                "baseline_server_cpu_us_per_email": v["baseline"]["server_cpu_us_per_email"],
                "with_relay_emails_per_s": v.get("frontdoor_with_relay", {}).get("emails_per_s"),
                "verified": all(s[k]["verified"] for s in samples[int(c)] for k in KINDS if k in s)}
            for c, v in levels.items()},
        "targets": {f"emails_per_s_vs_baseline_{c}_clients": v["ratio"] for c, v in levels.items()},
        "levels": levels,
    }
    if profiled is not None:
        out["profile"] = profiled
    out["hostile_inputs"] = hostile_inputs()
    if not out["hostile_inputs"]["linear"]:
        warnings.append("a hostile input grew faster than linearly with its size: see hostile_inputs")
    out["warnings"] = warnings
    out["notes"] = NOTES
    return {**out, **bench.footer()}


NOTES = {
    "frontdoor": f"frontdoor.app.create_app(settings with email=EmailSettings(port=<free>, addresses=(\"{REPORT_TO}\",), "
                 "relay=None), redis_url, housekeeping=False), started with web.AppRunner(access_log=None).setup(), "
                 "which runs its cleanup_ctx: the queue's and outbox's setup, the aiosmtpd server (EmailChannel) and the "
                 "outbox sender in the app's event loop, as `frontdoor serve` does. relay=None: no auto-reply is queued. "
                 "No HTTP listener is opened. Settings otherwise defaults, fixed secret.",
    "baseline": "a bare aiosmtpd.smtp.SMTP on loop.create_server with EmailChannel's options (data_size_limit="
                "EmailSettings().max_bytes, enable_SMTPUTF8=True, hostname, ident, no TLS) and a handler whose "
                "handle_DATA answers '250 OK' and discards (it counts). No handle_RCPT: aiosmtpd accepts any recipient.",
    "frontdoor_with_relay": "the same app with relay set to a second bare aiosmtpd process (on the load generator's "
                            "CPU), in Redis database 1 so its queue and outbox are its own. Every message has its own "
                            "sender, so each queues an auto-reply (Outbox.put, once per sender an hour); the backlog "
                            "left after a phase (auto_replies_queued_not_yet_sent) is dropped so the sender does not "
                            "work on into later phases. Reported separately, not in the target.",
    "processes": "each server in a process of its own on `frontdoor serve`'s event loop, alone on one CPU; redis-server, "
                 "the relay and the client threads on the other (cpu_pinning; null: the scheduler's). "
                 "other_processes_cpus: the machine's busy CPU time (/proc/stat) minus ours over the phase.",
    "clients": "N threads, each with its own smtplib.SMTP connection: EHLO once, then MAIL FROM, RCPT TO, DATA per "
               f"message, reused for the phase (at most {MAX_MESSAGES_PER_PHASE} messages). Every message has a unique "
               "Message-ID, sender and https://example.com/gallery/<phase>/<n>?page=2 link: a new report and case each.",
    "verified": "frontdoor phases: the queue's own statistics (queue.stats.collect, totals.reports) grew by exactly "
                "the accepted count, and so did the lanes' stream entries. Baseline: its handler counted exactly the "
                "accepted messages.",
    "latency_ms": "per message, client side, from sending MAIL FROM to the reply to the data; emails_per_s: "
                  "messages answered 250 / the phase's wall time (other answers in `refused`).",
    "ratio": f"frontdoor emails_per_s / baseline emails_per_s at the same clients in the same round; target >= "
             f"{TARGET_RATIO}. When both servers are CPU-bound (8 clients) and undisturbed it equals "
             "server_cpu_per_email_baseline_vs_frontdoor, which other load barely moves: on a busy machine read that one.",
    "cpu": "cpu_share: CPU seconds each process used over the phase / its wall time (1.0 = one core busy; /proc). "
           "server_cpu_us_per_email: the server's CPU time per accepted message, the client-independent comparison.",
    "rounds": "each level runs `rounds` rounds (frontdoor, baseline, frontdoor with relay); the median round by the "
              "ratio among the undisturbed rounds (all rounds if none was) is reported. A round is disturbed when "
              f"other processes used more than {OTHER_LOAD_CPUS} CPUs during a phase, or, at 8 clients, the server "
              f"used less than {SATURATED_SHARE} of its core.",
    "hostile_inputs": "parse.parse_mail on crafted messages of 1 and 2 MiB, in this process: milliseconds each, and "
                      "the growth from 1 to 2 MiB (about 2 for linear work, 4 for quadratic); linear while every "
                      "growth stays under 3.",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    harness.common_args(parser, rounds=DEFAULT_ROUNDS)
    parser.add_argument("--phase-s", type=float, default=None, help="seconds each phase sends (default 2, 0.5 with --quick)")
    parser.add_argument("--no-relay", action="store_true", help="leave out the variant with an auto-reply relay")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--profile", action="store_true", default=None, help="always add the profile passes")
    group.add_argument("--no-profile", dest="profile", action="store_false", help="never (default: when a target is missed)")
    parser.add_argument("--profile-out", default=None, help="keep the cProfile stats (email-app.prof, email-baseline.prof) here")
    harness.serve_args(parser, KINDS)
    parser.add_argument("--relay-port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        harness.run_loop(serve(args.serve, args.redis_url, args.port, Path(args.data_dir), args.relay_port))
        return 0
    binary = harness.redis_binary(parser, args.redis_binary)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so `finally` stops the servers and redis
    return harness.emit(run(binary, args.quick, args.rounds or (1 if args.quick else DEFAULT_ROUNDS),
                            args.phase_s or PHASE_S[args.quick], not args.no_pin, not args.no_relay, args.profile,
                            Path(args.profile_out) if args.profile_out else None))


if __name__ == "__main__":
    sys.exit(main())
