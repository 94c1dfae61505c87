"""The Prometheus endpoint of real `frontdoor serve` processes: canary traffic through every channel
moves the counters by exactly what was sent and leaves no trace of itself in a scrape; with two
workers one scrape sums both, a killed worker's counts stay, and the private directory goes at exit."""

from __future__ import annotations

import http.client
import json
import signal
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from support.serve import Serve
from support.servers import free_port

ADDRESS = "report@hotline.test"
SECRET = "metrics-test-secret-" + "m" * 32
TOKEN = "metrics-scrape-token-" + "t" * 32
CANARY = "zqcanary"  # in every URL, description, path and code the canary traffic sends
URL = f"https://{CANARY}-site.example.com/{CANARY}/page"
TEXT = f"{CANARY} description, contact {CANARY}@example.com"


class Serving(Serve):
    """`frontdoor serve` with the metrics port on."""

    def __init__(self, tmp_path: Path, redis_url: str, workers: int, token: str | None = None) -> None:
        self.metrics_port = free_port()
        extra = {"FRONTDOOR_METRICS_TOKEN": token} if token else {}
        super().__init__(tmp_path, "--workers", str(workers), FRONTDOOR_REDIS_URL=redis_url,
                         FRONTDOOR_REPORT_ADDRESSES=ADDRESS, FRONTDOOR_SECRET_KEY=SECRET,
                         FRONTDOOR_METRICS_PORT=str(self.metrics_port), **extra)
        self.smtp_port = int(self.env["FRONTDOOR_SMTP_PORT"])
        self.token = token
        self.wait_until(lambda: "frontdoor is listening on" in self.output, "the announcement")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                port: int | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=15)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post_json(self, path: str, body: Any) -> tuple[int, Any]:
        status, raw = self.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return status, json.loads(raw)

    def scrape(self) -> str:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        status, body = self.request("GET", "/metrics", headers=headers, port=self.metrics_port)
        assert status == 200, body
        return body.decode()

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def both_listening(self) -> bool:
        """Each worker's HTTP socket bound (a worker says "ready" once bound: this checks it from outside)."""
        workers = self.workers()
        try:
            return len(workers) == 2 and all(any(c.laddr.port == self.port and c.status == psutil.CONN_LISTEN
                                                 for c in w.net_connections("tcp")) for w in workers)
        except psutil.NoSuchProcess:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return super().stop(sig)


@pytest.fixture
def start(tmp_path: Path, redis: aioredis.Redis, redis_url: str) -> Iterator[Callable[..., Serving]]:
    started: list[Serving] = []

    def make(workers: int, token: str | None = None) -> Serving:
        started.append(Serving(tmp_path, redis_url, workers, token))
        return started[-1]

    yield make
    for serving in started:
        for worker in serving.workers():  # should a test fail half-way: no orphan holds the ports
            worker.kill()
        serving.stop()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a scrape (0 if it is absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def through_the_chat(serving: Serving) -> None:
    status, body = serving.post_json("/api/v1/conversations", {"locale": "en"})
    assert status == 201, body
    token = body["conversation"]
    for _ in range(25):
        if body["state"] != "open":
            break
        asked = body["messages"][-1]
        if asked["expects"] == "choice" and asked["quick_replies"]:
            answer: dict[str, Any] = {"payload": asked["quick_replies"][0]["payload"]}
        else:
            answer = {"text": {"url": f"{URL}/chat", "yes_no": "no", "country": "skip"}.get(asked["expects"], TEXT)}
        status, body = serving.post_json(f"/api/v1/conversations/{token}/messages", answer)
        assert status == 200, body
    assert body["state"] == "submitted", body


def test_counts_move_by_what_was_sent_and_no_canary_reaches_a_scrape(start: Callable[..., Serving]) -> None:
    serving = start(1)
    assert f"metrics:         http://127.0.0.1:{serving.metrics_port}/metrics" in serving.output
    before = serving.scrape()
    assert sample(before, "frontdoor_reports_total", channel="api") == 0  # there from the start, at 0
    assert sample(before, "frontdoor_redis_up") == 1

    api_reports = 3
    for i in range(api_reports):
        status, body = serving.post_json("/api/v1/reports", {"category": "csam", "urls": [f"{URL}/{i}"],
                                                            "description": TEXT})
        assert status == 201, body
    receipt = body["receipt"]
    status, body = serving.post_json("/api/v1/reports", {"category": "csam", "urls": [URL], "nonsense": CANARY})
    assert status == 400, body
    form = urlencode({"category": "csam", "urls": f"{URL}/form", "where_seen": "website", "danger": "no",
                      "role": "other_adult", "description": TEXT, "lang": "en"}).encode()
    status, page = serving.request("POST", "/report", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, page[-2000:]
    through_the_chat(serving)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"{CANARY}@example.com", ADDRESS, CANARY
    message["Message-ID"] = f"<{CANARY}-1@example.com>"
    message.set_content(f"I found this: {URL}/mailed\n{TEXT}")
    with smtplib.SMTP("127.0.0.1", serving.smtp_port, timeout=15) as smtp:
        assert smtp.send_message(message) == {}
        assert smtp.send_message(message) == {}  # the mail server's retry: the same report, not counted again
    assert serving.request("GET", f"/api/v1/receipts/{receipt}")[0] == 200
    lookups = [serving.request("GET", f"/api/v1/receipts/{CANARY}{i}")[0] for i in range(2)]
    assert all(400 <= s < 500 for s in lookups), lookups
    missing = 4
    for i in range(missing):
        assert serving.request("GET", f"/{CANARY}/{i}?q={CANARY}", headers={"X-Canary": CANARY})[0] == 404

    after = serving.scrape()
    assert CANARY not in after.lower()
    assert receipt not in after and receipt.replace("-", "") not in after

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("frontdoor_reports_total", channel="api") == api_reports
    assert moved("frontdoor_reports_total", channel="web_form") == 1
    assert moved("frontdoor_reports_total", channel="web") == 1
    assert moved("frontdoor_reports_total", channel="email") == 1
    answers = "frontdoor_http_responses_total"
    assert moved(answers, **{"class": "2xx", "route": "/api/v1/reports"}) == api_reports
    assert moved(answers, **{"class": "4xx", "route": "/api/v1/reports"}) == 1
    assert moved(answers, **{"class": "4xx", "route": "/api/v1/receipts/{code}"}) == len(lookups)
    assert moved(answers, **{"class": "2xx", "route": "/api/v1/receipts/{code}"}) == 1
    assert moved(answers, **{"class": "4xx", "route": "-"}) == missing
    assert sum(moved(answers, **{"class": "5xx", "route": r}) for r in ("-", "/api/v1/reports")) == 0

    # Six distinct URLs, six new cases, none claimed yet; the gauges are read from Redis at the scrape.
    lanes = ("urgent", "normal")
    assert sum(sample(after, "frontdoor_queue_cases", lane=lane) for lane in lanes) == api_reports + 3
    assert sum(sample(after, "frontdoor_queue_claimed_cases", lane=lane) for lane in lanes) == 0
    ages = [sample(after, "frontdoor_queue_oldest_age_seconds", lane=lane) for lane in lanes]
    assert 0 < max(ages) < 120, ages
    assert sample(after, "frontdoor_outbox_waiting") == 0 and sample(after, "frontdoor_outbox_dead_letters") == 0
    assert 0 < sample(after, "frontdoor_redis_ping_seconds") < 5

    # Only GET /metrics, and a refusal is JSON {error, message}, as on the main port.
    status, raw = serving.request("GET", f"/{CANARY}", port=serving.metrics_port)
    assert status == 404 and set(json.loads(raw)) == {"error", "message"}
    status, raw = serving.request("POST", "/metrics", b"", port=serving.metrics_port)
    assert status == 405 and json.loads(raw)["error"] == "method_not_allowed"
    assert CANARY not in serving.output  # and nothing of it in the log either


def test_two_workers_one_scrape_sums_both_and_a_replaced_worker_keeps_its_counts(
        start: Callable[..., Serving]) -> None:
    serving = start(2, token=TOKEN)
    serving.wait_until(serving.both_listening, "two workers listening")
    dirs = {w.environ().get("PROMETHEUS_MULTIPROC_DIR") for w in serving.workers()}
    assert len(dirs) == 1 and None not in dirs, dirs
    private = Path(dirs.pop())  # type: ignore[arg-type]
    assert private.is_dir() and private.stat().st_mode & 0o077 == 0

    status, raw = serving.request("GET", "/metrics", port=serving.metrics_port)
    assert status == 401 and json.loads(raw)["error"] == "unauthorized"
    status, raw = serving.request("GET", "/metrics", headers={"Authorization": "Bearer " + "x" * 53},
                                  port=serving.metrics_port)
    assert status == 401

    # Many connections held open at once: the kernel spreads them over both workers' sockets.
    conns = [http.client.HTTPConnection("127.0.0.1", serving.port, timeout=15) for _ in range(24)]
    for conn in conns:
        conn.request("GET", "/readyz")
        assert conn.getresponse().read()
    by_worker = {w.pid: sum(1 for c in w.net_connections("tcp") if c.laddr.port == serving.port
                            and c.status == psutil.CONN_ESTABLISHED) for w in serving.workers()}
    assert len(by_worker) == 2 and all(n > 0 for n in by_worker.values()), by_worker
    for i, conn in enumerate(conns):
        conn.request("POST", "/api/v1/reports", json.dumps({"category": "csam", "urls": [f"https://example.com/w/{i}"]}),
                     {"Content-Type": "application/json"})
        assert conn.getresponse().status == 201
        conn.close()
    scraped = serving.scrape()
    assert sample(scraped, "frontdoor_reports_total", channel="api") == len(conns)
    assert sample(scraped, "frontdoor_http_responses_total", **{"class": "2xx", "route": "/api/v1/reports"}) == len(conns)
    assert sample(scraped, "frontdoor_http_responses_total", **{"class": "2xx", "route": "/readyz"}) == len(conns)
    assert sample(scraped, "frontdoor_queue_cases", lane="normal") + \
        sample(scraped, "frontdoor_queue_cases", lane="urgent") == len(conns)

    # A worker killed: its replacement starts from nothing, the sum keeps what the dead one counted.
    victim = next(w for w in serving.workers() if by_worker[w.pid] > 0)
    victim.kill()
    serving.wait_until(lambda: victim.pid not in {w.pid for w in serving.workers()} and serving.both_listening(),
                       "a replacement worker")
    scraped = serving.scrape()
    assert sample(scraped, "frontdoor_reports_total", channel="api") == len(conns)
    assert sample(scraped, "frontdoor_worker_restarts_total") == 1
    status, _ = serving.post_json("/api/v1/reports", {"category": "csam", "urls": ["https://example.com/w/after"]})
    assert status == 201
    assert sample(serving.scrape(), "frontdoor_reports_total", channel="api") == len(conns) + 1

    assert serving.stop() == 0
    assert not private.exists()  # wiped with the supervisor, as the library requires between runs


async def test_a_scrape_answers_when_redis_is_away_and_a_taken_port_is_one_config_line(keyring: Any) -> None:
    import socket

    from aiohttp import ClientSession

    from frontdoor.errors import ConfigError
    from frontdoor.metrics.exporter import Exporter
    from frontdoor.metrics.gauges import RedisGauges
    from frontdoor.outbox import Outbox
    from frontdoor.queue import TriageQueue
    from frontdoor.settings import MetricsSettings, OutboxSettings
    from frontdoor.storage.client import connect

    away = connect(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    gauges = RedisGauges(away, TriageQueue(away), Outbox(away, keyring, OutboxSettings(), ["email"]))
    port = free_port()
    try:
        async with Exporter(MetricsSettings(port=port), gauges).serving():
            async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                text = await response.text()
        assert sample(text, "frontdoor_redis_up") == 0
        assert "frontdoor_queue_cases" not in text and "frontdoor_reports_total" in text
        with socket.create_server(("127.0.0.1", 0)) as taken:
            busy = MetricsSettings(port=taken.getsockname()[1])
            with pytest.raises(ConfigError, match="FRONTDOOR_METRICS_PORT: cannot listen on 127.0.0.1:"):
                async with Exporter(busy, gauges).serving():
                    pass
    finally:
        await away.aclose()


def test_metrics_settings_are_off_unless_a_port_is_given() -> None:
    from frontdoor.errors import ConfigError
    from frontdoor.settings import Settings

    assert not Settings.from_env({}).metrics.enabled
    on = Settings.from_env({"FRONTDOOR_METRICS_PORT": "9108", "FRONTDOOR_METRICS_TOKEN": TOKEN}).metrics
    assert (on.enabled, on.host, on.port, on.token) == (True, "127.0.0.1", 9108, TOKEN)
    assert TOKEN not in repr(on)
    with pytest.raises(ConfigError, match="FRONTDOOR_METRICS_TOKEN must be at least 32"):
        Settings.from_env({"FRONTDOOR_METRICS_TOKEN": "short"})
    with pytest.raises(ConfigError, match="FRONTDOOR_METRICS_PORT must be between"):
        Settings.from_env({"FRONTDOOR_METRICS_PORT": "70000"})


def test_metrics_off_loopback_need_a_token() -> None:
    from frontdoor.errors import ConfigError
    from frontdoor.settings import Settings

    with pytest.raises(ConfigError, match="FRONTDOOR_METRICS_TOKEN must be set to serve metrics on 0.0.0.0"):
        Settings.from_env({"FRONTDOOR_METRICS_PORT": "9108", "FRONTDOOR_METRICS_HOST": "0.0.0.0"})
    opened = Settings.from_env({"FRONTDOOR_METRICS_PORT": "9108", "FRONTDOOR_METRICS_HOST": "0.0.0.0",
                                "FRONTDOOR_METRICS_TOKEN": TOKEN}).metrics
    assert opened.host == "0.0.0.0" and opened.token == TOKEN
    assert Settings.from_env({"FRONTDOOR_METRICS_PORT": "9108", "FRONTDOOR_METRICS_HOST": "::1"}).metrics.token is None
    assert not Settings.from_env({"FRONTDOOR_METRICS_HOST": "0.0.0.0"}).metrics.enabled  # off: nothing to guard
