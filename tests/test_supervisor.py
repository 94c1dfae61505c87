"""`frontdoor serve --workers 2` as a real process tree: both workers answer on the shared ports, a
killed worker is replaced, the background work runs in one worker, SIGTERM ends everything; and the
supervisor's restart policy against stand-in workers."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import smtplib
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import psutil
import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from frontdoor.storage import keys
from frontdoor.supervisor import Supervisor
from support.serve import Serve

ADDRESS = "report@hotline.test"
SECRET = "supervisor-test-secret-" + "s" * 32


class Served(Serve):
    """The supervisor's process, its output (stdout and stderr) collected by a thread."""

    def __init__(self, tmp_path: Path, redis_url: str, workers: int = 2) -> None:
        super().__init__(tmp_path, "--workers", str(workers), FRONTDOOR_REDIS_URL=redis_url,
                         FRONTDOOR_REPORT_ADDRESSES=ADDRESS, FRONTDOOR_SECRET_KEY=SECRET)
        self.smtp_port = int(self.env["FRONTDOOR_SMTP_PORT"])
        self.wait_until(lambda: "frontdoor is listening on" in self.output, "the announcement")

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:  # the supervisor has exited (and was reaped)
            return []

    def background(self) -> list[psutil.Process]:
        return [w for w in self.workers() if "--background" in w.cmdline()]

    def holders(self, port: int, status: str) -> dict[int, int]:
        """pid -> how many sockets of that status on that local port it holds."""
        out: dict[int, int] = {}
        for worker in self.workers():
            out[worker.pid] = sum(1 for c in worker.net_connections("tcp") if c.laddr.port == port and c.status == status)
        return out

    def post_report(self, url: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/api/v1/reports", json.dumps({"category": "csam", "urls": [url]}),
                         {"Content-Type": "application/json"})
            return conn.getresponse().status
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return super().stop(sig)


@pytest.fixture
def served(tmp_path: Path, redis: aioredis.Redis, redis_url: str) -> Iterator[Served]:
    served = Served(tmp_path, redis_url)
    try:
        yield served
    finally:
        for worker in served.workers():  # should a test fail half-way: no orphan holds the ports
            worker.kill()
        served.stop()


def test_two_workers_share_the_web_and_smtp_ports(served: Served) -> None:
    served.wait_until(lambda: len(served.workers()) == 2, "two workers")
    for port in (served.port, served.smtp_port):
        listening = served.holders(port, psutil.CONN_LISTEN)
        assert len(listening) == 2 and all(n == 1 for n in listening.values()), (port, listening)

    # Many connections at once: the kernel spreads them over both listening sockets.
    conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=10) for _ in range(24)]
    for conn in conns:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"status": "ready"})
    answered = served.holders(served.port, psutil.CONN_ESTABLISHED)
    assert all(n > 0 for n in answered.values()) and sum(answered.values()) == 24, answered
    for i, conn in enumerate(conns):
        body = json.dumps({"category": "csam", "urls": [f"https://example.com/both/{i}"]})
        conn.request("POST", "/api/v1/reports", body, {"Content-Type": "application/json"})
        assert conn.getresponse().status == 201
        conn.close()

    sessions = [smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) for _ in range(16)]
    try:
        mailing = served.holders(served.smtp_port, psutil.CONN_ESTABLISHED)
        assert all(n > 0 for n in mailing.values()) and sum(mailing.values()) == 16, mailing
        for i, session in enumerate(sessions):  # every session, whichever worker holds it, stores its report
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "someone@example.com", ADDRESS, "report"
            message["Message-ID"] = f"<both-{i}@example.com>"
            message.set_content(f"I found this: https://example.com/mailed/{i}")
            assert session.send_message(message) == {}
    finally:
        for session in sessions:
            session.quit()


def _send_through_the_outbox(redis_url: str, count: int) -> None:
    """E-mails to the outbox, one at a time, each waited for until a sender took it (no relay is
    configured: it is a dead letter at once). Two senders blocked on the group would take turns."""
    from frontdoor.keyring import Keyring
    from frontdoor.outbox import Outbox
    from frontdoor.settings import OutboxSettings
    from frontdoor.storage.client import connect

    async def send() -> None:
        redis = connect(redis_url)
        box = Outbox(redis, Keyring(SECRET.encode()), OutboxSettings(), ["email"])
        try:
            for _ in range(count):
                dead = (await box.counts())["dead_letters"]
                await box.put("email", "someone@example.com", [{"receipt": "X", "locale": "en"}])
                async with asyncio.timeout(15):
                    while (await box.counts())["dead_letters"] == dead:
                        await asyncio.sleep(0.05)
        finally:
            await redis.aclose()

    asyncio.run(send())


def test_background_work_runs_in_one_worker_and_moves_to_its_replacement(served: Served, redis_url: str) -> None:
    served.wait_until(lambda: len(served.workers()) == 2, "two workers")
    (background,) = served.background()
    assert served.output.count("with the background work") == 1
    client = sync_redis.Redis.from_url(redis_url)

    def consumers() -> int:  # the outbox's group: one consumer per sender that ever took a message
        return len(client.xinfo_consumers(keys.outbox_stream("email"), keys.OUTBOX_GROUP))

    try:
        _send_through_the_outbox(redis_url, 6)
        assert consumers() == 1  # one sender among the workers

        background.kill()
        served.wait_until(lambda: "was killed by SIGKILL" in served.output, "the supervisor's line on the crash")
        served.wait_until(lambda: served.output.count("with the background work") == 2, "a new background worker")
        (successor,) = served.background()
        assert successor.pid != background.pid and len(served.workers()) == 2
        crash_lines = [line for line in served.lines if "SIGKILL" in line]
        assert len(crash_lines) == 1 and "background work" in crash_lines[0], crash_lines
        _send_through_the_outbox(redis_url, 6)
        assert consumers() == 2  # the dead sender's name, and its successor's: still one at a time

        (other,) = [w for w in served.workers() if w.pid != successor.pid]  # a plain worker: no background role
        other.kill()
        served.wait_until(lambda: served.output.count("was killed by SIGKILL") == 2, "the second crash")
        served.wait_until(lambda: len(served.workers()) == 2 and other.pid not in {w.pid for w in served.workers()},
                          "a replacement")
        assert served.output.count("with the background work") == 2 and served.background() == [successor]
        _send_through_the_outbox(redis_url, 4)
        assert consumers() == 2
    finally:
        client.close()


def test_a_killed_worker_is_replaced_while_the_service_keeps_answering(served: Served) -> None:
    served.wait_until(lambda: len(served.workers()) == 2, "two workers")
    victim = served.workers()[1]
    victim.kill()
    # Connections that were waiting in its accept queue when it died are reset (SO_REUSEPORT's queues
    # are per socket): once it is gone, new connections go to the live worker until the replacement is up.
    victim.wait(timeout=10)
    began = time.monotonic()
    answered = []
    while time.monotonic() - began < 3:
        answered.append(served.post_report(f"https://example.com/meanwhile/{len(answered)}"))
    assert answered and set(answered) == {201}, answered
    served.wait_until(lambda: len(served.workers()) == 2 and victim.pid not in {w.pid for w in served.workers()},
                      "a replacement")
    served.wait_until(lambda: len(served.holders(served.port, psutil.CONN_LISTEN)) == 2
                      and all(served.holders(served.port, psutil.CONN_LISTEN).values()), "the replacement listening")
    assert served.post_report("https://example.com/after") == 201


def test_sigterm_stops_every_worker_and_exits_0(served: Served) -> None:
    served.wait_until(lambda: len(served.workers()) == 2, "two workers")
    workers = served.workers()
    began = time.monotonic()
    assert served.stop() == 0
    assert time.monotonic() - began < 10
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert "Traceback" not in served.output


def test_workers_stop_when_the_supervisor_is_killed(served: Served) -> None:
    served.wait_until(lambda: len(served.workers()) == 2, "two workers")
    workers = served.workers()
    served.proc.kill()
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive and len(gone) == 2


# -- the restart policy, with stand-in workers ----------------------------------------------------


def _run(supervisor: Supervisor, after_s: float, on_ready: Callable[[], None] = lambda: None) -> int:
    async def main() -> int:
        async def ready() -> None:
            on_ready()

        asyncio.get_running_loop().call_later(after_s, supervisor.stop)
        return await supervisor.run(ready)

    return asyncio.run(main())


def test_a_worker_dying_young_is_restarted_later_each_time(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    script = f"import time; open({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n'); raise SystemExit(1)"
    assert _run(Supervisor(lambda background: [sys.executable, "-c", script], 1, grace_s=5), after_s=4.5) == 0
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 3 and gaps[1] > gaps[0] + 0.3, gaps  # 0.5 s, then 1 s, then 2 s (plus start-up)


def test_a_configuration_error_stops_everything_with_its_status(tmp_path: Path) -> None:
    announced: list[bool] = []
    script = "import sys; sys.exit(2)"
    code = _run(Supervisor(lambda background: [sys.executable, "-c", script], 2, grace_s=5), after_s=30,
                on_ready=lambda: announced.append(True))
    assert code == 2 and not announced


def test_a_worker_slow_to_stop_is_killed_after_the_grace(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (f"import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); print('ready', flush=True); time.sleep(60)")
    announced: list[bool] = []
    began = time.monotonic()
    assert _run(Supervisor(lambda background: [sys.executable, "-c", script], 2, grace_s=1), after_s=2,
                on_ready=lambda: announced.append(True)) == 0
    assert time.monotonic() - began < 10 and announced == [True]
    assert len(pids.read_text().split()) == 2
    assert not [pid for pid in map(int, pids.read_text().split()) if psutil.pid_exists(pid)]
