"""`connect(url)`: the one place a Redis client is made, for one node or for a Redis Cluster.

FRONTDOOR_REDIS_URL takes the single-node forms redis-py knows (`redis://`, `rediss://`, `unix://`)
or the cluster form

    redis+cluster://[user[:password]@]host:port[,host:port...][/]     (rediss+cluster:// for TLS)

The listed nodes are only where discovery starts: the client reads the slot map from any one that
answers and follows the cluster from there, so listing two or three nodes survives one being down.
Nothing else in frontdoor needs to know which kind of client it holds: every multi-key operation is
one Lua script inside one hash slot (see storage/keys.py), and pipelines are never transactions,
because redis-py's cluster pipeline refuses `transaction=True`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ClusterDownError, MasterDownError, RedisClusterException, ResponseError, TryAgainError

hiredis_pack: Any
try:
    from hiredis import pack_command as hiredis_pack  # hiredis's public packer (pyproject: redis[hiredis])
except ImportError:  # redis-py works without it; commands are then packed in Python
    hiredis_pack = None

Client: TypeAlias = aioredis.Redis | aioredis.RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_FORM = "redis+cluster://[user:password@]host:port[,host:port...]"

# Replies that mean "Redis is not available right now" (503, try later), beyond connection errors:
# a cluster that lost a primary, or slots in the middle of moving.
UNAVAILABLE: tuple[type[Exception], ...] = (aioredis.ConnectionError, aioredis.TimeoutError, ClusterDownError,
                                            MasterDownError, TryAgainError, OSError)

COMMAND_TIMEOUT_S = 5.0

# Defaults for every client: frontdoor's code reads str, never bytes; connecting gives up after 2 s;
# a pooled connection idle for a while is checked before use. Every command gives up after
# COMMAND_TIMEOUT_S, as a redis TimeoutError (one of UNAVAILABLE): a Redis that stalls without closing
# the connection (a half-open TCP connection after a failover or a partition, a paused process) would
# otherwise hold whatever waits on it for ever, and only HTTP requests (http/errors.py) and housekeeping
# runs (app.py) have deadlines of their own; the outbox sender and the CLI have none. The price, a Task
# per send (redis-py's asyncio.wait_for on Python 3.11), the hot paths pay once a batch (AutoPipeline).
# Blocking reads (the outbox's XREADGROUP BLOCK, OutboxSettings.poll_s) must block for less than this.
# On Python 3.11 that asyncio.wait_for loses a cancellation that lands as the send completes (CPython
# gh-86296, fixed in 3.12), so loops that talk to Redis until cancelled check `honour_cancellation`.
DEFAULTS: dict[str, Any] = {"decode_responses": True, "socket_timeout": COMMAND_TIMEOUT_S,
                            "socket_connect_timeout": 2, "health_check_interval": 30}


def honour_cancellation() -> None:
    """A cancellation asyncio.wait_for swallowed still counts on the task: a background loop that
    ignored it would keep the app from ever stopping (the outbox sender polls Redis all the time)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
        read = aioredis.ConnectionPool.from_url(url, **kwargs)  # redis-py reads the URL; nothing connects yet
        pool = aioredis.ConnectionPool(connection_class=hiredis_packing(read.connection_class),
                                       max_connections=read.max_connections, **read.connection_kwargs)
        return aioredis.Redis.from_pool(pool)
    parsed = parse_cluster_url(url)
    return _Cluster(startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
                    username=parsed.username, password=parsed.password, ssl=parsed.tls, **kwargs)


class _HiredisPacking:
    """Commands packed by hiredis, in C, through redis-py's public `pack_command`.

    redis-py's asyncio connection packs every command in Python (5.x), or encodes each argument in
    Python before handing them to hiredis (8.x): for a submit's script call of twenty-odd arguments
    that is a good share of the client's CPU. hiredis.pack_command takes str, bytes, int and float
    itself; anything else (and a command name with a space, "CONFIG GET", which redis-py splits) goes
    to redis-py's own packer, so the bytes on the wire are the same either way.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if hiredis_pack is not None and not (isinstance(args[0], str) and " " in args[0]):
            try:
                return [hiredis_pack(args)]
            except TypeError:  # a type hiredis does not take (a memoryview): redis-py knows it
                pass
        return super().pack_command(*args)  # type: ignore[misc]


class _LostOnWrite:
    """A write on a connection whose transport closed under it is a lost connection (ConnectionError),
    as on asyncio's own loop. uvloop raises RuntimeError ("the handler is closed") when Redis went away
    between the pool's check of a connection and the write; redis-py passes that on as it is, and it
    would reach the error guard as a 500 with a traceback instead of a 503."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RuntimeError as exc:  # redis-py has disconnected it already (its BaseException branch)
            raise aioredis.ConnectionError("the connection to Redis closed while writing") from exc


def hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` (TCP, TLS or Unix socket, as the URL said) with hiredis packing (where hiredis
    is installed) and a write on a closed connection as a ConnectionError, for the pool's public
    `connection_class` argument."""
    if hiredis_pack is None:
        return type(connection_class.__name__, (_LostOnWrite, connection_class), {})
    return type(f"Hiredis{connection_class.__name__}", (_HiredisPacking, _LostOnWrite, connection_class), {})


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


_Queued: TypeAlias = tuple[tuple[Any, ...], asyncio.Future[Any]]
# What redis-py's Encoder takes as it is; anything else is asked of the Encoder before it is queued.
_PLAIN = frozenset((str, bytes, int, float))


class AutoPipeline:
    """Commands from concurrent tasks sent to Redis together, for the hot paths (a chat turn's write, a submit).

    Each command sent alone through redis-py pays for a connection taken from the pool and given back
    (a lock, a read probe), a write, a read and, under a socket timeout, a Task: about as much CPU as
    the rest of a chat turn's own work. Redis answers a pipeline's commands in order, so concurrent
    callers need not wait for each other: the commands queued in one pass of the event loop go in one
    write. On one node that write goes on a connection of the AutoPipeline's own pool (redis-py's
    public `send_packed_command` and `read_response`), the replies read back in order; on a cluster
    the batch is one redis-py pipeline, which redis-py splits by node (never a transaction: a
    cluster refuses those, and atomic changes are Lua scripts anyway).

    Each caller gets its own reply, or its own error: an error reply (a ResponseError, NOSCRIPT) is
    its command's only, and a value redis-py cannot send (None, a bool) is refused to its caller
    before it joins a batch, where it would fail everyone's. A connection lost fails everyone in its
    batch with ConnectionError, and the next batch takes a connection through the pool's own checks,
    so it recovers by itself. Redis not answering within `timeout_s` is a redis TimeoutError for
    everyone in the batch, as a socket timeout would be (both UNAVAILABLE: 503). A caller cancelled
    after its batch left may still see its command run, as with any command already written. Batches
    are not ordered among themselves: each caller awaits its own reply, so none can tell. Commands
    that block (BLPOP, XREAD BLOCK, ...) must not come here: they would hold up a whole batch.
    """

    def __init__(self, client: Client, *, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        # On one node, batches go on connections of a pool of the AutoPipeline's own, made from the
        # client's settings but without a socket timeout: the batch as a whole is bounded (timeout_s),
        # and redis-py would otherwise put every send in a Task of its own (asyncio.wait_for).
        self._pool: aioredis.ConnectionPool | None = None
        if isinstance(client, aioredis.Redis):
            shared = client.connection_pool
            self._pool = aioredis.ConnectionPool(connection_class=shared.connection_class,
                                                 **{**shared.connection_kwargs, "socket_timeout": None})
        self._encoder = client.get_encoder()
        self._joining: list[_Queued] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any) -> Any:
        for arg in args:
            if type(arg) not in _PLAIN:
                self._encoder.encode(arg)  # redis-py's DataError, raised here rather than in the batch
        loop = asyncio.get_running_loop()
        if self._joining is not None:  # a batch is gathering in this pass of the loop: join it
            future: asyncio.Future[Any] = loop.create_future()
            self._joining.append((args, future))
            return await future
        joined: list[_Queued] = []
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
            return await self._alone(args)
        # The batch goes in a task of its own, so that this caller's cancellation is not everyone's.
        mine: asyncio.Future[Any] = loop.create_future()
        self._spawn([(args, mine), *joined])
        return await mine

    async def _alone(self, args: tuple[Any, ...]) -> Any:
        if self._pool is not None:  # a batch of one, in this task: nobody else to keep going if cancelled
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            await self._send_on_connection(self._pool, [(args, future)])
            return await future
        try:
            async with asyncio.timeout(self.timeout_s) as deadline:
                return await self.client.execute_command(*args)
        except TimeoutError:
            if deadline.expired():  # ours, not a deadline of the caller's around us
                raise self._timed_out() from None
            raise

    def _spawn(self, batch: list[_Queued]) -> None:
        task = asyncio.get_running_loop().create_task(self._send_batch(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_batch(self, batch: list[_Queued]) -> None:
        batch = [(args, future) for args, future in batch if not future.done()]  # cancelled before it left
        if not batch:
            return
        if self._pool is not None:
            return await self._send_on_connection(self._pool, batch)
        try:
            async with asyncio.timeout(self.timeout_s):
                pipe = self.client.pipeline(transaction=False)
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:  # the loop is closing: nobody will get a reply
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            error = self._timed_out() if isinstance(exc, TimeoutError) else exc
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), reply in zip(batch, replies):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _send_on_connection(self, pool: aioredis.ConnectionPool, batch: list[_Queued]) -> None:
        """One write, then the replies in order: what a pipeline does, without building one, each reply
        through the client's response callback for its command as redis-py would. An error reply is
        its command's alone; anything else (the connection lost, the deadline passed) is everyone's
        still waiting, and the connection is dropped, since replies may still be on their way on it."""
        conn: AbstractConnection | None = None
        pending = list(batch)
        callbacks = getattr(self.client, "response_callbacks", None)  # redis-py's, as its parse_response applies them
        try:
            async with asyncio.timeout(self.timeout_s):  # connecting too: a hung Redis may accept and say nothing
                conn = await pool.get_connection()
                await conn.send_packed_command(conn.pack_commands([args for args, _ in batch]), check_health=False)
                while pending:
                    (command, *_), future = pending[0]
                    try:
                        reply = await conn.read_response()
                    except ResponseError as exc:
                        pending.pop(0)
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    pending.pop(0)
                    callback = callbacks.get(str(command).upper()) if callbacks is not None else None
                    if not future.done():
                        future.set_result(callback(reply) if callback is not None else reply)
        except BaseException as exc:
            if conn is not None:
                await conn.disconnect()
            error = self._timed_out() if isinstance(exc, TimeoutError) else exc
            for _, future in pending:
                if not future.done():
                    future.cancel() if isinstance(exc, asyncio.CancelledError) else future.set_exception(error)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if conn is not None:
                await pool.release(conn)

    def _timed_out(self) -> aioredis.TimeoutError:
        return aioredis.TimeoutError(f"Redis did not answer within {self.timeout_s:g} s")

    async def aclose(self) -> None:
        """Wait for the replies on their way (a server stopping), then close the connections."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._pool is not None:
            await self._pool.disconnect()

