"""A Redis outage in the log: one warning when it starts, one line when it ends, and no tracebacks.

The end-to-end test runs `frontdoor serve` under a small load (API reports and chat turns from a few
threads) while its redis-server (append-only) is killed with SIGKILL and restarted on the same port,
twice; the others pause and kill a Redis of their own under an `Outages` in this process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from frontdoor.storage.client import connect
from frontdoor.storage.outages import Outages
from frontdoor.storage.server import RedisServer
from support.servers import free_port


@pytest.fixture
def own_redis(start_redis) -> RedisServer:  # type: ignore[no-untyped-def]
    return start_redis(persist=True)  # type: ignore[no-any-return]


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "frontdoor.storage.outages"]


async def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_many_failures_are_one_warning_and_the_probe_says_when_it_is_back(own_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    client = connect(own_redis.url)
    outages = Outages(client.ping, interval_s=0.1)
    caplog.set_level(logging.INFO)
    try:
        os.kill(own_redis.pid, signal.SIGKILL)  # type: ignore[arg-type]
        own_redis.stop()
        for _ in range(50):  # every request, the sender, housekeeping: each reports it
            outages.failed(aioredis.ConnectionError("Connection refused"))
        assert outages.down and lines(caplog) == [
            "redis unavailable: ConnectionError: Connection refused; answering 503 (SMTP 451) until it is back, "
            "nothing acknowledged is lost"]
        await asyncio.sleep(0.5)
        own_redis.start()
        await wait_for(lambda: not outages.down)
        assert len(lines(caplog)) == 2 and lines(caplog)[1].startswith("redis reachable again after ")
    finally:
        await outages.aclose()
        await client.aclose()


async def test_a_paused_redis_suspected_after_a_deadline_is_an_outage_and_a_healthy_one_is_not(own_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    client = connect(own_redis.url)
    outages = Outages(client.ping, interval_s=0.1, timeout_s=0.3)
    caplog.set_level(logging.INFO)
    try:
        outages.suspect()  # a slow request, Redis fine: nothing to say
        await asyncio.sleep(0.5)
        assert not outages.down and lines(caplog) == []
        os.kill(own_redis.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        outages.suspect()
        outages.suspect()
        await wait_for(lambda: outages.down)
        assert lines(caplog) == ["redis unavailable: no answer within 0.3 s; answering 503 (SMTP 451) until it is "
                                 "back, nothing acknowledged is lost"]
        os.kill(own_redis.pid, signal.SIGCONT)  # type: ignore[arg-type]
        await wait_for(lambda: not outages.down)
        assert len(lines(caplog)) == 2
    finally:
        await outages.aclose()
        await client.aclose()


def _post(port: int, path: str, body: dict[str, Any]) -> tuple[Any, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError as exc:  # the server itself must stay up: counted, and checked below
        return type(exc).__name__, None


def test_serve_logs_each_redis_kill_once_and_its_end_once_without_tracebacks(tmp_path: Path, own_redis) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_REDIS_URL=own_redis.url, FRONTDOOR_DATA_DIR=str(tmp_path / "data"), FRONTDOOR_SMTP_PORT="0",
               FRONTDOOR_REQUEST_TIMEOUT_SECONDS="2", FRONTDOOR_RATE_CONVERSATIONS_PER_MINUTE="100000",
               FRONTDOOR_RATE_MESSAGES_PER_MINUTE="100000", FRONTDOOR_RATE_REPORTS_PER_MINUTE="100000")
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(port), "--workers", "1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    stop = threading.Event()
    answers: list[Any] = []
    acknowledged: list[str] = []

    def reporter(n: int) -> None:
        while not stop.is_set():
            status, body = _post(port, "/api/v1/reports", {"category": "csam", "urls": [f"https://example.com/{n}/{time.time_ns()}"]})
            answers.append(status)
            if status == 201:
                acknowledged.append(body["report"])

    def chatter() -> None:
        while not stop.is_set():
            status, body = _post(port, "/api/v1/conversations", {})
            answers.append(status)
            for answer in ("report", "csam") if status == 201 else ():
                answers.append(_post(port, f"/api/v1/conversations/{body['conversation']}/messages", {"payload": answer})[0])

    try:
        deadline = time.monotonic() + 30
        while _post(port, "/api/v1/reports", {"category": "csam", "urls": ["https://example.com/up"]})[0] != 201:
            assert time.monotonic() < deadline and proc.poll() is None, stderr.read_text()
            time.sleep(0.1)
        threads = [threading.Thread(target=reporter, args=(n,)) for n in range(3)] + \
                  [threading.Thread(target=chatter) for _ in range(3)]
        for thread in threads:
            thread.start()
        for _ in range(2):  # two outages
            time.sleep(1.5)
            os.kill(own_redis.pid, signal.SIGKILL)  # type: ignore[arg-type]
            own_redis.stop()
            time.sleep(1.5)
            own_redis.start()
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    log = stderr.read_text()
    assert "Traceback" not in log and "RuntimeError" not in log and " 500 " not in log
    assert log.count("redis unavailable: ") == 2, log[-3000:]
    assert log.count("redis reachable again after ") == 2, log[-3000:]
    assert 201 in answers and 503 in answers and set(answers) <= {200, 201, 503}, set(answers)

    async def kept() -> set[str]:  # append-only: every acknowledged report outlived both kills
        client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
        try:
            return {k.rsplit(":", 1)[1] async for k in client.scan_iter(match="*:report:*") if not k.endswith(":cases")}
        finally:
            await client.aclose()

    assert set(acknowledged) <= asyncio.run(kept())
