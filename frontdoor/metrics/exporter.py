"""The endpoint: GET /metrics on a port of its own, in a single `serve` (its own counters) or in the
supervisor of `serve --workers N` (every worker's counters, summed from the multiprocess directory)."""

from __future__ import annotations

import contextlib
import hmac
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from ..errors import ConfigError
from ..http.errors import json_error
from ..settings import MetricsSettings
from .gauges import RedisGauges

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable, read by it at import


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


class Exporter:
    """GET /metrics on a port of its own. `multiprocess_dir`: sum the workers' files there (the
    supervisor); None: this process's own counters (a single `serve`)."""

    def __init__(self, settings: MetricsSettings, gauges: RedisGauges, *, multiprocess_dir: str | None = None,
                 extra: Callable[[], Iterable[Metric]] = tuple) -> None:
        self.settings, self.gauges, self.multiprocess_dir, self.extra = settings, gauges, multiprocess_dir, extra
        self.expected = f"Bearer {settings.token}".encode() if settings.token else None

    async def scrape(self, request: web.Request) -> web.Response:
        if self.expected is not None and not hmac.compare_digest(
                request.headers.get("Authorization", "").encode(), self.expected):
            return json_error(401, "unauthorized", "Send Authorization: Bearer <FRONTDOOR_METRICS_TOKEN>.")
        families = [*await self.gauges.families(), *self.extra()]
        registry = CollectorRegistry(auto_describe=False)
        if self.multiprocess_dir is not None:
            MultiProcessCollector(registry, path=self.multiprocess_dir)
        else:
            families = [*REGISTRY.collect(), *families]
        registry.register(_Families(families))
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_json_errors])
        app.router.add_get("/metrics", self.scrape)
        return app

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        runner = web.AppRunner(self.app(), access_log=None)  # scrapes are not counted as answers
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, self.settings.host, self.settings.port).start()
            except OSError as exc:
                raise ConfigError(f"FRONTDOOR_METRICS_PORT: cannot listen on {self.settings.host}:"
                                  f"{self.settings.port} ({exc.strerror or type(exc).__name__})") from None
            yield
        finally:
            await runner.cleanup()


@web.middleware
async def _json_errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """The metrics port answers as the main one does: a 4xx is JSON {error, message}."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status == 404:
            return json_error(404, "not_found", "This port serves GET /metrics only.")
        if exc.status == 405:
            return json_error(405, "method_not_allowed", "Use GET.", Allow="GET, HEAD")
        return json_error(exc.status, "bad_request", exc.reason)


class Supervised:
    """Multiprocess mode from the supervisor's side (supervisor.py): while `serving`, a fresh private
    directory that `env` hands to every worker, the endpoint summing it, and `worker_gone` for each
    worker that exited. `gauges` makes the supervisor's own Redis reader, in its event loop."""

    def __init__(self, settings: MetricsSettings,
                 gauges: Callable[[], AbstractAsyncContextManager[RedisGauges]]) -> None:
        self.settings = settings
        self.make_gauges = gauges
        self.path: str | None = None
        self.restarts = 0

    @property
    def env(self) -> Mapping[str, str]:
        return {MULTIPROC_ENV: self.path} if self.path is not None else {}

    def worker_gone(self, pid: int, *, replaced: bool) -> None:
        if self.path is not None:
            mark_process_dead(pid, self.path)
        self.restarts += replaced

    def _workers(self) -> Iterable[Metric]:
        family = CounterMetricFamily("frontdoor_worker_restarts", "Workers the supervisor replaced since it started.")
        family.add_metric([], self.restarts)
        return [family]

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        with private_dir() as path:
            self.path = path
            try:
                async with self.make_gauges() as gauges, Exporter(self.settings, gauges, multiprocess_dir=path,
                                                                  extra=self._workers).serving():
                    yield
            finally:
                self.path = None


@contextlib.contextmanager
def private_dir() -> Iterator[str]:
    """Fresh for each supervisor (the library requires it wiped between runs), readable by this user only."""
    path = tempfile.mkdtemp(prefix="frontdoor-metrics-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
