"""`frontdoor serve --workers N`: one supervisor process and N workers that share the ports.

Each worker is a whole `frontdoor serve` (aiohttp and the SMTP server in one event loop) whose
sockets are bound with SO_REUSEPORT, so the kernel spreads new connections over the workers; the
supervisor holds no socket and serves nothing. It starts the workers, restarts one that dies
(waiting 0.5 s, doubling to 30 s while it keeps dying young), and on SIGTERM or SIGINT sends each
worker SIGTERM, waits while they finish their requests, and exits 0.

The kernel keeps a queue of not yet accepted connections per socket: those waiting in a worker's
queue when it is killed are reset, and their clients try again (with the same Idempotency-Key, the
same answer). On SIGTERM a worker closes its listening sockets first, then finishes the requests it
has accepted (each bounded by the request deadline) and exits.

A worker is this same program started again (`python -m frontdoor serve --worker-of PID`), not a
multiprocessing child: a fresh interpreter shares no event loop, lock or Redis connection with the
supervisor (forking after a loop exists is unsafe, and spawn would re-import the program anyway),
reads its settings from the same environment, and is what `ps` shows. It runs in a session of its
own, so a terminal's Ctrl-C reaches the supervisor alone and each worker is stopped exactly once;
should the supervisor itself be killed, each worker sees its parent change and stops.

Background work (housekeeping: retention, interrupted fan-outs, the outbox's TTL; and the outbox
sender) runs in one worker only: the supervisor gives slot 0 the background role, and whoever
replaces that worker gets it. A Redis lease lock would do the same between machines, but costs Redis
calls forever and a lease time to tune, and a worker paused past its lease would work beside its
successor; the supervisor knows at once when a worker died, so nothing overlaps and nothing waits
longer than the restart. While no background worker runs, nothing is lost: the outbox's messages
wait in their stream and housekeeping catches up on its next run. Lease expiry needs no worker: a
claim takes over an entry whose lease (its idle time in the pending list) has lapsed.

With FRONTDOOR_METRICS_PORT set, the supervisor also serves the metrics endpoint (metrics/): the
workers count in prometheus_client's multiprocess mode, each into a file of its own in a private
directory the supervisor made and named in their environment, and a scrape sums the files, so it sees
every worker, the dead ones' counts included, and still answers while a worker is being replaced.

A worker tells the supervisor it has started by writing one line, "ready", to its stdout (a pipe
read here; anything else it prints is passed on). Only when every worker has said so does the
supervisor announce the service and print the first analyst's token, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metrics.exporter import Supervised

log = logging.getLogger(__name__)
READY = "ready"
FIRST_RESTART_S = 0.5
MAX_RESTART_S = 30.0
STABLE_S = 60.0  # a worker that ran this long died of something new: its replacement starts at once
CONFIG_ERROR_EXIT = 2  # what `frontdoor` exits with on a ConfigError: another worker would fail alike
ORPHAN_CHECK_S = 1.0


def default_workers() -> int:
    """One per core this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class Supervisor:
    """`command(background)` is a worker's argv; `grace_s` how long a stopping worker may take
    before it is killed (its requests are bounded by the request timeout)."""

    def __init__(self, command: Callable[[bool], Sequence[str]], workers: int, *, grace_s: float,
                 metrics: Supervised | None = None) -> None:
        self._command = command
        self._workers = workers
        self._grace_s = grace_s
        self._metrics = metrics
        self._stopping = asyncio.Event()
        self._stop_asked = 0.0  # monotonic: when SIGTERM or SIGINT came, for the one line that says we stopped
        self._ready = [asyncio.Event() for _ in range(workers)]
        self._exit = 0

    async def run(self, on_ready: Callable[[], Awaitable[None]]) -> int:
        """Until SIGTERM or SIGINT (or a worker's configuration error: then that exit code)."""
        async with self._metrics.serving() if self._metrics is not None else contextlib.nullcontext():
            return await self._supervise(on_ready)

    async def _supervise(self, on_ready: Callable[[], Awaitable[None]]) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        slots = [asyncio.create_task(self._keep(slot)) for slot in range(self._workers)]
        try:
            all_ready: asyncio.Future[Any] = asyncio.gather(*(ready.wait() for ready in self._ready))
            stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({all_ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            all_ready.cancel()  # stopping before every worker was ready: no one waits for the rest
            with contextlib.suppress(asyncio.CancelledError):
                await all_ready  # retrieved, so asyncio has no "exception never retrieved" to report
            if not self._stopping.is_set():
                await on_ready()
            await stopping
        finally:
            self._stopping.set()
            await asyncio.gather(*slots, return_exceptions=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            log.info("stopped: %d workers drained and exited in %.1f s", self._workers,
                     time.monotonic() - (self._stop_asked or time.monotonic()))
        return self._exit

    def stop(self) -> None:
        """What SIGTERM and SIGINT do: every worker is sent SIGTERM, and `run` returns once they exited."""
        if not self._stopping.is_set():
            self._stop_asked = time.monotonic()
        self._stopping.set()

    async def _keep(self, slot: int) -> None:
        """One worker slot: start a worker, and another each time it dies, until told to stop."""
        young_deaths = 0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            began = loop.time()
            pid, code = await self._run_one(slot)
            if self._metrics is not None:
                self._metrics.worker_gone(pid, replaced=not self._stopping.is_set() and code != CONFIG_ERROR_EXIT)
            if self._stopping.is_set():
                return
            if code == CONFIG_ERROR_EXIT:
                log.error("worker %d (pid %d) stopped on a configuration error; stopping every worker", slot, pid)
                self._exit = CONFIG_ERROR_EXIT
                self._stopping.set()
                return
            young_deaths = 0 if loop.time() - began >= STABLE_S else young_deaths + 1
            delay = 0.0 if not young_deaths else min(MAX_RESTART_S, FIRST_RESTART_S * 2 ** (young_deaths - 1))
            log.warning("worker %d (pid %d%s) %s; starting another in %.1f s", slot, pid,
                        ", background work" if slot == 0 else "", _how(code), delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _run_one(self, slot: int) -> tuple[int, int]:
        """One worker's life: its pid and exit code. Stopped with SIGTERM when the supervisor stops."""
        env = {**os.environ, **self._metrics.env} if self._metrics is not None else None
        proc = await asyncio.create_subprocess_exec(*self._command(slot == 0), stdout=asyncio.subprocess.PIPE,
                                                    start_new_session=True, env=env)
        reading = asyncio.create_task(self._read(proc, slot))
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if proc.returncode is None and self._stopping.is_set():
            with contextlib.suppress(ProcessLookupError):  # it died at this very moment
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), self._grace_s)
            except TimeoutError:
                log.warning("worker %d (pid %d) still running %g s after SIGTERM; killed", slot, proc.pid, self._grace_s)
                proc.kill()
        await reading
        return proc.pid, await proc.wait()

    async def _read(self, proc: asyncio.subprocess.Process, slot: int) -> None:
        """Until the worker's stdout closes (it exited): its "ready", and anything else passed on."""
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace")
            if line.strip() == READY:
                self._ready[slot].set()
            else:
                sys.stdout.write(line)
                sys.stdout.flush()


def _how(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


# -- the worker's side -----------------------------------------------------------------------------


def watch_supervisor(supervisor_pid: int) -> Callable[[Any], AsyncIterator[None]]:
    """For a worker's cleanup_ctx: stop (as on SIGTERM, finishing requests) once the supervisor is
    gone, so a killed supervisor leaves no worker holding the ports."""

    async def watching(_app: Any) -> AsyncIterator[None]:
        async def watch() -> None:
            while os.getppid() == supervisor_pid:
                await asyncio.sleep(ORPHAN_CHECK_S)
            log.warning("the supervisor is gone; this worker stops")
            os.kill(os.getpid(), signal.SIGTERM)

        task = asyncio.create_task(watch())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return watching
