"""Throughput and turn latency of the reporting dialog, against bare Redis round trips.

Run:  python benchmarks/dialog_bench.py [--quick] [--rounds N] [--profile PATH] [--no-pin] [--redis-binary PATH]

In-process: the real `Dialog` as app.build_parts wires it (rasa-sdk validation action, URL parsing,
redaction, the intake and the queue's submit script) on a redis-server this script starts on a free
port, with 1, 10 and 100 conversations at once. Each conversation starts, then walks the 10-turn
main report path: report, csam, a URL of its own, website, skip, no, other_adult, skip, skip, send.
Beside it, the baseline: the same number of "turns" made of the two round trips a turn once cost
the store (an MGET of two keys, then a pipeline of two SETs), on the same client at the same
concurrency. A turn is now usually one round trip (ConversationStore.commit), so the baseline is a
generous floor.

The target: a turn costs at most 3x the baseline's time. It prints one JSON object; a missed target
is a measurement, not an error. Each level runs `--rounds` times, baseline and dialog alternately,
and the median round by turn_vs_baseline is reported; `round_spread` shows every round.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import harness
from frontdoor.dialog.messages import ConversationKey, Inbound

LEVELS = (1, 10, 100)
TARGET = 3.0  # a turn's mean time at most 3x the mean time of the baseline's two round trips
PATH = ("report", "csam", None, "website", "skip", "no", "other_adult", "skip", "skip", "send")  # None: the URL
SUBMIT_TURN = len(PATH) - 1
CONVERSATIONS = {1: 300, 10: 500, 100: 600}  # enough turns for a p99, few enough for a short run
QUICK_CONVERSATIONS = {1: 10, 10: 20, 100: 100}
STATE_BYTES = 900  # about the size of a conversation state near the end of the report path


def url_for(i: int) -> str:
    return f"https://site-{i}.example/gallery/{i}?page=1"  # reserved names only, one per conversation


async def bench_baseline(client: Any, concurrency: int, conversations: int) -> dict[str, Any]:
    value = "s" * STATE_BYTES
    times: list[float] = []

    async def conversation(i: int) -> None:
        state, seen = f"bench:{{c:{i}}}:state", f"bench:{{c:{i}}}:seen"
        for _ in PATH:
            t0 = time.perf_counter()
            await client.mget([state, seen])
            pipe = client.pipeline(transaction=False)
            pipe.set(state, value, ex=7200)
            pipe.set(seen, "1", ex=7200)
            await pipe.execute()
            times.append(time.perf_counter() - t0)

    wall = await harness.spread_over(concurrency, conversations, conversation)
    return {"turns": len(times), "round_trip_pair_ms": harness.ms(times), "pairs_per_s": harness.rate(len(times), wall),
            "_mean_s": statistics.fmean(times)}


async def bench_dialog(dialog: Any, concurrency: int, conversations: int, offset: int) -> dict[str, Any]:
    turns: list[list[float]] = [[] for _ in PATH]
    starts: list[float] = []
    submitted = 0

    async def conversation(i: int) -> None:
        nonlocal submitted
        key = ConversationKey("terminal", f"bench-{offset + i}")
        t0 = time.perf_counter()
        await dialog.start(key)
        starts.append(time.perf_counter() - t0)
        for n, answer in enumerate(PATH):
            inbound = Inbound(text=answer if answer is not None else url_for(offset + i))
            t0 = time.perf_counter()
            turn = await dialog.turn(key, inbound)
            turns[n].append(time.perf_counter() - t0)
            if n == SUBMIT_TURN:
                if turn.status != "submitted" or not turn.receipt:
                    raise RuntimeError(f"conversation {i} ended {turn.status!r}, not submitted with a receipt")
                submitted += 1

    wall = await harness.spread_over(concurrency, conversations, conversation)
    every = [t for per_turn in turns for t in per_turn]
    non_submit = [t for n, per_turn in enumerate(turns) if n != SUBMIT_TURN for t in per_turn]
    return {
        "conversations": conversations,
        "reports": submitted,
        "reports_per_s": harness.rate(submitted, wall),
        "turns_per_s": harness.rate(len(every), wall),
        "turn_ms": harness.ms(every),
        "non_submit_turn_ms": harness.ms(non_submit),
        "submit_turn_ms": harness.ms(turns[SUBMIT_TURN]),
        "start_ms": harness.ms(starts),
        "mean_ms_by_turn": [round(statistics.fmean(t) * 1000, 3) for t in turns],
        "_means_s": {"all": statistics.fmean(every), "non_submit": statistics.fmean(non_submit),
                     "submit": statistics.fmean(turns[SUBMIT_TURN])},
    }


async def queued_reports(parts: Any) -> int:
    from frontdoor.queue import stats

    today = datetime.datetime.now(datetime.timezone.utc).date()
    got = await stats.collect(parts.queue, today - datetime.timedelta(days=1), today + datetime.timedelta(days=1))
    return int(got["totals"]["reports"])


async def level(url: str, tmp: Path, concurrency: int, conversations: int, rounds: int) -> dict[str, Any]:
    async with harness.app_parts(url, tmp) as parts:
        client, dialog = parts.redis, parts.dialog

        async def fresh() -> None:
            await client.flushdb()
            await parts.queue.setup()

        # Scripts loaded, schema validators compiled, caches filled, connections open before timing.
        await bench_baseline(client, 10, 20)
        await bench_dialog(dialog, 10, 20, offset=10**7)
        await fresh()

        async def dialog_round(r: int) -> dict[str, Any]:
            run = await bench_dialog(dialog, concurrency, conversations, offset=r * conversations)
            run["queued_reports"] = await queued_reports(parts)  # every receipt shown names a stored report
            await fresh()
            return run

        samples = await harness.alternate(
            rounds, {"baseline": lambda r: bench_baseline(client, concurrency, conversations), "dialog": dialog_round},
            lambda s: harness.ratio(s["dialog"]["_means_s"]["all"], s["baseline"]["_mean_s"]))
        await fresh()
    kept = harness.median_round(samples)
    means, base = kept["dialog"]["_means_s"], kept["baseline"]["_mean_s"]
    for s in samples:
        s["dialog"].pop("_means_s")
        s["baseline"].pop("_mean_s")
    non_submit = harness.ratio(means["non_submit"], base) or 0.0
    return {
        "concurrency": concurrency,
        "dialog": kept["dialog"],
        "baseline": kept["baseline"],
        "turn_vs_baseline": {
            "all_turns": harness.target(kept["ratio"], TARGET, at_most=True),
            "non_submit_turns": harness.target(non_submit, TARGET, at_most=True),
            "submit_turn": {"value": harness.ratio(means["submit"], base),
                            "note": "includes building the report and the queue's submit script"},
        },
        "round_spread": {"turn_vs_baseline_all_turns": [s["ratio"] for s in samples],
                         "reports_per_s": [s["dialog"]["reports_per_s"] for s in samples]},
    }


def run(binary: str, quick: bool, rounds: int, pin: bool, profile: Path | None) -> dict[str, Any]:
    bench = harness.Run()
    sizes = QUICK_CONVERSATIONS if quick else CONVERSATIONS
    with harness.redis_server(binary, "frontdoor-dialog-bench-") as (server, tmp):
        placement = harness.Placement(harness.redis_pid(server.url), pin=pin)
        header = bench.header(server, binary, placement.described)
        with harness.profiled(profile):
            levels = {str(c): harness.run_loop(level(server.url, tmp, c, sizes[c], rounds)) for c in LEVELS}
    out: dict[str, Any] = {"quick": quick, "rounds": rounds, "turns_per_conversation": len(PATH), **header}
    out["levels"] = levels
    out["summary"] = {
        c: {"reports_per_s": v["dialog"]["reports_per_s"], "turn_p50_ms": v["dialog"]["turn_ms"]["p50"],
            "turn_p99_ms": v["dialog"]["turn_ms"]["p99"],
            "baseline_pair_mean_ms": v["baseline"]["round_trip_pair_ms"]["mean"],
            "turn_vs_baseline": v["turn_vs_baseline"]["all_turns"]["value"],
            "non_submit_vs_baseline": v["turn_vs_baseline"]["non_submit_turns"]["value"],
            "submit_vs_baseline": v["turn_vs_baseline"]["submit_turn"]["value"],
            "met": v["turn_vs_baseline"]["all_turns"]["met"]}
        for c, v in levels.items()}
    out["notes"] = {
        "dialog": "Dialog.start then 10 Dialog.turn calls per conversation, in-process, `concurrency` conversations at "
                  "once on one event loop, the Dialog, intake and queue from frontdoor.app.build_parts (its Redis "
                  "client from storage.client.connect). Turn times are wall times of each `await dialog.turn(...)`, "
                  "so at higher concurrency they include waiting for the event loop behind other conversations. "
                  "reports_per_s counts submitted reports over the level's wall time, starts included; "
                  "queued_reports is the queue's own count (queue.stats.collect) after the round.",
        "baseline": "per turn: MGET of two keys, then a pipeline (no MULTI) of two SETs with EX, a "
                    f"{STATE_BYTES}-byte value; the same client, the same number of turns and concurrency.",
        "turn_vs_baseline": "mean turn time / mean time of the baseline's round trips at the same concurrency. "
                            "non_submit_turns leaves out the 10th turn, which also builds and queues the report.",
        "rounds": "each level runs `rounds` times (baseline then dialog); the median round by the all_turns ratio is "
                  "reported. cpu_pinning: redis-server and this process on separate CPUs (null: the scheduler's).",
    }
    if profile is not None:
        out["profile"] = {"path": str(profile), "note": "cProfile over every level, warm-up included"}
    return {**out, **bench.footer()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    harness.common_args(parser, rounds=3)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats of the run here")
    args = parser.parse_args(argv)
    binary = harness.redis_binary(parser, args.redis_binary)
    return harness.emit(run(binary, args.quick, args.rounds or (1 if args.quick else 3), not args.no_pin, args.profile))


if __name__ == "__main__":
    sys.exit(main())
