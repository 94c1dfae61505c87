"""Profiles for the benchmarks: cProfile around a block, and where its time went, by area (frontdoor's
own modules, redis-py, aiohttp, asyncio, ...) and by the steps a benchmark names."""

from __future__ import annotations

import contextlib
import cProfile
import pstats
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """cProfile around a block when asked (path given), else nothing at all."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(path))


# Where a function's own time goes, by the file it is defined in (first match wins).
AREAS = (
    ("aiosmtpd", ("/aiosmtpd/",)),
    ("frontdoor: channels", ("frontdoor/channels/",)),
    ("frontdoor: http glue (middleware, errors, rate limiter)", ("frontdoor/http/", "frontdoor/api/")),
    ("frontdoor: dialog", ("frontdoor/dialog/",)),
    ("frontdoor: reports (intake, build, urls, redaction)", ("frontdoor/reports/",)),
    ("frontdoor: queue", ("frontdoor/queue/",)),
    ("frontdoor: storage (client, scripts)", ("frontdoor/storage/",)),
    ("frontdoor: outbox", ("frontdoor/outbox/",)),
    ("frontdoor: keyring", ("frontdoor/keyring.py",)),
    ("frontdoor: other", ("frontdoor/",)),
    ("rasa-sdk", ("rasa_sdk/",)),
    ("stdlib email parser", ("/email/",)),
    ("redis-py (+hiredis)", ("/redis/", "hiredis")),
    ("aiohttp, multidict, yarl", ("/aiohttp/", "/multidict/", "/yarl/", "/propcache/")),
    ("jsonschema and friends", ("/jsonschema", "/referencing/", "/rpds", "/attr")),
    ("json", ("/json/",)),
    ("asyncio event loop", ("/asyncio/", "/selectors.py", "/socket.py", "/ssl.py")),
    ("hashlib/hmac/crypto", ("/hmac.py", "/hashlib.py", "/cryptography/")),
    ("logging", ("/logging/",)),
    ("re (Python side)", ("/re/", "/sre_")),
)
IDLE_AREA = "waiting for I/O in epoll (idle, not CPU)"
BUILTIN_AREAS = (
    (IDLE_AREA, ("select.epoll", "run_once")),
    ("socket send/recv syscalls", ("_socket.socket", "method 'send'", "method 'recv'", "sendall")),
    ("regular expressions (C)", ("re.Pattern", "_sre")),
    ("json", ("_json.", "json.", "orjson")),
    ("redis-py (+hiredis)", ("hiredis",)),
    ("aiohttp, multidict, yarl", ("aiohttp", "multidict", "yarl", "_http_parser", "_http_writer")),
    ("asyncio event loop", ("_asyncio", "_contextvars", "_heapq")),
    ("hashlib/hmac/crypto", ("_hashlib", "_hmac", "openssl")),
)


def _area(filename: str, funcname: str) -> str:
    if filename == "~":  # a builtin: its name says where it belongs
        return next((a for a, marks in BUILTIN_AREAS if any(m in funcname for m in marks)), "other builtins")
    return next((a for a, marks in AREAS if any(m in filename for m in marks)), "other Python")


def _short(filename: str) -> str:
    for mark in ("site-packages/", "lib/python3.11/", "/frontdoor/"):
        if mark in filename:
            return ("frontdoor/" if mark == "/frontdoor/" else "") + filename.split(mark, 1)[1]
    return filename


def profile_breakdown(path: Path, count: int, unit: str, steps: Mapping[str, tuple[str, str]],
                      top: int = 20) -> dict[str, Any]:
    """Own time by area, cumulative time of named steps (`steps`: name -> (file suffix, function)) and
    the costliest functions, each per `unit` (a request, an e-mail, a turn). cProfile inflates Python
    calls far more than C, so shares and differences are what to read, not absolute times."""
    raw: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]  # documented, untyped
    areas: dict[str, float] = {}
    for (filename, _line, funcname), (_cc, _nc, tt, _ct, _callers) in raw.items():
        areas[_area(filename, funcname)] = areas.get(_area(filename, funcname), 0.0) + tt
    idle = areas.pop(IDLE_AREA, 0.0)
    busy = sum(areas.values()) or 1e-9
    found: dict[str, float] = {}
    for name, (mark, func) in steps.items():
        cums = [v[3] for (f, _l, fn), v in raw.items() if fn == func and f.endswith(mark)]
        if cums:
            found[name] = sum(cums)
    costliest = sorted(((k, v) for k, v in raw.items() if _area(k[0], k[2]) != IDLE_AREA),
                       key=lambda kv: kv[1][2], reverse=True)[:top]

    def us(seconds: float) -> float:
        return round(seconds / max(count, 1) * 1e6, 1)

    return {
        f"{unit}s_profiled": count,
        f"busy_us_per_{unit}": us(busy),
        f"idle_us_per_{unit}": us(idle),
        "own_time_by_area": {a: {f"us_per_{unit}": us(t), "share_of_busy": round(t / busy, 3)}
                             for a, t in sorted(areas.items(), key=lambda kv: kv[1], reverse=True)},
        f"cumulative_us_per_{unit}_by_step": {k: us(v) for k, v in found.items()},
        "top_functions_by_own_time": [
            {"function": f"{_short(f)}:{line}({fn})", f"us_per_{unit}": us(v[2]), f"cum_us_per_{unit}": us(v[3]),
             f"calls_per_{unit}": round(v[1] / max(count, 1), 2)} for (f, line, fn), v in costliest],
        "_steps_s": found,
        "_busy_s": busy,
    }
