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
import collections
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
from redis.exceptions import DataError, ResponseError
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
    """Commands from concurrent tasks pipelined to Redis, for the hot paths (a chat turn's write, a submit).

    Each command through redis-py pays for a connection taken from the pool and given back (a lock,
    a read probe, a health check), a write and a read: about as much CPU as the rest of a chat turn's
    own work. Redis answers the commands of one connection in the order they arrive, so they need not
    wait for each other (ioredis calls this auto-pipelining):

    - On one node, the AutoPipeline keeps a connection of its own from the client's pool (`_Line`).
      Each command is queued with a future; the commands of one pass of the event loop go in one
      write; the replies are read in order by the first caller waiting, who hands out the others'
      on the way (a task reads on if some are still due when its own is in). A connection
      idle for IDLE_RECHECK_S goes back to the pool, and the next command takes one through the
      pool's own checks (so a connection Redis closed meanwhile is replaced, not written to).
    - A cluster client makes its nodes' connections itself: there the commands of one pass go as one
      pipeline (`_batched`), which redis-py splits by node; alone, a command is sent as it is.

    Each caller gets its own reply, or its own error. A caller cancelled after its command was queued
    may still see that command run (as with any command already written). Commands that block
    (BLPOP, XREAD BLOCK, ...) must not come here: they would hold up everyone's replies. Redis not
    answering within `timeout_s` fails every command waiting (builtin TimeoutError), and the
    connection is dropped; the next command takes a new one.
    """

    IDLE_RECHECK_S = 5.0

    def __init__(self, client: Client, *, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._pool = client.connection_pool if isinstance(client, aioredis.Redis) else None
        self._line: _Line | None = None
        self._taking: asyncio.Task[_Line] | None = None
        self._joining: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any) -> Any:
        if self._pool is None:
            return await self._batched(args)
        line = self._line
        if line is None or not line.usable():
            line = await self._take_line()
        return await line.call(args)

    async def _take_line(self) -> _Line:
        # One task takes the connection for everyone who needs it meanwhile, and they all go on in the
        # same pass of the loop (a lock would let them through one pass each); one caller's
        # cancellation does not cancel it for the others.
        if self._taking is None:
            self._taking = asyncio.get_running_loop().create_task(self._new_line())
            self._taking.add_done_callback(_retrieve)
        return await asyncio.shield(self._taking)

    async def _new_line(self) -> _Line:
        try:
            if self._line is not None:
                self._line.retire()
            assert self._pool is not None
            async with asyncio.timeout(self.timeout_s):  # connecting talks to Redis too (CLIENT SETINFO)
                conn = await self._pool.get_connection()
            self._line = _Line(conn, self._pool, self.timeout_s)
            return self._line
        finally:
            self._taking = None

    async def _batched(self, args: tuple[Any, ...]) -> Any:
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
        task = asyncio.get_running_loop().create_task(self._send_batch(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_batch(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
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
        """Wait for the replies on their way (a server stopping), and give the connection back."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        line, self._line = self._line, None
        if line is not None:
            await line.drain()
            line.retire()


class _Line:
    """One connection of the pool's, the commands written to it and not yet answered, and whoever
    is reading their replies (see AutoPipeline).

    The replies are read by a caller, as redis-py's own client does: the first caller to find
    nobody reading reads, in order, until its own reply is in, handing out the others' on the way;
    if replies are still due then, a task reads on. A lone command so costs no task and no extra
    pass of the loop.
    """

    def __init__(self, conn: Any, pool: Any, timeout_s: float) -> None:
        self.conn = conn
        self.pool = pool
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()
        self.due: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.reader: asyncio.Task[Any] | None = None  # the task reading replies: a caller's, or _read_on
        self.watchdog: asyncio.TimerHandle | None = None
        self.last_used = self.loop.time()
        self.dead = False
        self.interrupted = False  # _fail cancelled the reader

    def usable(self) -> bool:
        return not self.dead and (bool(self.due) or self.loop.time() - self.last_used < AutoPipeline.IDLE_RECHECK_S)

    async def call(self, args: tuple[Any, ...]) -> Any:
        future = self._send(args)
        if self.reader is not None:
            return await future
        task = asyncio.current_task()
        self.reader = task
        try:
            while not future.done():
                await self._read_one()
        except asyncio.CancelledError:
            if not (self.interrupted and task is not None and task.uncancel() == 0):
                future.cancel()  # nobody will ask for its reply, which is read and dropped in turn
                raise  # our caller's cancellation (the others' replies are read on below)
            # else _fail interrupted the read: our future holds its error
        except Exception as exc:  # the connection broke: everyone waiting gets the error, ours included
            self._fail(exc)
        finally:
            if self.reader is task:
                self.reader = None
                if self.due and not self.dead:
                    self.reader = self.loop.create_task(self._read_on())
        return future.result()

    def _send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        packed = self.conn.pack_command(*args)  # a DataError here, before anything is queued
        future: asyncio.Future[Any] = self.loop.create_future()
        self.last_used = now = self.loop.time()
        self.due.append((future, now))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing += packed
        if self.watchdog is None:
            self.watchdog = self.loop.call_at(now + self.timeout_s, self._check)
        return future

    def _flush(self) -> None:
        if self.outgoing and not self.dead:
            self.conn._writer.writelines(self.outgoing)  # redis-py's StreamWriter: no drain, see retire()
        self.outgoing = []

    async def _read_one(self) -> None:
        """The next reply, handed to the oldest command due (unless its caller gave up on it)."""
        try:
            # Not disconnect_on_error: a cancelled reader leaves the stream where it was, and the next
            # reader goes on from there; a broken connection is closed by _fail.
            reply: Any = await self.conn.read_response(disconnect_on_error=False)
        except ResponseError as exc:  # an error reply: that command's, read whole; the rest follow
            reply = exc
        future, _ = self.due.popleft()
        if future.done():
            return
        if isinstance(reply, ResponseError):
            future.set_exception(reply)
        else:
            future.set_result(reply)

    async def _read_on(self) -> None:
        try:
            while self.due and not self.dead:
                await self._read_one()
        except asyncio.CancelledError:
            if not self.interrupted:
                self._fail(aioredis.ConnectionError("reading from Redis was cancelled"))
                raise
        except Exception as exc:  # the connection broke
            self._fail(exc)
        finally:
            if self.reader is asyncio.current_task():
                self.reader = None

    def _check(self) -> None:
        """The watchdog: one timer while replies are due, not one per command."""
        self.watchdog = None
        if self.dead or not self.due:
            return
        oldest = self.due[0][1]
        if self.loop.time() - oldest >= self.timeout_s:
            self._fail(TimeoutError(f"Redis did not answer within {self.timeout_s:g} s"))
        else:
            self.watchdog = self.loop.call_at(oldest + self.timeout_s, self._check)

    def _fail(self, exc: Exception) -> None:
        """Every command waiting gets `exc`; the connection is closed and goes back to the pool."""
        if self.dead:
            return
        self.dead = True
        due, self.due = self.due, collections.deque()
        self.outgoing = []
        for future, _ in due:
            if not future.done():
                future.set_exception(exc)
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.interrupted = True
            self.reader.cancel()
        closing = self.loop.create_task(self._close())
        _CLOSING.add(closing)
        closing.add_done_callback(_CLOSING.discard)

    async def _close(self) -> None:
        await self.conn.disconnect(nowait=True)
        await self.pool.release(self.conn)

    async def drain(self) -> None:
        """Until nothing is due (a server stopping)."""
        while self.due and not self.dead:
            await asyncio.wait([self.due[-1][0]])

    def retire(self) -> None:
        """Give the connection back to the pool, once nothing is due on it (else _fail will).

        Nothing waits for the socket's buffer to empty (no drain): what is buffered is bounded by the
        commands due, each of which has a caller waiting, and Redis reads as fast as it answers."""
        if self.dead or self.due:
            return
        self.dead = True
        if self.watchdog is not None:
            self.watchdog.cancel()
        released = self.loop.create_task(self.pool.release(self.conn))
        _CLOSING.add(released)
        released.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()  # connections being closed or given back: held so they finish


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A connection attempt every caller gave up on: its error is theirs, not the loop's to log."""
    if not task.cancelled():
        task.exception()

