"""What the benchmarks that run servers in child processes share: one such child process.

web_bench.py and email_bench.py both re-run themselves with `--serve KIND` so the server under
test has a CPU of its own; this is that child, started, awaited and always stopped.
"""

from __future__ import annotations

import select
import subprocess
import sys
import time
from pathlib import Path

from frontdoor.storage.server import free_port


class ServerProcess:
    """`<script> --serve KIND` as a child process that prints "ready" once it listens."""

    def __init__(self, script: str, kind: str, redis_url: str, log_dir: Path, *, extra_args: tuple[str, ...] = (),
                 ready_timeout_s: float = 60.0) -> None:
        self.kind = kind
        self.port = free_port()
        args = [sys.executable, str(Path(script).resolve()), "--serve", kind, "--redis-url", redis_url,
                "--port", str(self.port), "--data-dir", str(log_dir), *extra_args]
        self.log = log_dir / f"{kind}-{self.port}.log"  # stderr to a file: an unread pipe could stall the server
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.pid = self.proc.pid
        try:
            self.wait_for("ready", timeout_s=ready_timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        """The rest of the first line the child prints that starts with `prefix`."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                got = self.proc.stdout.readline()
                if got.startswith(prefix):
                    return got[len(prefix):].strip()
                if not got:  # the child exited
                    break
        tail = self.log.read_text()[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"{self.kind} server: no {prefix!r} within {timeout_s:.0f} s (exit {self.proc.poll()}): {tail}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def shut_down(self) -> None:
        """How the child is asked to stop; a script whose child reads commands overrides this."""
        self.proc.terminate()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.shut_down()
            except (OSError, RuntimeError):  # already gone, or it did not answer: kill it below
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:  # a broken pipe to a child that died
                    pass
