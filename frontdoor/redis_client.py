"""`connect(url)`: the one place a Redis client is made, for one node or for a Redis Cluster.

FRONTDOOR_REDIS_URL takes the single-node forms redis-py knows (`redis://`, `rediss://`, `unix://`)
or the cluster form

    redis+cluster://[user[:password]@]host:port[,host:port...][/]     (rediss+cluster:// for TLS)

The listed nodes are only where discovery starts: the client reads the slot map from any one that
answers and follows the cluster from there, so listing two or three nodes survives one being down.
Nothing else in frontdoor needs to know which kind of client it holds: every multi-key operation is
one Lua script inside one hash slot (see queue/keys.py), and pipelines are never transactions,
because redis-py's cluster pipeline refuses `transaction=True`.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import unquote

_hiredis_pack: Any
try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # redis-py works without it (pyproject asks for redis[hiredis]); then packed in Python
    _hiredis_pack = None

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import DataError
from redis.exceptions import ClusterDownError, MasterDownError, RedisClusterException, TryAgainError

Client: TypeAlias = aioredis.Redis | aioredis.RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_FORM = "redis+cluster://[user:password@]host:port[,host:port...]"

# Replies that mean "Redis is not available right now" (503, try later), beyond connection errors:
# a cluster that lost a primary, or slots in the middle of moving.
UNAVAILABLE: tuple[type[Exception], ...] = (aioredis.ConnectionError, aioredis.TimeoutError, ClusterDownError,
                                            MasterDownError, TryAgainError, OSError)

# Defaults for every client: frontdoor's code reads str, never bytes; connecting gives up after 2 s;
# a pooled connection idle for a while is checked before use. No per-command socket timeout: with
# one, redis-py wraps every send in asyncio.wait_for (a new Task) and every read in asyncio.timeout,
# about a fifth of a web turn's CPU. Whole operations are bounded instead: the HTTP app bounds each
# request (api/errors.py, Settings.request_timeout_s), housekeeping each run (api/app.py); one-shot
# tools, for which a Task per command costs nothing that matters, pass socket_timeout=COMMAND_TIMEOUT_S.
DEFAULTS: dict[str, Any] = {"decode_responses": True, "socket_timeout": None, "socket_connect_timeout": 2,
                            "health_check_interval": 30}
COMMAND_TIMEOUT_S = 5.0


_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def is_cluster_url(url: str) -> bool:
    return scheme_of(url) in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterUrl:
    """The cluster form, checked; a ValueError says what is wrong in words a reader of the README can act on."""
    scheme = scheme_of(url)
    if scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"a cluster URL starts with redis+cluster:// or rediss+cluster://, as in {CLUSTER_FORM}")
    rest = url.split("://", 1)[1]
    if "?" in rest or "#" in rest:
        raise ValueError(f"a cluster URL takes no query string or fragment: {CLUSTER_FORM}")
    netloc, _, path = rest.partition("/")
    if path not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0: end the URL with the last host:port (or /0)")
    username = password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes = []
    for part in netloc.split(","):
        m = _HOST_PORT.match(part.strip())
        if m is None or not 0 < int(m["port"]) < 65536:
            raise ValueError(f"each cluster node is host:port, got {part.strip()!r}: {CLUSTER_FORM}")
        nodes.append((m["v6"] or m["host"], int(m["port"])))
    return ClusterUrl(tuple(nodes), username, password, CLUSTER_SCHEMES[scheme])


def connect(url: str, **options: Any) -> Client:
    """A client for this URL: a RedisCluster for the cluster form, a Redis otherwise.

    No connection is made here (both connect on first use), so an app can start while Redis is down.
    `options` override DEFAULTS, e.g. `max_connections` in the benchmarks.
    """
    kwargs = {**DEFAULTS, **options}
    if not is_cluster_url(url):
        client = aioredis.Redis.from_url(url, **kwargs)
        pool = client.connection_pool
        pool.connection_class = _hiredis_packing(pool.connection_class)  # no connection is made yet
        return client
    parsed = parse_cluster_url(url)
    # The cluster client makes its nodes' connections itself, with redis-py's own packing.
    return _Cluster(startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
                    username=parsed.username, password=parsed.password, ssl=parsed.tls, **kwargs)


class _HiredisPacker:
    """Commands packed by hiredis, in C, as redis-py's synchronous client does when hiredis is
    installed; its asyncio client packs them in Python, about a microsecond an argument (a report's
    submit script takes twenty). The same bytes on the wire; a value of the wrong type is the same
    DataError."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET": the command's own words go separately
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [_hiredis_pack(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


@functools.cache
def _hiredis_packing(connection_class: type) -> type:
    if _hiredis_pack is None:
        return connection_class
    return type(f"Hiredis{connection_class.__name__}", (_HiredisPacker, connection_class), {})


class _Cluster(aioredis.RedisCluster):
    """RedisCluster whose "no node reachable" is a ConnectionError, like a single node's.

    redis-py raises a bare RedisClusterException when discovery reaches no node, the same class it
    uses for programming errors (cross-slot keys, transactions); the rest of frontdoor treats a
    ConnectionError as "Redis is down, answer 503 and try again" and must not tell the two apart.
    """

    async def initialize(self) -> aioredis.RedisCluster:
        try:
            return await super().initialize()
        except RedisClusterException as exc:
            if isinstance(exc.__cause__, (aioredis.ConnectionError, aioredis.TimeoutError, OSError)):
                raise aioredis.ConnectionError(str(exc)) from exc
            raise


class AutoPipeline:
    """Commands from concurrent tasks sent to Redis together, one pipeline per pass of the event loop.

    Each command through redis-py pays for a connection taken from the pool and given back (a lock,
    a read probe, a health check), a write and a read: about as much CPU as the rest of a chat turn's
    own work. Under load, many turns reach their conversation's write in the same pass of the event
    loop, and they can share one pipeline: one checkout, one write, one read (ioredis calls this
    auto-pipelining). The first command of a pass leads: it yields once, so that the other tasks
    ready in this pass can join; alone, it is sent as it is, in its own task, as if there were no
    batching; joined, the batch goes as a pipeline in a task of its own, which neither the leader's
    nor anyone's cancellation (a request's deadline) interrupts for the others.

    Each caller gets its own reply, or its own error (a pipeline without MULTI runs every command
    and reports each one's failure). A pipeline is bounded by `timeout_s`, since the client has no
    per-command timeout (see DEFAULTS): a Redis that hangs fails the batch rather than holding a
    connection. A lone command is bounded by its caller, as any other command.
    """

    def __init__(self, client: Client, *, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._joining: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any) -> Any:
        if self._joining is not None:  # a batch is gathering in this pass of the loop: join it
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._joining.append((args, future))
            return await future
        joined: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._joining = joined
        try:
            await asyncio.sleep(0)  # the other tasks ready in this pass run, and may join
        except BaseException:  # cancelled while waiting: those who joined still go
            self._joining = None
            if joined:
                self._spawn(joined)
            raise
        self._joining = None
        if not joined:
            return await self.client.execute_command(*args)
        mine: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._spawn([(args, mine), *joined])
        return await mine

    def _spawn(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                pipe = self.client.pipeline(transaction=False)
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            for _, future in batch:
                if future.done():
                    continue
                if cancelled:
                    future.cancel()
                else:
                    future.set_exception(exc)
            if cancelled:
                raise
            return
        for (_, future), reply in zip(batch, replies):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def aclose(self) -> None:
        """Wait for the batches on their way (a server stopping)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

